# eroute: the KLIPS `ipsec eroute` command on the Linux XFRM policy table.
#
#   make demo     set up (packages, Go modules), then the manual's examples in
#                 throwaway network namespaces
#   make check    set up, then the whole test suite (root runs the kernel tests)
#   make build    bin/eroute and bin/ipsec
#   make install  PREFIX=/usr/local DESTDIR= : both programs, eroute(8),
#                 ipsec_spi(8), ipsec_spigrp(8), the systemd units and the
#                 bash completion
#   make deb      eroute_VERSION_ARCH.deb (dpkg-deb, checked with lintian)

GO      ?= go
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man/man8
UNITDIR ?= $(PREFIX)/lib/systemd/system
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
VERSION ?= 1.0.0
GOFLAGS_BUILD = -trimpath -ldflags "-s -w -X github.com/eroute/eroute/pkg/cli.VersionString=$(VERSION) -X github.com/eroute/eroute/pkg/spi.VersionString=$(VERSION)"

.PHONY: all build build-prof deps demo check test race unit integration vet fuzz install uninstall clean

all: build

build:
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o bin/eroute ./cmd/eroute
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o bin/ipsec ./cmd/ipsec

# build-prof builds bin/eroute-prof, which writes a CPU profile of its run to
# $EROUTE_CPUPROFILE (see docs/PERFORMANCE.md). The plain build leaves
# runtime/pprof out: its packages' start-up cost every process 5%.
build-prof:
	CGO_ENABLED=0 $(GO) build -tags erouteprof $(GOFLAGS_BUILD) -o bin/eroute-prof ./cmd/eroute

# deps installs what building and testing need on Debian (as root), once.
deps:
	./scripts/deps.sh

demo: deps build
	./scripts/demo.sh

check: deps test

test: vet race
	$(GO) test -count=1 ./...

# race runs the tests of the code that shares data between goroutines
# (the listing's sorting and writing, the snapshot's parallel look-ups,
# a batch's parsers, the listener and guard) under the race detector.
RACE_TESTS = Snapshot|RecordIndex|Listing|Chunk|Merge|Sync|Dup|OpsInPlace|Index|Listener|Guard|Fake
race:
	CGO_ENABLED=1 $(GO) test -count=1 -race -run '$(RACE_TESTS)' ./internal/... ./pkg/cli ./xfrm

unit: vet
	$(GO) test -count=1 ./pkg/... ./xfrm/... ./cmd/...

integration: build
	$(GO) test -count=1 -v ./integration/...

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.*') | tee /dev/stderr)" || (echo "gofmt: files above need formatting" >&2; exit 1)
	$(GO) vet ./...
	$(GO) vet -tags erouteprof ./cmd/...
	@# every package builds where there is no XFRM (the library's stubs),
	@# tests included (the kernel tests are Linux's alone by their build tags)
	GOOS=darwin $(GO) build ./...
	GOOS=freebsd $(GO) build ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=freebsd $(GO) vet ./...

# fuzz runs every fuzz target for FUZZTIME each (the seeds also run in `make test`).
FUZZTIME ?= 20s
fuzz:
	@for pkg in ./pkg/eroute ./pkg/cli ./pkg/spi ./xfrm; do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; \
	done

# bench measures eroute against its floor, iproute2 and a Go netlink peer on
# 100,000 and 300,000 policies, each in fresh namespaces (root), then runs
# every scripts/bench.d/*.sh (others' measurements): see docs/PERFORMANCE.md.
# QUICK=1 is a run of a minute or two; SIZES=, RANDOM_SIZES=, REPS=,
# SINGLES=, PEERS=0 (eroute and its floor only) pass on; BENCH_D=0 leaves
# scripts/bench.d out.
.PHONY: bench
bench: build
	./scripts/bench.sh
	@[ "$${BENCH_D:-1}" = 0 ] || for f in scripts/bench.d/*.sh; do \
	  [ -e "$$f" ] || continue; \
	  echo; echo "== $$f"; \
	  bash "$$f" || exit 1; \
	done

install: build install-units install-completion
	install -D -m 0755 bin/eroute $(DESTDIR)$(BINDIR)/eroute
	install -D -m 0755 bin/ipsec $(DESTDIR)$(BINDIR)/ipsec
	install -D -m 0644 docs/eroute.8 $(DESTDIR)$(MANDIR)/eroute.8
	ln -sf eroute.8 $(DESTDIR)$(MANDIR)/ipsec_eroute.8
	install -D -m 0644 docs/ipsec_spi.8 $(DESTDIR)$(MANDIR)/ipsec_spi.8
	install -D -m 0644 docs/ipsec_spigrp.8 $(DESTDIR)$(MANDIR)/ipsec_spigrp.8

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/eroute $(DESTDIR)$(BINDIR)/ipsec
	rm -f $(DESTDIR)$(MANDIR)/eroute.8 $(DESTDIR)$(MANDIR)/ipsec_eroute.8
	rm -f $(DESTDIR)$(MANDIR)/ipsec_spi.8 $(DESTDIR)$(MANDIR)/ipsec_spigrp.8
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) $(DESTDIR)$(COMPLETIONDIR)/eroute

# The systemd units (packaging/systemd, see README "Keeping tables across
# reboots"), with the path of eroute written in.
UNITS = eroute-restore.service eroute-save.service eroute-monitor@.service
.PHONY: install-units install-completion deb
install-units:
	install -d -m 0755 $(DESTDIR)$(UNITDIR)
	for u in $(UNITS); do \
	  sed 's|@SBINDIR@|$(BINDIR)|g' packaging/systemd/$$u >$(DESTDIR)$(UNITDIR)/$$u && \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done

install-completion:
	install -D -m 0644 packaging/bash-completion/eroute $(DESTDIR)$(COMPLETIONDIR)/eroute

# deb builds eroute_$(VERSION)_ARCH.deb here with dpkg-deb (no network,
# no debhelper) and runs lintian on it: see scripts/deb.sh.
deb: build
	VERSION=$(VERSION) ./scripts/deb.sh

clean:
	rm -rf bin

# vm-test boots Debian's stock kernel (which has ESP, AH and IPCOMP) under qemu
# on a root file system it builds with debootstrap (cached in .vm/), and runs
# scripts/vm/suite.sh there: SA eroutes checked on the wire (root). KVM when
# usable, else TCG; VM_ACCEL=tcg|kvm, VM_SUITE_ONLY=REGEXP: see scripts/vm/run.sh.
.PHONY: vm-test
vm-test: build deb bin/xfrm.test
	./scripts/deps-vm.sh
	./scripts/vm/run.sh

# bin/xfrm.test is the xfrm package's test binary, which the VM suite runs for
# the tests that need a kernel with ESP (scripts/vm/suite.d/xfrmlib.sh).
.PHONY: bin/xfrm.test
bin/xfrm.test:
	CGO_ENABLED=0 $(GO) test -c -o bin/xfrm.test ./xfrm
