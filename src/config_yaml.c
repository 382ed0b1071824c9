/*
 * Reading the configuration's YAML into a small tree, part of the config
 * module (see config.h). libyaml's events become cnodes while this file
 * enforces the limits libyaml 0.2.5 lacks (nesting depth, scalar length,
 * node count; the document size is config.c's) and rejects aliases, which
 * could otherwise multiply a small document. It also keeps the error
 * report: problems with their file:line:column, sorted by position at the
 * end. It knows nothing of the keys: config.c walks the tree against the
 * key tables of config_keys.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config_keys.h"
#include "config_yaml.h"

struct cerr_line {
	size_t		 line;		/* 0: no position */
	size_t		 column;
	unsigned	 seq;
	char		*text;
};

void __attribute__((format(printf, 3, 4)))
cerr_add(struct cerr *e, const yaml_mark_t *m, const char *fmt, ...)
{
	struct cerr_line	*l;
	char			 msg[1024];
	va_list			 ap;
	size_t			 cap;
	int			 rv;

	e->n++;
	if (e->nomem)
		return;
	if (e->nlines == e->cap) {
		cap = e->cap ? e->cap * 2 : 8;
		if ((l = reallocarray(e->lines, cap, sizeof *l)) == NULL) {
			e->nomem = 1;
			return;
		}
		e->lines = l;
		e->cap = cap;
	}
	l = &e->lines[e->nlines];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	l->seq = e->n;
	if (m != NULL) {
		l->line = m->line + 1;
		l->column = m->column + 1;
		rv = asprintf(&l->text, "%s:%zu:%zu: %s", e->name, l->line,
		    l->column, msg);
	} else {
		l->line = l->column = 0;
		rv = asprintf(&l->text, "%s: %s", e->name, msg);
	}
	if (rv == -1)
		e->nomem = 1;
	else
		e->nlines++;
}

static int
cerr_cmp(const void *a, const void *b)
{
	const struct cerr_line	*x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Joins the lines for the caller, or just frees them if it wants none. */
void
cerr_finish(struct cerr *e, char **errors)
{
	FILE	*f = NULL;
	char	*buf = NULL;
	size_t	 i, len;

	qsort(e->lines, e->nlines, sizeof *e->lines, cerr_cmp);
	if (errors != NULL && !e->nomem &&
	    (f = open_memstream(&buf, &len)) != NULL) {
		for (i = 0; i < e->nlines && i < CONFIG_ERRORS_MAX; i++)
			fprintf(f, "%s%s", i ? "\n" : "", e->lines[i].text);
		if (e->nlines > CONFIG_ERRORS_MAX)
			fprintf(f, "\n%s: %zu more errors not shown", e->name,
			    e->nlines - CONFIG_ERRORS_MAX);
		if (fclose(f) != 0) {
			free(buf);
			buf = NULL;
		}
	}
	if (errors != NULL)
		*errors = buf != NULL ? buf : strdup("out of memory");
	for (i = 0; i < e->nlines; i++)
		free(e->lines[i].text);
	free(e->lines);
	e->lines = NULL;
	e->nlines = e->cap = 0;
}

const char *
cnode_what(const struct cnode *n)
{
	switch (n->kind) {
	case CN_SEQ:
		return "a list";
	case CN_MAP:
		return "a mapping";
	default:
		return "a scalar";
	}
}

int
cnode_null(const struct cnode *n)
{
	struct config_scalar	v;

	v.s = n->s;
	v.len = n->len;
	v.plain = n->plain;
	return config_scalar_null(&v);
}

void
cnode_free(struct cnode *n)
{
	size_t	i;

	if (n == NULL)
		return;
	for (i = 0; i < n->nkids; i++)
		cnode_free(n->kids[i]);
	free(n->kids);
	free(n->s);
	free(n);
}

/* A new node, attached to the open collection or made the root. */
static struct cnode *
cload_node(struct cload *l, const yaml_event_t *ev, enum cnode_kind kind)
{
	struct cnode	*n, *parent, **kids;
	size_t		 cap;

	if (++l->nodes > CONFIG_NODES_MAX) {
		cerr_add(&l->err, &ev->start_mark, "more than %d nodes",
		    CONFIG_NODES_MAX);
		return NULL;
	}
	if ((n = calloc(1, sizeof *n)) == NULL)
		goto nomem;
	n->kind = kind;
	n->mark = ev->start_mark;
	if (l->depth == 0) {
		if (l->root != NULL) {	/* cannot happen: one document */
			free(n);
			cerr_add(&l->err, &ev->start_mark, "a second root");
			return NULL;
		}
		l->root = n;
		return n;
	}
	parent = l->stack[l->depth - 1];
	if (parent->nkids == parent->cap) {
		cap = parent->cap ? parent->cap * 2 : 8;
		if ((kids = reallocarray(parent->kids, cap, sizeof *kids)) ==
		    NULL) {
			free(n);
			goto nomem;
		}
		parent->kids = kids;
		parent->cap = cap;
	}
	parent->kids[parent->nkids++] = n;
	return n;

nomem:
	cerr_add(&l->err, NULL, "out of memory");
	return NULL;
}

static int
cload_scalar(struct cload *l, const yaml_event_t *ev)
{
	struct cnode	*n;
	size_t		 len = ev->data.scalar.length;

	if ((n = cload_node(l, ev, CN_SCALAR)) == NULL)
		return -1;
	if (len > CONFIG_SCALAR_MAX) {
		cerr_add(&l->err, &ev->start_mark,
		    "scalar longer than %d bytes", CONFIG_SCALAR_MAX);
		n->bad = 1;
		return 0;
	}
	if ((n->s = malloc(len + 1)) == NULL) {
		cerr_add(&l->err, NULL, "out of memory");
		return -1;
	}
	memcpy(n->s, ev->data.scalar.value, len);
	n->s[len] = '\0';
	n->len = len;
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    ev->data.scalar.plain_implicit;
	return 0;
}

/* Builds the tree from one event; -1 when parsing must stop. */
static int
cload_event(struct cload *l, const yaml_event_t *ev)
{
	struct cnode	*n;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (l->docs++ == 0)
			return 0;
		cerr_add(&l->err, &ev->start_mark,
		    "only one YAML document is allowed");
		return -1;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		if (l->depth == CONFIG_DEPTH_MAX) {
			cerr_add(&l->err, &ev->start_mark,
			    "nested deeper than %d levels", CONFIG_DEPTH_MAX);
			return -1;
		}
		n = cload_node(l, ev, ev->type == YAML_MAPPING_START_EVENT ?
		    CN_MAP : CN_SEQ);
		if (n == NULL)
			return -1;
		l->stack[l->depth++] = n;
		return 0;
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		l->depth--;
		return 0;
	case YAML_SCALAR_EVENT:
		return cload_scalar(l, ev);
	case YAML_ALIAS_EVENT:
		if ((n = cload_node(l, ev, CN_SCALAR)) == NULL)
			return -1;
		n->bad = 1;
		cerr_add(&l->err, &ev->start_mark,
		    "aliases are not supported");
		return 0;
	default:
		return 0;
	}
}

static void
cload_yaml_error(struct cload *l, const yaml_parser_t *p)
{
	yaml_mark_t	m;
	size_t		i;

	switch (p->error) {
	case YAML_MEMORY_ERROR:
		cerr_add(&l->err, NULL, "out of memory");
		break;
	case YAML_READER_ERROR:
		/* Reader errors have an offset but no mark. */
		memset(&m, 0, sizeof m);
		for (i = 0; i < p->problem_offset && i < l->textlen; i++) {
			if (l->text[i] == '\n') {
				m.line++;
				m.column = 0;
			} else
				m.column++;
		}
		cerr_add(&l->err, &m, "%s", p->problem);
		break;
	default:
		if (p->context != NULL)
			cerr_add(&l->err, &p->problem_mark,
			    "%s (%s at line %zu, column %zu)", p->problem,
			    p->context, p->context_mark.line + 1,
			    p->context_mark.column + 1);
		else
			cerr_add(&l->err, &p->problem_mark, "%s", p->problem);
		break;
	}
}

/* Parses l->text into l->root; -1 if the tree is not usable. */
int
cload_parse(struct cload *l)
{
	yaml_parser_t	parser;
	yaml_event_t	ev;
	int		done = 0, rv = 0;

	if (!yaml_parser_initialize(&parser)) {
		cerr_add(&l->err, NULL, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)l->text,
	    l->textlen);
	while (!done && rv == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			cload_yaml_error(l, &parser);
			rv = -1;
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rv = cload_event(l, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return rv;
}
