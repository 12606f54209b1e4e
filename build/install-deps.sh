#!/usr/bin/env bash
# Installs the Debian packages one mod_reqprof task needs, and only those:
#   install-deps.sh build   make, make install: compiler, httpd and library headers
#   install-deps.sh demo    make demo: build + apache2 (its binary and modules) + curl
#   install-deps.sh test    make test (the default): demo + the test toolchain
#   install-deps.sh SET --list   the set's packages, one a line; installs nothing
# Packages already present are skipped, so repeated runs are quick and install
# nothing. Every run says what it installs.
#
# A running server is never stopped or restarted. Installing the apache2
# package would start Debian's apache2 service (and restarting services is
# what package scripts do); the demo and the tests run their own throwaway
# servers and need nothing from it. Rather than stopping a server afterwards
# (which cannot tell a server the install started from one that was serving
# before), the start is prevented: while apt-get runs, a temporary
# /usr/sbin/policy-rc.d answers 101 ("action forbidden"), which invoke-rc.d
# and deb-systemd-invoke honour, so no package script starts, stops or
# restarts any service. It is written only where no policy-rc.d exists (an
# existing one is the admin's policy and is left as it is) and removed
# afterwards, also on failure or interruption. apache2's service stays enabled
# and starts at the next boot or with `systemctl start apache2`.
# As a second line, where an existing policy allowed a start anyway: if the
# apache2 package was installed and the server of Debian's configuration
# (the pid file of APACHE_CONFDIR's envvars, /etc/apache2 by default, as
# apache2ctl reads it) was not running before but runs now, that one server is
# stopped and the script says so. A server that was running before is left
# alone whatever happens.
#
# For tests of this logic without apt (nothing is installed):
#   RP_DEPS_DRY_RUN=1      every package of the set counts as missing and
#                          apt-get is replaced by RP_DEPS_APT_GET (default: a
#                          no-op); no root needed
#   RP_POLICY_RC_D=path    the policy-rc.d to write (default
#                          /usr/sbin/policy-rc.d; in a dry run, none unless set)
set -euo pipefail

set_name=${1:-test}

BUILD_PACKAGES=(
  # make: compiler, make, python3 (the report's assets are embedded by a script)
  build-essential python3 pkg-config
  # apxs and httpd's headers; APR
  apache2-dev libapr1-dev libaprutil1-dev
  # the sampler and symbolizer: libunwind, elfutils' libdw/libelf, zlib
  libunwind-dev libdw-dev libelf-dev zlib1g-dev
  # the shared profile store's client (ReqProfileStore redis://)
  libhiredis-dev
  # PHP's headers: the layout PHP frames are read with (without them the
  # module is built without PHP frames)
  php8.2-dev
)
DEMO_PACKAGES=(
  "${BUILD_PACKAGES[@]}"
  # the throwaway httpd (its binary and Debian's modules: the MPMs, mod_lua,
  # mod_http2, mod_proxy, mod_cache, mod_ssl, ...) and a client
  apache2 curl
)
TEST_PACKAGES=(
  "${DEMO_PACKAGES[@]}"
  # unit tests (check), also under valgrind; the integration tests (pytest)
  check libsubunit-dev valgrind python3-pytest
  # the shared store's tests start their own redis-server on 127.0.0.1
  redis-server
  # the PHP frame tests run Debian's mod_php in their own servers (its
  # package enables php8.2 and prefork in Debian's apache2 configuration;
  # see below: put back as it was)
  libapache2-mod-php8.2
  # the browser tests
  chromium
  # Readers of the export formats in the tests: `go tool pprof` decodes the
  # pprof output, python3-jsonschema validates the speedscope output.
  golang-go python3-jsonschema
  # test_permissions: libc's separate debug file names its static functions;
  # libdebuginfod1 so that DEBUGINFOD_URLS would have a client to reach for.
  libc6-dbg libdebuginfod1
  # make fuzz: clang with libFuzzer and the sanitizer runtimes
  # (-fsanitize=fuzzer,address,undefined); htpasswd and ab for the security
  # tests and the bench; openssl makes the TLS tests' certificate.
  clang libclang-rt-dev apache2-utils openssl
  # make deb and its test: dpkg-buildpackage with debhelper (dh_apache2 comes
  # with apache2-dev), lintian on the package.
  debhelper dpkg-dev lintian
)

case "$set_name" in
  build) packages=("${BUILD_PACKAGES[@]}") ;;
  demo) packages=("${DEMO_PACKAGES[@]}") ;;
  test) packages=("${TEST_PACKAGES[@]}") ;;
  *)
    echo "usage: $0 build|demo|test [--list]" >&2
    exit 2
    ;;
esac

# --list: the set's packages, one a line (npm: see below), nothing installed.
if [ "${2:-}" = --list ]; then
  printf '%s\n' "${packages[@]}"
  if [ "$set_name" = test ]; then echo npm; fi
  exit 0
fi

dry_run=${RP_DEPS_DRY_RUN:-0}
say() { echo "install-deps ($set_name): $*"; }

missing=()
for pkg in "${packages[@]}"; do
  if [ "$dry_run" = 1 ] ||
     ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

# npm fetches the speedscope package (its file-format schema) in the tests.
# Debian's npm only where no npm is present: Node.js builds that bundle their
# own npm conflict with Debian's package.
if [ "$set_name" = test ] && { [ "$dry_run" = 1 ] || ! command -v npm >/dev/null 2>&1; }; then
  missing+=(npm)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  count=${#packages[@]}
  if [ "$set_name" = test ]; then count=$((count + 1)); fi
  say "nothing to install (all $count packages present)"
  exit 0
fi

if [ "$dry_run" != 1 ] && [ "$(id -u)" -ne 0 ]; then
  echo "install-deps ($set_name): missing packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi

# The pid of the server Debian's configuration runs, if it is running: the pid
# file named by APACHE_CONFDIR's envvars (as apache2ctl reads them), when that
# process is an apache2.
system_server_pid() {
  local confdir=${APACHE_CONFDIR:-/etc/apache2} pidfile pid
  # shellcheck disable=SC2030,SC2031  # set for envvars, in its subshell only
  pidfile=$(
    export APACHE_CONFDIR="$confdir"
    envvars=${APACHE_ENVVARS:-$confdir/envvars}
    # shellcheck disable=SC1090
    if [ -f "$envvars" ]; then . "$envvars" >/dev/null 2>&1 || true; fi
    echo "${APACHE_PID_FILE:-/var/run/apache2/apache2.pid}"
  )
  [ -r "$pidfile" ] || return 0
  pid=$(tr -dc 0-9 <"$pidfile")
  [ -n "$pid" ] || return 0
  if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = apache2 ]; then
    echo "$pid"
  fi
}

running_before=$(pgrep -x apache2 | tr '\n' ' ' || true)
system_before=$(system_server_pid)
if [ -n "$running_before" ]; then
  say "apache2 running before the install (pids ${running_before% }); it is left alone"
fi

# Package scripts also change Debian's apache2 configuration: installing
# mod_php enables it there and switches that server to prefork. Where the
# configuration exists before, its enabled modules are put back as they were
# afterwards (the tests run their own servers and need nothing from it).
apache_confdir=${APACHE_CONFDIR:-/etc/apache2}
mods_saved=
mods_list() { find "$1" -mindepth 1 -maxdepth 1 -printf '%f %l\n' | sort; }
if { [ "$dry_run" != 1 ] || [ -n "${APACHE_CONFDIR:-}" ]; } && [ -d "$apache_confdir/mods-enabled" ]; then
  mods_saved=$(mktemp -d)
  cp -a "$apache_confdir/mods-enabled/." "$mods_saved/"
fi
restore_mods() {
  [ -n "$mods_saved" ] || return 0
  local dir="$apache_confdir/mods-enabled"
  if [ "$(mods_list "$dir")" != "$(mods_list "$mods_saved")" ]; then
    find "$dir" -mindepth 1 -maxdepth 1 -exec rm -f {} +
    cp -a "$mods_saved/." "$dir/"
    say "package scripts changed the modules enabled in $apache_confdir (mod_php, the MPM): put back as they were"
  fi
  rm -rf "$mods_saved"
  mods_saved=
}

# Keep package scripts from starting (or stopping, restarting) services.
policy=${RP_POLICY_RC_D-/usr/sbin/policy-rc.d}
if [ "$dry_run" = 1 ] && [ -z "${RP_POLICY_RC_D:-}" ]; then
  policy=
fi
policy_written=0
remove_policy() {
  if [ "$policy_written" = 1 ] && grep -q "written by mod_reqprof's install-deps" "$policy" 2>/dev/null; then
    rm -f "$policy"
  fi
  policy_written=0
}
trap 'remove_policy; restore_mods' EXIT
trap 'remove_policy; restore_mods; exit 130' INT
trap 'remove_policy; restore_mods; exit 143' TERM
if [ -n "$policy" ]; then
  if [ -e "$policy" ]; then
    say "$policy exists and is left as it is: it decides whether package scripts start services"
  else
    printf '#!/bin/sh\n# Temporary, written by mod_reqprof'"'"'s install-deps while apt-get runs:\n# package scripts start, stop or restart no service.\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    policy_written=1
  fi
fi

say "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if [ "$dry_run" = 1 ]; then
  apt=${RP_DEPS_APT_GET:-true}
  say "dry run: '$apt' stands in for apt-get"
else
  apt="apt-get"
fi
"$apt" update -qq
"$apt" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
remove_policy
restore_mods

# Only a server that the apache2 package's installation started is stopped.
installed_apache2=0
for pkg in "${missing[@]}"; do
  if [ "$pkg" = apache2 ]; then installed_apache2=1; fi
done
system_after=$(system_server_pid)
if [ "$installed_apache2" = 1 ] && [ -n "$system_after" ] && [ -z "$system_before" ] &&
   [[ " $running_before " != *" $system_after "* ]]; then
  say "installing apache2 started its service (pid $system_after), which was not running before: stopping that one"
  # shellcheck disable=SC2031
  if [ -z "${APACHE_CONFDIR:-}" ] && [ -d /run/systemd/system ] &&
     systemctl is-active --quiet apache2 2>/dev/null; then
    systemctl stop apache2 || true
  else
    apache2ctl stop >/dev/null 2>&1 || kill -TERM "$system_after" 2>/dev/null || true
  fi
elif [ "$installed_apache2" = 1 ]; then
  say "apache2 installed; no server was started (systemctl start apache2 starts Debian's service)"
fi
say "done"
