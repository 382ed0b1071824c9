/*
 * Channels: a socket, an incremental frame decoder for input, an evbuffer
 * for output, and two libevent events. A channel knows frames, not what
 * they mean; its owner gets each frame and each failure through callbacks.
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
};

static void	chan_read_cb(evutil_socket_t, short, void *);
static void	chan_write_cb(evutil_socket_t, short, void *);

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

/* Writes what the socket takes; the write event covers the rest. */
static void
chan_flush(struct chan *c)
{
	int	n;

	while (evbuffer_get_length(c->out) > 0) {
		n = evbuffer_write(c->out, c->fd);
		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		/* The read side reports the failure when the peer is gone. */
		c->werr = 1;
		evbuffer_drain(c->out, evbuffer_get_length(c->out));
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
chan_send(struct chan *c, uint8_t type, uint64_t id, const void *p1,
    size_t n1, const void *p2, size_t n2)
{
	uint8_t	hdr[COMMIS_FRAME_HDR_LEN];
	int	idle;

	if (c->dead || c->werr)
		return -1;
	if (n1 + n2 > UINT32_MAX)
		return -1;
	idle = evbuffer_get_length(c->out) == 0;
	frame_hdr_encode(hdr, type, 0, (uint32_t)(n1 + n2), id);
	if (evbuffer_add(c->out, hdr, sizeof hdr) == -1 ||
	    (n1 > 0 && evbuffer_add(c->out, p1, n1) == -1) ||
	    (n2 > 0 && evbuffer_add(c->out, p2, n2) == -1))
		return -1;
	if (idle)
		chan_flush(c);
	if (!c->throttled && evbuffer_get_length(c->out) > CHAN_OUT_HIGH) {
		c->throttled = 1;
		event_del(c->rev);
	}
	return 0;
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
