/*
 * Frame codec: header encode/decode and an incremental decoder that copes
 * with any split of bytes across reads, checks each header (magic, version,
 * flags, length against the limit) before buffering its payload, and pairs
 * SCM_RIGHTS fds with the frames that declare them.
 */
#ifndef COMMIS_FRAME_H
#define COMMIS_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "commis/proto.h"

struct frame_hdr {
	uint32_t	magic;
	uint8_t		version;
	uint8_t		type;
	uint16_t	flags;
	uint32_t	len;
	uint32_t	reserved;
	uint64_t	id;
};

/* What frame_dec_next() found wrong; FRAME_OK when nothing. */
enum frame_err {
	FRAME_OK = 0,
	FRAME_EMAGIC,		/* not a commis stream: drop the peer */
	FRAME_EVERSION,		/* answer COMMIS_E_VERSION, then drop */
	FRAME_EHEADER,		/* reserved bits or unknown flags set */
	FRAME_ETOOBIG,		/* length above the limit; may be skipped */
	FRAME_EFD,		/* fd without flag, flag without fd, or an fd
				   on a type that allows none */
	FRAME_ECTRUNC,		/* ancillary data truncated (MSG_CTRUNC) */
	FRAME_ENOMEM,
};

const char	*frame_strerror(enum frame_err);

struct frame {
	struct frame_hdr	 hdr;
	const uint8_t		*payload;	/* valid until the next call */
	int			 fd;		/* -1, or an fd the caller owns */
};

#define FRAME_MAX_FDS	8

struct frame_dec {
	uint8_t		*buf;
	size_t		 off;		/* first unconsumed byte */
	size_t		 len;		/* bytes in buf */
	size_t		 cap;
	uint32_t	 max_len;	/* payload limit */
	uint64_t	 skip;		/* bytes of a refused payload to drop */
	uint64_t	 pos;		/* stream offset of buf[off] */
	struct {
		int		fd;
		uint64_t	start;	/* stream range of the read that */
		uint64_t	end;	/* brought this fd */
	}		 fds[FRAME_MAX_FDS];
	int		 nfds;
	enum frame_err	 err;		/* sticky once set, except ETOOBIG */
	/* A read that brought more fds than one (or lost some): the frames
	 * before the first one flagged COMMIS_FLAG_FD from bad_at on are
	 * still whole and are handed out; that one fails with bad_err. */
	enum frame_err	 bad_err;
	uint64_t	 bad_at;
};

void	 frame_hdr_encode(uint8_t *, uint8_t type, uint16_t flags,
	    uint32_t len, uint64_t id);
void	 frame_hdr_decode(const uint8_t *, struct frame_hdr *);

void	 frame_dec_init(struct frame_dec *, uint32_t max_len);
void	 frame_dec_free(struct frame_dec *);
/*
 * Reads once from a socket with recvmsg. Returns bytes read, 0 at EOF, -1
 * with errno (EAGAIN/EINTR are the caller's to retry) or with d->err set.
 */
ssize_t	 frame_dec_read(struct frame_dec *, int sock);
/* The same with recvmsg flags added (MSG_DONTWAIT). */
ssize_t	 frame_dec_recv(struct frame_dec *, int sock, int flags);
/* Appends bytes as if read; fd (or -1) arrived with them. 0 or -1. */
int	 frame_dec_feed(struct frame_dec *, const void *, size_t, int fd);
/*
 * 1: a frame is in *f. 0: more bytes needed. -1: d->err says why; after
 * FRAME_ETOOBIG (f->hdr filled in) the caller may frame_dec_skip() and go on.
 */
int	 frame_dec_next(struct frame_dec *, struct frame *);
void	 frame_dec_skip(struct frame_dec *, const struct frame_hdr *);
/* Frees the read buffer when nothing is left in it (an idle peer costs
 * no buffer; the next read allocates one again). */
void	 frame_dec_release(struct frame_dec *);

/*
 * Blocking send of one frame (header, payload in two parts, optional fd),
 * for the worker and the client library. Waits with poll on EAGAIN.
 * Returns 0 or -1 with errno. The fd is not closed.
 */
int	 frame_send(int sock, uint8_t type, uint16_t flags, uint64_t id,
	    const void *p1, size_t n1, const void *p2, size_t n2, int fd);

#endif
