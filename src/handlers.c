/*
 * The handler registry: the built-in handlers plus the modules a pool's
 * config names, loaded with dlopen in the supervisor before any fork so
 * that every worker shares their pages copy-on-write. The set owns the
 * dlopen handles and each handler's init() state; it knows nothing of
 * jobs, channels or pools. init(), run() and fini() happen only in
 * workers; the supervisor only loads, looks up and frees.
 *
 * Entries live in one array that grows while modules load, so pointers
 * returned by handlers_find/handlers_at are valid until the next
 * handlers_load; in practice all loading is done before the first lookup.
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commis/proto.h"
#include "handlers.h"

struct handler_set {
	struct handler_ent	*ents;
	size_t			 nents;
	void			**mods;		/* dlopen handles */
	size_t			 nmods;
};

static void	handlers_cause(char **, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static int	handlers_check(const struct handler_set *,
		    const struct commis_module *, const char *, char **);
static int	handlers_name_ok(const char *);

static void
handlers_cause(char **cause, const char *fmt, ...)
{
	va_list	ap;

	if (cause == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) == -1)
		*cause = NULL;
	va_end(ap);
}

/* Appends a module's handlers; the module was checked. -1 on ENOMEM. */
int
handlers_add_module(struct handler_set *set, const struct commis_module *mod)
{
	struct handler_ent	*ents;
	size_t			 i, n;

	if (mod->nhandlers > SIZE_MAX / sizeof *ents - set->nents)
		return -1;
	n = set->nents + mod->nhandlers;
	if (n == 0)
		return 0;
	ents = realloc(set->ents, n * sizeof *ents);
	if (ents == NULL)
		return -1;
	set->ents = ents;
	for (i = 0; i < mod->nhandlers; i++) {
		ents[set->nents + i].h = &mod->handlers[i];
		ents[set->nents + i].state = NULL;
		ents[set->nents + i].inited = 0;
	}
	set->nents = n;
	return 0;
}

/* A name travels in frames and config files: keep it short and plain. */
static int
handlers_name_ok(const char *name)
{
	size_t	i, len;

	if (name == NULL)
		return 0;
	len = strnlen(name, COMMIS_NAME_MAX);
	if (len == 0 || len >= COMMIS_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_.:-", name[i]) == NULL)
			return 0;
	}
	return 1;
}

/* Everything that can be wrong with a module, before the set changes. */
static int
handlers_check(const struct handler_set *set, const struct commis_module *mod,
    const char *path, char **cause)
{
	const struct commis_handler	*h;
	size_t				 i, j;

	if (mod->abi != COMMIS_HANDLER_ABI) {
		handlers_cause(cause, "%s: ABI %u, expected %u", path,
		    (unsigned)mod->abi, (unsigned)COMMIS_HANDLER_ABI);
		return -1;
	}
	if (mod->nhandlers != 0 && mod->handlers == NULL) {
		handlers_cause(cause, "%s: no handler table", path);
		return -1;
	}
	for (i = 0; i < mod->nhandlers; i++) {
		h = &mod->handlers[i];
		if (!handlers_name_ok(h->name)) {
			handlers_cause(cause, "%s: handler %zu: bad name "
			    "(1-%d characters of A-Za-z0-9_.:-)", path, i,
			    COMMIS_NAME_MAX - 1);
			return -1;
		}
		if (h->run == NULL) {
			handlers_cause(cause, "%s: handler '%s' has no run",
			    path, h->name);
			return -1;
		}
		for (j = 0; j < set->nents; j++) {
			if (strcmp(set->ents[j].h->name, h->name) == 0)
				goto dup;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(mod->handlers[j].name, h->name) == 0)
				goto dup;
		}
	}
	return 0;

dup:
	handlers_cause(cause, "%s: handler '%s' already defined", path,
	    h->name);
	return -1;
}

struct handler_set *
handlers_new(void)
{
	struct handler_set	*set;

	if ((set = calloc(1, sizeof *set)) == NULL)
		return NULL;
	if (handlers_add_module(set, &builtin_module) == -1 ||
	    handlers_add_module(set, &aggregate_module) == -1) {
		handlers_free(set);
		return NULL;
	}
	return set;
}

/*
 * Does not call fini(): the supervisor never inits, and a worker calls
 * handlers_fini first. Modules are closed newest first.
 */
void
handlers_free(struct handler_set *set)
{
	size_t	i;

	if (set == NULL)
		return;
	for (i = set->nmods; i > 0; i--)
		dlclose(set->mods[i - 1]);
	free(set->mods);
	free(set->ents);
	free(set);
}

int
handlers_load(struct handler_set *set, const char *path, char **cause)
{
	const struct commis_module	*mod;
	void				*dl, **mods;
	const char			*e;

	if (cause != NULL)
		*cause = NULL;
	/* RTLD_NOW: an unresolved symbol fails here, not in a worker. */
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		/* glibc's message usually starts with the path already. */
		if ((e = dlerror()) == NULL)
			e = "cannot load";
		if (strncmp(e, path, strlen(path)) == 0)
			handlers_cause(cause, "%s", e);
		else
			handlers_cause(cause, "%s: %s", path, e);
		return -1;
	}
	dlerror();
	mod = dlsym(dl, COMMIS_MODULE_SYMBOL);
	if (mod == NULL) {
		handlers_cause(cause, "%s: missing symbol %s", path,
		    COMMIS_MODULE_SYMBOL);
		goto fail;
	}
	if (handlers_check(set, mod, path, cause) == -1)
		goto fail;

	mods = reallocarray(set->mods, set->nmods + 1, sizeof *mods);
	if (mods == NULL)
		goto nomem;
	set->mods = mods;
	/* The entries array may have been resized; it stays valid. */
	if (handlers_add_module(set, mod) == -1)
		goto nomem;
	set->mods[set->nmods++] = dl;
	return 0;

nomem:
	handlers_cause(cause, "%s: out of memory", path);
fail:
	dlclose(dl);
	return -1;
}

struct handler_ent *
handlers_find(struct handler_set *set, const char *name)
{
	size_t	i;

	for (i = 0; i < set->nents; i++) {
		if (strcmp(set->ents[i].h->name, name) == 0)
			return &set->ents[i];
	}
	return NULL;
}

size_t
handlers_count(const struct handler_set *set)
{
	return set->nents;
}

struct handler_ent *
handlers_at(struct handler_set *set, size_t i)
{
	if (i >= set->nents)
		return NULL;
	return &set->ents[i];
}

/*
 * Entries already inited are skipped, so calling this twice is harmless.
 * A failed init() undoes every init before it (handlers_fini), so the
 * worker exits with nothing half set up whether or not it calls
 * handlers_fini itself.
 */
int
handlers_init(struct handler_set *set, char **cause)
{
	struct handler_ent	*ent;
	size_t			 i;

	if (cause != NULL)
		*cause = NULL;
	for (i = 0; i < set->nents; i++) {
		ent = &set->ents[i];
		if (ent->inited)
			continue;
		ent->state = NULL;
		if (ent->h->init != NULL && ent->h->init(&ent->state) != 0) {
			ent->state = NULL;
			handlers_cause(cause, "handler %s: init failed",
			    ent->h->name);
			handlers_fini(set);
			return -1;
		}
		ent->inited = 1;
	}
	return 0;
}

void
handlers_fini(struct handler_set *set)
{
	struct handler_ent	*ent;
	size_t			 i;

	for (i = set->nents; i > 0; i--) {
		ent = &set->ents[i - 1];
		if (!ent->inited)
			continue;
		if (ent->h->fini != NULL)
			ent->h->fini(ent->state);
		ent->state = NULL;
		ent->inited = 0;
	}
}
