/*
 * A small JSON reader for the CLI (cli_json.c): a whole text into a tree
 * of values, and lookups on it. The CLI has no JSON library, and what it
 * reads (the stats of docs/operations.md, for commis top) needs no more.
 */
#ifndef COMMIS_CLI_JSON_H
#define COMMIS_CLI_JSON_H

#include <stddef.h>

enum json_type {
	JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ
};

struct json {
	enum json_type	 type;
	double		 num;		/* JSON_NUM; JSON_BOOL: 0 or 1 */
	char		*str;		/* JSON_STR, decoded UTF-8 */
	char		*key;		/* a member's name */
	struct json	*child;		/* JSON_ARR, JSON_OBJ: first element */
	struct json	*next;
};

/* The whole text as one value, or NULL with why (and the byte offset)
 * in err. */
struct json	*json_parse(const char *text, char *err, size_t errsz);
void		 json_free(struct json *);
/* The member key of object o, or NULL (also when o is NULL or not an
 * object, so that lookups can be chained). */
const struct json *json_get(const struct json *o, const char *key);
/* The number at key, or def when it is missing, not a number or not
 * finite. */
long long	 json_ll(const struct json *o, const char *key, long long def);
/* The string at key into buf (cut to size), else "". */
void		 json_strcpy(const struct json *o, const char *key, char *buf,
		    size_t size);

#endif
