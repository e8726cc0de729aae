// SPDX-License-Identifier: GPL-2.0-only
/*
 * The virtual controller's root hubs: a USB 2.0 hub and a SuperSpeed hub
 * of LKL_USB_PORTS ports each, the two halves of the same connectors, as
 * an xHCI controller presents its ports (the hub driver links port n of
 * one to port n of the other as peers).
 *
 * Nothing here takes time: a reset is over when SetPortFeature returns,
 * and a SuperSpeed link is trained (U0, enabled) as soon as a device is
 * plugged into a powered port. The hub driver finds changes by polling
 * hub_status_data, which attach and detach trigger.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/usb/ch11.h>
#include <linux/unaligned.h>
#include "virtual_hcd.h"

#define HS_SPEED_BITS	(USB_PORT_STAT_LOW_SPEED | USB_PORT_STAT_HIGH_SPEED)

/* SuperSpeed device capability's bFunctionalitySupport: 3 is 5 Gb/s. */
#define SS_FUNCTIONALITY_5GBPS	3

static struct virtual_port *hub_port(struct usb_hcd *hcd, u16 index)
{
	/* Port features carry a selector (link state, test mode) in the high byte. */
	int port1 = index & 0xff;

	if (port1 < 1 || port1 > LKL_USB_PORTS)
		return NULL;
	return &hcd_to_virtual(hcd)->ports[vhcd_host_port(hcd, port1) - 1];
}

static u16 hs_speed_bits(enum lkl_usb_speed speed)
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

/*
 * A SuperSpeed port's link after power, plug or reset: off without power,
 * trained to U0 (which enables the port, USB 3.2 10.5) with a device,
 * else looking for a receiver. The speed field stays 0: 5 Gb/s.
 */
static void ss_link_settle(struct virtual_port *vp)
{
	vp->status &= ~(USB_PORT_STAT_LINK_STATE | USB_PORT_STAT_ENABLE);
	if (!(vp->status & USB_SS_PORT_STAT_POWER))
		vp->status |= USB_SS_PORT_LS_SS_DISABLED;
	else if (vp->ops)
		vp->status |= USB_PORT_STAT_ENABLE | USB_SS_PORT_LS_U0;
	else
		vp->status |= USB_SS_PORT_LS_RX_DETECT;
}

void vhcd_port_connect(struct virtual_port *vp, bool super)
{
	vp->status |= USB_PORT_STAT_CONNECTION;
	vp->change |= USB_PORT_STAT_C_CONNECTION;
	if (super)
		ss_link_settle(vp);
}

void vhcd_port_disconnect(struct virtual_port *vp, bool super)
{
	vp->status &= ~(USB_PORT_STAT_CONNECTION | USB_PORT_STAT_ENABLE |
			USB_PORT_STAT_RESET);
	if (super)
		ss_link_settle(vp);
	else
		vp->status &= ~(HS_SPEED_BITS | USB_PORT_STAT_SUSPEND);
	vp->change |= USB_PORT_STAT_C_CONNECTION;
}

/* A reset device is enabled at its speed, with address 0. */
static void port_reset(struct virtual_port *vp, bool super, bool warm)
{
	vp->status &= ~USB_PORT_STAT_RESET;
	vp->change |= USB_PORT_STAT_C_RESET;
	if (warm)
		vp->change |= USB_PORT_STAT_C_BH_RESET;
	if (super) {
		ss_link_settle(vp);
	} else {
		vp->status &= ~(USB_PORT_STAT_ENABLE | USB_PORT_STAT_SUSPEND |
				HS_SPEED_BITS);
		if (vp->ops)
			vp->status |= USB_PORT_STAT_ENABLE |
				      hs_speed_bits(vp->speed);
	}
	if (vp->ops && vp->ops->reset)
		vp->ops->reset(vp->device);
}

static int hs_set_feature(struct virtual_port *vp, u16 feature)
{
	switch (feature) {
	case USB_PORT_FEAT_POWER:
		vp->status |= USB_PORT_STAT_POWER;
		return 0;
	case USB_PORT_FEAT_RESET:
		if (vp->status & USB_PORT_STAT_POWER)
			port_reset(vp, false, false);
		return 0;
	case USB_PORT_FEAT_SUSPEND:
		if (vp->status & USB_PORT_STAT_ENABLE)
			vp->status |= USB_PORT_STAT_SUSPEND;
		return 0;
	case USB_PORT_FEAT_TEST:
	case USB_PORT_FEAT_INDICATOR:
		return 0;
	default:
		return -EPIPE;
	}
}

/* ClearPortFeature(C_*): which change bit each clears, on which hub. */
static const struct {
	u16 feature;
	u16 change;
	bool hs, ss;
} change_features[] = {
	{ USB_PORT_FEAT_C_CONNECTION, USB_PORT_STAT_C_CONNECTION, true, true },
	{ USB_PORT_FEAT_C_ENABLE, USB_PORT_STAT_C_ENABLE, true, false },
	{ USB_PORT_FEAT_C_SUSPEND, USB_PORT_STAT_C_SUSPEND, true, false },
	{ USB_PORT_FEAT_C_OVER_CURRENT, USB_PORT_STAT_C_OVERCURRENT, true, true },
	{ USB_PORT_FEAT_C_RESET, USB_PORT_STAT_C_RESET, true, true },
	{ USB_PORT_FEAT_C_BH_PORT_RESET, USB_PORT_STAT_C_BH_RESET, false, true },
	{ USB_PORT_FEAT_C_PORT_LINK_STATE, USB_PORT_STAT_C_LINK_STATE, false, true },
	{ USB_PORT_FEAT_C_PORT_CONFIG_ERROR, USB_PORT_STAT_C_CONFIG_ERROR, false, true },
};

static int clear_change(struct virtual_port *vp, u16 feature, bool super)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(change_features); i++) {
		if (change_features[i].feature != feature)
			continue;
		if (!(super ? change_features[i].ss : change_features[i].hs))
			break;
		vp->change &= ~change_features[i].change;
		return 0;
	}
	return -EPIPE;
}

static int hs_clear_feature(struct virtual_port *vp, u16 feature)
{
	switch (feature) {
	case USB_PORT_FEAT_ENABLE:
		vp->status &= ~(USB_PORT_STAT_ENABLE | HS_SPEED_BITS);
		return 0;
	case USB_PORT_FEAT_SUSPEND:
		vp->status &= ~USB_PORT_STAT_SUSPEND;
		return 0;
	case USB_PORT_FEAT_POWER:
		vp->status &= ~USB_PORT_STAT_POWER;
		return 0;
	case USB_PORT_FEAT_INDICATOR:
		return 0;
	default:
		return clear_change(vp, feature, false);
	}
}

/*
 * SetPortFeature(PORT_LINK_STATE). U3 is how the hub driver disables a
 * SuperSpeed port; a port that is not enabled keeps its state (nothing
 * to suspend). Leaving U3 is a resume, reported with C_PORT_LINK_STATE.
 */
static int ss_set_link_state(struct virtual_port *vp, u16 state)
{
	u16 link = vp->status & USB_PORT_STAT_LINK_STATE;

	switch (state) {
	case USB_SS_PORT_LS_U0:
	case USB_SS_PORT_LS_U1:
	case USB_SS_PORT_LS_U2:
	case USB_SS_PORT_LS_U3:
		if (!(vp->status & USB_PORT_STAT_ENABLE))
			return 0;
		if (link == USB_SS_PORT_LS_U3 && state != USB_SS_PORT_LS_U3)
			vp->change |= USB_PORT_STAT_C_LINK_STATE;
		vp->status = (vp->status & ~USB_PORT_STAT_LINK_STATE) | state;
		return 0;
	case USB_SS_PORT_LS_SS_DISABLED:
		vp->status &= ~(USB_PORT_STAT_LINK_STATE | USB_PORT_STAT_ENABLE);
		vp->status |= USB_SS_PORT_LS_SS_DISABLED;
		return 0;
	case USB_SS_PORT_LS_RX_DETECT:
		if (link == USB_SS_PORT_LS_SS_DISABLED)
			ss_link_settle(vp);
		return 0;
	default:
		return -EPIPE;
	}
}

static int ss_set_feature(struct virtual_port *vp, u16 feature, u8 selector)
{
	switch (feature) {
	case USB_PORT_FEAT_POWER:
		if (!(vp->status & USB_SS_PORT_STAT_POWER)) {
			vp->status |= USB_SS_PORT_STAT_POWER;
			ss_link_settle(vp);
		}
		return 0;
	case USB_PORT_FEAT_RESET:
	case USB_PORT_FEAT_BH_PORT_RESET:
		if (vp->status & USB_SS_PORT_STAT_POWER)
			port_reset(vp, true,
				   feature == USB_PORT_FEAT_BH_PORT_RESET);
		return 0;
	case USB_PORT_FEAT_LINK_STATE:
		/* The selector is the state's number; the status field has it at bit 5. */
		return ss_set_link_state(vp, (u16)selector << 5);
	case USB_PORT_FEAT_U1_TIMEOUT:
	case USB_PORT_FEAT_U2_TIMEOUT:
	case USB_PORT_FEAT_REMOTE_WAKE_MASK:
		/* No link power management, no remote wakeup: nothing to time or mask. */
		return 0;
	default:
		return -EPIPE;
	}
}

/* SuperSpeed ports have no PORT_ENABLE or PORT_SUSPEND to clear (link states instead). */
static int ss_clear_feature(struct virtual_port *vp, u16 feature)
{
	switch (feature) {
	case USB_PORT_FEAT_POWER:
		vp->status &= ~USB_SS_PORT_STAT_POWER;
		ss_link_settle(vp);
		return 0;
	default:
		return clear_change(vp, feature, true);
	}
}

int vhcd_hub_status_data(struct usb_hcd *hcd, char *buf)
{
	struct virtual_hcd *v = hcd_to_virtual(hcd);
	int bytes = DIV_ROUND_UP(LKL_USB_PORTS + 1, 8);
	unsigned long flags;
	bool changed = false;
	int port1;

	memset(buf, 0, bytes);
	spin_lock_irqsave(&v->lock, flags);
	for (port1 = 1; port1 <= LKL_USB_PORTS; port1++) {
		if (v->ports[vhcd_host_port(hcd, port1) - 1].change) {
			buf[port1 / 8] |= BIT(port1 % 8);
			changed = true;
		}
	}
	spin_unlock_irqrestore(&v->lock, flags);
	return changed ? bytes : 0;
}

static int hub_descriptor(bool super, u16 value, u16 index, char *buf,
			  u16 length)
{
	struct usb_hub_descriptor *desc = (struct usb_hub_descriptor *)buf;
	int width = DIV_ROUND_UP(LKL_USB_PORTS + 1, 8);
	u8 type = super ? USB_DT_SS_HUB : USB_DT_HUB;

	if ((value >> 8) != type || index)
		return -EPIPE;
	memset(desc, 0, sizeof(*desc));
	desc->bDescriptorType = type;
	desc->bNbrPorts = LKL_USB_PORTS;
	desc->wHubCharacteristics = cpu_to_le16(HUB_CHAR_INDV_PORT_LPSM |
						HUB_CHAR_NO_OCPM);
	desc->bPwrOn2PwrGood = 1;
	if (super) {
		/* No header decode latency or hub delay; all ports removable (bitmap 0). */
		desc->bDescLength = USB_DT_SS_HUB_SIZE;
	} else {
		desc->bDescLength = USB_DT_HUB_NONVAR_SIZE + 2 * width;
		/* All devices removable; then the legacy PortPwrCtrlMask, all ones. */
		memset(&desc->u.hs.DeviceRemovable[width], 0xff, width);
	}
	return min_t(int, length, desc->bDescLength);
}

/*
 * The SuperSpeed root hub's BOS (the core reads it for bcdUSB 3.00): 5 Gb/s
 * only. U1/U2 exit latencies of 0 tell the core to leave link power
 * management off, which a controller without LPM callbacks needs.
 */
static int root_hub_bos(char *buf, u16 length)
{
	static const struct {
		struct usb_bos_descriptor bos;
		struct usb_ss_cap_descriptor ss_cap;
	} __packed desc = {
		.bos = {
			.bLength = USB_DT_BOS_SIZE,
			.bDescriptorType = USB_DT_BOS,
			.wTotalLength = cpu_to_le16(USB_DT_BOS_SIZE +
						    USB_DT_USB_SS_CAP_SIZE),
			.bNumDeviceCaps = 1,
		},
		.ss_cap = {
			.bLength = USB_DT_USB_SS_CAP_SIZE,
			.bDescriptorType = USB_DT_DEVICE_CAPABILITY,
			.bDevCapabilityType = USB_SS_CAP_TYPE,
			.wSpeedSupported = cpu_to_le16(USB_5GBPS_OPERATION),
			.bFunctionalitySupport = SS_FUNCTIONALITY_5GBPS,
		},
	};
	int count = min_t(int, length, sizeof(desc));

	memcpy(buf, &desc, count);
	return count;
}

int vhcd_hub_control(struct usb_hcd *hcd, u16 type_req, u16 value,
		     u16 index, char *buf, u16 length)
{
	struct virtual_hcd *v = hcd_to_virtual(hcd);
	struct virtual_port *vp = hub_port(hcd, index);
	bool super = vhcd_is_super(hcd);
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&v->lock, flags);
	switch (type_req) {
	case ClearHubFeature:
	case SetHubFeature:
		if (value != C_HUB_LOCAL_POWER && value != C_HUB_OVER_CURRENT)
			ret = -EPIPE;
		break;
	case GetHubDescriptor:
		ret = hub_descriptor(super, value, index, buf, length);
		break;
	case DeviceRequest | USB_REQ_GET_DESCRIPTOR:
		/* The core passes on only what it cannot answer: the BOS. */
		ret = super && (value >> 8) == USB_DT_BOS ?
		      root_hub_bos(buf, length) : -EPIPE;
		break;
	case GetHubStatus:
		memset(buf, 0, 4);
		ret = 4;
		break;
	case GetPortStatus:
		/* No extended (SuperSpeedPlus) status: this hub runs at 5 Gb/s. */
		if (!vp || value != HUB_PORT_STATUS || (index >> 8)) {
			ret = -EPIPE;
			break;
		}
		put_unaligned_le16(vp->status, buf);
		put_unaligned_le16(vp->change, buf + 2);
		ret = 4;
		break;
	case SetPortFeature:
		if (!vp)
			ret = -EPIPE;
		else if (super)
			ret = ss_set_feature(vp, value, index >> 8);
		else
			ret = hs_set_feature(vp, value);
		break;
	case ClearPortFeature:
		if (!vp)
			ret = -EPIPE;
		else if (super)
			ret = ss_clear_feature(vp, value);
		else
			ret = hs_clear_feature(vp, value);
		break;
	default:
		ret = -EPIPE;
	}
	spin_unlock_irqrestore(&v->lock, flags);
	return ret;
}
