/*
 * commis-storecmp: which store should commisd write accepted jobs to?
 * (`make storecmp`, docs/storage.md)
 *
 * Compares, in one run and on one directory, an append-only journal of
 * our own (u32 length, u32 CRC-32, body; write(2) to an O_APPEND file and
 * one fdatasync per batch), SQLite in WAL mode (one transaction per
 * batch) and LMDB (one write transaction per batch). A batch stands for
 * the jobs commisd accepts in one event-loop iteration: "always" makes
 * one batch durable with one commit (group commit), "never" does not
 * sync. Each case inserts batches; then, with "always", runs the steady
 * state of a queue, where each commit inserts a batch of new jobs and
 * marks as many old ones done; then marks the rest done in batches of
 * the same size, as commisd would when the jobs end. Last, each store is
 * filled with a million small records and read back, once with its files
 * dropped from the page cache and once warm: the cost of recovery.
 *
 * Each pass runs for a time budget (-t) or until it has written
 * STORECMP_MAXRECS records or STORECMP_MAXBYTES payload bytes, whichever
 * comes first, so that one run takes about two minutes whatever the
 * disk. The whole set of cases runs -r times, interleaved, and the table
 * shows each case's median round: a slow spell of a shared disk then
 * falls on one round of every store rather than on all rounds of one.
 * Between passes the store is removed and the filesystem synced, so that
 * one pass's dirty pages do not slow the next.
 *
 * This file knows nothing of commisd: it links only libc, zlib, SQLite
 * and LMDB, which the normal build does not need.
 */
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <sqlite3.h>
#include <zlib.h>

#define STORECMP_BUDGET		0.4		/* seconds per pass, -t */
#define STORECMP_ROUNDS		3		/* -r */
#define STORECMP_MAXROUNDS	9
#define STORECMP_MAXRECS	2000000ul	/* records per pass */
#define STORECMP_MAXBYTES	(256ul << 20)	/* payload bytes per pass */
#define STORECMP_RECOVER	1000000ul	/* records read back, -n */
#define STORECMP_RECSIZE	64		/* their payload size */
#define STORECMP_MAXBATCH	1024
#define STORECMP_MAXSIZE	1024		/* payload bytes */
#define STORECMP_MAPSIZE	((size_t)16 << 30)	/* LMDB, virtual */
#define STORECMP_READBUF	(1u << 20)

/* The journal's record: header, then body = u64 id, u32 kind, payload. */
#define JR_HDR		8		/* u32 body length, u32 CRC-32 */
#define JR_BODY		12
#define JR_MAXBODY	(JR_BODY + 65536)
#define JR_JOB		1
#define JR_DONE		2
#define JR_FILE		"journal"

#define NITEMS(a)	(sizeof (a) / sizeof (a)[0])

static const size_t	sizes[] = { 64, STORECMP_MAXSIZE };
static const size_t	batches[] = { 1, 64, STORECMP_MAXBATCH };

/* One open store; the fields of the other kinds stay empty. */
struct store {
	char		 dir[PATH_MAX + 32];
	int		 sync;		/* 1: "always", 0: "never" */
	size_t		 size;
	unsigned char	*payload;	/* size bytes, the same each time */
	uint64_t	 next;		/* id of the next insert */
	uint64_t	 oldest;	/* oldest job not done */

	int		 fd;		/* journal */
	unsigned char	*buf;		/* one batch of records */

	sqlite3		*db;
	sqlite3_stmt	*begin, *commit, *ins, *del;

	MDB_env		*env;
	MDB_dbi		 dbi;
};

struct run;
struct store_ops {
	const char	*name;
	int		(*open)(struct run *, struct store *);
	/* One commit: inserts ids put.., then marks ids del.. done. */
	int		(*write)(struct run *, struct store *, uint64_t put,
			    size_t nput, uint64_t del, size_t ndel);
	/* Reads every record back; counts the jobs not done. */
	int		(*scan)(struct run *, struct store *, unsigned long *);
	void		(*close)(struct store *);
};

/* A case's passes: inserts, steady state (mix), deletes. */
struct pass {
	unsigned long	 put_n, mix_n, del_n;
	double		 put_s, mix_s, del_s;
};

/* One case, measured once per round; the table shows the median. */
struct result {
	const struct store_ops *ops;
	size_t		 size, batch;
	int		 sync;
	struct pass	 round[STORECMP_MAXROUNDS];
};

struct recovery {
	const struct store_ops *ops;
	unsigned long	 n;
	off_t		 bytes;
	double		 build_s, cold_s, warm_s;
};

struct run {
	char		 base[PATH_MAX];	/* our mkdtemp directory */
	int		 basefd;
	double		 budget;
	int		 rounds;
	unsigned long	 nrecover;
	const char	*json;
	unsigned	 only;			/* bit per store, -s */
	unsigned char	 payload[STORECMP_MAXSIZE];

	char		 cpu[128];
	long		 cpus;
	char		 kernel[256];
	char		 fs[32];
	long		 fsmagic;

	struct result	 res[64];
	size_t		 nres;
	struct recovery	 rec[4];
	size_t		 nrec;
	double		 wall;
	char		 err[512];
};

static volatile sig_atomic_t stop;

static int
run_err(struct run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records why the run fails, unless it already does; returns -1. */
static int
run_err(struct run *r, const char *fmt, ...)
{
	va_list	ap;

	if (r->err[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof r->err, fmt, ap);
	va_end(ap);
	return -1;
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
on_signal(int sig)
{
	stop = 1;
}

/* The journal. */

static int
jr_open(struct run *r, struct store *s)
{
	char	path[PATH_MAX + 64];

	snprintf(path, sizeof path, "%s/%s", s->dir, JR_FILE);
	s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (s->fd == -1)
		return run_err(r, "%s: %s", path, strerror(errno));
	s->buf = malloc(STORECMP_MAXBATCH * (2 * (JR_HDR + JR_BODY) +
	    s->size));
	if (s->buf == NULL)
		return run_err(r, "malloc: %s", strerror(errno));
	return 0;
}

static size_t
jr_record(unsigned char *p, uint64_t id, uint32_t kind,
    const unsigned char *data, size_t len)
{
	uint32_t	blen = JR_BODY + len, crc;

	memcpy(p + JR_HDR, &id, 8);
	memcpy(p + JR_HDR + 8, &kind, 4);
	if (len > 0)
		memcpy(p + JR_HDR + JR_BODY, data, len);
	crc = crc32(0L, p + JR_HDR, blen);
	memcpy(p, &blen, 4);
	memcpy(p + 4, &crc, 4);
	return JR_HDR + blen;
}

/* One write(2) per batch, as commisd would flush its loop's buffer. */
static int
jr_write(struct run *r, struct store *s, uint64_t put, size_t nput,
    uint64_t del, size_t ndel)
{
	size_t	len = 0, off = 0, i;
	ssize_t	n;

	for (i = 0; i < nput; i++)
		len += jr_record(s->buf + len, put + i, JR_JOB, s->payload,
		    s->size);
	for (i = 0; i < ndel; i++)
		len += jr_record(s->buf + len, del + i, JR_DONE, NULL, 0);
	while (off < len) {
		if ((n = write(s->fd, s->buf + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			return run_err(r, "journal write: %s", strerror(errno));
		}
		off += n;
	}
	if (s->sync && fdatasync(s->fd) == -1)
		return run_err(r, "journal fdatasync: %s", strerror(errno));
	return 0;
}

/* Recovery: every record's length and CRC checked; a torn tail fails. */
static int
jr_scan(struct run *r, struct store *s, unsigned long *live)
{
	char		 path[PATH_MAX + 64];
	unsigned char	*buf;
	size_t		 have = 0, off;
	uint32_t	 blen, crc, kind;
	off_t		 pos = 0;
	ssize_t		 n;
	int		 fd, rc = -1;

	snprintf(path, sizeof path, "%s/%s", s->dir, JR_FILE);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return run_err(r, "%s: %s", path, strerror(errno));
	if ((buf = malloc(STORECMP_READBUF)) == NULL) {
		run_err(r, "malloc: %s", strerror(errno));
		goto out;
	}
	*live = 0;
	for (;;) {
		n = read(fd, buf + have, STORECMP_READBUF - have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			run_err(r, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		have += n;
		for (off = 0; have - off >= JR_HDR; off += JR_HDR + blen) {
			memcpy(&blen, buf + off, 4);
			if (blen < JR_BODY || blen > JR_MAXBODY) {
				run_err(r, "%s: bad length at %lld", path,
				    (long long)(pos + off));
				goto out;
			}
			if (have - off < JR_HDR + blen)
				break;
			memcpy(&crc, buf + off + 4, 4);
			if (crc32(0L, buf + off + JR_HDR, blen) != crc) {
				run_err(r, "%s: bad CRC at %lld", path,
				    (long long)(pos + off));
				goto out;
			}
			memcpy(&kind, buf + off + JR_HDR + 8, 4);
			if (kind == JR_JOB)
				(*live)++;
			else if (kind == JR_DONE)
				(*live)--;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
		pos += off;
	}
	if (have != 0) {
		run_err(r, "%s: torn record at %lld", path, (long long)pos);
		goto out;
	}
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

static void
jr_close(struct store *s)
{
	if (s->fd != -1)
		close(s->fd);
	s->fd = -1;
	free(s->buf);
	s->buf = NULL;
}

/* SQLite in WAL mode. */

static int
sq_fail(struct run *r, struct store *s, const char *what)
{
	return run_err(r, "sqlite %s: %s", what, sqlite3_errmsg(s->db));
}

static int
sq_exec(struct run *r, struct store *s, const char *sql)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return sq_fail(r, s, sql);
	return 0;
}

static int
sq_step(struct run *r, struct store *s, sqlite3_stmt *st)
{
	int	rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_fail(r, s, sqlite3_sql(st));
	return 0;
}

static int
sq_open(struct run *r, struct store *s)
{
	static const char *sql[] = { "BEGIN", "COMMIT",
	    "INSERT INTO jobs(id, payload) VALUES (?1, ?2)",
	    "DELETE FROM jobs WHERE id = ?1" };
	sqlite3_stmt	**st[] = { &s->begin, &s->commit, &s->ins, &s->del };
	sqlite3_stmt	*wal;
	char		 path[PATH_MAX + 64];
	size_t		 i;
	int		 ok;

	snprintf(path, sizeof path, "%s/jobs.db", s->dir);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return sq_fail(r, s, path);
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &wal,
	    NULL) != SQLITE_OK)
		return sq_fail(r, s, "journal_mode");
	ok = sqlite3_step(wal) == SQLITE_ROW &&
	    sqlite3_column_text(wal, 0) != NULL &&
	    strcmp((const char *)sqlite3_column_text(wal, 0), "wal") == 0;
	sqlite3_finalize(wal);
	if (!ok)
		return run_err(r, "sqlite: journal_mode=WAL refused");
	if (sq_exec(r, s, s->sync ? "PRAGMA synchronous=FULL" :
	    "PRAGMA synchronous=OFF") == -1 ||
	    sq_exec(r, s, "CREATE TABLE IF NOT EXISTS jobs"
	    "(id INTEGER PRIMARY KEY, payload BLOB NOT NULL)") == -1)
		return -1;
	for (i = 0; i < NITEMS(sql); i++) {
		if (sqlite3_prepare_v2(s->db, sql[i], -1, st[i], NULL) !=
		    SQLITE_OK)
			return sq_fail(r, s, sql[i]);
	}
	return 0;
}

static int
sq_write(struct run *r, struct store *s, uint64_t put, size_t nput,
    uint64_t del, size_t ndel)
{
	size_t	i;

	if (sq_step(r, s, s->begin) == -1)
		return -1;
	for (i = 0; i < nput; i++) {
		sqlite3_bind_int64(s->ins, 1, (sqlite3_int64)(put + i));
		sqlite3_bind_blob(s->ins, 2, s->payload, (int)s->size,
		    SQLITE_STATIC);
		if (sq_step(r, s, s->ins) == -1)
			return -1;
	}
	for (i = 0; i < ndel; i++) {
		sqlite3_bind_int64(s->del, 1, (sqlite3_int64)(del + i));
		if (sq_step(r, s, s->del) == -1)
			return -1;
	}
	return sq_step(r, s, s->commit);
}

static int
sq_scan(struct run *r, struct store *s, unsigned long *live)
{
	sqlite3_stmt		*st;
	const unsigned char	*p;
	unsigned long		 sum = 0;
	int			 rc;

	if (sqlite3_prepare_v2(s->db, "SELECT id, payload FROM jobs", -1,
	    &st, NULL) != SQLITE_OK)
		return sq_fail(r, s, "select");
	*live = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* Touch what recovery would copy out. */
		sum += (unsigned long)sqlite3_column_int64(st, 0);
		p = sqlite3_column_blob(st, 1);
		if (p != NULL && sqlite3_column_bytes(st, 1) > 0)
			sum += p[0];
		(*live)++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sq_fail(r, s, "select");
	return sum == 0 && *live > 0 ? run_err(r, "sqlite: empty rows") : 0;
}

static void
sq_close(struct store *s)
{
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->del);
	s->begin = s->commit = s->ins = s->del = NULL;
	sqlite3_close(s->db);
	s->db = NULL;
}

/* LMDB. Keys are size_t ids (8 bytes here) with MDB_INTEGERKEY. */

static int
lm_fail(struct run *r, const char *what, int rc)
{
	return run_err(r, "lmdb %s: %s", what, mdb_strerror(rc));
}

static int
lm_open(struct run *r, struct store *s)
{
	MDB_txn	*txn;
	int	 rc;

	if ((rc = mdb_env_create(&s->env)) != 0)
		return lm_fail(r, "env_create", rc);
	if ((rc = mdb_env_set_mapsize(s->env, STORECMP_MAPSIZE)) != 0)
		return lm_fail(r, "set_mapsize", rc);
	if ((rc = mdb_env_open(s->env, s->dir, s->sync ? 0 : MDB_NOSYNC,
	    0600)) != 0)
		return lm_fail(r, s->dir, rc);
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return lm_fail(r, "txn_begin", rc);
	if ((rc = mdb_dbi_open(txn, NULL, MDB_INTEGERKEY | MDB_CREATE,
	    &s->dbi)) != 0) {
		mdb_txn_abort(txn);
		return lm_fail(r, "dbi_open", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return lm_fail(r, "commit", rc);
	return 0;
}

static int
lm_write(struct run *r, struct store *s, uint64_t put, size_t nput,
    uint64_t del, size_t ndel)
{
	MDB_txn	*txn;
	MDB_val	 k, v;
	size_t	 key, i;
	int	 rc = 0;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		return lm_fail(r, "txn_begin", rc);
	k.mv_size = sizeof key;
	k.mv_data = &key;
	v.mv_size = s->size;
	v.mv_data = s->payload;
	for (i = 0; i < nput && rc == 0; i++) {
		key = put + i;
		rc = mdb_put(txn, s->dbi, &k, &v, MDB_APPEND);
	}
	for (i = 0; i < ndel && rc == 0; i++) {
		key = del + i;
		rc = mdb_del(txn, s->dbi, &k, NULL);
	}
	if (rc != 0) {
		mdb_txn_abort(txn);
		return lm_fail(r, "put/del", rc);
	}
	if ((rc = mdb_txn_commit(txn)) != 0)
		return lm_fail(r, "commit", rc);
	return 0;
}

static int
lm_scan(struct run *r, struct store *s, unsigned long *live)
{
	MDB_txn		*txn;
	MDB_cursor	*c;
	MDB_val		 k, v;
	unsigned long	 sum = 0;
	int		 rc;

	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return lm_fail(r, "txn_begin", rc);
	if ((rc = mdb_cursor_open(txn, s->dbi, &c)) != 0) {
		mdb_txn_abort(txn);
		return lm_fail(r, "cursor_open", rc);
	}
	*live = 0;
	for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		sum += *(const unsigned char *)k.mv_data;
		if (v.mv_size > 0)
			sum += *(const unsigned char *)v.mv_data;
		(*live)++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND)
		return lm_fail(r, "cursor_get", rc);
	return sum == 0 && *live > 0 ? run_err(r, "lmdb: empty rows") : 0;
}

static void
lm_close(struct store *s)
{
	if (s->env != NULL)
		mdb_env_close(s->env);
	s->env = NULL;
}

static const struct store_ops stores[] = {
	{ "journal", jr_open, jr_write, jr_scan, jr_close },
	{ "sqlite", sq_open, sq_write, sq_scan, sq_close },
	{ "lmdb", lm_open, lm_write, lm_scan, lm_close },
};

/* Directories and the page cache. */

static int
dir_make(struct run *r, struct store *s, const char *name)
{
	snprintf(s->dir, sizeof s->dir, "%s/%s", r->base, name);
	if (mkdir(s->dir, 0700) == -1)
		return run_err(r, "%s: %s", s->dir, strerror(errno));
	return 0;
}

/*
 * Removes a store's directory; with drop, instead syncs every file in it
 * and drops it from the page cache (cold recovery). Returns the bytes.
 */
static off_t
dir_walk(const char *path, int drop)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	char		 sub[PATH_MAX + 256];
	off_t		 bytes = 0;
	int		 fd;

	if ((d = opendir(path)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) == -1)
			continue;
		if (S_ISDIR(st.st_mode)) {
			/* Only left behind by a failed run. */
			snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
			bytes += dir_walk(sub, drop);
			continue;
		}
		bytes += st.st_size;
		if (!drop) {
			unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		fd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC);
		if (fd == -1)
			continue;
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
	closedir(d);
	if (!drop)
		rmdir(path);
	return bytes;
}

enum { PASS_PUT, PASS_MIX, PASS_DEL };

/*
 * Runs commits of batch inserts (PASS_PUT), batch dones of the oldest
 * jobs (PASS_DEL), or both in one commit (PASS_MIX: the steady state of
 * a queue), until the time budget (none when 0) or max records or jobs;
 * returns how many and the time taken.
 */
static int
pass(struct run *r, const struct store_ops *ops, struct store *s, int kind,
    size_t batch, unsigned long max, double budget, unsigned long *done,
    double *secs)
{
	unsigned long	n = 0;
	size_t		k, nput, ndel;
	double		t0;

	t0 = now();
	while (n < max && !stop) {
		k = max - n < batch ? max - n : batch;
		nput = kind != PASS_DEL ? k : 0;
		ndel = kind != PASS_PUT ? k : 0;
		if (ops->write(r, s, s->next, nput, s->oldest, ndel) == -1)
			return -1;
		s->next += nput;
		s->oldest += ndel;
		n += k;
		if (budget > 0 && now() - t0 >= budget)
			break;
	}
	*secs = now() - t0;
	*done = n;
	return stop ? run_err(r, "interrupted") : 0;
}

static void
store_init(struct run *r, struct store *s, size_t size, int sync)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->size = size;
	s->sync = sync;
	s->payload = r->payload;
	s->next = s->oldest = 1;
}

static int
run_case(struct run *r, struct result *res, struct pass *p)
{
	const struct store_ops	*ops = res->ops;
	struct store		 s;
	unsigned long		 max;
	int			 rc = -1;

	store_init(r, &s, res->size, res->sync);
	max = STORECMP_MAXBYTES / res->size;
	if (max > STORECMP_MAXRECS)
		max = STORECMP_MAXRECS;
	if (dir_make(r, &s, "case") == -1)
		return -1;
	/* The steady state only where commits wait for the disk. */
	if (ops->open(r, &s) == 0 &&
	    pass(r, ops, &s, PASS_PUT, res->batch, max, r->budget, &p->put_n,
	    &p->put_s) == 0 &&
	    (!res->sync || pass(r, ops, &s, PASS_MIX, res->batch, max,
	    r->budget, &p->mix_n, &p->mix_s) == 0) &&
	    pass(r, ops, &s, PASS_DEL, res->batch, s.next - s.oldest,
	    r->budget, &p->del_n, &p->del_s) == 0)
		rc = 0;
	ops->close(&s);
	dir_walk(s.dir, 0);
	/* Not timed: the next pass starts on a quiet disk. */
	syncfs(r->basefd);
	return rc;
}

/* Open, read every record back, close: the start of commisd. */
static int
recover_once(struct run *r, const struct store_ops *ops, struct store *s,
    double *secs)
{
	unsigned long	live = 0;
	double		t0;
	int		rc;

	t0 = now();
	rc = ops->open(r, s);
	if (rc == 0)
		rc = ops->scan(r, s, &live);
	ops->close(s);
	*secs = now() - t0;
	if (rc == 0 && live != r->nrecover)
		return run_err(r, "%s: read back %lu records, wrote %lu",
		    ops->name, live, r->nrecover);
	return rc;
}

static int
run_recovery(struct run *r, struct recovery *rec)
{
	const struct store_ops	*ops = rec->ops;
	struct store		 s;
	unsigned long		 n;
	double			 t0, secs;
	int			 rc = -1;

	store_init(r, &s, STORECMP_RECSIZE, 0);
	if (dir_make(r, &s, "recover") == -1)
		return -1;
	t0 = now();
	if (ops->open(r, &s) == 0)
		pass(r, ops, &s, PASS_PUT, STORECMP_MAXBATCH, r->nrecover, 0,
		    &n, &secs);
	ops->close(&s);
	rec->build_s = now() - t0;
	rec->n = r->nrecover;
	if (r->err[0] != '\0')
		goto out;
	rec->bytes = dir_walk(s.dir, 1);
	if (recover_once(r, ops, &s, &rec->cold_s) == 0 &&
	    recover_once(r, ops, &s, &rec->warm_s) == 0)
		rc = 0;
out:
	dir_walk(s.dir, 0);
	syncfs(r->basefd);
	return rc;
}

/* The machine. */

static const char *
fs_name(long magic)
{
	static const struct {
		long		 magic;
		const char	*name;
	} fs[] = {
		{ 0xef53, "ext2/3/4" }, { 0x58465342, "xfs" },
		{ 0x9123683e, "btrfs" }, { 0x01021994, "tmpfs" },
		{ 0x794c7630, "overlayfs" }, { 0x2fc12fc1, "zfs" },
		{ 0xf2f52010, "f2fs" }, { 0x6969, "nfs" },
		{ 0x01021997, "9p" }, { 0x65735546, "fuse" },
		{ 0x858458f6, "ramfs" }, { 0x5346544e, "ntfs" },
	};
	size_t	i;

	for (i = 0; i < NITEMS(fs); i++) {
		if (fs[i].magic == magic)
			return fs[i].name;
	}
	return "unknown";
}

static void
machine(struct run *r)
{
	struct utsname	 u;
	struct statfs	 sf;
	char		 line[256], *p;
	FILE		*f;

	snprintf(r->cpu, sizeof r->cpu, "unknown");
	if ((f = fopen("/proc/cpuinfo", "r")) != NULL) {
		while (fgets(line, sizeof line, f) != NULL) {
			if (strncmp(line, "model name", 10) != 0 ||
			    (p = strchr(line, ':')) == NULL)
				continue;
			p += strspn(p + 1, " \t") + 1;
			p[strcspn(p, "\n")] = '\0';
			snprintf(r->cpu, sizeof r->cpu, "%s", p);
			break;
		}
		fclose(f);
	}
	r->cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (uname(&u) == 0)
		snprintf(r->kernel, sizeof r->kernel, "%s %s %s", u.sysname,
		    u.release, u.machine);
	r->fsmagic = 0;
	if (statfs(r->base, &sf) == 0)
		r->fsmagic = (long)sf.f_type;
	snprintf(r->fs, sizeof r->fs, "%s", fs_name(r->fsmagic));
}

/* Output. */

/* Formats a rate with thousands separators. */
static const char *
grp(char *buf, size_t len, double v)
{
	char	tmp[32];
	size_t	n, i, j = 0;

	snprintf(tmp, sizeof tmp, "%.0f", v);
	n = strlen(tmp);
	for (i = 0; i < n && j + 2 < len; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[j++] = ',';
		buf[j++] = tmp[i];
	}
	buf[j] = '\0';
	return buf;
}

static double
rate(unsigned long n, double s)
{
	return s > 0 ? n / s : 0;
}

static double
pass_rate(const struct pass *p, int kind)
{
	if (kind == PASS_PUT)
		return rate(p->put_n, p->put_s);
	if (kind == PASS_MIX)
		return rate(p->mix_n, p->mix_s);
	return rate(p->del_n, p->del_s);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median round: rounds alternate with the other stores' passes. */
static double
res_value(const struct run *r, const struct result *res, int kind)
{
	double	v[STORECMP_MAXROUNDS];
	int	i, n = r->rounds;

	for (i = 0; i < n; i++)
		v[i] = pass_rate(&res->round[i], kind);
	qsort(v, n, sizeof v[0], cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
print_table(struct run *r)
{
	static const char *title[] = { "insert, records/s",
	    "steady (k new + k done), jobs/s", "mark done, records/s" };
	const struct result	*res;
	char			 buf[32];
	size_t			 i, j, k;
	int			 kind;

	for (kind = PASS_PUT; kind <= PASS_DEL; kind++) {
		printf("\n%-36s", title[kind]);
		for (k = 0; k < NITEMS(stores); k++)
			if (r->only & (1u << k))
				printf(" %12s", stores[k].name);
		printf("\n");
		/* Results run store-fastest: one line per (size, batch, sync). */
		for (i = 0; i < r->nres; i = j) {
			res = &r->res[i];
			for (j = i; j < r->nres && r->res[j].size == res->size &&
			    r->res[j].batch == res->batch &&
			    r->res[j].sync == res->sync; j++)
				;
			/* Not measured: "never" is bound by the CPU. */
			if (kind == PASS_MIX && !res->sync)
				continue;
			printf("  %4zu B  batch %4zu  %-6s        ", res->size,
			    res->batch, res->sync ? "always" : "never");
			for (k = i; k < j; k++)
				printf(" %12s", grp(buf, sizeof buf,
				    res_value(r, &r->res[k], kind)));
			printf("\n");
		}
	}
	printf("\nrecovery: open, read back and check %lu records of %d B, "
	    "close\n", r->nrecover, STORECMP_RECSIZE);
	printf("  %-10s %9s %9s %13s %9s %13s %9s\n", "store", "file MB",
	    "cold ms", "cold rec/s", "warm ms", "warm rec/s", "fill s");
	for (i = 0; i < r->nrec; i++) {
		printf("  %-10s %9.1f %9.1f", r->rec[i].ops->name,
		    r->rec[i].bytes / 1048576.0, r->rec[i].cold_s * 1e3);
		printf(" %13s", grp(buf, sizeof buf, rate(r->rec[i].n,
		    r->rec[i].cold_s)));
		printf(" %9.1f", r->rec[i].warm_s * 1e3);
		printf(" %13s %9.2f\n", grp(buf, sizeof buf, rate(r->rec[i].n,
		    r->rec[i].warm_s)), r->rec[i].build_s);
	}
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static int
write_json(struct run *r)
{
	const struct result	*res;
	const struct pass	*p;
	FILE			*f;
	size_t			 i;
	int			 j;

	if ((f = fopen(r->json, "w")) == NULL)
		return run_err(r, "%s: %s", r->json, strerror(errno));
	fprintf(f, "{\n  \"machine\": {\"cpu\": ");
	json_str(f, r->cpu);
	fprintf(f, ", \"cpus\": %ld, \"kernel\": ", r->cpus);
	json_str(f, r->kernel);
	fprintf(f, ", \"fs\": ");
	json_str(f, r->fs);
	fprintf(f, ", \"fs_magic\": \"0x%lx\", \"dir\": ", r->fsmagic);
	json_str(f, r->base);
	fprintf(f, ",\n    \"sqlite\": \"%s\", \"lmdb\": \"%d.%d.%d\", "
	    "\"zlib\": \"%s\"},\n", sqlite3_libversion(), MDB_VERSION_MAJOR,
	    MDB_VERSION_MINOR, MDB_VERSION_PATCH, zlibVersion());
	fprintf(f, "  \"params\": {\"budget_s\": %g, \"rounds\": %d, "
	    "\"max_records\": %lu, \"max_payload_bytes\": %lu, "
	    "\"recover_records\": %lu},\n", r->budget, r->rounds,
	    STORECMP_MAXRECS, STORECMP_MAXBYTES, r->nrecover);
	fprintf(f, "  \"cases\": [");
	for (i = 0; i < r->nres; i++) {
		res = &r->res[i];
		fprintf(f, "%s\n    {\"store\": \"%s\", \"size\": %zu, "
		    "\"batch\": %zu, \"sync\": \"%s\", \"put_rate\": %.0f, "
		    "\"mix_rate\": %.0f, \"del_rate\": %.0f, \"rounds\": [",
		    i > 0 ? "," : "", res->ops->name, res->size, res->batch,
		    res->sync ? "always" : "never",
		    res_value(r, res, PASS_PUT), res_value(r, res, PASS_MIX),
		    res_value(r, res, PASS_DEL));
		for (j = 0; j < r->rounds; j++) {
			p = &res->round[j];
			fprintf(f, "%s\n      {\"put_n\": %lu, \"put_s\": %.6f, "
			    "\"mix_n\": %lu, \"mix_s\": %.6f, \"del_n\": %lu, "
			    "\"del_s\": %.6f}", j > 0 ? "," : "", p->put_n,
			    p->put_s, p->mix_n, p->mix_s, p->del_n, p->del_s);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "\n  ],\n  \"recovery\": [");
	for (i = 0; i < r->nrec; i++)
		fprintf(f, "%s\n    {\"store\": \"%s\", \"records\": %lu, "
		    "\"size\": %d, \"bytes\": %lld, \"fill_s\": %.6f, "
		    "\"cold_s\": %.6f, \"warm_s\": %.6f}", i > 0 ? "," : "",
		    r->rec[i].ops->name, r->rec[i].n, STORECMP_RECSIZE,
		    (long long)r->rec[i].bytes, r->rec[i].build_s,
		    r->rec[i].cold_s, r->rec[i].warm_s);
	fprintf(f, "\n  ],\n  \"wall_s\": %.1f\n}\n", r->wall);
	if (fclose(f) == EOF)
		return run_err(r, "%s: %s", r->json, strerror(errno));
	return 0;
}

/* The run. */

static int
run_all(struct run *r)
{
	struct result	*res;
	size_t		 a, b, k, i;
	int		 sync, round;

	for (a = 0; a < NITEMS(sizes); a++)
	for (b = 0; b < NITEMS(batches); b++)
	for (sync = 1; sync >= 0; sync--)
	for (k = 0; k < NITEMS(stores); k++) {
		if (!(r->only & (1u << k)))
			continue;
		res = &r->res[r->nres++];
		res->ops = &stores[k];
		res->size = sizes[a];
		res->batch = batches[b];
		res->sync = sync;
	}
	/* Each round runs every case, so that a slow spell of the disk
	 * falls on one round of each store rather than all of one. */
	for (round = 0; round < r->rounds; round++) {
		fprintf(stderr, "storecmp: round %d of %d, %zu cases\n",
		    round + 1, r->rounds, r->nres);
		for (i = 0; i < r->nres; i++)
			if (run_case(r, &r->res[i], &r->res[i].round[round]) ==
			    -1)
				return -1;
	}
	for (k = 0; k < NITEMS(stores); k++) {
		if (!(r->only & (1u << k)))
			continue;
		fprintf(stderr, "storecmp: %-7s recovery of %lu records\n",
		    stores[k].name, r->nrecover);
		r->rec[r->nrec].ops = &stores[k];
		if (run_recovery(r, &r->rec[r->nrec++]) == -1)
			return -1;
	}
	return 0;
}

static int
parse_only(struct run *r, char *list)
{
	char	*name;
	size_t	 k;

	r->only = 0;
	while ((name = strsep(&list, ",")) != NULL) {
		for (k = 0; k < NITEMS(stores); k++)
			if (strcmp(name, stores[k].name) == 0)
				break;
		if (k == NITEMS(stores))
			return -1;
		r->only |= 1u << k;
	}
	return 0;
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: commis-storecmp [-d dir] [-n records] "
	    "[-o file.json] [-r rounds]\n"
	    "    [-s journal,sqlite,lmdb] [-t seconds]\n");
	exit(2);
}

/* Fills in the run's defaults and options; returns the parent dir. */
static const char *
parse_args(struct run *r, int argc, char **argv)
{
	const char	*dir;
	char		*end;
	int		 ch;

	r->basefd = -1;
	r->budget = STORECMP_BUDGET;
	r->rounds = STORECMP_ROUNDS;
	r->nrecover = STORECMP_RECOVER;
	r->only = (1u << NITEMS(stores)) - 1;
	if ((dir = getenv("TMPDIR")) == NULL || *dir == '\0')
		dir = "/tmp";
	while ((ch = getopt(argc, argv, "d:hn:o:r:s:t:")) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'n':
			r->nrecover = strtoul(optarg, &end, 10);
			if (*end != '\0' || r->nrecover == 0)
				usage();
			break;
		case 'o':
			r->json = optarg;
			break;
		case 'r':
			r->rounds = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || r->rounds < 1 ||
			    r->rounds > STORECMP_MAXROUNDS)
				usage();
			break;
		case 's':
			if (parse_only(r, optarg) == -1)
				usage();
			break;
		case 't':
			r->budget = strtod(optarg, &end);
			if (*end != '\0' || !(r->budget > 0))
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	return dir;
}

static void
print_header(struct run *r)
{
	printf("commis-storecmp: %s in %s (%s, magic 0x%lx)\n", r->kernel,
	    r->base, r->fs, r->fsmagic);
	printf("cpu: %s, %ld online\n", r->cpu, r->cpus);
	printf("sqlite %s, lmdb %d.%d.%d, zlib %s\n", sqlite3_libversion(),
	    MDB_VERSION_MAJOR, MDB_VERSION_MINOR, MDB_VERSION_PATCH,
	    zlibVersion());
	printf("each pass: %.2f s or %lu records or %lu MiB of payload, "
	    "whichever first; median of %d rounds\n", r->budget,
	    STORECMP_MAXRECS, STORECMP_MAXBYTES >> 20, r->rounds);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct run		 r;
	struct sigaction	 sa;
	const char		*dir;
	double			 t0;
	size_t			 i;
	int			 rc;

	memset(&r, 0, sizeof r);
	dir = parse_args(&r, argc, argv);
	/* Payloads that no store could shrink. */
	srandom(1);
	for (i = 0; i < sizeof r.payload; i++)
		r.payload[i] = random() & 0xff;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	snprintf(r.base, sizeof r.base, "%s/commis-storecmp.XXXXXX", dir);
	if (mkdtemp(r.base) == NULL) {
		fprintf(stderr, "commis-storecmp: %s: %s\n", r.base,
		    strerror(errno));
		return 1;
	}
	r.basefd = open(r.base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	machine(&r);
	print_header(&r);

	t0 = now();
	rc = r.basefd == -1 ? run_err(&r, "%s: %s", r.base, strerror(errno)) :
	    run_all(&r);
	r.wall = now() - t0;
	if (rc == 0) {
		print_table(&r);
		printf("\nwall %.1f s\n", r.wall);
		if (r.json != NULL)
			rc = write_json(&r);
	}
	if (r.basefd != -1)
		close(r.basefd);
	dir_walk(r.base, 0);
	if (rc == -1) {
		fprintf(stderr, "commis-storecmp: %s\n", r.err);
		return 1;
	}
	return 0;
}
