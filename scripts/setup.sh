#!/usr/bin/env bash
# Bring a fresh Debian 12 machine (as root) to where virtsync builds and its
# tests run: the Rust toolchain is checked (not installed: Debian's cargo is
# too old, the machine's rustup toolchain is used), the libvirt headers,
# pkg-config, libvirtd, QEMU and helpers are installed when missing.
# Idempotent and quiet when everything is there already.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
min_rust="1.85.0"

die() { echo "setup: $*" >&2; exit 1; }

command -v cargo >/dev/null 2>&1 || die "cargo not found. Install Rust $min_rust or newer with rustup (https://rustup.rs); Debian's cargo package is too old."
have=$(rustc --version 2>/dev/null | awk '{print $2}')
[ -n "$have" ] || die "rustc not found next to cargo; install Rust $min_rust or newer with rustup."
if [ "$(printf '%s\n%s\n' "$min_rust" "$have" | sort -V | head -n1)" != "$min_rust" ]; then
  die "Rust $have is too old; virtsync needs $min_rust or newer (rustup update stable)."
fi

# libvirt-dev + pkg-config to build; libvirtd, QEMU, dnsmasq, iptables and
# virt-xml-validate for the integration tests (scripts/private-libvirtd).
if [ "$(id -u)" = 0 ]; then
  "$here/private-libvirtd" install
elif ! pkg-config --exists libvirt 2>/dev/null; then
  die "libvirt-dev is missing and this is not root: run 'sudo $0' once."
fi

# man-db renders the man page in the tests (`man -l`) and reads the
# packaged one; script (bsdutils, essential) gives them a pseudo-terminal.
if [ "$(id -u)" = 0 ] && ! command -v man >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends man-db >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends man-db >/dev/null; }
fi
