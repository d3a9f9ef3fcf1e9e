#!/usr/bin/python3
"""One FTP session across a gateway failover (tests/vm/ha.sh, run-ha.sh).

usage: ha_client.py NAME HOST ROOT SYNCDIR [--before MODES] [--pending MODE] [--inflight MODE]
                    [--after MODES]

Keeps ONE control connection for the whole test, as a user's client would:
1. logs in (anonymous) and transfers small.bin and medium.bin with each mode of --before
   (PORT, EPRT, PASV, EPSV), each byte-compared with ROOT/<file>;
2. starts RETR big.bin with --inflight, reads INFLIGHT_AT bytes, creates SYNCDIR/inflight-NAME,
   then reads slowly until SYNCDIR/master-gwB exists (the backup has taken over), then the rest at
   full speed, and byte-compares it; the step fails too if the transfer was not in flight when
   SYNCDIR/primary-down appeared;
   (--pending MODE instead: announces a data connection with MODE, creates SYNCDIR/pending-NAME,
   waits for SYNCDIR/master-gwB and only then transfers small.bin over it: the expectation made
   before the failover must be on the backup;)
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

INFLIGHT_AT = 512 * 1024
TIMEOUT_S = 60


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
        return lambda: socket.create_connection((host, port), timeout=TIMEOUT_S)

    def retr(self, mode, filename, slow_after=None, announced=None):
        """RETR with byte-compare. slow_after: after that many bytes, flag inflight-NAME and read
        slowly (32 KB every 0.25 s, so that data keeps moving and TCP keeps retransmitting instead
        of waiting in a zero window) until the backup has taken over (master-gwB), then at full
        speed. The detail says how much had arrived when the primary went down."""
        ftp = self.ftp
        get_conn = announced or self.open_data(mode)
        passive = mode in ("PASV", "EPSV")
        conn = get_conn() if passive else None  # passive: connect first, as clients do
        reply = ftp.sendcmd("RETR " + filename)
        if not reply.startswith("1"):
            raise ftplib.error_reply(reply)
        if not passive:
            conn = get_conn()
        conn.settimeout(TIMEOUT_S)
        digest, size, phase, at_failover = hashlib.sha256(), 0, "before", None
        while True:
            if phase == "before" and slow_after is not None and size >= slow_after:
                phase = "slow"
                self.flag("inflight-" + self.name)
            if phase == "slow":
                if at_failover is None and self.has_flag("primary-down"):
                    at_failover = size
                if at_failover is not None and self.has_flag("master-gwB"):
                    phase = "after"
                else:
                    time.sleep(0.25)
            slow = phase == "slow"
            chunk = conn.recv(32768 if slow else 65536)
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
        conn.close()
        ftp.voidresp()
        want = sha256_file(os.path.join(self.root, filename))
        detail = "%s %s %d bytes" % (mode, filename, size)
        if slow_after is not None:
            detail += ", %s bytes when the primary went down" % at_failover
        if digest.hexdigest() != want:
            detail += " sha256 MISMATCH"
        in_flight = slow_after is None or (at_failover is not None and at_failover < size)
        return digest.hexdigest() == want and in_flight, detail

    def has_flag(self, name):
        return os.path.exists(os.path.join(self.sync, name))

    def pending(self, mode):
        """Announces a data connection (PORT/EPRT answered 200, PASV/EPSV answered 227/229), flags
        pending-NAME, and uses it only after the backup has taken over: the expectation must
        have come over with conntrackd's ExpectationSync."""
        announced = self.open_data(mode)
        self.flag("pending-" + self.name)
        deadline = time.monotonic() + 180
        while not self.has_flag("master-gwB"):
            if time.monotonic() > deadline:
                return False, "no takeover within 180 s"
            time.sleep(0.2)
        return self.retr(mode, "small.bin", announced=announced)

    def flag(self, name):
        with open(os.path.join(self.sync, name), "w") as f:
            f.write("%f\n" % time.time())

    def step(self, label, action):
        started = time.monotonic()
        try:
            ok, detail = action()
        except (OSError, EOFError, ftplib.Error) as e:
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
    parser.add_argument("--inflight")
    parser.add_argument("--pending")
    parser.add_argument("--after", default="")
    args = parser.parse_args()
    s = Session(args.name, args.host, args.root, args.sync)

    def login():
        s.ftp.connect(args.host, 21)
        s.ftp.login("anonymous", "ha@example.org")
        s.ftp.voidcmd("TYPE I")
        return True, "control %s -> %s" % (s.ftp.sock.getsockname(), s.ftp.sock.getpeername())
    if not s.step("login", login):
        for what in ("inflight-", "pending-"):  # do not hold the others up
            s.flag(what + s.name)
        return 1
    s.transfers("before", args.before.split())
    if args.pending and not s.step("pending-%s-small" % args.pending,
                                   lambda: s.pending(args.pending)):
        s.flag("pending-" + s.name)
    if args.inflight and not s.step("inflight-%s-big" % args.inflight,
                                    lambda: s.retr(args.inflight, "big.bin",
                                                   slow_after=INFLIGHT_AT)):
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
