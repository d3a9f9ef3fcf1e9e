"""pyftpdlib's command line (python3 -m pyftpdlib) with EPRT addresses canonicalised.

pyftpdlib 1.5.7 compares the EPRT address with the peer's as strings; the kernel's nf_nat_ftp writes
rewritten IPv6 addresses uncompressed. Used by scripts/make-captures.sh for the IPv6 servers.
"""
import ipaddress
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.__main__ import main
_make_eport = FTPHandler._make_eport


def make_eport_canonical(self, ip, port):
    try:
        ip = str(ipaddress.ip_address(ip))
    except ValueError:
        pass
    return _make_eport(self, ip, port)


FTPHandler._make_eport = make_eport_canonical
main()
