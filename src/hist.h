/*
 * Latency histograms, HDR-histogram style: log-linear buckets over
 * microseconds with bounded relative error and a fixed size, and a
 * windowed variant that also answers for the last minute.
 */
#ifndef COMMIS_HIST_H
#define COMMIS_HIST_H

#include <stddef.h>
#include <stdint.h>

/* Values are microseconds, 0 .. HIST_MAX_US; larger ones count as max. */
#define HIST_MAX_US	(3600ULL * 1000 * 1000)

struct hist;

struct hist	*hist_new(void);
void		 hist_free(struct hist *);
void		 hist_reset(struct hist *);
void		 hist_add(struct hist *, uint64_t us);
/* Adds every count of src to dst. */
void		 hist_merge(struct hist *dst, const struct hist *src);
uint64_t	 hist_count(const struct hist *);
uint64_t	 hist_sum(const struct hist *);		/* of the values */
uint64_t	 hist_max(const struct hist *);
/* The value at quantile q (0..1): the upper bound of its bucket, within
 * the histogram's relative error; 0 when empty. */
uint64_t	 hist_quantile(const struct hist *, double q);
/*
 * Cumulative counts at a fixed list of upper bounds (microseconds), for
 * Prometheus buckets: fills counts[i] with the number of values <=
 * bounds[i]. The bounds are the caller's.
 */
void		 hist_cumulative(const struct hist *, const uint64_t *bounds,
		    size_t n, uint64_t *counts);

/* A histogram of the whole run plus one of the last minute (a ring of
 * 10-second slots). */
struct histw;

struct histw	*histw_new(void);
void		 histw_free(struct histw *);
void		 histw_add(struct histw *, uint64_t us, uint64_t now_ns);
const struct hist *histw_total(const struct histw *);
/* The last 60 s as of now_ns, merged into out (reset first). */
void		 histw_recent(const struct histw *, uint64_t now_ns,
		    struct hist *out);

#endif
