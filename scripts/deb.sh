#!/usr/bin/env bash
# Build the Debian package with cargo-deb (metadata in Cargo.toml), and
# with --check also install it on this machine (root), check that
# `virtsync --version` and `man virtsync` work and the completions and
# systemd unit are in place, then remove it again.
#   scripts/deb.sh            release build → target/debian/virtsync_*.deb
#   scripts/deb.sh --check    CI: the dev build the tests made (no second,
#                             slow release build), installed and removed
# cargo-deb is installed with `cargo install` when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
check=false
[ "${1:-}" = --check ] && check=true

if $check && [ "$(id -u)" != 0 ]; then
  echo "deb: skipped: installing the package needs root"; exit 0
fi
# Pinned, so that the package does not change with a new cargo-deb; a
# fresh machine compiles it once (about 4 minutes on 2 cores).
cargo_deb_version=3.8.0
if ! cargo deb --version 2>/dev/null | grep -qx "cargo-deb $cargo_deb_version"; then
  cargo install cargo-deb --version "$cargo_deb_version" --locked --quiet
fi
if $check; then profile=dev; dir=debug; else profile=release; dir=release; fi
cargo build --profile "$profile" --quiet
scripts/dist.sh target/dist "target/$dir/virtsync" >/dev/null
# --fast: the CI package is thrown away; a release keeps full compression.
fast=(); $check && fast=(--fast)
# cargo-deb warns that a dev profile is for checks only, which this is;
# its messages are shown when it fails.
mkdir -p target/debian
log=target/debian/cargo-deb.log
deb=$(cargo deb --no-build --profile "$profile" "${fast[@]}" --output target/debian/ 2>"$log" | tail -n1) || true
[ -f "$deb" ] || { cat "$log" >&2; echo "deb: cargo deb made no package" >&2; exit 1; }
echo "deb: built $deb"
$check || exit 0

# Installed as a user would, then removed: the machine is left as it was.
trap 'dpkg -r virtsync >/dev/null 2>&1 || true' EXIT
dpkg -i "$deb" >/dev/null
version=$(/usr/bin/virtsync --version)
case "$version" in virtsync\ *\(*\)) ;; *) echo "deb: unexpected --version: $version" >&2; exit 1;; esac
if grep -qs 'path-exclude.*/usr/share/man' /etc/dpkg/dpkg.cfg.d/*; then
  # A slim image drops man pages on install: read the packaged one.
  tmp=$(mktemp -d); dpkg-deb -x "$deb" "$tmp"
  page=(man -l "$tmp/usr/share/man/man1/virtsync.1.gz")
else
  page=(man virtsync)
fi
MANPAGER=cat MANWIDTH=80 "${page[@]}" 2>/dev/null | grep -q "reconciler for libvirt" \
  || { echo "deb: ${page[*]} shows no page" >&2; exit 1; }
for f in /usr/share/bash-completion/completions/virtsync \
         /usr/share/zsh/vendor-completions/_virtsync \
         /usr/share/fish/vendor_completions.d/virtsync.fish \
         /lib/systemd/system/virtsync.service \
         /usr/share/doc/virtsync/examples/quickstart/domains.yaml; do
  [ -f "$f" ] || { echo "deb: $f is missing" >&2; exit 1; }
done
bash -n /usr/share/bash-completion/completions/virtsync
/usr/bin/virtsync validate /usr/share/doc/virtsync/examples/quickstart >/dev/null
echo "deb: installed and checked: $version; removed again"
