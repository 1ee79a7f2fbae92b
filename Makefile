# dsd — build, test, demo, lint, bench.
SWIFT ?= swift
BUILD_FLAGS ?=
BIN := .build/debug

.PHONY: build test demo lint bench clean

build:
	$(SWIFT) build $(BUILD_FLAGS)

# Suites start real processes, mounts and network namespaces and measure timing: run them one
# at a time so they do not compete for the machine's cores.
test: build
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	$(SWIFT) test --skip-build --no-parallel $(BUILD_FLAGS)

demo: build
	mount-examples/demo-cluster.sh $(BIN)/dsd

lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

# Release build with the Swift runtime linked statically, as deployed: each
# process then maps one binary instead of a dozen shared libraries (about 5 MiB less RSS).
bench:
	$(SWIFT) build -c release --static-swift-stdlib
	.build/release/dsd-wal-tool bench
	.build/release/dsd-bench all

clean:
	rm -rf .build
