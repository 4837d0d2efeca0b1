#!/usr/bin/env bash
# Make sure a Chromium for the end-to-end tests exists at /usr/bin/chromium (Debian's package;
# Playwright's own browser download does not work offline). Installs it with apt when run as
# root; otherwise says what to do. The tests themselves fail loudly under CI=true without it.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Chromium (apt-get install chromium) for the browser tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "Chromium not found at /usr/bin/chromium: install it (e.g. 'sudo apt-get install chromium')" \
     "or set SIAMESE_CHROMIUM=/path/to/chromium; browser tests will be skipped locally." >&2
exit 0
