#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: set-up, formatting, lints,
# unit, integration (test driver and private libvirtd) and property tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
