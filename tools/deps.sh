#!/bin/sh
# Installs Pirogue's build and test dependencies from Debian 12's packages.
# A no-op (no apt call at all) when everything is already installed.
set -e
PKGS="build-essential pkg-config git libevent-dev libopus-dev libvpx-dev liblmdb-dev lmdb-utils
libsodium-dev libjansson-dev libyuv-dev libspeexdsp-dev libcmocka-dev
clang libclang-rt-14-dev clang-format python3 iproute2 iputils-ping iperf3 jq ffmpeg rsync nncp procps psmisc util-linux"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
