/*
 * The handlers a pool can run: the built-ins plus the modules named in its
 * config, loaded with dlopen in the supervisor before any fork. The set
 * knows nothing of jobs or channels; the worker calls into it.
 */
#ifndef COMMIS_HANDLERS_H
#define COMMIS_HANDLERS_H

#include <stddef.h>

#include "commis/handler.h"

struct handler_ent {
	const struct commis_handler	*h;
	void				*state;		/* from init() */
	int				 inited;
};

struct handler_set;

/* A set holding the built-in handlers. NULL on allocation failure. */
struct handler_set	*handlers_new(void);
void			 handlers_free(struct handler_set *);
/*
 * dlopens path, checks the module's ABI and names (no duplicates, non-empty
 * run), and adds its handlers. -1 with *cause (malloc'd) on failure, and
 * the set is unchanged.
 */
/* Adds a module's handlers (names must be new); 0 or -1. */
int			 handlers_add_module(struct handler_set *,
			    const struct commis_module *);
int			 handlers_load(struct handler_set *, const char *path,
			    char **cause);
struct handler_ent	*handlers_find(struct handler_set *, const char *name);
size_t			 handlers_count(const struct handler_set *);
struct handler_ent	*handlers_at(struct handler_set *, size_t);
/* In a worker: init() every handler. -1 with *cause naming the failure. */
int			 handlers_init(struct handler_set *, char **cause);
/* fini() every handler that was initialised. */
void			 handlers_fini(struct handler_set *);

/* The built-in module (builtins.c). */
extern const struct commis_module builtin_module;
/* aggregate.c: the `aggregate` handler, built in too. */
extern const struct commis_module aggregate_module;

#endif
