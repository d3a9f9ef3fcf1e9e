#!/usr/bin/python3
"""Guest-side programs of the live benchmark (bench/run-live.sh, bench/live-job.sh).

  live_client.py workload --server ADDR --sessions N --transfers K --duration S --cmd mix|pasv|port
                          [--daemon-pid PID] --out FILE.json
      N concurrent ftplib sessions (threads), each logs in, then does up to K transfers (3 of 4
      a RETR of small.txt, every 4th an NLST listing) until the time limit; with --cmd mix the
      data command alternates PORT / PASV. Times every PORT and PASV command round trip
      (command sent -> reply read), the transfer phase, and samples /proc/stat and the daemon's
      /proc/PID/stat around the whole run (logins and QUITs included).
  live_client.py fakeserver ADDR PORT READYFILE
      minimal FTP control server (one thread, epoll): 220, USER->331, PASS->230, PORT->200,
      PASV->227, QUIT->221. Enough for a pending PORT; opens no data connection.
  live_client.py scale --server ADDR --sessions N --concurrency C --duration S --local ADDR
                       --out FILE.tsv --ready FILE --release FILE
      opens up to N control connections (at most C handshakes in flight), each logs in and
      sends one PORT (a distinct port per session) and keeps the connection open. Writes one
      line per session: local port, PORT sent (epoch s), 200 received (epoch s), status. Then
      creates READYFILE and waits until RELEASEFILE exists (the job reads the daemon's memory
      and the kernel's expectation table meanwhile).
"""
import argparse
import ftplib
import json
import os
import resource
import selectors
import socket
import statistics
import sys
import threading
import time


def cpu_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return {"user": v[0] + v[1], "system": v[2], "idle": v[3] + v[4], "irq": v[5],
            "softirq": v[6], "steal": v[7] if len(v) > 7 else 0}


def proc_ticks(pid):
    if not pid:
        return {"utime": 0, "stime": 0}
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return {"utime": 0, "stime": 0}
    rest = s[s.rindex(")") + 2:].split()
    return {"utime": int(rest[11]), "stime": int(rest[12])}


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


class TimedFTP(ftplib.FTP):
    """ftplib with the PORT and PASV round trips timed (command written -> reply parsed)."""

    def __init__(self, rtts):
        super().__init__()
        self.rtts = rtts

    def sendport(self, host, port):
        t = time.perf_counter()
        r = super().sendport(host, port)
        self.rtts.append(("PORT", time.perf_counter() - t))
        return r

    def makepasv(self):
        t = time.perf_counter()
        r = super().makepasv()
        self.rtts.append(("PASV", time.perf_counter() - t))
        return r


def workload(a):
    threading.stack_size(256 * 1024)
    n = a.sessions
    lock = threading.Lock()
    stats = {"transfers": 0, "listings": 0, "errors": 0, "login_errors": 0, "rtts": [],
             "errors_port": 0, "errors_pasv": 0,
             "error_texts": []}
    state = {"deadline": time.monotonic() + 3600, "start": time.monotonic()}

    def go():  # runs once, before any thread passes the barrier
        state["start"] = time.monotonic()
        state["deadline"] = state["start"] + a.duration
    barrier = threading.Barrier(n + 1, action=go)

    def session(idx):
        rtts = []
        ftp = TimedFTP(rtts)
        done = errors = listings = 0
        ok = True
        try:
            ftp.connect(a.server, 21, timeout=a.timeout)
            ftp.login("anonymous", "bench@example.org")
        except Exception as e:  # noqa: BLE001 (a benchmark counts, it does not stop)
            ok = False
            with lock:
                stats["login_errors"] += 1
                if len(stats["error_texts"]) < 8:
                    stats["error_texts"].append("login: %r" % e)
        try:
            barrier.wait(timeout=a.duration + 120)
        except threading.BrokenBarrierError:
            pass
        i = 0
        while ok and i < a.transfers and time.monotonic() < state["deadline"]:
            use_port = a.cmd == "port" or (a.cmd == "mix" and (i + idx) % 2 == 0)
            ftp.set_pasv(not use_port)
            try:
                if i % 4 == 3:
                    ftp.nlst()
                    listings += 1
                else:
                    ftp.retrbinary("RETR small.txt", lambda b: None)
                done += 1
            except Exception as e:  # noqa: BLE001
                errors += 1
                with lock:
                    if len(stats["error_texts"]) < 8:
                        stats["error_texts"].append("%s transfer: %r" % (
                            "PORT" if use_port else "PASV", e))
                    stats["errors_" + ("port" if use_port else "pasv")] += 1
                if not isinstance(e, ftplib.error_temp):
                    break  # the control connection may be gone
            i += 1
        try:
            if ok:
                ftp.quit()
        except Exception:  # noqa: BLE001
            pass
        ftp.close()
        with lock:
            stats["transfers"] += done
            stats["listings"] += listings
            stats["errors"] += errors
            stats["rtts"].extend(rtts)

    c0, d0, w0 = cpu_ticks(), proc_ticks(a.daemon_pid), time.monotonic()
    threads = [threading.Thread(target=session, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    try:
        barrier.wait(timeout=a.duration + 120)
    except threading.BrokenBarrierError:
        pass
    t_start = state["start"]
    for t in threads:
        t.join(a.duration + a.timeout + 60)
    t_end = time.monotonic()
    c1, d1 = cpu_ticks(), proc_ticks(a.daemon_pid)
    # transfer phase: from the barrier to the last session's QUIT (QUIT is quick)
    elapsed = t_end - t_start
    port = [r for c, r in stats["rtts"] if c == "PORT"]
    pasv = [r for c, r in stats["rtts"] if c == "PASV"]
    both = port + pasv
    out = {
        "sessions": n, "cmd": a.cmd, "transfers_limit": a.transfers, "duration_limit": a.duration,
        "transfers": stats["transfers"], "listings": stats["listings"], "errors": stats["errors"],
        "errors_port": stats["errors_port"], "errors_pasv": stats["errors_pasv"],
        "login_errors": stats["login_errors"], "error_texts": stats["error_texts"],
        "transfer_phase_s": elapsed, "setup_s": t_start - w0,
        "transfers_per_s": stats["transfers"] / elapsed if elapsed > 0 else 0,
        "rtt_n": len(both), "port_n": len(port), "pasv_n": len(pasv),
        "rtt_median_ms": 1000 * statistics.median(both) if both else None,
        "rtt_p99_ms": 1000 * pct(both, 99) if both else None,
        "port_median_ms": 1000 * statistics.median(port) if port else None,
        "port_p99_ms": 1000 * pct(port, 99) if port else None,
        "pasv_median_ms": 1000 * statistics.median(pasv) if pasv else None,
        "pasv_p99_ms": 1000 * pct(pasv, 99) if pasv else None,
        "cpu_ticks": {k: c1[k] - c0[k] for k in c0},
        "daemon_ticks": {k: d1[k] - d0[k] for k in d0},
        "hz": os.sysconf("SC_CLK_TCK"),
        "window_s": time.monotonic() - w0,
    }
    with open(a.out, "w") as f:
        json.dump(out, f)
    print("workload %s N=%d: %d transfers in %.1fs (%.1f/s), %d errors, rtt median %s ms" % (
        a.cmd, n, out["transfers"], elapsed, out["transfers_per_s"], out["errors"],
        "%.1f" % out["rtt_median_ms"] if both else "-"))


def fakeserver(a):
    resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    sel = selectors.EpollSelector()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((a.addr, a.port))
    lsock.listen(4096)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, None)
    p = [int(x) for x in a.addr.split(".")]
    bufs = {}
    with open(a.ready, "w") as f:
        f.write("listening\n")
    while True:
        for key, _ in sel.select():
            if key.data is None:
                while True:
                    try:
                        c, _ = lsock.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    c.send(b"220 fake ftp\r\n")
                    bufs[c] = b""
                    sel.register(c, selectors.EVENT_READ, 1)
                continue
            c = key.fileobj
            try:
                data = c.recv(4096)
            except OSError:
                data = b""
            if not data:
                sel.unregister(c)
                bufs.pop(c, None)
                c.close()
                continue
            buf = bufs[c] + data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                verb = line[:4].upper()
                if verb == b"USER":
                    r = b"331 ok\r\n"
                elif verb == b"PASS":
                    r = b"230 ok\r\n"
                elif verb == b"PORT":
                    r = b"200 ok\r\n"
                elif verb == b"PASV":
                    port = 20000 + (c.fileno() % 40000)
                    r = ("227 Entering Passive Mode (%d,%d,%d,%d,%d,%d)\r\n" % (
                        p[0], p[1], p[2], p[3], port >> 8, port & 255)).encode()
                elif verb == b"QUIT":
                    r = b"221 bye\r\n"
                else:
                    r = b"500 ?\r\n"
                try:
                    c.send(r)
                except OSError:
                    pass
            bufs[c] = buf


def scale(a):
    resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))
    sel = selectors.EpollSelector()
    local = [int(x) for x in a.local.split(".")]
    conns = {}  # sock -> [idx, state, buf, t_send, t_reply, sport]
    records = []
    started = finished = failed = 0
    t0 = time.monotonic()
    deadline = t0 + a.duration
    inflight = 0
    replies = {0: b"220", 1: b"331", 2: b"230", 3: b"200"}

    def start(idx):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((a.server, 21))
        conns[s] = [idx, 0, b"", 0.0, 0.0, 0]
        sel.register(s, selectors.EVENT_READ)

    def finish(s, status):
        nonlocal inflight, finished, failed
        c = conns[s]
        inflight -= 1
        if status == "ok":
            finished += 1
        else:
            failed += 1
        records.append((c[5], c[3], c[4], status))
        sel.unregister(s)
        if status != "ok":
            s.close()
            del conns[s]

    while time.monotonic() < deadline and (started < a.sessions or inflight > 0):
        while started < a.sessions and inflight < a.concurrency:
            start(started)
            started += 1
            inflight += 1
        for key, _ in sel.select(timeout=1.0):
            s = key.fileobj
            c = conns[s]
            try:
                data = s.recv(4096)
            except OSError as e:
                finish(s, "error:%s" % e.errno)
                continue
            if not data:
                finish(s, "closed")
                continue
            c[2] += data
            while b"\n" in c[2]:
                line, c[2] = c[2].split(b"\n", 1)
                st = c[1]
                if not line.startswith(replies[st]):
                    finish(s, "reply%d:%s" % (st, line[:3].decode(errors="replace")))
                    break
                if st == 0:
                    c[5] = s.getsockname()[1]
                    s.send(b"USER anonymous\r\n")
                elif st == 1:
                    s.send(b"PASS bench@\r\n")
                elif st == 2:
                    port = 10000 + c[0] % 50000
                    cmd = "PORT %d,%d,%d,%d,%d,%d\r\n" % (
                        local[0], local[1], local[2], local[3], port >> 8, port & 255)
                    c[3] = time.time()
                    s.send(cmd.encode())
                elif st == 3:
                    c[4] = time.time()
                    finish(s, "ok")
                    break
                c[1] = st + 1
    for s, c in list(conns.items()):
        if c[4] == 0.0:  # still in flight at the deadline
            records.append((c[5], c[3], 0.0, "timeout-state%d" % c[1]))
    ramp = time.monotonic() - t0
    with open(a.out, "w") as f:
        f.write("# sport\tport_sent\treply_200\tstatus\n")
        for r in records:
            f.write("%d\t%.6f\t%.6f\t%s\n" % r)
    summary = {"target": a.sessions, "started": started, "ok": finished, "failed": failed,
               "ramp_s": ramp}
    with open(a.ready, "w") as f:
        json.dump(summary, f)
    print("scale: %d of %d sessions pending a PORT after %.1fs (%d failed)" % (
        finished, a.sessions, ramp, failed), flush=True)
    limit = time.monotonic() + 600
    while not os.path.exists(a.release) and time.monotonic() < limit:
        time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    w = sub.add_parser("workload")
    w.add_argument("--server", required=True)
    w.add_argument("--sessions", type=int, required=True)
    w.add_argument("--transfers", type=int, default=20)
    w.add_argument("--duration", type=float, default=20)
    w.add_argument("--timeout", type=float, default=10)
    w.add_argument("--cmd", choices=["mix", "pasv", "port"], default="mix")
    w.add_argument("--daemon-pid", type=int, default=0)
    w.add_argument("--out", required=True)
    f = sub.add_parser("fakeserver")
    f.add_argument("addr")
    f.add_argument("port", type=int)
    f.add_argument("ready")
    s = sub.add_parser("scale")
    s.add_argument("--server", required=True)
    s.add_argument("--local", required=True)
    s.add_argument("--sessions", type=int, required=True)
    s.add_argument("--concurrency", type=int, default=200)
    s.add_argument("--duration", type=float, default=150)
    s.add_argument("--out", required=True)
    s.add_argument("--ready", required=True)
    s.add_argument("--release", required=True)
    a = ap.parse_args()
    {"workload": workload, "fakeserver": fakeserver, "scale": scale}[a.what](a)


if __name__ == "__main__":
    main()
