# commis — GNU Makefile. Dependencies come from pkg-config; `make deps`
# installs the Debian packages that are missing.

BUILD	?= build
CC	?= cc
CFLAGS	?= -O2 -g
PREFIX	?= /usr/local
DESTDIR	?=
SYSCONFDIR ?= /etc

PKGS	= libevent yaml-0.1 libcrypto zlib
TESTPKGS = check

# Mandatory flags, appended so that CFLAGS=... on the command line keeps them.
override CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc -MMD -MP \
	-DCOMMIS_SYSCONFDIR='"$(SYSCONFDIR)"'
override CFLAGS += -std=c11 -pthread -fPIC -Wall -Wextra -Wshadow -Wpointer-arith \
	-Wmissing-prototypes -Wstrict-prototypes -Wno-unused-parameter
ifneq ($(WERROR),)
override CFLAGS += -Werror
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
TEST_CFLAGS = $(shell pkg-config --cflags $(TESTPKGS))
TEST_LIBS  = $(shell pkg-config --libs $(TESTPKGS))

# libcommis: what a client links.
LIB_SRCS = src/msg.c src/frame.c src/seg.c src/client.c src/client_jobs.c src/client_out.c src/client_seg.c
# commisd without its main(), so that tests link every other object.
SUP_SRCS = src/log.c src/notify.c src/config.c src/config_yaml.c src/config_keys.c src/chan.c src/queue.c src/idmap.c \
	src/job.c src/dispatch.c src/admin.c \
	src/pool.c src/pool_size.c src/control.c src/control_req.c src/stats.c src/sup.c src/worker.c \
	src/host.c src/confine.c src/access.c src/usock.c src/handlers.c src/builtins.c \
	src/hist.c src/metrics.c src/journal.c src/durable.c src/idem.c src/exec.c \
	src/aggregate.c
CLI_SRCS = src/cli.c src/cli_top.c src/cli_bench.c src/cli_bench_stats.c src/cli_bench_run.c \
	src/cli_bench_out.c src/cli_jobs.c src/cli_admin.c src/cli_json.c
TEST_SRCS = $(wildcard tests/check_*.c) tests/testlib.c

LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/%.o)
SUP_OBJS  = $(SUP_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS  = $(CLI_SRCS:%.c=$(BUILD)/%.o)
TEST_OBJS = $(TEST_SRCS:%.c=$(BUILD)/%.o)

BINS = $(BUILD)/commisd $(BUILD)/commis $(BUILD)/libcommis.a \
	$(BUILD)/libcommis.so
TESTMOD = $(BUILD)/testmod.so $(BUILD)/testmod_badabi.so $(BUILD)/evilmod.so

# Optional handler modules, each built only when its library is there.
# The thumbnail module (modules/thumbnail, docs/cookbook-thumbnails.md)
# needs libvips 8.13 or later: `make deps-thumbnail` (scripts/deps.sh
# thumbnail) installs it; plain `make deps` does not. Nothing else links
# libvips.
VIPS_MIN = 8.13
VIPS_OK	:= $(shell pkg-config --atleast-version=$(VIPS_MIN) vips 2>/dev/null \
	&& echo yes)
ifeq ($(VIPS_OK),)
ifneq ($(shell pkg-config --exists vips 2>/dev/null && echo yes),)
$(info thumbnail module not built: libvips $(shell pkg-config --modversion \
	vips) is older than $(VIPS_MIN))
endif
endif
THUMBMOD = $(BUILD)/commis-thumbnail.so
MODULES	= $(if $(VIPS_OK),$(THUMBMOD))

.PHONY: all check asan run deps deps-thumbnail clean install test-run \
	config-doc bench bench-run
all: $(BINS) $(MODULES)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libcommis.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

# Only the public API (commis_*) is exported: libcommis.map.
$(BUILD)/libcommis.so: $(LIB_OBJS) libcommis.map
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libcommis.so.1 \
	    -Wl,--version-script=libcommis.map -o $@ $(LIB_OBJS)

$(BUILD)/commisd: $(BUILD)/src/commisd.o $(SUP_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -ldl

$(BUILD)/commis: $(BUILD)/src/commis.o $(CLI_OBJS) $(BUILD)/src/config.o \
	$(BUILD)/src/config_yaml.o $(BUILD)/src/config_keys.o $(BUILD)/src/log.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The allocation seam of tests/check_alloc.c: every allocation in the
# test binary's own objects goes through its wrappers.
TEST_WRAP = -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc \
	-Wl,--wrap=reallocarray,--wrap=free
$(BUILD)/check_commis: $(TEST_OBJS) $(SUP_OBJS) $(CLI_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $(TEST_WRAP) -o $@ $^ $(PKG_LIBS) \
	    $(TEST_LIBS) -ldl

BENCH_SRCS = bench/bench.c bench/benchd.c bench/bench_lat.c bench/bench_tput.c \
	bench/bench_bulk.c bench/bench_sup.c
$(BUILD)/commis-bench: $(BENCH_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/src/hist.o \
	$(BUILD)/libcommis.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

$(BUILD)/testmod.so: tests/modules/testmod.c include/commis/handler.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared -o $@ $<

$(BUILD)/testmod_badabi.so: tests/modules/testmod.c include/commis/handler.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DTESTMOD_BADABI $(CFLAGS) -shared -o $@ $<

$(BUILD)/evilmod.so: tests/modules/evilmod.c include/commis/handler.h \
    include/commis/proto.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared -o $@ $<

VIPS_CFLAGS = $(shell pkg-config --cflags vips)
VIPS_LIBS = $(shell pkg-config --libs vips)
$(THUMBMOD): modules/thumbnail/thumbnail.c include/commis/handler.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(VIPS_CFLAGS) $(CFLAGS) -shared -o $@ $< \
	    $(VIPS_LIBS)

# The README's test command: installs what is missing, builds, runs every
# Check suite (unit and integration) against the binaries just built.
check: deps
	$(MAKE) test-run
	$(MAKE) check-node

# COMMIS_THUMBNAIL_BUILT tells tests/check_thumbnail.c whether the module
# was meant to be built, so that its tests cannot skip when it should be.
test-run: all $(BUILD)/check_commis $(TESTMOD)
	COMMIS_BUILD=$(abspath $(BUILD)) \
	    COMMIS_THUMBNAIL_BUILT=$(if $(VIPS_OK),1,0) $(BUILD)/check_commis

# The Node.js client (clients/node/README.md) against the commisd just
# built, with node's own test runner. Where node (18 or later) is not
# installed it says so and succeeds: the C build does not need node.
.PHONY: check-node
check-node: $(BUILD)/commisd
	@if ! command -v node >/dev/null 2>&1; then \
	    echo "check-node: node not installed; skipped the Node.js client tests"; \
	elif ! node -e 'process.exit(parseInt(process.versions.node, 10) < 18 ? 1 : 0)'; then \
	    echo "check-node: node $$(node --version) is older than 18; skipped the Node.js client tests"; \
	else \
	    echo "cd clients/node && COMMIS_BUILD=$(abspath $(BUILD)) node --test"; \
	    (cd clients/node && COMMIS_BUILD=$(abspath $(BUILD)) node --test) && \
	    echo "cd examples/node-thumbnail-service && node --test" && \
	    cd examples/node-thumbnail-service && \
	    COMMIS_BUILD=$(abspath $(BUILD)) node --test; \
	fi

# Benchmarks (docs/benchmarks.md): builds, then runs commis-bench against
# the commisd just built. Options go in BENCH_ARGS, e.g. "-q -o bench.json".
BENCH_ARGS ?=

bench: deps
	$(MAKE) bench-run

bench-run: all $(BUILD)/commis-bench
	COMMIS_BUILD=$(abspath $(BUILD)) \
	    COMMIS_REV=$$(git describe --always --dirty 2>/dev/null) \
	    $(BUILD)/commis-bench $(BENCH_ARGS)

asan: deps
	$(MAKE) BUILD=build-asan \
	    CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDFLAGS="-fsanitize=address,undefined" test-run

run: deps
	$(MAKE) all
	@mkdir -p run
	@echo "commisd: socket run/commis.sock; in another shell: export COMMIS_SOCKET=$$PWD/run/commis.sock"
	exec $(BUILD)/commisd -c conf/commis.yaml

deps:
	@sh scripts/deps.sh

# libvips for the thumbnail module; then `make` builds it.
deps-thumbnail:
	@sh scripts/deps.sh thumbnail

config-doc: $(BUILD)/commisd
	$(BUILD)/commisd --config-doc > docs/configuration.md

# Installation. PREFIX (default /usr/local) and DESTDIR are honoured;
# SYSCONFDIR is compiled into commisd and commis, so give make and make
# install the same one. The unit, the .pc file and the man pages are
# tested by tests/install.sh (run by .ci/run).
BINDIR	?= $(PREFIX)/bin
SBINDIR	?= $(PREFIX)/sbin
LIBDIR	?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
MANDIR	?= $(PREFIX)/share/man
MODULEDIR ?= $(LIBDIR)/commis
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
ifeq ($(PREFIX),/usr)
SYSTEMDUNITDIR ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d
else
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
endif
VERSION	:= $(shell sed -n 's/^.define COMMIS_VERSION[^"]*"\(.*\)"/\1/p' \
	src/version.h)
# Paths under PREFIX stay relative to ${prefix} in libcommis.pc, so that
# pkg-config --define-prefix can relocate it.
PC_LIBDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))
PC_INCLUDEDIR = $(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))
SUBST	= sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@LIBDIR@|$(PC_LIBDIR)|g' -e 's|@INCLUDEDIR@|$(PC_INCLUDEDIR)|g' \
	-e 's|@VERSION@|$(VERSION)|g'
CONFDIR	= $(DESTDIR)$(SYSCONFDIR)/commis

.PHONY: uninstall
install: all
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(SBINDIR)" \
	    "$(DESTDIR)$(LIBDIR)" "$(DESTDIR)$(PKGCONFIGDIR)" \
	    "$(DESTDIR)$(INCLUDEDIR)/commis" "$(DESTDIR)$(SYSTEMDUNITDIR)" \
	    "$(DESTDIR)$(SYSUSERSDIR)" \
	    "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(MANDIR)/man5" \
	    "$(DESTDIR)$(MANDIR)/man8" "$(CONFDIR)"
	install -m 755 $(BUILD)/commisd "$(DESTDIR)$(SBINDIR)/commisd"
	install -m 755 $(BUILD)/commis "$(DESTDIR)$(BINDIR)/commis"
	install -m 644 $(BUILD)/libcommis.a "$(DESTDIR)$(LIBDIR)/libcommis.a"
	install -m 755 $(BUILD)/libcommis.so \
	    "$(DESTDIR)$(LIBDIR)/libcommis.so.1"
	ln -sf libcommis.so.1 "$(DESTDIR)$(LIBDIR)/libcommis.so"
	@# Optional modules, when they were built (make deps-thumbnail).
	$(if $(MODULES),install -d "$(DESTDIR)$(MODULEDIR)")
	$(if $(MODULES),install -m 755 $(MODULES) "$(DESTDIR)$(MODULEDIR)/")
	install -m 644 include/commis/*.h "$(DESTDIR)$(INCLUDEDIR)/commis/"
	$(SUBST) libcommis.pc.in > $(BUILD)/libcommis.pc
	install -m 644 $(BUILD)/libcommis.pc "$(DESTDIR)$(PKGCONFIGDIR)/libcommis.pc"
	$(SUBST) conf/commisd.service > $(BUILD)/commisd.service
	install -m 644 $(BUILD)/commisd.service \
	    "$(DESTDIR)$(SYSTEMDUNITDIR)/commisd.service"
	install -m 644 conf/commis.sysusers "$(DESTDIR)$(SYSUSERSDIR)/commis.conf"
	@# An operator's config is never overwritten.
	@if [ -e "$(CONFDIR)/commis.yaml" ]; then \
	    echo "install -m 644 conf/commis-system.yaml $(CONFDIR)/commis.yaml.example"; \
	    install -m 644 conf/commis-system.yaml "$(CONFDIR)/commis.yaml.example"; \
	    echo "make install: kept $(CONFDIR)/commis.yaml; the new example is commis.yaml.example"; \
	else \
	    echo "install -m 644 conf/commis-system.yaml $(CONFDIR)/commis.yaml"; \
	    install -m 644 conf/commis-system.yaml "$(CONFDIR)/commis.yaml"; \
	fi
	install -m 644 man/commis.1 "$(DESTDIR)$(MANDIR)/man1/commis.1"
	install -m 644 man/commis.yaml.5 "$(DESTDIR)$(MANDIR)/man5/commis.yaml.5"
	install -m 644 man/commisd.8 "$(DESTDIR)$(MANDIR)/man8/commisd.8"
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then \
	    ldconfig || true; \
	    getent passwd commis >/dev/null || echo "make install: no user" \
	    "commis yet; see docs/operations.md, \"Install\""; \
	fi

# Removes what install put there, except the config: it is the operator's.
uninstall:
	rm -f "$(DESTDIR)$(SBINDIR)/commisd" "$(DESTDIR)$(BINDIR)/commis" \
	    "$(DESTDIR)$(LIBDIR)/libcommis.a" "$(DESTDIR)$(LIBDIR)/libcommis.so" \
	    "$(DESTDIR)$(LIBDIR)/libcommis.so.1" \
	    "$(DESTDIR)$(PKGCONFIGDIR)/libcommis.pc" \
	    "$(DESTDIR)$(INCLUDEDIR)/commis/client.h" \
	    "$(DESTDIR)$(INCLUDEDIR)/commis/handler.h" \
	    "$(DESTDIR)$(INCLUDEDIR)/commis/proto.h" \
	    "$(DESTDIR)$(SYSTEMDUNITDIR)/commisd.service" \
	    "$(DESTDIR)$(SYSUSERSDIR)/commis.conf" \
	    "$(DESTDIR)$(MANDIR)/man1/commis.1" \
	    "$(DESTDIR)$(MANDIR)/man5/commis.yaml.5" \
	    "$(DESTDIR)$(MANDIR)/man8/commisd.8" \
	    "$(CONFDIR)/commis.yaml.example"
	rm -f "$(DESTDIR)$(MODULEDIR)/commis-thumbnail.so"
	rmdir "$(DESTDIR)$(INCLUDEDIR)/commis" 2>/dev/null || true
	rmdir "$(DESTDIR)$(MODULEDIR)" 2>/dev/null || true
	@if [ -e "$(CONFDIR)/commis.yaml" ]; then \
	    echo "make uninstall: kept $(CONFDIR)/commis.yaml"; fi
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" -eq 0 ]; then \
	    ldconfig || true; fi

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# Fuzzing (clang's libFuzzer with ASan and UBSan): tests/fuzz/fuzz_*.c,
# each run for FUZZ_SECONDS from the seeds in tests/fuzz/seeds/TARGET,
# keeping what it finds in build-fuzz/corpus-TARGET.
FUZZ_SECONDS ?= 30
FUZZ_CC	?= clang
FUZZ_FLAGS = -O1 -g -std=c11 -D_GNU_SOURCE -Iinclude -Isrc -Wall -Wextra \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS = frame msg seg config
FUZZ_SRCS_frame = src/frame.c src/msg.c
FUZZ_SRCS_msg = src/msg.c
FUZZ_SRCS_seg = src/seg.c
FUZZ_SRCS_config = src/config.c src/config_yaml.c src/config_keys.c src/log.c

.PHONY: fuzz fuzz-build
fuzz: deps
	scripts/deps.sh fuzz
	$(MAKE) fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p build-fuzz/corpus-$$t; \
	    seeds=tests/fuzz/seeds/$$t; \
	    echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	    if ! build-fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 build-fuzz/corpus-$$t $$seeds \
	        > build-fuzz/$$t.log 2>&1; then \
	        tail -40 build-fuzz/$$t.log; exit 1; fi; \
	    grep -E 'number_of_executed_units|peak_rss' build-fuzz/$$t.log; \
	    grep -E '^#[0-9]+.*cov: ' build-fuzz/$$t.log | tail -1; \
	done

fuzz-build: $(FUZZ_TARGETS:%=build-fuzz/fuzz_%)

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRCS) $(SUP_SRCS)
	@mkdir -p build-fuzz
	$(FUZZ_CC) $(FUZZ_FLAGS) $(PKG_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*) \
	    $(PKG_LIBS)

# Chaos harness (docs/reliability.md): jobs through a pool under random
# SIGKILL, SIGSTOP/SIGCONT and fault jobs, then checks that nothing was
# lost. Options go in CHAOS_ARGS, e.g. "--quick" (the CI size).
CHAOS_ARGS ?=

.PHONY: chaos chaos-run
chaos: deps
	$(MAKE) chaos-run

chaos-run: all $(BUILD)/commis-chaos $(BUILD)/testmod.so
	COMMIS_BUILD=$(abspath $(BUILD)) $(BUILD)/commis-chaos $(CHAOS_ARGS)

CHAOS_SRCS = tests/chaos/chaos.c tests/chaos/chaos_run.c \
	tests/chaos/chaos_check.c
$(BUILD)/commis-chaos: $(CHAOS_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/libcommis.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

# The integration suites with every commisd they start under valgrind
# (docs/reliability.md): tests/valgrind_run.sh runs VALGRIND_SUITES (SUITE
# or SUITE:TCASE; empty: every suite that starts a commisd), one log per
# process in $(BUILD)/valgrind, then tests/valgrind_check.sh fails unless
# every log shows no memcheck error, 0 bytes definitely lost, and no fd
# commisd opened itself still open at exit. Not part of .ci/run.
VALGRIND ?= valgrind
VALGRIND_DIR = $(BUILD)/valgrind
VALGRIND_SUITES ?=

.PHONY: valgrind
valgrind: all $(BUILD)/check_commis $(TESTMOD)
	COMMIS_BUILD=$(abspath $(BUILD)) VALGRIND="$(VALGRIND)" \
	    tests/valgrind_run.sh $(abspath $(VALGRIND_DIR)) $(VALGRIND_SUITES)

# Storage comparison for durable jobs (docs/storage.md): our own journal
# against SQLite in WAL mode and LMDB. zlib, sqlite3 and lmdb are needed
# by this target only (scripts/deps.sh storecmp), never by the normal
# build. Options go in STORECMP_ARGS, e.g. "-d /mnt/disk -o store.json".
STORECMP_ARGS ?=
STORECMP_PKGS = zlib sqlite3 lmdb

.PHONY: storecmp storecmp-run
storecmp:
	@sh scripts/deps.sh storecmp
	$(MAKE) storecmp-run

storecmp-run: $(BUILD)/commis-storecmp
	$(BUILD)/commis-storecmp $(STORECMP_ARGS)

$(BUILD)/bench/storecmp.o: PKG_CFLAGS = $(shell pkg-config --cflags \
	$(STORECMP_PKGS))
$(BUILD)/commis-storecmp: $(BUILD)/bench/storecmp.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ \
	    $(shell pkg-config --libs $(STORECMP_PKGS))
