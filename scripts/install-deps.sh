#!/usr/bin/env bash
# Installs the real components Valv's integration tests use, when they are
# missing: PostgreSQL server binaries, SoftHSM2, ClamAV's clamd, poppler-utils
# (pdftoppm and pdftotext, for the PDF report tests), the versitygw S3
# gateway (for the S3 backup target tests) and Chromium (for the portal's
# browser tests).
# versitygw is built with `go install` (about 90 s, no root needed) into
# $GOBIN or $(go env GOPATH)/bin, where valvtest.VersityBin looks for it.
# The rest is installed with apt-get as root; otherwise the script prints what
# it skipped, and the tests that need them skip (or fail under
# VALV_REQUIRE_INTEGRATION=1).
set -euo pipefail

# Keep in step with the version pinned in internal/valvtest/s3.go.
versitygw_pkg=github.com/versity/versitygw/cmd/versitygw@v1.8.0

have_versitygw() {
	command -v versitygw >/dev/null && return 0
	local gobin
	gobin=$(go env GOBIN 2>/dev/null || true)
	[ -n "$gobin" ] && [ -x "$gobin/versitygw" ] && return 0
	[ -x "$(go env GOPATH 2>/dev/null)/bin/versitygw" ]
}

if have_versitygw; then
	:
elif ! command -v go >/dev/null; then
	echo "install-deps: no go command; skipping install of: versitygw"
else
	echo "install-deps: installing versitygw (go install, about 90 s)"
	if ! GOFLAGS=-buildvcs=false go install "$versitygw_pkg" >/tmp/valv-versitygw.log 2>&1; then
		tail -20 /tmp/valv-versitygw.log
		exit 1
	fi
fi

need=()
have_pg=false
for p in /usr/lib/postgresql/*/bin/postgres; do
	[ -x "$p" ] && have_pg=true
done
$have_pg || need+=(postgresql)
command -v softhsm2-util >/dev/null && [ -e /usr/lib/softhsm/libsofthsm2.so ] || need+=(softhsm2)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
[ -x /usr/sbin/clamd ] || need+=(clamav-daemon clamav)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
# Headless Chromium drives the portal's browser tests (chromedp).
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
	echo "install-deps: all integration components present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: not root; skipping install of: ${need[*]}"
	echo "install-deps: tests that need them will skip (fail under VALV_REQUIRE_INTEGRATION=1)"
	exit 0
fi

echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends "${need[@]}" >/tmp/valv-apt.log 2>&1; then
	apt-get update >/tmp/valv-apt-update.log 2>&1
	apt-get install -y --no-install-recommends "${need[@]}" >/tmp/valv-apt.log 2>&1 || {
		tail -20 /tmp/valv-apt.log
		exit 1
	}
fi
echo "install-deps: done"
