/*
 * A small JSON reader for the CLI: a whole text into a tree of values,
 * strings decoded to UTF-8 (\u escapes and surrogate pairs included) and
 * numbers checked against the JSON grammar, with nesting capped at
 * JSON_DEPTH_MAX; and lookups by key that treat a missing or mistyped
 * value as absent. It knows nothing of what the text means: the stats
 * schema is cli_top.c's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_json.h"

#define JSON_DEPTH_MAX	32

struct json_parser {
	const char	*p;
	unsigned	 depth;
	const char	*err;
	const char	*at;		/* where err happened */
};

void
json_free(struct json *v)
{
	struct json	*next;

	for (; v != NULL; v = next) {
		next = v->next;
		json_free(v->child);
		free(v->str);
		free(v->key);
		free(v);
	}
}

static void *
json_fail(struct json_parser *ps, const char *why)
{
	if (ps->err == NULL) {
		ps->err = why;
		ps->at = ps->p;
	}
	return NULL;
}

static void
json_ws(struct json_parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
	    *ps->p == '\r')
		ps->p++;
}

static int
json_hex4(const char *p, unsigned *out)
{
	unsigned	v = 0;
	int		i;

	for (i = 0; i < 4; i++) {
		v <<= 4;
		if (p[i] >= '0' && p[i] <= '9')
			v |= (unsigned)(p[i] - '0');
		else if (p[i] >= 'a' && p[i] <= 'f')
			v |= (unsigned)(p[i] - 'a' + 10);
		else if (p[i] >= 'A' && p[i] <= 'F')
			v |= (unsigned)(p[i] - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static char *
json_utf8(char *o, unsigned cp)
{
	if (cp < 0x80)
		*o++ = (char)cp;
	else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	return o;
}

/* One escape after the backslash at *pp; never longer than its source. */
static char *
json_escape(struct json_parser *ps, const char **pp, char *o)
{
	static const char	 from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char		*p = *pp + 1, *e;
	unsigned		 cp, lo;

	if (*p != 'u') {
		if (*p == '\0' || (e = strchr(from, *p)) == NULL)
			return json_fail(ps, "bad escape in a string");
		*o++ = to[e - from];
		*pp = p + 1;
		return o;
	}
	if (json_hex4(p + 1, &cp) == -1)
		return json_fail(ps, "bad \\u escape");
	p += 5;
	if (cp >= 0xd800 && cp < 0xdc00) {
		if (p[0] != '\\' || p[1] != 'u' ||
		    json_hex4(p + 2, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
			return json_fail(ps, "lone surrogate in a string");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	} else if ((cp >= 0xdc00 && cp < 0xe000) || cp == 0)
		return json_fail(ps, "bad \\u escape");
	*pp = p;
	return json_utf8(o, cp);
}

/* The string at ps->p (its opening quote), decoded. */
static char *
json_string(struct json_parser *ps)
{
	const char	*p = ps->p + 1, *q;
	char		*s, *o;

	/* The decoded text is never longer than the source. */
	for (q = p; *q != '"'; q++) {
		if (*q == '\0')
			return json_fail(ps, "unterminated string");
		if (*q == '\\' && *++q == '\0')
			return json_fail(ps, "unterminated string");
	}
	if ((s = malloc((size_t)(q - p) + 1)) == NULL)
		return json_fail(ps, "out of memory");
	for (o = s; *p != '"';) {
		if ((unsigned char)*p < 0x20) {
			free(s);
			return json_fail(ps, "control character in a string");
		}
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		if ((o = json_escape(ps, &p, o)) == NULL) {
			free(s);
			return NULL;
		}
	}
	*o = '\0';
	ps->p = p + 1;
	return s;
}

static int
json_digits(const char **pp)
{
	const char	*p = *pp;

	while (*p >= '0' && *p <= '9')
		p++;
	if (p == *pp)
		return -1;
	*pp = p;
	return 0;
}

/* A number, checked against the JSON grammar before strtod reads it. */
static int
json_number(struct json_parser *ps, double *out)
{
	const char	*p = ps->p;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (json_digits(&p) == -1)
		return -1;
	if (*p == '.' && (p++, json_digits(&p) == -1))
		return -1;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (json_digits(&p) == -1)
			return -1;
	}
	*out = strtod(ps->p, NULL);
	ps->p = p;
	return 0;
}

static struct json *json_value(struct json_parser *);

/* The elements of an array or the members of an object into v. */
static struct json *
json_container(struct json_parser *ps, struct json *v)
{
	struct json	**tail = &v->child, *e;
	char		 close = v->type == JSON_OBJ ? '}' : ']';
	char		*key = NULL;

	if (++ps->depth > JSON_DEPTH_MAX)
		return json_fail(ps, "nested too deeply");
	ps->p++;
	json_ws(ps);
	if (*ps->p == close) {
		ps->p++;
		ps->depth--;
		return v;
	}
	for (;;) {
		json_ws(ps);
		if (v->type == JSON_OBJ) {
			if (*ps->p != '"')
				return json_fail(ps, "expected a member name");
			if ((key = json_string(ps)) == NULL)
				return NULL;
			json_ws(ps);
			if (*ps->p++ != ':') {
				free(key);
				return json_fail(ps, "expected ':'");
			}
		}
		if ((e = json_value(ps)) == NULL) {
			free(key);
			return NULL;
		}
		e->key = key;
		key = NULL;
		*tail = e;
		tail = &e->next;
		json_ws(ps);
		if (*ps->p == close)
			break;
		if (*ps->p != ',')
			return json_fail(ps, "expected ',' or the end");
		ps->p++;
	}
	ps->p++;
	ps->depth--;
	return v;
}

static struct json *
json_value(struct json_parser *ps)
{
	static const struct { const char *word; enum json_type type; int b; }
	    words[] = {
		{ "null", JSON_NULL, 0 }, { "true", JSON_BOOL, 1 },
		{ "false", JSON_BOOL, 0 },
	};
	struct json	*v;
	size_t		 i, n;

	json_ws(ps);
	if ((v = calloc(1, sizeof *v)) == NULL)
		return json_fail(ps, "out of memory");
	if (*ps->p == '{' || *ps->p == '[') {
		v->type = *ps->p == '{' ? JSON_OBJ : JSON_ARR;
		if (json_container(ps, v) != NULL)
			return v;
	} else if (*ps->p == '"') {
		v->type = JSON_STR;
		if ((v->str = json_string(ps)) != NULL)
			return v;
	} else if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
		v->type = JSON_NUM;
		if (json_number(ps, &v->num) == 0)
			return v;
		json_fail(ps, "bad number");
	} else {
		for (i = 0; i < sizeof words / sizeof words[0]; i++) {
			n = strlen(words[i].word);
			if (strncmp(ps->p, words[i].word, n) == 0) {
				v->type = words[i].type;
				v->num = words[i].b;
				ps->p += n;
				return v;
			}
		}
		json_fail(ps, "unexpected character");
	}
	json_free(v);
	return NULL;
}

/* The whole text as one value, or NULL with err. */
struct json *
json_parse(const char *text, char *err, size_t errsz)
{
	struct json_parser	 ps;
	struct json		*v;

	memset(&ps, 0, sizeof ps);
	ps.p = text;
	if ((v = json_value(&ps)) != NULL) {
		json_ws(&ps);
		if (*ps.p == '\0')
			return v;
		json_free(v);
		json_fail(&ps, "text after the end");
	}
	snprintf(err, errsz, "%s at byte %zu", ps.err, (size_t)(ps.at - text));
	return NULL;
}

const struct json *
json_get(const struct json *o, const char *key)
{
	const struct json	*e;

	if (o == NULL || o->type != JSON_OBJ)
		return NULL;
	for (e = o->child; e != NULL; e = e->next) {
		if (strcmp(e->key, key) == 0)
			return e;
	}
	return NULL;
}

long long
json_ll(const struct json *o, const char *key, long long def)
{
	const struct json	*v = json_get(o, key);

	if (v == NULL || v->type != JSON_NUM || !isfinite(v->num))
		return def;
	return (long long)v->num;
}

void
json_strcpy(const struct json *o, const char *key, char *buf, size_t size)
{
	const struct json	*v = json_get(o, key);

	snprintf(buf, size, "%s", v != NULL && v->type == JSON_STR ? v->str :
	    "");
}
