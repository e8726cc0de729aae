/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The virtual USB host controller's interface to the host
 * (arch/lkl/drivers/virtual_hcd.c).
 *
 * The kernel's USB core sees a USB 3 host controller laid out as xHCI is:
 * LKL_USB_PORTS connectors, each with a USB 2.0 half (on a USB 2.0 root
 * hub, low/full/high speed) and a SuperSpeed half (on a USB 3 root hub,
 * 5 Gb/s). A host program plugs a device into a free connector with
 * lkl_usb_attach(); from then on every URB the kernel submits to that
 * device is handed, flattened into struct lkl_usb_urb, to the device's
 * submit callback. The host finishes each URB exactly once with
 * lkl_usb_complete(), from any thread, at any time.
 *
 * Plain C types only, like host_ops.h: hosts include this next to their
 * own system headers.
 */
#ifndef _ASM_LKL_VIRTUAL_USB_H
#define _ASM_LKL_VIRTUAL_USB_H

/*
 * Ports as the host numbers them (lkl_usb_attach's result, lkl_usb_detach's
 * argument, struct lkl_usb_urb.port), 1..LKL_USB_ALL_PORTS:
 *   1..LKL_USB_PORTS        the USB 2.0 halves: port n of the USB 2.0 root
 *                           hub, which registers first (bus 1 when it is
 *                           the only controller: sysfs 1-n);
 *   LKL_USB_SS_PORT(n)      the SuperSpeed half of connector n: port n of
 *                           the USB 3 root hub, the next bus (2: sysfs 2-n).
 * Connector n holds one device, on one of its halves.
 */
#define LKL_USB_PORTS		8
#define LKL_USB_SS_PORT(n)	(LKL_USB_PORTS + (n))
#define LKL_USB_ALL_PORTS	(2 * LKL_USB_PORTS)

/* Device speeds (the values of the kernel's enum usb_device_speed). */
enum lkl_usb_speed {
	LKL_USB_SPEED_LOW = 1,
	LKL_USB_SPEED_FULL = 2,
	LKL_USB_SPEED_HIGH = 3,
	LKL_USB_SPEED_SUPER = 5,	/* 5 Gb/s, on a SuperSpeed port */
};

/* Transfer types (the values of bmAttributes & 3 in endpoint descriptors). */
enum lkl_usb_transfer_type {
	LKL_USB_CONTROL = 0,
	LKL_USB_ISOCHRONOUS = 1,	/* not supported: submit fails */
	LKL_USB_BULK = 2,
	LKL_USB_INTERRUPT = 3,
};

/* struct lkl_usb_urb.flags */
#define LKL_USB_SHORT_NOT_OK	0x01	/* short IN: status -EREMOTEIO */
#define LKL_USB_ZERO_PACKET	0x02	/* OUT ends with a zero-length packet */

/* Endpoint address bit for IN (device to host), as in USB descriptors. */
#define LKL_USB_DIR_IN		0x80

/*
 * One URB, as the host sees it. It stays valid, and the kernel does not
 * touch @buffer, from the submit callback until the host completes it.
 * @buffer is the driver's own buffer (no copy): the host reads OUT data
 * from it and writes IN data into it, at most @length bytes.
 */
struct lkl_usb_urb {
	unsigned long long handle;	/* names the URB to lkl_usb_complete */
	unsigned int port;		/* host port number of the device */
	unsigned char address;		/* USB device address (0 before SET_ADDRESS) */
	unsigned char endpoint;		/* number | LKL_USB_DIR_IN */
	unsigned char type;		/* enum lkl_usb_transfer_type */
	unsigned char flags;		/* LKL_USB_SHORT_NOT_OK, LKL_USB_ZERO_PACKET */
	unsigned char setup[8];		/* control transfers: the setup packet */
	void *buffer;			/* NULL when @length is 0 */
	unsigned int length;
	int interval;			/* interrupt: (micro)frames, as urb->interval */
};

/*
 * A device's callbacks. They run in kernel context (the caller holds the
 * library's CPU, possibly with interrupts disabled): they must not block
 * and must not make syscalls. They may call lkl_usb_complete().
 */
struct lkl_usb_device_ops {
	/*
	 * Take @urb. Return 0 and complete it later (or right away), or a
	 * negative errno to refuse it (the driver's submit fails with it;
	 * do not complete a refused URB).
	 */
	int (*submit)(void *device, const struct lkl_usb_urb *urb);
	/*
	 * The kernel wants the URB back (unlink, kill, endpoint flush). The
	 * host completes it as soon as it can, with any status: the driver
	 * sees the unlink status. @handle may already be completed.
	 */
	void (*cancel)(void *device, unsigned long long handle);
	/* Optional: the hub resets the port (before enumeration, or a driver's usb_reset_device). */
	void (*reset)(void *device);
};

/*
 * Plug a device into the first free connector: a LKL_USB_SPEED_SUPER
 * device into its SuperSpeed half (returns LKL_USB_SS_PORT(n)), any other
 * into its USB 2.0 half (returns n). Returns -EBUSY (no free connector),
 * -ENODEV (no controller), -EINVAL (no ops, or not one of the speeds
 * above). The hub notices the connection and the USB core enumerates the
 * device asynchronously. Call from a host thread, not from a callback.
 */
int lkl_usb_attach(enum lkl_usb_speed speed,
		   const struct lkl_usb_device_ops *ops, void *device);

/*
 * Unplug the device on @port (1..LKL_USB_ALL_PORTS; surprise removal). URBs still in flight
 * are completed by the kernel with -ESHUTDOWN; when this returns, the
 * device's callbacks are never called again and its URBs' buffers must
 * not be touched. Returns 0, or -EINVAL/-ENOENT for a bad or empty port.
 * Call from a host thread, not from a callback.
 */
int lkl_usb_detach(int port);

/*
 * Finish an URB: @status 0 or a negative errno (-EPIPE stall, -EPROTO,
 * -ETIMEDOUT, -EOVERFLOW, -ENODEV, -ESHUTDOWN, -EREMOTEIO, ...), with
 * @actual_length bytes transferred. Any thread, any context, lock-free.
 * Returns 0; -ENOENT if @handle is unknown or already completed (nothing
 * happens); -EINVAL for a status that is not an errno (nothing happens);
 * -EOVERFLOW if @actual_length exceeds the URB's length (the URB
 * completes with -EOVERFLOW).
 */
int lkl_usb_complete(unsigned long long handle, int status,
		     unsigned int actual_length);

/* Bookkeeping, for tests and leak checks. */
struct lkl_usb_stats {
	unsigned int in_flight;		/* URBs handed to the host, not yet completed */
	unsigned long long submitted;
	unsigned long long completed;
	unsigned long long bad_completions;	/* unknown, stale or malformed */
	unsigned long long forced_at_detach;	/* completed by lkl_usb_detach */
};

/* Fills @stats; returns 0 or -ENODEV (no controller). */
int lkl_usb_get_stats(struct lkl_usb_stats *stats);

#endif
