// SPDX-License-Identifier: GPL-2.0-only
/*
 * Virtual USB host controller, setup: the hc_driver, the platform device
 * whose probe creates both root hubs, and bringing them up with the first
 * device the host plugs in (virtual_hcd.c's URB path calls
 * vhcd_bring_up()).
 */
#include <linux/init.h>
#include <linux/interrupt.h>
#include <linux/ktime.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <asm/lkl.h>
#include "virtual_hcd.h"

#define DRIVER_NAME	"lkl-virtual-hcd"

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

/*
 * One driver for both root hubs, as xHCI's: it is a USB 3 controller, and
 * probe turns the primary usb_hcd into the USB 2.0 half.
 */
static const struct hc_driver virtual_hc_driver = {
	.description = DRIVER_NAME,
	.product_desc = "airtap virtual USB host controller",
	.hcd_priv_size = sizeof(struct virtual_root_hub),
	.flags = HCD_USB3 | HCD_SHARED | HCD_BH,
	.start = vhcd_start,
	.stop = vhcd_stop,
	.urb_enqueue = vhcd_urb_enqueue,
	.urb_dequeue = vhcd_urb_dequeue,
	.get_frame_number = vhcd_get_frame_number,
	.hub_status_data = vhcd_hub_status_data,
	.hub_control = vhcd_hub_control,
};

static struct usb_hcd *create_root_hub(struct virtual_hcd *v,
				       struct platform_device *pdev,
				       struct usb_hcd *primary)
{
	struct usb_hcd *hcd;

	if (primary)
		hcd = usb_create_shared_hcd(&virtual_hc_driver, &pdev->dev,
					    dev_name(&pdev->dev), primary);
	else
		hcd = usb_create_hcd(&virtual_hc_driver, &pdev->dev,
				     dev_name(&pdev->dev));
	if (!hcd)
		return NULL;
	((struct virtual_root_hub *)hcd->hcd_priv)->controller = v;
	/* Before usb_add_hcd, which gives the root hub device this speed. */
	if (!primary)
		hcd->speed = HCD_USB2;
	return hcd;
}

static int vhcd_probe(struct platform_device *pdev)
{
	struct virtual_hcd *v;
	int ret;

	v = kzalloc_obj(*v);
	if (!v)
		return -ENOMEM;
	spin_lock_init(&v->lock);
	init_llist_head(&v->done);
	ret = vhcd_slots_alloc(v);
	if (ret)
		goto free_controller;

	v->irq = lkl_get_free_irq(DRIVER_NAME);
	if (v->irq < 0) {
		ret = v->irq;
		goto free_slots;
	}
	ret = request_irq(v->irq, vhcd_irq, 0, DRIVER_NAME, v);
	if (ret)
		goto put_irq;

	ret = -ENOMEM;
	v->hs_hcd = create_root_hub(v, pdev, NULL);
	if (!v->hs_hcd)
		goto free_irq;
	v->ss_hcd = create_root_hub(v, pdev, v->hs_hcd);
	if (!v->ss_hcd)
		goto put_hs_hcd;
	ret = usb_add_hcd(v->hs_hcd, 0, 0);
	if (ret)
		goto put_ss_hcd;
	ret = usb_add_hcd(v->ss_hcd, 0, 0);
	if (ret)
		goto remove_hs_hcd;
	vhcd_publish(v);
	dev_info(&pdev->dev,
		 "%d ports: USB 2.0 high speed on bus %d, SuperSpeed on bus %d, IRQ %d\n",
		 LKL_USB_PORTS, v->hs_hcd->self.busnum, v->ss_hcd->self.busnum,
		 v->irq);
	return 0;

remove_hs_hcd:
	usb_remove_hcd(v->hs_hcd);
put_ss_hcd:
	usb_put_hcd(v->ss_hcd);
put_hs_hcd:
	usb_put_hcd(v->hs_hcd);
free_irq:
	free_irq(v->irq, v);
put_irq:
	lkl_put_irq(v->irq, DRIVER_NAME);
free_slots:
	vhcd_slots_free(v);
free_controller:
	kfree(v);
	return ret;
}

static struct platform_driver virtual_hcd_driver = {
	.probe = vhcd_probe,
	.driver = {
		.name = DRIVER_NAME,
		.suppress_bind_attrs = true,
	},
};

/*
 * The controller and its root hubs come up with the first device plugged
 * in, not at boot: registering two root hubs and their 16 ports is the
 * longest initcall, and most processes (sim) never use USB.
 */
int vhcd_bring_up(void)
{
	static DEFINE_MUTEX(bring_up_lock);
	struct platform_device *pdev;
	int ret = 0;

	if (vhcd_controller())
		return 0;
	mutex_lock(&bring_up_lock);
	if (!vhcd_controller()) {
		/* The driver is registered: this probes synchronously. */
		pdev = platform_device_register_simple(DRIVER_NAME, -1, NULL, 0);
		if (IS_ERR(pdev)) {
			ret = PTR_ERR(pdev);
		} else if (!vhcd_controller()) {
			/* The probe failed (and logged why): try afresh next time. */
			platform_device_unregister(pdev);
			ret = -ENODEV;
		}
	}
	mutex_unlock(&bring_up_lock);
	return ret;
}

static int __init virtual_hcd_init(void)
{
	return platform_driver_register(&virtual_hcd_driver);
}
device_initcall(virtual_hcd_init);
