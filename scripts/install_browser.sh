#!/usr/bin/env bash
# Debian's headless browser for the web app's browser test (tests/test_serve_browser.py):
# chromium and its matching chromium-driver from the distribution, no browser download.
# Needs root and apt-get; elsewhere it says so and the browser test skips itself.
set -euo pipefail
if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "install_browser.sh: not root with apt-get; the browser test will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium chromium-driver >/dev/null
