/*
 * Private to the config module: the key tables, shared by the loader
 * (config.c, which walks the YAML tree) and config_keys.c (which parses
 * scalar values, applies defaults and writes the documentation).
 */
#ifndef COMMIS_CONFIG_KEYS_H
#define COMMIS_CONFIG_KEYS_H

#include <stddef.h>

#include "config.h"

/* Limits the loader enforces itself: libyaml 0.2.5 has none. */
#define CONFIG_SIZE_MAX		(1024 * 1024)	/* document bytes */
#define CONFIG_DEPTH_MAX	16		/* nested collections */
#define CONFIG_SCALAR_MAX	4096		/* bytes of one scalar */
#define CONFIG_NODES_MAX	65536		/* nodes in the document */
#define CONFIG_ERRORS_MAX	50		/* lines in one report */
#define CONFIG_KEYS_MAX		64		/* keys at one level */

enum config_type {
	CT_STRING,		/* char[size]; non-empty */
	CT_NAME,		/* char[size]; [A-Za-z0-9_.-] */
	CT_U32,			/* uint32_t, decimal */
	CT_UNSIGNED,		/* unsigned, decimal */
	CT_INT,			/* int, decimal */
	CT_SIZE,		/* uint32_t or uint64_t (by size), decimal
				   with K/M/G */
	CT_MODE,		/* mode_t, octal */
	CT_BOOL,		/* int */
	CT_LEVEL,		/* enum log_level */
	CT_ISOLATION,		/* enum isolation */
	CT_POOLMODE,		/* enum pool_mode */
	CT_FSYNC,		/* enum fsync_policy */
	CT_STRLIST,		/* char ** at off, size_t count at off_n */
	CT_POOLS,		/* struct config's pools */
};

struct config_key {
	const char		*name;
	enum config_type	 type;
	size_t			 off;
	size_t			 size;		/* of the field */
	size_t			 off_n;		/* CT_STRLIST: count */
	long long		 min;
	long long		 max;
	const char		*def;		/* default, as YAML text */
	const char		*def_doc;	/* shown when def is NULL */
	const char		*help;
	int			 required;
	/* CT_STRLIST: checks one item; -1 with a message in err. */
	int			(*check)(const char *, char *err, size_t);
};

/* One scalar as libyaml gave it; s is NUL-terminated at len. */
struct config_scalar {
	const char	*s;
	size_t		 len;
	int		 plain;		/* not quoted, no block style */
};

extern const struct config_key	config_top_keys[];
extern const size_t		config_ntop_keys;
extern const struct config_key	config_pool_keys[];
extern const size_t		config_npool_keys;

const struct config_key *config_key_find(const struct config_key *, size_t,
		    const char *, size_t *);
const char	*config_key_suggest(const struct config_key *, size_t,
		    const char *);
int		 config_key_set(const struct config_key *,
		    const struct config_scalar *, void *, char *, size_t);
const char	*config_quote(const char *, char *, size_t);
int		 config_scalar_null(const struct config_scalar *);
void		 config_top_init(struct config *);
void		 config_pool_init(struct pool_config *);

#endif
