#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# module-firmware.sh OBJ_DIR
#
# Prints, for every built-in Wi-Fi driver module of the kernel built in
# OBJ_DIR, the firmware files it may request: its own MODULE_FIRMWARE
# entries and those of the modules it depends on (what `modinfo` plus
# `depmod` would tell on a normal system). rtw88_8822bu, for instance,
# asks for the firmware that rtw88_8822b declares.
#
# Output, one line per module, tab-separated:
#   module <TAB> source path <TAB> firmware files, space-separated
# and one line "@builtin <TAB> - <TAB> files built into the kernel image".
#
# Dependencies come from symbols: module A depends on B when an object of
# A references a global symbol an object of B defines. Only modules below
# drivers/net/wireless take part: that is where drivers and their firmware
# declarations live.
set -euo pipefail

OBJ=${1:?usage: module-firmware.sh OBJ_DIR}
MODINFO=$OBJ/modules.builtin.modinfo
[ -f "$MODINFO" ] || { echo "module-firmware: $MODINFO missing (build vmlinux first)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# modinfo: "module.key=value" records separated by NULs.
tr '\0' '\n' < "$MODINFO" | awk -F'=' '
	{ dot = index($1, "."); if (!dot) next
	  mod = substr($1, 1, dot - 1); key = substr($1, dot + 1)
	  value = substr($0, length($1) + 2) }
	key == "file" { print "file", mod, value }
	key == "firmware" { print "fw", mod, value }' > "$tmp/modinfo"

# Each object's module, from the KBUILD_MODNAME it was compiled with.
find "$OBJ/drivers/net/wireless" -name '.*.o.cmd' | while read -r cmd; do
	dir=$(dirname "$cmd")
	base=$(basename "$cmd" .cmd)
	obj=$dir/${base#.}
	[ -f "$obj" ] || continue
	mod=$(grep -o "KBUILD_MODNAME='\"[^\"]*\"'" "$cmd" | head -n1 | sed "s/.*'\"\(.*\)\"'/\1/")
	[ -n "$mod" ] || continue
	nm --defined-only -g "$obj" | awk -v m="$mod" 'NF == 3 { print "def", m, $3 }'
	nm -u "$obj" | awk -v m="$mod" '{ print "use", m, $NF }'
done > "$tmp/symbols"

extra=$(sed -n 's/^CONFIG_EXTRA_FIRMWARE="\(.*\)"$/\1/p' "$OBJ/.config")

awk -v builtin="$extra" '
	FNR == NR {
		if ($1 == "file") file[$2] = $3
		if ($1 == "fw") fw[$2] = fw[$2] " " $3
		next
	}
	$1 == "def" { definer[$3] = $2; mods[$2] = 1; next }
	$1 == "use" { uses[++n] = $2 SUBSEP $3; mods[$2] = 1; next }
	END {
		for (i = 1; i <= n; i++) {
			split(uses[i], pair, SUBSEP)
			d = definer[pair[2]]
			if (d != "" && d != pair[1]) dep[pair[1], d] = 1
		}
		for (m in mods) if (file[m] ~ /^drivers\/net\/wireless\//) {
			# Transitive closure by repeated relaxation (the graph is small).
			delete seen; seen[m] = 1; grew = 1
			while (grew) {
				grew = 0
				for (k in dep) {
					split(k, e, SUBSEP)
					if ((e[1] in seen) && !(e[2] in seen)) { seen[e[2]] = 1; grew = 1 }
				}
			}
			delete files; list = ""
			for (s in seen) {
				c = split(fw[s], f, " ")
				for (j = 1; j <= c; j++) if (!(f[j] in files)) { files[f[j]] = 1; list = list " " f[j] }
			}
			sub(/^ /, "", list)
			printf "%s\t%s\t%s\n", m, file[m], list
		}
		printf "@builtin\t-\t%s\n", builtin
	}' "$tmp/modinfo" "$tmp/symbols" | sort
