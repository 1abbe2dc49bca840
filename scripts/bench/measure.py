"""measure.py CGROUP OUT TIMEOUT AFTER -- COMMAND...

Runs COMMAND inside CGROUP; writes "wall_s cpu_s peak_rss_kb exit_status" to OUT. wall ends
when COMMAND exits; then AFTER (a shell command, outside the cgroup; may be empty) ends what
COMMAND left running, and the cgroup must empty within 10 s (else its processes are killed)
before its CPU time is read. Part of scripts/bench-deploy.
"""
import os, signal, subprocess, sys, threading, time

cgroup, out, timeout, after = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
argv = sys.argv[6:]
page = os.sysconf("SC_PAGE_SIZE")

def cpu_ns():
    if os.path.exists(cgroup + "/cpuacct.usage"):
        return int(open(cgroup + "/cpuacct.usage").read())
    for line in open(cgroup + "/cpu.stat"):
        if line.startswith("usage_usec "):
            return int(line.split()[1]) * 1000
    raise SystemExit("no CPU usage in " + cgroup)

def members():
    return [int(p) for p in open(cgroup + "/cgroup.procs").read().split()]

def rss_kb():
    total = 0
    for pid in members():
        try:
            with open("/proc/%d/statm" % pid) as f:
                total += int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total * page // 1024

def enter():
    with open(cgroup + "/cgroup.procs", "w") as f:
        f.write(str(os.getpid()))

def kill_members(sig):
    for pid in members():
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

before = cpu_ns()
start = time.monotonic()
child = subprocess.Popen(argv, preexec_fn=enter)
ended = []
def reap():
    status = child.wait()
    ended.append((time.monotonic(), status))
threading.Thread(target=reap, daemon=True).start()
peak = 0
while not ended:
    peak = max(peak, rss_kb())
    if time.monotonic() - start > timeout:
        print("measure: timed out after %ds: %s" % (timeout, " ".join(argv)), file=sys.stderr)
        kill_members(signal.SIGKILL)
    time.sleep(0.02)
wall = ended[0][0] - start
status = ended[0][1]
if after:
    subprocess.run(after, shell=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
deadline = time.monotonic() + 10
while members() and time.monotonic() < deadline:
    peak = max(peak, rss_kb())
    time.sleep(0.02)
if members():
    print("measure: killing what the run left: %s" % members(), file=sys.stderr)
    kill_members(signal.SIGKILL)
    deadline = time.monotonic() + 5
    while members() and time.monotonic() < deadline:
        time.sleep(0.05)
cpu = (cpu_ns() - before) / 1e9
with open(out, "w") as f:
    f.write("%.3f %.3f %d %d\n" % (wall, cpu, peak, status))
