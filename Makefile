# attnviz — the two commands a fresh Debian machine with Swift needs:
#   make demo   set everything up and render the example report
#   make test   set everything up and run the tests
.PHONY: setup build demo test bench clean

SWIFT ?= swift
EXAMPLE ?= examples/sentence.txt

setup:
	@bash scripts/setup.sh

build: setup
	$(SWIFT) build -c release --product attnviz

demo: build
	@bash scripts/demo.sh "$(EXAMPLE)"

test: setup
	@bash scripts/test.sh

bench: setup
	$(SWIFT) build -c release --product attnviz-bench
	@bash scripts/bench.sh

clean:
	rm -rf .build output/*/
