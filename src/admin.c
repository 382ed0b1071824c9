/*
 * Operator commands, one table of {name, arguments, usage, handler}: the
 * control socket's ADMIN message runs them, and `admin help` lists them
 * from the same table. Each handler writes its answer (or why not) to an
 * evbuffer; the control module turns that into OK or ERROR.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "admin.h"
#include "commis/proto.h"
#include "job.h"
#include "pool.h"
#include "sup.h"

struct admin_cmd {
	const char	*name;
	int		 min;		/* arguments after the name */
	int		 max;
	const char	*usage;
	int		(*fn)(struct supervisor *, char **, struct evbuffer *,
			    uint32_t *);
};

static int	admin_reload(struct supervisor *, char **, struct evbuffer *,
		    uint32_t *);
static int	admin_scale(struct supervisor *, char **, struct evbuffer *,
		    uint32_t *);
static int	admin_reset(struct supervisor *, char **, struct evbuffer *,
		    uint32_t *);
static int	admin_dead(struct supervisor *, char **, struct evbuffer *,
		    uint32_t *);
static int	admin_retry(struct supervisor *, char **, struct evbuffer *,
		    uint32_t *);
static int	admin_purge(struct supervisor *, char **, struct evbuffer *,
		    uint32_t *);
static int	admin_help(struct supervisor *, char **, struct evbuffer *,
		    uint32_t *);

static const struct admin_cmd admin_cmds[] = {
	{ "reload", 0, 0, "reload",
	  admin_reload },
	{ "scale", 2, 2, "scale POOL N",
	  admin_scale },
	{ "reset", 1, 1, "reset POOL",
	  admin_reset },
	{ "dead", 0, 1, "dead [json]",
	  admin_dead },
	{ "retry", 1, 1, "retry JOB-ID",
	  admin_retry },
	{ "purge", 0, 0, "purge",
	  admin_purge },
	{ "help", 0, 0, "help",
	  admin_help },
};

/* A whole decimal number in [min, max], nothing else. */
static int
admin_number(const char *s, unsigned long long max, unsigned long long *v)
{
	char	*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return (errno != 0 || *end != '\0' || *v > max) ? -1 : 0;
}

static int
admin_fail(struct evbuffer *out, uint32_t *code, uint32_t c, const char *fmt,
    const char *arg)
{
	evbuffer_add_printf(out, fmt, arg);
	*code = c;
	return -1;
}

/* The pool named by an argument, serving or not. */
static struct pool *
admin_pool(struct supervisor *sup, const char *name)
{
	size_t	i;

	for (i = 0; i < sup->npools; i++) {
		if (strcmp(sup->pools[i]->cfg.name, name) == 0 &&
		    !sup->pools[i]->draining)
			return sup->pools[i];
	}
	return NULL;
}

static int
admin_reload(struct supervisor *sup, char **argv, struct evbuffer *out,
    uint32_t *code)
{
	char	*errors = NULL;

	if (sup_reload(sup, &errors) == -1) {
		evbuffer_add_printf(out, "%s", errors);
		free(errors);
		*code = COMMIS_E_CONFIG;
		return -1;
	}
	evbuffer_add_printf(out, "reloaded %s: %zu pool(s)", sup->cfg->path,
	    sup->npools);
	return 0;
}

static int
admin_scale(struct supervisor *sup, char **argv, struct evbuffer *out,
    uint32_t *code)
{
	struct pool		*p;
	unsigned long long	 n;
	char			 why[128];

	if ((p = admin_pool(sup, argv[1])) == NULL)
		return admin_fail(out, code, COMMIS_E_NO_POOL, "no pool '%s'",
		    argv[1]);
	if (admin_number(argv[2], 1024, &n) == -1)
		return admin_fail(out, code, COMMIS_E_BAD_ARGS,
		    "size '%s' is not a number in 1..1024", argv[2]);
	if (pool_scale(p, (unsigned)n, why, sizeof why) == -1)
		return admin_fail(out, code, COMMIS_E_BAD_ARGS, "%s", why);
	evbuffer_add_printf(out, "pool %s: %llu workers%s", p->cfg.name, n,
	    p->cfg.mode == POOL_MODE_STATIC ? "" : " at most");
	return 0;
}

static int
admin_reset(struct supervisor *sup, char **argv, struct evbuffer *out,
    uint32_t *code)
{
	struct pool	*p;
	char		 why[128];

	if ((p = admin_pool(sup, argv[1])) == NULL)
		return admin_fail(out, code, COMMIS_E_NO_POOL, "no pool '%s'",
		    argv[1]);
	if (pool_reset(p, why, sizeof why) == -1)
		return admin_fail(out, code, COMMIS_E_STATE, "%s", why);
	evbuffer_add_printf(out, "pool %s: reset; starting workers",
	    p->cfg.name);
	return 0;
}

static int
admin_dead(struct supervisor *sup, char **argv, struct evbuffer *out,
    uint32_t *code)
{
	int	json = argv[1] != NULL;

	if (json && strcmp(argv[1], "json") != 0)
		return admin_fail(out, code, COMMIS_E_BAD_ARGS,
		    "dead: unknown argument '%s' (json)", argv[1]);
	job_dead_render(sup->jobs, out, json);
	return 0;
}

static int
admin_retry(struct supervisor *sup, char **argv, struct evbuffer *out,
    uint32_t *code)
{
	unsigned long long	id;
	uint64_t		new_id;
	char			why[160];

	if (admin_number(argv[1], UINT64_MAX, &id) == -1)
		return admin_fail(out, code, COMMIS_E_BAD_ARGS,
		    "job id '%s' is not a number", argv[1]);
	if (job_dead_retry(sup->jobs, id, &new_id, why, sizeof why) == -1)
		return admin_fail(out, code, COMMIS_E_NO_JOB, "%s", why);
	evbuffer_add_printf(out, "job %llu", (unsigned long long)new_id);
	return 0;
}

static int
admin_purge(struct supervisor *sup, char **argv, struct evbuffer *out,
    uint32_t *code)
{
	evbuffer_add_printf(out, "purged %zu dead job(s)",
	    job_dead_purge(sup->jobs));
	return 0;
}

static int
admin_help(struct supervisor *sup, char **argv, struct evbuffer *out,
    uint32_t *code)
{
	size_t	i;

	for (i = 0; i < sizeof admin_cmds / sizeof admin_cmds[0]; i++)
		evbuffer_add_printf(out, "%s%s", i ? "\n" : "",
		    admin_cmds[i].usage);
	return 0;
}

int
admin_run(struct supervisor *sup, int argc, char **argv,
    struct evbuffer *out, uint32_t *code)
{
	const struct admin_cmd	*cmd = NULL;
	char			*args[ADMIN_MAX_ARGS + 1];
	size_t			 i;
	int			 j;

	for (i = 0; i < sizeof admin_cmds / sizeof admin_cmds[0]; i++) {
		if (strcmp(admin_cmds[i].name, argv[0]) == 0)
			cmd = &admin_cmds[i];
	}
	if (cmd == NULL)
		return admin_fail(out, code, COMMIS_E_BAD_ARGS,
		    "unknown command '%s' (try help)", argv[0]);
	if (argc - 1 < cmd->min || argc - 1 > cmd->max) {
		evbuffer_add_printf(out, "usage: %s", cmd->usage);
		*code = COMMIS_E_BAD_ARGS;
		return -1;
	}
	/* NULL past the last argument, so optional ones can be tested. */
	for (j = 0; j < argc; j++)
		args[j] = argv[j];
	for (; j <= ADMIN_MAX_ARGS; j++)
		args[j] = NULL;
	return cmd->fn(sup, args, out, code);
}
