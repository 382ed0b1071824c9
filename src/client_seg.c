/*
 * libcommis: bulk data as segments (seg.h, docs/protocol.md). This module
 * owns the segment submits -- commis_submit_copy, commis_submit_fd,
 * commis_submit_fd_async, commis_submit_inplace -- and the in-place
 * segment pool. Outgoing segments are sealed here and sent as
 * references: the kernel holds the in-flight copy, so the caller's fd (or
 * ours, for commis_submit_copy) may be closed as soon as it is sent.
 * Sending the SUBMIT and receiving the result, a result segment included,
 * are client.c's: this module knows nothing of frames or the socket. The
 * segment pool at the end is plain bookkeeping over seg_create and knows
 * nothing of connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_int.h"
#include "seg.h"

/* --- segments --- */

/*
 * Adds the seals of want that fd lacks; *seals gets what it then has.
 * The fd stays the caller's.
 */
static int
client_seal_fd(struct commis_client *c, int fd, int want, int *seals)
{
	int	have, missing;

	if (fd < 0)
		return client_fail(c, COMMIS_ERR_INVAL, "no segment fd");
	if ((have = fcntl(fd, F_GET_SEALS)) == -1)
		return client_fail(c, COMMIS_ERR_INVAL, "fd %d is not a memfd "
		    "that allows sealing: %s", fd, strerror(errno));
	if ((missing = want & ~have) != 0) {
		if (have & F_SEAL_SEAL)
			return client_fail(c, COMMIS_ERR_INVAL, "fd %d lacks "
			    "seals 0x%x and allows no more (F_SEAL_SEAL; "
			    "memfd_create without MFD_ALLOW_SEALING?)", fd,
			    (unsigned)missing);
		if (fcntl(fd, F_ADD_SEALS, missing) == -1) {
			if (errno == EBUSY)
				return client_fail(c, COMMIS_ERR_INVAL,
				    "cannot seal fd %d against writes: it is "
				    "still mapped writable (munmap it first, "
				    "or use commis_submit_copy)", fd);
			return client_fail(c, COMMIS_ERR_INVAL,
			    "cannot seal fd %d: %s", fd, strerror(errno));
		}
		have |= missing;
	}
	*seals = have;
	return COMMIS_OK;
}

/*
 * A fresh segment holding a copy of data, sealed as an input. The copy is
 * a write() into the empty memfd rather than a memcpy into a map of it:
 * the kernel allocates and fills each page in one pass, without a page
 * fault per page (about 1.8x faster for 64 MiB, docs/benchmarks.md).
 */
static int
client_seg_copy(struct commis_client *c, const void *data, size_t len,
    int *fdp)
{
	const uint8_t	*p = data;
	void		*map;
	ssize_t		 n;
	int		 fd, saved;

	*fdp = -1;
	if ((fd = seg_create("commis-input", 0, &map)) == -1)
		return client_fail(c, COMMIS_ERR_NOMEM,
		    "cannot create a %zu-byte segment: %s", len,
		    strerror(errno));
	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			return client_fail(c, COMMIS_ERR_NOMEM,
			    "cannot fill a segment: %s", strerror(saved));
		}
		p += n;
		len -= (size_t)n;
	}
	if (seg_seal(fd, SEG_INPUT) == -1) {
		saved = errno;
		close(fd);
		return client_fail(c, COMMIS_ERR_NOMEM,
		    "cannot seal a new segment: %s", strerror(saved));
	}
	*fdp = fd;
	return COMMIS_OK;
}

int
commis_submit_copy(commis_client *c, const char *handler, const void *data,
    size_t len, const struct commis_submit_opts *opts,
    struct commis_result *out)
{
	struct client_wait	w;
	int			fd, rc;

	if (c == NULL || out == NULL)
		return COMMIS_ERR_INVAL;
	client_result_init(out);
	if (c->broken)
		return c->broken;
	if (data == NULL && len > 0)
		return client_fail(c, COMMIS_ERR_INVAL, "no data");
	if ((rc = client_seg_copy(c, data, len, &fd)) != COMMIS_OK)
		return rc;
	memset(&w, 0, sizeof w);
	rc = client_submit(c, handler, NULL, 0, opts, 0, fd, &w.id);
	/* Sent (or not): commisd holds its own reference now. */
	close(fd);
	if (rc != COMMIS_OK)
		return rc;
	w.type = COMMIS_MSG_RESULT;
	w.res = out;
	return client_pump(c, &w, -1);
}

int
commis_submit_fd(commis_client *c, const char *handler, int fd,
    const struct commis_submit_opts *opts, struct commis_result *out)
{
	int	rc, seals;

	if (c == NULL || out == NULL)
		return COMMIS_ERR_INVAL;
	client_result_init(out);
	if (c->broken)
		return c->broken;
	if ((rc = client_seal_fd(c, fd, COMMIS_SEALS_INPUT, &seals)) !=
	    COMMIS_OK)
		return rc;
	return client_submit_sync(c, handler, NULL, 0, opts, 0, fd, out);
}

int
commis_submit_fd_async(commis_client *c, const char *handler, int fd,
    const struct commis_submit_opts *opts, uint64_t *request_id)
{
	uint64_t	id;
	int		rc, seals;

	if (c == NULL)
		return COMMIS_ERR_INVAL;
	if (c->broken)
		return c->broken;
	if ((rc = client_seal_fd(c, fd, COMMIS_SEALS_INPUT, &seals)) !=
	    COMMIS_OK ||
	    (rc = client_submit(c, handler, NULL, 0, opts, 0, fd, &id)) !=
	    COMMIS_OK)
		return rc;
	c->inflight++;
	if (request_id != NULL)
		*request_id = id;
	return COMMIS_OK;
}

int
commis_submit_inplace(commis_client *c, const char *handler,
    struct commis_seg *seg, const struct commis_submit_opts *opts,
    struct commis_result *out)
{
	int	rc, seals;

	if (c == NULL || out == NULL)
		return COMMIS_ERR_INVAL;
	client_result_init(out);
	if (c->broken)
		return c->broken;
	if (seg == NULL)
		return client_fail(c, COMMIS_ERR_INVAL, "no segment");
	if ((rc = client_seal_fd(c, seg->fd, COMMIS_SEALS_INPLACE, &seals)) !=
	    COMMIS_OK)
		return rc;
	if (seals & F_SEAL_WRITE)
		return client_fail(c, COMMIS_ERR_INVAL, "fd %d is sealed "
		    "against writes: it cannot be transformed in place",
		    seg->fd);
	return client_submit_sync(c, handler, NULL, 0, opts,
	    COMMIS_SUBMIT_INPLACE, seg->fd, out);
}

/* --- the in-place segment pool --- */

/* A pool's segment: the public part first, so a commis_seg is one. */
struct segpool_seg {
	struct commis_seg	 seg;
	struct segpool_seg	*next;		/* idle list, oldest first */
};

struct commis_segpool {
	size_t			 max_bytes;
	size_t			 idle_bytes;
	struct segpool_seg	*head;
	struct segpool_seg	**tail;
};

static void
segpool_seg_free(struct segpool_seg *e)
{
	seg_unmap(e->seg.data, e->seg.size);
	if (e->seg.fd != -1)
		close(e->seg.fd);
	free(e);
}

commis_segpool *
commis_segpool_new(size_t max_bytes)
{
	struct commis_segpool	*p;

	if ((p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	p->max_bytes = max_bytes;
	p->tail = &p->head;
	return p;
}

void
commis_segpool_free(commis_segpool *p)
{
	struct segpool_seg	*e;

	if (p == NULL)
		return;
	while ((e = p->head) != NULL) {
		p->head = e->next;
		segpool_seg_free(e);
	}
	free(p);
}

/* Unlinks the newest idle segment of exactly size bytes (its pages are
 * the likeliest to be warm), or NULL. */
static struct segpool_seg *
segpool_take(struct commis_segpool *p, size_t size)
{
	struct segpool_seg	**pp, **found = NULL, *e;

	for (pp = &p->head; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->seg.size == size)
			found = pp;
	}
	if (found == NULL)
		return NULL;
	e = *found;
	if ((*found = e->next) == NULL)
		p->tail = found;
	e->next = NULL;
	p->idle_bytes -= size;
	return e;
}

struct commis_seg *
commis_seg_get(commis_segpool *p, size_t size)
{
	struct segpool_seg	*e;
	void			*map = NULL;
	int			 fd, saved;

	if (size == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (p != NULL && (e = segpool_take(p, size)) != NULL)
		return &e->seg;
	if ((e = calloc(1, sizeof *e)) == NULL)
		return NULL;
	/* Size sealed, contents writable: transformed in place, reused. */
	if ((fd = seg_create("commis-inplace", size, &map)) == -1 ||
	    seg_seal(fd, SEG_INPLACE) == -1) {
		saved = errno;
		if (fd != -1) {
			seg_unmap(map, size);
			close(fd);
		}
		free(e);
		errno = saved;
		return NULL;
	}
	e->seg.fd = fd;
	e->seg.data = map;
	e->seg.size = size;
	return &e->seg;
}

void
commis_seg_put(commis_segpool *p, struct commis_seg *seg)
{
	struct segpool_seg	*e = (struct segpool_seg *)seg;

	if (seg == NULL)
		return;
	if (p == NULL || seg->size > p->max_bytes) {
		segpool_seg_free(e);
		return;
	}
	e->next = NULL;
	*p->tail = e;
	p->tail = &e->next;
	p->idle_bytes += seg->size;
	while (p->idle_bytes > p->max_bytes) {
		e = p->head;
		if ((p->head = e->next) == NULL)
			p->tail = &p->head;
		p->idle_bytes -= e->seg.size;
		segpool_seg_free(e);
	}
}
