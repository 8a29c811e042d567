#!/usr/bin/env bash
# Benchmark of the raw frame engine against peer tools, side by side in one run, as ratios.
#
# Builds a throwaway lab (namespaces mvtest-bench-<pid>-*: a veth parent on bridge br0, two
# bridge-mode macvlan endpoints e1/e2, a peer on a second bridge port; IPv6 off), removed on
# every exit path, and measures:
#   1. sender rate, mvlab gen (sendmmsg and TX ring paths) vs trafgen (TX_RING), 1 and 2 CPUs,
#      60 and 1514-byte frames, on
#      e1 -> e2 (macvlan bridge, local) and e1 -> peer (through the bridge). Every tool is
#      measured the same way: e1's own tx packet counter (ip -s) over the run's wall time.
#   2. capture under load: trafgen --cpus 2, 1514-byte frames e1 -> e2, with tcpdump
#      (-w /dev/null, its cheapest mode; whole frames, then cut at 256 bytes as mvlab capture
#      keeps them) and then with mvlab capture on e2: each one's drops, and the sender's rate
#      with it running.
#   3. latency e1 <-> e2 at 1000 round trips/s: ping, sockperf UDP ping-pong (--full-rtt; also
#      back to back, where no CPU ever idles), and mvlab gen -> reflect -> capture (round trip
#      from the payload's send stamp to the kernel receive timestamp, with the reflector
#      sleeping and busy-polling), plus the one-way latency a capture on e2 sees.
#   4. pacing accuracy and the sender's CPU at 1k, 10k and 100k frames/s.
#   5. peak memory (max RSS) of gen and capture at full rate.
#
# Usage: sudo scripts/bench-engine.sh [SECONDS_PER_RUN]   (default 3; REPS=3, BIN=path/to/mvlab)
# Needs root, trafgen, tcpdump, ping, sockperf, /usr/bin/time. Takes about (25 x REPS + 12) runs
# of SECONDS each.

set -euo pipefail

DUR=${1:-3}
REPS=${REPS:-3}
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/mvlab}
if [[ ! -x $BIN ]]; then
    cargo build --release --quiet
fi
[[ $(id -u) == 0 ]] || { echo "bench-engine: needs root" >&2; exit 2; }
for tool in trafgen tcpdump ping sockperf /usr/bin/time python3; do
    command -v "$tool" >/dev/null || { echo "bench-engine: $tool is missing" >&2; exit 2; }
done

P=mvtest-bench-$$
TMP=$(mktemp -d)
E1_MAC=02:00:00:00:e1:01
E2_MAC=02:00:00:00:e2:02
PEER_MAC=02:00:00:00:fe:03

cleanup() {
    jobs -p | xargs -r kill 2>/dev/null || true
    for n in e1 e2 peer host sw; do ip netns del "$P-$n" 2>/dev/null || true; done
    rm -rf "$TMP"
}
# Only the main shell cleans up; a signal ends it through EXIT. Background jobs are started as
# plain commands (never shell functions), so they carry no copy of these traps.
trap cleanup EXIT
trap 'exit 130' INT TERM

nsx() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }

build_lab() {
    for n in host sw e1 e2 peer; do
        ip netns add "$P-$n"
        nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    done
    ip -n "$P-sw" link add br0 type bridge
    ip -n "$P-sw" link add p0 type veth peer name eth0 netns "$P-host"
    ip -n "$P-sw" link add p1 type veth peer name eth0 netns "$P-peer"
    for p in p0 p1; do ip -n "$P-sw" link set "$p" master br0 up; done
    ip -n "$P-sw" link set br0 up
    ip -n "$P-host" link set eth0 up
    ip -n "$P-host" link add link eth0 name eth0 netns "$P-e1" address $E1_MAC type macvlan mode bridge
    ip -n "$P-host" link add link eth0 name eth0 netns "$P-e2" address $E2_MAC type macvlan mode bridge
    ip -n "$P-peer" link set eth0 address $PEER_MAC
    ip -n "$P-e1" addr add 198.18.0.1/24 dev eth0
    ip -n "$P-e2" addr add 198.18.0.2/24 dev eth0
    for n in e1 e2 peer; do ip -n "$P-$n" link set eth0 up; ip -n "$P-$n" link set lo up; done
}

counter() { # NODE rx|tx
    ip -n "$P-$1" -j -s link show eth0 |
        python3 -c "import json,sys; print(json.load(sys.stdin)[0]['stats64']['$2']['packets'])"
}
now() { date +%s.%N; }
rate() { python3 -c "print(round(($2 - $1) / ($4 - $3)))"; } # c0 c1 t0 t1
ratio() { python3 -c "print(f'{$1 / $2:.2f}' if $2 else 'n/a')"; }

trafgen_cfg() { # DST SIZE
    local dst size
    dst=$(echo "$1" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g; s/:/ /g')
    size=$2
    echo "{ $dst 0x02, 0x00, 0x00, 0x00, 0xe1, 0x01, 0x88, 0xb5, fill(0x00, $((size - 14))) }" \
        >"$TMP/t-$size.cfg"
    echo "$TMP/t-$size.cfg"
}

run_trafgen() { # DST SIZE CPUS -> frames/s measured on e1's tx counter
    local cfg c0 c1 t0 t1
    cfg=$(trafgen_cfg "$1" "$2")
    c0=$(counter e1 tx); t0=$(now)
    timeout -s INT "$DUR" ip netns exec "$P-e1" trafgen --dev eth0 --conf "$cfg" \
        --cpus "$3" --no-sock-mem >/dev/null 2>&1 || true
    t1=$(now); c1=$(counter e1 tx)
    rate "$c0" "$c1" "$t0" "$t1"
}

run_gen() { # DST SIZE CPUS PATH -> frames/s measured on e1's tx counter
    local c0 c1 t0 t1
    c0=$(counter e1 tx); t0=$(now)
    "$BIN" gen --netns "$P-e1" --iface eth0 --dst "$1" --size "$2" --cpus "$3" --tx "$4" \
        --duration "${DUR}s" >/dev/null
    t1=$(now); c1=$(counter e1 tx)
    rate "$c0" "$c1" "$t0" "$t1"
}

median() { python3 -c "import statistics,sys; print(round(statistics.median(map(float, sys.argv[1:]))))" "$@"; }

build_lab
echo "mvlab engine benchmark: $(nproc) cores, kernel $(uname -r), ${DUR}s per run"
echo
echo "## 1. Sender rate (frames/s on e1's tx counter, median of $REPS interleaved runs)"
printf '%-10s %5s %4s %11s %11s %11s %9s %9s\n' path size cpus trafgen "gen mmsg" "gen ring" "mmsg/tg" "ring/tg"
for path in "e1->e2:$E2_MAC" "e1->peer:$PEER_MAC"; do
    name=${path%%:*}; dst=${path#*:}
    for size in 60 1514; do
        for cpus in 1 2; do
            t=(); m=(); r=()
            for _ in $(seq "$REPS"); do
                t+=("$(run_trafgen "$dst" "$size" "$cpus")")
                m+=("$(run_gen "$dst" "$size" "$cpus" sendmmsg)")
                r+=("$(run_gen "$dst" "$size" "$cpus" ring)")
            done
            t=$(median "${t[@]}"); m=$(median "${m[@]}"); r=$(median "${r[@]}")
            printf '%-10s %5s %4s %11s %11s %11s %9s %9s\n' "$name" "$size" "$cpus" "$t" "$m" "$r" \
                "$(ratio "$m" "$t")" "$(ratio "$r" "$t")"
        done
    done
done

echo
echo "## 2. Capture on e2 while trafgen --cpus 2 sends 1514-byte frames e1 -> e2"
cfg=$(trafgen_cfg $E2_MAC 1514)
sender() { # -> frames/s
    local c0 c1 t0 t1
    c0=$(counter e1 tx); t0=$(now)
    timeout -s INT "$DUR" ip netns exec "$P-e1" trafgen --dev eth0 --conf "$cfg" --cpus 2 \
        --no-sock-mem >/dev/null 2>&1 || true
    t1=$(now); c1=$(counter e1 tx)
    rate "$c0" "$c1" "$t0" "$t1"
}
# tcpdump whole frames (-s 0, its default) and cut at 256 bytes (-s 256, what mvlab capture keeps).
tcpdump_run() { # SNAPLEN -> "sender_fps read dropped"
    ip netns exec "$P-e2" tcpdump -i eth0 -nn -s "$1" -w /dev/null >/dev/null 2>"$TMP/tcpdump.err" &
    local pid=$! fps
    sleep 1
    fps=$(sender)
    sleep 0.5
    kill -INT $pid; wait $pid || true
    echo "$fps $(awk '/packets captured/ {print $1}' "$TMP/tcpdump.err") $(awk '/dropped by kernel/ {print $1}' "$TMP/tcpdump.err")"
}
base=(); td0=(); td256=(); mvr=(); mv_read=0; mv_drop=0; mv_rx=0
td0_read=0; td0_drop=0; td256_read=0; td256_drop=0
for _ in $(seq "$REPS"); do
    base+=("$(sender)")
    read -r fps r d < <(tcpdump_run 0)
    td0+=("$fps"); td0_read=$((td0_read + r)); td0_drop=$((td0_drop + d))
    read -r fps r d < <(tcpdump_run 256)
    td256+=("$fps"); td256_read=$((td256_read + r)); td256_drop=$((td256_drop + d))

    rx0=$(counter e2 rx)
    /usr/bin/time -f %M -o "$TMP/cap.rss" "$BIN" capture --netns "$P-e2" --iface eth0 \
        --duration "$((DUR + 2))s" --json >"$TMP/cap.json" &
    cap_pid=$!
    sleep 1
    mvr+=("$(sender)")
    wait $cap_pid
    rx1=$(counter e2 rx)
    read -r f d < <(python3 -c "
import json; r = json.load(open('$TMP/cap.json')); print(r['frames'], r['kernel']['drops'])")
    mv_read=$((mv_read + f)); mv_drop=$((mv_drop + d)); mv_rx=$((mv_rx + rx1 - rx0))
done
lost() { python3 -c "print(f'{$2 / ($1 + $2) * 100 if $1 + $2 else 0:.1f}%')"; } # READ DROPPED
base=$(median "${base[@]}"); with_td0=$(median "${td0[@]}"); with_td256=$(median "${td256[@]}")
with_mvlab=$(median "${mvr[@]}")
printf '%-28s %16s %14s %14s\n' "(totals over $REPS runs)" "median sender fps" "frames read" "kernel drops"
printf '%-28s %16s %14s %14s\n' "no capture" "$base" - -
printf '%-28s %16s %14s %14s\n' "tcpdump -s 0 -w /dev/null" "$with_td0" "$td0_read" "$td0_drop ($(lost "$td0_read" "$td0_drop"))"
printf '%-28s %16s %14s %14s\n' "tcpdump -s 256 -w /dev/null" "$with_td256" "$td256_read" "$td256_drop ($(lost "$td256_read" "$td256_drop"))"
printf '%-28s %16s %14s %14s\n' "mvlab capture (256 bytes)" "$with_mvlab" "$mv_read" "$mv_drop ($(lost "$mv_read" "$mv_drop"))"
echo "sender rate with mvlab capture / with tcpdump -s 0: $(ratio "$with_mvlab" "$with_td0")," \
    "/ with tcpdump -s 256: $(ratio "$with_mvlab" "$with_td256")"
echo "e2's rx counters during the mvlab captures: $mv_rx frames (the captures read $mv_read)"
echo "capture peak RSS: $(($(cat "$TMP/cap.rss") / 1024)) MiB"

echo
echo "## 3. Latency e1 <-> e2 (microseconds), all at 1000 round trips/s unless said"
pct() { python3 -c "
import sys
v = sorted(float(x) for x in sys.stdin.read().split())
q = lambda p: v[min(len(v) - 1, int(p * len(v)))]
print(f'{q(0.5):.1f} {q(0.99):.1f} {len(v)}')"; }
read -r ping_p50 ping_p99 ping_n < <(ip netns exec "$P-e1" ping -c $((DUR * 1000)) -i 0.001 198.18.0.2 |
    sed -n 's/.*time=\([0-9.]*\) ms/\1/p' | awk '{print $1 * 1000}' | pct)
ip netns exec "$P-e2" sockperf sr -i 198.18.0.2 -p 11111 >/dev/null 2>&1 &
sp_pid=$!
sleep 0.5
sockperf_pp() { # extra args -> "p50 p99"
    ip netns exec "$P-e1" sockperf pp -i 198.18.0.2 -p 11111 -t "$DUR" --full-rtt "$@" 2>&1 |
        awk '/percentile 50.000/ {p50 = $NF} /percentile 99.000/ {p99 = $NF} END {print p50, p99}'
}
read -r sp_p50 sp_p99 < <(sockperf_pp --mps 1000)
read -r spmax_p50 spmax_p99 < <(sockperf_pp)
kill $sp_pid 2>/dev/null; wait $sp_pid 2>/dev/null || true
round_trip() { # reflect flags -> "rtt_p50 rtt_p99 samples oneway_p50 oneway_p99"
    "$BIN" reflect --netns "$P-e2" --iface eth0 --duration "$((DUR + 2))s" "$@" >/dev/null &
    local refl=$!
    "$BIN" capture --netns "$P-e1" --iface eth0 --duration "$((DUR + 2))s" --json >"$TMP/rtt.json" &
    local rtt=$!
    "$BIN" capture --netns "$P-e2" --iface eth0 --duration "$((DUR + 2))s" --json >"$TMP/ow.json" &
    local ow=$!
    sleep 1
    "$BIN" gen --netns "$P-e1" --iface eth0 --dst $E2_MAC --rate 1000pps --duration "${DUR}s" >/dev/null
    wait $refl $rtt $ow
    python3 -c "
import json
r = json.load(open('$TMP/rtt.json'))['latency']; o = json.load(open('$TMP/ow.json'))['latency']
print(r['p50_ns'] / 1e3, r['p99_ns'] / 1e3, r['samples'], o['p50_ns'] / 1e3, o['p99_ns'] / 1e3)"
}
read -r rtt_p50 rtt_p99 rtt_n ow_p50 ow_p99 < <(round_trip)
read -r bp_p50 bp_p99 bp_n _ _ < <(round_trip --busy-poll)
printf '%-48s %10s %10s %8s\n' "" p50 p99 samples
printf '%-48s %10s %10s %8s\n' "ping (ICMP echo)" "$ping_p50" "$ping_p99" "$ping_n"
printf '%-48s %10s %10s %8s\n' "sockperf UDP ping-pong --full-rtt --mps 1000" "$sp_p50" "$sp_p99" -
printf '%-48s %10s %10s %8s\n' "sockperf UDP ping-pong --full-rtt, back to back" "$spmax_p50" "$spmax_p99" -
printf '%-48s %10s %10s %8s\n' "mvlab gen -> reflect -> capture (round trip)" "$rtt_p50" "$rtt_p99" "$rtt_n"
printf '%-48s %10s %10s %8s\n' "  the same, reflect --busy-poll" "$bp_p50" "$bp_p99" "$bp_n"
printf '%-48s %10s %10s %8s\n' "mvlab one-way e1 -> e2 (kernel rx timestamp)" "$ow_p50" "$ow_p99" -
echo "mvlab round-trip p50 / sockperf p50 at the same rate: $(ratio "$rtt_p50" "${sp_p50:-0}")"

echo
echo "## 4. Pacing (mvlab gen --rate, e1 -> e2, over ${DUR}s): achieved rate and the sender's CPU"
printf '%-12s %14s %10s %8s\n' asked achieved error cpu
for asked in 1000 10000 100000; do
    /usr/bin/time -f %P -o "$TMP/pace.cpu" "$BIN" gen --netns "$P-e1" --iface eth0 --dst $E2_MAC \
        --rate "${asked}pps" --duration "${DUR}s" --json >"$TMP/pace.json"
    got=$(python3 -c "import json; print(round(json.load(open('$TMP/pace.json'))['frames_per_second'], 1))")
    err=$(python3 -c "print(f'{($got - $asked) / $asked * 100:+.2f}%')")
    printf '%-12s %14s %10s %8s\n' "$asked/s" "$got" "$err" "$(cat "$TMP/pace.cpu")"
done

echo
echo "## 5. Peak memory"
/usr/bin/time -f %M -o "$TMP/gen.rss" "$BIN" gen --netns "$P-e1" --iface eth0 --dst $E2_MAC \
    --size 1514 --cpus 2 --duration "${DUR}s" >/dev/null
echo "gen --cpus 2 at full rate: $(($(cat "$TMP/gen.rss") / 1024)) MiB max RSS"
echo "capture at full rate (section 2): $(($(cat "$TMP/cap.rss") / 1024)) MiB max RSS"
