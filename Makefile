# mod_reqprof — build, test, demo and install.
#   make demo     build and start a throwaway httpd with the module and a workload
#   make test     unit tests (plain and under valgrind) and integration tests
#   make install  install into the system httpd (apxs -i) and Debian's mods-available
#   make bench    overhead, accuracy and report-cost figures into README.md

APXS      ?= apxs
OUT       := build/out
APR_CFLAGS := $(shell apr-1-config --cppflags --includes 2>/dev/null) \
              $(shell apu-1-config --includes 2>/dev/null)
HTTPD_INC := -I$(shell $(APXS) -q INCLUDEDIR 2>/dev/null)
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -fPIC $(WARN) -fno-omit-frame-pointer
CORE_LIBS := -lunwind -ldw -lpthread -lz
APR_LIBS  := $(shell apr-1-config --link-ld --libs 2>/dev/null)

CORE_SRC  := $(addprefix mod_reqprof/,rp_buf.c rp_interval.c rp_trigger.c \
             rp_sampler.c rp_proc.c rp_unwind.c rp_dwfl.c rp_symbols.c rp_tree.c rp_profile.c rp_phase.c rp_html.c \
             rp_export.c rp_text.c rp_collapsed.c rp_speedscope.c rp_json.c rp_pprof.c)
CORE_OBJ  := $(CORE_SRC:mod_reqprof/%.c=$(OUT)/%.o)
MODULE    := $(OUT)/mod_reqprof.so
WORKLOAD  := $(OUT)/mod_rpwork.so
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BIN  := $(OUT)/unit_tests

.PHONY: all deps module test unit unit-valgrind integration demo install \
        format lint clean bench

all: $(MODULE) $(WORKLOAD)

deps:
	bash build/install-deps.sh

$(OUT):
	mkdir -p $(OUT)

$(OUT)/%.o: mod_reqprof/%.c mod_reqprof/*.h | $(OUT)
	$(CC) $(CFLAGS) $(APR_CFLAGS) $(HTTPD_INC) -c $< -o $@

GLUE_OBJ  := $(OUT)/mod_reqprof.o $(OUT)/mod_reqprof_config.o \
             $(OUT)/mod_reqprof_output.o

$(MODULE): $(CORE_OBJ) $(GLUE_OBJ)
	$(CC) -shared -o $@ $^ $(CORE_LIBS)

$(WORKLOAD): tests/workload/mod_rpwork.c | $(OUT)
	$(CC) $(CFLAGS) $(APR_CFLAGS) $(HTTPD_INC) -shared -o $@ $<

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

integration: all
	/usr/bin/python3 -m pytest -q tests/integration

test: deps
	$(MAKE) all unit unit-valgrind integration

demo: deps
	$(MAKE) all
	/usr/bin/python3 build/demo.py

# Overhead, accuracy and report-cost figures, written into README.md between
# <!-- bench:start --> and <!-- bench:end --> (raw: build/out/bench.json).
bench: deps
	$(MAKE) all
	/usr/bin/python3 bench/run.py

install: $(MODULE)
	$(APXS) -i -n reqprof $(MODULE)
	install -m 644 conf-examples/reqprof.load conf-examples/reqprof.conf \
	  $(shell $(APXS) -q SYSCONFDIR)/mods-available/

format:
	clang-format -i mod_reqprof/*.c mod_reqprof/*.h tests/unit/*.c \
	  tests/unit/*.h tests/workload/*.c

lint:
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --suppress=missingIncludeSystem -Imod_reqprof \
	  mod_reqprof tests/workload

clean:
	rm -rf $(OUT)
