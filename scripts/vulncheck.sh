#!/usr/bin/env bash
# make vulncheck: govulncheck (pinned) over ./..., against the Go
# vulnerability database (https://vuln.go.dev). Fails on findings; when the
# database cannot be reached from this machine it says so and exits 0.
# Usage: scripts/vulncheck.sh VERSION GOBIN   (from the Makefile); VULNDB, when
# set, is another database URL (a mirror, or file:///path to a copy).
set -uo pipefail
cd "$(dirname "$0")/.."
version=${1:?govulncheck version}
gobin=${2:?GOBIN}
go=${GO:-go}
bin=$gobin/govulncheck

# Install the pinned version unless it is the one already there.
if ! "$go" version -m "$bin" 2>/dev/null | grep -Eq "^[[:space:]]+mod[[:space:]]+golang.org/x/vuln[[:space:]]+${version//./\\.}[[:space:]]"; then
	GOFLAGS= GOBIN="$gobin" "$go" install "golang.org/x/vuln/cmd/govulncheck@$version" || exit
fi

out=$(mktemp)
trap 'rm -f "$out"' EXIT
db=()
if [ -n "${VULNDB:-}" ]; then db=(-db "$VULNDB"); fi
"$bin" "${db[@]}" ./... 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
case $rc in
0) exit 0 ;;
3) echo "vulncheck: govulncheck $version found vulnerabilities (above)" >&2; exit 3 ;;
esac
# Exit status 1 is any error; only a failed download of the database is
# forgiven, and only when the error is the network's.
if grep -q 'fetching vulnerabilities' "$out" &&
	grep -Eq 'dial tcp|no such host|connection refused|network is unreachable|i/o timeout|TLS handshake timeout|deadline exceeded|connection reset' "$out"; then
	echo "vulncheck: SKIPPED — the Go vulnerability database (${VULNDB:-https://vuln.go.dev}) cannot be reached from this machine; nothing was checked. Run make vulncheck where it can be reached, or with VULNDB=<mirror URL>." >&2
	exit 0
fi
echo "vulncheck: govulncheck $version failed (exit status $rc)" >&2
exit "$rc"
