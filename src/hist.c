/*
 * Latency histograms, HDR-histogram style. Values are microseconds; values
 * 0..63 have a bucket each, and every power-of-two range [2^m, 2^(m+1))
 * above is split into 64 linear sub-buckets of width 2^(m-6), so a bucket's
 * bounds are within 1/64 (1.6%) of any value in it. Adding a value is a
 * count-leading-zeros and an increment; nothing is allocated after
 * hist_new. This module knows nothing of pools, jobs or clocks: callers
 * pass the time (histw) and say what the values measure.
 */
#include <stdlib.h>
#include <string.h>

#include "hist.h"

#define HIST_SUB_BITS	6
#define HIST_SUB	(1u << HIST_SUB_BITS)		/* 64 */
/*
 * HIST_MAX_US (3.6e9) < 2^32: ranges m = 6..31 above the first 64 values,
 * 64 + 26 * 64 = 1728 buckets. One struct hist is 1728 * 8 + 3 * 8 =
 * 13848 bytes (13.5 KiB); a histw is 7 of them plus 6 slot times, 96.9 KiB.
 */
#define HIST_MAX_MSB	31
#define HIST_NBUCKETS	(HIST_SUB * (HIST_MAX_MSB - HIST_SUB_BITS + 2))

struct hist {
	uint64_t	count;
	uint64_t	sum;
	uint64_t	max;
	uint64_t	b[HIST_NBUCKETS];
};

_Static_assert(HIST_MAX_US < (1ULL << (HIST_MAX_MSB + 1)),
    "HIST_MAX_US must fit the top range");
_Static_assert(sizeof(struct hist) <= 16 * 1024, "a hist is over 16 KiB");

static unsigned
hist_index(uint64_t v)
{
	unsigned	msb;

	if (v < HIST_SUB)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return HIST_SUB * (msb - HIST_SUB_BITS + 1) +
	    (unsigned)((v >> (msb - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

/* The smallest value of bucket i. */
static uint64_t
hist_lower(unsigned i)
{
	unsigned	range = i / HIST_SUB, sub = i % HIST_SUB;

	if (range == 0)
		return sub;
	return (uint64_t)(HIST_SUB + sub) << (range - 1);
}

/* The largest value of bucket i. */
static uint64_t
hist_upper(unsigned i)
{
	unsigned	range = i / HIST_SUB;

	return hist_lower(i) + (range == 0 ? 0 : (1ULL << (range - 1)) - 1);
}

struct hist *
hist_new(void)
{
	return calloc(1, sizeof(struct hist));
}

void
hist_free(struct hist *h)
{
	free(h);
}

void
hist_reset(struct hist *h)
{
	memset(h, 0, sizeof *h);
}

void
hist_add(struct hist *h, uint64_t us)
{
	if (us > HIST_MAX_US)
		us = HIST_MAX_US;
	h->b[hist_index(us)]++;
	h->count++;
	h->sum += us;
	if (us > h->max)
		h->max = us;
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned	i;

	if (src->count == 0)
		return;
	for (i = 0; i < HIST_NBUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
hist_count(const struct hist *h)
{
	return h->count;
}

uint64_t
hist_sum(const struct hist *h)
{
	return h->sum;
}

uint64_t
hist_max(const struct hist *h)
{
	return h->max;
}

/* Nearest rank: the smallest value with at least ceil(q * count) values
 * at or below it, reported as its bucket's upper bound. */
uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t	rank, seen = 0, up;
	double		r;
	unsigned	i;

	if (h->count == 0)
		return 0;
	if (!(q > 0))			/* also NaN */
		q = 0;
	if (q > 1)
		q = 1;
	r = q * (double)h->count;
	rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank == 0)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (i = 0; i < HIST_NBUCKETS; i++) {
		if ((seen += h->b[i]) >= rank)
			break;
	}
	up = hist_upper(i < HIST_NBUCKETS ? i : HIST_NBUCKETS - 1);
	return up < h->max ? up : h->max;
}

/*
 * A bucket counts as <= bound when its smallest value is: values within
 * the histogram's resolution of a bound are taken as equal to it (as
 * HdrHistogram does), so a count may include values up to 1.6% above it.
 * Bounds below 128 us, and bounds one less than a bucket edge, are exact.
 */
void
hist_cumulative(const struct hist *h, const uint64_t *bounds, size_t n,
    uint64_t *counts)
{
	uint64_t	cum;
	unsigned	i, last;
	size_t		k;

	for (k = 0; k < n; k++) {
		if (bounds[k] >= h->max) {
			counts[k] = h->count;
			continue;
		}
		last = hist_index(bounds[k]);
		for (cum = 0, i = 0; i <= last; i++)
			cum += h->b[i];
		counts[k] = cum;
	}
}

/* Windowed: slot s holds the values of one 10-second period. */
#define HISTW_SLOTS	6
#define HISTW_SLOT_NS	(10ULL * 1000 * 1000 * 1000)
#define HISTW_NONE	UINT64_MAX

struct histw {
	struct hist	total;
	struct hist	slot[HISTW_SLOTS];
	uint64_t	period[HISTW_SLOTS];	/* now_ns / 10 s, or NONE */
};

struct histw *
histw_new(void)
{
	struct histw	*w;
	unsigned	 i;

	if ((w = calloc(1, sizeof *w)) == NULL)
		return NULL;
	for (i = 0; i < HISTW_SLOTS; i++)
		w->period[i] = HISTW_NONE;
	return w;
}

void
histw_free(struct histw *w)
{
	free(w);
}

void
histw_add(struct histw *w, uint64_t us, uint64_t now_ns)
{
	uint64_t	 period = now_ns / HISTW_SLOT_NS;
	unsigned	 s = (unsigned)(period % HISTW_SLOTS);

	/*
	 * A slot last used for an older period is stale: clear it. One used
	 * for a newer one (only if a caller's clock went back) keeps its
	 * values, and this one joins them rather than be lost.
	 */
	if (w->period[s] == HISTW_NONE || w->period[s] < period) {
		hist_reset(&w->slot[s]);
		w->period[s] = period;
	}
	hist_add(&w->slot[s], us);
	hist_add(&w->total, us);
}

const struct hist *
histw_total(const struct histw *w)
{
	return &w->total;
}

/* The current period and the five before it: the last 50 to 60 s. */
void
histw_recent(const struct histw *w, uint64_t now_ns, struct hist *out)
{
	uint64_t	period = now_ns / HISTW_SLOT_NS;
	unsigned	i;

	hist_reset(out);
	for (i = 0; i < HISTW_SLOTS; i++) {
		if (w->period[i] == HISTW_NONE || w->period[i] > period ||
		    period - w->period[i] >= HISTW_SLOTS)
			continue;
		hist_merge(out, &w->slot[i]);
	}
}
