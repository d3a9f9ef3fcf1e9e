#!/usr/bin/python3
"""The FTP control connections' sequence adjustments, straight from ctnetlink (tests/vm/ha.sh).

usage: ha_seqadj.py dump     one line per IPv4 TCP conntrack to port 21 in this kernel's table
       ha_seqadj.py events   the same for every conntrack event, until killed

`conntrack -L` does not print the NAT sequence adjustment (struct nf_ct_seqadj), which is what
must survive a failover after a rewrite changed a line's length. The kernel puts
CTA_SEQ_ADJ_ORIG/REPLY into a dump when IPS_SEQ_ADJUST is set, and into an event only when the
event includes IPCT_SEQADJ (ctnetlink_conntrack_event): an event line with "seqadj" is an update
that conntrackd received with the adjustment in it.
Line: TIME KIND SRC:SPORT->DST:DPORT helper=NAME status=0x.. orig=POS/BEFORE/AFTER reply=...
"""
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_CTNETLINK = 1
IPCTNL_MSG_CT_NEW, IPCTNL_MSG_CT_GET, IPCTNL_MSG_CT_DELETE = 0, 1, 2
NLM_F_REQUEST, NLM_F_DUMP, NLM_F_CREATE = 0x1, 0x300, 0x400
NLMSG_ERROR, NLMSG_DONE = 2, 3
CTA_TUPLE_ORIG, CTA_STATUS, CTA_HELP, CTA_SEQ_ADJ_ORIG, CTA_SEQ_ADJ_REPLY = 1, 3, 5, 15, 16
CTA_TUPLE_IP, CTA_TUPLE_PROTO = 1, 2
CTA_IP_V4_SRC, CTA_IP_V4_DST = 1, 2
CTA_PROTO_NUM, CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT = 1, 2, 3
CTA_HELP_NAME = 1
NLA_TYPE_MASK = 0x3FFF


def attrs(data):
    out, off = {}, 0
    while off + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, off)
        if length < 4:
            break
        out[kind & NLA_TYPE_MASK] = data[off + 4:off + length]
        off += (length + 3) & ~3
    return out


def seqadj(raw):
    a = attrs(raw)
    pos, before, after = (struct.unpack(">I", a.get(i, b"\0\0\0\0"))[0] for i in (1, 2, 3))
    to_signed = (lambda v: v - (1 << 32) if v >= 1 << 31 else v)
    return "%d/%+d/%+d" % (pos, to_signed(before), to_signed(after))


def describe(kind, payload):
    a = attrs(payload[4:])  # after struct nfgenmsg
    if CTA_TUPLE_ORIG not in a:
        return None
    tuple_attrs = attrs(a[CTA_TUPLE_ORIG])
    ip = attrs(tuple_attrs.get(CTA_TUPLE_IP, b""))
    proto = attrs(tuple_attrs.get(CTA_TUPLE_PROTO, b""))
    if CTA_IP_V4_SRC not in ip or proto.get(CTA_PROTO_NUM) != b"\x06":
        return None
    dport = struct.unpack(">H", proto[CTA_PROTO_DST_PORT])[0]
    sport = struct.unpack(">H", proto[CTA_PROTO_SRC_PORT])[0]
    if dport != 21:
        return None
    line = "%.3f %s %s:%d->%s:%d" % (time.time(), kind, socket.inet_ntoa(ip[CTA_IP_V4_SRC]),
                                     sport, socket.inet_ntoa(ip[CTA_IP_V4_DST]), dport)
    if CTA_HELP in a:
        line += " helper=" + attrs(a[CTA_HELP]).get(CTA_HELP_NAME, b"").rstrip(b"\0").decode()
    if CTA_STATUS in a:
        line += " status=0x%x" % struct.unpack(">I", a[CTA_STATUS])[0]
    if CTA_SEQ_ADJ_ORIG in a:
        line += " seqadj orig=" + seqadj(a[CTA_SEQ_ADJ_ORIG])
    if CTA_SEQ_ADJ_REPLY in a:
        line += " reply=" + seqadj(a[CTA_SEQ_ADJ_REPLY])
    return line


def messages(data):
    off = 0
    while off + 16 <= len(data):
        length, kind, flags, _, _ = struct.unpack_from("=IHHII", data, off)
        if length < 16:
            break
        yield kind, flags, data[off + 16:off + length]
        off += (length + 3) & ~3


def dump():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.bind((0, 0))
    request = struct.pack("=IHHII", 20, (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET,
                          NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + struct.pack("=BBH", 2, 0, 0)
    s.send(request)
    while True:
        for kind, _, payload in messages(s.recv(1 << 20)):
            if kind in (NLMSG_DONE, NLMSG_ERROR):
                return 0
            line = describe("table", payload)
            if line:
                print(line, flush=True)


def events():
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
    s.bind((0, 1 | 2 | 4))  # NFNLGRP_CONNTRACK_NEW, _UPDATE, _DESTROY
    while True:
        try:
            data = s.recv(1 << 20)
        except OSError as e:  # ENOBUFS: events were lost; say so and go on
            print("%.3f lost events: %s" % (time.time(), e), flush=True)
            continue
        for kind, flags, payload in messages(data):
            sub = kind & 0xFF
            name = ("destroy" if sub == IPCTNL_MSG_CT_DELETE else
                    "new" if flags & NLM_F_CREATE else "update")
            line = describe(name, payload)
            if line:
                print(line, flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("dump", "events"):
        sys.exit(__doc__)
    sys.exit(dump() if sys.argv[1] == "dump" else events())
