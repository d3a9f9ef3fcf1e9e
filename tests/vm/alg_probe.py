#!/usr/bin/python3
"""alg_probe.py: live probes for the VM test bed (runs INSIDE the test VM; attacks.sh, faults.sh).

  alg_probe.py attacks ALG [CASE-GLOB...]
      Runs in the gateway's namespace; enters the namespaces cli/srv/isrv with setns(2) to make
      its sockets there (a socket stays in the namespace it was made in). For every attack case
      it runs a hostile and a legitimate variant. Each variant: a fake FTP server (this process,
      in srv or isrv) and a client (in cli or srv) have a dialogue; a listener waits on the
      endpoint the attacker wants opened; then the OTHER side connects through the gateway to the
      endpoint as it arrived there (rewritten or not) and to the public address with the
      announced port. The verdict is whether the listener accepted a connection. The hostile
      session then goes on with a legitimate PORT/PASV ("after": the session still works).
        PROBE <case> <hostile|legit> OPEN|CLOSED|... after=OPEN|CLOSED|STALLED|- <detail>
        CASE <case> <table row> PASS|FAIL <summary>
      ALG (kernel or ftp-algd) selects what the hostile variant must give (CASES below).
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
import subprocess
import sys
import threading
import time

import raw_tcp

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
# A reply in a script is a str (one segment), a tuple of str (one segment each, 0.2 s apart, so
# that every line starts a segment of its own, as the kernel helper wants to see it) or None (no
# answer). A list of replies is consumed in order, its last element then answers every time.
SEGMENT_PAUSE = 0.2
STORED_LINE_CHARS = 300   # a 16 MiB line is stored as its start and its length


def send_reply(sock, reply):
    parts = reply if isinstance(reply, tuple) else (reply,)
    for i, part in enumerate(parts):
        if i:
            time.sleep(SEGMENT_PAUSE)
        sock.sendall(part.encode("latin-1") + b"\r\n")


class FakeServer:
    """Accepts on (ns, addr, 21); per connection runs the script set by the current case:
    greeting, {VERB: reply} ("*": every other verb); records every line received (after the ALG)."""

    def __init__(self, ns, addr):
        self.sock = listener(ns, addr, 21)
        self.greet = "220 fake FTP server"
        self.replies = {}
        self.received = []
        self.lock = threading.Lock()
        threading.Thread(target=self._loop, daemon=True).start()

    def script(self, greet, replies):
        """greet: True (the default 220), False/None (silent) or a reply."""
        if greet is True:
            greet = "220 fake FTP server"
        with self.lock:
            self.greet = greet or None
            self.replies = {verb: list(r) if isinstance(r, list) else [r]
                            for verb, r in replies.items()}
            self.received = []

    def _next_reply(self, verb):
        with self.lock:
            queue = self.replies.get(verb, self.replies.get("*", [None]))
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _loop(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            greet = self.greet
        try:
            if greet:
                send_reply(c, greet)
            buf = bytearray()
            while True:
                data = c.recv(65536)
                if not data:
                    break
                scan_from = len(buf)
                buf += data
                while (nl := buf.find(b"\n", scan_from)) >= 0:
                    line = bytes(buf[:nl]).rstrip(b"\r")
                    del buf[:nl + 1]
                    scan_from = 0
                    text = line[:STORED_LINE_CHARS].decode("latin-1")
                    if len(line) > STORED_LINE_CHARS:
                        text += f"...({len(line)} bytes)"
                    with self.lock:
                        self.received.append(text)
                    reply = self._next_reply(text.split(" ", 1)[0].upper())
                    if reply:
                        send_reply(c, reply)
        except OSError:
            pass
        finally:
            c.close()

    def announced(self):
        """The endpoint named by the last PORT/EPRT the server received, if any."""
        found = None
        for line in self.received:
            found = endpoint_in(line, PORT_RE) or endpoint_in(line, EPRT_RE) or found
        return found

    def port_lines(self):
        lines = [l for l in self.received if l[:4].upper() in ("PORT", "EPRT")]
        if len(lines) > 3:  # a flood
            return f"{len(lines)} PORT/EPRT lines, first {lines[0]!r}, last {lines[-1]!r}"
        return lines


def read_reply(s, timeout=5.0):
    """One line from a plain socket (logins, sessions)."""
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


class Client:
    """A control connection made in namespace NS. Every send is a segment of its own
    (TCP_NODELAY, and a pause when no reply is awaited so that it is acknowledged first).
    `transcript` keeps every byte received; `stalled` is set when the connection stopped moving
    (a send that made no progress for 5 s, or a reply that did not come)."""

    def __init__(self, ns, dst, greet=True):
        self.sock = in_ns(ns, tcp_socket)
        self.sock.settimeout(5)
        self.sock.connect(dst)
        self.buf = b""
        self.transcript = ""
        self.stalled = False
        self.replies = []
        if greet:
            self.reply()

    def _fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except OSError:
            return False
        if not data:
            return False
        self.buf += data
        self.transcript += data.decode("latin-1")
        return True

    def reply(self, timeout=5.0):
        """One whole reply; a multi-line one ends at the line that starts with its code and a
        space (RFC 959 4.2). "" and `stalled` when none came in time."""
        deadline = time.time() + timeout
        while True:
            lines = self.buf.split(b"\r\n")
            code = lines[0][:3]
            multi = lines[0][3:4] == b"-"
            for i, line in enumerate(lines[:-1]):
                if not multi or (line[:3] == code and line[3:4] == b" "):
                    text = b"\r\n".join(lines[:i + 1]).decode("latin-1")
                    self.buf = b"\r\n".join(lines[i + 1:])
                    self.replies.append(text)
                    return text
            left = deadline - time.time()
            if left <= 0 or not self._fill(left):
                self.stalled = True
                self.replies.append("")
                return ""

    def drain(self, seconds=0.3):
        """Reads what arrives within SECONDS (an unsolicited reply) into the transcript."""
        deadline = time.time() + seconds
        while (left := deadline - time.time()) > 0 and self._fill(left):
            pass
        self.buf = b""

    def send(self, data, chunk=65536):
        """Sends DATA (str or bytes) in chunks; False (and `stalled`) when a chunk made no
        progress for 5 s (the gateway drops the segment for good)."""
        data = data.encode("latin-1") if isinstance(data, str) else data
        self.sock.settimeout(5)
        view = memoryview(data)
        try:
            while view:
                n = self.sock.send(view[:chunk])
                view = view[n:]
        except OSError:
            self.stalled = True
            return False
        return True

    def steps(self, steps):
        """steps: [(text, wants_reply)]. Stops at the first stall."""
        for text, wants_reply in steps:
            if self.stalled or not self.send(text):
                return False
            if wants_reply is True:
                self.reply()
            elif wants_reply:                   # a number: a reply that may take that long
                self.reply(wants_reply)
            else:
                time.sleep(0.3)
        time.sleep(0.3)  # let the ALG's verdict and expectation land before the data connection
        return not self.stalled

    def close(self):
        self.sock.close()


def hostport(p):
    return f"{p >> 8},{p & 255}"


def endpoint_in(text, pattern):
    """The last endpoint PATTERN finds in TEXT: (addr, port) or None."""
    found = None
    for m in re.finditer(pattern, text or ""):
        if m.lastindex == 2:  # EPRT: address and port
            found = (m.group(1), int(m.group(2)))
        else:
            n = [int(x) for x in m.group(1).split(",")]
            found = (".".join(map(str, n[:4])), n[4] * 256 + n[5])
    return found


PORT_RE = r"PORT (\d+,\d+,\d+,\d+,\d+,\d+)"
EPRT_RE = r"EPRT \|1\|([\d.]+)\|(\d+)\|"
R227_RE = r"\((\d+,\d+,\d+,\d+,\d+,\d+)\)"
R229_RE = r"\(\|\|\|(\d+)\|\)"

PUBLIC = "198.51.100.1"   # the gateway's outside address (masquerade, DNAT)
CLI, SRV, ISRV = "192.0.2.2", "198.51.100.2", "192.0.2.10"
LOGIN = [("USER anonymous\r\n", True), ("PASS probe@example.org\r\n", True)]
FTP_REPLIES = {"USER": "331 password please", "PASS": "230 logged in", "PORT": "200 PORT ok",
               "EPRT": "200 EPRT ok", "NOOP": "200 ok", "QUIT": "221 bye", "TYPE": "200 type",
               "*": "500 unknown command"}


def port_cmd(port, addr=CLI):
    return f"PORT {addr.replace('.', ',')},{hostport(port)}\r\n"


def r227(addr, port):
    return f"227 Entering Passive Mode ({addr.replace('.', ',')},{hostport(port)})."


def r229(port):
    return f"229 Entering Extended Passive Mode (|||{port}|)"


def verdict(lsock, ns, announced, fallback):
    """Connects from NS to ANNOUNCED (the endpoint as it arrived, rewritten or not; None when
    nothing was announced), then to FALLBACK (addr, port), until the listener accepts one."""
    notes = []
    seen = set()
    for addr, port in ([announced] if announced else []) + [fallback]:
        if (addr, port) in seen:
            continue
        seen.add((addr, port))
        r = try_connect(ns, addr, port)
        notes.append(f"{ns}->{addr}:{port}={r}")
        if r == "connected" and accepted(lsock, 2.0):
            return "OPEN", notes
    return "CLOSED", notes


def reply_endpoint(text, pattern, dst):
    """The endpoint the last 227 (PATTERN R227_RE) or 229 (R229_RE: a port only, on DST, the
    address the client connected to) in TEXT announces; None when there is none."""
    if pattern == R229_RE:
        ports = re.findall(R229_RE, text)
        return (dst, int(ports[-1])) if ports else None
    return endpoint_in(text, pattern)


INSIDE_TEXTS = ("192,0,2,", "192.0.2.")  # the inside addresses as PORT/227 and EPRT/229 name them


def leak_note(texts, far_side):
    """Issue 11 part 4: whether an inside address reached the far side (in lines it read)."""
    leaked = any(inside in t for t in texts for inside in INSIDE_TEXTS)
    return f"private address reached the {far_side}: {'yes' if leaked else 'no'}"


def daemon_rss_kib():
    """VmRSS of the ftp-algd under test (FTPALG_DAEMON_PID; the 16 MiB line must not grow it),
    None without one."""
    pid = os.environ.get("FTPALG_DAEMON_PID")
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])
    except (OSError, StopIteration, ValueError):
        return None


def pending_expectations(port_lo, port_hi):
    """Expectations in the gateway's table whose destination port is in [port_lo, port_hi]."""
    out = subprocess.run(["conntrack", "-L", "expect"], capture_output=True, text=True,
                         timeout=10).stdout
    ports = [int(p) for p in re.findall(r"dport=(\d+)", out)]
    return sum(1 for p in ports if port_lo <= p <= port_hi)


# --- The probes --------------------------------------------------------------------------------
# Two shapes. An active probe (PORT/EPRT, masquerade): the client in cli talks to the attacker's
# server in srv; a listener waits on the endpoint the attacker wants opened; the server connects
# to the endpoint named by the last PORT/EPRT it received and to the gateway's public address with
# the announced port. A passive probe (227/229): the server (srv behind masquerade, or the inside
# server isrv published with DNAT) announces; the client connects to the endpoint in the replies it
# got and to the server's address as the client sees it with the announced port.
# Each hostile run then goes on, in the same session, with a legitimate PORT or PASV to a fresh
# port (the "after" verdict: the session must still work), unless the case says it cannot.
class Ctx:
    def __init__(self, alg):
        self.alg = alg
        self.srv = FakeServer("srv", SRV)
        self.isrv = FakeServer("isrv", ISRV)
        self.port = 50000 + (os.getpid() % 500) * 20

    def fresh_port(self, n=1):
        """Ports unique per probe, so that an expectation left by an earlier one cannot answer."""
        self.port += n
        return self.port - n + 1


def after_active(ctx, client, server, follow):
    """The legitimate PORT after a hostile one, in the same session."""
    if follow is None:
        return "-", ""
    if client.stalled:
        return "STALLED", "session stalled before the follow-up"
    port = ctx.fresh_port()
    lsock = listener("cli", CLI, port)
    try:
        if not client.steps(follow + [(port_cmd(port), True)]):
            return "STALLED", f"follow-up PORT {port}: no reply"
        v, notes = verdict(lsock, "srv", server.announced(), (PUBLIC, port))
        return v, f"follow-up PORT {port}: {' '.join(notes)}"
    finally:
        lsock.close()


def active_probe(ctx, hostile_steps, legit_steps, variant, *, replies=None, greet=True,
                 listen_ns="cli", listen_addr=CLI, port=None, follow=(), check=None):
    """Runs one variant of an active case. hostile_steps/legit_steps: fn(port) -> steps (after the
    login, which they include themselves when they want it). follow: the steps before the
    follow-up PORT (None: no follow-up). check: fn(ctx, port) -> (verdict or None, note), run
    before the data connection (e.g. counting expectations)."""
    port = port or ctx.fresh_port()
    lsock = listener(listen_ns, listen_addr, port)
    ctx.srv.script(greet, dict(FTP_REPLIES, **(replies or {})))
    client = None
    try:
        client = Client("cli", (SRV, 21), greet=bool(greet))
        steps = (hostile_steps if variant == "hostile" else legit_steps)(port)
        client.steps(steps)
        forced, note = check(ctx, port) if check and variant == "hostile" else (None, "")
        v, notes = verdict(lsock, "srv", ctx.srv.announced(), (PUBLIC, port))
        v = forced or v
        lsock.close()
        detail = (f"server got {ctx.srv.port_lines()}{'; ' + note if note else ''}"
                  f"{'; stalled' if client.stalled else ''}; {' '.join(notes)}; "
                  f"{leak_note(list(ctx.srv.received), 'server')}")
        after, after_detail = ("-", "")
        if variant == "hostile":
            follow_steps = list(follow) if follow is not None else None
            after, after_detail = after_active(ctx, client, ctx.srv, follow_steps)
        return v, after, detail + (f"; {after_detail}" if after_detail else "")
    finally:
        lsock.close()
        if client:
            client.close()


def passive_probe(ctx, hostile_reply, variant, *, topo="masq", cmd="PASV", hostile_cmd=None,
                  legit_reply=None, pattern=R227_RE, follow=True):
    """Runs one variant of a passive case. hostile_reply: fn(port) -> the reply (str/tuple) the
    server sends to HOSTILE_CMD (default CMD); legit: CMD answered with a plain 227 (or
    LEGIT_REPLY(port)). The follow-up is a PASV answered with a plain 227 to a fresh port."""
    server, srv_ns, srv_addr, cli_ns, dst = (
        (ctx.srv, "srv", SRV, "cli", SRV) if topo == "masq" else
        (ctx.isrv, "isrv", ISRV, "srv", PUBLIC))
    port, follow_port = ctx.fresh_port(), ctx.fresh_port()
    legit = legit_reply(port) if legit_reply else r227(srv_addr, port)
    sent_cmd = (hostile_cmd or cmd) if variant == "hostile" else cmd
    first = hostile_reply(port) if variant == "hostile" else legit
    replies = dict(FTP_REPLIES)
    replies[sent_cmd] = [first, r227(srv_addr, follow_port)] if sent_cmd == "PASV" else first
    if sent_cmd != "PASV":
        replies["PASV"] = r227(srv_addr, follow_port)
    server.script(True, replies)
    lsock = listener(srv_ns, srv_addr, port)
    client = None
    try:
        client = Client(cli_ns, (dst, 21))
        client.steps(LOGIN + [(f"{sent_cmd}\r\n", True)])
        client.drain()
        seen = client.transcript.split("230 logged in", 1)[-1]
        v, notes = verdict(lsock, cli_ns, reply_endpoint(seen, pattern, dst), (dst, port))
        lsock.close()
        detail = f"client got {seen.strip()!r}; {' '.join(notes)}"
        if topo != "masq":  # a masqueraded client is inside: only a published server's leaks
            detail += f"; {leak_note([seen], 'client')}"
        after = "-"
        if variant == "hostile" and follow:
            if client.stalled:
                after = "STALLED"
            else:
                lsock = listener(srv_ns, srv_addr, follow_port)
                text = client.reply() if client.send("PASV\r\n") else ""
                after, notes = verdict(lsock, cli_ns, endpoint_in(text, R227_RE),
                                       (dst, follow_port))
                after = "STALLED" if not text else after
                detail += f"; follow-up PASV {text!r}: {' '.join(notes)}"
        return v, after, detail
    finally:
        lsock.close()
        if client:
            client.close()


# --- The cases ---------------------------------------------------------------------------------
# (name, docs/hostile-traffic.md row, fn(ctx, variant) -> (verdict, after, detail), expected
# {alg: (hostile verdict, after)}). ftp-algd must open nothing and keep the session working. The
# kernel helper's expectations come from its source (net/netfilter/nf_conntrack_ftp.c, summed up
# in docs/hostile-traffic.md): OPEN marks a documented hole, STALLED a segment it drops for good
# ("partial match"), so that a kernel PASS confirms the documented behaviour.
def login_then(*lines):
    return lambda port: LOGIN + [(line(port) if callable(line) else line, True) for line in lines]


PLAIN_PORT = login_then(port_cmd)


def case_port_bounce(ctx, variant):
    # The client names a third party (the inside host isrv) instead of itself.
    if variant == "hostile":
        return active_probe(ctx, login_then(lambda p: port_cmd(p, ISRV)), None, variant,
                            listen_ns="isrv", listen_addr=ISRV)
    return active_probe(ctx, None, PLAIN_PORT, variant)


def case_port_low(ctx, variant):
    return active_probe(ctx, login_then(port_cmd), PLAIN_PORT, variant,
                        port=22 if variant == "hostile" else None)


def case_port_mid_line(ctx, variant):
    # PORT text that does not start a line: after a verb, after a space.
    return active_probe(ctx, login_then(lambda p: "NOOP " + port_cmd(p),
                                        lambda p: " " + port_cmd(p)), PLAIN_PORT, variant)


def case_port_continues_line(ctx, variant):
    # A segment that starts with PORT but continues the line "NOOP " begun in the segment before.
    return active_probe(ctx, lambda p: LOGIN + [("NOOP ", False), (port_cmd(p), True)],
                        PLAIN_PORT, variant)


def case_port_refused(ctx, variant):
    # The server refuses the PORT, then connects to it anyway.
    return active_probe(ctx, login_then(port_cmd), PLAIN_PORT, variant,
                        replies={"PORT": ["500 no", "200 PORT ok"]} if variant == "hostile"
                        else None)


def case_port_before_login(ctx, variant):
    # The login fails (530); the attacker's server still answers the PORT with 200. The
    # follow-up logs in again, this time successfully.
    return active_probe(ctx, login_then(port_cmd), PLAIN_PORT, variant,
                        replies={"PASS": ["530 login incorrect", "230 logged in"]}
                        if variant == "hostile" else None, follow=LOGIN)


def slipstream_probe(ctx, variant, head_segments, greet=None):
    # NAT slipstreaming: a browser's HTTP POST to port 21; its body is a PORT line naming the
    # client's own address; the attacker's server answers nothing but the PORT, then connects.
    if variant == "legit":
        return active_probe(ctx, None, PLAIN_PORT, variant)

    def steps(port):
        line = port_cmd(port)
        head = (f"POST /upload HTTP/1.1\r\nHost: 198.51.100.2:21\r\nContent-Type: text/plain\r\n"
                f"Content-Length: {len(line)}\r\n\r\n")
        return [(seg, False) for seg in head_segments(head, line)]
    return active_probe(ctx, steps, None, variant, greet=greet,
                        replies={"*": None, "PORT": "200 PORT ok"}, follow=None)


def case_slipstream(ctx, variant):          # 4b: the PORT line starts a segment of its own
    return slipstream_probe(ctx, variant, lambda head, line: [head, line])


def case_slipstream_one_segment(ctx, variant):  # 4a
    return slipstream_probe(ctx, variant, lambda head, line: [head + line])


def case_slipstream_split(ctx, variant):    # 4c: the request line split across segments
    return slipstream_probe(ctx, variant, lambda head, line: [head[:15], head[15:], line])


def case_slipstream_unsolicited_230(ctx, variant):  # 4d: the server "logs the browser in" first
    return slipstream_probe(ctx, variant, lambda head, line: [head, line],
                            greet=("220 fake FTP server", "230 welcome"))


def case_port_flood(ctx, variant):
    # 200 PORTs on one control connection, each answered 200. The first one must be closed
    # again (replaced), and at no time may more expectations be pending than the ALG's bound.
    flood = 200
    if variant == "legit":
        return active_probe(ctx, None, PLAIN_PORT, variant)
    base = ctx.fresh_port(flood)
    bound = 4 if ctx.alg == "ftp-algd" else 1

    samples, stop = [], threading.Event()

    def sample():  # the bound must hold at every moment of the flood, not only at its end
        while not stop.is_set():
            samples.append(pending_expectations(base, base + flood - 1))
            stop.wait(0.1)

    def steps(port):
        threading.Thread(target=sample, daemon=True).start()
        return LOGIN + [(port_cmd(base + i), True) for i in range(flood)]

    def check(ctx, port):
        stop.set()
        time.sleep(0.2)
        samples.append(pending_expectations(base, base + flood - 1))
        most = max(samples)
        return (("UNBOUNDED" if most > bound else None),
                f"at most {most} of the flood's expectations pending in {len(samples)} samples "
                f"(bound {bound})")
    return active_probe(ctx, steps, None, variant, port=base, check=check)


def case_line_16mib(ctx, variant):
    # A PORT line padded with 16 MiB of spaces: not acted on, memory flat, parsing resumes.
    if variant == "legit":
        return active_probe(ctx, None, PLAIN_PORT, variant)
    rss_before = daemon_rss_kib()

    def steps(port):
        return LOGIN + [(port_cmd(port)[:-2] + " " * (16 << 20) + "\r\n", 60)]
    v, after, detail = active_probe(ctx, steps, None, variant)
    rss_after = daemon_rss_kib()
    if rss_before is not None:
        detail += f"; ftp-algd RSS {rss_before} -> {rss_after} KiB"
        if rss_after is None or rss_after - rss_before > 4096:
            v = "MEMORY"
    return v, after, detail


def case_port_nul(ctx, variant):
    return active_probe(ctx, login_then(lambda p: port_cmd(p)[:-2] + "\0\r\n"), PLAIN_PORT,
                        variant)


def case_port_non_ascii(ctx, variant):
    # U+0661 ARABIC-INDIC DIGIT ONE (UTF-8 d9 a1) in the place of a digit of the address.
    return active_probe(ctx, login_then(lambda p: f"PORT 192,0,2,\xd9\xa1,{hostport(p)}\r\n"),
                        PLAIN_PORT, variant)


def case_eprt_wrong_family(ctx, variant):
    return active_probe(ctx, login_then(lambda p: f"EPRT |2|2001:db8:1::2|{p}|\r\n"),
                        login_then(lambda p: f"EPRT |1|{CLI}|{p}|\r\n"), variant)


def case_auth_tls(ctx, variant):
    # AUTH TLS accepted (234): what follows is TLS, a plaintext PORT after it must not count. The
    # legitimate variant: the server refuses AUTH (534) and the session stays plaintext.
    return active_probe(ctx, login_then("AUTH TLS\r\n", port_cmd),
                        login_then("AUTH TLS\r\n", port_cmd), variant,
                        replies={"AUTH": "234 go ahead" if variant == "hostile" else "534 no TLS"},
                        follow=None)


def case_unsolicited_227_dnat(ctx, variant):
    return passive_probe(ctx, lambda p: r227(ISRV, p), variant, topo="dnat", hostile_cmd="NOOP")


def case_unsolicited_229_dnat(ctx, variant):
    return passive_probe(ctx, r229, variant, topo="dnat", cmd="EPSV", hostile_cmd="NOOP",
                         legit_reply=r229, pattern=R229_RE)


def case_unsolicited_227_masq(ctx, variant):
    return passive_probe(ctx, lambda p: r227(SRV, p), variant, hostile_cmd="NOOP")


def case_reply_227_to_epsv(ctx, variant):
    return passive_probe(ctx, lambda p: r227(SRV, p), variant, hostile_cmd="EPSV")


def case_reply_227_bounce_dnat(ctx, variant):
    # The published server's 227 names another inside host (the client cli) instead of itself.
    return passive_probe(ctx, lambda p: r227(CLI, p), variant, topo="dnat")


def case_reply_227_mid_line(ctx, variant):
    return passive_probe(ctx, lambda p: "200 ok " + r227(SRV, p), variant)


def case_reply_227_in_multiline(ctx, variant):
    # Inside another code's multi-line reply, each line a segment of its own (RFC 959 4.2: only
    # the last line, "200 ok", ends the reply).
    return passive_probe(ctx, lambda p: ("200-here it comes", r227(SRV, p), "200 ok"), variant)


def case_reply_227_in_error(ctx, variant):
    return passive_probe(ctx, lambda p: "500 " + r227(SRV, p), variant)


def case_reply_227_after_refused_pasv(ctx, variant):
    # PASV refused, then a 227 in a segment of its own: an answer to nothing.
    return passive_probe(ctx, lambda p: ("425 no passive mode today", r227(SRV, p)), variant)


# --- Retransmitted, overlapping and reordered segments (row 10) --------------------------------
# A real socket never resends chosen bytes at a chosen sequence number, so these probes play the
# client with raw_tcp.RawTcpClient. A loss between the gateway and the server (the ALG has seen
# and rewritten the segment, the server has not) is made with a drop rule in the server's
# namespace. A sniffer there sees every byte the server's stack accepted from the gateway, so a
# private address that leaks out shows even when the server's TCP discards it as old data.
class Sniffer:
    """Payloads of TCP segments to port 21 arriving in namespace NS (after its INPUT hook)."""

    def __init__(self, ns):
        self.sock = in_ns(ns, lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW,
                                                    socket.IPPROTO_TCP))
        self.payloads = []
        self.stop = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while not self.stop.is_set():
            r, _, _ = select.select([self.sock], [], [], 0.2)
            if not r:
                continue
            try:
                pkt = self.sock.recv(65535)
            except OSError:
                return
            ihl = (pkt[0] & 15) * 4
            tcp = pkt[ihl:]
            if len(tcp) >= 20 and int.from_bytes(tcp[2:4], "big") == 21:
                data = tcp[(tcp[12] >> 4) * 4:]
                if data:
                    self.payloads.append(data)

    def saw(self, needle):
        return any(needle in p for p in self.payloads)

    def close(self):
        self.stop.set()
        self.sock.close()


class LossAtServer:
    """While active, data segments to port 21 are dropped on arrival in the server's namespace:
    lost between the gateway (whose ALG saw them) and the server."""

    def __init__(self, ns="srv"):
        self.ns = ns

    def _nft(self, script):
        subprocess.run(["ip", "netns", "exec", self.ns, "nft", "-f", "-"], input=script,
                       text=True, check=True, timeout=10)

    def __enter__(self):
        self._nft("table ip probe_loss {\n chain input {\n  type filter hook input priority -300;"
                  "\n  tcp dport 21 ip length > 40 counter drop\n }\n}\n")
        return self

    def wait_dropped(self, segments, timeout=10.0):
        """Until SEGMENTS data segments were dropped (a slow gateway may still hold them: the
        rule must not go before they are lost)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = subprocess.run(["ip", "netns", "exec", self.ns, "nft", "list", "table", "ip",
                                  "probe_loss"], capture_output=True, text=True, timeout=10).stdout
            m = re.search(r"counter packets (\d+)", out)
            if m and int(m.group(1)) >= segments:
                return True
            time.sleep(0.1)
        return False

    def __exit__(self, *exc):
        self._nft("delete table ip probe_loss\n")


class RawSession:
    """A logged-in control connection over RawTcpClient, with an offset cursor."""

    def __init__(self, client):
        self.c = client
        self.off = 0
        self.lines_sent = []

    def segment(self, text, at=None):
        """Sends TEXT as one segment at offset AT (default: the cursor, which then moves on)."""
        data = text.encode("latin-1")
        if at is None:
            at = self.off
            self.off += len(data)
            self.lines_sent += [l for l in text.split("\r\n") if l]
        self.c.send_at(at, data)
        time.sleep(0.1)

    def replies(self):
        return self.c.received().count(b"\r\n")

    def wait_replies(self, n, timeout=5.0):
        deadline = time.time() + timeout
        while self.replies() < n and time.time() < deadline:
            time.sleep(0.05)
        return self.replies() >= n

    def command(self, text):
        """One line as one segment; True when the server answered it."""
        n = self.replies()
        self.segment(text)
        return self.wait_replies(n + 1)


def normalized(lines):
    """Lines with PORT arguments blanked: a rewrite may change them, nothing else may change."""
    return [re.sub(r"^PORT [\d,]+$", "PORT *", l) for l in lines]


def raw_probe(ctx, variant, recipe, *, check_port=None):
    """Runs RECIPE(session, port) (hostile) or one plain PORT (legit) over a raw client in cli to
    the attacker's server srv (masquerade). Verdict: INCONSISTENT when the server's lines are not
    the client's lines (PORT arguments aside) or an ACK came back beyond what was sent; otherwise
    whether the data connection to CHECK_PORT(port) (default the announced one) opened. The
    follow-up is a plain PORT to a fresh port in the same session."""
    port = ctx.fresh_port(3)   # the PORT, another port (10d), the follow-up
    target = check_port(port) if check_port and variant == "hostile" else port
    lsock = listener("cli", CLI, target)
    ctx.srv.script(True, FTP_REPLIES)
    sniff = Sniffer("srv")
    client = raw_tcp.RawTcpClient(in_ns, "cli", CLI, SRV, 21)
    try:
        client.connect()
        s = RawSession(client)
        if not (s.wait_replies(1) and s.command("USER anonymous\r\n")
                and s.command("PASS probe@example.org\r\n")):
            return "ERROR", "-", f"no login: {client.received()!r}"
        if variant == "hostile":
            recipe(s, port)
        else:
            s.command(port_cmd(port))
        s.wait_replies(len(s.lines_sent) + 1, 3.0)
        time.sleep(0.3)
        got_lines, want_lines = normalized(ctx.srv.received), normalized(s.lines_sent)
        acks_ok = max(client.acks_seen) <= client.sent
        # 10d listens on another port than the one announced: only the public one is tried.
        v, notes = verdict(lsock, "srv", ctx.srv.announced() if target == port else None,
                           (PUBLIC, target))
        lsock.close()
        # In a segment the server's stack took (even as old data), or in a line it read whole
        # (an address split over two segments is in neither segment alone).
        leak = sniff.saw(b"192,0,2,2") or any("192,0,2,2" in l for l in ctx.srv.received)
        detail = (f"server got {ctx.srv.received[2:]}; acks up to {max(client.acks_seen)} of "
                  f"{client.sent} sent; private address reached the server: "
                  f"{'yes' if leak else 'no'}; {' '.join(notes)}")
        if not acks_ok or (got_lines != want_lines and
                           got_lines != want_lines[:len(got_lines)]):
            v = "INCONSISTENT"     # bytes changed, lost or doubled, or seq adjustment broken
        elif got_lines != want_lines:
            v = "STALLED"          # a part of the stream never got through
        after = "-"
        if variant == "hostile":
            follow = port + 2
            lsock = listener("cli", CLI, follow)
            if not s.command(port_cmd(follow)):
                after = "STALLED"
            else:
                time.sleep(0.3)
                after, notes = verdict(lsock, "srv", ctx.srv.announced(), (PUBLIC, follow))
                detail += f"; follow-up PORT {follow}: {' '.join(notes)}"
        return v, after, detail
    finally:
        lsock.close()
        client.close()
        sniff.close()


def case_retransmit_identical(ctx, variant):      # 10a: the PORT again, after it was acked
    def recipe(s, port):
        at = s.off
        s.command(port_cmd(port))
        s.segment(port_cmd(port), at=at)
        s.command("NOOP\r\n")
    return raw_probe(ctx, variant, recipe)


def case_retransmit_coalesced(ctx, variant):      # 10b: lost after the gateway, resent + NOOP
    def recipe(s, port):
        at = s.off
        with LossAtServer() as loss:
            s.segment(port_cmd(port))
            loss.wait_dropped(1)
        s.segment(port_cmd(port) + "NOOP\r\n", at=at)
        s.off += len("NOOP\r\n")
        s.lines_sent.append("NOOP")
    return raw_probe(ctx, variant, recipe)


def case_retransmit_collapsed(ctx, variant):      # 10c: TYPE + PORT lost, resent as one segment
    def recipe(s, port):
        at = s.off
        with LossAtServer() as loss:
            s.segment("TYPE I\r\n")
            s.segment(port_cmd(port))
            loss.wait_dropped(2)
        s.segment("TYPE I\r\n" + port_cmd(port), at=at)
        s.wait_replies(len(s.lines_sent) + 1)
        s.command("NOOP\r\n")
    return raw_probe(ctx, variant, recipe)


def case_retransmit_different_bytes(ctx, variant):  # 10d: other text at the same seq numbers
    def recipe(s, port):
        at = s.off
        s.command(port_cmd(port))
        s.segment(port_cmd(port + 1), at=at)  # the next port: the same length but at a digit wrap
        s.command("NOOP\r\n")
    return raw_probe(ctx, variant, recipe, check_port=lambda port: port + 1)


def case_reordered_after_rewrite(ctx, variant):   # 10e: LIST overtakes NOOP after a rewrite
    def recipe(s, port):
        s.command(port_cmd(port))
        at = s.off
        s.off += len("NOOP\r\n")
        s.segment("LIST\r\n")
        s.segment("NOOP\r\n", at=at)
        s.lines_sent[-1:] = ["NOOP", "LIST"]
    return raw_probe(ctx, variant, recipe)


def case_port_out_of_order(ctx, variant):         # 10f: the segment after the PORT comes first
    def recipe(s, port):
        at = s.off
        s.off += len(port_cmd(port))
        s.segment("NOOP\r\n")
        s.segment(port_cmd(port), at=at)
        s.lines_sent[-1:] = [port_cmd(port)[:-2], "NOOP"]
    return raw_probe(ctx, variant, recipe)


def case_retransmit_from_inside(ctx, variant):    # 10g: a resend from inside the PORT segment
    def recipe(s, port):
        at = s.off
        s.command(port_cmd(port))
        s.segment(port_cmd(port)[3:], at=at + 3)
        s.command("NOOP\r\n")
    return raw_probe(ctx, variant, recipe)


def case_port_split(ctx, variant):                # 10h: the address split over two segments
    def recipe(s, port):
        at = s.off
        head = port_cmd(port)[:11]            # "PORT 192,0,"
        s.segment(head, at=at)
        s.segment(port_cmd(port)[11:], at=at + len(head))
        time.sleep(0.5)
        s.segment(head, at=at)                # the resend a sender makes when head is not acked
        s.off += len(port_cmd(port))
        s.lines_sent.append(port_cmd(port)[:-2])
    return raw_probe(ctx, variant, recipe)


FTP_ALGD_WANT = ("CLOSED", "OPEN")   # opens nothing, and the session goes on working
NO_FOLLOW_UP = ("CLOSED", "-")       # not an FTP session (slipstreaming), or TLS from then on
STREAM_KEPT = ("OPEN", "OPEN")       # row 10: a legitimate PORT resent: it must still work

CASES = [  # name, row, fn, {alg: (hostile verdict, after)}
    ("port-bounce", "1a", case_port_bounce, {"kernel": ("CLOSED", "OPEN")}),
    ("reply-227-bounce-dnat", "1b", case_reply_227_bounce_dnat, {"kernel": ("CLOSED", "OPEN")}),
    ("port-low", "1c", case_port_low, {"kernel": ("OPEN", "OPEN")}),
    ("unsolicited-227-masq", "2a", case_unsolicited_227_masq, {"kernel": ("OPEN", "OPEN")}),
    ("unsolicited-227-dnat", "2b", case_unsolicited_227_dnat, {"kernel": ("OPEN", "OPEN")}),
    ("unsolicited-229-dnat", "2b", case_unsolicited_229_dnat, {"kernel": ("OPEN", "OPEN")}),
    ("reply-227-to-epsv", "2c", case_reply_227_to_epsv, {"kernel": ("OPEN", "OPEN")}),
    ("port-mid-line", "3a", case_port_mid_line, {"kernel": ("CLOSED", "OPEN")}),
    ("port-continues-line", "3b", case_port_continues_line, {"kernel": ("CLOSED", "OPEN")}),
    ("reply-227-mid-line", "3c", case_reply_227_mid_line, {"kernel": ("CLOSED", "OPEN")}),
    ("reply-227-in-multiline", "3d", case_reply_227_in_multiline, {"kernel": ("OPEN", "OPEN")}),
    ("reply-227-in-error", "3e", case_reply_227_in_error, {"kernel": ("CLOSED", "OPEN")}),
    ("reply-227-after-refused-pasv", "3f", case_reply_227_after_refused_pasv,
     {"kernel": ("OPEN", "OPEN")}),
    ("port-refused", "3f", case_port_refused, {"kernel": ("OPEN", "OPEN")}),
    ("slipstream-one-segment", "4a", case_slipstream_one_segment,
     {"kernel": ("CLOSED", "-"), "ftp-algd": NO_FOLLOW_UP}),
    ("slipstream", "4b", case_slipstream, {"kernel": ("OPEN", "-"), "ftp-algd": NO_FOLLOW_UP}),
    ("slipstream-split", "4c", case_slipstream_split,
     {"kernel": ("OPEN", "-"), "ftp-algd": NO_FOLLOW_UP}),
    ("slipstream-unsolicited-230", "4d", case_slipstream_unsolicited_230,
     {"kernel": ("OPEN", "-"), "ftp-algd": NO_FOLLOW_UP}),
    ("port-before-login", "5", case_port_before_login, {"kernel": ("OPEN", "OPEN")}),
    ("port-flood", "6", case_port_flood, {"kernel": ("CLOSED", "OPEN")}),
    ("line-16mib", "7a", case_line_16mib, {"kernel": ("CLOSED", "STALLED")}),
    ("port-nul", "7b", case_port_nul, {"kernel": ("CLOSED", "STALLED")}),
    ("port-non-ascii", "7c", case_port_non_ascii, {"kernel": ("CLOSED", "STALLED")}),
    ("eprt-wrong-family", "8", case_eprt_wrong_family, {"kernel": ("CLOSED", "STALLED")}),
    ("auth-tls", "9", case_auth_tls, {"kernel": ("OPEN", "-"), "ftp-algd": NO_FOLLOW_UP}),
    ("retransmit-identical", "10a", case_retransmit_identical,
     {"kernel": ("OPEN", "OPEN"), "ftp-algd": STREAM_KEPT}),
    ("retransmit-coalesced", "10b", case_retransmit_coalesced,
     {"kernel": ("OPEN", "OPEN"), "ftp-algd": STREAM_KEPT}),
    ("retransmit-collapsed", "10c", case_retransmit_collapsed,
     {"kernel": ("STALLED", "STALLED"), "ftp-algd": STREAM_KEPT}),
    ("retransmit-different-bytes", "10d", case_retransmit_different_bytes,
     {"kernel": ("OPEN", "OPEN")}),
    ("reordered-after-rewrite", "10e", case_reordered_after_rewrite,
     {"kernel": ("OPEN", "OPEN"), "ftp-algd": STREAM_KEPT}),
    ("port-out-of-order", "10f", case_port_out_of_order,
     {"kernel": ("INCONSISTENT", "STALLED")}),
    ("retransmit-from-inside", "10g", case_retransmit_from_inside,
     {"kernel": ("OPEN", "OPEN"), "ftp-algd": STREAM_KEPT}),
    ("port-split", "10h", case_port_split, {"kernel": ("STALLED", "STALLED")}),
]


def attacks(alg, globs):
    ctx = Ctx(alg)
    for name, row, fn, wants in CASES:
        if globs and not any(fnmatch.fnmatch(name, g) for g in globs):
            continue
        want = wants.get(alg, FTP_ALGD_WANT)
        results = {}
        for variant in ("legit", "hostile"):
            t0 = time.time()
            try:
                v, after, detail = fn(ctx, variant)
            except Exception as e:  # a broken probe is an ERROR, never a verdict
                v, after, detail = "ERROR", "-", f"{type(e).__name__}: {e}"
            results[variant] = (v, after)
            if variant == "hostile":
                found = re.search(r"private address reached the \w+: (yes|no)", detail)
                results["leak"] = found.group(1) if found else "n/a"
            print(f"PROBE {name} {variant} {v} after={after} {detail} ({time.time() - t0:.1f}s)",
                  flush=True)
        problems = []
        if results["legit"][0] != "OPEN":
            problems.append(f"positive control: legit variant {results['legit'][0]}")
        if results["hostile"] != want:
            got_v, got_after = results["hostile"]
            problems.append(f"hostile variant {got_v} after={got_after}, "
                            f"expected {want[0]} after={want[1]}")
        status = "FAIL" if problems else "PASS"
        print(f"CASE {name} {row} {status} hostile {results['hostile'][0]} "
              f"after={results['hostile'][1]} legit {results['legit'][0]} "
              f"leak={results['leak']}"
              f"{'; ' + '; '.join(problems) if problems else ''}", flush=True)


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
    if len(sys.argv) >= 3 and sys.argv[1] == "attacks":
        attacks(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) == 4 and sys.argv[1] == "logins":
        logins(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "sessions":
        sessions(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
