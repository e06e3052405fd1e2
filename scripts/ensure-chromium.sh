#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/browser/) when it is missing; silent when it is there.
# Playwright drives this system browser: never `playwright install`, which downloads one and fails offline.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
echo "ensure-chromium: installing chromium from Debian packages"
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "ensure-chromium: chromium is still not on PATH" >&2; exit 1; }
