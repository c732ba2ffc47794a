#!/usr/bin/env bash
# Idempotent set-up for a Debian/Ubuntu machine: Node packages, and a WebGPU adapter.
# A software Vulkan driver (Mesa's lavapipe, from bookworm-backports) is installed only when Dawn
# finds no adapter at all: a machine that already has one (a real GPU, or lavapipe) is left untouched.
# Debian 12's own Mesa 22.3 is rejected by Dawn; Mesa 25 from backports works.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 18 ]; then
  echo "setup: Node 18 or newer is needed (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

if [ ! -d node_modules/webgpu ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund || npm install --no-audit --no-fund
fi

# Debian's Chromium drives the headless-browser tests (test/browser.test.ts), which skip without it.
# Never a browser downloaded by a test tool: playwright-core is given /usr/bin/chromium.
if [ ! -x /usr/bin/chromium ]; then
  . /etc/os-release
  if [ "${ID:-}" = debian ]; then
    echo "setup: installing Debian's chromium (for the browser tests)" >&2
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
  else
    echo "setup: no /usr/bin/chromium and not Debian: the browser tests will be skipped" >&2
  fi
fi

if node scripts/probe-adapter.mjs; then
  exit 0
fi

. /etc/os-release
echo "setup: no WebGPU adapter found; installing Mesa's lavapipe (Vulkan on the CPU)" >&2
export DEBIAN_FRONTEND=noninteractive
if [ "${ID:-}" = debian ]; then
  codename=${VERSION_CODENAME:?}
  src=/etc/apt/sources.list.d/backports.sources
  if [ ! -f "$src" ]; then
    # Reuse the machine's own Debian mirror (the URIs line of an active source), else Debian's CDN.
    mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | sed -nE 's|^(deb[[:space:]]+\|URIs:[[:space:]]*)(https?://[^[:space:]]+/debian)/?([[:space:]].*)?$|\2|p' \
      | head -n1 || true)
    mirror=${mirror:-http://deb.debian.org/debian}
    printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" "$codename" | as_root tee "$src" >/dev/null
  fi
  as_root apt-get update -q
  as_root apt-get install -y -q -t "$codename-backports" mesa-vulkan-drivers libvulkan1
else
  as_root apt-get update -q
  as_root apt-get install -y -q mesa-vulkan-drivers libvulkan1
fi

if ! node scripts/probe-adapter.mjs; then
  echo "setup: still no WebGPU adapter after installing lavapipe; see docs in README (Troubleshooting)" >&2
  exit 1
fi
