#!/usr/bin/python3
"""FTP server for the VM scenarios: pyftpdlib, anonymous read-only, one process, several addresses.

usage: ftpd.py [--port N] [--masquerade ADDR] [--user NAME:PASSWORD] ROOT LOGFILE READYFILE
               ADDRESS [ADDRESS...]
Listens on port N (default 21) of each ADDRESS ("::" alone: every IPv4 and IPv6 address, one
dual-stack socket). READYFILE is created once every address listens. --masquerade ADDR: the
address announced in 227 replies (pyftpdlib's masquerade_address, the NAT workaround without an
ALG). --user NAME:PASSWORD: also a user who may write to ROOT (uploads: STOR, STOU, APPE).

Stock pyftpdlib behaviour that the scenarios rely on:
- PORT/EPRT naming an address other than the client's is refused (permit_foreign_addresses off),
  so active mode through NAT fails without an ALG;
- 227/229 replies carry the server's own address, so passive mode through DNAT needs an ALG.
- One change: pyftpdlib compares the EPRT address with the client's as strings, so an IPv6
  address written in another valid form is refused as "foreign". The kernel's nf_nat_ftp writes
  the uncompressed form (%pI6: 2001:0db8:0002:0000:0000:0000:0000:0001), which RFC 2428 allows;
  the handler here compares addresses instead.
The active-mode connect timeout is short so that a data connection the firewall drops ends in a
quick "425" instead of a 30 s wait.
"""
import argparse
import ipaddress
import logging
import sys

# pyftpdlib.handlers imports pyOpenSSL for its TLS handler when it can: 4 of the 7 s a start takes
# under TCG. This server does no TLS.
sys.modules["OpenSSL"] = None

from pyftpdlib.authorizers import DummyAuthorizer  # noqa: E402 (after the OpenSSL stub above)
from pyftpdlib.handlers import ActiveDTP, FTPHandler  # noqa: E402 (after the OpenSSL stub above)
from pyftpdlib.servers import FTPServer  # noqa: E402 (after the OpenSSL stub above)


def main():
    parser = argparse.ArgumentParser(usage=__doc__)
    parser.add_argument("--port", type=int, default=21)
    parser.add_argument("--masquerade")
    parser.add_argument("--user")
    parser.add_argument("root")
    parser.add_argument("logfile")
    parser.add_argument("readyfile")
    parser.add_argument("addresses", nargs="+")
    args = parser.parse_args()
    logging.basicConfig(filename=args.logfile, level=logging.DEBUG,
                        format="%(asctime)s %(message)s")
    ActiveDTP.timeout = 5

    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(args.root)  # read-only: perm "elr"
    if args.user:
        name, password = args.user.split(":", 1)
        authorizer.add_user(name, password, args.root, perm="elradfmw")

    class Handler(FTPHandler):
        def _make_eport(self, ip, port):
            try:
                ip = str(ipaddress.ip_address(ip))  # canonical (RFC 5952) text, as remote_ip is
            except ValueError:
                pass
            return FTPHandler._make_eport(self, ip, port)

    Handler.authorizer = authorizer
    Handler.permit_foreign_addresses = False
    Handler.permit_privileged_ports = False
    Handler.masquerade_address = args.masquerade

    servers = [FTPServer((address, args.port), Handler) for address in args.addresses]
    with open(args.readyfile, "w") as ready:
        ready.write("listening on %s port %d\n" % (" ".join(args.addresses), args.port))
    # All servers share the default IOLoop; serving one serves them all.
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
