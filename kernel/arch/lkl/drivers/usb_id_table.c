// SPDX-License-Identifier: GPL-2.0-only
/*
 * /proc/lkl/usb_id_table: every USB ID entry of every USB driver built
 * into the library, in the order the USB core tries the drivers.
 *
 * The host program decides from it which driver will bind a real device
 * before plugging it in (what modules.alias tells udev on a normal
 * system). Read from the drivers' own id_tables, it cannot disagree with
 * the code that will run.
 *
 * One line per entry, fields separated by single spaces:
 *   order module match_flags idVendor idProduct bcdDevice_lo bcdDevice_hi
 *   bDeviceClass bDeviceSubClass bDeviceProtocol bInterfaceClass
 *   bInterfaceSubClass bInterfaceProtocol bInterfaceNumber driver
 * "order" counts drivers from 0; the numbers are hexadecimal without
 * prefix; match_flags are the USB_DEVICE_ID_MATCH_* bits. The driver's
 * name comes last: some contain spaces.
 */
#include <linux/init.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/usb.h>

/* usb_bus_type and is_usb_device_driver() are private to the USB core. */
#include "usb.h"

struct id_table_walk {
	struct seq_file *seq;
	unsigned int order;
};

static void show_entry(struct seq_file *seq, unsigned int order,
		       const char *module, const char *driver,
		       const struct usb_device_id *id)
{
	seq_printf(seq, "%u %s %x %04x %04x %04x %04x %02x %02x %02x %02x %02x %02x %02x %s\n",
		   order, module, id->match_flags, id->idVendor,
		   id->idProduct, id->bcdDevice_lo, id->bcdDevice_hi,
		   id->bDeviceClass, id->bDeviceSubClass,
		   id->bDeviceProtocol, id->bInterfaceClass,
		   id->bInterfaceSubClass, id->bInterfaceProtocol,
		   id->bInterfaceNumber, driver);
}

static int show_driver(struct device_driver *drv, void *data)
{
	struct id_table_walk *walk = data;
	const struct usb_device_id *id;
	const char *module;

	if (is_usb_device_driver(drv))
		id = container_of(drv, struct usb_device_driver, driver)->id_table;
	else
		id = to_usb_driver(drv)->id_table;

	/* Built-in drivers keep their module name (KBUILD_MODNAME) here. */
	module = drv->mod_name ? drv->mod_name : drv->name;

	/* Where the table ends, as usb_match_id() sees it. */
	for (; id && (id->idVendor || id->idProduct || id->bDeviceClass ||
		      id->bInterfaceClass || id->driver_info); id++)
		show_entry(walk->seq, walk->order, module, drv->name, id);
	walk->order++;
	return 0;
}

static int usb_id_table_show(struct seq_file *seq, void *unused)
{
	struct id_table_walk walk = { .seq = seq };

	return bus_for_each_drv(&usb_bus_type, NULL, &walk, show_driver);
}

static int __init usb_id_table_init(void)
{
	if (!proc_mkdir("lkl", NULL) ||
	    !proc_create_single("lkl/usb_id_table", 0444, NULL,
				usb_id_table_show))
		return -ENOMEM;
	return 0;
}
late_initcall(usb_id_table_init);
