/*
 * The journal file (src/journal.c): records come back as written; a
 * torn tail, cut at every byte offset of the last record, is detected and
 * cut off with every whole record before it kept; a corrupt record ends
 * the replay there; a write that fails (the file size limit standing in
 * for a full disk) leaves only whole, committed records; compaction
 * replaces the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "testlib.h"

#define NREC	40

struct got {
	unsigned	 n;
	uint8_t		 type[NREC * 2];
	size_t		 len[NREC * 2];
	uint32_t	 sum[NREC * 2];
};

static uint32_t
sum(const uint8_t *p, size_t n)
{
	uint32_t	s = 2166136261u;
	size_t		i;

	for (i = 0; i < n; i++)
		s = (s ^ p[i]) * 16777619u;
	return s;
}

static int
collect(uint8_t type, const uint8_t *p, size_t n, void *arg)
{
	struct got	*g = arg;

	if (g->n >= NREC * 2)
		return 1;
	g->type[g->n] = type;
	g->len[g->n] = n;
	g->sum[g->n] = sum(p, n);
	g->n++;
	return 0;
}

/* Record i: type 1 + i % 3, i * 37 % 3000 bytes of a pattern. */
static size_t
rec(unsigned i, uint8_t *buf)
{
	size_t	n = (size_t)i * 37 % 3000, k;

	for (k = 0; k < n; k++)
		buf[k] = (uint8_t)(i * 7 + k);
	return n;
}

static void
check_recs(const struct got *g, unsigned n)
{
	uint8_t		buf[3000];
	unsigned	i;
	size_t		len;

	ck_assert_uint_eq(g->n, n);
	for (i = 0; i < n; i++) {
		len = rec(i, buf);
		ck_assert_uint_eq(g->type[i], 1 + i % 3);
		ck_assert_uint_eq(g->len[i], len);
		ck_assert_uint_eq(g->sum[i], sum(buf, len));
	}
}

/* Writes n records, committing every 7; returns the offset of the last
 * record's start. */
static uint64_t
write_recs(const char *path, unsigned n)
{
	struct journal	*j;
	struct got	 g = { 0 };
	uint8_t		 buf[3000];
	uint64_t	 cut, last = 0;
	char		 err[256];
	unsigned	 i;

	ck_assert_ptr_nonnull(j = journal_open(path, collect, &g, &cut, err,
	    sizeof err));
	for (i = 0; i < n; i++) {
		if (i == n - 1) {
			ck_assert_int_eq(journal_commit(j, 1), 0);
			last = journal_size(j);
		}
		ck_assert_int_eq(journal_add(j, (uint8_t)(1 + i % 3), buf,
		    rec(i, buf)), 0);
		if (i % 7 == 6)
			ck_assert_int_eq(journal_commit(j, 0), 0);
	}
	ck_assert_int_eq(journal_commit(j, 1), 0);
	journal_close(j);
	return last;
}

static off_t
file_size(const char *path)
{
	struct stat	st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

START_TEST(test_journal_roundtrip)
{
	struct journal	*j;
	struct got	 g = { 0 };
	char		*dir = test_tmpdir(), path[512], err[256];
	uint64_t	 cut;

	snprintf(path, sizeof path, "%s/j", dir);
	write_recs(path, NREC);
	ck_assert_ptr_nonnull(j = journal_open(path, collect, &g, &cut, err,
	    sizeof err));
	ck_assert_uint_eq(cut, 0);
	check_recs(&g, NREC);
	ck_assert_uint_eq(journal_size(j), (uint64_t)file_size(path));
	journal_close(j);
	test_rmdir(dir);
	free(dir);
}
END_TEST

/* The file cut at every byte offset of its last record, as a crash in
 * the middle of a write leaves it: replay keeps the NREC - 1 before it,
 * reports the cut, and leaves the file at the last whole record. */
START_TEST(test_journal_torn_tail)
{
	struct journal	*j;
	struct got	 g;
	char		*dir = test_tmpdir(), path[512], torn[600], err[256];
	uint8_t		*all;
	uint64_t	 last, cut, off;
	off_t		 size;
	int		 fd;

	snprintf(path, sizeof path, "%s/j", dir);
	snprintf(torn, sizeof torn, "%s.torn", path);
	last = write_recs(path, NREC);
	size = file_size(path);
	ck_assert_uint_gt((uint64_t)size, last + JOURNAL_HDR_LEN);
	ck_assert_ptr_nonnull(all = malloc((size_t)size));
	ck_assert_int_ne(fd = open(path, O_RDONLY), -1);
	ck_assert_int_eq(read(fd, all, (size_t)size), size);
	close(fd);
	for (off = last; off < (uint64_t)size; off++) {
		ck_assert_int_ne(fd = open(torn, O_WRONLY | O_CREAT | O_TRUNC,
		    0600), -1);
		ck_assert_int_eq(write(fd, all, off), (ssize_t)off);
		close(fd);
		memset(&g, 0, sizeof g);
		ck_assert_ptr_nonnull(j = journal_open(torn, collect, &g, &cut,
		    err, sizeof err));
		check_recs(&g, NREC - 1);
		ck_assert_uint_eq(cut, off - last);
		ck_assert_uint_eq(journal_size(j), last);
		ck_assert_int_eq(file_size(torn), (off_t)last);
		journal_close(j);
	}
	/* A flipped byte in the last record's body: its CRC fails. */
	all[size - 1] ^= 0x40;
	ck_assert_int_ne(fd = open(torn, O_WRONLY | O_CREAT | O_TRUNC, 0600),
	    -1);
	ck_assert_int_eq(write(fd, all, (size_t)size), size);
	close(fd);
	memset(&g, 0, sizeof g);
	ck_assert_ptr_nonnull(j = journal_open(torn, collect, &g, &cut, err,
	    sizeof err));
	check_recs(&g, NREC - 1);
	ck_assert_uint_eq(cut, (uint64_t)size - last);
	journal_close(j);
	free(all);
	test_rmdir(dir);
	free(dir);
}
END_TEST

/*
 * A write that fails part-way: RLIMIT_FSIZE stands in for a full disk
 * (writes past it fail with EFBIG; SIGXFSZ is ignored, as commisd does).
 * The failed commit leaves the file at its last committed size, and the
 * journal goes on once there is room again.
 */
START_TEST(test_journal_full)
{
	struct journal	*j;
	struct got	 g = { 0 };
	struct rlimit	 rl, old;
	char		*dir = test_tmpdir(), path[512], err[256];
	uint8_t		 buf[3000];
	uint64_t	 cut, at;
	unsigned	 i;

	signal(SIGXFSZ, SIG_IGN);
	snprintf(path, sizeof path, "%s/j", dir);
	ck_assert_ptr_nonnull(j = journal_open(path, collect, &g, &cut, err,
	    sizeof err));
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(journal_add(j, (uint8_t)(1 + i % 3), buf,
		    rec(i, buf)), 0);
	ck_assert_int_eq(journal_commit(j, 1), 0);
	at = journal_size(j);

	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl = old;
	rl.rlim_cur = at + 1000;	/* room for part of what follows */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	for (i = 10; i < 20; i++)
		ck_assert_int_eq(journal_add(j, (uint8_t)(1 + i % 3), buf,
		    rec(i, buf)), 0);
	ck_assert_int_eq(journal_commit(j, 1), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_uint_eq(journal_pending(j), 0);
	ck_assert_uint_eq(journal_size(j), at);
	ck_assert_int_eq(file_size(path), (off_t)at);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);

	/* Room again: records 10.. go in after the committed ones. */
	for (i = 10; i < NREC; i++)
		ck_assert_int_eq(journal_add(j, (uint8_t)(1 + i % 3), buf,
		    rec(i, buf)), 0);
	ck_assert_int_eq(journal_commit(j, 1), 0);
	journal_close(j);
	memset(&g, 0, sizeof g);
	ck_assert_ptr_nonnull(j = journal_open(path, collect, &g, &cut, err,
	    sizeof err));
	ck_assert_uint_eq(cut, 0);
	check_recs(&g, NREC);
	journal_close(j);
	test_rmdir(dir);
	free(dir);
}
END_TEST

/* Compaction: a fresh file with what is still live replaces the old
 * one; the old handle goes on appending to it. */
START_TEST(test_journal_rewrite)
{
	struct journal	*j, *n;
	struct got	 g = { 0 };
	char		*dir = test_tmpdir(), path[512], newp[600], err[256];
	uint8_t		 buf[3000];
	uint64_t	 cut;
	unsigned	 i;

	snprintf(path, sizeof path, "%s/j", dir);
	snprintf(newp, sizeof newp, "%s.new", path);
	write_recs(path, NREC);
	ck_assert_ptr_nonnull(j = journal_open(path, collect, &g, &cut, err,
	    sizeof err));
	ck_assert_ptr_nonnull(n = journal_rewrite_begin(j, err, sizeof err));
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(journal_add(n, (uint8_t)(1 + i % 3), buf,
		    rec(i, buf)), 0);
	ck_assert_int_eq(journal_rewrite_end(j, n, err, sizeof err), 0);
	ck_assert_int_eq(access(newp, F_OK), -1);
	for (i = 5; i < 8; i++)
		ck_assert_int_eq(journal_add(j, (uint8_t)(1 + i % 3), buf,
		    rec(i, buf)), 0);
	ck_assert_int_eq(journal_commit(j, 1), 0);
	ck_assert_uint_eq(journal_size(j), (uint64_t)file_size(path));
	journal_close(j);
	memset(&g, 0, sizeof g);
	ck_assert_ptr_nonnull(j = journal_open(path, collect, &g, &cut, err,
	    sizeof err));
	check_recs(&g, 8);
	journal_close(j);

	/* An aborted rewrite leaves the journal as it was. */
	memset(&g, 0, sizeof g);
	ck_assert_ptr_nonnull(j = journal_open(path, collect, &g, &cut, err,
	    sizeof err));
	ck_assert_ptr_nonnull(n = journal_rewrite_begin(j, err, sizeof err));
	journal_rewrite_abort(n);
	ck_assert_int_eq(access(newp, F_OK), -1);
	journal_close(j);
	memset(&g, 0, sizeof g);
	ck_assert_ptr_nonnull(j = journal_open(path, collect, &g, &cut, err,
	    sizeof err));
	check_recs(&g, 8);
	journal_close(j);
	test_rmdir(dir);
	free(dir);
}
END_TEST

Suite *
journal_suite(void)
{
	Suite	*s = suite_create("journal");
	TCase	*tc = tcase_create("file");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_journal_roundtrip);
	tcase_add_test(tc, test_journal_torn_tail);
	tcase_add_test(tc, test_journal_full);
	tcase_add_test(tc, test_journal_rewrite);
	suite_add_tcase(s, tc);
	return s;
}
