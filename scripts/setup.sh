#!/usr/bin/env bash
# Installs what wgpt needs on a fresh Debian/Ubuntu machine: Mesa's software GPU (used where no
# real GPU is found) and the npm packages. Safe to run again.
#   --peers           also the benchmark's PyTorch peer as a user gets it: python3-torch with OpenBLAS
#                     (without libopenblas0-pthread Debian's torch runs on the reference BLAS, ~10x slower)
#   --mesa-backports  also Mesa >= 24's Vulkan driver, lavapipe (`--backend lavapipe`: a real GPU's code
#                     path on the CPU). Debian 12 ships Mesa 22.3, whose lavapipe Dawn cannot use: there
#                     this adds Debian's own bookworm-backports suite (the official archive, Debian's keys)
#                     and installs Mesa 25's GL and Vulkan drivers from it, replacing the system's Mesa.
#                     Where the distribution has Mesa >= 24 (Debian 13, Ubuntu 24.04) it installs
#                     mesa-vulkan-drivers from it; elsewhere it says why it does nothing.
#                     (Without installing anything: bash scripts/mesa-copy.sh, a copy beside the system's.)
#   --browser         also Chromium (Debian's chromium package), for the browser tests (test/browser.test.ts:
#                     headless on SwiftShader) and for opening `wgpt web` here
#   --dry-run         print the commands that change the system instead of running them
set -euo pipefail
cd "$(dirname "$0")/.."
packages="libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri"
peers=0 backports=0 browser=0 dry=0
for arg in "$@"; do
  case "$arg" in
    --peers) peers=1 ;;
    --mesa-backports) backports=1 ;;
    --browser) browser=1 ;;
    --dry-run) dry=1 ;;
    *) echo "setup.sh: unknown option $arg (use --peers, --mesa-backports, --browser, --dry-run)" >&2; exit 2 ;;
  esac
done
if [ "$peers" = 1 ]; then packages="$packages python3-torch libopenblas0-pthread"; fi
if [ "$browser" = 1 ]; then packages="$packages chromium"; fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
run() { if [ "$dry" = 1 ]; then echo "would run: $*"; else "$@"; fi; }
apt_install() { run $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; }

# The major version of the Mesa apt would install (0 where it has none).
mesa_candidate() {
  apt-cache policy mesa-vulkan-drivers 2>/dev/null | sed -nE 's/^ *Candidate: ([0-9]+:)?([0-9]+)\..*/\2/p' | head -n 1 | grep . || echo 0
}

if [ "$backports" = 1 ]; then
  . /etc/os-release 2>/dev/null || true
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup.sh --mesa-backports: no apt-get here (${PRETTY_NAME:-unknown system}): install Mesa >= 24 with its Vulkan driver (lavapipe) from your distribution; nothing done" >&2
    exit 1
  fi
  if [ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
    if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "adding Debian's bookworm-backports suite (/etc/apt/sources.list.d/bookworm-backports.sources)"
      entry="Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
      if [ "$dry" = 1 ]; then printf 'would write:\n%s\n' "$entry"; else printf '%s\n' "$entry" | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null; fi
    fi
    run $SUDO apt-get update -qq
    # -t: every package of the install from backports where the suite has it (Mesa 25 needs its libdrm).
    apt_install -t bookworm-backports $packages mesa-vulkan-drivers
  elif [ "$(mesa_candidate)" -ge 24 ]; then
    run $SUDO apt-get update -qq
    apt_install $packages mesa-vulkan-drivers
  else
    echo "setup.sh --mesa-backports: ${PRETTY_NAME:-this system} offers Mesa $(mesa_candidate), and lavapipe needs Mesa >= 24; only Debian 12's backports are known to this script: nothing done" >&2
    exit 1
  fi
elif command -v apt-get >/dev/null 2>&1; then
  if ! dpkg -s $packages >/dev/null 2>&1; then
    run $SUDO apt-get update -qq
    apt_install $packages >/dev/null
  fi
fi
run npm ci --no-audit --no-fund --loglevel=error
