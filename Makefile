# Thin glue so that a fresh Debian 12 machine needs two commands: `make run`, `make test`.
# `make check` runs the same suite under ASan+UBSan in its own build dir;
# `make fuzz SECONDS=N` builds the libFuzzer harnesses with clang and runs each N s.
BUILD ?= build
CHECK_BUILD ?= build-check
FUZZ_BUILD ?= build-fuzz
SECONDS ?= 10
FUZZERS := request envelope import bitmap audit
JOBS ?= $(shell nproc)
DATA ?= ./data
DEBS := cmake g++ make pkg-config librocksdb-dev libflatbuffers-dev flatbuffers-compiler \
        libboost-dev libboost-system-dev libroaring-dev catch2 libsodium-dev libcli11-dev \
        libspdlog-dev nlohmann-json3-dev libicu-dev libidn2-dev prometheus-cpp-dev libcivetweb-dev dpkg-dev libssl-dev libjs-chart.js \
        nats-server libnats-dev
# Only the tests need a browser: the [browser] test opens a compliance report
# in headless Chromium.
TEST_DEBS := chromium
# Only `make fuzz` needs clang; libFuzzer's runtime is a separate package
# that clang-14 merely recommends on Debian 12.
FUZZ_DEBS := clang libclang-rt-14-dev

.PHONY: deps configure build run demo test check fuzz fuzz-build fuzz-seeds clean bench

deps:
	@missing=$$(for p in $(DEBS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

configure: deps
	@[ -f $(BUILD)/CMakeCache.txt ] || cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./server/daemon/run.sh $(BUILD) $(DATA)

demo: build
	./server/cli/demo.sh $(BUILD) $(DATA)

test: build
	@$(MAKE) --no-print-directory deps DEBS="$(TEST_DEBS)"
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# ASan+UBSan, halting at the first report: a finding fails the test that
# caused it. Separate dir so the Release build is never mixed with it.
# -O1 -g1: about half the compile time of -O2 -g on 2 cores, still with file
# and line in every report. detect_leaks=0: LeakSanitizer needs ptrace, which
# containers often refuse.
check: deps
	@$(MAKE) --no-print-directory deps DEBS="$(TEST_DEBS)"
	@[ -f $(CHECK_BUILD)/CMakeCache.txt ] || cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DACCOUNTABLE_SANITIZE=ON >/dev/null
	cmake --build $(CHECK_BUILD) -j $(JOBS)
	cd $(CHECK_BUILD) && ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=0 \
	  UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# libFuzzer harnesses (tests/fuzz/): clang, ASan+UBSan, -O1 with assertions
# on. Each fuzzer runs SECONDS on a copy of its seed corpus in
# $(FUZZ_BUILD)/run/<name>/ (the repository's corpus is never written);
# a crash, sanitizer report or 30 s hang stops `make fuzz` and leaves the
# input as $(FUZZ_BUILD)/run/<name>/crash-* (or timeout-*).
fuzz-build:
	@$(MAKE) --no-print-directory deps DEBS="$(FUZZ_DEBS)"
	@[ -f $(FUZZ_BUILD)/CMakeCache.txt ] || CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DACCOUNTABLE_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzzers

fuzz: fuzz-build
	@for f in $(FUZZERS); do \
	  run=$(FUZZ_BUILD)/run/$$f; rm -rf $$run; mkdir -p $$run/corpus $$run/tmp; \
	  cp tests/fuzz/corpus/$$f/* $$run/corpus/; \
	  if ! (cd $$run && TMPDIR=$$PWD/tmp UBSAN_OPTIONS=print_stacktrace=1 \
	        ../../bin/fuzz-$$f -max_total_time=$(SECONDS) -timeout=30 \
	        -print_final_stats=1 corpus >log 2>&1); then \
	    tail -40 $$run/log; echo "fuzz-$$f: FAILED, input and log in $$run/"; exit 1; fi; \
	  echo "fuzz-$$f: $$(grep -E '^#[0-9]+[[:space:]]+DONE' $$run/log | tr -s ' \t' ' ')"; \
	done

# Rewrites the generated seeds in tests/fuzz/corpus from a fresh ledger
# (tests/fuzz/make_seeds.cc); the regression-* seeds (past crashes) stay.
fuzz-seeds: fuzz-build
	$(FUZZ_BUILD)/bin/fuzz-make-seeds tests/fuzz/corpus

bench: build
	$(BUILD)/bin/accountable-append-bench

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(FUZZ_BUILD)
