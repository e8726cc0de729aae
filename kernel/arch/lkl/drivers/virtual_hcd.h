/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Virtual USB host controller, shared between its URB path
 * (virtual_hcd.c), its setup (virtual_hcd_setup.c) and its root hubs
 * (virtual_hcd_hub.c).
 */
#ifndef _LKL_VIRTUAL_HCD_H
#define _LKL_VIRTUAL_HCD_H

#include <linux/interrupt.h>
#include <linux/llist.h>
#include <linux/spinlock.h>
#include <linux/usb.h>
#include <linux/usb/hcd.h>
#include <asm/virtual_usb.h>

/* One root-hub port, with the device the host plugged into it. */
struct virtual_port {
	u16 status;			/* wPortStatus */
	u16 change;			/* wPortChange */
	const struct lkl_usb_device_ops *ops;	/* NULL: no device */
	void *device;
	enum lkl_usb_speed speed;
};

struct urb_slot;

/*
 * The controller: two usb_hcds (a USB 2.0 root hub and a SuperSpeed one,
 * bus numbers in that order) over one port table, one lock, one URB slot
 * table and one interrupt.
 */
struct virtual_hcd {
	spinlock_t lock;		/* ports, free slots, URB lists */
	struct usb_hcd *hs_hcd;		/* primary: USB 2.0 root hub */
	struct usb_hcd *ss_hcd;		/* shared: SuperSpeed root hub */
	int irq;
	/* Indexed by host port - 1: USB 2.0 halves, then SuperSpeed halves. */
	struct virtual_port ports[LKL_USB_ALL_PORTS];
	struct urb_slot *slots;
	struct urb_slot *free_slots;
	struct llist_head done;
	atomic_t in_flight;
	atomic64_t submitted;
	atomic64_t completed;
	atomic64_t bad_completions;
	atomic64_t forced_at_detach;
	long long bad_reported;
};

/* What each usb_hcd keeps in its hcd_priv. */
struct virtual_root_hub {
	struct virtual_hcd *controller;
};

static inline struct virtual_hcd *hcd_to_virtual(struct usb_hcd *hcd)
{
	return ((struct virtual_root_hub *)hcd->hcd_priv)->controller;
}

static inline bool vhcd_is_super(struct usb_hcd *hcd)
{
	return hcd->speed >= HCD_USB3;
}

/* Host port number of root-hub port @port1 of @hcd. */
static inline int vhcd_host_port(struct usb_hcd *hcd, int port1)
{
	return vhcd_is_super(hcd) ? LKL_USB_SS_PORT(port1) : port1;
}

static inline bool vhcd_host_port_is_super(int port)
{
	return port > LKL_USB_PORTS;
}

/* The URB path (virtual_hcd.c), which the hc_driver in virtual_hcd_setup.c points at. */
int vhcd_urb_enqueue(struct usb_hcd *hcd, struct urb *urb, gfp_t mem_flags);
int vhcd_urb_dequeue(struct usb_hcd *hcd, struct urb *urb, int status);
irqreturn_t vhcd_irq(int irq, void *data);
int vhcd_slots_alloc(struct virtual_hcd *v);
void vhcd_slots_free(struct virtual_hcd *v);
/* The controller the host API works on (NULL until brought up). */
struct virtual_hcd *vhcd_controller(void);
void vhcd_publish(struct virtual_hcd *v);
/* Creates the controller on first use (task context; virtual_hcd_setup.c). */
int vhcd_bring_up(void);

/* Root-hub emulation (virtual_hcd_hub.c); the lock is held by callers of these two. */
void vhcd_port_connect(struct virtual_port *vp, bool super);
void vhcd_port_disconnect(struct virtual_port *vp, bool super);
int vhcd_hub_status_data(struct usb_hcd *hcd, char *buf);
int vhcd_hub_control(struct usb_hcd *hcd, u16 type_req, u16 value,
		     u16 index, char *buf, u16 length);

#endif
