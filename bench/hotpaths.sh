#!/usr/bin/env bash
# The regression guard's benchmarks: Valv's hot paths, in the format
# benchstat reads. make bench-baseline writes them to bench/baseline.txt
# (committed); make bench-guard runs them again and compares.
#
#   COUNT=6 bench/hotpaths.sh > bench/new.txt
set -euo pipefail
GO=${GO:-go}
COUNT=${COUNT:-6}

run() {
	"$GO" test -run '^$' -bench "$2" -benchmem -count "$COUNT" -timeout 60m "$1"
}

# The WAF on a GET and on a 1 KiB JSON body, with Valv's tuning.
run ./internal/guard/ '^BenchmarkGuard$/^(GET|JSON-1KiB)$/^tuned$'
# Envelope encryption and blind indexes.
run ./internal/seal/ '^Benchmark(Seal|Open|BlindIndex)$'
# An audit entry appended to the hash chain.
run ./internal/audit/ '^BenchmarkAppend$'
# Authorization, API-key and session checks.
run ./internal/authz/ '^BenchmarkDecide$'
run ./internal/auth/ '^Benchmark(APIKeyAuth|SessionValidation)$'
# A document checked against its type's JSON Schema.
run ./internal/validate/ '^BenchmarkSchemaValidate$'
# Documents created and read through the service and over HTTPS (SQLite,
# durable group commits, every protection on).
run ./internal/app/ '^BenchmarkDocuments$/^(service|https)$/^(create|read)'
