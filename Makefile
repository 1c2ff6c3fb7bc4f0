# Thin glue so that a fresh Debian 12 machine needs two commands: `make run`, `make test`.
# `make check` runs the same suite under ASan+UBSan in its own build dir.
BUILD ?= build
CHECK_BUILD ?= build-check
JOBS ?= $(shell nproc)
DATA ?= ./data
DEBS := cmake g++ make pkg-config librocksdb-dev libflatbuffers-dev flatbuffers-compiler \
        libboost-dev libboost-system-dev libroaring-dev catch2 libsodium-dev libcli11-dev \
        libspdlog-dev nlohmann-json3-dev libicu-dev libidn2-dev

.PHONY: deps configure build run demo test check clean bench

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
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# ASan+UBSan, halting at the first report: a finding fails the test that
# caused it. Separate dir so the Release build is never mixed with it.
# -O1 -g1: about half the compile time of -O2 -g on 2 cores, still with file
# and line in every report. detect_leaks=0: LeakSanitizer needs ptrace, which
# containers often refuse.
check: deps
	@[ -f $(CHECK_BUILD)/CMakeCache.txt ] || cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DACCOUNTABLE_SANITIZE=ON >/dev/null
	cmake --build $(CHECK_BUILD) -j $(JOBS)
	cd $(CHECK_BUILD) && ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=0 \
	  UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

bench: build
	$(BUILD)/bin/accountable-append-bench

clean:
	rm -rf $(BUILD) $(CHECK_BUILD)
