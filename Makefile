# commis — GNU Makefile. Dependencies come from pkg-config; `make deps`
# installs the Debian packages that are missing.

BUILD	?= build
CC	?= cc
CFLAGS	?= -O2 -g
PREFIX	?= /usr/local
DESTDIR	?=
SYSCONFDIR ?= /etc

PKGS	= libevent yaml-0.1 libcrypto
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
LIB_SRCS = src/msg.c src/frame.c src/seg.c src/client.c
# commisd without its main(), so that tests link every other object.
SUP_SRCS = src/log.c src/config.c src/config_keys.c src/chan.c src/queue.c src/idmap.c \
	src/job.c src/dispatch.c src/admin.c \
	src/pool.c src/control.c src/stats.c src/sup.c src/worker.c \
	src/host.c src/handlers.c src/builtins.c
CLI_SRCS = src/cli.c src/cli_bench.c src/cli_bench_stats.c src/cli_bench_run.c \
	src/cli_bench_out.c
TEST_SRCS = $(wildcard tests/check_*.c) tests/testlib.c

LIB_OBJS  = $(LIB_SRCS:%.c=$(BUILD)/%.o)
SUP_OBJS  = $(SUP_SRCS:%.c=$(BUILD)/%.o)
CLI_OBJS  = $(CLI_SRCS:%.c=$(BUILD)/%.o)
TEST_OBJS = $(TEST_SRCS:%.c=$(BUILD)/%.o)

BINS = $(BUILD)/commisd $(BUILD)/commis $(BUILD)/libcommis.a \
	$(BUILD)/libcommis.so
TESTMOD = $(BUILD)/testmod.so $(BUILD)/testmod_badabi.so

.PHONY: all check asan run deps clean install test-run config-doc \
	bench bench-run
all: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(TEST_CFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/libcommis.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libcommis.so: $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-soname,libcommis.so.1 -o $@ $^

$(BUILD)/commisd: $(BUILD)/src/commisd.o $(SUP_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) -ldl

$(BUILD)/commis: $(BUILD)/src/commis.o $(CLI_OBJS) $(BUILD)/src/config.o \
	$(BUILD)/src/config_keys.o $(BUILD)/src/log.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/check_commis: $(TEST_OBJS) $(SUP_OBJS) $(CLI_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS) -ldl

$(BUILD)/commis-bench: $(BUILD)/bench/bench.o $(BUILD)/libcommis.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^

$(BUILD)/testmod.so: tests/modules/testmod.c include/commis/handler.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -shared -o $@ $<

$(BUILD)/testmod_badabi.so: tests/modules/testmod.c include/commis/handler.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DTESTMOD_BADABI $(CFLAGS) -shared -o $@ $<

# The README's test command: installs what is missing, builds, runs every
# Check suite (unit and integration) against the binaries just built.
check: deps
	$(MAKE) test-run

test-run: all $(BUILD)/check_commis $(TESTMOD)
	COMMIS_BUILD=$(abspath $(BUILD)) $(BUILD)/check_commis

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

config-doc: $(BUILD)/commisd
	$(BUILD)/commisd --config-doc > docs/configuration.md

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
	    $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include/commis
	install -m 755 $(BUILD)/commisd $(DESTDIR)$(PREFIX)/sbin/commisd
	install -m 755 $(BUILD)/commis $(DESTDIR)$(PREFIX)/bin/commis
	install -m 644 $(BUILD)/libcommis.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libcommis.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/commis/*.h $(DESTDIR)$(PREFIX)/include/commis/

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
