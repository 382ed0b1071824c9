/*
 * Frame codec shared by the supervisor, the workers and libcommis. It knows
 * the header and the fd rules of docs/protocol.md and nothing about what
 * the message types mean. No logging, no exits: callers decide whether a
 * bad frame drops the peer.
 *
 * Fd pairing: Linux attaches SCM_RIGHTS fds to the first skb of the
 * sendmsg that carried them, and a recvmsg stops right after an skb with
 * fds. So a frame sent as "sendmsg(header..., fd)" starts inside the byte
 * range of the read that delivered its fd. The decoder remembers that range
 * for each fd: a flagged frame must start inside the range of the oldest
 * fd, and an fd whose range is passed without a flagged frame is an error.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frame.h"
#include "msg.h"

#define FRAME_READ_CHUNK	65536

static const char *const frame_errs[] = {
	[FRAME_OK] = "no error",
	[FRAME_EMAGIC] = "bad magic",
	[FRAME_EVERSION] = "protocol version mismatch",
	[FRAME_EHEADER] = "reserved header bits set",
	[FRAME_ETOOBIG] = "payload above the limit",
	[FRAME_EFD] = "fd does not match the frame's fd flag",
	[FRAME_ECTRUNC] = "ancillary data truncated",
	[FRAME_ENOMEM] = "out of memory",
};

const char *
frame_strerror(enum frame_err e)
{
	if ((unsigned)e >= sizeof frame_errs / sizeof frame_errs[0])
		return "unknown frame error";
	return frame_errs[e];
}

void
frame_hdr_encode(uint8_t *b, uint8_t type, uint16_t flags, uint32_t len,
    uint64_t id)
{
	le32_put(b, COMMIS_PROTO_MAGIC);
	b[4] = COMMIS_PROTO_VERSION;
	b[5] = type;
	le16_put(b + 6, flags);
	le32_put(b + 8, len);
	le32_put(b + 12, 0);
	le64_put(b + 16, id);
}

void
frame_hdr_decode(const uint8_t *b, struct frame_hdr *h)
{
	h->magic = le32_get(b);
	h->version = b[4];
	h->type = b[5];
	h->flags = le16_get(b + 6);
	h->len = le32_get(b + 8);
	h->reserved = le32_get(b + 12);
	h->id = le64_get(b + 16);
}

void
frame_dec_init(struct frame_dec *d, uint32_t max_len)
{
	memset(d, 0, sizeof *d);
	d->max_len = max_len;
}

void
frame_dec_free(struct frame_dec *d)
{
	int	i;

	for (i = 0; i < d->nfds; i++)
		close(d->fds[i].fd);
	free(d->buf);
	frame_dec_init(d, d->max_len);
}

static void
frame_dec_consume(struct frame_dec *d, size_t n)
{
	d->off += n;
	d->pos += n;
}

/* Room for at least want more bytes, compacting first. */
static int
frame_dec_room(struct frame_dec *d, size_t want)
{
	uint8_t	*p;
	size_t	 cap;

	if (d->off > 0 && (d->off == d->len || d->cap - d->len < want)) {
		memmove(d->buf, d->buf + d->off, d->len - d->off);
		d->len -= d->off;
		d->off = 0;
	}
	if (d->cap - d->len >= want)
		return 0;
	cap = d->cap ? d->cap : FRAME_READ_CHUNK;
	while (cap - d->len < want)
		cap *= 2;
	if ((p = realloc(d->buf, cap)) == NULL) {
		d->err = FRAME_ENOMEM;
		return -1;
	}
	d->buf = p;
	d->cap = cap;
	return 0;
}

/* How many bytes the next read should have room for. */
static size_t
frame_dec_want(const struct frame_dec *d)
{
	size_t		 avail = d->len - d->off;
	struct frame_hdr h;

	if (d->skip == 0 && avail >= COMMIS_FRAME_HDR_LEN) {
		frame_hdr_decode(d->buf + d->off, &h);
		if (h.len <= d->max_len &&
		    COMMIS_FRAME_HDR_LEN + (size_t)h.len > avail + FRAME_READ_CHUNK)
			return COMMIS_FRAME_HDR_LEN + (size_t)h.len - avail;
	}
	return FRAME_READ_CHUNK;
}

static int
frame_dec_add_fd(struct frame_dec *d, int fd, uint64_t start, uint64_t end)
{
	if (d->nfds == FRAME_MAX_FDS) {
		close(fd);
		d->err = FRAME_EFD;
		return -1;
	}
	d->fds[d->nfds].fd = fd;
	d->fds[d->nfds].start = start;
	d->fds[d->nfds].end = end;
	d->nfds++;
	return 0;
}

static int
frame_dec_pop_fd(struct frame_dec *d)
{
	int	fd = d->fds[0].fd;

	d->nfds--;
	memmove(&d->fds[0], &d->fds[1], d->nfds * sizeof d->fds[0]);
	return fd;
}

static void
frame_dec_defer(struct frame_dec *d, enum frame_err e, uint64_t at)
{
	if (d->bad_err == FRAME_OK) {
		d->bad_err = e;
		d->bad_at = at;
	}
}

ssize_t
frame_dec_read(struct frame_dec *d, int sock)
{
	return frame_dec_recv(d, sock, 0);
}

ssize_t
frame_dec_recv(struct frame_dec *d, int sock, int flags)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * FRAME_MAX_FDS)];
	}		 cbuf;
	struct msghdr	 msg;
	struct cmsghdr	*cm;
	struct iovec	 iov;
	uint64_t	 start;
	ssize_t		 n;
	size_t		 i, nfd;
	int		 fd, bad = 0;

	if (d->err != FRAME_OK && d->err != FRAME_ETOOBIG) {
		errno = EPROTO;
		return -1;
	}
	if (frame_dec_room(d, frame_dec_want(d)) == -1) {
		errno = ENOMEM;
		return -1;
	}
	iov.iov_base = d->buf + d->len;
	iov.iov_len = d->cap - d->len;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf.buf;
	msg.msg_controllen = sizeof cbuf.buf;
	if ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags)) == -1)
		return -1;

	start = d->pos + (d->len - d->off);
	/* Fds were lost: that names the failure better than the extras. */
	if (msg.msg_flags & MSG_CTRUNC)
		frame_dec_defer(d, FRAME_ECTRUNC, start);
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
			/*
			 * One fd per frame, so one per read: extras are
			 * closed, and the frame they came with fails once
			 * the frames before it (the kernel joins a frame
			 * without fds to the next one's bytes in one read)
			 * have been handed out.
			 */
			if (i > 0 || bad) {
				close(fd);
				frame_dec_defer(d, FRAME_EFD, start);
				continue;
			}
			if (frame_dec_add_fd(d, fd, start, start + n) == -1)
				bad = 1;
		}
	}
	if (d->err != FRAME_OK && d->err != FRAME_ETOOBIG) {
		errno = EPROTO;
		return -1;
	}
	d->len += n;
	return n;
}

int
frame_dec_feed(struct frame_dec *d, const void *p, size_t n, int fd)
{
	uint64_t	start = d->pos + (d->len - d->off);

	if (frame_dec_room(d, n) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (fd != -1 && frame_dec_add_fd(d, fd, start, start + n) == -1)
		return -1;
	if (n > 0)
		memcpy(d->buf + d->len, p, n);
	d->len += n;
	return 0;
}

void
frame_dec_release(struct frame_dec *d)
{
	if (d->off != d->len || d->buf == NULL)
		return;
	free(d->buf);
	d->buf = NULL;
	d->off = d->len = d->cap = 0;
}

void
frame_dec_skip(struct frame_dec *d, const struct frame_hdr *h)
{
	/* A refused frame's fd came with its first byte: drop it too, or
	 * the next frame would find it unclaimed. */
	if ((h->flags & COMMIS_FLAG_FD) && d->nfds > 0 &&
	    d->fds[0].start <= d->pos && d->pos < d->fds[0].end)
		close(frame_dec_pop_fd(d));
	frame_dec_consume(d, COMMIS_FRAME_HDR_LEN);
	d->skip = h->len;
	d->err = FRAME_OK;
}

static int
frame_dec_fail(struct frame_dec *d, enum frame_err e)
{
	d->err = e;
	return -1;
}

int
frame_dec_next(struct frame_dec *d, struct frame *f)
{
	struct frame_hdr	*h = &f->hdr;
	size_t			 avail, n;
	uint64_t		 at, end;

	f->payload = NULL;
	f->fd = -1;
	if (d->err != FRAME_OK && d->err != FRAME_ETOOBIG)
		return -1;
	d->err = FRAME_OK;
	avail = d->len - d->off;
	if (d->skip > 0) {
		n = d->skip < avail ? (size_t)d->skip : avail;
		frame_dec_consume(d, n);
		d->skip -= n;
		avail -= n;
		if (d->skip > 0)
			return 0;
	}
	if (avail < COMMIS_FRAME_HDR_LEN)
		return 0;

	frame_hdr_decode(d->buf + d->off, h);
	if (h->magic != COMMIS_PROTO_MAGIC)
		return frame_dec_fail(d, FRAME_EMAGIC);
	if (h->version != COMMIS_PROTO_VERSION)
		return frame_dec_fail(d, FRAME_EVERSION);
	if (h->reserved != 0 || (h->flags & ~COMMIS_FLAGS_KNOWN) != 0)
		return frame_dec_fail(d, FRAME_EHEADER);
	if (h->len > d->max_len)
		return frame_dec_fail(d, FRAME_ETOOBIG);

	at = d->pos;
	if (d->bad_err != FRAME_OK && at >= d->bad_at &&
	    (h->flags & COMMIS_FLAG_FD))
		return frame_dec_fail(d, d->bad_err);
	if (d->nfds > 0 && d->fds[0].end <= at)
		return frame_dec_fail(d, FRAME_EFD);	/* fd nobody claimed */
	if (h->flags & COMMIS_FLAG_FD) {
		if (!COMMIS_MSG_FD_OK(h->type) || d->nfds == 0 ||
		    d->fds[0].start > at)
			return frame_dec_fail(d, FRAME_EFD);
	}
	if (avail < COMMIS_FRAME_HDR_LEN + (size_t)h->len)
		return 0;

	end = at + COMMIS_FRAME_HDR_LEN + h->len;
	if (h->flags & COMMIS_FLAG_FD)
		f->fd = frame_dec_pop_fd(d);
	else if (d->nfds > 0 && d->fds[0].end <= end)
		return frame_dec_fail(d, FRAME_EFD);	/* fd on unflagged frame */
	f->payload = d->buf + d->off + COMMIS_FRAME_HDR_LEN;
	frame_dec_consume(d, COMMIS_FRAME_HDR_LEN + h->len);
	return 1;
}

int
frame_send(int sock, uint8_t type, uint16_t flags, uint64_t id,
    const void *p1, size_t n1, const void *p2, size_t n2, int fd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	}		 cbuf;
	uint8_t		 hdr[COMMIS_FRAME_HDR_LEN];
	struct iovec	 iov[3], *v = iov;
	struct msghdr	 msg;
	struct pollfd	 pfd;
	size_t		 total = n1 + n2;
	ssize_t		 n;
	int		 niov = 3;

	if (total > UINT32_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (fd != -1)
		flags |= COMMIS_FLAG_FD;
	frame_hdr_encode(hdr, type, flags, (uint32_t)total, id);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof hdr;
	iov[1].iov_base = (void *)p1;
	iov[1].iov_len = n1;
	iov[2].iov_base = (void *)p2;
	iov[2].iov_len = n2;

	while (niov > 0) {
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = v;
		msg.msg_iovlen = niov;
		if (fd != -1) {
			memset(&cbuf, 0, sizeof cbuf);
			msg.msg_control = cbuf.buf;
			msg.msg_controllen = sizeof cbuf.buf;
			cbuf.hdr.cmsg_len = CMSG_LEN(sizeof(int));
			cbuf.hdr.cmsg_level = SOL_SOCKET;
			cbuf.hdr.cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(&cbuf.hdr), &fd, sizeof fd);
		}
		if ((n = sendmsg(sock, &msg, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -1;
			pfd.fd = sock;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
				return -1;
			continue;
		}
		fd = -1;	/* the fd went with the first byte */
		while (niov > 0 && (size_t)n >= v->iov_len) {
			n -= v->iov_len;
			v++;
			niov--;
		}
		if (niov > 0) {
			v->iov_base = (uint8_t *)v->iov_base + n;
			v->iov_len -= n;
		}
	}
	return 0;
}
