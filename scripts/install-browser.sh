#!/usr/bin/env bash
# Debian's chromium and Arabic-capable fonts for the real-browser UI tests (tests/test_ui_browser.py).
# Playwright drives this system chromium; never `playwright install` (it downloads a browser build).
set -euo pipefail
have_fonts() { command -v fc-list >/dev/null && fc-list 2>/dev/null | grep "Noto Naskh Arabic" >/dev/null; }
if [ -x /usr/bin/chromium ] && have_fonts; then exit 0; fi
if [ "$(id -u)" != "0" ]; then SUDO=sudo; else SUDO=""; fi
$SUDO apt-get update -qq
# fonts-noto-core carries Noto Naskh/Sans/Kufi Arabic, which the UI's font stack asks for first.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    chromium fonts-noto-core fonts-noto-color-emoji fontconfig >/dev/null
/usr/bin/chromium --version
