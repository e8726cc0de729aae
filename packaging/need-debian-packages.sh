#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# need-debian-packages.sh WHAT GROUP
#
# Makes sure the Debian packages of GROUP are installed before WHAT (e.g.
# "make test") runs: as root it installs the missing ones with apt-get; as
# anyone else it stops at once with the one command to run. Nothing is
# done when all are present, so builds stay offline once set up.
#
# The one list of what airtap needs from Debian:
#   kernel  the kernel library (kernel/build.sh); cfg80211's regulatory
#           database (wireless-regdb) is built into it
#   build   kernel + the Swift side's C libraries
#   test    build + the real clients the tests check our files with
set -euo pipefail

WHAT=${1:?usage: need-debian-packages.sh WHAT kernel|build|test}
GROUP=${2:?usage: need-debian-packages.sh WHAT kernel|build|test}

kernel=(build-essential flex bison bc libelf-dev ccache wireless-regdb xz-utils)
build=("${kernel[@]}" libusb-1.0-0-dev libpcap-dev)
test=("${build[@]}" tshark aircrack-ng tcpdump)
case "$GROUP" in
kernel) wanted=("${kernel[@]}") ;;
build) wanted=("${build[@]}") ;;
test) wanted=("${test[@]}") ;;
*) echo "need-debian-packages: unknown group '$GROUP' (kernel, build or test)" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
	echo "$WHAT needs these Debian packages (or your system's equivalents): ${missing[*]}" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "$WHAT needs Debian packages that are not installed. Run once:" >&2
	echo "    sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "$WHAT: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
