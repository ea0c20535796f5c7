#!/usr/bin/env bash
# The main job on a fresh machine: build virtsync and apply examples/quickstart
# to libvirt's embedded test driver (test:///default, no daemon needed). One
# process shows the plan, the apply, and the re-plan that finds nothing left
# to do. The test driver forgets everything when the process ends, so every
# run starts from an empty host again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --quiet --release
bin=target/release/virtsync
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
echo "\$ virtsync validate examples/quickstart"
"$bin" validate examples/quickstart
echo
echo "\$ virtsync apply examples/quickstart --connect test:///default --yes"
"$bin" apply examples/quickstart --connect test:///default --yes --state-dir "$state"
