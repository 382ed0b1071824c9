#!/bin/sh
# tests/install.sh: `make install` into a scratch DESTDIR, then checks
# what it put there: every file, the shared library's soname, the
# substituted unit and libcommis.pc, a program built against the
# installed headers and library, the man pages (render without warnings,
# commis.yaml(5) current, every command and option documented), the
# unit (systemd-analyze verify, and security exposure at most 2.0), and
# `make uninstall`. Run by .ci/run, not by `make check`: it writes
# files and may install tools. Missing tools are installed with apt-get
# when run as root (like scripts/deps.sh); otherwise their checks are
# skipped with a message.
#
# The last line is "install: N passed, M failed"; the exit status is 1
# when anything failed.

# $CC, $cflags, $libs and $pkgs are word lists: split on purpose.
# shellcheck disable=SC2086
set -u
cd "$(dirname "$0")/.." || exit 1

MAKE=${MAKE:-make}
BUILD=${BUILD:-build}
PREFIX=/usr
pass=0
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/commis-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
dest=$tmp/root

ok() {
	pass=$((pass + 1))
	echo "ok: $1"
}

bad() {
	fail=$((fail + 1))
	echo "FAIL: $1"
	if [ -s "$tmp/out" ]; then
		sed 's/^/    /' "$tmp/out"
	fi
}

skip() {
	echo "skip: $1"
}

# check DESCRIPTION COMMAND...: passes when COMMAND exits 0.
check() {
	desc=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then
		ok "$desc"
	else
		bad "$desc"
	fi
	: >"$tmp/out"
}

# quiet DESCRIPTION COMMAND...: passes when COMMAND exits 0 and prints
# nothing (warnings go to either stream).
quiet() {
	desc=$1
	shift
	if "$@" >"$tmp/out" 2>&1 && [ ! -s "$tmp/out" ]; then
		ok "$desc"
	else
		bad "$desc"
	fi
	: >"$tmp/out"
}

# Tools the checks use: installed when missing and root, else skipped.
tools() {
	pkgs=""
	command -v pkg-config >/dev/null 2>&1 || pkgs="$pkgs pkg-config"
	command -v man >/dev/null 2>&1 || pkgs="$pkgs man-db"
	command -v groff >/dev/null 2>&1 || pkgs="$pkgs groff-base"
	command -v systemd-analyze >/dev/null 2>&1 || pkgs="$pkgs systemd"
	command -v readelf >/dev/null 2>&1 || pkgs="$pkgs binutils"
	[ -z "$pkgs" ] && return 0
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "install: installing$pkgs"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
		    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends $pkgs >/dev/null ||
		    echo "install: apt-get failed; checks needing$pkgs are skipped"
	else
		echo "install: missing$pkgs (sudo apt-get install -y$pkgs);" \
		    "their checks are skipped"
	fi
}

has() {
	command -v "$1" >/dev/null 2>&1
}

tools

# --- make install ----------------------------------------------------------
if $MAKE install BUILD="$BUILD" DESTDIR="$dest" PREFIX="$PREFIX" \
    >"$tmp/out" 2>&1; then
	ok "make install DESTDIR=... PREFIX=$PREFIX"
else
	bad "make install DESTDIR=... PREFIX=$PREFIX"
	echo "install: $pass passed, $fail failed"
	exit 1
fi
: >"$tmp/out"

version=$("$BUILD/commisd" --version | sed -n 's/^commisd //p')
lib=$dest$PREFIX/lib
unit=$dest/lib/systemd/system/commisd.service
conf=$dest/etc/commis/commis.yaml

for f in sbin/commisd bin/commis; do
	check "executable $PREFIX/$f" test -x "$dest$PREFIX/$f"
done
for f in lib/libcommis.a lib/libcommis.so.1 lib/pkgconfig/libcommis.pc \
    include/commis/client.h include/commis/handler.h \
    include/commis/proto.h share/man/man1/commis.1 \
    share/man/man5/commis.yaml.5 share/man/man8/commisd.8; do
	check "file $PREFIX/$f" test -f "$dest$PREFIX/$f"
done
check "file /lib/systemd/system/commisd.service" test -f "$unit"
check "file /usr/lib/sysusers.d/commis.conf" \
    test -f "$dest/usr/lib/sysusers.d/commis.conf"
check "file /etc/commis/commis.yaml" test -f "$conf"
check "libcommis.so -> libcommis.so.1" \
    test "$(readlink "$lib/libcommis.so")" = libcommis.so.1
if has readelf; then
	check "soname of libcommis.so.1 is libcommis.so.1" sh -c \
	    "readelf -d '$lib/libcommis.so.1' | grep -q 'SONAME.*\[libcommis.so.1\]'"
else
	skip "soname (no readelf)"
fi

# --- substituted files -----------------------------------------------------
check "no @VAR@ left in the unit and libcommis.pc" \
    sh -c "! grep -n '@[A-Z]*@' '$unit' '$lib/pkgconfig/libcommis.pc'"
check "unit runs $PREFIX/sbin/commisd -c /etc/commis/commis.yaml" \
    grep -qx "ExecStart=$PREFIX/sbin/commisd -c /etc/commis/commis.yaml" \
    "$unit"
check "installed config is valid" \
    "$dest$PREFIX/sbin/commisd" -t -c "$conf"
check "installed config uses /run/commis/commis.sock" \
    grep -qx "socket: /run/commis/commis.sock" "$conf"

# --- libcommis: pkg-config, headers, static and shared linking -------------
if has pkg-config; then
	export PKG_CONFIG_PATH="$lib/pkgconfig"
	export PKG_CONFIG_SYSROOT_DIR="$dest"
	check "pkg-config --cflags --libs libcommis" \
	    pkg-config --cflags --libs libcommis
	check "pkg-config --modversion libcommis is $version" \
	    test "$(pkg-config --modversion libcommis)" = "$version"
	cflags=$(pkg-config --cflags libcommis)
	libs=$(pkg-config --libs libcommis)
	unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
	cat >"$tmp/t.c" <<'EOF'
#include <stdio.h>
#include <commis/client.h>
#include <commis/handler.h>
#include <commis/proto.h>

int
main(void)
{
	const char	*s = commis_strerror(0);

	if (s == NULL || *s == '\0')
		return 1;
	printf("%s\n", s);
	return 0;
}
EOF
	# The installed headers alone, strict C11: -I/usr/include would
	# find nothing of ours, so a stray system copy cannot hide a gap.
	check "headers compile alone (-std=c11 -pedantic -Werror)" \
	    ${CC:-cc} -std=c11 -pedantic -Wall -Wextra -Werror $cflags \
	    -c "$tmp/t.c" -o "$tmp/t.o"
	check "static link: cc ... -L... -Wl,-Bstatic -lcommis" \
	    ${CC:-cc} -o "$tmp/t_static" "$tmp/t.o" -L"$lib" \
	    -Wl,-Bstatic -lcommis -Wl,-Bdynamic
	check "static program runs commis_strerror(0)" "$tmp/t_static"
	check "shared link: cc ... \$(pkg-config --libs libcommis)" \
	    ${CC:-cc} -o "$tmp/t_shared" "$tmp/t.o" $libs
	check "shared program runs against the installed libcommis.so.1" \
	    sh -c "LD_LIBRARY_PATH='$lib' ldd '$tmp/t_shared' |
	    grep -q '$lib/libcommis.so.1' && LD_LIBRARY_PATH='$lib' '$tmp/t_shared'"
else
	skip "pkg-config and linking (no pkg-config)"
fi

# --- man pages -------------------------------------------------------------
man1=$dest$PREFIX/share/man/man1/commis.1
man5=$dest$PREFIX/share/man/man5/commis.yaml.5
man8=$dest$PREFIX/share/man/man8/commisd.8
for page in "$man1" "$man5" "$man8"; do
	name=${page##*/}
	if has man; then
		quiet "man --warnings -l $name renders without warnings" \
		    env MANWIDTH=80 MAN_KEEP_STDERR=1 sh -c \
		    "man --warnings -l '$page' >/dev/null"
	elif has groff; then
		quiet "groff -man -ww $name renders without warnings" \
		    groff -man -Tutf8 -ww -z "$page"
	else
		skip "rendering $name (neither man nor groff)"
	fi
	check "$name is for commis $version" \
	    grep -q "^\.TH .* \"commis $version\"" "$page"
done
check "man/commis.yaml.5 is current (tools/mkman5.sh $BUILD/commisd)" \
    sh -c "tools/mkman5.sh '$BUILD/commisd' | diff -u man/commis.yaml.5 -"

# Every command of the command table and every --option in its usage
# lines has its place in commis(1); every option of commisd in
# commisd(8). Roff writes a minus as \-.
roff() {
	printf '%s' "$1" | sed 's/-/\\\\-/g'
}
cmds=$("$BUILD/commis" help | sed -n 's/^  \([a-z][a-z]*\).*/\1/p')
opts=$("$BUILD/commisd" --help | grep -o -- ' -[a-z]\| --[a-z][a-z-]*' | sort -u)
check "commis help lists commands, commisd --help options" \
    test -n "$cmds" -a -n "$opts"
missing=""
for cmd in $cmds; do
	grep -q "^\.SS \"$cmd\( \|\"\)" man/commis.1 || missing="$missing $cmd"
done
for opt in $("$BUILD/commis" help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
	grep -q -- "$(roff "$opt")" man/commis.1 || missing="$missing $opt"
done
check "commis(1) has every command and option${missing:+ (missing:$missing)}" \
    test -z "$missing"
missing=""
for opt in $opts; do
	grep -q -- "$(roff "$opt")" man/commisd.8 || missing="$missing $opt"
done
check "commisd(8) has every option${missing:+ (missing:$missing)}" \
    test -z "$missing"

# --- the unit --------------------------------------------------------------
if has systemd-analyze; then
	# verify wants the commands to exist: a copy that runs the
	# installed binaries, its man pages found through MANPATH.
	mkdir -p "$tmp/unit"
	sed -e "s|=$PREFIX/sbin/|=$dest$PREFIX/sbin/|" \
	    -e "s|=$PREFIX/bin/|=$dest$PREFIX/bin/|" "$unit" \
	    >"$tmp/unit/commisd.service"
	quiet "systemd-analyze verify commisd.service" \
	    env MANPATH="$dest$PREFIX/share/man" SYSTEMD_LOG_LEVEL=notice \
	    systemd-analyze verify "$tmp/unit/commisd.service"
	score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null |
	    sed -n 's/^.*Overall exposure level for commisd.service: \([0-9.]*\).*/\1/p')
	check "systemd-analyze security --offline=yes: ${score:-no score} (at most 2.0)" \
	    awk -v s="$score" 'BEGIN { exit !(s != "" && s + 0 <= 2.0) }'
else
	skip "systemd-analyze verify and security (no systemd-analyze)"
fi

# --- a second install keeps the operator's config --------------------------
echo "# edited by the operator" >>"$conf"
cp "$conf" "$tmp/conf.edited"
if $MAKE install BUILD="$BUILD" DESTDIR="$dest" PREFIX="$PREFIX" \
    >"$tmp/out" 2>&1; then
	: >"$tmp/out"
	check "reinstall keeps an existing commis.yaml" \
	    cmp "$conf" "$tmp/conf.edited"
	check "reinstall writes commis.yaml.example beside it" \
	    cmp "$dest/etc/commis/commis.yaml.example" conf/commis-system.yaml
else
	bad "make install again"
fi

# --- make uninstall --------------------------------------------------------
if $MAKE uninstall DESTDIR="$dest" PREFIX="$PREFIX" >"$tmp/out" 2>&1; then
	: >"$tmp/out"
	left=$(cd "$dest" && find . -type f -o -type l | sort | tr '\n' ' ')
	check "make uninstall leaves only the config (left: $left)" \
	    test "$left" = "./etc/commis/commis.yaml "
else
	bad "make uninstall"
fi

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
