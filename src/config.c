/*
 * Loading the configuration. The file is read whole and config_yaml.c
 * turns it into a small tree, within the limits libyaml 0.2.5 lacks (this
 * file checks the document size). The tree is then walked against the key
 * tables of config_keys.c into a fresh struct config, with the checks
 * across keys (a pool's workers and spares, its mode and isolation,
 * duplicate pool names). Every problem is collected with its position and
 * the config is returned only if there was none; once returned it is never
 * changed. This module knows nothing of what the values are used for.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config.h"
#include "config_keys.h"
#include "config_yaml.h"

/* What the walk learnt about one key of a mapping. */
struct cseen {
	const struct cnode	*key;
	const struct cnode	*value;
	int			 ok;
};

static int	config_set(struct cload *, const struct config_key *,
		    const struct cnode *, void *);

/*
 * Walks a mapping against one level's keys, setting fields of obj; seen
 * (nkeys entries) says afterwards which keys were present and valid.
 */
static void
config_walk(struct cload *l, const struct config_key *keys, size_t nkeys,
    const struct cnode *map, void *obj, struct cseen *seen)
{
	const struct config_key	*k;
	const struct cnode	*kn, *vn;
	const char		*hint;
	char			 q[64];
	size_t			 i, idx;

	for (i = 0; i + 1 < map->nkids; i += 2) {
		kn = map->kids[i];
		vn = map->kids[i + 1];
		if (kn->bad)
			continue;
		if (kn->kind != CN_SCALAR) {
			cerr_add(&l->err, &kn->mark, "a key must be a scalar, "
			    "not %s", cnode_what(kn));
			continue;
		}
		if ((k = config_key_find(keys, nkeys, kn->s, &idx)) == NULL) {
			hint = config_key_suggest(keys, nkeys, kn->s);
			cerr_add(&l->err, &kn->mark, "unknown key \"%s\"%s%s%s",
			    config_quote(kn->s, q, sizeof q),
			    hint ? " (did you mean \"" : "", hint ? hint : "",
			    hint ? "\"?)" : "");
			continue;
		}
		if (seen[idx].key != NULL) {
			cerr_add(&l->err, &kn->mark, "duplicate key \"%s\" "
			    "(first at line %zu)", k->name,
			    seen[idx].key->mark.line + 1);
			continue;
		}
		seen[idx].key = kn;
		seen[idx].value = vn;
		seen[idx].ok = config_set(l, k, vn, obj) == 0;
	}
	for (i = 0; i < nkeys; i++) {
		if (keys[i].required && seen[i].key == NULL)
			cerr_add(&l->err, &map->mark, "missing required key "
			    "\"%s\"", keys[i].name);
	}
}

static int
config_strlist(struct cload *l, const struct config_key *k,
    const struct cnode *vn, void *obj)
{
	const struct cnode	*item;
	char			**list, msg[256];
	size_t			 i, n = 0;
	int			 rv = 0;

	if (vn->kind != CN_SEQ) {
		cerr_add(&l->err, &vn->mark, "%s: expected a list of strings, "
		    "got %s", k->name, cnode_what(vn));
		return -1;
	}
	if (vn->nkids == 0)
		return 0;
	if ((list = calloc(vn->nkids, sizeof *list)) == NULL) {
		cerr_add(&l->err, NULL, "out of memory");
		return -1;
	}
	*(char ***)(void *)((char *)obj + k->off) = list;
	for (i = 0; i < vn->nkids; i++) {
		item = vn->kids[i];
		if (item->bad)
			rv = -1;
		else if (item->kind != CN_SCALAR) {
			cerr_add(&l->err, &item->mark, "%s: expected a string, "
			    "got %s", k->name, cnode_what(item));
			rv = -1;
		} else if (item->len == 0 || strlen(item->s) != item->len ||
		    cnode_null(item)) {
			cerr_add(&l->err, &item->mark, "%s: expected a "
			    "non-empty string without NUL bytes", k->name);
			rv = -1;
		} else if (k->check != NULL &&
		    k->check(item->s, msg, sizeof msg) == -1) {
			cerr_add(&l->err, &item->mark, "%s: %s", k->name, msg);
			rv = -1;
		} else if ((list[n] = strdup(item->s)) == NULL) {
			cerr_add(&l->err, NULL, "out of memory");
			rv = -1;
			break;
		} else
			n++;
	}
	*(size_t *)(void *)((char *)obj + k->off_n) = n;
	return rv;
}

/* Index of a pool key in config_pool_keys (and so in a pool's cseen). */
static size_t
pool_key(const char *name)
{
	size_t	idx = 0;

	if (config_key_find(config_pool_keys, config_npool_keys, name,
	    &idx) == NULL)
		fatalx("config: no pool key %s", name);
	return idx;
}

/* Where to report a rule about two keys: the first given, else the pool. */
static const yaml_mark_t *
pool_mark(const struct cseen *a, const struct cseen *b,
    const struct cnode *item)
{
	if (a->value != NULL)
		return &a->value->mark;
	if (b->value != NULL)
		return &b->value->mark;
	return &item->mark;
}

/*
 * The checks across keys, once every key of the pool is set. A rule is
 * checked only when none of its keys was reported already.
 */
static void
config_pool_rules(struct cload *l, struct pool_config *pc,
    const struct cseen *seen, const struct cnode *item)
{
	const struct cseen	*rd, *rdm, *mode, *w, *minw, *maxw, *mins,
				*maxs, *iso;
	int			 workers_ok;

#define BAD(s)	((s)->key != NULL && !(s)->ok)
	rd = &seen[pool_key("restart_delay_ms")];
	rdm = &seen[pool_key("restart_delay_max_ms")];
	mode = &seen[pool_key("mode")];
	w = &seen[pool_key("workers")];
	minw = &seen[pool_key("min_workers")];
	maxw = &seen[pool_key("max_workers")];
	mins = &seen[pool_key("min_spare")];
	maxs = &seen[pool_key("max_spare")];

	if (!BAD(rd) && !BAD(rdm) &&
	    pc->restart_delay_max_ms < pc->restart_delay_ms)
		cerr_add(&l->err, pool_mark(rdm, rd, item),
		    "restart_delay_max_ms: %u is less than restart_delay_ms %u",
		    pc->restart_delay_max_ms, pc->restart_delay_ms);

	/* A thread pool is one host process with `workers` threads. */
	iso = &seen[pool_key("isolation")];
	if (!BAD(iso) && !BAD(mode) && pc->isolation == ISOLATION_THREAD &&
	    pc->mode != POOL_MODE_STATIC)
		cerr_add(&l->err, pool_mark(mode, iso, item), "mode: %s pools "
		    "must be static with isolation: thread (one host process "
		    "of `workers` threads)", pc->mode == POOL_MODE_DYNAMIC ?
		    "dynamic" : "ondemand");

	/* Checked in every mode, though static ignores these keys. */
	workers_ok = !BAD(minw) && !BAD(maxw);
	if (workers_ok && pc->min_workers > pc->max_workers) {
		workers_ok = 0;
		if (maxw->value != NULL)
			cerr_add(&l->err, &maxw->value->mark, "max_workers: %u "
			    "is less than min_workers %u", pc->max_workers,
			    pc->min_workers);
		else
			cerr_add(&l->err, pool_mark(minw, maxw, item),
			    "min_workers: %u is more than max_workers %u "
			    "(the default: online CPUs)", pc->min_workers,
			    pc->max_workers);
	}
	if (!BAD(mins) && !BAD(maxs) && pc->min_spare > pc->max_spare) {
		if (maxs->value != NULL)
			cerr_add(&l->err, &maxs->value->mark, "max_spare: %u "
			    "is less than min_spare %u", pc->max_spare,
			    pc->min_spare);
		else
			cerr_add(&l->err, pool_mark(mins, maxs, item),
			    "min_spare: %u is more than max_spare %u",
			    pc->min_spare, pc->max_spare);
	}

	/*
	 * Dynamic starts with workers, which must be within min..max; the
	 * default (online CPUs) is brought into the range silently.
	 */
	if (BAD(mode) || pc->mode != POOL_MODE_DYNAMIC || BAD(w) ||
	    !workers_ok)
		return;
	if (w->value == NULL) {
		if (pc->workers < pc->min_workers)
			pc->workers = pc->min_workers;
		if (pc->workers > pc->max_workers)
			pc->workers = pc->max_workers;
	} else if (pc->workers < pc->min_workers ||
	    pc->workers > pc->max_workers)
		cerr_add(&l->err, &w->value->mark, "workers: %u is not within "
		    "min_workers %u and max_workers %u%s", pc->workers,
		    pc->min_workers, pc->max_workers, maxw->value == NULL ?
		    " (the default: online CPUs)" : "");
#undef BAD
}

/* One item of pools: its keys, then the checks across keys. */
static void
config_pool_one(struct cload *l, struct pool_config *pc,
    const struct cnode *item, const struct cnode **name)
{
	struct cseen	 seen[CONFIG_KEYS_MAX];
	size_t		 ni = pool_key("name");

	memset(seen, 0, sizeof seen);
	config_walk(l, config_pool_keys, config_npool_keys, item, pc, seen);
	if (seen[ni].ok)
		*name = seen[ni].value;
	config_pool_rules(l, pc, seen, item);
}

struct pname {
	const struct cnode	*node;
	const struct cnode	*first;		/* earlier pool of that name */
	size_t			 idx;
};

static int
pname_byname(const void *a, const void *b)
{
	const struct pname	*x = a, *y = b;
	int			 c = strcmp(x->node->s, y->node->s);

	return c != 0 ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static int
pname_byidx(const void *a, const void *b)
{
	const struct pname	*x = a, *y = b;

	return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Reports repeated pool names, in document order. */
static void
config_pool_dups(struct cload *l, const struct cnode **names, size_t n)
{
	struct pname	*p;
	size_t		 i, np = 0, first = 0;

	if ((p = calloc(n, sizeof *p)) == NULL) {
		cerr_add(&l->err, NULL, "out of memory");
		return;
	}
	for (i = 0; i < n; i++) {
		if (names[i] != NULL) {
			p[np].node = names[i];
			p[np++].idx = i;
		}
	}
	qsort(p, np, sizeof *p, pname_byname);
	for (i = 1; i < np; i++) {
		if (strcmp(p[i].node->s, p[first].node->s) == 0)
			p[i].first = p[first].node;
		else
			first = i;
	}
	qsort(p, np, sizeof *p, pname_byidx);
	for (i = 0; i < np; i++) {
		if (p[i].first != NULL)
			cerr_add(&l->err, &p[i].node->mark, "name: duplicate "
			    "pool name \"%s\" (first at line %zu)", p[i].node->s,
			    p[i].first->mark.line + 1);
	}
	free(p);
}

static int
config_pools(struct cload *l, const struct config_key *k,
    const struct cnode *vn, struct config *cfg)
{
	const struct cnode	**names, *item;
	size_t			 i, n = vn->nkids;
	unsigned		 before = l->err.n;

	if (vn->kind != CN_SEQ) {
		cerr_add(&l->err, &vn->mark, "%s: expected a list of pools, "
		    "got %s", k->name, cnode_what(vn));
		return -1;
	}
	if (n == 0) {
		cerr_add(&l->err, &vn->mark, "%s: the list is empty; omit the "
		    "key for one pool named \"default\"", k->name);
		return -1;
	}
	cfg->pools = calloc(n, sizeof *cfg->pools);
	names = calloc(n, sizeof *names);
	if (cfg->pools == NULL || names == NULL) {
		free(names);
		cerr_add(&l->err, NULL, "out of memory");
		return -1;
	}
	cfg->npools = n;
	for (i = 0; i < n; i++) {
		config_pool_init(&cfg->pools[i]);
		item = vn->kids[i];
		if (item->bad)
			continue;
		if (item->kind != CN_MAP) {
			cerr_add(&l->err, &item->mark, "%s: expected a mapping "
			    "of pool keys, got %s", k->name, cnode_what(item));
			continue;
		}
		config_pool_one(l, &cfg->pools[i], item, &names[i]);
	}
	config_pool_dups(l, names, n);
	free(names);
	return l->err.n == before ? 0 : -1;
}

/* Sets the field k of obj from the value node vn; -1 if reported. */
static int
config_set(struct cload *l, const struct config_key *k,
    const struct cnode *vn, void *obj)
{
	struct config_scalar	v;
	char			msg[512];

	if (vn->bad)
		return -1;
	if (k->type == CT_POOLS)
		return config_pools(l, k, vn, obj);
	if (k->type == CT_STRLIST)
		return config_strlist(l, k, vn, obj);
	if (vn->kind != CN_SCALAR) {
		cerr_add(&l->err, &vn->mark, "%s: expected a scalar, got %s",
		    k->name, cnode_what(vn));
		return -1;
	}
	v.s = vn->s;
	v.len = vn->len;
	v.plain = vn->plain;
	if (config_key_set(k, &v, obj, msg, sizeof msg) == -1) {
		cerr_add(&l->err, &vn->mark, "%s", msg);
		return -1;
	}
	return 0;
}

static struct config *
config_build(struct cload *l, const char *name)
{
	struct cseen	 seen[CONFIG_KEYS_MAX];
	struct config	*cfg;
	yaml_mark_t	 start;

	memset(seen, 0, sizeof seen);
	if ((cfg = calloc(1, sizeof *cfg)) == NULL ||
	    (cfg->path = strdup(name)) == NULL) {
		free(cfg);
		cerr_add(&l->err, NULL, "out of memory");
		return NULL;
	}
	config_top_init(cfg);
	memset(&start, 0, sizeof start);
	if (l->root == NULL)
		cerr_add(&l->err, &start, "empty document: expected a mapping "
		    "of configuration keys");
	else if (l->root->kind != CN_MAP) {
		if (!l->root->bad)
			cerr_add(&l->err, &l->root->mark, "expected a mapping "
			    "of configuration keys, got %s",
			    cnode_what(l->root));
	} else
		config_walk(l, config_top_keys, config_ntop_keys, l->root,
		    cfg, seen);
	if (cfg->pools == NULL && l->err.n == 0) {
		if ((cfg->pools = calloc(1, sizeof *cfg->pools)) == NULL) {
			cerr_add(&l->err, NULL, "out of memory");
			return cfg;
		}
		cfg->npools = 1;
		config_pool_init(&cfg->pools[0]);
		snprintf(cfg->pools[0].name, sizeof cfg->pools[0].name, "%s",
		    "default");
	}
	return cfg;
}

struct config *
config_load_string(const char *name, const char *yaml, size_t len,
    char **errors)
{
	struct cload	 l;
	struct config	*cfg = NULL;
	yaml_mark_t	 start;

	if (errors != NULL)
		*errors = NULL;
	memset(&l, 0, sizeof l);
	l.err.name = name;
	l.text = yaml;
	l.textlen = len;
	memset(&start, 0, sizeof start);
	if (len > CONFIG_SIZE_MAX)
		cerr_add(&l.err, &start, "document is larger than %d bytes",
		    CONFIG_SIZE_MAX);
	else if (cload_parse(&l) == 0)
		cfg = config_build(&l, name);
	cnode_free(l.root);
	if (l.err.n > 0) {
		config_free(cfg);
		cfg = NULL;
		cerr_finish(&l.err, errors);
	}
	return cfg;
}

struct config *
config_load(const char *path, char **errors)
{
	struct config	*cfg;
	FILE		*f;
	char		*buf;
	size_t		 len;
	int		 saved;

	if (errors != NULL)
		*errors = NULL;
	if ((f = fopen(path, "re")) == NULL)
		goto fail;
	/* One byte more than the limit, so that a larger file is seen. */
	if ((buf = malloc(CONFIG_SIZE_MAX + 1)) == NULL) {
		fclose(f);
		goto fail;
	}
	len = fread(buf, 1, CONFIG_SIZE_MAX + 1, f);
	if (ferror(f)) {
		saved = errno;
		free(buf);
		fclose(f);
		errno = saved;
		goto fail;
	}
	fclose(f);
	cfg = config_load_string(path, buf, len, errors);
	free(buf);
	return cfg;

fail:
	if (errors != NULL && asprintf(errors, "%s: %s", path,
	    strerror(errno)) == -1)
		*errors = NULL;
	return NULL;
}

static void
config_strs_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
config_access_check(const char *s, char *err, size_t errlen)
{
	const char	*v = strchr(s, ':');
	char		*end;

	if (v == NULL || v[1] == '\0')
		goto bad;
	v++;
	if (strncmp(s, "uid:", 4) == 0 || strncmp(s, "gid:", 4) == 0) {
		errno = 0;
		if (*v < '0' || *v > '9' || strtoul(v, &end, 10) > 0x7fffffffUL ||
		    *end != '\0' || errno != 0)
			goto bad;
		return 0;
	}
	if (strncmp(s, "user:", 5) == 0) {
		if (getpwnam(v) != NULL)
			return 0;
		snprintf(err, errlen, "no user '%s'", v);
		return -1;
	}
	if (strncmp(s, "group:", 6) == 0) {
		if (getgrnam(v) != NULL)
			return 0;
		snprintf(err, errlen, "no group '%s'", v);
		return -1;
	}
bad:
	snprintf(err, errlen, "'%s' is not user:NAME, group:NAME, uid:N or "
	    "gid:N", s);
	return -1;
}

void
config_free(struct config *cfg)
{
	size_t	i, j;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->npools; i++) {
		for (j = 0; j < cfg->pools[i].nmodules; j++)
			free(cfg->pools[i].modules[j]);
		free(cfg->pools[i].modules);
		config_strs_free(cfg->pools[i].exec_argv,
		    cfg->pools[i].nexec_argv);
		config_strs_free(cfg->pools[i].exec_params,
		    cfg->pools[i].nexec_params);
		config_strs_free(cfg->pools[i].exec_env,
		    cfg->pools[i].nexec_env);
	}
	free(cfg->pools);
	config_strs_free(cfg->access_read, cfg->naccess_read);
	config_strs_free(cfg->access_submit, cfg->naccess_submit);
	config_strs_free(cfg->access_admin, cfg->naccess_admin);
	free(cfg->path);
	free(cfg);
}

/* The pool of that name; a NULL name means the first pool. */
const struct pool_config *
config_pool(const struct config *cfg, const char *name)
{
	size_t	i;

	if (cfg->npools == 0)
		return NULL;
	if (name == NULL)
		return &cfg->pools[0];
	for (i = 0; i < cfg->npools; i++) {
		if (strcmp(cfg->pools[i].name, name) == 0)
			return &cfg->pools[i];
	}
	return NULL;
}
