# SPDX-License-Identifier: GPL-2.0-only
#
# make demo   build everything and capture a few seconds from the emulated RTL8187
# make test   build and run every test (what .ci/run does)
# make bench  print the performance figures recorded in BENCHMARKS.md
# make hwtest with a real USB Wi-Fi adapter plugged in (not run by CI)

KERNEL_LIB := build/out/lib/liblkl.a
SWIFT_BIN  := .build/debug
PROBE      := $(SWIFT_BIN)/airtap-kernel-probe

.PHONY: all kernel swift test demo bench hwtest clean

all: swift

kernel:
	kernel/build.sh

# SwiftPM does not track liblkl.a: relink whenever it is newer.
swift: kernel
	@if [ -e "$(PROBE)" ] && [ "$(KERNEL_LIB)" -nt "$(PROBE)" ]; then \
		rm -rf .build/*/debug/airtap .build/*/debug/airtap-kernel-probe \
		       .build/*/debug/airtapPackageTests.xctest; \
	fi
	swift build --build-tests

test: swift
	swift test --skip-build

# A few seconds of capture from the emulated RTL8187 (the full USB path):
# demo.pcapng and a summary.
demo: swift
	$(SWIFT_BIN)/airtap demo -w demo.pcapng

bench: swift
	kernel/bench.sh $(PROBE)
	$(SWIFT_BIN)/airtap bench
	$(SWIFT_BIN)/airtap bench --device emulated:rtl8187

# Real hardware (README, "Real adapters"): usbtest's control tests through
# libusb, then 10 s of capture on channels 1, 6, 11 checked by tshark.
# HWTEST_DEVICE selects the adapter (usb, usb:VID:PID, usb:BUS-PORT).
HWTEST_DEVICE ?= usb
hwtest: swift
	$(SWIFT_BIN)/airtap list
	$(PROBE) usb-hw $(HWTEST_DEVICE)
	$(SWIFT_BIN)/airtap capture --device $(HWTEST_DEVICE) --channel 1,6,11 --hop-interval 0.5 \
		--duration 10 -w build/hwtest.pcapng
	@frames=$$(tshark -r build/hwtest.pcapng -T fields -e frame.number | wc -l); \
	echo "hwtest: $$frames frames in build/hwtest.pcapng"; test "$$frames" -gt 0

clean:
	rm -rf build .build
