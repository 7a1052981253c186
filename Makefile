# Valv — see README.md. Every target works on a fresh clone.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/valvhq/valv/internal/cli.version=$(VERSION)
BIN       := bin/valv
DATA      ?= ./data
STATICCHECK_VERSION := v0.8.2
GOSEC_VERSION       := v2.30.0
GOVULNCHECK_VERSION := v1.9.0
BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
GOBIN     ?= $(shell $(GO) env GOPATH)/bin

# Packages with concurrency of their own run under the race detector too.
RACE_PKGS := ./internal/store/... ./internal/server/... ./internal/keyring/... ./internal/seal/... \
             ./internal/auth/... ./internal/notify/... ./internal/scan/... ./internal/audit/... ./internal/document/... ./internal/jobs/... ./internal/archive/... ./internal/backup/... ./internal/loadgen/...

.PHONY: all build run test test-unit test-race lint bench bench-report bench-guard bench-baseline vulncheck deps docs clean

all: build

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/valv

## run: start Valv on the embedded default (SQLite, local key file, self-signed TLS)
run: build
	VALV_DOCUMENTS_ALLOW_UNSCANNED=true $(BIN) serve --data-dir $(DATA) --environment development

## test: every test, integration tests included (starts its own PostgreSQL, SoftHSM2 token, ...)
test: deps test-unit test-race test-pkcs11

test-unit:
	$(GO) test -count=1 -timeout 20m ./...

test-race:
	$(GO) test -count=1 -race -timeout 20m $(RACE_PKGS)

# The PKCS#11 provider needs cgo; it is built and tested with its tag.
test-pkcs11:
	$(GO) test -count=1 -tags pkcs11 -timeout 10m -run 'PKCS11|SoftHSM' ./internal/keyring/hsm/ ./internal/app/

## deps: install missing integration components (as root), else say what is missing
deps:
	@scripts/install-deps.sh

# gosec fails on high-severity findings (confidence medium or more); a false
# positive gets "// #nosec Gxxx -- reason" on its line (docs/operations/checks.md).
GOSEC_FLAGS := -quiet -severity high -confidence medium -exclude-generated

## lint: gofmt, go vet, staticcheck, gosec (high severity)
lint:
	@out=$$(gofmt -l cmd internal); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@test -x $(GOBIN)/staticcheck && $(GOBIN)/staticcheck -version | grep -q '($(STATICCHECK_VERSION:v%=%))' || \
		GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(GOBIN)/staticcheck ./...
	$(GOBIN)/staticcheck -tags pkcs11 ./internal/keyring/hsm/ ./internal/app/
	@$(GO) version -m $(GOBIN)/gosec 2>/dev/null | grep -Eq '^[[:space:]]+mod[[:space:]]+github.com/securego/gosec/v2[[:space:]]+$(subst .,\.,$(GOSEC_VERSION))[[:space:]]' || \
		GOFLAGS= $(GO) install github.com/securego/gosec/v2/cmd/gosec@$(GOSEC_VERSION)
	$(GOBIN)/gosec $(GOSEC_FLAGS) ./...
	$(GOBIN)/gosec $(GOSEC_FLAGS) -tags pkcs11 ./internal/keyring/hsm/ ./internal/app/

## bench: Go benchmarks (long; not part of make test)
bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...

## bench-report: measure a running Valv under load at 10k, 100k and 1M documents and write docs/performance.md (about 20 minutes)
bench-report: build
	$(BIN) bench --documents 10000,100000,1000000 --clients 16 --duration 10s \
		--json docs/performance.json --notes bench/analysis.md --markdown docs/performance.md

## bench-guard: run the hot-path benchmarks and compare them with bench/baseline.txt (benchstat)
bench-guard:
	GO=$(GO) bench/hotpaths.sh > bench/new.txt
	$(GO) run $(BENCHSTAT) bench/baseline.txt bench/new.txt

## bench-baseline: record the hot-path benchmarks as the new baseline (commit bench/baseline.txt)
bench-baseline:
	GO=$(GO) bench/hotpaths.sh > bench/baseline.txt

## vulncheck: govulncheck (pinned); skips, saying so, where the Go vulnerability database cannot be reached
vulncheck:
	@GO=$(GO) VULNDB=$(VULNDB) scripts/vulncheck.sh $(GOVULNCHECK_VERSION) $(GOBIN)

## docs: regenerate generated documentation (docs/configuration.md)
docs:
	scripts/gen-config-doc.sh

clean:
	rm -rf bin
