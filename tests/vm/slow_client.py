#!/usr/bin/python3
"""A slow HTTP client: sends its request one byte every INTERVAL seconds, never finishing it.

usage: slow_client.py HOST PORT SECONDS [INTERVAL]
For SECONDS in all it connects, drips bytes of "GET /metrics" without the newline, and when the
server closes the connection (as it must, at its request deadline) connects again. Prints one
line: "connections N longest-hold S.Ss" (longest-hold: the longest time one connection stayed
open). Used by faults.sh: ftp-algd's metrics endpoint once ran on the packet loop, where such a
client held every verdict for minutes.
"""
import socket
import sys
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.19
    end = time.monotonic() + seconds
    connections, longest = 0, 0.0
    while time.monotonic() < end:
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError:
            time.sleep(interval)
            continue
        connections += 1
        opened = time.monotonic()
        request = b"GET /metrics HTTP/1.0"
        i = 0
        try:
            while time.monotonic() < end:
                sock.sendall(request[i % len(request):i % len(request) + 1])
                i += 1
                sock.settimeout(interval)
                try:
                    if sock.recv(1) == b"":
                        break  # closed by the server
                except socket.timeout:
                    pass
        except OSError:
            pass  # reset by the server
        longest = max(longest, time.monotonic() - opened)
        sock.close()
    print("connections %d longest-hold %.1fs" % (connections, longest))


if __name__ == "__main__":
    main()
