# attnviz — the two commands a fresh Debian machine with Swift needs:
#   make demo   set everything up and render the example report
#   make test   set everything up and run the tests
.PHONY: setup build demo test bench fuzz install clean

PREFIX ?= /usr/local

SWIFT ?= swift
EXAMPLE ?= examples/sentence.txt
# Release builds are tuned for the CPU that builds them (measured: forward pass 9% faster here,
# AVX-512 element-wise loops instead of SSE2). NATIVE=0 builds a binary for any x86-64.
NATIVE ?= 1
RELEASE := -c release $(if $(and $(filter 1,$(NATIVE)),$(filter x86_64,$(shell uname -m))),-Xswiftc -target-cpu -Xswiftc native)

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build $(RELEASE) --product attnviz

demo: build
	@bash scripts/demo.sh "$(EXAMPLE)"

test: setup
	@bash scripts/test.sh

bench: setup
	$(SWIFT) build $(RELEASE) --product attnviz-bench
	$(SWIFT) build $(RELEASE) --product attnviz
	@bash scripts/bench.sh
	@bash scripts/bench-train.sh

# libFuzzer targets for everything read from files (README, "Fuzzing"); FUZZ_TIME seconds each.
fuzz: setup
	@bash scripts/fuzz.sh

# The binary and its templates: PREFIX/bin/attnviz finds PREFIX/share/attnviz/templates.
install: build
	install -d "$(PREFIX)/bin" "$(PREFIX)/share/attnviz"
	install -m 755 "$$($(SWIFT) build -c release --show-bin-path)/attnviz" "$(PREFIX)/bin/attnviz"
	rm -rf "$(PREFIX)/share/attnviz/templates" && cp -r templates "$(PREFIX)/share/attnviz/templates"

clean:
	rm -rf .build .build-fuzz output/*/
