#!/usr/bin/env bash
# Full-size exhaustion benchmarks: every scenario under scenarios/full, one after the other
# (they share the machine's CPUs and neighbour tables), with the release build. Keeps each run's
# JSON result, HTML report and terminal output under OUT, and prints the figures
# docs/exhaustion.md quotes: capacities, learning rates, each ramp's breaking point and its
# cause, the million-MAC sweep's per-MAC counters and mvlab's peak resident memory, and the
# neighbour tables' refusal points. For comparison it then counts the same million-MAC sweep
# with `mvlab capture`, whose per-MAC table is not told the sweep, and with the peer tools
# (tcpdump to a file, then tshark and sort -u), and reports each one's peak memory.
# Usage (as root): scripts/bench-exhaust.sh [OUT]   (default /tmp/mvlab-bench-exhaust)
# SCENARIOS="ramp sweep" limits the runs to files whose name contains one of the words.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if [ "$(id -u)" -ne 0 ]; then
  echo "bench-exhaust: builds network namespaces; run as root" >&2
  exit 2
fi

out=${1:-/tmp/mvlab-bench-exhaust}
mkdir -p "$out"
cargo build --release --quiet
mvlab=target/release/mvlab
lab="bx-$$"

cleanup() {
  "$mvlab" lab down "$lab-cap" >/dev/null 2>&1 || true
}
trap cleanup EXIT

wanted() {
  [ -z "${SCENARIOS:-}" ] && return 0
  for w in $SCENARIOS; do
    case "$1" in *"$w"*) return 0 ;; esac
  done
  return 1
}

for file in scenarios/full/*.toml; do
  name=$(basename "$file" .toml)
  wanted "$name" || continue
  echo "== $name" >&2
  set +e
  /usr/bin/time -f "%M %e" -o "$out/$name.time" \
    "$mvlab" run "$file" --name "$lab" --json "$out/$name.json" --report "$out/$name" \
    >"$out/$name.txt" 2>"$out/$name.err"
  echo $? >"$out/$name.exit"
  set -e
done

python3 - "$out" <<'EOF'
import json, os, sys
out = sys.argv[1]
for name in sorted(f[:-5] for f in os.listdir(out) if f.endswith(".exit")):
    r = json.load(open(os.path.join(out, name + ".json")))
    rss_kb, wall = open(os.path.join(out, name + ".time")).read().split()
    code = open(os.path.join(out, name + ".exit")).read().strip()
    print(f"\n{name}: exit {code}, {float(wall):.0f} s, mvlab peak RSS {int(rss_kb) / 1024:.0f} MiB")
    for t in r["tests"]:
        k = t["kind"]
        if k == "address_caching":
            print(f"  capacity {'>= ' if t['at_least'] else ''}{t['capacity']} (limit {t['switch_limit']}, bridge learned {t['switch_learned']}), {len(t['trials'])} trials")
        elif k == "address_learning_rate":
            print(f"  learning rate {'>= ' if t['at_least'] else ''}{t['learning_rate_pps']:.0f} pps for {t['addresses']} addresses")
        elif k == "endpoint_ramp":
            for s in t["steps"]:
                b = s["broadcast"]
                print(f"  {s['endpoints']:>5} endpoints: create {s['create_per_endpoint_s'] * 1e3:.2f} ms/ep, kernel {s['memory']['per_endpoint_bytes'] / 1024:.0f} KiB/ep, broadcast loss {b['loss_percent']:.2f}%, p50 {s['unicast']['latency']['p50_ns'] / 1e3:.1f} us, {s['unicast']['throughput']['rx_pps']:.0f} pps")
            first = t.get("first_degraded")
            print(f"  first degraded at {first} endpoints")
            for s in t["steps"]:
                if s["endpoints"] == first:
                    for c in s["broadcast"]["causes"]:
                        print(f"    lost at {c['at']} because {c['because']}: {c['frames']} ({c['evidence']})")
        elif k == "mac_sweep":
            for x in t["receivers"]:
                print(f"  {x['station']}: {x['frames']} frames, {x['macs']} MACs, {x['missing']} missing, counters {x['counter_bytes'] / 2**20:.1f} MiB")
            print(f"  sent {t['sent']} at {t['offered_pps']:.0f} pps; bridge learned {t['switch_learned_after']}; peak RSS during the sweep {t['peak_rss_bytes'] / 2**20:.1f} MiB")
        elif k == "ip_exhaustion":
            if t.get("ipam"):
                i = t["ipam"]
                print(f"  IPAM: {i['asked']} asked, {i['available']} available, {i['refused']} refused")
            for n in t["neighbours"]:
                f = n.get("first_refusal")
                refused = f"{n['refused']} sends refused (first at endpoint #{f['position']}, {f['entries']} entries)" if f else "no send refused"
                print(f"  {n['table']}: {n['resolved']}/{n['endpoints']} resolved; table {n['entries_before']} -> {n['entries_after']} entries, first full after endpoint #{n.get('first_table_full')}; {refused}; table_fulls +{n['stats']['table_fulls']}, forced_gc_runs +{n['stats']['forced_gc_runs']}, gc_thresh {n['thresholds']}")
EOF

if wanted "mac-sweep"; then
  # The same sweep counted by `mvlab capture`, which keeps a table entry per source MAC.
  echo "== mvlab capture (per-MAC table) of the same 1,000,000-MAC sweep" >&2
  "$mvlab" lab up scenarios/full/mac-sweep-1m.toml --name "$lab-cap" >/dev/null
  e1=$(ip -n "mvlab-$lab-cap-e1" -j link show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
  /usr/bin/time -f "%M" -o "$out/capture.time" \
    "$mvlab" capture --lab "$lab-cap" --node e1 --duration 12s --json >"$out/capture.json" &
  capture=$!
  sleep 1
  "$mvlab" gen --lab "$lab-cap" --node peer --dst "$e1" --src-sweep 1000000 --sweep-seed 5 \
    --count 1000000 --rate 200kpps --json >"$out/gen.json"
  wait "$capture"
  # The peer tools' way: tcpdump writes the sweep to a file, tshark lists each frame's source
  # MAC, sort -u counts the distinct ones.
  echo "== tcpdump + tshark of the same sweep" >&2
  ip netns exec "mvlab-$lab-cap-e1" tcpdump -i eth0 -nn -s 64 -w "$out/sweep.pcap" \
    "ether proto 0x88b5" 2>"$out/tcpdump.err" &
  tcpdump=$!
  sleep 1
  "$mvlab" gen --lab "$lab-cap" --node peer --dst "$e1" --src-sweep 1000000 --sweep-seed 5 \
    --count 1000000 --rate 200kpps --json >/dev/null
  sleep 1
  kill -INT "$tcpdump"
  wait "$tcpdump" || true
  /usr/bin/time -f "%M %e" -o "$out/tshark.time" \
    tshark -r "$out/sweep.pcap" -T fields -e eth.src >"$out/sweep.macs" 2>/dev/null
  sort -u "$out/sweep.macs" | wc -l >"$out/sweep.distinct"
  python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
c = json.load(open(f"{out}/capture.json"))
rss = int(open(f"{out}/capture.time").read().split()[0])
print(f"\nmvlab capture (table) of 1,000,000 MACs: {len(c['sources'])} sources, {c['test_frames']} frames, peak RSS {rss / 1024:.0f} MiB")
t_rss, t_wall = open(f"{out}/tshark.time").read().split()
distinct = int(open(f"{out}/sweep.distinct").read())
frames = sum(1 for _ in open(f"{out}/sweep.macs"))
print(f"tcpdump + tshark of the same sweep: {frames} frames, {distinct} distinct MACs; tshark alone {float(t_wall):.1f} s after the capture, peak RSS {int(t_rss) / 1024:.0f} MiB")
EOF
  rm -f "$out/sweep.pcap" "$out/sweep.macs"
  "$mvlab" lab down "$lab-cap" >/dev/null
fi
