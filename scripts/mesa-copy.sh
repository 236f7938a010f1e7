#!/usr/bin/env bash
# A side-by-side copy of Mesa 25 from Debian's bookworm-backports in .mesa/ (git-ignored), for
# running wgpt on lavapipe (Dawn's Vulkan backend) without installing anything: the system's Mesa,
# apt sources and packages stay as they are. CI's lavapipe pass uses it (.ci/run).
#   bash scripts/mesa-copy.sh && . .mesa/env.sh && WGPT_BACKEND=lavapipe npm test
# apt reads the backports suite through its own sources list and state under .mesa/apt, so nothing
# under /etc/apt changes; the debs are unpacked with dpkg -x, never installed. Safe to run again
# (a finished copy is kept). Debian 12 (bookworm) only: elsewhere it says why and exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$PWD/.mesa"
# What Mesa 25's GL and Vulkan drivers need beyond Debian 12's own libraries: the Vulkan loader
# (libvulkan1, from bookworm itself) and the newer libdrm they link against.
packages="mesa-libgallium libegl-mesa0 libgl1-mesa-dri libgbm1 mesa-vulkan-drivers libdrm2 libdrm-amdgpu1 libdrm-intel1 libvulkan1"

if [ -f "$dir/env.sh" ]; then echo "Mesa copy already in $dir (remove it to fetch again)"; exit 0; fi
. /etc/os-release 2>/dev/null || true
if [ "${ID:-}" != debian ] || [ "${VERSION_CODENAME:-}" != bookworm ]; then
  echo "mesa-copy: this fetches Debian 12's bookworm-backports; this system is ${PRETTY_NAME:-unknown}." >&2
  echo "  Where the distribution ships Mesa >= 24 (Debian 13, Ubuntu 24.04), install it instead: bash scripts/setup.sh --mesa-backports" >&2
  exit 1
fi
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")

rm -rf "$dir.partial"
mkdir -p "$dir.partial/apt/lists/partial" "$dir.partial/apt/cache/archives/partial" "$dir.partial/debs" "$dir.partial/root"
# Debian's official archive only, checked against Debian's own archive keys.
cat > "$dir.partial/apt/sources.list" <<EOF
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main
EOF
apt_private=(-o "Dir::Etc::SourceList=$dir.partial/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$dir.partial/apt/lists" -o "Dir::Cache=$dir.partial/apt/cache" -o Debug::NoLocking=1
  -o APT::Sandbox::User="$(id -un)" -o "APT::Architecture=$arch")
apt-get "${apt_private[@]}" -qq update
# -t: the backports version wherever the suite has one (libvulkan1 comes from bookworm).
(cd "$dir.partial/debs" && apt-get "${apt_private[@]}" -qq -t bookworm-backports download $packages)
for deb in "$dir.partial/debs"/*.deb; do dpkg -x "$deb" "$dir.partial/root"; done
version=$(dpkg-deb -f "$dir.partial/debs"/mesa-vulkan-drivers_*.deb Version)

lib="$dir/root/usr/lib/$multiarch"
# Every library the drivers load must resolve, in the copy or on the system: name what is missing.
missing=$(LD_LIBRARY_PATH="$dir.partial/root/usr/lib/$multiarch" ldd "$dir.partial/root/usr/lib/$multiarch/libvulkan_lvp.so" \
  "$dir.partial/root/usr/lib/$multiarch/libEGL_mesa.so.0" 2>/dev/null | sed -n 's/^\s*\(\S*\) => not found$/\1/p' | sort -u | tr '\n' ' ')
if [ -n "$missing" ]; then
  echo "mesa-copy: libraries Mesa $version needs are not installed: $missing" >&2
  echo "  install the packages that provide them (apt-file search NAME), or run bash scripts/setup.sh first" >&2
  exit 1
fi
# The drivers' manifests name their libraries without a path, so LD_LIBRARY_PATH finds the copy's.
cat > "$dir.partial/env.sh" <<EOF
# Mesa $version from bookworm-backports, side by side (scripts/mesa-copy.sh): source this to run
# one shell's wgpt on it, GL llvmpipe and lavapipe alike.
export LD_LIBRARY_PATH="$lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export __EGL_VENDOR_LIBRARY_FILENAMES="$dir/root/usr/share/glvnd/egl_vendor.d/50_mesa.json"
export LIBGL_DRIVERS_PATH="$lib/dri"
export VK_DRIVER_FILES="$dir/root/usr/share/vulkan/icd.d/lvp_icd.json"
EOF
rm -rf "$dir" "$dir.partial/apt" "$dir.partial/debs"
mv "$dir.partial" "$dir"
echo "Mesa $version unpacked in $dir: . .mesa/env.sh, then WGPT_BACKEND=lavapipe"
