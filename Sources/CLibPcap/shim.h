/* SPDX-License-Identifier: GPL-2.0-only */
/* libpcap (Debian's libpcap-dev) for Swift: only its filter compiler is used. */
#include <pcap/pcap.h>
