# SPDX-License-Identifier: GPL-2.0-only
#
# make demo   build everything and capture a few seconds from the emulated RTL8821AU (2.4 and 5 GHz)
# make test   build and run every test (what .ci/run does)
# make test-asan / make test-tsan  the same under AddressSanitizer / ThreadSanitizer
# make bench  print the performance figures recorded in BENCHMARKS.md (release build)
# make hwtest with a real USB Wi-Fi adapter plugged in (not run by CI)
# make install-extcap  let Wireshark/tshark capture through airtap (EXTCAP_DIR=DIR: elsewhere)
# make soak   an hour of paced capture checked for leaks and losses (release build; not run by CI)
#
# Each target first makes sure the Debian packages it needs are there
# (packaging/need-debian-packages.sh has the lists): as root it installs
# them, otherwise it stops with the one apt-get command.

KERNEL_LIB := build/out/lib/liblkl.a
SWIFT_BIN  := .build/debug
RELEASE_BIN := .build/release
PROBE      := $(SWIFT_BIN)/airtap-kernel-probe
NEED       := packaging/need-debian-packages.sh

.PHONY: all kernel swift swift-release test test-asan test-tsan demo bench hwtest soak clean \
	need-build need-test need-swift install-extcap

all: swift

need-swift:
	@command -v swift >/dev/null || { \
		echo "airtap needs Swift 6 (swift.org toolchain for Debian 12): swift not found on PATH" >&2; \
		exit 1; }

need-build: need-swift
	@$(NEED) "make $(or $(MAKECMDGOALS),all)" build

need-test: need-swift
	@$(NEED) "make $(or $(MAKECMDGOALS),test)" test

kernel: need-build
	kernel/build.sh

# SwiftPM does not track liblkl.a: relink whenever it is newer (every
# program linking it: airtap, the probe, the library's example and checks,
# the test binary).
# $(call relink-debug-if-kernel-newer,BUILD_DIRECTORY)
define relink-debug-if-kernel-newer
	@if [ -e "$(1)/debug/airtap-kernel-probe" ] && [ "$(KERNEL_LIB)" -nt "$(1)/debug/airtap-kernel-probe" ]; then \
		rm -rf $(1)/*/debug/airtap $(1)/*/debug/airtap-kernel-probe \
		       $(1)/*/debug/AirtapExample $(1)/*/debug/airtap-library-checks \
		       $(1)/*/debug/airtapPackageTests.xctest; \
	fi
endef

# Nor the kernel's headers (Sources/CLinuxKernel): when one changed (a new
# host operation moves struct fields), the files that import it recompile.
# $(call recompile-if-kernel-headers-newer,BUILD_DIRECTORY)
define recompile-if-kernel-headers-newer
	@stamp=$(1)/kernel-headers.stamp; \
	if [ -e $$stamp ] && [ -n "$$(find build/out/include -name '*.h' -newer $$stamp | head -n 1)" ]; then \
		grep -rl --include='*.swift' 'import CLinuxKernel' Sources Tests | xargs touch; \
	fi; mkdir -p $(1) && touch $$stamp
endef

swift: kernel
	$(call relink-debug-if-kernel-newer,.build)
	$(call recompile-if-kernel-headers-newer,.build)
	swift build --build-tests

# What users run, and what the figures in BENCHMARKS.md are measured on.
swift-release: kernel
	@if [ -e "$(RELEASE_BIN)/airtap-kernel-probe" ] && \
	    [ "$(KERNEL_LIB)" -nt "$(RELEASE_BIN)/airtap-kernel-probe" ]; then \
		rm -rf .build/*/release/airtap .build/*/release/airtap-kernel-probe; \
	fi
	$(call recompile-if-kernel-headers-newer,.build/release)
	swift build -c release --product airtap
	swift build -c release --product airtap-kernel-probe

test: need-test swift
	swift test --skip-build

# Every test with the Swift and C host code under a sanitizer, in a build
# directory of its own; a report in any process fails the run (README,
# "Sanitizers"). TEST_ARGS go to swift test, e.g. TEST_ARGS="--filter NAME".
test-asan: need-test kernel
	$(call relink-debug-if-kernel-newer,.build-asan)
	$(call recompile-if-kernel-headers-newer,.build-asan)
	Tests/Sanitizers/run-tests.sh address $(TEST_ARGS)

test-tsan: need-test kernel
	$(call relink-debug-if-kernel-newer,.build-tsan)
	$(call recompile-if-kernel-headers-newer,.build-tsan)
	Tests/Sanitizers/run-tests.sh thread $(TEST_ARGS)

# A few seconds of capture from the emulated RTL8821AU (rtw88_8821au over the
# full USB path) on channels 1, 6, 11, 36 and 149: demo.pcapng and a summary.
demo: need-build swift
	$(SWIFT_BIN)/airtap demo -w demo.pcapng

# Offered RX loads (frames/s) of the paced runs and of the host dumpcap anchor.
OFFERED_RATES ?= 35000,100000,250000
# Unpaced RX/TX runs per frame size: each figure is reported as median [min, max] and spread.
BENCH_RUNS ?= 5

bench: need-build swift-release
	kernel/bench.sh $(RELEASE_BIN)/airtap-kernel-probe
	$(RELEASE_BIN)/airtap bench --runs $(BENCH_RUNS) --offered-rates $(OFFERED_RATES)
	$(RELEASE_BIN)/airtap bench --device emulated:rtl8187 --runs $(BENCH_RUNS)
	$(RELEASE_BIN)/airtap bench --device emulated:rtl8821au --runs $(BENCH_RUNS)
	$(RELEASE_BIN)/airtap bench --device emulated:rtl8821cu --runs $(BENCH_RUNS)
	$(RELEASE_BIN)/airtap bench --device emulated-libusb:rtl8821au --runs $(BENCH_RUNS)
	$(RELEASE_BIN)/airtap bench --device emulated:rtl8821au --sizes 1500 --frames 50000 \
		--offered-rates $(OFFERED_RATES) --offered-max-search
	@if [ "$$(id -u)" -eq 0 ]; then \
		$(RELEASE_BIN)/airtap bench --device host-dumpcap --offered-rates $(OFFERED_RATES); \
	else echo "bench: the dumpcap anchor needs root (a host TAP interface): skipped"; fi

# Real hardware (README, "Real adapters"): usbtest's control tests through
# libusb, then 10 s of capture on channels 1, 6, 11 checked by tshark.
# HWTEST_DEVICE selects the adapter (usb, usb:VID:PID, usb:BUS-PORT).
HWTEST_DEVICE ?= usb
hwtest: need-test swift
	$(SWIFT_BIN)/airtap list
	$(PROBE) usb-hw $(HWTEST_DEVICE)
	$(SWIFT_BIN)/airtap capture --device $(HWTEST_DEVICE) --channel 1,6,11 --hop-interval 0.5 \
		--duration 10 -w build/hwtest.pcapng
	@frames=$$(tshark -r build/hwtest.pcapng -T fields -e frame.number | wc -l); \
	echo "hwtest: $$frames frames in build/hwtest.pcapng"; test "$$frames" -gt 0

# Wireshark extcap: a link named airtap in the folder Wireshark runs capture
# programs from (`tshark -G folders`; Debian 12's global folder needs root).
install-extcap: swift
	$(SWIFT_BIN)/airtap extcap --install $(if $(EXTCAP_DIR),--dir $(EXTCAP_DIR))

# Long run (README, "Long runs"): capture from the emulated RTL8821AU at
# SOAK_RATE frames/s with injection and channel hops for SOAK_SECONDS, a
# sample of memory, threads and descriptors every SOAK_SAMPLE_SECONDS
# (- : a minute, shorter for short runs); fails on growth above 1 % after
# warm-up, frames lost or a kernel WARN. A short try: make soak SOAK_SECONDS=120.
SOAK_SECONDS ?= 3600
SOAK_SAMPLE_SECONDS ?= -
SOAK_RATE ?= 1000
soak: need-build swift-release
	AIRTAP_LOG_LEVEL=warning $(RELEASE_BIN)/airtap-kernel-probe soak $(SOAK_SECONDS) $(SOAK_SAMPLE_SECONDS) $(SOAK_RATE)

clean:
	rm -rf build .build .build-asan .build-tsan

# USB fuzzing with libFuzzer (README, "Fuzzing"): each target for
# FUZZ_SECONDS, corpora Tests/Fuzz/Corpus/TARGET (seeds, read) and
# .build/fuzz/work/TARGET/corpus (what libFuzzer adds), crash inputs in
# .build/fuzz/work/TARGET/artifacts, known findings' inputs in
# .build/fuzz/findings/TARGET. FUZZ_TARGETS picks targets.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= enumeration rtl8187-rx rtw88-rx
FUZZ_SCRATCH := .build/fuzz
FUZZER := $(FUZZ_SCRATCH)/release/airtap-usb-fuzz

.PHONY: fuzz fuzz-build
# gold crashes linking libFuzzer's main beside SwiftPM's: lld links it.
fuzz-build: kernel
	swift build -c release --scratch-path $(FUZZ_SCRATCH) --product airtap-usb-fuzz \
		-Xswiftc -sanitize=fuzzer -Xswiftc -DAIRTAP_LIBFUZZER -Xswiftc -use-ld=lld

fuzz: need-build fuzz-build
	@status=0; for target in $(FUZZ_TARGETS); do \
		work=$(FUZZ_SCRATCH)/work/$$target; mkdir -p $$work/corpus $$work/artifacts; \
		echo "== fuzz $$target for $(FUZZ_SECONDS) s"; \
		$(FUZZER) $$target -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$$work/artifacts/ $$work/corpus Tests/Fuzz/Corpus/$$target \
			> $$work/fuzz.log 2>&1; rc=$$?; \
		grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' $$work/fuzz.log | tail -1 | sed "s/^/$$target: last libFuzzer status: /"; \
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' $$work/fuzz.log | sed "s/^/$$target: /"; \
		grep -E '^airtap-usb-fuzz: (FINDING|ERROR|[a-z0-9-]+: [0-9]+ inputs)' $$work/fuzz.log | sed "s/^/$$target: /"; \
		ls $$work/artifacts | sed "s|^|$$target: new finding input: $$work/artifacts/|"; \
		if [ $$rc -ne 0 ]; then echo "$$target: libFuzzer exited $$rc (log: $$work/fuzz.log)"; status=1; fi; \
	done; exit $$status
