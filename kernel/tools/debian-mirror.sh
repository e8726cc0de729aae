#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# debian-mirror.sh
#
# Prints the URI of the Debian archive mirror this machine's own apt
# sources already use (the first "deb" source of the release named in
# /etc/os-release, not its -security suite), so that scripts can fetch
# packages and indexes of other Debian releases from the same place
# without naming any host themselves. Deb822 files in sources.list.d are
# read first, then the one-line sources.list format. DEBIAN_MIRROR, when
# set, wins.
set -euo pipefail

if [ -n "${DEBIAN_MIRROR:-}" ]; then
	printf '%s\n' "${DEBIAN_MIRROR%/}"
	exit 0
fi

codename=${DEBIAN_CODENAME:-}
if [ -z "$codename" ] && [ -r /etc/os-release ]; then
	codename=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
fi
[ -n "$codename" ] || { echo "debian-mirror: cannot tell this machine's Debian release (no VERSION_CODENAME in /etc/os-release); set DEBIAN_CODENAME" >&2; exit 1; }

from_deb822() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# One stanza per paragraph: keep the first URI of a "deb" stanza
		# whose suites include the plain release name.
		awk -v want="$codename" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " want " ") && uri != "")
					{ print uri; found = 1; exit }
				types = ""; suites = ""; uri = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^[ \t]*#/ { next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "uris:" { uri = $2 }
			END { if (!found) flush() }' "$f"
	done
}

from_one_line() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		# "deb [options] URI suite components..."
		awk -v want="$codename" '
			$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
				if ($(i + 1) == want) { print $i; exit } }' "$f"
	done
}

uri=$( { from_deb822; from_one_line; } | head -n1)
[ -n "$uri" ] || { echo "debian-mirror: no Debian '$codename' source in /etc/apt/sources.list or /etc/apt/sources.list.d; add your mirror there (or set DEBIAN_MIRROR)" >&2; exit 1; }
printf '%s\n' "${uri%/}"
