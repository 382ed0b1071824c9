#!/bin/sh
# Installs the Debian packages commis needs when any is missing: with
# apt-get when run as root, otherwise prints the exact command to run.
set -e
pkgs=""
need() { # pkg-config module, Debian package
	pkg-config --exists "$1" 2>/dev/null || pkgs="$pkgs $2"
}
command -v pkg-config >/dev/null 2>&1 || pkgs="$pkgs pkg-config"
command -v cc >/dev/null 2>&1 || pkgs="$pkgs gcc libc6-dev"
command -v make >/dev/null 2>&1 || pkgs="$pkgs make"
need libevent libevent-dev
need yaml-0.1 libyaml-dev
need libcrypto libssl-dev
need zlib zlib1g-dev
need check check
# `deps.sh fuzz`: clang with libFuzzer and the sanitizers (make fuzz).
if [ "${1:-}" = fuzz ]; then
	pkgs=""
	if ! command -v clang >/dev/null 2>&1; then
		pkgs="clang libclang-rt-14-dev"
	elif ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)
	    { return 0; }' | clang -fsanitize=fuzzer,address,undefined -x c - \
	    -o /dev/null >/dev/null 2>&1; then
		pkgs="libclang-rt-14-dev"
	fi
fi
# `deps.sh storecmp`: the stores compared by bench/storecmp.c (make
# storecmp); never needed by the normal build.
if [ "${1:-}" = storecmp ]; then
	pkgs=""
	need zlib zlib1g-dev
	need sqlite3 libsqlite3-dev
	need lmdb liblmdb-dev
fi
# `deps.sh thumbnail`: libvips for the optional thumbnail module
# (modules/thumbnail, make deps-thumbnail); never needed by the normal
# build, which builds the module only when pkg-config finds libvips
# 8.13 or later.
if [ "${1:-}" = thumbnail ]; then
	pkgs=""
	need vips libvips-dev
fi
[ -z "$pkgs" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
	echo "deps: installing$pkgs"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $pkgs
else
	echo "deps: missing packages; run:" >&2
	echo "  sudo apt-get install -y$pkgs" >&2
	exit 1
fi
