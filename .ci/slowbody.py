#!/usr/bin/env python3
"""Slow-body attack on a job-rerunner on this machine, to measure what it costs the service.

Opens CONNECTIONS connections to 127.0.0.1:PORT, each sending a webhook head that announces
a BODY-byte body, then either the body except its last byte (--mode body) or nothing
(--mode headers), and stalls. After HOLD seconds it prints the service's VmRSS and VmHWM
(from /proc/PID/status) and how long the connections stayed open, then closes them all.

Bounded on purpose: loopback only, at most 5000 connections, at most 300 s, no retries.
Used for the figures in ARCHITECTURE.md's "Limits" section:

    .ci/slowbody.py --pid "$(pidof job-rerunner)" --port 5000 --mode body
    .ci/slowbody.py --pid "$(pidof job-rerunner)" --port 5000 --mode headers --connections 2000 --hold 65
"""

import argparse
import errno
import os
import selectors
import socket
import sys
import time

HOST = "127.0.0.1"


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def head(args, index):
    lines = [
        "POST / HTTP/1.1",
        f"Host: {HOST}:{args.port}",
        "Content-Type: application/json",
        f"Content-Length: {args.body}",
        f"X-GitHub-Delivery: slowbody-{index}",
    ]
    if args.signature == "fake":
        # Well-formed but wrong: passes any check of the header's shape, fails the HMAC.
        lines.append("X-Hub-Signature-256: sha256=" + "0" * 64)
    if args.event:
        lines.append("X-GitHub-Event: workflow_job")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True, help="the service's process id")
    parser.add_argument("--connections", type=int, default=400)
    parser.add_argument("--body", type=int, default=1 << 20, help="announced body length")
    parser.add_argument("--mode", choices=["body", "headers"], default="body")
    parser.add_argument("--signature", choices=["fake", "none"], default="fake")
    parser.add_argument("--no-event", dest="event", action="store_false")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds to stall")
    args = parser.parse_args()
    if not 1 <= args.connections <= 5000 or not 0 < args.hold <= 300:
        sys.exit("at most 5000 connections and 300 s")

    rss_before = status_kib(args.pid, "VmRSS")
    selector = selectors.DefaultSelector()
    started = time.monotonic()
    pending = {}  # socket -> bytes still to send
    opened = []
    for index in range(args.connections):
        sock = socket.create_connection((HOST, args.port), timeout=5)
        sock.setblocking(False)
        payload = head(args, index)
        if args.mode == "body":
            payload += b" " * (args.body - 1)
        pending[sock] = memoryview(payload)
        opened.append(sock)
        selector.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)

    closed_at = {}  # socket -> seconds after start when the service answered or closed
    answers = {}
    deadline = started + args.hold
    while time.monotonic() < deadline:
        for key, mask in selector.select(timeout=0.1):
            sock = key.fileobj
            if mask & selectors.EVENT_WRITE and sock in pending:
                try:
                    sent = sock.send(pending[sock])
                    pending[sock] = pending[sock][sent:]
                    if not pending[sock]:
                        del pending[sock]
                        selector.modify(sock, selectors.EVENT_READ)
                except OSError as err:
                    if err.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                        pending.pop(sock, None)
            if mask & selectors.EVENT_READ:
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                if data and sock not in answers:
                    answers[sock] = data.split(b"\r\n", 1)[0].decode(errors="replace")
                if not data:
                    closed_at.setdefault(sock, time.monotonic() - started)
                    selector.unregister(sock)
                    pending.pop(sock, None)
    rss = status_kib(args.pid, "VmRSS")
    hwm = status_kib(args.pid, "VmHWM")
    still_open = len(opened) - len(closed_at)
    statuses = {}
    for line in answers.values():
        statuses[line] = statuses.get(line, 0) + 1
    print(f"mode={args.mode} signature={args.signature} connections={args.connections} "
          f"body={args.body} hold={args.hold}s")
    print(f"VmRSS before: {rss_before / 1024:.1f} MiB, after {args.hold}s: {rss / 1024:.1f} MiB, "
          f"peak (VmHWM): {hwm / 1024:.1f} MiB")
    if closed_at:
        times = sorted(closed_at.values())
        print(f"closed by the service: {len(times)} (first after {times[0]:.2f}s, "
              f"median {times[len(times) // 2]:.2f}s, last {times[-1]:.2f}s); still open: {still_open}")
    else:
        print(f"closed by the service: 0; still open: {still_open}")
    for line, count in sorted(statuses.items()):
        print(f"  answered {line!r}: {count}")
    for sock in opened:
        sock.close()


if __name__ == "__main__":
    main()
