#!/usr/bin/python3
"""Python's ftplib as an FTP client for the interop matrix (tests/vm/ftp_clients.sh).

usage: ftplib_client.py HOST PORT active|passive OUTDIR

Logs in anonymously, downloads big.bin to OUTDIR/big.bin and writes the LIST of / to
OUTDIR/listing, over one control connection. The protocol trace (ftplib's debug level 1: lines
"*cmd* 'PORT ...'" and "*resp* '227 ...'") goes to stdout. Exit status 0 when both transfers
ended with a 2xx reply; 1 with the error on stderr otherwise.

ftplib chooses the command by the control connection's family: PORT/PASV over IPv4, EPRT/EPSV
over IPv6. One change from its defaults: ftplib ignores the address of a 227 reply and connects
to the control connection's peer (trust_server_pasv_ipv4_address = False). The matrix wants the
227 address used, as every other client of the test bed does, so that a missing 227 rewrite by
the ALG fails instead of being hidden.
"""
import ftplib
import sys


def main():
    if len(sys.argv) != 5 or sys.argv[3] not in ("active", "passive"):
        sys.exit(__doc__)
    host, port, mode, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    # The timeout bounds each blocking socket operation (connect, accept, recv), not the whole
    # transfer: a slow but moving transfer never hits it.
    ftp = ftplib.FTP(timeout=60)
    ftp.set_debuglevel(1)
    ftp.trust_server_pasv_ipv4_address = True
    try:
        ftp.connect(host, port)
        ftp.login("anonymous", "test@example.org")
        ftp.set_pasv(mode == "passive")
        with open(outdir + "/big.bin", "wb") as out:
            ftp.retrbinary("RETR big.bin", out.write)
        with open(outdir + "/listing", "w") as out:
            ftp.retrlines("LIST", lambda line: out.write(line + "\n"))
        ftp.quit()
    except (OSError, EOFError, ftplib.Error) as err:
        print("ftplib_client: %s: %s" % (type(err).__name__, err), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
