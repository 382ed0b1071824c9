/*
 * Bulk data, inline against segments: echo jobs from 4 KiB to 256 MiB sent
 * inline (commis_submit_wait), as a memfd handed over as it is
 * (commis_submit_fd) and copied into a fresh segment (commis_submit_copy),
 * next to a memcpy of the same size, and the size where a segment starts
 * to beat inline. Needs the inline limits benchd_write_conf sets.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

enum bench_way {
	BENCH_INLINE,		/* commis_submit_wait: copied inline */
	BENCH_HANDOFF,		/* commis_submit_fd of a filled memfd */
	BENCH_COPY,		/* commis_submit_copy: into a new segment */
};

static const char *const bench_way_names[] = {
	[BENCH_INLINE] = "inline echo",
	[BENCH_HANDOFF] = "segment handoff",
	[BENCH_COPY] = "submit_copy",
};

/* A bulk size: its timed runs (cut by -q), section and JSON keys. */
struct bench_bulk {
	size_t		 size;
	unsigned	 runs;
	const char	*section;
	const char	*k_memcpy, *k_inline, *k_handoff, *k_copy, *k_pct;
};

#define BENCH_BULK(mib, runs, t)					\
	{ (size_t)(mib) << 20, runs, "bulk " #mib " MiB, p50",		\
	  "bulk_" t "_memcpy_ms", "bulk_" t "_inline_ms",		\
	  "bulk_" t "_handoff_us", "bulk_" t "_copy_ms",		\
	  "bulk_" t "_handoff_memcpy_pct" }

static const struct bench_bulk bench_bulks[] = {
	BENCH_BULK(1, 30, "1m"),
	BENCH_BULK(16, 10, "16m"),
	BENCH_BULK(64, 10, "64m"),
	BENCH_BULK(256, 5, "256m"),
};

/* A crossover size: inline against submit_copy. */
struct bench_xover {
	size_t		 size;
	unsigned	 runs;
	const char	*s_inline, *s_copy, *k_inline, *k_copy;
};

#define BENCH_XOVER(kib, runs, label, t)				\
	{ (size_t)(kib) << 10, runs, label " inline", label " copy",	\
	  "xover_" t "_inline_us", "xover_" t "_copy_us" }

static const struct bench_xover bench_xovers[] = {
	BENCH_XOVER(4, 200, "4 KiB", "4k"),
	BENCH_XOVER(16, 200, "16 KiB", "16k"),
	BENCH_XOVER(64, 200, "64 KiB", "64k"),
	BENCH_XOVER(256, 50, "256 KiB", "256k"),
	BENCH_XOVER(1024, 50, "1 MiB", "1m"),
	BENCH_XOVER(4096, 20, "4 MiB", "4m"),
};

static uint8_t *
bench_pattern(size_t size)
{
	uint8_t	*p;
	size_t	 i;

	if ((p = malloc(size)) == NULL)
		return NULL;
	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 31 + 7);
	return p;
}

/* A memfd holding src, unsealed and unmapped: commis_submit_fd seals it. */
static int
bench_memfd(struct bench *b, const uint8_t *src, size_t size)
{
	size_t	off = 0;
	ssize_t	n;
	int	fd;

	if ((fd = memfd_create("commis-bench", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1)
		return bench_err(b, "memfd_create: %s", strerror(errno));
	while (off < size) {
		if ((n = write(fd, src + off, size - off)) == -1) {
			if (errno == EINTR)
				continue;
			bench_err(b, "memfd write: %s", strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return fd;
}

/* The handoff must be the same segment coming back, not a copy of it. */
static int
bench_same_seg(struct bench *b, int fd, const struct commis_result *r)
{
	struct stat	in, out;

	if (!r->output_mapped || fstat(fd, &in) == -1 ||
	    fstat(r->output_fd, &out) == -1)
		return bench_err(b, "segment handoff: no segment came back");
	if (in.st_dev != out.st_dev || in.st_ino != out.st_ino)
		return bench_err(b, "segment handoff: echo returned a copy, "
		    "not the segment it was given");
	return 0;
}

/*
 * The p50 in ns of runs echo jobs of size bytes sent one way, after one
 * untimed run whose output is compared with src. The timed runs never
 * touch the output: a segment result is only mapped (by libcommis).
 */
static int
bench_way(struct bench *b, enum bench_way way, const uint8_t *src, int fd,
    size_t size, unsigned runs, uint64_t *p50)
{
	struct commis_submit_opts	 o = { .pool = BENCH_POOL };
	struct commis_result		 r;
	const char			*what = bench_way_names[way];
	uint64_t			*v, t0, t1;
	unsigned			 i;
	int				 rc = 0;

	if ((v = calloc(runs, sizeof *v)) == NULL)
		return bench_err(b, "out of memory");
	for (i = 0; i < runs + 1 && rc == 0; i++) {
		t0 = bench_now_ns();
		if (way == BENCH_INLINE)
			rc = commis_submit_wait(b->cl, "echo", src, size, &o,
			    &r);
		else if (way == BENCH_HANDOFF)
			rc = commis_submit_fd(b->cl, "echo", fd, &o, &r);
		else
			rc = commis_submit_copy(b->cl, "echo", src, size, &o,
			    &r);
		t1 = bench_now_ns();
		rc = bench_job_ok(b, b->cl, what, rc, &r, size);
		if (rc == 0 && way == BENCH_INLINE && r.output_mapped)
			rc = bench_err(b, "%s: the result came as a segment "
			    "(segment_threshold too low)", what);
		if (rc == 0 && way != BENCH_INLINE && !r.output_mapped)
			rc = bench_err(b, "%s: the result came inline", what);
		if (rc == 0 && way == BENCH_HANDOFF)
			rc = bench_same_seg(b, fd, &r);
		if (rc == 0 && i == 0 && memcmp(r.output, src, size) != 0)
			rc = bench_err(b, "%s: output differs from input",
			    what);
		commis_result_free(&r);
		if (i > 0)
			v[i - 1] = t1 - t0;
	}
	if (rc == 0) {
		qsort(v, runs, sizeof *v, bench_cmp_u64);
		*p50 = bench_pct(v, runs, 0.50);
	}
	free(v);
	return rc;
}

/* memcpy of size bytes between touched buffers: p50 in ns. */
static int
bench_memcpy_ns(struct bench *b, const uint8_t *src, size_t size,
    unsigned runs, uint64_t *p50)
{
	uint8_t		*dst;
	uint64_t	*v, t0;
	unsigned	 i;

	dst = malloc(size);
	v = calloc(runs + 1, sizeof *v);
	if (dst == NULL || v == NULL) {
		free(dst);
		free(v);
		return bench_err(b, "out of memory");
	}
	memset(dst, 0x5a, size);
	for (i = 0; i < runs + 1; i++) {
		t0 = bench_now_ns();
		memcpy(dst, src, size);
		__asm__ __volatile__("" : : "r"(dst) : "memory");
		v[i] = bench_now_ns() - t0;
	}
	/* v[0] was the warm-up. */
	qsort(v + 1, runs, sizeof *v, bench_cmp_u64);
	*p50 = bench_pct(v + 1, runs, 0.50);
	free(dst);
	free(v);
	return 0;
}

/* One bulk size: memcpy, inline, handoff, copy, all in this run. */
static int
bench_bulk_one(struct bench *b, const struct bench_bulk *k)
{
	unsigned	 runs = bench_count(b, k->runs);
	uint64_t	 t_memcpy = 0, t_inline = 0, t_handoff = 0, t_copy = 0;
	uint8_t		*src;
	int		 fd, rc;

	if ((src = bench_pattern(k->size)) == NULL)
		return bench_err(b, "out of memory");
	if ((fd = bench_memfd(b, src, k->size)) == -1) {
		free(src);
		return -1;
	}
	rc = bench_memcpy_ns(b, src, k->size, runs, &t_memcpy);
	if (rc == 0)
		rc = bench_way(b, BENCH_INLINE, src, -1, k->size, runs,
		    &t_inline);
	if (rc == 0)
		rc = bench_way(b, BENCH_HANDOFF, src, fd, k->size, runs,
		    &t_handoff);
	if (rc == 0)
		rc = bench_way(b, BENCH_COPY, src, -1, k->size, runs, &t_copy);
	if (rc == 0) {
		bench_row(b, k->section, "memcpy", k->k_memcpy,
		    (double)t_memcpy / 1e6, "ms");
		bench_row(b, k->section, "inline echo", k->k_inline,
		    (double)t_inline / 1e6, "ms");
		bench_row(b, k->section, "segment handoff", k->k_handoff,
		    (double)t_handoff / 1e3, "us");
		bench_row(b, k->section, "submit_copy", k->k_copy,
		    (double)t_copy / 1e6, "ms");
		bench_row(b, k->section, "handoff/memcpy", k->k_pct,
		    100.0 * (double)t_handoff / (double)t_memcpy, "%");
	}
	close(fd);
	free(src);
	return rc;
}

/*
 * Inline against submit_copy from 4 KiB to 4 MiB; the crossover is the
 * smallest size where the copy into a segment wins (0: none does).
 */
static int
bench_crossover(struct bench *b)
{
	const char	*sec = "inline vs segment, p50";
	const struct bench_xover *k;
	uint64_t	 t_inline = 0, t_copy = 0;
	uint8_t		*src;
	size_t		 i, cross = 0;
	int		 rc = 0;

	if ((src = bench_pattern(bench_xovers[BENCH_NITEMS(bench_xovers) -
	    1].size)) == NULL)
		return bench_err(b, "out of memory");
	for (i = 0; i < BENCH_NITEMS(bench_xovers) && rc == 0; i++) {
		k = &bench_xovers[i];
		rc = bench_way(b, BENCH_INLINE, src, -1, k->size,
		    bench_count(b, k->runs), &t_inline);
		if (rc == 0)
			rc = bench_way(b, BENCH_COPY, src, -1, k->size,
			    bench_count(b, k->runs), &t_copy);
		if (rc != 0)
			break;
		bench_row(b, sec, k->s_inline, k->k_inline,
		    (double)t_inline / 1e3, "us");
		bench_row(b, sec, k->s_copy, k->k_copy, (double)t_copy / 1e3,
		    "us");
		if (cross == 0 && t_copy < t_inline)
			cross = k->size;
	}
	if (rc == 0)
		bench_row(b, sec, "crossover", "crossover_bytes",
		    (double)cross, "B");
	free(src);
	return rc;
}

/* The crossover, then each bulk size. */
int
bench_bulk(struct bench *b)
{
	size_t	i;

	if (bench_crossover(b) == -1)
		return -1;
	for (i = 0; i < BENCH_NITEMS(bench_bulks); i++) {
		if (bench_bulk_one(b, &bench_bulks[i]) == -1)
			return -1;
	}
	return 0;
}
