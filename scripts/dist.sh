#!/usr/bin/env bash
# What a package installs beside the binary, generated from the binary's
# own clap definitions: man pages (gzipped, one per command) and shell
# completions for bash, zsh and fish.
#   scripts/dist.sh [OUT_DIR] [VIRTSYNC_BINARY]
# OUT_DIR defaults to target/dist; the binary to target/debug/virtsync
# (built when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/dist}
bin=${2:-target/debug/virtsync}
[ -x "$bin" ] || cargo build --quiet
rm -rf "$out/man" "$out/completions"
mkdir -p "$out/man" "$out/completions"
"$bin" manpage --out-dir "$out/man"
# -n: no name or timestamp in the gzip header, so the package is reproducible.
gzip -9nf "$out"/man/*.1
"$bin" completions bash > "$out/completions/virtsync.bash"
"$bin" completions zsh > "$out/completions/_virtsync"
"$bin" completions fish > "$out/completions/virtsync.fish"
echo "dist: $(ls "$out/man" | wc -l) man pages and 3 completion scripts in $out"
