#!/usr/bin/env bash
# Benchmark of `mvlab simulate` (the packet-path model, no root needed) on a 10,000-endpoint lab:
# two networks of 5,000 endpoints each (bridge and vepa) on one parent with a hairpinning switch
# port, a host shim and two peers. The target is under one second for the whole prediction
# (grouped matrix, FDB, promiscuity, reachability, host reach). Uses hyperfine when installed.
#
#   scripts/bench-simulate.sh [ENDPOINTS]   (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
half=$((n / 2))
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/bench-$n.toml" <<TOML
description = "$n endpoints in two macvlan networks on one parent, hairpin on"

[[parents]]
name = "eth0"
port = { hairpin = true }

[[networks]]
name = "br"
mode = "bridge"
subnet = "198.18.0.0/18"

[[networks.endpoints]]
count = $half

[[networks]]
name = "vp"
mode = "vepa"
subnet = "198.18.64.0/18"

[[networks.endpoints]]
count = $((n - half))

[[peers]]
name = "peer"

[[peers]]
name = "peer2"
network = "vp"

[host]
ip = "198.18.0.2"
shim = { name = "shim0", ip = "198.18.0.3" }
TOML
cargo build --release --quiet
bin=target/release/mvlab
"$bin" check "$dir/bench-$n.toml" > /dev/null
if command -v hyperfine > /dev/null; then
    hyperfine --warmup 1 --runs 5 "$bin simulate $dir/bench-$n.toml --json > /dev/null"
else
    time "$bin" simulate "$dir/bench-$n.toml" --json > /dev/null
fi
