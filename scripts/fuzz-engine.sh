#!/usr/bin/env bash
# Bounded fuzz run of the engine's frame and test-payload parser (fuzz/fuzz_targets/
# frame_parser.rs), for CI: libFuzzer through cargo-fuzz on the stable toolchain
# (RUSTC_BOOTSTRAP=1 lets stable accept the sanitizer flags cargo-fuzz passes).
#
# Usage: scripts/fuzz-engine.sh [SECONDS]   (default 60). Exits non-zero on a crash; the
# crashing input is left in fuzz/artifacts/frame_parser/.
# Needs a C++ compiler (libFuzzer is built from source); installs cargo-fuzz if it is missing.

set -euo pipefail
SECS=${1:-60}
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p corpus/frame_parser
RUSTC_BOOTSTRAP=1 cargo fuzz run frame_parser corpus/frame_parser -- \
    -max_total_time="$SECS" -max_len=2048 -print_final_stats=1
