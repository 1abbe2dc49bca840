"""report.py WORK N...: scripts/bench-deploy's tables from WORK/results and WORK/runs.

WORK/results holds one line per run: "N MODE TOOL LABEL wall_s cpu_s peak_rss_kb"; the run's
files are WORK/runs/TOOL-MODE-N-LABEL.* (.phases: three timestamps; .outage: poll.py's
per-host longest silences; deployctl's .deploy.json and .rollback.json). Prints medians over
the runs (warm-up excluded), ratios to the hand-written ssh step, per-host unavailability,
deployctl's steps and the targets.
"""

import json
import os
import re
import statistics
import sys

TARGET = 1.1  # deployctl's wall time at most this many times the ssh step's, every N, every mode
MODES = ("plain", "slowshell")
MODE_NAMES = {"plain": "plain shell", "slowshell": "slow shell (~0.1 s per command)"}

work, counts = sys.argv[1], [int(n) for n in sys.argv[2:]]
rows = [line.split() for line in open(os.path.join(work, "results")) if line.strip()]
rows = [dict(n=int(r[0]), mode=r[1], tool=r[2], label=r[3], wall=float(r[4]), cpu=float(r[5]), rss=int(r[6]))
        for r in rows]
tools = [t for t in ("deployctl", "ansible", "ssh") if any(r["tool"] == t for r in rows)]
modes = [m for m in MODES if any(r["mode"] == m for r in rows)]


def med(values):
    return statistics.median(values) if values else float("nan")


def prefix(tool, mode, n, label):
    return os.path.join(work, "runs", "%s-%s-%d-%s" % (tool, mode, n, label))


def phases(tool, mode, n, label):
    t = [float(x) for x in open(prefix(tool, mode, n, label) + ".phases").read().split()]
    return t[1] - t[0], t[2] - t[1]


def outages(tool, mode, n, label):
    """[(deploy_ms, rollback_ms)] per host, or [] when the run was not polled."""
    path = prefix(tool, mode, n, label) + ".outage"
    if not os.path.exists(path):
        return []
    return [(int(f[1]), int(f[2])) for f in (line.split() for line in open(path)) if len(f) == 4]


stats = {}
for n in counts:
    for mode in modes:
        for tool in tools:
            runs = [r for r in rows if r["n"] == n and r["mode"] == mode and r["tool"] == tool and r["label"] != "warmup"]
            if not runs:
                continue
            split = [phases(tool, mode, n, r["label"]) for r in runs]
            silent = [o for r in runs for o in outages(tool, mode, n, r["label"])]
            stats[n, mode, tool] = dict(
                wall=med([r["wall"] for r in runs]), cpu=med([r["cpu"] for r in runs]),
                rss=med([r["rss"] for r in runs]) / 1024, deploy=med([d for d, _ in split]),
                rollback=med([b for _, b in split]), runs=len(runs),
                outage=silent, labels=[r["label"] for r in runs])

if not stats:
    sys.exit("report: no measured runs in %s/results" % work)
print()
print("deploy v2 then roll back to v1, on N hosts at once; median of %d runs" % max(s["runs"] for s in stats.values()))
print("(%s)" % open(os.path.join(work, "machine")).read().strip())
shell_cost = os.path.join(work, "shell-cost")
if os.path.exists(shell_cost):
    print(open(shell_cost).read().rstrip())

for mode in modes:
    print()
    print("%s:" % MODE_NAMES[mode])
    print("%5s  %-9s %8s %8s %8s %8s %9s %8s %8s %7s" % (
        "hosts", "tool", "wall", "deploy", "rollback", "cpu", "cpu/host", "peak mem", "wall×ssh", "cpu×ssh"))
    for n in counts:
        for tool in tools:
            s = stats.get((n, mode, tool))
            if not s:
                continue
            base = stats.get((n, mode, "ssh"))
            ratio = lambda k: "%6.2f×" % (s[k] / base[k]) if base and base[k] > 0 else "      -"
            print("%5d  %-9s %7.2fs %7.2fs %7.2fs %7.2fs %7.0fms %6.0f MB %8s %7s" % (
                n, tool, s["wall"], s["deploy"], s["rollback"], s["cpu"], s["cpu"] / n * 1000, s["rss"],
                ratio("wall"), ratio("cpu")))

# How long each host's published port answered nothing (poll.py, a GET every 10 ms).
if any(s["outage"] for s in stats.values()):
    print()
    print("unavailability per host: the longest stretch in which the host's published port answered")
    print("nothing (GET /version every 10 ms); max and median over hosts and runs, ms")
    print("%5s  %-10s %-9s %14s %14s" % ("hosts", "mode", "tool", "deploy max/med", "rollback max/med"))
    for n in counts:
        for mode in modes:
            for tool in tools:
                s = stats.get((n, mode, tool))
                if not s or not s["outage"]:
                    continue
                d = [o[0] for o in s["outage"]]
                b = [o[1] for o in s["outage"]]
                print("%5d  %-10s %-9s %14s %14s" % (
                    n, mode, tool, "%d/%d" % (max(d), med(d)), "%d/%d" % (max(b), med(b))))


# deployctl's own account of where the time goes: hosts[].steps in its JSON report.
def normal(step):
    step = re.sub(r"^resolve .*", "resolve (1 host)", step)
    return re.sub(r"^restore .*", "restore", step)


if "deployctl" in tools:
    print()
    print("deployctl: where the time goes (ms; each step: median/max over hosts, median of runs;")
    print("  'rest' = the run's duration minus its busiest host's steps: waits for the slowest host")
    print("  at a barrier, closing; 'process' = wall time minus the run's duration: start and exit)")
    for mode in modes:
        for n in counts:
            s = stats.get((n, mode, "deployctl"))
            if not s:
                continue
            for command in ("deploy", "rollback"):
                per_run, order, rest, process, durations = {}, [], [], [], []
                for label in s["labels"]:
                    doc = json.load(open(prefix("deployctl", mode, n, label) + ".%s.json" % command))
                    wall = phases("deployctl", mode, n, label)[0 if command == "deploy" else 1] * 1000
                    durations.append(doc["duration_ms"])
                    process.append(wall - doc["duration_ms"])
                    steps, busiest = {}, 0
                    for host in doc["hosts"]:
                        total = 0
                        for step in host["steps"] or []:
                            name = normal(step["step"])
                            if name not in order:
                                order.append(name)
                            steps.setdefault(name, []).append(step["duration_ms"])
                            total += step["duration_ms"]
                        busiest = max(busiest, total)
                    rest.append(doc["duration_ms"] - busiest)
                    for name, values in steps.items():
                        per_run.setdefault(name, []).append((med(values), max(values)))
                parts = ["%s %d/%d" % (name, med([m for m, _ in per_run[name]]), med([x for _, x in per_run[name]]))
                         for name in order]
                print("  %-9s %3d hosts %-8s %5d = %s | rest %d | process %d" % (
                    mode, n, command, med(durations), " + ".join(parts), med(rest), med(process)))

exchanges = os.path.join(work, "exchanges")
if os.path.exists(exchanges):
    print()
    print(open(exchanges).read().rstrip())

print()
print("targets")
for mode in modes:
    for n in counts:
        d, o, a = (stats.get((n, mode, t)) for t in ("deployctl", "ssh", "ansible"))
        if d and o:
            r = d["wall"] / o["wall"]
            print("  %-9s %3d hosts: deployctl within %.1f× of the ssh step: %-6s (%.2f×)" % (
                mode, n, TARGET, "met" if r <= TARGET else "MISSED", r))
        if d and a and n >= 10:
            r = a["wall"] / d["wall"]
            print("  %-9s %3d hosts: deployctl 5× faster than Ansible:      %-6s (%.1f×)" % (
                mode, n, "met" if r >= 5 else "MISSED", r))
        if d:
            per = d["cpu"] / n * 1000
            print("  %-9s %3d hosts: deployctl CPU under 50 ms per host:    %-6s (%.0f ms for deploy + rollback)" % (
                mode, n, "met" if per < 50 else "MISSED", per))
measured = [n for n in counts if (n, "plain", "deployctl") in stats]
if len(measured) > 1 and max(measured) > min(measured):
    lo, hi = min(measured), max(measured)
    slope = (stats[hi, "plain", "deployctl"]["cpu"] - stats[lo, "plain", "deployctl"]["cpu"]) / (hi - lo) * 1000
    print("  deployctl CPU per additional host (%d to %d hosts, plain shell): %.0f ms for deploy + rollback" % (
        lo, hi, slope))
