#!/usr/bin/env bash
# Builds the Debian package (make deb): the working tree, without .git and
# without the development build, is copied to OUT/deb-build/src and built
# there with dpkg-buildpackage, so nothing is written next to the checkout;
# the .deb files are then copied to OUT/deb/.
#   build/deb.sh [OUT]        OUT defaults to build/out
set -euo pipefail

out=${1:-build/out}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
work="$out/deb-build"

# Build dependencies (debian/control): installed with apt as root, listed
# otherwise.
if ! command -v dpkg-checkbuilddeps >/dev/null 2>&1 || ! dpkg-checkbuilddeps 2>/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then
    command -v dpkg-checkbuilddeps >/dev/null 2>&1 && dpkg-checkbuilddeps || true
    echo "deb: missing build dependencies; as root: apt-get build-dep ./" >&2
    exit 1
  fi
  echo "deb: installing the build dependencies"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends dpkg-dev >/dev/null
  apt-get build-dep -y -qq --no-install-recommends ./ >/dev/null
fi

rm -rf "$work"
mkdir -p "$work/src" "$out/deb"
tar -C "$top" --exclude=./.git --exclude="./$out" --exclude=./build/out -cf - . |
  tar -C "$work/src" -xf -
(cd "$work/src" && dpkg-buildpackage -us -uc -b)

version=$(dpkg-parsechangelog -l debian/changelog -S Version)
rm -f "$out"/deb/*.deb
cp "$work"/*_"$version"_*.deb "$out/deb/"
ls -1 "$out"/deb/*.deb
