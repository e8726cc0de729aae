// SPDX-License-Identifier: GPL-2.0-only
/*
 * Virtual USB host controller: the kernel's USB core and drivers talk to
 * devices that live in the host program (a real adapter through libusb,
 * or a software model), see <asm/virtual_usb.h> for the host's side.
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
#include <linux/llist.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/ktime.h>
#include <linux/usb.h>
#include <linux/usb/hcd.h>
#include <linux/usb/ch11.h>
#include <linux/unaligned.h>
#include <asm/lkl.h>
#include <asm/virtual_usb.h>

#define DRIVER_NAME	"lkl-virtual-hcd"

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
	int status;
	unsigned int actual_length;
	struct llist_node done;
	struct urb_slot *next_free;
};

struct virtual_port {
	u16 status;			/* wPortStatus */
	u16 change;			/* wPortChange */
	const struct lkl_usb_device_ops *ops;	/* NULL: no device */
	void *device;
	enum lkl_usb_speed speed;
};

struct virtual_hcd {
	spinlock_t lock;		/* ports, free slots, URB lists */
	struct usb_hcd *hcd;
	int irq;
	struct virtual_port ports[LKL_USB_PORTS];
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

/* Set once the controller is up; the host API reads it from any thread. */
static struct virtual_hcd *the_controller;

static inline struct virtual_hcd *hcd_to_virtual(struct usb_hcd *hcd)
{
	return (struct virtual_hcd *)hcd->hcd_priv;
}

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

static int vhcd_urb_enqueue(struct usb_hcd *hcd, struct urb *urb,
			    gfp_t mem_flags)
{
	struct virtual_hcd *v = hcd_to_virtual(hcd);
	int port = root_port_of(urb->dev);
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
	if (port < 1 || port > LKL_USB_PORTS)
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

static int vhcd_urb_dequeue(struct usb_hcd *hcd, struct urb *urb, int status)
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
static irqreturn_t vhcd_irq(int irq, void *data)
{
	struct virtual_hcd *v = data;
	struct usb_hcd *hcd = v->hcd;
	struct llist_node *list = llist_del_all(&v->done);
	struct urb_slot *slot, *next;
	long long bad;

	llist_for_each_entry_safe(slot, next, llist_reverse_order(list), done) {
		struct urb *urb;
		int status;

		spin_lock(&v->lock);
		urb = slot->urb;
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
		dev_err_ratelimited(hcd->self.controller,
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

	if (!v)
		return -ENODEV;
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

static u16 speed_status_bits(enum lkl_usb_speed speed)
{
	switch (speed) {
	case LKL_USB_SPEED_LOW:
		return USB_PORT_STAT_LOW_SPEED;
	case LKL_USB_SPEED_HIGH:
		return USB_PORT_STAT_HIGH_SPEED;
	default:
		return 0;
	}
}

static long attach_in_kernel(void *arg)
{
	struct attach_request *req = arg;
	struct virtual_hcd *v = the_controller;
	unsigned long flags;
	int port, found = -EBUSY;

	spin_lock_irqsave(&v->lock, flags);
	for (port = 1; port <= LKL_USB_PORTS; port++) {
		struct virtual_port *vp = &v->ports[port - 1];

		if (vp->ops)
			continue;
		vp->ops = req->ops;
		vp->device = req->device;
		vp->speed = req->speed;
		vp->status |= USB_PORT_STAT_CONNECTION;
		vp->change |= USB_PORT_STAT_C_CONNECTION;
		found = port;
		break;
	}
	spin_unlock_irqrestore(&v->lock, flags);
	if (found > 0) {
		dev_info(v->hcd->self.controller, "port %d: device attached\n",
			 found);
		usb_hcd_poll_rh_status(v->hcd);
	}
	return found;
}

int lkl_usb_attach(enum lkl_usb_speed speed,
		   const struct lkl_usb_device_ops *ops, void *device)
{
	struct attach_request req = {
		.speed = speed, .ops = ops, .device = device,
	};

	if (!READ_ONCE(the_controller))
		return -ENODEV;
	if (!ops || !ops->submit || !ops->cancel ||
	    speed < LKL_USB_SPEED_LOW || speed > LKL_USB_SPEED_HIGH)
		return -EINVAL;
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
	vp->status &= ~(USB_PORT_STAT_CONNECTION | USB_PORT_STAT_ENABLE |
			USB_PORT_STAT_LOW_SPEED | USB_PORT_STAT_HIGH_SPEED |
			USB_PORT_STAT_SUSPEND | USB_PORT_STAT_RESET);
	vp->change |= USB_PORT_STAT_C_CONNECTION;

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
		dev_warn(v->hcd->self.controller,
			 "port %d: %u URB(s) still in flight at detach, completed with -ESHUTDOWN\n",
			 port, forced);
		lkl_trigger_irq(v->irq);
	}
	dev_info(v->hcd->self.controller, "port %d: device detached\n", port);
	usb_hcd_poll_rh_status(v->hcd);
	return 0;
}

int lkl_usb_detach(int port)
{
	if (!READ_ONCE(the_controller))
		return -ENODEV;
	if (port < 1 || port > LKL_USB_PORTS)
		return -EINVAL;
	return lkl_call_in_task(detach_in_kernel, (void *)(long)port);
}

/* Root hub. */

static int vhcd_hub_status_data(struct usb_hcd *hcd, char *buf)
{
	struct virtual_hcd *v = hcd_to_virtual(hcd);
	int bytes = DIV_ROUND_UP(LKL_USB_PORTS + 1, 8);
	unsigned long flags;
	bool changed = false;
	int port;

	memset(buf, 0, bytes);
	spin_lock_irqsave(&v->lock, flags);
	for (port = 1; port <= LKL_USB_PORTS; port++) {
		if (v->ports[port - 1].change) {
			buf[port / 8] |= BIT(port % 8);
			changed = true;
		}
	}
	spin_unlock_irqrestore(&v->lock, flags);
	return changed ? bytes : 0;
}

static void hub_descriptor(struct usb_hub_descriptor *desc)
{
	int width = DIV_ROUND_UP(LKL_USB_PORTS + 1, 8);

	memset(desc, 0, sizeof(*desc));
	desc->bDescriptorType = USB_DT_HUB;
	desc->bDescLength = USB_DT_HUB_NONVAR_SIZE + 2 * width;
	desc->bNbrPorts = LKL_USB_PORTS;
	desc->wHubCharacteristics = cpu_to_le16(HUB_CHAR_INDV_PORT_LPSM |
						HUB_CHAR_NO_OCPM);
	desc->bPwrOn2PwrGood = 1;
	/* All devices removable; then the legacy PortPwrCtrlMask, all ones. */
	memset(&desc->u.hs.DeviceRemovable[width], 0xff, width);
}

/* Called with the lock held. */
static void port_reset(struct virtual_port *vp)
{
	vp->status &= ~(USB_PORT_STAT_RESET | USB_PORT_STAT_SUSPEND |
			USB_PORT_STAT_LOW_SPEED | USB_PORT_STAT_HIGH_SPEED);
	vp->change |= USB_PORT_STAT_C_RESET;
	if (!vp->ops)
		return;
	/* A reset device is enabled at its speed, with address 0. */
	vp->status |= USB_PORT_STAT_ENABLE | speed_status_bits(vp->speed);
	if (vp->ops->reset)
		vp->ops->reset(vp->device);
}

static int vhcd_hub_control(struct usb_hcd *hcd, u16 type_req, u16 value,
			    u16 index, char *buf, u16 length)
{
	struct virtual_hcd *v = hcd_to_virtual(hcd);
	struct virtual_port *vp = NULL;
	unsigned long flags;
	int ret = 0;

	if (index >= 1 && index <= LKL_USB_PORTS)
		vp = &v->ports[index - 1];

	spin_lock_irqsave(&v->lock, flags);
	switch (type_req) {
	case ClearHubFeature:
	case SetHubFeature:
		if (value != C_HUB_LOCAL_POWER && value != C_HUB_OVER_CURRENT)
			ret = -EPIPE;
		break;
	case GetHubDescriptor:
		if ((value >> 8) != USB_DT_HUB || index) {
			ret = -EPIPE;
			break;
		}
		hub_descriptor((struct usb_hub_descriptor *)buf);
		ret = min_t(int, length, ((struct usb_hub_descriptor *)buf)->bDescLength);
		break;
	case GetHubStatus:
		memset(buf, 0, 4);
		ret = 4;
		break;
	case GetPortStatus:
		if (!vp) {
			ret = -EPIPE;
			break;
		}
		put_unaligned_le16(vp->status, buf);
		put_unaligned_le16(vp->change, buf + 2);
		ret = 4;
		break;
	case SetPortFeature:
		if (!vp) {
			ret = -EPIPE;
			break;
		}
		switch (value) {
		case USB_PORT_FEAT_POWER:
			vp->status |= USB_PORT_STAT_POWER;
			break;
		case USB_PORT_FEAT_RESET:
			if (vp->status & USB_PORT_STAT_POWER)
				port_reset(vp);
			break;
		case USB_PORT_FEAT_SUSPEND:
			if (vp->status & USB_PORT_STAT_ENABLE)
				vp->status |= USB_PORT_STAT_SUSPEND;
			break;
		case USB_PORT_FEAT_TEST:
		case USB_PORT_FEAT_INDICATOR:
			break;
		default:
			ret = -EPIPE;
		}
		break;
	case ClearPortFeature:
		if (!vp) {
			ret = -EPIPE;
			break;
		}
		switch (value) {
		case USB_PORT_FEAT_ENABLE:
			vp->status &= ~(USB_PORT_STAT_ENABLE |
					USB_PORT_STAT_LOW_SPEED |
					USB_PORT_STAT_HIGH_SPEED);
			break;
		case USB_PORT_FEAT_SUSPEND:
			vp->status &= ~USB_PORT_STAT_SUSPEND;
			break;
		case USB_PORT_FEAT_POWER:
			vp->status &= ~USB_PORT_STAT_POWER;
			break;
		case USB_PORT_FEAT_C_CONNECTION:
			vp->change &= ~USB_PORT_STAT_C_CONNECTION;
			break;
		case USB_PORT_FEAT_C_ENABLE:
			vp->change &= ~USB_PORT_STAT_C_ENABLE;
			break;
		case USB_PORT_FEAT_C_SUSPEND:
			vp->change &= ~USB_PORT_STAT_C_SUSPEND;
			break;
		case USB_PORT_FEAT_C_OVER_CURRENT:
			vp->change &= ~USB_PORT_STAT_C_OVERCURRENT;
			break;
		case USB_PORT_FEAT_C_RESET:
			vp->change &= ~USB_PORT_STAT_C_RESET;
			break;
		case USB_PORT_FEAT_INDICATOR:
			break;
		default:
			ret = -EPIPE;
		}
		break;
	default:
		ret = -EPIPE;
	}
	spin_unlock_irqrestore(&v->lock, flags);
	return ret;
}

static int vhcd_get_frame_number(struct usb_hcd *hcd)
{
	/* Full-speed frames since boot; enough for interval bookkeeping. */
	return (ktime_get_ns() / NSEC_PER_MSEC) & 0x7ff;
}

static int vhcd_start(struct usb_hcd *hcd)
{
	hcd->power_budget = 0;		/* no limit */
	hcd->uses_new_polling = 1;
	hcd->state = HC_STATE_RUNNING;
	return 0;
}

static void vhcd_stop(struct usb_hcd *hcd)
{
	hcd->state = HC_STATE_HALT;
}

static const struct hc_driver virtual_hc_driver = {
	.description = DRIVER_NAME,
	.product_desc = "airtap virtual USB host controller",
	.hcd_priv_size = sizeof(struct virtual_hcd),
	.flags = HCD_USB2 | HCD_BH,
	.start = vhcd_start,
	.stop = vhcd_stop,
	.urb_enqueue = vhcd_urb_enqueue,
	.urb_dequeue = vhcd_urb_dequeue,
	.get_frame_number = vhcd_get_frame_number,
	.hub_status_data = vhcd_hub_status_data,
	.hub_control = vhcd_hub_control,
};

static int vhcd_probe(struct platform_device *pdev)
{
	struct virtual_hcd *v;
	struct usb_hcd *hcd;
	int i, ret;

	hcd = usb_create_hcd(&virtual_hc_driver, &pdev->dev,
			     dev_name(&pdev->dev));
	if (!hcd)
		return -ENOMEM;
	v = hcd_to_virtual(hcd);
	spin_lock_init(&v->lock);
	init_llist_head(&v->done);
	v->hcd = hcd;
	v->slots = vzalloc(array_size(URB_SLOTS, sizeof(*v->slots)));
	if (!v->slots) {
		ret = -ENOMEM;
		goto put_hcd;
	}
	for (i = URB_SLOTS - 1; i >= 0; i--) {
		v->slots[i].next_free = v->free_slots;
		v->free_slots = &v->slots[i];
	}

	v->irq = lkl_get_free_irq(DRIVER_NAME);
	if (v->irq < 0) {
		ret = v->irq;
		goto free_slots;
	}
	ret = request_irq(v->irq, vhcd_irq, 0, DRIVER_NAME, v);
	if (ret)
		goto put_irq;

	ret = usb_add_hcd(hcd, 0, 0);
	if (ret)
		goto free_irq;
	platform_set_drvdata(pdev, hcd);
	WRITE_ONCE(the_controller, v);
	dev_info(&pdev->dev, "%d ports, USB 2.0 high speed, IRQ %d\n",
		 LKL_USB_PORTS, v->irq);
	return 0;

free_irq:
	free_irq(v->irq, v);
put_irq:
	lkl_put_irq(v->irq, DRIVER_NAME);
free_slots:
	vfree(v->slots);
put_hcd:
	usb_put_hcd(hcd);
	return ret;
}

static struct platform_driver virtual_hcd_driver = {
	.probe = vhcd_probe,
	.driver = {
		.name = DRIVER_NAME,
		.suppress_bind_attrs = true,
	},
};

static int __init virtual_hcd_init(void)
{
	struct platform_device *pdev;
	int ret;

	ret = platform_driver_register(&virtual_hcd_driver);
	if (ret)
		return ret;
	pdev = platform_device_register_simple(DRIVER_NAME, -1, NULL, 0);
	if (IS_ERR(pdev)) {
		platform_driver_unregister(&virtual_hcd_driver);
		return PTR_ERR(pdev);
	}
	return 0;
}
device_initcall(virtual_hcd_init);
