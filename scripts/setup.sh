#!/usr/bin/env bash
# Installs what wgpt needs on a fresh Debian/Ubuntu machine: Mesa's software GPU (used where no
# real GPU is found) and the npm packages. Safe to run again.
#   --peers   also the benchmark's PyTorch peer as a user gets it: python3-torch with OpenBLAS
#             (without libopenblas0-pthread Debian's torch runs on the reference BLAS, ~10x slower)
set -euo pipefail
cd "$(dirname "$0")/.."
packages="libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri"
if [ "${1:-}" = "--peers" ]; then packages="$packages python3-torch libopenblas0-pthread"; fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  if ! dpkg -s $packages >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $packages >/dev/null
  fi
fi
npm ci --no-audit --no-fund --loglevel=error
