// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lends a packet socket's receive ring to the host (uapi/asm/packet_ring.h).
 * A lent ring counts in po->mapped, as a mapping does: packet_set_ring()
 * then refuses to swap it, and the host returns it before it closes the
 * socket, the one way the ring is freed while mapped.
 */
#include <linux/errno.h>
#include <linux/file.h>
#include <linux/mutex.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <net/sock.h>
#include <asm/lkl.h>
#include <asm/packet_ring.h>
#include "packet/internal.h"

struct ring_lend {
	int fd;
	void **blocks;
	unsigned int max_blocks;
	unsigned int *block_size;
	bool lend;
};

static long ring_lend_in_task(void *arg)
{
	struct ring_lend *req = arg;
	struct packet_ring_buffer *rb;
	struct packet_sock *po;
	struct socket *sock;
	unsigned int i;
	long ret;

	CLASS(fd, f)(req->fd);
	if (fd_empty(f))
		return -EBADF;
	sock = sock_from_file(fd_file(f));
	if (!sock)
		return -ENOTSOCK;
	if (!sock->sk || sock->sk->sk_family != AF_PACKET)
		return -EPROTOTYPE;
	po = pkt_sk(sock->sk);
	rb = &po->rx_ring;

	mutex_lock(&po->pg_vec_lock);
	if (!req->lend) {
		ret = atomic_long_add_unless(&po->mapped, -1, 0) ? 0 : -ENXIO;
		goto out;
	}
	if (!rb->pg_vec) {
		ret = -ENXIO;
		goto out;
	}
	for (i = 0; i < rb->pg_vec_len && i < req->max_blocks; i++)
		req->blocks[i] = rb->pg_vec[i].buffer;
	*req->block_size = rb->pg_vec_pages * PAGE_SIZE;
	atomic_long_inc(&po->mapped);
	ret = rb->pg_vec_len;
out:
	mutex_unlock(&po->pg_vec_lock);
	return ret;
}

int lkl_packet_ring_lend(int fd, void **blocks, unsigned int max_blocks,
			 unsigned int *block_size)
{
	struct ring_lend req = {
		.fd = fd, .blocks = blocks, .max_blocks = max_blocks,
		.block_size = block_size, .lend = true,
	};

	if ((max_blocks && !blocks) || !block_size)
		return -EINVAL;
	return lkl_call_in_task(ring_lend_in_task, &req);
}

int lkl_packet_ring_return(int fd)
{
	struct ring_lend req = { .fd = fd, .lend = false };

	return lkl_call_in_task(ring_lend_in_task, &req);
}
