#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: set-up, formatting, lints,
# unit, integration (test driver and private libvirtd) and property tests,
# then the Debian package built from the same dev build, installed and
# removed (scripts/deb.sh --check; root only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --all-targets
scripts/deb.sh --check
