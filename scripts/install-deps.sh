#!/usr/bin/env bash
# Installs everything jellyfin-backup needs to build and test on Debian 12.
# Idempotent: safe to run again; installs only what is missing.
set -euo pipefail

packages=(
  # build
  g++ meson ninja-build pkg-config
  # libraries
  libarchive-dev libzstd-dev libxxhash-dev libcxxopts-dev nlohmann-json3-dev catch2
  # tests and the demo: the standard tools a user recovers with
  python3 tar zstd xxhash attr util-linux man-db
  # offsite copies (rclone:REMOTE:path locations); the tests serve WebDAV with it on loopback
  rclone
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
