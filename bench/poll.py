#!/usr/bin/env python3
"""A client that asks GET / on 127.0.0.1:PORT every INTERVAL ms until it gets SIGTERM
(or, with --until-ok, until the first 2xx answer), then writes what it saw as JSON.

usage: poll.py PORT OUT.json [--interval MS] [--until-ok] [--deadline S]

  polls       requests made
  failed      requests that got no 2xx answer (refused, reset, timeout, other status)
  downtime_s  the longest stretch without a good answer: from the last 2xx before a run
              of failures to the first 2xx after it (0 when nothing failed)
  first_ok_s  seconds from start to the first 2xx answer (with --until-ok)
"""

import json
import signal
import socket
import sys
import time

port = int(sys.argv[1])
out = sys.argv[2]
args = sys.argv[3:]
interval = float(args[args.index("--interval") + 1]) / 1000 if "--interval" in args else 0.01
until_ok = "--until-ok" in args
deadline = float(args[args.index("--deadline") + 1]) if "--deadline" in args else 600.0

stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)


def get():
    """One fresh connection, one request: True on a 2xx status."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
            s.settimeout(1.0)
            s.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = s.recv(32)
        parts = head.split()
        return len(parts) > 1 and parts[1][:1] == b"2"
    except OSError:
        return False


began = time.monotonic()
polls = failed = 0
last_ok = None
first_ok = None
worst = 0.0
failing = False
while not stop and time.monotonic() - began < deadline:
    asked = time.monotonic()
    polls += 1
    if get():
        now = time.monotonic()
        if first_ok is None:
            first_ok = now - began
            if until_ok:
                break
        if failing and last_ok is not None:
            worst = max(worst, now - last_ok)
        failing = False
        last_ok = now
    else:
        failed += 1
        failing = True
    time.sleep(max(0.0, interval - (time.monotonic() - asked)))

with open(out, "w") as f:
    json.dump(
        {
            "polls": polls,
            "failed": failed,
            "downtime_s": worst,
            "first_ok_s": first_ok,
            "interval_s": interval,
        },
        f,
    )
