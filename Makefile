# Thin glue so that a fresh Debian 12 machine needs two commands: `make run`, `make test`.
BUILD ?= build
JOBS ?= $(shell nproc)
DATA ?= ./data
DEBS := cmake g++ make pkg-config librocksdb-dev libflatbuffers-dev flatbuffers-compiler \
        libboost-dev libboost-system-dev libroaring-dev catch2 libsodium-dev libcli11-dev \
        libspdlog-dev nlohmann-json3-dev libicu-dev libidn2-dev

.PHONY: deps configure build run demo test clean bench

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

bench: build
	$(BUILD)/bin/accountable-append-bench

clean:
	rm -rf $(BUILD)
