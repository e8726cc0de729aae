// SPDX-License-Identifier: GPL-2.0-only
/*
 * Time: the clocksource reads the host's monotonic clock; the clock
 * event device is a host one-shot timer whose callback, on a host
 * thread, only triggers the timer interrupt. Delays spin on host time
 * and let pending interrupts run (cpu_relax).
 */
#include <linux/clocksource.h>
#include <linux/clockchips.h>
#include <linux/interrupt.h>
#include <linux/sched/clock.h>
#include <linux/delay.h>
#include <asm/lkl.h>

static struct lkl_timer *host_timer;
static int timer_irq;
static u64 boot_ns;

unsigned long long sched_clock(void)
{
	return lkl_ops->time() - boot_ns;
}

static u64 lkl_clock_read(struct clocksource *cs)
{
	return lkl_ops->time();
}

static struct clocksource lkl_clocksource = {
	.name	= "lkl",
	.rating	= 499,
	.read	= lkl_clock_read,
	.flags	= CLOCK_SOURCE_IS_CONTINUOUS | CLOCK_SOURCE_VALID_FOR_HRES,
	.mask	= CLOCKSOURCE_MASK(64),
};

static int lkl_set_next_event(unsigned long delta,
			      struct clock_event_device *evt)
{
	return lkl_ops->timer_set_oneshot(host_timer, delta);
}

static int lkl_timer_shutdown(struct clock_event_device *evt)
{
	lkl_ops->timer_cancel(host_timer);
	return 0;
}

static int lkl_timer_oneshot(struct clock_event_device *evt)
{
	return 0;
}

static struct clock_event_device lkl_clockevent = {
	.name			= "lkl",
	.features		= CLOCK_EVT_FEAT_ONESHOT,
	.set_next_event		= lkl_set_next_event,
	.set_state_shutdown	= lkl_timer_shutdown,
	.set_state_oneshot	= lkl_timer_oneshot,
	.rating			= 100,
};

static irqreturn_t lkl_timer_interrupt(int irq, void *dev)
{
	if (lkl_clockevent.event_handler)
		lkl_clockevent.event_handler(&lkl_clockevent);
	return IRQ_HANDLED;
}

/* Host timer thread: never kernel context, so just raise the line. */
static void lkl_timer_fired(void *arg)
{
	lkl_trigger_irq(timer_irq);
}

/* Kernel time starts at lkl_start_kernel(), printk stamps included. */
void lkl_time_start(void)
{
	boot_ns = lkl_ops->time();
}

void __init time_init(void)
{
	int err;

	timer_irq = lkl_get_free_irq("timer");
	err = request_irq(timer_irq, lkl_timer_interrupt, IRQF_TIMER,
			  "timer", NULL);
	if (err)
		panic("lkl: cannot request the timer interrupt: %d", err);
	host_timer = lkl_ops->timer_alloc(lkl_timer_fired, NULL);
	if (!host_timer)
		panic("lkl: the host could not create a timer");

	clocksource_register_hz(&lkl_clocksource, NSEC_PER_SEC);
	lkl_clockevent.cpumask = cpumask_of(0);
	clockevents_config_and_register(&lkl_clockevent, NSEC_PER_SEC,
					1000, ULONG_MAX);
}

void lkl_time_halt(void)
{
	lkl_ops->timer_free(host_timer);
	host_timer = NULL;
}

void __ndelay(unsigned long nsecs)
{
	u64 end = lkl_ops->time() + nsecs;

	while (lkl_ops->time() < end)
		cpu_relax();
}

void __udelay(unsigned long usecs)
{
	__ndelay(usecs * NSEC_PER_USEC);
}

/* @xloops is seconds in 32.32 fixed point (asm-generic/delay.h). */
void __const_udelay(unsigned long xloops)
{
	__ndelay((xloops * NSEC_PER_SEC) >> 32);
}

void __delay(unsigned long loops)
{
	__ndelay(loops);
}

void calibrate_delay(void)
{
	loops_per_jiffy = 1000000000UL / HZ;
}
