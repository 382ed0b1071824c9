/*
 * Channels: a socket, an incremental frame decoder for input, an evbuffer
 * for output, and two libevent events. A channel knows frames, not what
 * they mean; its owner gets each frame and each failure through callbacks.
 *
 * Output is batched: a frame queued for a peer with nothing pending marks
 * the channel's write event active instead of writing at once, and
 * libevent runs it after the callbacks already active in this loop
 * iteration (every socket epoll reported readable). So the replies to a
 * whole read of pipelined requests, or the jobs one read of results let
 * the pool dispatch, leave in one writev rather than one per frame.
 *
 * Backpressure: a peer that does not read what it is sent gets no more of
 * its requests handled once CHAN_OUT_HIGH bytes wait for it, until they
 * drain below CHAN_OUT_LOW: frames already read stay in the decoder and
 * the socket is not read. So one client holds at most CHAN_OUT_HIGH plus
 * one reply of the supervisor's memory in replies.
 *
 * A channel may be freed from inside its own callbacks (a bad frame drops
 * the peer right there), so freeing is two-step: chan_free() closes the
 * socket and marks the channel dead, and the read callback frees the
 * memory once it has unwound.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "chan.h"
#include "log.h"

#define CHAN_OUT_HIGH	(8u << 20)
#define CHAN_OUT_LOW	(1u << 20)

struct chan {
	int			 fd;
	struct event		*rev;
	struct event		*wev;
	struct frame_dec	 dec;
	struct evbuffer		*out;
	chan_frame_cb		 on_frame;
	chan_error_cb		 on_error;
	void			*arg;
	int			 in_cb;
	int			 dead;
	int			 werr;
	int			 throttled;	/* reading paused */
	/* fds to send, each with the stream offset of its frame's first
	 * byte; the channel owns these (dups of the caller's). */
	struct chan_ofd {
		uint64_t	 at;
		int		 fd;
	}			*ofds;
	size_t			 nofds;
	size_t			 cofds;
	uint64_t		 out_total;	/* bytes ever queued */
	uint64_t		 out_sent;	/* bytes ever written */
};

static void	chan_read_cb(evutil_socket_t, short, void *);
static void	chan_write_cb(evutil_socket_t, short, void *);
static void	chan_flush(struct chan *);

struct chan *
chan_new(struct event_base *base, int fd, uint32_t max_len,
    chan_frame_cb on_frame, chan_error_cb on_error, void *arg)
{
	struct chan	*c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	c->fd = fd;
	c->on_frame = on_frame;
	c->on_error = on_error;
	c->arg = arg;
	frame_dec_init(&c->dec, max_len);
	c->out = evbuffer_new();
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, chan_read_cb, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, chan_write_cb, c);
	if (c->out == NULL || c->rev == NULL || c->wev == NULL ||
	    evutil_make_socket_nonblocking(fd) == -1 ||
	    event_add(c->rev, NULL) == -1) {
		c->fd = -1;	/* the caller still owns fd on failure */
		chan_free(c);
		return NULL;
	}
	return c;
}

static void
chan_destroy(struct chan *c)
{
	size_t	i;

	for (i = 0; i < c->nofds; i++)
		close(c->ofds[i].fd);
	free(c->ofds);
	if (c->rev != NULL)
		event_free(c->rev);
	if (c->wev != NULL)
		event_free(c->wev);
	if (c->out != NULL)
		evbuffer_free(c->out);
	frame_dec_free(&c->dec);
	free(c);
}

void
chan_free(struct chan *c)
{
	if (c == NULL || c->dead)
		return;
	/* What waits (a last ERROR, say) gets one try before the close. */
	if (c->fd != -1 && !c->werr && c->out != NULL &&
	    evbuffer_get_length(c->out) > 0)
		chan_flush(c);
	c->dead = 1;
	if (c->rev != NULL)
		event_del(c->rev);
	if (c->wev != NULL)
		event_del(c->wev);
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	if (c->in_cb == 0)
		chan_destroy(c);
}

int
chan_fd(const struct chan *c)
{
	return c->fd;
}

int
chan_throttled(const struct chan *c)
{
	return c->throttled;
}

size_t
chan_pending(const struct chan *c)
{
	return evbuffer_get_length(c->out);
}

void
chan_skip(struct chan *c, const struct frame_hdr *h)
{
	frame_dec_skip(&c->dec, h);
}

/*
 * Sends the frame that starts at the head of the output together with its
 * fd: sendmsg with SCM_RIGHTS and the first bytes of the frame, so the fd
 * arrives with the frame's first byte (docs/protocol.md).
 */
static int
chan_write_fd(struct chan *c)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cbuf;
	struct evbuffer_iovec v[4];
	struct iovec	 iov[4];
	struct msghdr	 msg;
	ssize_t		 n;
	size_t		 max;
	int		 i, nv;

	/* Up to the next frame with an fd, which needs a sendmsg of its own. */
	max = c->nofds > 1 ? (size_t)(c->ofds[1].at - c->out_sent) : SIZE_MAX;
	nv = evbuffer_peek(c->out, -1, NULL, v, 4);
	if (nv > 4)
		nv = 4;
	for (i = 0; i < nv && max > 0; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len < max ? v[i].iov_len : max;
		max -= iov[i].iov_len;
	}
	nv = i;
	memset(&msg, 0, sizeof msg);
	memset(&cbuf, 0, sizeof cbuf);
	msg.msg_iov = iov;
	msg.msg_iovlen = nv;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof cbuf.buf;
	cbuf.hdr.cmsg_len = CMSG_LEN(sizeof(int));
	cbuf.hdr.cmsg_level = SOL_SOCKET;
	cbuf.hdr.cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(&cbuf.hdr), &c->ofds[0].fd, sizeof(int));
	if ((n = sendmsg(c->fd, &msg, MSG_NOSIGNAL)) <= 0)
		return -1;
	/* The fd went with the first byte: ours can go. */
	close(c->ofds[0].fd);
	memmove(&c->ofds[0], &c->ofds[1], --c->nofds * sizeof c->ofds[0]);
	evbuffer_drain(c->out, (size_t)n);
	return (int)n;
}

/* Writes what the socket takes; the write event covers the rest. */
static void
chan_flush(struct chan *c)
{
	ssize_t	max;
	int	n;

	while (evbuffer_get_length(c->out) > 0) {
		if (c->nofds > 0 && c->ofds[0].at == c->out_sent)
			n = chan_write_fd(c);
		else {
			max = c->nofds > 0 ?
			    (ssize_t)(c->ofds[0].at - c->out_sent) : -1;
			n = evbuffer_write_atmost(c->out, c->fd, max);
		}
		if (n > 0) {
			c->out_sent += (uint64_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		/* The read side reports the failure when the peer is gone. */
		c->werr = 1;
		evbuffer_drain(c->out, evbuffer_get_length(c->out));
		while (c->nofds > 0)
			close(c->ofds[--c->nofds].fd);
		c->out_sent = c->out_total;
		break;
	}
	if (evbuffer_get_length(c->out) > 0)
		event_add(c->wev, NULL);
	else
		event_del(c->wev);
	if (c->throttled && evbuffer_get_length(c->out) < CHAN_OUT_LOW) {
		c->throttled = 0;
		event_add(c->rev, NULL);
		/* Frames already read wait in the decoder: run them now. */
		event_active(c->rev, EV_READ, 0);
	}
}

static void
chan_write_cb(evutil_socket_t fd, short ev, void *arg)
{
	chan_flush(arg);
}

int
chan_send_fd(struct chan *c, uint8_t type, uint64_t id, const void *p1,
    size_t n1, const void *p2, size_t n2, int fd)
{
	uint8_t			 hdr[COMMIS_FRAME_HDR_LEN];
	struct chan_ofd		*o;
	size_t			 cap;
	int			 idle, dup = -1;

	if (c->dead || c->werr || n1 + n2 > UINT32_MAX)
		return -1;
	if (fd != -1) {
		if (c->nofds == c->cofds) {
			cap = c->cofds ? c->cofds * 2 : 4;
			if ((o = reallocarray(c->ofds, cap, sizeof *o)) == NULL)
				return -1;
			c->ofds = o;
			c->cofds = cap;
		}
		/* Ours until it is sent: the caller may close its own. */
		if ((dup = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1)
			return -1;
	}
	idle = evbuffer_get_length(c->out) == 0;
	frame_hdr_encode(hdr, type, fd != -1 ? COMMIS_FLAG_FD : 0,
	    (uint32_t)(n1 + n2), id);
	if (evbuffer_add(c->out, hdr, sizeof hdr) == -1 ||
	    (n1 > 0 && evbuffer_add(c->out, p1, n1) == -1) ||
	    (n2 > 0 && evbuffer_add(c->out, p2, n2) == -1)) {
		if (dup != -1)
			close(dup);
		return -1;
	}
	if (dup != -1) {
		c->ofds[c->nofds].at = c->out_total;
		c->ofds[c->nofds++].fd = dup;
	}
	c->out_total += sizeof hdr + n1 + n2;
	/* Written once this loop iteration's callbacks are done, so that
	 * every frame they queue for this peer goes in one write. */
	if (idle)
		event_active(c->wev, EV_WRITE, 0);
	if (!c->throttled && evbuffer_get_length(c->out) > CHAN_OUT_HIGH) {
		c->throttled = 1;
		event_del(c->rev);
	}
	return 0;
}

int
chan_send(struct chan *c, uint8_t type, uint64_t id, const void *p1,
    size_t n1, const void *p2, size_t n2)
{
	return chan_send_fd(c, type, id, p1, n1, p2, n2, -1);
}

/* One read and the frames it completes: 1 if bytes came and it lives. */
static int
chan_read(struct chan *c)
{
	struct frame	 f;
	ssize_t		 n;
	int		 r, go = 1;

	n = frame_dec_read(&c->dec, c->fd);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		/* Every complete frame was handled after earlier reads. */
		c->on_error(c, n == 0 ? FRAME_OK : c->dec.err, NULL,
		    n == 0 ? 0 : errno, c->arg);
		return 0;
	}
	/* A throttled channel leaves its requests in the decoder. */
	while (go && !c->dead && !c->throttled) {
		if ((r = frame_dec_next(&c->dec, &f)) == 0)
			break;
		if (r == 1) {
			c->on_frame(c, &f, c->arg);
			if (f.fd != -1)
				close(f.fd);
			continue;
		}
		go = c->on_error(c, c->dec.err, &f.hdr, 0, c->arg);
		if (go && c->dec.err != FRAME_OK)
			go = 0;	/* the owner did not skip */
	}
	if (!c->dead)
		frame_dec_release(&c->dec);
	return n > 0 && go && !c->dead;
}

static void
chan_read_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct chan	*c = arg;

	c->in_cb++;
	chan_read(c);
	if (--c->in_cb == 0 && c->dead)
		chan_destroy(c);
}

void
chan_drain(struct chan *c)
{
	c->in_cb++;
	while (!c->dead && chan_read(c))
		;
	if (--c->in_cb == 0 && c->dead)
		chan_destroy(c);
}
