# mod_reqprof — build, test, demo and install (x86-64 Linux only).
#   make demo     build and start a throwaway httpd with the module and a workload
#   make test     unit tests (plain, under valgrind, under ASan+UBSan) and integration tests
#   make install  install into the system httpd (apxs -i) and Debian's mods-available
#   make deb      the Debian package libapache2-mod-reqprof into build/out/deb/
#   make bench    overhead, accuracy and report-cost figures into docs/benchmarks.md
#   make deps-build | deps-demo | deps-test   the Debian packages that make, make demo
#                 or make test need (build/install-deps.sh; deps = deps-test); make demo
#                 and make test run theirs first. No running server is stopped.
#   make fuzz     libFuzzer targets (tests/fuzz/), FUZZ_SECONDS each (make test: 8 s)
#   make soak     the long soak: SOAK_REQUESTS (10000) mixed requests per MPM

# The sampler reads an interrupted thread's x86-64 registers (REG_RIP) and
# Linux's /proc, so the module builds and runs on x86-64 Linux only. Said here,
# before anything is installed or compiled, by every goal that builds; the
# compiler's target (cc -dumpmachine) decides, uname where there is no compiler
# yet. deps-*, clean, format and lint run anywhere.
RP_HOST_OS := $(shell uname -s 2>/dev/null)
RP_TARGET  := $(shell $(CC) -dumpmachine 2>/dev/null)
RP_ARCH    := $(if $(RP_TARGET),$(firstword $(subst -, ,$(RP_TARGET))),$(shell uname -m 2>/dev/null))
RP_OS      := $(if $(RP_TARGET),$(if $(findstring -linux,$(RP_TARGET)),Linux,$(RP_TARGET)),$(RP_HOST_OS))
ifneq ($(filter-out deps deps-build deps-demo deps-test clean format lint,$(or $(MAKECMDGOALS),all)),)
ifneq ($(RP_HOST_OS)/$(RP_OS)/$(RP_ARCH),Linux/Linux/x86_64)
$(error mod_reqprof builds and runs on x86-64 Linux only: its sampler reads x86-64 registers (REG_RIP) and /proc. This is $(RP_HOST_OS) $(shell uname -m 2>/dev/null)$(if $(RP_TARGET), with a compiler for $(RP_TARGET)). Nothing was built)
endif
endif

APXS      ?= apxs
PYTHON    ?= python3
OUT       := build/out
APR_CFLAGS := $(shell apr-1-config --cppflags --includes 2>/dev/null) \
              $(shell apu-1-config --includes 2>/dev/null)
HTTPD_INC := -I$(shell $(APXS) -q INCLUDEDIR 2>/dev/null)
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -fPIC $(WARN) -fno-omit-frame-pointer
CORE_LIBS := -lunwind -ldw -lelf -lpthread -lz -lhiredis
APR_LIBS  := $(shell apr-1-config --link-ld --libs 2>/dev/null)

CORE_SRC  := $(addprefix mod_reqprof/,rp_buf.c rp_interval.c rp_format.c rp_trigger.c \
             rp_sampler.c rp_syscall_site.c rp_proc.c rp_unwind.c rp_dwfl.c rp_symbols.c rp_tree.c rp_profile.c rp_phase.c rp_html.c \
             rp_html_data.c rp_export.c rp_fold.c rp_text.c rp_collapsed.c rp_speedscope.c rp_json.c \
             rp_pprof.c rp_collapse.c)
# Script frames: PHP's and Lua's functions spliced into the native stacks.
CORE_SRC  += $(addprefix mod_reqprof/,rp_script.c rp_php.c rp_lua.c)
# Log mode and saved profiles: logfmt records, sidecars, the profile store, the
# index.
CORE_SRC  += $(addprefix mod_reqprof/,rp_logfmt.c rp_record.c rp_sidecar.c rp_store.c \
             rp_index.c)
# The profile stores: a directory (rp_store) or a shared Redis (rp_redis),
# behind one interface.
CORE_SRC  += $(addprefix mod_reqprof/,rp_store_target.c rp_redis.c rp_pstore.c rp_group.c \
             rp_stacks.c rp_diffgraph.c)
# The report's script and stylesheet, compiled in as C strings.
ASSETS    := mod_reqprof/rp_html_app.js mod_reqprof/rp_html_app.css
ASSETS_C  := $(OUT)/rp_html_assets.c
# PHP's data layout, from the headers of the PHP installed here (php8.2-dev):
# the one file compiled with them (as system headers: their warnings are not
# ours). Without them the module is built without PHP frames, and says so
# where it finds a PHP engine.
PHP_CONFIG ?= php-config8.2
PHP_INC   := $(shell $(PHP_CONFIG) --includes 2>/dev/null)
PHP_LAYOUT_FLAGS := $(if $(PHP_INC),$(subst -I,-isystem ,$(PHP_INC)),-DRP_NO_PHP)
CORE_OBJ  := $(CORE_SRC:mod_reqprof/%.c=$(OUT)/%.o) $(OUT)/rp_html_assets.o \
             $(OUT)/rp_php_layout.o
MODULE    := $(OUT)/mod_reqprof.so
WORKLOAD  := $(OUT)/mod_rpwork.so
# A module with its own handler on a realtime signal (signal collision tests).
SIGHOG    := $(OUT)/mod_rpsighog.so
UNIT_SRC  := $(wildcard tests/unit/test_*.c) tests/unit/php_image.c
UNIT_BIN  := $(OUT)/unit_tests

.PHONY: all deps deps-build deps-demo deps-test module test unit unit-valgrind unit-asan integration demo install bench-waits \
        format lint clean bench fuzz fuzz-build soak

# An object posing as a PHP engine of another version (the PHP tests).
FAKEZEND  := $(OUT)/libfakezend.so

all: $(MODULE) $(WORKLOAD) $(SIGHOG) $(FAKEZEND)

# The Debian packages each task needs (build/install-deps.sh says what it
# installs; packages already present are skipped; a running apache2 is never
# stopped or restarted). deps is the full set, make test's.
deps: deps-test

deps-build:
	bash build/install-deps.sh build

deps-demo:
	bash build/install-deps.sh demo

deps-test:
	bash build/install-deps.sh test

$(OUT):
	mkdir -p $(OUT)

$(OUT)/%.o: mod_reqprof/%.c mod_reqprof/*.h | $(OUT)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(APR_CFLAGS) $(HTTPD_INC) -c $< -o $@

$(ASSETS_C): build/embed_assets.py $(ASSETS) | $(OUT)
	$(PYTHON) build/embed_assets.py $@ rp_html_app_js=mod_reqprof/rp_html_app.js \
	  rp_html_app_css=mod_reqprof/rp_html_app.css

$(OUT)/rp_html_assets.o: $(ASSETS_C) mod_reqprof/rp_html_assets.h
	$(CC) $(CPPFLAGS) $(CFLAGS) $(APR_CFLAGS) -Imod_reqprof -c $< -o $@

$(OUT)/rp_php_layout.o: mod_reqprof/rp_php_layout.c mod_reqprof/rp_php.h \
                        mod_reqprof/rp_script.h | $(OUT)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(PHP_LAYOUT_FLAGS) -Imod_reqprof -c $< -o $@

GLUE_OBJ  := $(OUT)/mod_reqprof.o $(OUT)/mod_reqprof_config.o \
             $(OUT)/mod_reqprof_process.o $(OUT)/mod_reqprof_request.o \
             $(OUT)/mod_reqprof_decide.o $(OUT)/mod_reqprof_capture.o \
             $(OUT)/mod_reqprof_output.o
GLUE_OBJ  += $(OUT)/mod_reqprof_log.o $(OUT)/mod_reqprof_index.o \
             $(OUT)/mod_reqprof_cache.o $(OUT)/mod_reqprof_store.o \
             $(OUT)/mod_reqprof_engines.o

$(MODULE): $(CORE_OBJ) $(GLUE_OBJ) build/mod_reqprof.map
	$(CC) $(LDFLAGS) -shared -Wl,--version-script=build/mod_reqprof.map \
	  -o $@ $(CORE_OBJ) $(GLUE_OBJ) $(CORE_LIBS)

# The module alone (what the Debian package builds and ships).
module: $(MODULE)

$(WORKLOAD): tests/workload/mod_rpwork.c | $(OUT)
	$(CC) $(CFLAGS) $(APR_CFLAGS) $(HTTPD_INC) -shared -o $@ $<

$(SIGHOG): tests/workload/mod_rpsighog.c | $(OUT)
	$(CC) $(CFLAGS) $(APR_CFLAGS) $(HTTPD_INC) -shared -o $@ $<

$(FAKEZEND): tests/workload/fake_zend.c | $(OUT)
	$(CC) $(CFLAGS) -shared -o $@ $<

$(UNIT_BIN): $(UNIT_SRC) tests/unit/*.h $(CORE_OBJ)
	$(CC) $(CFLAGS) $(APR_CFLAGS) -Imod_reqprof -o $@ $(UNIT_SRC) $(CORE_OBJ) \
	  $(shell pkg-config --libs check) $(APR_LIBS) $(CORE_LIBS) -lrt -lm

unit: $(UNIT_BIN)
	$(UNIT_BIN)

# CK_FORK=no keeps every test in one process, so valgrind sees all of it.
unit-valgrind: $(UNIT_BIN)
	CK_FORK=no RP_UNDER_VALGRIND=1 valgrind --quiet --error-exitcode=99 \
	  --leak-check=full --errors-for-leak-kinds=definite \
	  $(UNIT_BIN)

# The same unit tests with the core built under AddressSanitizer and
# UndefinedBehaviorSanitizer (any report fails the run).
ASAN_OUT  := $(OUT)/asan
ASAN_SAN  := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
             -fno-sanitize-recover=all
ASAN_CORE := $(CORE_SRC:mod_reqprof/%.c=$(ASAN_OUT)/%.o)
ASAN_GEN  := $(filter-out $(CORE_SRC:mod_reqprof/%.c=$(OUT)/%.o),$(CORE_OBJ))

$(ASAN_OUT):
	mkdir -p $@

$(ASAN_OUT)/%.o: mod_reqprof/%.c mod_reqprof/*.h | $(ASAN_OUT)
	$(CC) $(ASAN_SAN) -std=gnu11 -Wall -Wextra -Werror $(APR_CFLAGS) \
	  -Imod_reqprof -c $< -o $@

$(ASAN_OUT)/unit_tests: $(UNIT_SRC) tests/unit/*.h $(ASAN_CORE) $(ASAN_GEN)
	$(CC) $(ASAN_SAN) -std=gnu11 $(APR_CFLAGS) -Imod_reqprof -o $@ $(UNIT_SRC) \
	  $(ASAN_CORE) $(ASAN_GEN) $(shell pkg-config --libs check) $(APR_LIBS) \
	  $(CORE_LIBS) -lrt -lm

unit-asan: $(ASAN_OUT)/unit_tests
	CK_FORK=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  UBSAN_OPTIONS=print_stacktrace=1 $(ASAN_OUT)/unit_tests

# -rs lists every skipped test with its reason in the summary.
integration: all
	/usr/bin/python3 -m pytest -q -rs tests/integration

test: deps-test
	$(MAKE) all unit unit-valgrind unit-asan integration
	$(MAKE) fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS)

demo: deps-demo
	$(MAKE) all
	/usr/bin/python3 build/demo.py

# Overhead, accuracy and report-cost figures, written into docs/benchmarks.md between
# <!-- bench:start --> and <!-- bench:end --> (raw: build/out/bench.json).
bench: deps
	$(MAKE) all
	/usr/bin/python3 bench/run.py

# Which blocking calls the sampler can interrupt and restart where /proc
# hides blocked threads' registers (a table for docs/internals.md).
$(OUT)/wait_restart: bench/wait_restart.c $(CORE_OBJ)
	$(CC) $(CFLAGS) $(APR_CFLAGS) -Imod_reqprof -o $@ $< $(CORE_OBJ) \
	  $(APR_LIBS) $(CORE_LIBS) -lrt

bench-waits: $(OUT)/wait_restart
	$(OUT)/wait_restart

install: $(MODULE)
	$(APXS) -i -n reqprof $(MODULE)
	install -m 644 conf-examples/reqprof.load conf-examples/reqprof.conf \
	  $(shell $(APXS) -q SYSCONFDIR)/mods-available/

# The Debian package (debian/), built by dpkg-buildpackage from a copy of the
# working tree; the .deb files land in build/out/deb/. deb-test builds it,
# checks it with lintian and installs, uses, removes and purges it in the
# system's apache2 (root; part of the integration tests too).
.PHONY: deb deb-test
deb:
	bash build/deb.sh $(OUT)

deb-test:
	/usr/bin/python3 -m pytest -q tests/integration/test_debian_package.py

format:
	clang-format -i mod_reqprof/*.c mod_reqprof/*.h tests/unit/*.c \
	  tests/unit/*.h tests/workload/*.c

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -Imod_reqprof \
	  mod_reqprof tests/workload

clean:
	rm -rf $(OUT)

# ---- fuzzing -------------------------------------------------------------------
# libFuzzer targets (tests/fuzz/) for every parser of request-derived or
# configuration input and for the renderers, linked against the core sources
# compiled with AddressSanitizer and UndefinedBehaviorSanitizer (clang).
# `make fuzz` runs each for FUZZ_SECONDS from the seeds in tests/fuzz/corpus/;
# what it learns stays in build/out/fuzz/corpus-*, crashes in build/out/fuzz/.
FUZZ_CC       ?= clang
FUZZ_SECONDS  ?= 20
TEST_FUZZ_SECONDS ?= 8
FUZZ_TARGETS  := trigger duration proc buf render stacks script
FUZZ_OUT      := $(OUT)/fuzz
FUZZ_SAN      := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
                 -fno-sanitize-recover=all
FUZZ_CORE_OBJ := $(CORE_SRC:mod_reqprof/%.c=$(FUZZ_OUT)/obj/%.o)
# Objects of CORE_OBJ not built from CORE_SRC (generated data) link as they are.
FUZZ_GEN_OBJ  := $(filter-out $(CORE_SRC:mod_reqprof/%.c=$(OUT)/%.o),$(CORE_OBJ))
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_OUT)/fuzz_%)

$(FUZZ_OUT)/obj:
	mkdir -p $@

$(FUZZ_OUT)/obj/%.o: mod_reqprof/%.c mod_reqprof/*.h | $(FUZZ_OUT)/obj
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -std=gnu11 $(APR_CFLAGS) \
	  $(HTTPD_INC) -Imod_reqprof -c $< -o $@

$(FUZZ_OUT)/libcore.a: $(FUZZ_CORE_OBJ)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_OUT)/libcore.a \
                    $(FUZZ_GEN_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -std=gnu11 -Wall -Wextra $(APR_CFLAGS) \
	  -Imod_reqprof -o $@ $< $(FUZZ_OUT)/libcore.a $(FUZZ_GEN_OBJ) $(APR_LIBS) \
	  $(CORE_LIBS) -lm

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_OUT)/corpus-$$t; \
	  log=$(FUZZ_OUT)/fuzz_$$t.log; \
	  if ! $(FUZZ_OUT)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	       -rss_limit_mb=2048 -print_final_stats=1 \
	       -artifact_prefix=$(FUZZ_OUT)/crash-$$t- \
	       $(FUZZ_OUT)/corpus-$$t tests/fuzz/corpus/$$t >$$log 2>&1; then \
	    tail -n 60 $$log; echo "fuzz_$$t FAILED (input saved as $(FUZZ_OUT)/crash-$$t-*)"; \
	    exit 1; \
	  fi; \
	  echo "fuzz_$$t: $$(grep -o 'number_of_executed_units: *[0-9]*' $$log | grep -o '[0-9]*$$') runs in $(FUZZ_SECONDS) s, no failure"; \
	done

# The soak in its long form (make test runs it with 1500 requests per MPM).
soak: deps
	$(MAKE) all
	SOAK_REQUESTS=$(SOAK_REQUESTS) /usr/bin/python3 -m pytest -q -s tests/integration/test_soak.py
SOAK_REQUESTS ?= 10000
