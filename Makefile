# smsgw — the two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     ?= bin/smsgw
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
FUZZTIME ?= 30s

.PHONY: build run test test-short bench fuzz lint soak interop clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/smsgw

run: build
	$(BIN) serve

# vet + the whole suite with the race detector; must stay under 10 minutes.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 9m ./...

test-short:
	$(GO) test -count=1 -short ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...

# Each fuzz target for FUZZTIME (go test allows one -fuzz target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# An SMPP implementation not written here (npm 'smpp') against the simulator.
interop: build
	SMSGW_BIN=$(CURDIR)/$(BIN) bash interop/run.sh

# The fault matrix (faulttest/, docs/RELIABILITY.md) at 100,000 messages
# per fault with the full fault durations (503 for a minute, a silent SMSC
# for 30 s), then any other Soak tests.
soak:
	SMSGW_SOAK=1 $(GO) test -count=1 -timeout 170m -v -run 'Fault' ./faulttest/
	SMSGW_SOAK=1 $(GO) test -count=1 -timeout 80m -run 'Soak' ./...

clean:
	rm -rf bin
