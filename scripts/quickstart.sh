#!/usr/bin/env bash
# The main job on a fresh machine: build virtsync and run it on
# examples/quickstart against libvirt's embedded test driver (test:///default,
# no daemon needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --quiet --release
bin=target/release/virtsync
echo "\$ virtsync validate examples/quickstart"
"$bin" validate examples/quickstart
