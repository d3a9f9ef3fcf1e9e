#!/usr/bin/python3
"""restart_probe.py: sessions that live through a restart of ftp-algd (runs INSIDE the test VM,
in the gateway's namespace; faults.sh case fault-restart-sessions).

  restart_probe.py FTPROOT FAKE_ADDR GOFILE

Before the restart it opens three control connections from cli:
  A  to pyftpdlib on 198.51.100.2: logs in and makes one active-mode (PORT) transfer, whose PORT
     the gateway rewrites with a length change (so the kernel holds a sequence adjustment);
  B  to a fake server on FAKE_ADDR (in srv): greeting only, not logged in;
  C  to the same fake server: a failed login (USER 331, PASS 530).
It prints "ready", then waits until GOFILE exists (the caller kills ftp-algd with SIGKILL and
starts it again meanwhile). After the restart:
  A  PORT transfer and PASV transfer (small.txt and big.bin each, sha256 against FTPROOT), QUIT;
  B  NAT slipstreaming: an HTTP request whose body is a PORT line naming the client's own port;
  C  a PORT line naming the client's own port;
each of B and C has a listener on the port it names; the fake server connects to the endpoint it
received and to the gateway's public address with that port. Output, one line each:
  A PORT ok|FAIL <detail> / A PASV ok|FAIL <detail> / A QUIT <reply>
  B OPEN|CLOSED expectations=<n> <detail> / C OPEN|CLOSED expectations=<n> <detail>
"""
import ftplib
import hashlib
import io
import os
import sys
import time

from alg_probe import (CLI, FTP_REPLIES, PUBLIC, SRV, Client, FakeServer, accepted, in_ns,
                       listener, pending_expectations, port_cmd, tcp_socket)

FILES = ("small.txt", "big.bin")


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fetch(ftp, name, passive):
    """One RETR in the client's namespace (the data socket is made there)."""
    ftp.set_pasv(passive)
    buf = io.BytesIO()
    in_ns("cli", lambda: ftp.retrbinary(f"RETR {name}", buf.write))
    return hashlib.sha256(buf.getvalue()).hexdigest()


def transfers(ftp, ftproot, passive):
    try:
        for name in FILES:
            if fetch(ftp, name, passive) != sha256_of(os.path.join(ftproot, name)):
                return f"FAIL {name} sha256 differs"
        return "ok " + "+".join(FILES)
    except (OSError, EOFError, ftplib.Error) as e:
        return f"FAIL {type(e).__name__}: {e}"


def slipstream_steps(port):
    line = port_cmd(port)
    head = (f"POST /upload HTTP/1.1\r\nHost: 198.51.100.2:21\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(line)}\r\n\r\n")
    return [(head, False), (line, False)]


def connect_from(src, dst):
    """A connection from the fake server's own address (the one the expectation names; srv's
    primary address is pyftpdlib's) to DST: "connected" or the error."""
    def make():
        s = tcp_socket()
        s.bind((src, 0))
        return s
    s = in_ns("srv", make)
    s.settimeout(3)
    try:
        s.connect(dst)
        return "connected"
    except OSError as e:
        return type(e).__name__
    finally:
        s.close()


def hostile(name, client, server, fake_addr, port, steps):
    """Runs STEPS on CLIENT after the restart; OPEN when a connection from the fake server to
    the endpoint it received, or to the gateway's public address with the named port, reached
    the listener in cli."""
    lsock = listener("cli", CLI, port)
    try:
        client.steps(steps)
        expectations = pending_expectations(port, port)
        notes, verdict = [], "CLOSED"
        for dst in {server.announced() or (PUBLIC, port), (PUBLIC, port)}:
            r = connect_from(fake_addr, dst)
            notes.append(f"{dst[0]}:{dst[1]}={r}")
            if r == "connected" and accepted(lsock, 2.0):
                verdict = "OPEN"
        return f"{name} {verdict} expectations={expectations} {' '.join(notes)}"
    finally:
        lsock.close()


def main(ftproot, fake_addr, gofile):
    server = FakeServer("srv", fake_addr)
    server.script(True, dict(FTP_REPLIES, **{"PASS": "530 login incorrect", "*": None}))
    ftp = ftplib.FTP(timeout=20)
    in_ns("cli", lambda: ftp.connect(SRV, 21))
    ftp.login()
    before = transfers(ftp, ftproot, passive=False)
    b = Client("cli", (fake_addr, 21))
    c = Client("cli", (fake_addr, 21))
    c.steps([("USER anonymous\r\n", True), ("PASS wrong\r\n", True)])
    print(f"before A PORT {before}; C login: {c.replies[-1]!r}", flush=True)
    print("ready", flush=True)
    deadline = time.time() + 120
    while not os.path.exists(gofile) and time.time() < deadline:
        time.sleep(0.1)
    print(f"A PORT {transfers(ftp, ftproot, passive=False)}", flush=True)
    print(f"A PASV {transfers(ftp, ftproot, passive=True)}", flush=True)
    try:
        print(f"A QUIT {ftp.quit()}", flush=True)
    except (OSError, EOFError, ftplib.Error) as e:
        print(f"A QUIT FAIL {type(e).__name__}: {e}", flush=True)
    print(hostile("B", b, server, fake_addr, 46101, slipstream_steps(46101)), flush=True)
    print(hostile("C", c, server, fake_addr, 46102, [(port_cmd(46102), True)]), flush=True)
    b.close()
    c.close()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
