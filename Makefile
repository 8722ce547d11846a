# Pirogue — plain GNU Makefile (see README.md).
#
# Layout contract (so modules can be added without editing this file):
#   common/ codec/ relay/ sync/ *.c   -> build/libpirogue.a  (library code, no main())
#   relay/main/pirogued.c             -> build/pirogued
#   tools/pirogue/*.c                 -> build/pirogue       (one file per subcommand)
#   tools/linksim/*.c                 -> build/linksim
#   tests/unit/test_*.c               -> build/tests/test_*  (cmocka, linked with libpirogue.a
#                                        and the shared helpers of tests/unit/util/)
#   tests/fuzz/fuzz_*.c               -> build/fuzz/fuzz_*   (clang libFuzzer, `make fuzz`)
#   bench/bench_*.c                   -> build/bench/bench_* (`make bench`)

PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   ?= build
CC      ?= cc

PKGS      := libevent libevent_pthreads opus vpx lmdb libsodium jansson speexdsp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lyuv -lm -lpthread
TEST_CFLAGS := $(shell pkg-config --cflags cmocka 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
# CFLAGS/LDFLAGS may be overridden on the command line; the flags the project needs are added
# in ALL_CFLAGS/ALL_LDFLAGS so they always apply.
CFLAGS   ?= -O2 -g
ALL_CFLAGS  = $(CFLAGS) -std=c11 -D_GNU_SOURCE $(WARN) -MMD -MP -I. $(PKG_CFLAGS) $(EXTRA_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(EXTRA_LDFLAGS)

ifeq ($(V),1)
Q :=
else
Q := @
endif

LIB_SRC   := $(wildcard common/*.c codec/*.c relay/*.c sync/*.c)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
PIROGUE_SRC  := $(wildcard tools/pirogue/*.c)
PIROGUED_SRC := $(wildcard relay/main/*.c)
LINKSIM_SRC  := $(wildcard tools/linksim/*.c)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
TESTUTIL_SRC := $(wildcard tests/unit/util/*.c)
TESTUTIL_OBJ := $(TESTUTIL_SRC:%.c=$(BUILD)/obj/%.o)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)

BINS := $(BUILD)/pirogue $(BUILD)/pirogued $(BUILD)/linksim

.SECONDARY:
.PHONY: all deps test test-only unit asan fuzz bench demo format format-check install clean
all: $(BINS) $(UNIT_BIN) $(BENCH_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libpirogue.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/pirogue: $(PIROGUE_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/libpirogue.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/pirogued: $(PIROGUED_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/libpirogue.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/linksim: $(LINKSIM_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/libpirogue.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(TESTUTIL_OBJ) $(BUILD)/libpirogue.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS) $(TEST_LIBS)

$(BUILD)/obj/tests/unit/%.o: EXTRA_CFLAGS += $(TEST_CFLAGS)
$(BUILD)/obj/tests/unit/util/%.o: EXTRA_CFLAGS += $(TEST_CFLAGS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/libpirogue.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Installs every build and test dependency from Debian's packages (no-op when present).
deps:
	$(Q)tools/deps.sh

# `make test` is the README's one command: deps, build, then the whole suite.
test: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tests/run.sh

# The suite without the deps step (used by `make asan`).
test-only: all
	$(Q)BUILD=$(BUILD) tests/run.sh

# The whole suite under AddressSanitizer + UBSan (any UB report aborts the test).
asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan \
		EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" CFLAGS="-O1 -g" test-only

# libFuzzer targets: the library is built once with clang (fuzzer-no-link + ASan + UBSan) into
# build-fuzz/, then each tests/fuzz/fuzz_*.c is linked against it; then a short smoke run of each.
FUZZ_BUILD  := build-fuzz
FUZZ_SAN    := -fsanitize=address,undefined -fno-omit-frame-pointer
fuzz: deps
	$(Q)$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang CFLAGS="-g -O1" \
		EXTRA_CFLAGS="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" $(FUZZ_BUILD)/libpirogue.a
	$(Q)mkdir -p $(FUZZ_BUILD)/fuzz
	$(Q)for f in $(FUZZ_SRC); do n=$$(basename $$f .c); echo "  FUZZ    $$n"; \
		clang -g -O1 -std=c11 -D_GNU_SOURCE $(WARN) -I. $(PKG_CFLAGS) -fsanitize=fuzzer $(FUZZ_SAN) \
		-o $(FUZZ_BUILD)/fuzz/$$n $$f $(FUZZ_BUILD)/libpirogue.a $(PKG_LIBS) -lstdc++ || exit 1; done
	$(Q)BUILD=$(FUZZ_BUILD) tests/fuzz/smoke.sh

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) bench/run.sh

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tools/demo.sh

ALL_C := $(shell find common codec relay sync tools tests bench -name '*.[ch]' 2>/dev/null)
format:
	$(Q)clang-format -i $(ALL_C)
format-check:
	$(Q)clang-format --dry-run --Werror $(ALL_C) && echo "format ok"

install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
