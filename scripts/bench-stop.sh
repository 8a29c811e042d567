#!/usr/bin/env bash
# How fast a signal ends mvlab's long-running commands: the time from SIGINT (or SIGTERM) to the
# process's exit, measured here (the tests only check that they end, and cleanly). Each command
# is signalled while it is in the middle of what it does, and the exit code is checked (4):
#   - gen at several rates, from the slowest there is (0.001pps, a frame every 1000 s) to full
#     rate, between two frames: the pacing wait;
#   - capture and reflect with a 1000 s duration: their receive loops;
#   - run of a scenario whose latency test paces at 0.001 frames/s or 10k frames/s for 2000 s:
#     the pacing wait, the capture's drain and the removal of the lab (5 namespaces), whose own
#     cost (`lab down` of the same lab) is shown beside it.
# The target is under 100 ms to exit; a run's teardown comes on top of that.
#
# Usage: sudo scripts/bench-stop.sh [REPS]   (default 5; BIN=path/to/mvlab)
# Needs root and python3. Builds a lab of its own (`lab up`, name stopbench-<pid>), removed on
# every exit path.

set -euo pipefail

REPS=${1:-5}
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/mvlab}
if [[ ! -x $BIN ]]; then
    cargo build --release --quiet
fi
[[ $(id -u) == 0 ]] || { echo "bench-stop: needs root" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench-stop: python3 is missing" >&2; exit 2; }

LAB=stopbench-$$
TMP=$(mktemp -d)
cleanup() {
    "$BIN" lab down "$LAB" >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Two bridge-mode endpoints; the network has no IPv6, so e1 sends nothing but test frames.
cat >"$TMP/lab.toml" <<'EOF'
description = "two bridge-mode endpoints, for signal timings"

[[networks]]
mode = "bridge"

[[networks.endpoints]]
count = 2
EOF
for rate in 0.001pps 10kpps; do
    cat "$TMP/lab.toml" - >"$TMP/run-$rate.toml" <<EOF

[[tests]]
kind = "latency"
from = "e1"
to = "e2"
rate = "$rate"
duration = "2000s"
EOF
done
"$BIN" lab up "$TMP/lab.toml" --name "$LAB" --json >"$TMP/inventory.json"

python3 - "$BIN" "$LAB" "$REPS" "$TMP" <<'PY'
import json, os, random, signal, statistics, subprocess, sys, time

BIN, LAB, REPS, TMP = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
inventory = json.load(open(f"{TMP}/inventory.json"))
E2_MAC = next(i["mac"] for n in inventory["nodes"] if n["name"] == "e2" for i in n["interfaces"])

def tx_packets(ns):
    out = subprocess.run(["ip", "-n", ns, "-j", "-s", "link", "show", "eth0"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return json.loads(out.stdout)[0]["stats64"]["tx"]["packets"]

def catches(pid):
    try:
        status = open(f"/proc/{pid}/status").read()
    except OSError:
        return False
    mask = int(next(l.split()[1] for l in status.splitlines() if l.startswith("SigCgt:")), 16)
    return mask & (1 << (signal.SIGINT - 1)) and mask & (1 << (signal.SIGTERM - 1))

def wait_until(cond, what):
    deadline = time.monotonic() + 120
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"bench-stop: {what} never happened")
        time.sleep(0.005)

def reaction(cmd, ready, sig, settle):
    """Starts cmd, waits until ready(pid), then `settle` seconds more (so the command is in the
    middle of a wait, not at its start), signals it; the seconds until it exited, its code."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: ready(p.pid) or p.poll() is not None, "readiness")
        if p.poll() is not None:
            raise SystemExit(f"bench-stop: {cmd} ended early: {p.stderr.read().decode()}")
        time.sleep(settle)
        t0 = time.monotonic()
        os.kill(p.pid, sig)
        p.wait()
        return time.monotonic() - t0, p.returncode, p.stderr.read().decode()
    finally:
        # On a failure here, the command still removes what it built.
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

rows = []
def measure(label, make, sigs=(signal.SIGINT, signal.SIGTERM)):
    times = []
    for rep in range(REPS):
        sig = sigs[rep % len(sigs)]
        cmd, ready, settle = make()
        dt, code, err = reaction(cmd, ready, sig, settle)
        if code != 4:
            raise SystemExit(f"bench-stop: {label}: exit {code} after {sig.name}: {err}")
        times.append(dt * 1000)
    rows.append((label, statistics.median(times), min(times), max(times)))
    print(f"  {label:<58} median {rows[-1][1]:7.1f} ms  (min {rows[-1][2]:.1f}, max {rows[-1][3]:.1f})",
          flush=True)

E1 = f"mvlab-{LAB}-e1"
def gen(rate, extra, first):
    def make():
        before = tx_packets(E1)
        cmd = [BIN, "gen", "--lab", LAB, "--node", "e1", "--dst", E2_MAC, *rate, *extra]
        # Mid-gap: a random point between two slots (or well after the first burst).
        return cmd, lambda _pid: tx_packets(E1) >= before + first, random.uniform(0.05, 0.5)
    return make

def listener(command):
    def make():
        cmd = [BIN, command, "--lab", LAB, "--node", "e2", "--duration", "1000s"]
        return cmd, catches, random.uniform(0.05, 0.5)
    return make

def run(rate):
    def make():
        name = f"{LAB}-r{random.randrange(1 << 30)}"
        cmd = [BIN, "run", f"{TMP}/run-{rate}.toml", "--name", name]
        e1 = f"mvlab-{name}-e1"
        return cmd, lambda _pid: (tx_packets(e1) or 0) > 0, random.uniform(0.05, 0.5)
    return make

print(f"SIGINT/SIGTERM to exit, {REPS} runs each (half SIGINT, half SIGTERM):")
measure("gen 0.001pps (next frame 1000 s away)", gen(["--rate", "0.001pps"], ["--count", "2"], 1))
measure("gen 1pps (next frame up to 1 s away)", gen(["--rate", "1pps"], ["--count", "1000"], 1))
measure("gen 1kpps", gen(["--rate", "1kpps"], ["--duration", "1000s"], 10))
measure("gen 100kpps", gen(["--rate", "100kpps"], ["--duration", "1000s"], 1000))
measure("gen at its maximum rate", gen([], ["--duration", "1000s"], 10000))
measure("capture --duration 1000s", listener("capture"))
measure("reflect --duration 1000s", listener("reflect"))
measure("run, latency test at 0.001pps (lab removed)", run("0.001pps"))
measure("run, latency test at 10kpps (lab removed)", run("10kpps"))

downs = []
for _ in range(REPS):
    name = f"{LAB}-d{random.randrange(1 << 30)}"
    subprocess.run([BIN, "lab", "up", f"{TMP}/lab.toml", "--name", name], check=True,
                   stdout=subprocess.DEVNULL)
    t0 = time.monotonic()
    subprocess.run([BIN, "lab", "down", name], check=True, stdout=subprocess.DEVNULL)
    downs.append((time.monotonic() - t0) * 1000)
print(f"  {'for reference: lab down of the same lab (a whole process)':<58} median "
      f"{statistics.median(downs):7.1f} ms  (min {min(downs):.1f}, max {max(downs):.1f})")
PY
