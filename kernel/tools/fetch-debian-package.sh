#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# fetch-debian-package.sh SUITE PACKAGE DIR
#
# Downloads PACKAGE's .deb from SUITE (e.g. trixie-backports) into DIR with
# apt, without touching the machine's apt configuration: a private sources
# list (the machine's own Debian mirror, see debian-mirror.sh, with SUITE)
# and private lists and cache under DIR. Works as root and as an ordinary
# user. Prints the path of the downloaded .deb.
set -euo pipefail

SUITE=${1:?usage: fetch-debian-package.sh SUITE PACKAGE DIR}
PACKAGE=${2:?usage: fetch-debian-package.sh SUITE PACKAGE DIR}
DIR=${3:?usage: fetch-debian-package.sh SUITE PACKAGE DIR}
HERE=$(cd "$(dirname "$0")" && pwd)
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

command -v apt-get >/dev/null || { echo "fetch-debian-package: apt-get not found (this needs a Debian-based system)" >&2; exit 1; }
[ -r "$KEYRING" ] || { echo "fetch-debian-package: $KEYRING missing: install debian-archive-keyring" >&2; exit 1; }
mirror=$("$HERE/debian-mirror.sh")

mkdir -p "$DIR/apt/lists/partial" "$DIR/apt/cache/archives/partial" "$DIR/apt/parts"
DIR=$(cd "$DIR" && pwd)
printf 'deb [signed-by=%s] %s %s main\n' "$KEYRING" "$mirror" "$SUITE" > "$DIR/apt/sources.list"
opts=(
	-o "Dir::Etc::SourceList=$DIR/apt/sources.list"
	-o "Dir::Etc::SourceParts=$DIR/apt/parts"
	-o "Dir::State::Lists=$DIR/apt/lists"
	-o "Dir::Cache=$DIR/apt/cache"
	-o "Acquire::Languages=none"
	-o "APT::Get::List-Cleanup=false"
)
# apt drops root to its _apt user for downloads, which may not reach DIR.
[ "$(id -u)" -ne 0 ] || opts+=(-o "APT::Sandbox::User=root")

echo "fetch-debian-package: $PACKAGE from $mirror $SUITE" >&2
if ! apt-get "${opts[@]}" -qq update >&2; then
	echo "fetch-debian-package: cannot read $SUITE from $mirror (network? mirror without $SUITE?)" >&2
	exit 1
fi
rm -f "$DIR/${PACKAGE}"_*.deb
(cd "$DIR" && apt-get "${opts[@]}" -qq download "$PACKAGE" >&2) || {
	echo "fetch-debian-package: $SUITE has no package $PACKAGE at $mirror" >&2
	exit 1
}
deb=$(ls "$DIR/${PACKAGE}"_*.deb)
printf '%s\n' "$deb"
