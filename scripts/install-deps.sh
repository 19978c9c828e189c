#!/usr/bin/env bash
# Installs, with apt-get, every Debian package Vidmill needs to build, test and
# benchmark. Idempotent: packages already present are skipped, so `make` targets
# can call it on every run at the cost of one dpkg query.
set -euo pipefail

build_packages=(
  build-essential cmake pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libssl-dev libsodium-dev libsqlite3-dev libpq-dev
  libavformat-dev libavcodec-dev libavfilter-dev libswscale-dev libavutil-dev
  libswresample-dev
  libgtest-dev libgmock-dev
)
test_packages=(
  ffmpeg curl postgresql plasma-workspace-wallpapers
  mkvtoolnix  # mkvpropedit: HDR10 metadata in a Matroska container (transcode_test)
)
bench_packages=(
  wrk nginx-light libnginx-mod-http-dav-ext time
  # more training photos (train_cnn.sh); mate-backgrounds also holds a held-out one (Dune)
  lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds
)

wanted=("${build_packages[@]}" "${test_packages[@]}")
if [[ "${1:-}" == "--bench" ]]; then
  wanted+=("${bench_packages[@]}")
fi

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
