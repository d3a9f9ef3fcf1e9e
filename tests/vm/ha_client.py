#!/usr/bin/python3
"""One FTP session across a gateway failover (tests/vm/ha.sh, run-ha.sh).

usage: ha_client.py NAME HOST ROOT SYNCDIR --before MODES --inflight MODE --after MODES

Keeps ONE control connection for the whole test, as a user's client would:
1. logs in (anonymous) and transfers small.bin and medium.bin with each mode of --before
   (PORT, EPRT, PASV, EPSV), each byte-compared with ROOT/<file>;
2. starts RETR big.bin with --inflight, reads INFLIGHT_PAUSE bytes, creates SYNCDIR/inflight-NAME
   and stops reading until SYNCDIR/primary-down exists (the primary gateway has gone: the transfer
   is in flight at the failover), then reads the rest and byte-compares it;
3. transfers small.bin and medium.bin again with each mode of --after, directly (no command
   between the failover and the first PORT/EPRT/PASV/EPSV: what a stricter pickup rule would have
   to cope with), then NOOP.
Each step prints "STEP NAME step PASS|FAIL seconds detail"; exit 0 when every step passed.
The data connections go to the address a 227 reply names (not the control connection's peer), so a
227 that was not rewritten fails.
"""
import argparse
import ftplib
import hashlib
import os
import socket
import sys
import time

INFLIGHT_PAUSE = 512 * 1024
TIMEOUT_S = 60
FAILOVER_WAIT_S = 120


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Session:
    def __init__(self, name, host, root, sync):
        self.name, self.host, self.root, self.sync = name, host, root, sync
        self.ftp = ftplib.FTP(timeout=TIMEOUT_S)
        self.failed = 0

    def report(self, step, ok, started, detail=""):
        if not ok:
            self.failed += 1
        print("STEP %s %s %s %.1f %s" % (self.name, step, "PASS" if ok else "FAIL",
                                         time.monotonic() - started, detail), flush=True)

    def open_data(self, mode):
        """Announces the data connection; returns (connected socket getter)."""
        ftp = self.ftp
        if mode in ("PORT", "EPRT"):
            local = ftp.sock.getsockname()[0]
            listener = socket.create_server((local, 0))
            listener.settimeout(TIMEOUT_S)
            port = listener.getsockname()[1]
            if mode == "PORT":
                ftp.voidcmd("PORT %s,%d,%d" % (local.replace(".", ","), port >> 8, port & 255))
            else:
                ftp.voidcmd("EPRT |1|%s|%d|" % (local, port))

            def accept():
                conn, _ = listener.accept()
                listener.close()
                return conn
            return accept
        if mode == "PASV":
            host, port = ftplib.parse227(ftp.sendcmd("PASV"))
        else:
            host, port = ftplib.parse229(ftp.sendcmd("EPSV"), ftp.sock.getpeername())
        conn = socket.create_connection((host, port), timeout=TIMEOUT_S)
        return lambda: conn

    def retr(self, mode, filename, pause_at=None):
        ftp = self.ftp
        get_conn = self.open_data(mode)
        reply = ftp.sendcmd("RETR " + filename)
        if not reply.startswith("1"):
            raise ftplib.error_reply(reply)
        conn = get_conn()
        conn.settimeout(TIMEOUT_S)
        digest, size, paused = hashlib.sha256(), 0, False
        while True:
            if pause_at is not None and not paused and size >= pause_at:
                paused = True
                self.flag("inflight-" + self.name)
                self.wait_flag("primary-down")
            chunk = conn.recv(65536 if pause_at is None or paused else
                              min(65536, pause_at - size))
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
        conn.close()
        ftp.voidresp()
        want = sha256_file(os.path.join(self.root, filename))
        return digest.hexdigest() == want, "%s %s %d bytes%s" % (
            mode, filename, size, "" if digest.hexdigest() == want else " sha256 MISMATCH")

    def flag(self, name):
        with open(os.path.join(self.sync, name), "w") as f:
            f.write("%f\n" % time.time())

    def wait_flag(self, name):
        deadline = time.monotonic() + FAILOVER_WAIT_S
        while not os.path.exists(os.path.join(self.sync, name)):
            if time.monotonic() > deadline:
                raise TimeoutError("no %s within %d s" % (name, FAILOVER_WAIT_S))
            time.sleep(0.2)

    def step(self, label, action):
        started = time.monotonic()
        try:
            ok, detail = action()
        except (OSError, EOFError, ftplib.Error, TimeoutError) as e:
            ok, detail = False, "%s: %s" % (type(e).__name__, e)
        self.report(label, ok, started, detail)
        return ok

    def transfers(self, phase, modes):
        for mode in modes:
            for filename in ("small.bin", "medium.bin"):
                self.step("%s-%s-%s" % (phase, mode, filename.split(".")[0]),
                          lambda m=mode, f=filename: self.retr(m, f))


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("name")
    parser.add_argument("host")
    parser.add_argument("root")
    parser.add_argument("sync")
    parser.add_argument("--before", default="")
    parser.add_argument("--inflight", required=True)
    parser.add_argument("--after", default="")
    args = parser.parse_args()
    s = Session(args.name, args.host, args.root, args.sync)

    def login():
        s.ftp.connect(args.host, 21)
        s.ftp.login("anonymous", "ha@example.org")
        s.ftp.voidcmd("TYPE I")
        return True, "control %s -> %s" % (s.ftp.sock.getsockname(), s.ftp.sock.getpeername())
    if not s.step("login", login):
        s.flag("inflight-" + s.name)  # do not hold the others up
        return 1
    s.transfers("before", args.before.split())
    if not s.step("inflight-%s-big" % args.inflight,
                  lambda: s.retr(args.inflight, "big.bin", pause_at=INFLIGHT_PAUSE)):
        s.flag("inflight-" + s.name)
    s.transfers("after", args.after.split())
    s.step("after-NOOP", lambda: (s.ftp.voidcmd("NOOP").startswith("200"), "NOOP"))
    try:
        s.ftp.quit()
    except (OSError, EOFError, ftplib.Error):
        pass
    print("CLIENT %s %s (%d failed)" % (s.name, "PASS" if s.failed == 0 else "FAIL", s.failed),
          flush=True)
    return 0 if s.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
