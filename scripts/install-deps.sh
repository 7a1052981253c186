#!/usr/bin/env bash
# Installs the real components Valv's integration tests use, when they are
# missing: PostgreSQL server binaries, SoftHSM2, ClamAV's clamd, poppler-utils
# (pdftoppm and pdftotext, for the PDF report tests) and later Chromium.
# As root it installs them with apt-get; otherwise it prints what it skipped,
# and the tests that need them skip (or fail under VALV_REQUIRE_INTEGRATION=1).
set -euo pipefail

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
