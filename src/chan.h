/*
 * A framed, non-blocking channel on the supervisor's event loop: the
 * control connections and the worker channels are both chans.
 */
#ifndef COMMIS_CHAN_H
#define COMMIS_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "frame.h"

struct chan;

/*
 * A frame arrived. If the callback keeps f->fd it sets f->fd = -1; an fd
 * left in f is closed when the callback returns.
 */
typedef void	(*chan_frame_cb)(struct chan *, struct frame *, void *);
/*
 * The channel failed: e is the frame error (FRAME_OK for EOF or an I/O
 * error, with errno_ set). For FRAME_ETOOBIG h is the refused header; the
 * callback may call chan_skip() and return 1 to go on reading. Returning 0
 * stops reading; the owner must then chan_free() the channel.
 */
typedef int	(*chan_error_cb)(struct chan *, enum frame_err e,
		    const struct frame_hdr *h, int errno_, void *);

struct chan	*chan_new(struct event_base *, int fd, uint32_t max_len,
		    chan_frame_cb, chan_error_cb, void *arg);
/* Closes the fd; safe from inside the channel's own callbacks. */
void		 chan_free(struct chan *);
/* Queues one frame; writes at once when nothing is pending. 0 or -1. */
int		 chan_send(struct chan *, uint8_t type, uint64_t id,
		    const void *p1, size_t n1, const void *p2, size_t n2);
/* The same with an fd (a segment): the channel sends a dup of it with
 * the frame's first byte; the caller keeps its own fd. */
int		 chan_send_fd(struct chan *, uint8_t type, uint64_t id,
		    const void *p1, size_t n1, const void *p2, size_t n2, int fd);
void		 chan_skip(struct chan *, const struct frame_hdr *);
/* Reads and handles everything the peer sent, until EAGAIN or EOF (the
 * callbacks run as usual; the channel may be freed by them). */
void		 chan_drain(struct chan *);
size_t		 chan_pending(const struct chan *);
/* Reading is paused until the peer reads its replies. */
int		 chan_throttled(const struct chan *);
int		 chan_fd(const struct chan *);

#endif
