/*
 * libcommis's output side: every request leaves through client_send().
 * By default each frame is written at once. With the connection corked
 * (commis_cork), frames without a segment collect in c->out and leave
 * together, in one write: when CLIENT_CORK_MAX bytes wait, on
 * commis_flush() or commis_uncork(), before the library waits for any
 * reply (client_pump), before a frame with an fd, and on commis_close().
 * Pipelined submits then cost the client, and commisd's read side, one
 * system call per batch instead of one per job.
 *
 * A flush never blocks on a full socket without reading: commisd stops
 * reading a client that leaves more than 8 MiB of replies unread
 * (chan.c), so while the socket is full, what commisd sent is taken into
 * the decoder, to be handed out by the next client_pump().
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "client_int.h"
#include "msg.h"

#define CLIENT_CORK_MAX	(64u << 10) 	/* bytes corked before a write */

/* Reads what commisd sent into the decoder, while our output waits. */
static int
client_take_in(struct commis_client *c)
{
	ssize_t	n;

	n = frame_dec_recv(&c->dec, c->fd, MSG_DONTWAIT);
	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR)))
		return COMMIS_OK;
	if (n == 0)
		return client_fail(c, COMMIS_ERR_IO,
		    "commisd closed the connection");
	if (c->dec.err != FRAME_OK)
		return client_fail(c, COMMIS_ERR_PROTO, "bad frame from "
		    "commisd: %s", frame_strerror(c->dec.err));
	return client_fail(c, COMMIS_ERR_IO, "read from commisd: %s",
	    strerror(errno));
}

int
client_flush(struct commis_client *c)
{
	struct pollfd	pfd;
	size_t		off = 0;
	ssize_t		n;
	int		rc = COMMIS_OK;

	while (off < c->out.len && !c->broken) {
		n = send(c->fd, c->out.data + off, c->out.len - off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN) {
			rc = client_fail(c, COMMIS_ERR_IO, "send to commisd: %s",
			    strerror(errno));
			break;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN | POLLOUT;
		pfd.revents = 0;
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR) {
			rc = client_fail(c, COMMIS_ERR_IO, "poll: %s",
			    strerror(errno));
			break;
		}
		if ((pfd.revents & (POLLIN | POLLHUP)) &&
		    (rc = client_take_in(c)) != COMMIS_OK)
			break;
	}
	mbuf_reset(&c->out);
	return c->broken ? c->broken : rc;
}

/* Sends one frame; fd (or -1) goes with it as a reference, not closed. */
int
client_send(struct commis_client *c, uint8_t type, uint64_t id,
    const void *p1, size_t n1, const void *p2, size_t n2, int fd)
{
	uint8_t	hdr[COMMIS_FRAME_HDR_LEN];
	int	saved, rc;

	if (c->broken)
		return c->broken;
	if (c->events_id != 0)
		return client_fail(c, COMMIS_ERR_INVAL, "the connection is an "
		    "event stream: use another one for requests");
	if (c->corked && fd == -1 && n1 + n2 <= CLIENT_CORK_MAX) {
		/* All of the frame or none of it: the frames before
		 * it stay whole and can still be flushed. */
		if (mbuf_reserve(&c->out, sizeof hdr + n1 + n2) == -1) {
			c->out.err = 0;
			return client_fail(c, COMMIS_ERR_NOMEM,
			    "out of memory");
		}
		frame_hdr_encode(hdr, type, 0, (uint32_t)(n1 + n2), id);
		mbuf_add(&c->out, hdr, sizeof hdr);
		mbuf_add(&c->out, p1, n1);
		mbuf_add(&c->out, p2, n2);
		if (c->out.len >= CLIENT_CORK_MAX)
			return client_flush(c);
		return COMMIS_OK;
	}
	if (c->out.len > 0 && (rc = client_flush(c)) != COMMIS_OK)
		return rc;
	if (frame_send(c->fd, type, 0, id, p1, n1, p2, n2, fd) == 0)
		return COMMIS_OK;
	saved = errno;
	/*
	 * commisd may have said why before closing (version mismatch,
	 * shutting down): read what is there so that message wins.
	 */
	while (!c->broken && client_pump(c, NULL, 0) == COMMIS_OK)
		;
	if (c->broken)
		return c->broken;
	return client_fail(c, COMMIS_ERR_IO, "send to commisd: %s",
	    strerror(saved));
}

int
commis_cork(commis_client *c)
{
	if (c->broken)
		return c->broken;
	c->corked = 1;
	return COMMIS_OK;
}

int
commis_uncork(commis_client *c)
{
	c->corked = 0;
	return commis_flush(c);
}

int
commis_flush(commis_client *c)
{
	if (c->broken)
		return c->broken;
	return c->out.len > 0 ? client_flush(c) : COMMIS_OK;
}
