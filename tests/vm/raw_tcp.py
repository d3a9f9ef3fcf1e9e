#!/usr/bin/python3
"""raw_tcp.py: the client side of one IPv4 TCP connection, played by hand over raw sockets.

Used by alg_probe.py to feed the gateway's FTP ALG with TCP segments a normal client never sends
on purpose: identical retransmissions, resends that overlap earlier data, segments out of order,
data at an arbitrary sequence offset. A real socket cannot do that: its kernel decides what goes
into a segment, coalesces, never resends bytes already acknowledged and never sends a chosen byte
string at a chosen sequence number. So this module builds the IPv4 and TCP headers itself and
keeps just enough TCP state (ISS, the peer's ISN, what arrived in order) to stay a valid partner
for the real TCP stack of the fake FTP server on the far side of the gateway.

    with RawTcpClient(in_ns, "cli", "192.0.2.2", "198.51.100.2", 21) as c:
        c.connect()
        c.wait_received(b"\\n")
        c.send_at(0, b"USER a\\r\\n"); c.wait_acked(8)
        c.send_at(0, b"USER a\\r\\n")        # the same segment again

Offsets count from our first data byte (sequence number ISS + 1); ACKs from the peer are shown
as such offsets too, so a gateway that adjusts sequence numbers wrongly shows up as an ACK
beyond what was ever sent (acks_seen).

The kernel of the client namespace knows nothing of this connection and would answer every
segment of the peer with a RST; an nftables table of our own drops those RSTs while the client
lives. Our own packets carry a socket mark so that our RST in close() still goes out.
"""
import errno
import random
import select
import socket
import struct
import subprocess
import threading
import time

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_FLAG_BITS = {"F": FIN, "S": SYN, "R": RST, "P": PSH, "A": ACK, "U": URG}
WINDOW = 65535          # no window scaling offered, so this is the whole receive window
MSS = 1460
MARK = 0x72617774       # "rawt": marks our own packets, which the RST-drop rule lets through
SO_MARK = getattr(socket, "SO_MARK", 36)


def _flags(text):
    bits = 0
    for ch in text.upper():
        if ch not in _FLAG_BITS:
            raise ValueError(f"unknown TCP flag {ch!r}")
        bits |= _FLAG_BITS[ch]
    return bits


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _diff(a, b):
    """a - b in 32-bit sequence space, as a signed number (wrap-around safe)."""
    d = (a - b) & 0xFFFFFFFF
    return d - (1 << 32) if d & 0x80000000 else d


class RawTcpClient:
    def __init__(self, in_ns, ns, src_addr, dst_addr, dst_port, src_port=None):
        """in_ns: callable in_ns(ns_name, fn) -> fn() run inside that netns (from alg_probe.py).
        src_port None: pick a free-looking random port in 40000-59999."""
        self.ns, self.src, self.dst, self.dport = ns, src_addr, dst_addr, dst_port
        self._src_b, self._dst_b = socket.inet_aton(src_addr), socket.inet_aton(dst_addr)
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._reader = None
        self._closed = False
        self._rule = False
        self._established = False
        self.iss = random.getrandbits(32)
        self.irs = None            # the peer's initial sequence number, from the SYN-ACK
        self.peer_mss = None
        self.window = 0            # the peer's last advertised window (it is not scaled)
        self.fin = False           # the peer sent FIN (and we acknowledged it)
        self._reset = False
        self._rcvd = bytearray()   # the peer's bytes, in order
        self._acked = None         # highest cumulative ACK from the peer, as an offset
        self._acks = []
        self._snd_max = 0          # highest offset we have sent up to (end of the last byte)
        self._reserve = None
        self._sock = None
        try:
            self._reserve, self.sport = in_ns(ns, lambda: self._reserve_port(src_port))
            self._sock = in_ns(ns, self._raw_socket)
        except BaseException:
            self.close()
            raise

    # --- setup -------------------------------------------------------------------------------
    def _reserve_port(self, want):
        """A bound (never listening) TCP socket keeps the kernel from handing the port to a real
        connection in the namespace meanwhile; it does not make the kernel answer segments."""
        for port in [want] if want else random.sample(range(40000, 60000), 50):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((self.src, port))
                return s, port
            except OSError:
                s.close()
        if want:
            return None, want      # a chosen port in use: the caller meant it, go on anyway
        raise OSError(errno.EADDRINUSE, "no free port in 40000-59999")

    def _raw_socket(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        try:
            # Our own IP header: the source address and DF are then ours, not the route's.
            s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            s.setsockopt(socket.SOL_SOCKET, SO_MARK, MARK)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            # A raw TCP socket sees every TCP packet of the namespace; bind and connect narrow
            # that down to our two addresses, the ports are checked by the reader.
            s.bind((self.src, 0))
            s.connect((self.dst, 0))
        except BaseException:
            s.close()
            raise
        return s

    def _nft(self, script):
        r = subprocess.run(["ip", "netns", "exec", self.ns, "nft", "-f", "-"], input=script,
                           text=True, capture_output=True, timeout=10)
        if r.returncode != 0:
            raise OSError(errno.EIO, f"nft in {self.ns}: {r.stderr.strip()}")

    @property
    def _table(self):
        return f"rawtcp_{self.sport}"

    def _install_rule(self):
        t = self._table
        # "add; delete; define" in one batch: a stale table of a crashed run goes, atomically.
        self._nft(f"add table ip {t}\ndelete table ip {t}\n"
                  f"table ip {t} {{\n chain out {{\n"
                  f"  type filter hook output priority 0; policy accept;\n"
                  f"  tcp sport {self.sport} tcp flags & rst == rst meta mark != {MARK:#x} drop\n"
                  f" }}\n}}\n")
        self._rule = True

    # --- packets -------------------------------------------------------------------------------
    def _packet(self, seq, ack, flags, data=b"", options=b""):
        off = (20 + len(options)) // 4
        tcp = struct.pack("!HHIIHHHH", self.sport, self.dport, seq & 0xFFFFFFFF,
                          ack & 0xFFFFFFFF, (off << 12) | flags, WINDOW, 0, 0) + options + data
        pseudo = struct.pack("!4s4sBBH", self._src_b, self._dst_b, 0, socket.IPPROTO_TCP,
                             len(tcp))
        tcp = tcp[:16] + struct.pack("!H", _checksum(pseudo + tcp)) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16),
                         0x4000, 64, socket.IPPROTO_TCP, 0, self._src_b, self._dst_b)
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        return ip + tcp

    def _send(self, seq, flags, data=b"", options=b""):
        with self._cond:
            ack = self._rcv_nxt() if flags & ACK else 0
        self._sock.sendto(self._packet(seq, ack, flags, data, options), (self.dst, 0))

    def _rcv_nxt(self):
        if self.irs is None:
            return 0
        return self.irs + 1 + len(self._rcvd) + (1 if self.fin else 0)

    def _send_ack(self):
        # A pure ACK at the sequence number the peer expects next (as far as we know), so it is
        # always acceptable however far ahead our out-of-order sends went.
        with self._cond:
            una = self._acked or 0
        try:
            self._send(self.iss + 1 + una, ACK)
        except OSError:
            pass

    # --- the reader thread ---------------------------------------------------------------------
    def _read_loop(self):
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([self._sock], [], [], 0.2)
                if not r:
                    continue
                pkt = self._sock.recv(65535)
                self._segment(pkt)
            except Exception:      # a closed socket or a malformed packet: never kill the test
                if self._stop.is_set():
                    return
                time.sleep(0.05)

    def _segment(self, pkt):
        if len(pkt) < 20 or pkt[0] >> 4 != 4 or pkt[9] != socket.IPPROTO_TCP:
            return
        ihl = (pkt[0] & 15) * 4
        if struct.unpack("!H", pkt[6:8])[0] & 0x1FFF or pkt[12:16] != self._dst_b \
                or pkt[16:20] != self._src_b:
            return                 # fragments never happen here; other hosts are not ours
        tcp = pkt[ihl:struct.unpack("!H", pkt[2:4])[0] or len(pkt)]
        if len(tcp) < 20:
            return
        sport, dport, seq, ack, offfl, win = struct.unpack("!HHIIHH", tcp[:16])
        if sport != self.dport or dport != self.sport:
            return
        doff, flags = (offfl >> 12) * 4, offfl & 0x3F
        data = tcp[doff:]
        # The checksum is not verified: packets from a veth peer may still carry the partial
        # (offloaded) sum, and the peer is a real stack anyway.
        reply = False
        with self._cond:
            if flags & RST:
                self._reset = True
                self._cond.notify_all()
                return
            if flags & SYN:
                if not flags & ACK or _diff(ack, self.iss) != 1:
                    return
                if self.irs is None:
                    self.irs, self.peer_mss = seq, self._mss_option(tcp[20:doff])
                self._note_ack(ack, win)
                reply = True       # also answers a repeated SYN-ACK whose ACK got lost
            elif self.irs is not None:
                if flags & ACK:
                    self._note_ack(ack, win)
                reply = self._take(seq, data, flags & FIN)
            self._cond.notify_all()
        if reply:
            self._send_ack()

    @staticmethod
    def _mss_option(opts):
        i = 0
        while i < len(opts):
            kind = opts[i]
            if kind == 0:
                break
            if kind == 1:
                i += 1
                continue
            if i + 1 >= len(opts) or opts[i + 1] < 2:
                break
            if kind == 2 and opts[i + 1] == 4 and i + 4 <= len(opts):
                return struct.unpack("!H", opts[i + 2:i + 4])[0]
            i += opts[i + 1]
        return None

    def _note_ack(self, ack, win):
        off = _diff(ack, self.iss + 1)
        self._acks.append(off)
        if self._acked is None or off > self._acked:
            self._acked = off
        self.window = win

    def _take(self, seq, data, fin):
        """In-order data is appended (ACK it); anything else gets a duplicate ACK. Nothing is
        kept out of order: the peer resends, and the tests never need to be fast."""
        if not data and not fin:
            return False           # a pure ACK: no answer, or two stacks would ping-pong
        nxt = self._rcv_nxt()
        start = _diff(seq, nxt)    # < 0: begins with bytes we have already
        if self.fin or start > 0:
            return True            # out of order, or after the FIN: duplicate ACK
        fresh = data[-start:] if start < 0 else data
        if start + len(data) >= 0:
            self._rcvd += fresh
            if fin:
                self.fin = True
        return True

    # --- the API -------------------------------------------------------------------------------
    def connect(self, timeout=5.0):
        """SYN (MSS 1460 option), wait for the SYN-ACK, ACK it. Raises OSError on failure or
        timeout, after cleaning up (close())."""
        try:
            self._install_rule()
            self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                            name=f"rawtcp-{self.sport}")
            self._reader.start()
            deadline = time.monotonic() + timeout
            syn_opt = struct.pack("!BBH", 2, 4, MSS)
            while True:
                self._send(self.iss, SYN, options=syn_opt)
                with self._cond:
                    # SYN again each second: the first one may meet a gateway not yet ready.
                    self._cond.wait_for(lambda: self.irs is not None or self._reset,
                                        min(1.0, max(0.0, deadline - time.monotonic())))
                    if self._reset:
                        raise OSError(errno.ECONNREFUSED, f"{self.dst}:{self.dport} refused")
                    if self.irs is not None:
                        break
                if time.monotonic() >= deadline:
                    raise OSError(errno.ETIMEDOUT, f"no SYN-ACK from {self.dst}:{self.dport}")
            self._established = True   # the reader has sent the ACK of the handshake
        except BaseException:
            self.close()
            raise

    def send_at(self, offset: int, data: bytes, flags="PA", check_window=True):
        """Sends ONE segment: seq = ISS + 1 + offset, ack = the in-order bytes received so far.
        check_window: refuse (ValueError) to send beyond the peer's advertised window."""
        if not self._established or self._closed:
            raise OSError(errno.ENOTCONN, "not connected")
        with self._cond:
            una = self._acked or 0
            if check_window and data and offset + len(data) > una + self.window:
                raise ValueError(f"offset {offset}+{len(data)} beyond the peer's window "
                                 f"({una}+{self.window})")
        bits = _flags(flags)
        self._send(self.iss + 1 + offset, bits, bytes(data))
        with self._cond:
            end = offset + len(data) + (1 if bits & FIN else 0)
            self._snd_max = max(self._snd_max, end)

    def wait_acked(self, offset: int, timeout=3.0) -> bool:
        """True once the peer's cumulative ACK (as seen here) reaches offset; False on timeout
        or if the peer reset the connection."""
        with self._cond:
            self._cond.wait_for(lambda: self._reset or (self._acked or 0) >= offset, timeout)
            return not self._reset and (self._acked or 0) >= offset

    @property
    def acked(self) -> int:
        with self._cond:
            return self._acked or 0

    @property
    def acks_seen(self):
        with self._cond:
            return list(self._acks)

    @property
    def sent(self) -> int:
        """The highest offset sent up to: an ACK beyond it means broken sequence adjustment."""
        with self._cond:
            return self._snd_max

    def received(self) -> bytes:
        with self._cond:
            return bytes(self._rcvd)

    def wait_received(self, needle: bytes, timeout=5.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: needle in self._rcvd, timeout)

    @property
    def reset(self) -> bool:
        with self._cond:
            return self._reset

    def close(self):
        """RST to the peer (if it is still there), stop the reader, drop the RST-suppression
        rule, close the sockets. Idempotent; errors are swallowed (this runs in cleanups)."""
        if self._closed:
            return
        self._closed = True
        if self._established and not self.reset and self._sock is not None:
            # seq = what the peer acknowledged last: Linux takes a RST only at exactly RCV.NXT.
            try:
                self._send(self.iss + 1 + self.acked, RST | ACK)
            except OSError:
                pass
        self._stop.set()
        if self._reader is not None:
            self._reader.join(2.0)
        if self._rule:
            try:
                self._nft(f"delete table ip {self._table}\n")
            except (OSError, subprocess.SubprocessError):
                pass
            self._rule = False
        for s in (self._sock, self._reserve):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
