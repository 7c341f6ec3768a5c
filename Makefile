# attnviz — the two commands a fresh Debian machine with Swift needs:
#   make demo   set everything up and render the example report
#   make test   set everything up and run the tests
.PHONY: setup build demo test bench install clean

PREFIX ?= /usr/local

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

# The binary and its templates: PREFIX/bin/attnviz finds PREFIX/share/attnviz/templates.
install: build
	install -d "$(PREFIX)/bin" "$(PREFIX)/share/attnviz"
	install -m 755 "$$($(SWIFT) build -c release --show-bin-path)/attnviz" "$(PREFIX)/bin/attnviz"
	rm -rf "$(PREFIX)/share/attnviz/templates" && cp -r templates "$(PREFIX)/share/attnviz/templates"

clean:
	rm -rf .build output/*/
