#!/usr/bin/env bash
# Installs what wgpt needs on a fresh Debian/Ubuntu machine: Mesa's software GPU (used where no
# real GPU is found) and the npm packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  if ! dpkg -s libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri >/dev/null
  fi
fi
npm ci --no-audit --no-fund --loglevel=error
