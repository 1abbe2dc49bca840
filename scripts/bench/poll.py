"""poll.py READY OUT PHASES PORT NAME=ADDRESS...

Per-host unavailability during one bench-deploy run. One thread per host sends
`GET /version` to ADDRESS:PORT on a new TCP connection every 10 ms (the next probe starts
10 ms after the previous one started, or right after it ended if it took longer); a probe
counts as answered when an HTTP status line comes back within 1 s. Touches READY once every
host has been probed once. On SIGTERM (sent after the run) it reads PHASES (the run's three
timestamps: start, deploy done, rollback done, as seconds since the epoch) and writes to OUT
one line per host:

    NAME DEPLOY_MS ROLLBACK_MS PROBES

DEPLOY_MS (ROLLBACK_MS) is the longest stretch within the deploy (rollback) phase between
two answered probes: the time during which the published port answered nothing. Part of
scripts/bench-deploy.
"""

import signal
import socket
import sys
import threading
import time

SPACING = 0.010
PROBE_TIMEOUT = 1.0

ready_path, out_path, phases_path, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
hosts = [arg.split("=", 1) for arg in sys.argv[5:]]
stop = threading.Event()
answered = {name: [] for name, _ in hosts}
probes = {name: 0 for name, _ in hosts}
first_round = threading.Barrier(len(hosts) + 1)


def probe(address):
    try:
        with socket.create_connection((address, port), timeout=PROBE_TIMEOUT) as s:
            s.settimeout(PROBE_TIMEOUT)
            s.sendall(b"GET /version HTTP/1.0\r\nHost: bench\r\n\r\n")
            return s.recv(16).startswith(b"HTTP/")
    except OSError:
        return False


def poll(name, address):
    first = True
    while not stop.is_set():
        start = time.time()
        if probe(address):
            answered[name].append(start)
        probes[name] += 1
        if first:
            first = False
            first_round.wait()
        pause = start + SPACING - time.time()
        if pause > 0:
            stop.wait(pause)


def longest_silence(times, begin, end):
    """The longest stretch in [begin, end] not covered by an answered probe."""
    points = [begin] + [t for t in times if begin < t < end] + [end]
    return max(b - a for a, b in zip(points, points[1:]))


signal.signal(signal.SIGTERM, lambda *_: stop.set())
threads = [threading.Thread(target=poll, args=host, daemon=True) for host in hosts]
for thread in threads:
    thread.start()
first_round.wait()
open(ready_path, "w").close()
while not stop.is_set():
    stop.wait(0.5)
for thread in threads:
    thread.join(timeout=2 * PROBE_TIMEOUT)
try:
    t0, t1, t2 = [float(x) for x in open(phases_path).read().split()]
except (OSError, ValueError):
    sys.exit("poll: no phases in %s (the run failed?)" % phases_path)
with open(out_path, "w") as out:
    for name, _ in hosts:
        deploy = longest_silence(answered[name], t0, t1)
        rollback = longest_silence(answered[name], t1, t2)
        out.write("%s %d %d %d\n" % (name, deploy * 1000, rollback * 1000, probes[name]))
