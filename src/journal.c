/*
 * The journal file: records in memory until a commit writes them with
 * one write(2) (and an fdatasync when asked); replay with checksums and
 * torn-tail cutting; compaction by writing a fresh file and renaming it
 * over the old one. What the records mean is durable.c's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "commis/proto.h"
#include "journal.h"
#include "msg.h"

struct journal {
	int		 fd;
	char		 path[PATH_MAX];
	uint64_t	 size;		/* committed bytes */
	struct mbuf	 buf;		/* records not yet written */
};

static uint32_t
journal_crc(const uint8_t *p, size_t n)
{
	uLong	crc = crc32(0L, Z_NULL, 0);

	/* zlib takes a uInt length: feed large bodies in pieces. */
	while (n > 0) {
		uInt	k = n > (1u << 30) ? (1u << 30) : (uInt)n;

		crc = crc32(crc, p, k);
		p += k;
		n -= k;
	}
	return (uint32_t)crc;
}

static ssize_t
journal_read_all(int fd, uint8_t *p, size_t n)
{
	size_t	off = 0;
	ssize_t	r;

	while (off < n) {
		r = read(fd, p + off, n - off);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		off += (size_t)r;
	}
	return (ssize_t)off;
}

/*
 * Replays fd from the start; *good gets the offset just past the last
 * whole record. The file is read in one piece: a journal is kept small
 * by compaction, and recovery has to hold its live jobs anyway.
 */
static int
journal_replay(int fd, journal_rec_cb cb, void *arg, uint64_t *good,
    char *err, size_t errlen)
{
	struct stat	 st;
	uint8_t		*p = NULL;
	uint64_t	 off = 0;
	uint32_t	 len, crc;
	ssize_t		 n;
	int		 rc = 0;

	*good = 0;
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "fstat: %s", strerror(errno));
		return -1;
	}
	if (st.st_size == 0)
		return 0;
	if ((p = malloc((size_t)st.st_size)) == NULL) {
		snprintf(err, errlen, "no memory to read %lld bytes",
		    (long long)st.st_size);
		return -1;
	}
	if ((n = journal_read_all(fd, p, (size_t)st.st_size)) == -1) {
		snprintf(err, errlen, "read: %s", strerror(errno));
		free(p);
		return -1;
	}
	while ((uint64_t)n - off >= JOURNAL_HDR_LEN) {
		len = le32_get(p + off);
		crc = le32_get(p + off + 4);
		if (len == 0 || len > JOURNAL_REC_MAX ||
		    (uint64_t)n - off - JOURNAL_HDR_LEN < len ||
		    journal_crc(p + off + JOURNAL_HDR_LEN, len) != crc)
			break;
		if ((rc = cb(p[off + JOURNAL_HDR_LEN], p + off +
		    JOURNAL_HDR_LEN + 1, len - 1, arg)) != 0) {
			snprintf(err, errlen, "record at offset %llu refused",
			    (unsigned long long)off);
			break;
		}
		off += JOURNAL_HDR_LEN + len;
	}
	free(p);
	*good = off;
	return rc != 0 ? -1 : 0;
}

static struct journal *
journal_new(const char *path, int flags, char *err, size_t errlen)
{
	struct journal	*j;

	if ((j = calloc(1, sizeof *j)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (snprintf(j->path, sizeof j->path, "%s", path) >=
	    (int)sizeof j->path) {
		snprintf(err, errlen, "path too long");
		free(j);
		return NULL;
	}
	if ((j->fd = open(path, flags | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(j);
		return NULL;
	}
	mbuf_init(&j->buf);
	return j;
}

struct journal *
journal_open(const char *path, journal_rec_cb cb, void *arg, uint64_t *cut,
    char *err, size_t errlen)
{
	struct journal	*j;
	struct stat	 st;
	uint64_t	 good;

	*cut = 0;
	if ((j = journal_new(path, O_RDWR | O_CREAT, err, errlen)) == NULL)
		return NULL;
	if (journal_replay(j->fd, cb, arg, &good, err, errlen) == -1 ||
	    fstat(j->fd, &st) == -1) {
		journal_close(j);
		return NULL;
	}
	if ((uint64_t)st.st_size > good) {
		*cut = (uint64_t)st.st_size - good;
		if (ftruncate(j->fd, (off_t)good) == -1 ||
		    fdatasync(j->fd) == -1) {
			snprintf(err, errlen, "%s: cutting the torn tail: %s",
			    path, strerror(errno));
			journal_close(j);
			return NULL;
		}
	}
	if (lseek(j->fd, (off_t)good, SEEK_SET) == -1) {
		snprintf(err, errlen, "%s: lseek: %s", path, strerror(errno));
		journal_close(j);
		return NULL;
	}
	j->size = good;
	return j;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (j->fd != -1)
		close(j->fd);
	mbuf_free(&j->buf);
	free(j);
}

int
journal_add(struct journal *j, uint8_t type, const void *p, size_t n)
{
	uint8_t	hdr[JOURNAL_HDR_LEN + 1];
	size_t	at = j->buf.len;

	if (n + 1 > JOURNAL_REC_MAX ||
	    mbuf_reserve(&j->buf, sizeof hdr + n) == -1) {
		j->buf.err = 0;
		return -1;
	}
	le32_put(hdr, (uint32_t)(n + 1));
	hdr[JOURNAL_HDR_LEN] = type;
	mbuf_add(&j->buf, hdr, sizeof hdr);
	mbuf_add(&j->buf, p, n);
	le32_put(j->buf.data + at + 4, journal_crc(j->buf.data + at +
	    JOURNAL_HDR_LEN, n + 1));
	return 0;
}

size_t
journal_pending(const struct journal *j)
{
	return j->buf.len;
}

int
journal_commit(struct journal *j, int sync)
{
	size_t	off = 0;
	ssize_t	n;
	int	saved;

	while (off < j->buf.len) {
		n = write(j->fd, j->buf.data + off, j->buf.len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		off += (size_t)n;
	}
	if (sync && fdatasync(j->fd) == -1)
		goto fail;
	j->size += off;
	mbuf_reset(&j->buf);
	return 0;
fail:
	/* Whole records only: what this commit wrote goes again. */
	saved = errno;
	if (ftruncate(j->fd, (off_t)j->size) == -1 ||
	    lseek(j->fd, (off_t)j->size, SEEK_SET) == -1)
		saved = errno;
	mbuf_reset(&j->buf);
	errno = saved;
	return -1;
}

int
journal_sync(struct journal *j)
{
	return fdatasync(j->fd);
}

uint64_t
journal_size(const struct journal *j)
{
	return j->size;
}

struct journal *
journal_rewrite_begin(struct journal *old, char *err, size_t errlen)
{
	char	tmp[PATH_MAX];

	if (snprintf(tmp, sizeof tmp, "%s.new", old->path) >=
	    (int)sizeof tmp) {
		snprintf(err, errlen, "path too long");
		return NULL;
	}
	return journal_new(tmp, O_RDWR | O_CREAT | O_TRUNC, err, errlen);
}

void
journal_rewrite_abort(struct journal *new)
{
	if (new == NULL)
		return;
	unlink(new->path);
	journal_close(new);
}

int
journal_rewrite_end(struct journal *old, struct journal *new, char *err,
    size_t errlen)
{
	char	dir[PATH_MAX], *slash;
	int	dfd;

	if (journal_commit(new, 1) == -1) {
		snprintf(err, errlen, "%s: %s", new->path, strerror(errno));
		journal_rewrite_abort(new);
		return -1;
	}
	if (rename(new->path, old->path) == -1) {
		snprintf(err, errlen, "rename %s: %s", new->path,
		    strerror(errno));
		journal_rewrite_abort(new);
		return -1;
	}
	/* The rename itself must survive a crash. */
	snprintf(dir, sizeof dir, "%s", old->path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	else
		snprintf(dir, sizeof dir, ".");
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		fsync(dfd);
		close(dfd);
	}
	/* The old handle takes over the new file; what was pending on the
	 * old one (written after the snapshot) goes into it next. */
	close(old->fd);
	old->fd = new->fd;
	old->size = new->size;
	new->fd = -1;
	journal_close(new);
	if (lseek(old->fd, (off_t)old->size, SEEK_SET) == -1) {
		snprintf(err, errlen, "lseek: %s", strerror(errno));
		return -1;
	}
	return 0;
}
