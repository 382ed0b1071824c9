/*
 * Idempotency keys: (uid, key) -> the id of the job first submitted with
 * them, remembered for idempotency_ttl_ms and at most idempotency_max,
 * the oldest forgotten first. Times are wall-clock nanoseconds, so that
 * the keys of durable pools keep their age across a restart.
 */
#ifndef COMMIS_IDEM_H
#define COMMIS_IDEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The longest key a client may attach (bytes, without the NUL). */
#define IDEM_KEY_MAX	128

struct idem;

struct idem	*idem_new(void);
void		 idem_free(struct idem *);
/* The job id for (uid, key), or 0. */
uint64_t	 idem_get(struct idem *, uid_t, const char *key);
/* Remembers (uid, key) -> job_id of pool, made at at_ns (wall clock);
 * replaces an older one. -1 when out of memory. */
int		 idem_put(struct idem *, uid_t, const char *key,
		    uint64_t job_id, const char *pool, uint64_t at_ns);
/* Forgets keys older than ttl_ms (0: all) and the oldest beyond max. */
void		 idem_expire(struct idem *, uint64_t now_ns, uint32_t ttl_ms,
		    uint32_t max);
/* Forgets the keys of a job that was never accepted (a linear scan). */
void		 idem_forget(struct idem *, uint64_t job_id);
size_t		 idem_count(const struct idem *);
/* Calls fn for each key of pool, oldest first. */
void		 idem_foreach(struct idem *, const char *pool,
		    void (*fn)(uid_t, const char *key, uint64_t job_id,
		    uint64_t at_ns, void *), void *arg);

#endif
