# Vigil: `make demo` runs the self-contained demo, `make test` the test suite.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LDFLAGS := -s -w -X github.com/vigilhealth/vigil/internal/cli.Version=$(VERSION)

.PHONY: build demo test fmt-check vet lint unit clickhouse clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o vigil ./cmd/vigil

demo: clickhouse build
	./vigil demo --once

test: clickhouse fmt-check vet lint
	$(GO) test -race -count=1 -timeout 10m ./...

# Quick loop while developing: no race detector, cached results.
unit:
	$(GO) test ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

lint:
	$(GO) tool staticcheck ./...

# Debian's clickhouse-server, unless one is already there or VIGIL_CLICKHOUSE_ADDR
# / VIGIL_TEST_CLICKHOUSE_ADDR point at a running server.
clickhouse:
	@if [ -n "$$VIGIL_CLICKHOUSE_ADDR$$VIGIL_TEST_CLICKHOUSE_ADDR" ] || command -v clickhouse-server >/dev/null 2>&1 \
	    || [ -x /usr/sbin/clickhouse-server ] || command -v clickhouse >/dev/null 2>&1; then :; else \
	  echo "Installing Debian's clickhouse-server (needed by the demo and the tests)..."; \
	  $(SUDO) apt-get update && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y clickhouse-server clickhouse-client; \
	fi

clean:
	rm -rf vigil data
