#!/usr/bin/env bash
# Benchmark of mvlab's emulated switch side by side with the Linux bridge on the same path: peer
# `a` -> switch port p1 -> switch -> port p2 -> peer `b`, 64-byte frames (60 bytes handed to the
# kernel, plus the FCS the scenario sizes count). For each switch kind a lab is built with
# `mvlab lab up` (prefix mvbench<pid>; the emulated switch then forwards in its `switch serve`
# process, as for any persistent lab) and measured, REPS times interleaved:
#   1. forwarding rate: `mvlab gen` sends as fast as it can from a for SECONDS; `mvlab capture`
#      on b counts what arrived; rate = frames received / the sender's sending time.
#   2. loss at 200,000 frames/s offered (the bar the emulated switch must clear), for SECONDS.
# b sends one frame first, so both switches have learned it and forward a's frames to p2 alone.
# Prints the medians, the ratio emulated / bridge, and the emulated switch's own report (every
# frame it dropped, by reason). The labs are removed on every exit path.
#
# Usage: sudo scripts/bench-switch.sh [SECONDS]   (default 3; REPS=3, BIN=path/to/mvlab)
# Needs root and python3. Takes about 4 x REPS runs of SECONDS + 2 seconds each.

set -euo pipefail

DUR=${1:-3}
REPS=${REPS:-3}
BAR_PPS=200000
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/mvlab}
if [[ ! -x $BIN ]]; then
    cargo build --release --quiet
fi
[[ $(id -u) == 0 ]] || { echo "bench-switch: needs root" >&2; exit 2; }
command -v python3 >/dev/null || { echo "bench-switch: python3 is missing" >&2; exit 2; }

PREFIX=mvbench$$
TMP=$(mktemp -d)

cleanup() {
    jobs -p | xargs -r kill 2>/dev/null || true
    for kind in bridge emulated; do
        "$BIN" lab down "$kind" --prefix "$PREFIX" >/dev/null 2>&1 || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

for kind in bridge emulated; do
    cat >"$TMP/$kind.toml" <<EOF
[switch]
kind = "$kind"
[[networks]]
endpoints = []
[[peers]]
name = "a"
[[peers]]
name = "b"
EOF
    "$BIN" lab up "$TMP/$kind.toml" --name "$kind" --prefix "$PREFIX" --json >"$TMP/$kind.json"
done
mac_of() { json "$TMP/bridge.json" "[i['mac'] for n in d['nodes'] if n['name']=='$1' for i in n['interfaces']][0]"; }
A_MAC=$(mac_of a)
B_MAC=$(mac_of b)
# b speaks once, so both switches know where it is: a's frames go to p2 only, never flooded.
for kind in bridge emulated; do
    "$BIN" gen --netns "$PREFIX-$kind-b" --iface eth0 --dst "$A_MAC" --count 1 >/dev/null
done

# One run: prints "sent received elapsed_ns" of gen (args after the kind) and b's capture.
run() {
    local kind=$1; shift
    local ns=$PREFIX-$kind
    "$BIN" capture --netns "$ns-b" --iface eth0 --duration "$((DUR + 2))s" --json \
        >"$TMP/cap.json" 2>"$TMP/cap.err" &
    local cap=$!
    sleep 0.5
    "$BIN" gen --netns "$ns-a" --iface eth0 --dst "$B_MAC" --size 60 --duration "${DUR}s" "$@" \
        --json >"$TMP/gen.json"
    wait "$cap"
    echo "$(json "$TMP/gen.json" "d['frames']") \
$(json "$TMP/cap.json" "sum(f['received'] for f in d['flows'])") \
$(json "$TMP/gen.json" "d['elapsed_ns']")"
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

for rep in $(seq "$REPS"); do
    for kind in bridge emulated; do
        read -r sent got ns < <(run "$kind")
        echo "$got $ns" | awk '{printf "%.0f\n", $1 / ($2 / 1e9)}' >>"$TMP/$kind.max"
        echo "$sent $ns" | awk '{printf "%.0f\n", $1 / ($2 / 1e9)}' >>"$TMP/$kind.maxoffered"
        read -r sent got ns < <(run "$kind" --rate "${BAR_PPS}pps")
        echo "$sent $got" | awk '{printf "%.4f\n", ($1 - $2) * 100 / $1}' >>"$TMP/$kind.loss"
        echo "$sent" | awk -v d="$ns" '{printf "%.0f\n", $1 / (d / 1e9)}' >>"$TMP/$kind.offered"
    done
done

bridge_max=$(median <"$TMP/bridge.max")
emulated_max=$(median <"$TMP/emulated.max")
echo
echo "peer a -> switch -> peer b, 64-byte frames, ${DUR} s per run, median of $REPS interleaved runs"
printf "%-32s %14s %14s %10s\n" "" "Linux bridge" "emulated" "emu/bridge"
printf "%-32s %14s %14s\n" "offered at the sender's max (fps)" \
    "$(median <"$TMP/bridge.maxoffered")" "$(median <"$TMP/emulated.maxoffered")"
printf "%-32s %14s %14s %10s\n" "forwarded, offered max (fps)" "$bridge_max" "$emulated_max" \
    "$(awk -v a="$emulated_max" -v b="$bridge_max" 'BEGIN {printf "%.2f", a / b}')"
printf "%-32s %14s %14s\n" "offered at the 200 kfps bar" \
    "$(median <"$TMP/bridge.offered")" "$(median <"$TMP/emulated.offered")"
printf "%-32s %13s%% %13s%%\n" "loss at the 200 kfps bar" \
    "$(median <"$TMP/bridge.loss")" "$(median <"$TMP/emulated.loss")"
echo
"$BIN" switch show --lab emulated --prefix "$PREFIX"
