#!/usr/bin/env bash
# The benchmark: starts its own private libvirt daemons and prints a table
# (pass --output=json for machine-readable figures). Needs root, like the
# integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --quiet --release --bin virtsync --example bench
exec target/release/examples/bench "$@"
