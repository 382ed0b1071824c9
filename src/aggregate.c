/*
 * The built-in `aggregate` handler (docs/cookbook-aggregate.md): count,
 * sum, mean, min, max and exact percentiles of a column of numbers, in
 * all or grouped by another column. The input is newline-separated
 * lines; an optional first line `aggregate: OPTIONS` sets
 *
 *	column=N	the 1-based column of the numbers (default 1)
 *	group=M		group by the text of column M (default: no groups)
 *	sep=C		the column separator, one character, or `tab`
 *			(default: `,` if the first data line has one, else
 *			runs of blanks)
 *	header		the first data line is a header: skipped
 *	percentiles=P,P	percentiles 0-100 (default 50,90,99)
 *
 * Blank lines are skipped; a value that is not a number fails the job
 * with its line number. The result is JSON. Percentiles are exact
 * (nearest rank over the sorted values), so every value is held in
 * memory: 8 bytes each. Large inputs come as segments.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commis/handler.h"
#include "handlers.h"

#define AGG_PCT_MAX	16
#define AGG_FIELD_MAX	1024	/* bytes of one field */

struct agg_group {
	char		*key;		/* NULL: the one group of all */
	double		*v;
	size_t		 n, cap;
	double		 sum;
};

struct agg {
	size_t			 column, group;	/* 1-based; group 0: none */
	int			 sep;		/* 0: blanks */
	int			 header;
	double			 pct[AGG_PCT_MAX];
	size_t			 npct;
	struct agg_group	*g;
	size_t			 ng, capg;
};

static int
agg_options(struct commis_call *call, struct agg *a, char *line)
{
	char	*tok, *save = NULL, *p, *end;
	long	 v;
	double	 d;

	for (tok = strtok_r(line, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		if (strcmp(tok, "header") == 0) {
			a->header = 1;
		} else if (strncmp(tok, "column=", 7) == 0 ||
		    strncmp(tok, "group=", 6) == 0) {
			p = strchr(tok, '=') + 1;
			errno = 0;
			v = strtol(p, &end, 10);
			if (errno != 0 || *end != '\0' || v < 1 || v > 10000)
				goto bad;
			if (tok[0] == 'c')
				a->column = (size_t)v;
			else
				a->group = (size_t)v;
		} else if (strncmp(tok, "sep=", 4) == 0) {
			if (strcmp(tok + 4, "tab") == 0)
				a->sep = '\t';
			else if (strlen(tok + 4) == 1)
				a->sep = (unsigned char)tok[4];
			else
				goto bad;
		} else if (strncmp(tok, "percentiles=", 12) == 0) {
			a->npct = 0;
			for (p = tok + 12; *p != '\0'; p = end + (*end == ',')) {
				errno = 0;
				d = strtod(p, &end);
				if (errno != 0 || end == p || d < 0 || d > 100 ||
				    a->npct == AGG_PCT_MAX ||
				    (*end != ',' && *end != '\0'))
					goto bad;
				a->pct[a->npct++] = d;
			}
		} else
			goto bad;
	}
	return 0;
bad:
	call->error(call, "bad option \"%s\" (column=N group=M sep=C header "
	    "percentiles=P,P)", tok);
	return -1;
}

/* Field number n (1-based) of line [p, e) into buf; -1 if absent. */
static int
agg_field(const struct agg *a, const char *p, const char *e, size_t n,
    char *buf, size_t size)
{
	const char	*f = p, *fe;
	size_t		 i = 1, len;

	for (;;) {
		if (a->sep == 0) {
			while (f < e && (*f == ' ' || *f == '\t'))
				f++;
			if (f == e)
				return -1;
			for (fe = f; fe < e && *fe != ' ' && *fe != '\t'; fe++)
				;
		} else {
			for (fe = f; fe < e && *fe != a->sep; fe++)
				;
		}
		if (i == n)
			break;
		if (fe == e)
			return -1;
		f = fe + (a->sep != 0);
		i++;
	}
	len = (size_t)(fe - f);
	if (len >= size)
		len = size - 1;
	memcpy(buf, f, len);
	buf[len] = '\0';
	/* A CSV field may be quoted; no embedded separators, though. */
	if (len >= 2 && buf[0] == '"' && buf[len - 1] == '"') {
		memmove(buf, buf + 1, len - 2);
		buf[len - 2] = '\0';
	}
	return 0;
}

static struct agg_group *
agg_group(struct agg *a, const char *key)
{
	struct agg_group	*g;
	size_t			 i;

	/* Linear: groups are few (a report's categories). */
	for (i = 0; i < a->ng; i++) {
		if ((a->g[i].key == NULL && key == NULL) ||
		    (key != NULL && a->g[i].key != NULL &&
		    strcmp(a->g[i].key, key) == 0))
			return &a->g[i];
	}
	if (a->ng == a->capg) {
		g = reallocarray(a->g, a->capg ? a->capg * 2 : 8, sizeof *g);
		if (g == NULL)
			return NULL;
		a->g = g;
		a->capg = a->capg ? a->capg * 2 : 8;
	}
	g = &a->g[a->ng];
	memset(g, 0, sizeof *g);
	if (key != NULL && (g->key = strdup(key)) == NULL)
		return NULL;
	a->ng++;
	return g;
}

static int
agg_add(struct agg_group *g, double v)
{
	double	*nv;

	if (g->n == g->cap) {
		nv = reallocarray(g->v, g->cap ? g->cap * 2 : 1024, sizeof *nv);
		if (nv == NULL)
			return -1;
		g->v = nv;
		g->cap = g->cap ? g->cap * 2 : 1024;
	}
	g->v[g->n++] = v;
	g->sum += v;
	return 0;
}

static int
agg_cmp(const void *x, const void *y)
{
	double	a = *(const double *)x, b = *(const double *)y;

	return a < b ? -1 : a > b;
}

static void
agg_out_str(struct commis_call *call, const char *s)
{
	char	buf[8];

	call->write(call, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\') {
			buf[0] = '\\';
			buf[1] = *s;
			call->write(call, buf, 2);
		} else if ((unsigned char)*s < 0x20) {
			snprintf(buf, sizeof buf, "\\u%04x", (unsigned char)*s);
			call->write(call, buf, 6);
		} else
			call->write(call, s, 1);
	}
	call->write(call, "\"", 1);
}

static void
agg_out(struct commis_call *call, const struct agg *a, struct agg_group *g)
{
	char	buf[128];
	size_t	i, rank;
	double	r;
	int	n;

	qsort(g->v, g->n, sizeof *g->v, agg_cmp);
	n = snprintf(buf, sizeof buf, "{\"count\":%zu", g->n);
	call->write(call, buf, (size_t)n);
	if (g->n > 0) {
		n = snprintf(buf, sizeof buf, ",\"sum\":%.15g,\"mean\":%.15g,"
		    "\"min\":%.15g,\"max\":%.15g", g->sum, g->sum / (double)g->n,
		    g->v[0], g->v[g->n - 1]);
		call->write(call, buf, (size_t)n);
		for (i = 0; i < a->npct; i++) {
			/* Nearest rank: the smallest value with at least
			 * P % of the values at or below it. */
			r = a->pct[i] / 100.0 * (double)g->n;
			rank = (size_t)r;
			if ((double)rank < r)
				rank++;
			if (rank < 1)
				rank = 1;
			n = snprintf(buf, sizeof buf, ",\"p%g\":%.15g",
			    a->pct[i], g->v[rank - 1]);
			call->write(call, buf, (size_t)n);
		}
	}
	call->write(call, "}", 1);
}

static int
builtin_aggregate(struct commis_call *call)
{
	struct agg		 a;
	struct agg_group	*g;
	const char		*p = (const char *)call->input, *e, *le;
	const char		*end = p + call->input_len;
	char			 opt[1024], field[AGG_FIELD_MAX], key[AGG_FIELD_MAX];
	char			*num_end;
	size_t			 lineno = 0, i;
	double			 v;
	int			 rc = -1, first = 1;

	memset(&a, 0, sizeof a);
	a.column = 1;
	a.sep = -1;
	a.pct[0] = 50;
	a.pct[1] = 90;
	a.pct[2] = 99;
	a.npct = 3;
	for (; p < end; p = le + (le < end)) {
		if ((le = memchr(p, '\n', (size_t)(end - p))) == NULL)
			le = end;
		e = le > p && le[-1] == '\r' ? le - 1 : le;
		lineno++;
		if (lineno == 1 && (size_t)(e - p) >= 10 &&
		    memcmp(p, "aggregate:", 10) == 0) {
			if ((size_t)(e - p) - 10 >= sizeof opt) {
				call->error(call, "option line too long");
				goto out;
			}
			memcpy(opt, p + 10, (size_t)(e - p) - 10);
			opt[e - p - 10] = '\0';
			if (agg_options(call, &a, opt) == -1)
				goto out;
			continue;
		}
		if (e == p)
			continue;
		if (a.sep == -1)
			a.sep = memchr(p, ',', (size_t)(e - p)) != NULL ? ',' : 0;
		if (first && a.header) {
			first = 0;
			continue;
		}
		first = 0;
		if (agg_field(&a, p, e, a.column, field, sizeof field) == -1) {
			call->error(call, "line %zu: no column %zu", lineno,
			    a.column);
			goto out;
		}
		errno = 0;
		v = strtod(field, &num_end);
		while (*num_end == ' ')
			num_end++;
		if (errno != 0 || num_end == field || *num_end != '\0' ||
		    !isfinite(v)) {
			call->error(call, "line %zu: \"%s\" is not a number",
			    lineno, field);
			goto out;
		}
		if (a.group > 0 && agg_field(&a, p, e, a.group, key,
		    sizeof key) == -1) {
			call->error(call, "line %zu: no column %zu", lineno,
			    a.group);
			goto out;
		}
		if ((g = agg_group(&a, a.group > 0 ? key : NULL)) == NULL ||
		    agg_add(g, v) == -1) {
			call->error(call, "out of memory at line %zu", lineno);
			goto out;
		}
	}
	if (a.group == 0) {
		if ((g = agg_group(&a, NULL)) == NULL) {
			call->error(call, "out of memory");
			goto out;
		}
		agg_out(call, &a, g);
	} else {
		call->write(call, "{\"groups\":{", 11);
		for (i = 0; i < a.ng; i++) {
			if (i > 0)
				call->write(call, ",", 1);
			agg_out_str(call, a.g[i].key);
			call->write(call, ":", 1);
			agg_out(call, &a, &a.g[i]);
		}
		call->write(call, "}}", 2);
	}
	rc = 0;
out:
	for (i = 0; i < a.ng; i++) {
		free(a.g[i].key);
		free(a.g[i].v);
	}
	free(a.g);
	return rc;
}

static const struct commis_handler aggregate_handlers[] = {
	{ "aggregate", COMMIS_HANDLER_THREAD_SAFE, NULL, builtin_aggregate,
	    NULL },
};

const struct commis_module aggregate_module = {
	COMMIS_HANDLER_ABI,
	sizeof aggregate_handlers / sizeof aggregate_handlers[0],
	aggregate_handlers,
};
