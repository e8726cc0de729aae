/* SPDX-License-Identifier: GPL-2.0-only */
/* libusb-1.0 (Debian's libusb-1.0-0-dev) for Swift. */
#include <libusb-1.0/libusb.h>
