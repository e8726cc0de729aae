#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Builds the kernel library: Debian's linux-source-$KERNEL_VERSION (or
# KERNEL_SRC) with our arch/lkl overlay, into
# build/out/{lib/liblkl.a,include/lkl/}. The source is Debian's
# /usr/src tarball when that package is installed, else the package
# fetched with apt into build/ from the machine's own Debian mirror
# (kernel/tools/fetch-debian-package.sh; the system's apt set-up is left
# alone). Incremental: the source is extracted once, objects live in
# build/kernel-obj, and ccache is used when installed.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The one place the kernel version is named; KERNEL_SUITE is the Debian
# suite that ships linux-source-$KERNEL_VERSION for Debian 12 machines.
KERNEL_VERSION=7.3
KERNEL_SUITE=trixie-backports
BUILD=$ROOT/build
OBJ=$BUILD/kernel-obj
OUT=$BUILD/out
SOURCE_PACKAGE=linux-source-$KERNEL_VERSION
TARBALL=/usr/src/$SOURCE_PACKAGE.tar.xz
FRAGMENT=$ROOT/kernel/config/airtap.config
JOBS=${JOBS:-$(nproc)}

say() { printf 'kernel: %s\n' "$*" >&2; }

need_packages() {
	"$ROOT/packaging/need-debian-packages.sh" "the kernel library build" kernel
}

# The tree's top folder is linux-source-$KERNEL_VERSION/ inside the tarball.
extract_tarball() {
	local unpack=$BUILD/unpack
	rm -rf "$unpack"
	mkdir -p "$unpack"
	if [ -f "$TARBALL" ]; then
		say "extracting $TARBALL (once)"
		tar -xf "$TARBALL" -C "$unpack"
	else
		local deb
		deb=$("$ROOT/kernel/tools/fetch-debian-package.sh" "$KERNEL_SUITE" "$SOURCE_PACKAGE" "$BUILD/debian")
		say "extracting $(basename "$deb") (once)"
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO "./usr/src/$SOURCE_PACKAGE.tar.xz" | tar -xJ -C "$unpack"
	fi
	[ -f "$unpack/$SOURCE_PACKAGE/Makefile" ] || { say "$SOURCE_PACKAGE: no kernel tree in the package"; exit 1; }
	mv "$unpack/$SOURCE_PACKAGE" "$SRC"
	rmdir "$unpack"
}

prepare_source() {
	if [ -n "${KERNEL_SRC:-}" ]; then
		SRC=$(cd "$KERNEL_SRC" && pwd)
		[ -f "$SRC/Makefile" ] || { say "KERNEL_SRC=$KERNEL_SRC is not a kernel tree"; exit 1; }
	else
		SRC=$BUILD/linux-$KERNEL_VERSION
		if [ ! -f "$SRC/.airtap-extracted" ]; then
			rm -rf "$SRC"
			mkdir -p "$BUILD"
			extract_tarball
			touch "$SRC/.airtap-extracted"
		fi
	fi
	local tree
	tree=$(make -s -C "$SRC" kernelversion)
	case "$tree" in
	"$KERNEL_VERSION"|"$KERNEL_VERSION".*) ;;
	*) say "note: $SRC is Linux $tree; airtap is tested on $KERNEL_VERSION" ;;
	esac
	# The overlay is one symlink: the tree itself stays pristine.
	ln -sfn "$ROOT/kernel/arch/lkl" "$SRC/arch/lkl"
}

configure() {
	mkdir -p "$OBJ"
	if [ ! -f "$OBJ/.config" ] || [ "$FRAGMENT" -nt "$OBJ/.config" ] ||
	   [ "$ROOT/kernel/arch/lkl/Kconfig" -nt "$OBJ/.config" ]; then
		say "configuring (allnoconfig + $(basename "$FRAGMENT"))"
		make -s -C "$SRC" O="$OBJ" ARCH=lkl KCONFIG_ALLCONFIG="$FRAGMENT" allnoconfig
		# Every option the fragment asks for must have survived.
		local lost=0
		while IFS= read -r line; do
			case "$line" in CONFIG_*=*) ;; *) continue ;; esac
			opt=${line%%=*}; val=${line#*=}
			if [ "$val" = n ]; then
				grep -q "^$opt=" "$OBJ/.config" && { say "config: $opt should be off"; lost=1; }
			else
				grep -qx "$line" "$OBJ/.config" || { say "config: $line did not take (unmet dependency?)"; lost=1; }
			fi
		done < "$FRAGMENT"
		[ $lost -eq 0 ] || exit 1
	fi
}

compile() {
	local cc=gcc
	command -v ccache >/dev/null && cc="ccache gcc"
	say "building vmlinux (ARCH=lkl, $JOBS jobs)"
	make -s -C "$SRC" O="$OBJ" ARCH=lkl CC="$cc" -j"$JOBS" vmlinux
}

package() {
	mkdir -p "$OUT/lib" "$OUT/include/lkl" "$OUT/obj"
	local api="lkl_init lkl_start_kernel lkl_is_running lkl_syscall lkl_sys_halt lkl_trigger_irq lkl_get_free_irq lkl_put_irq lkl_usb_attach lkl_usb_detach lkl_usb_complete lkl_usb_get_stats lkl_packet_ring_lend lkl_packet_ring_return"
	local keep=$OUT/obj/keep-symbols
	printf '%s\n' $api > "$keep"
	# Only the host API stays global: kernel names cannot clash with
	# libc, the Swift runtime or the application.
	# The kernel's linker script drops .note.GNU-stack; without it host
	# linkers assume the library needs an executable stack. Built-in
	# firmware's table holds pointers, relocated at load: writable.
	objcopy --keep-global-symbols="$keep" -R .comment \
		--add-section .note.GNU-stack=/dev/null \
		--set-section-flags .note.GNU-stack=readonly \
		--set-section-flags .builtin_fw=alloc,load,contents,data \
		"$OBJ/vmlinux" "$OUT/obj/lkl-kernel.o"

	local header
	for header in host_ops.h virtual_usb.h packet_ring.h; do
		update_file "$ROOT/kernel/arch/lkl/include/uapi/asm/$header" "$OUT/include/lkl/$header"
	done
	gcc -O2 -g -fPIC -Wall -Wextra -Wno-unused-parameter -I"$OUT/include/lkl" \
		-c "$ROOT/kernel/host/posix-host.c" -o "$OUT/obj/posix-host.o"
	embed_module_firmware "$OUT/obj/module-firmware.o"
	# Replaced only when it changed (ar D: deterministic), in one rename:
	# the Makefile relinks every program when liblkl.a is newer, and a
	# link running meanwhile never sees half an archive.
	rm -f "$OUT/lib/liblkl.a.new"
	ar rcsD "$OUT/lib/liblkl.a.new" "$OUT/obj/lkl-kernel.o" "$OUT/obj/posix-host.o" \
		"$OUT/obj/module-firmware.o"
	if cmp -s "$OUT/lib/liblkl.a.new" "$OUT/lib/liblkl.a"; then
		rm -f "$OUT/lib/liblkl.a.new"
	else
		mv -f "$OUT/lib/liblkl.a.new" "$OUT/lib/liblkl.a"
	fi

	generate_syscall_header "$OUT/obj/syscalls.h"
	update_file "$OUT/obj/syscalls.h" "$OUT/include/lkl/syscalls.h"
	cat > "$OUT/obj/lkl.h" <<'H'
/* SPDX-License-Identifier: GPL-2.0-only */
/* The kernel library's host API (generated by kernel/build.sh). */
#ifndef LKL_LKL_H
#define LKL_LKL_H
#include "host_ops.h"
#include "virtual_usb.h"
#include "packet_ring.h"
#include "syscalls.h"
/*
 * Firmware of the built-in Wi-Fi drivers, one module per line:
 * "module\tsource path\tfile file ...", and "@builtin\t-\tfiles" for
 * firmware built into the library itself.
 */
extern const char lkl_module_firmware[];
const char *lkl_module_firmware_table(void);
#endif
H
	update_file "$OUT/obj/lkl.h" "$OUT/include/lkl/lkl.h"
	say "ready: $OUT/lib/liblkl.a"
}

# Copies $1 to $2 unless $2 already has that content: the Makefile
# recompiles the Swift code that imports the headers when one is newer.
update_file() {
	cmp -s "$1" "$2" || cp "$1" "$2"
}

# The Wi-Fi drivers' firmware files (kernel/tools/module-firmware.sh),
# as the string lkl_module_firmware in the library (and a function that
# returns it, for languages that cannot import an array of unknown size):
# the host program
# tells users which files an adapter needs before its driver asks.
embed_module_firmware() {
	local obj=$1 table=$OUT/share/airtap/module-firmware.tsv
	mkdir -p "$(dirname "$table")"
	"$ROOT/kernel/tools/module-firmware.sh" "$OBJ" > "$table"
	{
		printf '/* SPDX-License-Identifier: GPL-2.0-only */\n'
		printf '/* Generated by kernel/build.sh from %s. */\n' "${table#"$ROOT"/}"
		printf 'const char lkl_module_firmware[] =\n'
		sed 's/\\/\\\\/g; s/"/\\"/g; s/\t/\\t/g; s/^/\t"/; s/$/\\n"/' "$table"
		printf '\t"";\n\n'
		printf 'const char *lkl_module_firmware_table(void)\n{\n\treturn lkl_module_firmware;\n}\n'
	} > "$OUT/obj/module-firmware.c"
	gcc -O2 -fPIC -c "$OUT/obj/module-firmware.c" -o "$obj"
}

# LKL__NR_<name> <number>, resolved, from the asm-generic table we use.
generate_syscall_header() {
	local out=$1 tmp
	tmp=$(mktemp -d)
	printf '#include <asm/unistd.h>\n' > "$tmp/nr.c"
	gcc -E -dM -nostdinc -I"$SRC/include/uapi" -I"$SRC/arch/lkl/include/uapi" \
		-I"$OBJ/arch/lkl/include/generated/uapi" -I"$SRC/include" \
		"$tmp/nr.c" | awk '$1=="#define" && $2 ~ /^__NR_/ {print $2}' | sort -u > "$tmp/names"
	{
		printf '#include <asm/unistd.h>\n'
		while read -r n; do printf 'AIRTAP_NR %s %s\n' "${n#__NR_}" "$n"; done < "$tmp/names"
	} > "$tmp/resolve.c"
	{
		printf '/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */\n'
		printf '/* Syscall numbers of the kernel library (generated). */\n'
		printf '#ifndef LKL_SYSCALLS_H\n#define LKL_SYSCALLS_H\n'
		gcc -E -P -nostdinc -I"$SRC/include/uapi" -I"$SRC/arch/lkl/include/uapi" \
			-I"$OBJ/arch/lkl/include/generated/uapi" -I"$SRC/include" "$tmp/resolve.c" |
			awk '$1=="AIRTAP_NR" { v=$0; sub(/^AIRTAP_NR [^ ]+ /, "", v);
				if (v ~ /^[0-9 +()]+$/) { printf "#define LKL__NR_%s %d\n", $2, eval(v) } }
				function eval(e,  n, a, i, s) { gsub(/[()]/, "", e); n = split(e, a, "+"); s = 0;
				for (i = 1; i <= n; i++) s += a[i] + 0; return s }'
		printf '#endif\n'
	} > "$out"
	rm -rf "$tmp"
}

need_packages
# One build at a time in build/ (make demo and make test may overlap).
mkdir -p "$BUILD"
exec 9>"$BUILD/.kernel-build.lock"
flock 9
prepare_source
configure
compile
package
