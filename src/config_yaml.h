/*
 * Private to the config module: the YAML tree and the error report, built
 * by config_yaml.c and walked by config.c.
 */
#ifndef COMMIS_CONFIG_YAML_H
#define COMMIS_CONFIG_YAML_H

#include <stddef.h>

#include <yaml.h>

#include "config_keys.h"

struct cerr_line;

enum cnode_kind {
	CN_SCALAR,
	CN_SEQ,
	CN_MAP,
};

struct cnode {
	enum cnode_kind	 kind;
	int		 bad;		/* already reported: skip it */
	int		 plain;		/* plain scalar without a tag */
	yaml_mark_t	 mark;
	char		*s;
	size_t		 len;
	struct cnode	**kids;		/* a mapping's are key, value, ... */
	size_t		 nkids;
	size_t		 cap;
};

/*
 * The error report. Problems are found partly while parsing and partly
 * while walking the tree, so lines are sorted by position at the end.
 */
struct cerr {
	const char		*name;
	struct cerr_line	*lines;
	size_t			 nlines;
	size_t			 cap;
	unsigned		 n;		/* found, shown or not */
	int			 nomem;
};

struct cload {
	struct cerr	 err;
	const char	*text;
	size_t		 textlen;
	struct cnode	*root;
	struct cnode	*stack[CONFIG_DEPTH_MAX];
	size_t		 depth;
	size_t		 nodes;
	int		 docs;
};

/* Adds a problem at m (NULL: no position). */
void		 cerr_add(struct cerr *, const yaml_mark_t *m, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
/* Joins the lines for the caller, or just frees them if it wants none. */
void		 cerr_finish(struct cerr *, char **errors);
/* "a scalar", "a list", "a mapping": for messages. */
const char	*cnode_what(const struct cnode *);
/* Whether a scalar node is YAML's null. */
int		 cnode_null(const struct cnode *);
void		 cnode_free(struct cnode *);
/* Parses l->text into l->root; -1 if the tree is not usable. */
int		 cload_parse(struct cload *);

#endif
