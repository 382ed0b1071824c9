/*
 * The configuration: an immutable object built from YAML, valid as a whole
 * or not built at all. Keys are defined by one table in config.c that also
 * generates docs/configuration.md (commisd --config-doc).
 */
#ifndef COMMIS_CONFIG_H
#define COMMIS_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "commis/proto.h"
#include "log.h"

enum isolation {
	ISOLATION_PROCESS = 0,
	ISOLATION_THREAD,
};

struct pool_config {
	char		 name[COMMIS_NAME_MAX];
	unsigned	 workers;		/* resolved; default online CPUs */
	enum isolation	 isolation;
	uint32_t	 timeout_ms;		/* 0: none */
	uint32_t	 kill_grace_ms;		/* SIGTERM -> SIGKILL */
	uint32_t	 max_attempts;
	uint32_t	 queue_max;
	int		 nice;			/* worker CPU priority */
	int		 sched_batch;		/* SCHED_BATCH for workers */
	uint32_t	 restart_delay_ms;	/* first restart backoff */
	uint32_t	 restart_delay_max_ms;	/* backoff cap */
	char		**modules;		/* handler .so paths */
	size_t		 nmodules;
};

struct config {
	char			*path;
	char			 socket[108];	/* sun_path */
	mode_t			 socket_mode;
	enum log_level		 log_level;
	uint32_t		 max_payload;
	struct pool_config	*pools;
	size_t			 npools;
};

/*
 * Loads and validates path. On failure returns NULL and *errors gets every
 * problem, one "file:line:column: message" per line (caller frees).
 */
struct config	*config_load(const char *path, char **errors);
/* The same from a string; name is used in messages. */
struct config	*config_load_string(const char *name, const char *yaml,
		    size_t len, char **errors);
void		 config_free(struct config *);
const struct pool_config *config_pool(const struct config *, const char *);
/* Writes the key reference (Markdown) generated from the key table. */
void		 config_doc(FILE *);

#endif
