#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# need-debian-packages.sh WHAT PACKAGE...
#
# Makes sure the Debian packages that WHAT (e.g. "make test") needs are
# installed: as root it installs the missing ones with apt-get; as anyone
# else it stops at once with the one command to run. Nothing is done when
# all are present, so builds stay offline once set up.
set -euo pipefail

WHAT=${1:?usage: need-debian-packages.sh WHAT PACKAGE...}
shift

missing=()
for pkg in "$@"; do
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
