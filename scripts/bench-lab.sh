#!/usr/bin/env bash
# Control-plane benchmark: builds the same lab twice in one run and prints both times and ratios.
#   1. mvlab:  `mvlab lab up SCENARIO` (in-process rtnetlink, pipelined) and `mvlab lab down`
#              (returns once the kernel has destroyed the namespaces).
#   2. ip:     the same namespaces, veth parent, bridge and macvlans made by `ip -batch` scripts,
#              then per endpoint namespace `ip addr add` and `ip link set up`; torn down by `ip link
#              del` of each endpoint's macvlan, then the parents and `ip -batch` of `netns del`.
# Both sides favour ip: mvlab also brings every `lo` up, adds default routes, marks every link
# with an alias and switches IPv6 off where the scenario has none; and the ip run's down time
# stops when the last command returns, while namespace destruction continues in the kernel.
# Usage (as root): scripts/bench-lab.sh [SCENARIO]   (default scenarios/scale-1000.toml)
# Handles scenarios with veth parents and a Linux bridge, like scale-1000.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if [ "$(id -u)" -ne 0 ]; then
  echo "bench-lab: builds network namespaces; run as root" >&2
  exit 2
fi

scenario=${1:-scenarios/scale-1000.toml}
cargo build --release --quiet
mvlab=target/release/mvlab
lab="bench-$$"
ipns="mvtest-ipbench-$$"
work=$(mktemp -d)

cleanup() {
  "$mvlab" lab down "$lab" >/dev/null 2>&1 || true
  for ns in $(ip netns list 2>/dev/null | awk -v p="$ipns-" 'index($1, p) == 1 {print $1}'); do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

"$mvlab" check --json "$scenario" >"$work/scenario.json"
endpoints=$(jq '.endpoints | length' "$work/scenario.json")
echo "bench-lab: $scenario, $endpoints endpoints, each in its own namespace"

# --- mvlab ---------------------------------------------------------------------------------------
t=$(now_ms)
"$mvlab" lab up "$scenario" --name "$lab" >/dev/null
mv_up=$(( $(now_ms) - t ))
t=$(now_ms)
"$mvlab" lab down "$lab" >/dev/null
mv_down=$(( $(now_ms) - t ))

# --- ip ------------------------------------------------------------------------------------------
jq -r --arg ns "$ipns" '
  "netns add \($ns)-host", "netns add \($ns)-switch",
  (.endpoints[], .peers[] | "netns add \($ns)-\(.name)")
' "$work/scenario.json" >"$work/netns.batch"
jq -r --arg ns "$ipns" '
  .switch.name as $br
  | "link add \($br) type bridge",
    "link set \($br) up",
    (.parents[] | "link add \(.port.name) type veth peer name \(.name) netns \($ns)-host address \(.mac)",
                  "link set \(.port.name) master \($br) up"),
    (.peers[] | "link add \(.port.name) type veth peer name \(.interface) netns \($ns)-\(.name) address \(.mac)",
                "link set \(.port.name) master \($br) up")
' "$work/scenario.json" >"$work/switch.batch"
jq -r '.parents[] | "link set \(.name) up"' "$work/scenario.json" >"$work/host-up.batch"
jq -r --arg ns "$ipns" '
  . as $s | .endpoints[] | $s.networks[.network] as $n
  | "link add link \($s.parents[$n.parent].name) name \(.interface) netns \($ns)-\(.name) address \(.mac) type macvlan mode \($n.mode)"
' "$work/scenario.json" >"$work/macvlans.batch"
jq -r --arg ns "$ipns" '
  . as $s | .endpoints[] | $s.networks[.network] as $n | ($n.ipv4.subnet | split("/")[1]) as $len
  | "\($ns)-\(.name) \(.interface) \(.ipv4)/\($len)"
' "$work/scenario.json" >"$work/endpoints.txt"
jq -r --arg ns "$ipns" '
  . as $s | .peers[] | $s.networks[.network] as $n | ($n.ipv4.subnet | split("/")[1]) as $len
  | "\($ns)-\(.name) \(.interface) \(.ipv4)/\($len)"
' "$work/scenario.json" >"$work/peers.txt"

t=$(now_ms)
ip -batch "$work/netns.batch"
ip -n "$ipns-switch" -batch "$work/switch.batch"
ip -n "$ipns-host" -batch "$work/host-up.batch"
ip -n "$ipns-host" -batch "$work/macvlans.batch"
while read -r ns ifname addr _; do
  ip -n "$ns" addr add "$addr" dev "$ifname"
  ip -n "$ns" link set dev "$ifname" up
done <"$work/endpoints.txt"
while read -r ns ifname addr; do
  ip -n "$ns" addr add "$addr" dev "$ifname"
  ip -n "$ns" link set dev "$ifname" up
done <"$work/peers.txt"
ip_up=$(( $(now_ms) - t ))

t=$(now_ms)
while read -r ns ifname _; do
  ip -n "$ns" link del "$ifname"
done <"$work/endpoints.txt"
jq -r '.parents[] | "link del \(.name)"' "$work/scenario.json" | ip -n "$ipns-host" -batch -
sed 's/^netns add /netns del /' "$work/netns.batch" | ip -batch -
ip_down=$(( $(now_ms) - t ))

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }
per() { awk -v t="$1" -v n="$endpoints" 'BEGIN { printf "%.2f ms/endpoint", t / n }'; }
printf '\n%-6s %12s %22s %12s %22s\n' "" "mvlab" "" "ip" ""
printf '%-6s %10d ms %22s %10d ms %22s   mvlab %s faster\n' up "$mv_up" "($(per "$mv_up"))" "$ip_up" "($(per "$ip_up"))" "$(ratio "$ip_up" "$mv_up")"
printf '%-6s %10d ms %22s %10d ms %22s   mvlab %s faster\n' down "$mv_down" "($(per "$mv_down"))" "$ip_down" "($(per "$ip_down"))" "$(ratio "$ip_down" "$mv_down")"
