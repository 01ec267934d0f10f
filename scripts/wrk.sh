#!/usr/bin/env bash
# Install Debian's wrk, the HTTP load generator the serving benchmark runs in its own process,
# when it is missing. Exits non-zero with the reason when it cannot.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
  echo "wrk.sh: wrk is installed ($(command -v wrk))" >&2
  exit 0
fi
fail() {
  echo "wrk.sh: cannot install wrk: $1. Install Debian's wrk package by hand to run the serving benchmark." >&2
  exit 1
}
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "not root and sudo is not available"
  SUDO=sudo
else
  SUDO=
fi
command -v apt-get >/dev/null 2>&1 || fail "apt-get is not available"
echo "wrk.sh: installing wrk (Debian package): apt-get update, then apt-get install -y wrk" >&2
$SUDO apt-get update >&2 || fail "apt-get update failed"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y wrk >&2 || fail "apt-get install -y wrk failed"
command -v wrk >/dev/null 2>&1 || fail "wrk is still not on PATH after apt-get install"
echo "wrk.sh: installed $(command -v wrk)" >&2
