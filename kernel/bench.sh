#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Kernel library figures (make bench): boot to ready (median over
# separate processes), null syscall vs the host's getpid, IRQ delivery
# latency from a host thread to the handler, peak RSS. make bench passes
# the release probe (what users run).
set -euo pipefail
PROBE=${1:-.build/release/airtap-kernel-probe}
RUNS=${BOOT_RUNS:-21}
export AIRTAP_LOG_LEVEL=error

value() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" | head -n 1; }

boots=()
for _ in $(seq "$RUNS"); do
	boots+=("$("$PROBE" bench-boot 2>/dev/null | value boot_ns)")
done
boot_median_ns=$(printf '%s\n' "${boots[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")

sys=$("$PROBE" bench-syscall 2>/dev/null)
lkl_ns=$(echo "$sys" | value lkl_getpid_ns)
host_ns=$(echo "$sys" | value host_getpid_ns)
rss_kib=$(echo "$sys" | value maxrss_kib)

irq=$("$PROBE" kunit "kunit.filter_glob=lkl_irq.lkl_irq_latency" 2>/dev/null | grep -m1 irq_latency_ns || true)
irq_p50=$(echo "$irq" | value p50)
irq_p99=$(echo "$irq" | value p99)

awk -v b="$boot_median_ns" -v runs="$RUNS" -v l="$lkl_ns" -v h="$host_ns" \
    -v p50="$irq_p50" -v p99="$irq_p99" -v rss="$rss_kib" 'BEGIN {
	printf "kernel library benchmarks (%s)\n", strftime("%Y-%m-%d")
	printf "  boot to ready, median of %d processes : %.2f ms   (target <= 10 ms)\n", runs, b / 1e6
	printf "  null syscall (getpid) in the library  : %.0f ns    (target <= 150 ns)\n", l
	printf "  host getpid syscall, same run         : %.0f ns    (ratio %.2f)\n", h, l / h
	printf "  IRQ host thread -> handler, p50 / p99 : %.2f / %.2f us (targets 5 / 50 us)\n", p50 / 1e3, p99 / 1e3
	printf "  peak RSS (booted, 1M syscalls)        : %.1f MiB  (target <= 64 MiB)\n", rss / 1024
}'

# Virtual USB host controller, through the whole path (driver -> HCD ->
# gadget-zero model -> completion IRQ -> giveback).
usb=$("$PROBE" bench-usb 2>/dev/null)
get() { echo "$usb" | value "$1"; }
printf 'virtual USB host controller (gadget-zero model)\n'
printf '  control transfers/s (usbfs GET_STATUS)  : %s /s   (target >= 100000), call p50 %s us\n' \
	"$(get control_per_second)" "$(get control_call_p50_us)"
printf '  bulk IN, usbfs 64 KiB, model thread      : %s MB/s (target >= 1000)\n' "$(get bulk_in_usbfs_mb_per_s)"
printf '  bulk IN, usbfs 64 KiB, data ready inline : %s MB/s\n' "$(get bulk_in_usbfs_inline_mb_per_s)"
printf '  bulk IN, usbtest test 2 / 28 (queued)    : %s / %s MB/s (test 2 checks every byte)\n' \
	"$(get bulk_in_mb_per_s)" "$(get bulk_in_queued_mb_per_s)"
printf '  URB submit->complete, model thread p50/p99 : %s / %s us (target p99 <= 50 us)\n' \
	"$(get urb_latency_p50_us)" "$(get urb_latency_p99_us)"
printf '  URB round trip inline, p99 submit->complete: %s us, %s us\n' \
	"$(get urb_inline_round_trip_us)" "$(get urb_inline_latency_p99_us)"
