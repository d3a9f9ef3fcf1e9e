#!/usr/bin/python3
"""A stuck client of a UNIX stream socket: connects and never reads.

usage: stuck_unix_client.py PATH SECONDS [HOLD]
For SECONDS in all it connects to PATH, holds the connection HOLD seconds (default 3) without
reading a byte, closes it and connects again. Prints one line: "connections N". Used by
faults.sh: ftp-algd's status socket must not let such a client delay the packet loop (the server
gives up on it after 1 s; the loop only renders the document).
"""
import socket
import sys
import time


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, seconds = sys.argv[1], float(sys.argv[2])
    hold = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    end = time.monotonic() + seconds
    connections = 0
    while time.monotonic() < end:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            connections += 1
            time.sleep(min(hold, max(0.0, end - time.monotonic())))
        except OSError:
            time.sleep(0.2)
        finally:
            sock.close()
    if connections == 0:
        print("never connected to %s" % path)
    else:
        print("connections %d" % connections)


if __name__ == "__main__":
    main()
