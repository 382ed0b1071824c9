/*
 * Idempotency keys: a hash of (uid, key) in an idmap, each bucket a short
 * chain of entries compared in full, and every entry on one list in the
 * order it was made, so that expiry takes the oldest first.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "commis/proto.h"
#include "idem.h"
#include "idmap.h"

struct idem_ent {
	struct idem_ent		*next;		/* same hash */
	TAILQ_ENTRY(idem_ent)	 age;
	uint64_t		 hash;
	uid_t			 uid;
	uint64_t		 job_id;
	uint64_t		 at_ns;
	char			 pool[COMMIS_NAME_MAX];
	char			 key[];
};
TAILQ_HEAD(idem_list, idem_ent);

struct idem {
	struct idmap		 map;		/* hash -> first entry */
	struct idem_list	 all;		/* oldest first */
	size_t			 n;
};

/* FNV-1a over the uid and the key; never 0 (idmap's empty key). */
static uint64_t
idem_hash(uid_t uid, const char *key)
{
	uint64_t	h = 14695981039346656037ULL;
	size_t		i;

	for (i = 0; i < sizeof uid; i++)
		h = (h ^ ((uint64_t)uid >> (8 * i) & 0xff)) * 1099511628211ULL;
	for (; *key != '\0'; key++)
		h = (h ^ (uint8_t)*key) * 1099511628211ULL;
	return h | 1;
}

struct idem *
idem_new(void)
{
	struct idem	*m;

	if ((m = calloc(1, sizeof *m)) == NULL)
		return NULL;
	idmap_init(&m->map);
	TAILQ_INIT(&m->all);
	return m;
}

static struct idem_ent *
idem_find(struct idem *m, uint64_t h, uid_t uid, const char *key)
{
	struct idem_ent	*e;

	for (e = idmap_get(&m->map, h); e != NULL; e = e->next) {
		if (e->uid == uid && strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

/* Takes e out of its chain and the age list, and frees it. */
static void
idem_drop(struct idem *m, struct idem_ent *e)
{
	struct idem_ent	*first = idmap_get(&m->map, e->hash), **pp;

	if (first == e) {
		idmap_del(&m->map, e->hash);
		/* The rest of the chain keeps the slot (no allocation
		 * when the table shrinks: idmap never does). */
		if (e->next != NULL)
			idmap_put(&m->map, e->hash, e->next);
	} else {
		for (pp = &first->next; *pp != e; pp = &(*pp)->next)
			;
		*pp = e->next;
	}
	TAILQ_REMOVE(&m->all, e, age);
	m->n--;
	free(e);
}

void
idem_free(struct idem *m)
{
	struct idem_ent	*e;

	if (m == NULL)
		return;
	while ((e = TAILQ_FIRST(&m->all)) != NULL) {
		TAILQ_REMOVE(&m->all, e, age);
		free(e);
	}
	idmap_free(&m->map);
	free(m);
}

uint64_t
idem_get(struct idem *m, uid_t uid, const char *key)
{
	struct idem_ent	*e = idem_find(m, idem_hash(uid, key), uid, key);

	return e != NULL ? e->job_id : 0;
}

int
idem_put(struct idem *m, uid_t uid, const char *key, uint64_t job_id,
    const char *pool, uint64_t at_ns)
{
	struct idem_ent	*e, *old;
	uint64_t	 h = idem_hash(uid, key);
	size_t		 len = strlen(key);

	if (len > IDEM_KEY_MAX)
		return -1;
	if ((old = idem_find(m, h, uid, key)) != NULL)
		idem_drop(m, old);
	if ((e = calloc(1, sizeof *e + len + 1)) == NULL)
		return -1;
	e->hash = h;
	e->uid = uid;
	e->job_id = job_id;
	e->at_ns = at_ns;
	memcpy(e->key, key, len + 1);
	strncpy(e->pool, pool, sizeof e->pool - 1);
	e->next = idmap_get(&m->map, h);
	if (e->next != NULL)
		idmap_del(&m->map, h);
	if (idmap_put(&m->map, h, e) == -1) {
		if (e->next != NULL)
			idmap_put(&m->map, h, e->next);
		free(e);
		return -1;
	}
	TAILQ_INSERT_TAIL(&m->all, e, age);
	m->n++;
	return 0;
}

void
idem_expire(struct idem *m, uint64_t now_ns, uint32_t ttl_ms, uint32_t max)
{
	struct idem_ent	*e;
	uint64_t	 ttl = (uint64_t)ttl_ms * 1000000u;

	while ((e = TAILQ_FIRST(&m->all)) != NULL) {
		/* A clock set back leaves the key its age so far. */
		if (m->n > max || (now_ns >= e->at_ns &&
		    now_ns - e->at_ns >= ttl))
			idem_drop(m, e);
		else
			break;
	}
}

void
idem_forget(struct idem *m, uint64_t job_id)
{
	struct idem_ent	*e, *next;

	for (e = TAILQ_FIRST(&m->all); e != NULL; e = next) {
		next = TAILQ_NEXT(e, age);
		if (e->job_id == job_id)
			idem_drop(m, e);
	}
}

size_t
idem_count(const struct idem *m)
{
	return m->n;
}

void
idem_foreach(struct idem *m, const char *pool, void (*fn)(uid_t,
    const char *, uint64_t, uint64_t, void *), void *arg)
{
	struct idem_ent	*e;

	TAILQ_FOREACH(e, &m->all, age) {
		if (strcmp(e->pool, pool) == 0)
			fn(e->uid, e->key, e->job_id, e->at_ns, arg);
	}
}
