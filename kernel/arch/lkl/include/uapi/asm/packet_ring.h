/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Zero-copy capture: a packet socket's receive ring (setsockopt
 * PACKET_RX_RING, any TPACKET version), read by the host in place.
 *
 * Elsewhere the ring reaches user space through mmap(), which a NOMMU
 * kernel cannot give a socket. Here the kernel and the host share one
 * address space, so the ring's block addresses are all the host needs:
 * it reads and releases blocks exactly as a mapped ring's user would
 * (block status TP_STATUS_USER -> TP_STATUS_KERNEL, with the barriers
 * that implies) and waits with poll().
 */
#ifndef _ASM_LKL_PACKET_RING_H
#define _ASM_LKL_PACKET_RING_H

/*
 * Lends the receive ring of packet socket @fd (a descriptor of the
 * calling thread's process): up to @max_blocks block addresses go to
 * @blocks, the size of each to @block_size. Returns the number of
 * blocks in the ring, which may exceed @max_blocks, or a negative errno:
 * -EBADF, -ENOTSOCK, -EPROTOTYPE (not AF_PACKET), -ENXIO (no ring yet).
 * While lent, the ring counts as mapped: setsockopt cannot replace it.
 * Return it with lkl_packet_ring_return() before closing the socket.
 */
int lkl_packet_ring_lend(int fd, void **blocks, unsigned int max_blocks,
			 unsigned int *block_size);

/* Ends one lkl_packet_ring_lend() of @fd's ring: 0 or a negative errno. */
int lkl_packet_ring_return(int fd);

#endif /* _ASM_LKL_PACKET_RING_H */
