// SPDX-License-Identifier: GPL-2.0-only
/*
 * Virtual USB host controller: the kernel's USB core and drivers talk to
 * devices that live in the host program (a real adapter through libusb,
 * or a software model), see <asm/virtual_usb.h> for the host's side.
 * Two usb_hcds share it, as on xHCI: a USB 2.0 root hub (the primary) and
 * a SuperSpeed one; their ports are emulated in virtual_hcd_hub.c.
 *
 * A URB's path: usb_submit_urb() -> vhcd_urb_enqueue() flattens it into
 * a slot's struct lkl_usb_urb (the buffer is the driver's own, not
 * copied) and calls the device's submit callback, still on the
 * submitting thread. Later, any host thread calls lkl_usb_complete():
 * it claims the slot with one compare-and-swap (so an unknown, stale or
 * repeated handle is refused without touching the URB), queues the slot
 * on a lock-free list and triggers our interrupt. The interrupt handler,
 * run by whichever thread owns the CPU, drains the list and gives the
 * URBs back (HCD_BH: drivers' completions run in softirq context).
 *
 * Unlinks ask the host to cancel; the URB still comes back only through
 * lkl_usb_complete(), so the driver's buffer is never freed while the
 * host may be writing it. lkl_usb_detach() is the one exception: the
 * device is gone, so the kernel completes what it still holds.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/interrupt.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <asm/lkl.h>
#include "virtual_hcd.h"

/* URBs in flight at once, over all devices; a power of two. */
#define URB_SLOTS	4096

/*
 * A slot's state word: generation << 2 | state. The handle the host
 * gets carries the generation, so a handle from an earlier use of the
 * slot never matches again.
 */
enum slot_state {
	SLOT_FREE,
	SLOT_IN_FLIGHT,		/* with the host */
	SLOT_DONE,		/* completed, queued for the interrupt */
};

struct urb_slot {
	struct lkl_usb_urb pub;		/* what the host reads */
	atomic_long_t state;
	struct urb *urb;
	struct usb_hcd *hcd;		/* the root hub's, to give the URB back */
	int status;
	unsigned int actual_length;
	struct llist_node done;
	struct urb_slot *next_free;
};

/* Set once the controller is up; the host API reads it from any thread. */
static struct virtual_hcd *the_controller;

static long slot_state(unsigned int generation, enum slot_state state)
{
	return (long)generation << 2 | state;
}

static unsigned int slot_generation(struct urb_slot *slot)
{
	return (unsigned long)atomic_long_read(&slot->state) >> 2;
}

/* Called with the lock held. */
static void slot_free(struct virtual_hcd *v, struct urb_slot *slot)
{
	atomic_long_set(&slot->state,
			slot_state(slot_generation(slot) + 1, SLOT_FREE));
	slot->urb = NULL;
	slot->next_free = v->free_slots;
	v->free_slots = slot;
	atomic_dec(&v->in_flight);
}

/* The root-hub port a device hangs from (devices behind hubs included). */
static int root_port_of(struct usb_device *udev)
{
	while (udev->parent && udev->parent->parent)
		udev = udev->parent;
	return udev->portnum;
}

static void flatten_urb(struct virtual_hcd *v, struct urb_slot *slot,
			struct urb *urb, int port)
{
	struct lkl_usb_urb *pub = &slot->pub;
	unsigned int index = slot - v->slots;

	pub->handle = (unsigned long long)slot_generation(slot) << 32 | index;
	pub->port = port;
	pub->address = urb->dev->devnum;
	pub->endpoint = usb_pipeendpoint(urb->pipe) |
			(usb_pipein(urb->pipe) ? LKL_USB_DIR_IN : 0);
	pub->type = usb_pipetype(urb->pipe) == PIPE_CONTROL ? LKL_USB_CONTROL :
		    usb_pipetype(urb->pipe) == PIPE_BULK ? LKL_USB_BULK :
		    usb_pipetype(urb->pipe) == PIPE_INTERRUPT ?
		    LKL_USB_INTERRUPT : LKL_USB_ISOCHRONOUS;
	pub->flags = 0;
	if (urb->transfer_flags & URB_SHORT_NOT_OK)
		pub->flags |= LKL_USB_SHORT_NOT_OK;
	if (urb->transfer_flags & URB_ZERO_PACKET)
		pub->flags |= LKL_USB_ZERO_PACKET;
	if (urb->setup_packet)
		memcpy(pub->setup, urb->setup_packet, sizeof(pub->setup));
	else
		memset(pub->setup, 0, sizeof(pub->setup));
	pub->length = urb->transfer_buffer_length;
	pub->buffer = pub->length ? urb->transfer_buffer : NULL;
	pub->interval = urb->interval;
}

int vhcd_urb_enqueue(struct usb_hcd *hcd, struct urb *urb,
		     gfp_t mem_flags)
{
	struct virtual_hcd *v = hcd_to_virtual(hcd);
	int root_port = root_port_of(urb->dev);
	int port = vhcd_host_port(hcd, root_port);
	struct virtual_port *vp;
	struct urb_slot *slot;
	unsigned long flags;
	long expected;
	int ret;

	if (usb_pipeisoc(urb->pipe))
		return -EOPNOTSUPP;	/* isochronous: not implemented */
	if (urb->num_sgs || (urb->transfer_buffer_length &&
			     !urb->transfer_buffer))
		return -EINVAL;		/* no sg_tablesize, no DMA-only */
	if (root_port < 1 || root_port > LKL_USB_PORTS)
		return -ENODEV;

	spin_lock_irqsave(&v->lock, flags);
	vp = &v->ports[port - 1];
	if (!vp->ops) {
		ret = -ENODEV;
		goto unlock;
	}
	slot = v->free_slots;
	if (!slot) {
		dev_err_ratelimited(hcd->self.controller,
				    "all %d URB slots in flight: a host device is not completing URBs\n",
				    URB_SLOTS);
		ret = -ENOMEM;
		goto unlock;
	}
	ret = usb_hcd_link_urb_to_ep(hcd, urb);
	if (ret)
		goto unlock;
	v->free_slots = slot->next_free;
	atomic_inc(&v->in_flight);
	slot->urb = urb;
	slot->hcd = hcd;
	urb->hcpriv = slot;
	flatten_urb(v, slot, urb, port);
	atomic_long_set(&slot->state,
			slot_state(slot_generation(slot), SLOT_IN_FLIGHT));
	atomic64_inc(&v->submitted);

	/* Interrupts are off: a completion from inside submit waits for us. */
	ret = vp->ops->submit(vp->device, &slot->pub);
	if (ret) {
		expected = slot_state(slot_generation(slot), SLOT_IN_FLIGHT);
		if (!atomic_long_try_cmpxchg(&slot->state, &expected,
					     slot_state(slot_generation(slot),
							SLOT_FREE))) {
			/* Refused and completed anyway: it comes back. */
			dev_warn_ratelimited(hcd->self.controller,
					     "port %d: device refused a URB (%d) but completed it too\n",
					     port, ret);
			ret = 0;
			goto unlock;
		}
		usb_hcd_unlink_urb_from_ep(hcd, urb);
		urb->hcpriv = NULL;
		atomic64_dec(&v->submitted);
		slot_free(v, slot);
	}
unlock:
	spin_unlock_irqrestore(&v->lock, flags);
	return ret;
}

int vhcd_urb_dequeue(struct usb_hcd *hcd, struct urb *urb, int status)
{
	struct virtual_hcd *v = hcd_to_virtual(hcd);
	struct virtual_port *vp;
	struct urb_slot *slot;
	unsigned long flags;
	int ret;

	spin_lock_irqsave(&v->lock, flags);
	ret = usb_hcd_check_unlink_urb(hcd, urb, status);
	if (ret)
		goto unlock;
	slot = urb->hcpriv;
	vp = &v->ports[slot->pub.port - 1];
	/*
	 * The host answers with lkl_usb_complete(), now or later; the core
	 * then reports the unlink status. With the device detached, the
	 * URB was already completed by lkl_usb_detach().
	 */
	if (vp->ops && vp->ops->cancel)
		vp->ops->cancel(vp->device, slot->pub.handle);
unlock:
	spin_unlock_irqrestore(&v->lock, flags);
	return ret;
}

/* Give back every URB the host completed. */
irqreturn_t vhcd_irq(int irq, void *data)
{
	struct virtual_hcd *v = data;
	struct llist_node *list = llist_del_all(&v->done);
	struct urb_slot *slot, *next;
	long long bad;

	llist_for_each_entry_safe(slot, next, llist_reverse_order(list), done) {
		struct usb_hcd *hcd;
		struct urb *urb;
		int status;

		spin_lock(&v->lock);
		urb = slot->urb;
		hcd = slot->hcd;
		status = slot->status;
		urb->actual_length = slot->actual_length;
		if (!status && (urb->transfer_flags & URB_SHORT_NOT_OK) &&
		    usb_urb_dir_in(urb) &&
		    urb->actual_length < urb->transfer_buffer_length)
			status = -EREMOTEIO;
		usb_hcd_unlink_urb_from_ep(hcd, urb);
		urb->hcpriv = NULL;
		slot_free(v, slot);
		spin_unlock(&v->lock);
		atomic64_inc(&v->completed);
		usb_hcd_giveback_urb(hcd, urb, status);
	}

	/* Host threads cannot log; report their mistakes from here. */
	bad = atomic64_read(&v->bad_completions);
	if (bad != v->bad_reported) {
		dev_err_ratelimited(v->hs_hcd->self.controller,
				    "host completed %lld URB(s) with an unknown, stale or malformed handle, status or length; ignored or completed with -EOVERFLOW\n",
				    bad - v->bad_reported);
		v->bad_reported = bad;
	}
	return IRQ_HANDLED;
}

int lkl_usb_complete(unsigned long long handle, int status,
		     unsigned int actual_length)
{
	struct virtual_hcd *v = READ_ONCE(the_controller);
	unsigned int index = handle & 0xffffffffU;
	unsigned int generation = handle >> 32;
	struct urb_slot *slot;
	long expected;
	int ret = 0;

	if (!v)
		return -ENODEV;
	if (status > 0 || status < -MAX_ERRNO || index >= URB_SLOTS) {
		ret = index >= URB_SLOTS ? -ENOENT : -EINVAL;
		goto bad;
	}
	slot = &v->slots[index];
	expected = slot_state(generation, SLOT_IN_FLIGHT);
	if (!atomic_long_try_cmpxchg(&slot->state, &expected,
				     slot_state(generation, SLOT_DONE))) {
		ret = -ENOENT;
		goto bad;
	}
	/* The slot is ours until the interrupt handler frees it. */
	if (actual_length > slot->pub.length) {
		status = -EOVERFLOW;
		actual_length = slot->pub.length;
		ret = -EOVERFLOW;
		atomic64_inc(&v->bad_completions);
	}
	slot->status = status;
	slot->actual_length = actual_length;
	llist_add(&slot->done, &v->done);
	lkl_trigger_irq(v->irq);
	return ret;

bad:
	atomic64_inc(&v->bad_completions);
	lkl_trigger_irq(v->irq);	/* so the handler logs it */
	return ret;
}

int lkl_usb_get_stats(struct lkl_usb_stats *stats)
{
	struct virtual_hcd *v = READ_ONCE(the_controller);

	if (!v) {
		/* Not brought up yet: nothing was ever submitted. */
		memset(stats, 0, sizeof(*stats));
		return 0;
	}
	stats->in_flight = atomic_read(&v->in_flight);
	stats->submitted = atomic64_read(&v->submitted);
	stats->completed = atomic64_read(&v->completed);
	stats->bad_completions = atomic64_read(&v->bad_completions);
	stats->forced_at_detach = atomic64_read(&v->forced_at_detach);
	return 0;
}

struct attach_request {
	enum lkl_usb_speed speed;
	const struct lkl_usb_device_ops *ops;
	void *device;
};

static struct usb_hcd *port_hcd(struct virtual_hcd *v, int port)
{
	return vhcd_host_port_is_super(port) ? v->ss_hcd : v->hs_hcd;
}

/*
 * A connector holds one device: on its SuperSpeed half at SuperSpeed, on
 * its USB 2.0 half otherwise, so both halves of the connector must be free.
 */
static long attach_in_kernel(void *arg)
{
	struct attach_request *req = arg;
	struct virtual_hcd *v;
	bool super = req->speed == LKL_USB_SPEED_SUPER;
	unsigned long flags;
	int connector, found = -EBUSY, ret;

	ret = vhcd_bring_up();
	if (ret)
		return ret;
	v = the_controller;

	spin_lock_irqsave(&v->lock, flags);
	for (connector = 1; connector <= LKL_USB_PORTS; connector++) {
		int port = super ? LKL_USB_SS_PORT(connector) : connector;
		struct virtual_port *vp = &v->ports[port - 1];

		if (v->ports[connector - 1].ops ||
		    v->ports[LKL_USB_SS_PORT(connector) - 1].ops)
			continue;
		vp->ops = req->ops;
		vp->device = req->device;
		vp->speed = req->speed;
		vhcd_port_connect(vp, super);
		found = port;
		break;
	}
	spin_unlock_irqrestore(&v->lock, flags);
	if (found > 0) {
		dev_info(v->hs_hcd->self.controller,
			 "port %d: %s device attached (%s root hub port %d)\n",
			 found, usb_speed_string((enum usb_device_speed)req->speed),
			 super ? "SuperSpeed" : "USB 2.0",
			 super ? found - LKL_USB_PORTS : found);
		usb_hcd_poll_rh_status(port_hcd(v, found));
	}
	return found;
}

int lkl_usb_attach(enum lkl_usb_speed speed,
		   const struct lkl_usb_device_ops *ops, void *device)
{
	struct attach_request req = {
		.speed = speed, .ops = ops, .device = device,
	};

	if (!ops || !ops->submit || !ops->cancel)
		return -EINVAL;
	switch (speed) {
	case LKL_USB_SPEED_LOW:
	case LKL_USB_SPEED_FULL:
	case LKL_USB_SPEED_HIGH:
	case LKL_USB_SPEED_SUPER:
		break;
	default:
		return -EINVAL;
	}
	return lkl_call_in_task(attach_in_kernel, &req);
}

static long detach_in_kernel(void *arg)
{
	int port = (long)arg;
	struct virtual_hcd *v = the_controller;
	struct virtual_port *vp = &v->ports[port - 1];
	unsigned long flags;
	unsigned int i, forced = 0;

	spin_lock_irqsave(&v->lock, flags);
	if (!vp->ops) {
		spin_unlock_irqrestore(&v->lock, flags);
		return -ENOENT;
	}
	vp->ops = NULL;
	vp->device = NULL;
	vhcd_port_disconnect(vp, vhcd_host_port_is_super(port));

	/* What the host still holds comes back now, as a vanished device's. */
	for (i = 0; i < URB_SLOTS; i++) {
		struct urb_slot *slot = &v->slots[i];
		unsigned int generation = slot_generation(slot);
		long expected = slot_state(generation, SLOT_IN_FLIGHT);

		if (slot->pub.port != port ||
		    !atomic_long_try_cmpxchg(&slot->state, &expected,
					     slot_state(generation,
							SLOT_DONE)))
			continue;
		slot->status = -ESHUTDOWN;
		slot->actual_length = 0;
		llist_add(&slot->done, &v->done);
		forced++;
	}
	spin_unlock_irqrestore(&v->lock, flags);

	if (forced) {
		atomic64_add(forced, &v->forced_at_detach);
		dev_warn(v->hs_hcd->self.controller,
			 "port %d: %u URB(s) still in flight at detach, completed with -ESHUTDOWN\n",
			 port, forced);
		lkl_trigger_irq(v->irq);
	}
	dev_info(v->hs_hcd->self.controller, "port %d: device detached\n",
		 port);
	usb_hcd_poll_rh_status(port_hcd(v, port));
	return 0;
}

int lkl_usb_detach(int port)
{
	if (!READ_ONCE(the_controller))
		return -ENODEV;
	if (port < 1 || port > LKL_USB_ALL_PORTS)
		return -EINVAL;
	return lkl_call_in_task(detach_in_kernel, (void *)(long)port);
}

int vhcd_slots_alloc(struct virtual_hcd *v)
{
	int i;

	v->slots = vzalloc(array_size(URB_SLOTS, sizeof(*v->slots)));
	if (!v->slots)
		return -ENOMEM;
	for (i = URB_SLOTS - 1; i >= 0; i--) {
		v->slots[i].next_free = v->free_slots;
		v->free_slots = &v->slots[i];
	}
	return 0;
}

void vhcd_slots_free(struct virtual_hcd *v)
{
	vfree(v->slots);
}

struct virtual_hcd *vhcd_controller(void)
{
	return READ_ONCE(the_controller);
}

void vhcd_publish(struct virtual_hcd *v)
{
	WRITE_ONCE(the_controller, v);
}
