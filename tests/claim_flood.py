#!/usr/bin/env python3
"""Memory attack on an accountabled before authentication, by hand (not in ctest).

Opens CONNS connections to 127.0.0.1:PORT without a Hello; each sends a 4-byte
length claiming CLAIM bytes, then 8 bytes of body, and stays open. Prints the
server's RSS (VmRSS, and VmHWM: the peak) before, while held, and after close.

  tests/claim_flood.py --pid $(pidof accountabled) --port 7400 --conns 200
"""
import argparse
import socket
import struct
import time


def rss_kib(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--port", type=int, default=7400)
    p.add_argument("--conns", type=int, default=200)
    p.add_argument("--claim", type=int, default=1 << 20)
    p.add_argument("--hold-s", type=float, default=2.0)
    a = p.parse_args()
    print("before", rss_kib(a.pid))
    socks, refused = [], 0
    for _ in range(a.conns):
        s = socket.create_connection(("127.0.0.1", a.port))
        try:
            s.sendall(struct.pack("<I", a.claim) + b"01234567")
            socks.append(s)
        except OSError:
            refused += 1
            s.close()
    time.sleep(a.hold_s)
    print("held", len(socks), "connections (", refused, "refused at once):", rss_kib(a.pid))
    closed = 0  # answered (code 8, 71) or closed
    for s in socks:
        s.setblocking(False)
        try:
            s.recv(1 << 16)
            closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    print("answered or closed by the server:", closed)
    for s in socks:
        s.close()
    time.sleep(1.0)
    print("after", rss_kib(a.pid))


if __name__ == "__main__":
    main()
