#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the browser tests, when it is missing.
# Playwright drives it through executable_path; nothing is downloaded by the test tools.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
echo "chromium.sh: installing chromium (Debian package)" >&2
$SUDO apt-get update >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium >&2
