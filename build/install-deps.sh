#!/usr/bin/env bash
# Installs the Debian packages mod_reqprof needs to build, demo and test.
# Idempotent: packages already present are skipped, so repeated runs are quick.
set -euo pipefail

PACKAGES=(
  apache2 apache2-dev libapr1-dev libaprutil1-dev
  libunwind-dev libdw-dev libelf-dev zlib1g-dev
  check libsubunit-dev pkg-config
  python3-pytest curl valgrind
  chromium
  # Readers of the export formats in the tests: `go tool pprof` decodes the
  # pprof output, python3-jsonschema validates the speedscope output.
  golang-go python3-jsonschema
  # test_permissions: libc's separate debug file names its static functions;
  # libdebuginfod1 so that DEBUGINFOD_URLS would have a client to reach for.
  libc6-dbg libdebuginfod1
  # make fuzz: clang with libFuzzer and the sanitizer runtimes
  # (-fsanitize=fuzzer,address,undefined); htpasswd for the security tests.
  clang libclang-rt-dev apache2-utils
  # make deb and its test: dpkg-buildpackage with debhelper (dh_apache2 comes
  # with apache2-dev), lintian on the package.
  build-essential debhelper dpkg-dev lintian
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# npm fetches the speedscope package (its file-format schema) in the tests.
# Debian's npm only where no npm is present: Node.js builds that bundle their
# own npm conflict with Debian's package.
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package enables and starts a system apache2; the tests and the demo run
# their own throwaway servers and need nothing from it.
if command -v apache2ctl >/dev/null && pgrep -x apache2 >/dev/null; then
  apache2ctl stop >/dev/null 2>&1 || true
fi
