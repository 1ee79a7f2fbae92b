# dsd — build, test, demo, lint, bench.
SWIFT ?= swift
BUILD_FLAGS ?=
BIN := .build/debug

# make install: release build of dsd into $(DESTDIR)$(BINDIR), and mount(8)'s helper for the
# fuse.dsd type (mount-examples/fstab) as a link to it. install-bin installs an existing build
# (DSD=path) without building. MOUNT_HELPER_DIR= (empty) skips the helper link.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MOUNT_HELPER_DIR ?= /sbin
DESTDIR ?=
DSD ?= .build/release/dsd
INSTALL ?= install

.PHONY: build test demo lint bench clean release install install-bin uninstall

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

# The release binary as deployed (Swift runtime linked statically: it needs only libfuse3).
release:
	$(SWIFT) build -c release --static-swift-stdlib --product dsd $(BUILD_FLAGS)

# mount -t fuse.dsd looks for /sbin/mount.fuse.dsd first, then falls back to mount.fuse3, which
# runs `dsd` from mount's PATH (found only in /usr/local/bin or /usr/bin). The link makes an fstab
# line work for any PREFIX; as mount.fuse.dsd, dsd takes the same `SOURCE MOUNTPOINT -o OPTIONS`.
install: release
	$(MAKE) --no-print-directory install-bin DSD=.build/release/dsd

install-bin:
	@test -x "$(DSD)" || { echo "install: $(DSD) is not built; run 'make install' (release build) or pass DSD=path" >&2; exit 1; }
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)"
	$(INSTALL) -m 0755 "$(DSD)" "$(DESTDIR)$(BINDIR)/dsd"
ifneq ($(MOUNT_HELPER_DIR),)
	$(INSTALL) -d "$(DESTDIR)$(MOUNT_HELPER_DIR)"
	ln -sfn "$(BINDIR)/dsd" "$(DESTDIR)$(MOUNT_HELPER_DIR)/mount.fuse.dsd"
endif

uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/dsd"
ifneq ($(MOUNT_HELPER_DIR),)
	rm -f "$(DESTDIR)$(MOUNT_HELPER_DIR)/mount.fuse.dsd"
endif

clean:
	rm -rf .build
