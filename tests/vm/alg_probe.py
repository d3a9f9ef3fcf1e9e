#!/usr/bin/python3
"""alg_probe.py: live probes for the VM test bed (runs INSIDE the test VM, see attacks.sh/faults.sh).

  alg_probe.py attacks [CASE-GLOB...]
      Runs in the gateway's namespace; enters the namespaces cli/srv/isrv with setns(2) to make
      its sockets there (a socket stays in the namespace it was made in). For every attack case
      it runs a hostile and a legitimate variant. Each variant: a fake FTP server (this process,
      in srv or isrv) and a client (in cli or srv) have a dialogue; a listener waits on the
      endpoint the attacker wants opened; then the OTHER side connects through the gateway to the
      endpoint as it arrived there (rewritten or not) and to the public address with the
      announced port. The verdict is whether the listener accepted a connection:
        PROBE <case> <hostile|legit> OPEN|CLOSED <detail>
  alg_probe.py logins N HOST
      Runs in the client's namespace: N anonymous logins to HOST:21 at once (a thread each:
      greeting, USER, PASS, QUIT; 40 s per reply); one line per login "login <i> ok|fail <secs>
      <at>" (at: time.time() when it ended), then "logins <ok> <n>".
  alg_probe.py sessions N HOST DONEFILE
      Runs in the gateway's namespace: a fake FTP server on HOST:21 in srv (PORT answered 200, no
      data connection, so the expectations stay pending) and N control connections to it from
      cli, each logs in
      anonymously and sends PORT with its own address and a port of its own; prints
      "ready <n200> <n>" once all answered, waits until DONEFILE exists, then closes them all at
      once (shutdown + close in one loop) and prints "closed".
"""
import ctypes
import fnmatch
import os
import re
import select
import socket
import sys
import threading
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_home_ns = None


def in_ns(name, fn):
    """Runs fn() with this thread in network namespace NAME (ip netns), then returns home."""
    global _home_ns
    if _home_ns is None:
        _home_ns = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")
        return fn()
    finally:
        _libc.setns(_home_ns, CLONE_NEWNET)
        os.close(fd)


def tcp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def listener(ns, addr, port):
    def make():
        s = tcp_socket()
        s.bind((addr, port))
        s.listen(8)
        return s
    return in_ns(ns, make)


def accepted(lsock, timeout):
    r, _, _ = select.select([lsock], [], [], timeout)
    if not r:
        return False
    c, _ = lsock.accept()
    c.close()
    return True


def try_connect(ns, addr, port, timeout=3.0):
    s = in_ns(ns, tcp_socket)
    s.settimeout(timeout)
    try:
        s.connect((addr, port))
        return "connected"
    except OSError as e:
        return type(e).__name__ if not e.strerror else e.strerror.replace(" ", "-")
    finally:
        s.close()


# --- The fake FTP server (the attacker's, or a published inside server) ------------------------
class FakeServer:
    """Accepts on (ns, addr, 21); per connection runs the script set by the current case:
    greet (bool), replies {VERB: text or None}; records every line received (after the ALG)."""

    def __init__(self, ns, addr):
        self.sock = listener(ns, addr, 21)
        self.greet = True
        self.replies = {}
        self.received = []
        self.lock = threading.Lock()
        threading.Thread(target=self._loop, daemon=True).start()

    def script(self, greet, replies):
        with self.lock:
            self.greet, self.replies, self.received = greet, dict(replies), []

    def _loop(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            greet, replies = self.greet, self.replies
        try:
            if greet:
                c.sendall(b"220 fake FTP server\r\n")
            buf = b""
            while True:
                data = c.recv(4096)
                if not data:
                    break
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    text = line.rstrip(b"\r").decode("latin-1")
                    with self.lock:
                        self.received.append(text)
                    verb = text.split(" ", 1)[0].upper()
                    reply = replies.get(verb, replies.get("*"))
                    if reply:
                        c.sendall(reply.encode("latin-1") + b"\r\n")
        except OSError:
            pass
        finally:
            c.close()


def read_reply(s, timeout=5.0):
    s.settimeout(timeout)
    buf = b""
    try:
        while not buf.endswith(b"\n"):
            data = s.recv(4096)
            if not data:
                break
            buf += data
    except OSError:
        pass
    return buf.decode("latin-1").strip()


def client_dialogue(ns, dst, steps, greet=True):
    """steps: [(text, wants_reply)], every text sent as its own segment (TCP_NODELAY, and a pause
    so the previous segment is acknowledged). Returns (socket, replies)."""
    s = in_ns(ns, tcp_socket)
    s.settimeout(5)
    s.connect(dst)
    replies = []
    if greet:
        replies.append(read_reply(s))
    for text, wants_reply in steps:
        s.sendall(text.encode("latin-1"))
        if wants_reply:
            replies.append(read_reply(s))
        else:
            time.sleep(0.3)
    time.sleep(0.3)  # let the ALG's verdict and expectation land before the data connection
    return s, replies


def hostport(p):
    return f"{p >> 8},{p & 255}"


def endpoint_in(text, pattern):
    m = re.search(pattern, text or "")
    if not m:
        return None
    n = [int(x) for x in m.group(1).split(",")]
    return ".".join(map(str, n[:4])), n[4] * 256 + n[5]


PORT_RE = r"PORT (\d+,\d+,\d+,\d+,\d+,\d+)"
R227_RE = r"\((\d+,\d+,\d+,\d+,\d+,\d+)\)"

PUBLIC = "198.51.100.1"   # the gateway's outside address (masquerade, DNAT)
CLI, SRV, ISRV = "192.0.2.2", "198.51.100.2", "192.0.2.10"
LOGIN = [("USER anonymous\r\n", True), ("PASS probe@example.org\r\n", True)]
FTP_REPLIES = {"USER": "331 password please", "PASS": "230 logged in", "PORT": "200 PORT ok",
               "NOOP": "200 ok", "QUIT": "221 bye"}


def verdict(lsock, attempts):
    """attempts: [(ns, addr, port)]; connects until the listener accepts one."""
    notes = []
    seen = set()
    for ns, addr, port in attempts:
        if (ns, addr, port) in seen:
            continue
        seen.add((ns, addr, port))
        r = try_connect(ns, addr, port)
        notes.append(f"{ns}->{addr}:{port}={r}")
        if r == "connected" and accepted(lsock, 2.0):
            return "OPEN", notes
    return "CLOSED", notes


# --- The cases --------------------------------------------------------------------------------
# Every case: fn(variant, port) -> (verdict, detail). Ports are unique per variant so that an
# expectation left by an earlier probe cannot answer a later one.
def case_port_bounce(srv, isrv, variant, port):
    # masq: the client names a third party (the inside host isrv) instead of itself.
    target_ns, target = ("isrv", ISRV) if variant == "hostile" else ("cli", CLI)
    lsock = listener(target_ns, target, port)
    srv.script(True, FTP_REPLIES)
    s, replies = client_dialogue("cli", (SRV, 21), LOGIN + [(f"PORT {target.replace('.', ',')},{hostport(port)}\r\n", True)])
    got = endpoint_in(" ".join(srv.received), PORT_RE)
    attempts = [("srv", *got)] if got else []
    attempts.append(("srv", PUBLIC, port))
    v, notes = verdict(lsock, attempts)
    s.close(); lsock.close()
    return v, f"server got {[l for l in srv.received if l.startswith('PORT')]}; {' '.join(notes)}"


def case_port_low(srv, isrv, variant, port):
    port = 22 if variant == "hostile" else port
    lsock = listener("cli", CLI, port)
    srv.script(True, FTP_REPLIES)
    s, replies = client_dialogue("cli", (SRV, 21), LOGIN + [(f"PORT 192,0,2,2,{hostport(port)}\r\n", True)])
    got = endpoint_in(" ".join(srv.received), PORT_RE)
    attempts = [("srv", *got)] if got else []
    attempts.append(("srv", PUBLIC, port))
    v, notes = verdict(lsock, attempts)
    s.close(); lsock.close()
    return v, f"server got {[l for l in srv.received if l.startswith('PORT')]}; {' '.join(notes)}"


def case_unsolicited_227_dnat(srv, isrv, variant, port):
    # dnat: the published inside server answers NOOP (hostile) or PASV (legit) with a 227.
    lsock = listener("isrv", ISRV, port)
    r227 = f"227 Entering Passive Mode (192,0,2,10,{hostport(port)})."
    isrv.script(True, dict(FTP_REPLIES, NOOP=r227, PASV=r227))
    cmd = "NOOP" if variant == "hostile" else "PASV"
    s, replies = client_dialogue("srv", (PUBLIC, 21), LOGIN + [(f"{cmd}\r\n", True)])
    got = endpoint_in(replies[-1], R227_RE)
    attempts = [("srv", *got)] if got else []
    attempts.append(("srv", PUBLIC, port))
    v, notes = verdict(lsock, attempts)
    s.close(); lsock.close()
    return v, f"client got '{replies[-1]}'; {' '.join(notes)}"


def case_unsolicited_227_masq(srv, isrv, variant, port):
    # masq: the outside server answers NOOP with a 227 naming itself; the client connects out.
    lsock = listener("srv", SRV, port)
    r227 = f"227 Entering Passive Mode (198,51,100,2,{hostport(port)})."
    srv.script(True, dict(FTP_REPLIES, NOOP=r227, PASV=r227))
    cmd = "NOOP" if variant == "hostile" else "PASV"
    s, replies = client_dialogue("cli", (SRV, 21), LOGIN + [(f"{cmd}\r\n", True)])
    got = endpoint_in(replies[-1], R227_RE)
    v, notes = verdict(lsock, [("cli", *(got or (SRV, port)))])
    s.close(); lsock.close()
    return v, f"client got '{replies[-1]}'; {' '.join(notes)}"


def case_slipstream(srv, isrv, variant, port):
    # NAT slipstreaming (4b): a browser's HTTP POST to port 21 whose body, in a segment of its
    # own, is a PORT line naming the client's own address; the attacker's server then connects.
    lsock = listener("cli", CLI, port)
    port_line = f"PORT 192,0,2,2,{hostport(port)}\r\n"
    if variant == "hostile":
        srv.script(False, {"PORT": "200 PORT ok"})
        head = (f"POST /upload HTTP/1.1\r\nHost: 198.51.100.2:21\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(port_line)}\r\n\r\n")
        s, replies = client_dialogue("cli", (SRV, 21), [(head, False), (port_line, False)], greet=False)
    else:
        srv.script(True, FTP_REPLIES)
        s, replies = client_dialogue("cli", (SRV, 21), LOGIN + [(port_line, True)])
    got = endpoint_in(" ".join(srv.received), PORT_RE)
    attempts = [("srv", *got)] if got else []
    attempts.append(("srv", PUBLIC, port))
    v, notes = verdict(lsock, attempts)
    s.close(); lsock.close()
    return v, f"server got {[l for l in srv.received if l.startswith('PORT')]}; {' '.join(notes)}"


def case_port_before_login(srv, isrv, variant, port):
    # The login fails (530); the attacker's server still answers the PORT with 200.
    lsock = listener("cli", CLI, port)
    srv.script(True, dict(FTP_REPLIES, PASS="530 login incorrect" if variant == "hostile" else "230 logged in"))
    s, replies = client_dialogue("cli", (SRV, 21), LOGIN + [(f"PORT 192,0,2,2,{hostport(port)}\r\n", True)])
    got = endpoint_in(" ".join(srv.received), PORT_RE)
    attempts = [("srv", *got)] if got else []
    attempts.append(("srv", PUBLIC, port))
    v, notes = verdict(lsock, attempts)
    s.close(); lsock.close()
    return v, f"login '{replies[2] if len(replies) > 2 else '?'}'; server got {[l for l in srv.received if l.startswith('PORT')]}; {' '.join(notes)}"


CASES = [
    ("port-bounce", case_port_bounce),
    ("port-low", case_port_low),
    ("unsolicited-227-dnat", case_unsolicited_227_dnat),
    ("unsolicited-227-masq", case_unsolicited_227_masq),
    ("slipstream", case_slipstream),
    ("port-before-login", case_port_before_login),
]


def attacks(globs):
    srv = FakeServer("srv", SRV)
    isrv = FakeServer("isrv", ISRV)
    port = 50000 + (os.getpid() % 1000) * 10
    for name, fn in CASES:
        if globs and not any(fnmatch.fnmatch(name, g) for g in globs):
            continue
        for variant in ("legit", "hostile"):
            port += 1
            t0 = time.time()
            try:
                v, detail = fn(srv, isrv, variant, port)
            except Exception as e:  # a broken probe is an ERROR, never a verdict
                v, detail = "ERROR", f"{type(e).__name__}: {e}"
            print(f"PROBE {name} {variant} {v} {detail} ({time.time() - t0:.1f}s)", flush=True)


def sessions(n, host, donefile):
    # The server is a fake one (this process, in srv on HOST): it answers PORT 200 without
    # connecting (pyftpdlib connects at once, which would use the expectation up).
    srv = FakeServer("srv", host)
    srv.script(True, FTP_REPLIES)
    socks, ok = [], 0
    for i in range(n):
        s = in_ns("cli", tcp_socket)
        s.settimeout(20)
        s.connect((host, 21))
        socks.append(s)
    for s in socks:
        read_reply(s, 20)
    for s in socks:
        s.sendall(b"USER anonymous\r\n")
    for s in socks:
        read_reply(s, 20)
    for s in socks:
        s.sendall(b"PASS probe@example.org\r\n")
    for s in socks:
        read_reply(s, 20)
    for i, s in enumerate(socks):
        a = s.getsockname()[0].replace(".", ",")
        s.sendall(f"PORT {a},{hostport(40000 + i)}\r\n".encode())
    for s in socks:
        if read_reply(s, 20).startswith("200"):
            ok += 1
    time.sleep(0.5)
    print(f"ready {ok} {n}", flush=True)
    while not os.path.exists(donefile):
        time.sleep(0.1)
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()
    time.sleep(1)  # the fake server's side closes too (its threads see EOF)
    print("closed", flush=True)


def logins(n, host):
    results = [None] * n

    def one(i):
        t0 = time.time()
        ok = False
        try:
            s = tcp_socket()
            s.settimeout(40)
            s.connect((host, 21))
            ok = read_reply(s, 40).startswith("220")
            s.sendall(b"USER anonymous\r\n")
            ok = ok and read_reply(s, 40).startswith("331")
            s.sendall(b"PASS probe@example.org\r\n")
            ok = ok and read_reply(s, 40).startswith("230")
            s.sendall(b"QUIT\r\n")
            ok = ok and read_reply(s, 40).startswith("221")
            s.close()
        except OSError:
            ok = False
        results[i] = (ok, time.time() - t0, time.time())

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, (ok, secs, at) in enumerate(results):
        print(f"login {i} {'ok' if ok else 'fail'} {secs:.2f} {at:.3f}")
    print(f"logins {sum(1 for r in results if r[0])} {n}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "attacks":
        attacks(sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "logins":
        logins(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "sessions":
        sessions(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
