/*
 * The metrics endpoint against a real commisd listening on a Unix socket
 * (no TCP port to race for): /metrics parses as the Prometheus text format
 * (by `promtool check metrics` when it is on PATH, and always by the rules
 * checked here), its counters match the jobs run, /healthz answers and
 * turns 503 while draining. Also the metrics_listen key's validation.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "testlib.h"

#define HTTP_MAX	(4 * 1024 * 1024)

/* A tiny HTTP/1.0 client. */

struct http_reply {
	int	 status;
	char	 ctype[128];
	char	*body;		/* NUL-terminated */
	size_t	 len;
};

static void
http_reply_free(struct http_reply *r)
{
	free(r->body);
	memset(r, 0, sizeof *r);
}

/* 0 with the reply, -1 when nothing accepts on path. */
static int
http_request(const char *path, const char *method, const char *target,
    struct http_reply *r)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv = { 10, 0 };
	char			*buf, *hdr, *line, *end, req[256];
	size_t			 len = 0, n;
	ssize_t			 got = 0;
	int			 fd;

	memset(r, 0, sizeof *r);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	ck_assert_uint_lt(strlen(path), sizeof sun.sun_path);
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	n = (size_t)snprintf(req, sizeof req, "%s %s HTTP/1.0\r\n"
	    "Host: localhost\r\n\r\n", method, target);
	ck_assert_int_eq(write(fd, req, n), (ssize_t)n);
	buf = malloc(HTTP_MAX + 1);
	ck_assert_ptr_nonnull(buf);
	while (len < HTTP_MAX && (got = read(fd, buf + len, HTTP_MAX - len)) >
	    0)
		len += (size_t)got;
	ck_assert_msg(got == 0 || len == HTTP_MAX, "read: %s",
	    strerror(errno));
	close(fd);
	buf[len] = '\0';

	ck_assert_msg(sscanf(buf, "HTTP/1.%*d %d ", &r->status) == 1,
	    "bad status line: %.60s", buf);
	hdr = strstr(buf, "\r\n\r\n");
	ck_assert_msg(hdr != NULL, "no end of headers");
	*hdr = '\0';
	for (line = strstr(buf, "\r\n"); line != NULL; line = end) {
		line += 2;
		end = strstr(line, "\r\n");
		if (end != NULL)
			*end = '\0';
		if (strncasecmp(line, "Content-Type:", 13) == 0)
			snprintf(r->ctype, sizeof r->ctype, "%s",
			    line + 13 + strspn(line + 13, " \t"));
		if (end != NULL)
			*end = '\r';
	}
	r->len = len - (size_t)(hdr + 4 - buf);
	r->body = malloc(r->len + 1);
	ck_assert_ptr_nonnull(r->body);
	memcpy(r->body, hdr + 4, r->len + 1);
	free(buf);
	return 0;
}

static void
http_get(const char *path, const char *target, struct http_reply *r)
{
	ck_assert_msg(http_request(path, "GET", target, r) == 0,
	    "nothing listens on %s", path);
}

/*
 * The text exposition format's rules, checked here so the test means
 * something without promtool: every sample's metric name has a TYPE (and
 * HELP) for its family before it; a family's lines are together; names
 * and labels have the right syntax and label values the right escapes;
 * values are numbers; no sample repeats; counters are named *_total and
 * are not negative; a histogram's buckets have increasing le, cumulative
 * counts, and le="+Inf" equal to _count, with a _sum.
 */

#define PV_NAME		128
#define PV_LABELS	512

struct pv_family {
	char	name[PV_NAME];
	char	type[16];
	int	help;
	int	samples;
	int	closed;		/* another family came after it */
};

struct pv_group {		/* one histogram: a family and labels but le */
	char	key[PV_NAME + PV_LABELS + 8];
	double	last_le;
	double	last_count;
	int	buckets;
	int	has_inf;
	double	inf;
	int	has_count;
	double	count;
	int	has_sum;
};

struct pv {
	struct pv_family	 fam[256];
	size_t			 nfam;
	struct pv_group		 grp[256];
	size_t			 ngrp;
	char			**seen;
	size_t			 nseen;
	int			 cur;
	char			*err;
	size_t			 errlen;
	int			 lineno;
};

static int
pv_fail(struct pv *v, const char *fmt, const char *arg)
{
	char	msg[1024];

	snprintf(msg, sizeof msg, fmt, arg);
	snprintf(v->err, v->errlen, "line %d: %s", v->lineno, msg);
	return -1;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]*, or without ':' for a label name. */
static size_t
pv_name(const char *s, int colon)
{
	size_t	i;

	for (i = 0; s[i] != '\0'; i++) {
		if (isalpha((unsigned char)s[i]) || s[i] == '_' ||
		    (colon && s[i] == ':'))
			continue;
		if (i > 0 && isdigit((unsigned char)s[i]))
			continue;
		break;
	}
	return i;
}

static int
pv_number(const char *s, double *d)
{
	char	*end;

	if (strcmp(s, "+Inf") == 0 || strcmp(s, "Inf") == 0)
		*d = INFINITY;
	else if (strcmp(s, "-Inf") == 0)
		*d = -INFINITY;
	else if (strcmp(s, "NaN") == 0)
		*d = NAN;
	else {
		if (*s == '\0' || isspace((unsigned char)*s))
			return -1;
		*d = strtod(s, &end);
		if (*end != '\0' || isinf(*d) || isnan(*d))
			return -1;
	}
	return 0;
}

static struct pv_family *
pv_find(struct pv *v, const char *name)
{
	size_t	i;

	for (i = 0; i < v->nfam; i++) {
		if (strcmp(v->fam[i].name, name) == 0)
			return &v->fam[i];
	}
	return NULL;
}

/* The family's lines start or continue here; earlier ones are closed. */
static int
pv_enter(struct pv *v, struct pv_family *f)
{
	int	i = (int)(f - v->fam);

	if (i == v->cur)
		return 0;
	if (f->closed)
		return pv_fail(v, "%s: its lines are not together", f->name);
	if (v->cur >= 0)
		v->fam[v->cur].closed = 1;
	v->cur = i;
	return 0;
}

static int
pv_comment(struct pv *v, char *line)
{
	struct pv_family	*f;
	char			*kind, *name, *rest;
	static const char *const types[] = { "counter", "gauge",
				    "histogram", "summary", "untyped" };
	size_t			 i;

	kind = line + 2;
	if (strncmp(line, "# ", 2) != 0 || (strncmp(kind, "HELP ", 5) != 0 &&
	    strncmp(kind, "TYPE ", 5) != 0))
		return 0;		/* a plain comment */
	name = kind + 5;
	if (pv_name(name, 1) == 0)
		return pv_fail(v, "bad metric name in %s", line);
	rest = name + pv_name(name, 1);
	if (*rest != ' ' && !(kind[0] == 'H' && *rest == '\0'))
		return pv_fail(v, "bad metric name in %s", line);
	if (*rest == ' ')
		*rest++ = '\0';
	if ((f = pv_find(v, name)) == NULL) {
		ck_assert_uint_lt(v->nfam, sizeof v->fam / sizeof v->fam[0]);
		f = &v->fam[v->nfam++];
		snprintf(f->name, sizeof f->name, "%s", name);
	}
	if (pv_enter(v, f) == -1)
		return -1;
	if (kind[0] == 'H') {
		if (f->help++)
			return pv_fail(v, "%s: a second HELP", name);
		for (; *rest != '\0'; rest++) {
			if (*rest == '\\' && rest[1] != '\\' && rest[1] != 'n')
				return pv_fail(v, "%s: bad escape in HELP",
				    name);
			if (*rest == '\\')
				rest++;
		}
		return 0;
	}
	if (f->type[0] != '\0')
		return pv_fail(v, "%s: a second TYPE", name);
	if (f->samples)
		return pv_fail(v, "%s: TYPE after its samples", name);
	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		if (strcmp(rest, types[i]) == 0)
			break;
	}
	if (i == sizeof types / sizeof types[0])
		return pv_fail(v, "bad type '%s'", rest);
	snprintf(f->type, sizeof f->type, "%s", rest);
	if (strcmp(f->type, "counter") == 0 &&
	    (strlen(name) < 6 || strcmp(name + strlen(name) - 6, "_total") != 0))
		return pv_fail(v, "counter %s does not end in _total", name);
	return 0;
}

/*
 * {name="value",...}: checks the syntax, fills le (or "" when absent) and
 * others (the labels but le, as written). Returns the length, or -1.
 */
static int
pv_labels(struct pv *v, const char *s, char *le, size_t lelen,
    char *others, size_t olen)
{
	const char	*p = s + 1, *lname, *val;
	char		 names[16][PV_NAME];
	size_t		 n, nnames = 0, i, vlen;

	le[0] = others[0] = '\0';
	while (*p != '}') {
		lname = p;
		if ((n = pv_name(p, 0)) == 0)
			return pv_fail(v, "bad label name at %.20s", p);
		if (n >= PV_NAME || nnames == 16)
			return pv_fail(v, "label too long at %.20s", p);
		if (strncmp(lname, "__", 2) == 0)
			return pv_fail(v, "reserved label name at %.20s", p);
		for (i = 0; i < nnames; i++) {
			if (strlen(names[i]) == n &&
			    strncmp(names[i], lname, n) == 0)
				return pv_fail(v, "duplicate label at %.20s",
				    lname);
		}
		snprintf(names[nnames++], PV_NAME, "%.*s", (int)n, lname);
		p += n;
		if (p[0] != '=' || p[1] != '"')
			return pv_fail(v, "expected =\" at %.20s", p);
		val = p += 2;
		for (; *p != '"'; p++) {
			if (*p == '\0' || *p == '\n')
				return pv_fail(v, "unterminated label value %s",
				    val);
			if (*p == '\\') {
				if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
					return pv_fail(v, "bad escape in %s",
					    val);
				p++;
			}
		}
		vlen = (size_t)(p - val);
		p++;
		if (n == 2 && strncmp(lname, "le", 2) == 0)
			snprintf(le, lelen, "%.*s", (int)vlen, val);
		else
			snprintf(others + strlen(others), olen - strlen(others),
			    "%s%.*s", others[0] ? "," : "", (int)(p - lname),
			    lname);
		if (*p == ',')
			p++;
		else if (*p != '}')
			return pv_fail(v, "expected , or } at %.20s", p);
	}
	return (int)(p + 1 - s);
}

static struct pv_group *
pv_group(struct pv *v, const char *fam, const char *labels)
{
	char	key[sizeof v->grp[0].key];
	size_t	i;

	snprintf(key, sizeof key, "%s{%s}", fam, labels);
	for (i = 0; i < v->ngrp; i++) {
		if (strcmp(v->grp[i].key, key) == 0)
			return &v->grp[i];
	}
	ck_assert_uint_lt(v->ngrp, sizeof v->grp / sizeof v->grp[0]);
	memset(&v->grp[v->ngrp], 0, sizeof v->grp[0]);
	snprintf(v->grp[v->ngrp].key, sizeof key, "%s", key);
	v->grp[v->ngrp].last_le = -INFINITY;
	return &v->grp[v->ngrp++];
}

static int
pv_histogram(struct pv *v, const struct pv_family *f, const char *suffix,
    const char *le, const char *labels, double val)
{
	struct pv_group	*g = pv_group(v, f->name, labels);
	double		 bound;

	if (strcmp(suffix, "_bucket") == 0) {
		if (le[0] == '\0' || pv_number(le, &bound) == -1 ||
		    isnan(bound))
			return pv_fail(v, "%s: bucket without a valid le",
			    f->name);
		if (bound <= g->last_le)
			return pv_fail(v, "%s: le not increasing", f->name);
		if (val < g->last_count)
			return pv_fail(v, "%s: buckets not cumulative",
			    f->name);
		g->last_le = bound;
		g->last_count = val;
		g->buckets++;
		if (isinf(bound)) {
			g->has_inf = 1;
			g->inf = val;
		}
	} else if (le[0] != '\0')
		return pv_fail(v, "%s: le outside a bucket", f->name);
	else if (strcmp(suffix, "_count") == 0) {
		g->has_count = 1;
		g->count = val;
	} else if (strcmp(suffix, "_sum") == 0)
		g->has_sum = 1;
	else
		return pv_fail(v, "%s: a histogram sample without a suffix",
		    f->name);
	return 0;
}

static int
pv_sample(struct pv *v, char *line)
{
	static const char *const sfx[] = { "_bucket", "_count", "_sum" };
	struct pv_family	*f;
	char			 name[PV_NAME], base[PV_NAME], le[64];
	char			 labels[PV_LABELS], id[PV_NAME + PV_LABELS + 80];
	const char		*suffix = "";
	char			*p = line, *val, *ts;
	size_t			 n, i;
	double			 d;
	int			 l;

	if ((n = pv_name(p, 1)) == 0 || n >= sizeof name)
		return pv_fail(v, "bad metric name in %s", line);
	snprintf(name, sizeof name, "%.*s", (int)n, p);
	p += n;
	labels[0] = le[0] = '\0';
	if (*p == '{') {
		if ((l = pv_labels(v, p, le, sizeof le, labels,
		    sizeof labels)) == -1)
			return -1;
		p += l;
	}
	if (*p != ' ')
		return pv_fail(v, "expected a space before the value: %s",
		    line);
	val = p + strspn(p, " ");
	if ((ts = strchr(val, ' ')) != NULL) {
		*ts++ = '\0';
		if (*ts == '\0' || strspn(ts, "-0123456789") != strlen(ts))
			return pv_fail(v, "bad timestamp in %s", line);
	}
	if (pv_number(val, &d) == -1)
		return pv_fail(v, "bad value '%s'", val);

	/* Its family: the name itself, or a histogram's base. */
	f = pv_find(v, name);
	for (i = 0; (f == NULL || f->type[0] == '\0') &&
	    i < sizeof sfx / sizeof sfx[0]; i++) {
		n = strlen(name) - strlen(sfx[i]);
		if (strlen(name) <= strlen(sfx[i]) ||
		    strcmp(name + n, sfx[i]) != 0)
			continue;
		snprintf(base, sizeof base, "%.*s", (int)n, name);
		f = pv_find(v, base);
		if (f != NULL && strcmp(f->type, "histogram") == 0)
			suffix = sfx[i];
		else
			f = NULL;
	}
	if (f == NULL || f->type[0] == '\0')
		return pv_fail(v, "%s: no TYPE line before it", name);
	if (!f->help)
		return pv_fail(v, "%s: no HELP line before it", name);
	if (pv_enter(v, f) == -1)
		return -1;
	f->samples++;

	snprintf(id, sizeof id, "%s{%s,le=%s}", name, labels, le);
	for (i = 0; i < v->nseen; i++) {
		if (strcmp(v->seen[i], id) == 0)
			return pv_fail(v, "duplicate sample %s", id);
	}
	v->seen = realloc(v->seen, (v->nseen + 1) * sizeof *v->seen);
	ck_assert_ptr_nonnull(v->seen);
	v->seen[v->nseen++] = strdup(id);

	if (strcmp(f->type, "counter") == 0 && !(d >= 0))
		return pv_fail(v, "counter %s is negative or NaN", name);
	if (strcmp(f->type, "histogram") == 0)
		return pv_histogram(v, f, suffix, le, labels, d);
	if (le[0] != '\0' && strcmp(f->type, "summary") != 0)
		return pv_fail(v, "%s: le label outside a histogram", name);
	return 0;
}

static int
prom_validate(const char *body, char *err, size_t errlen)
{
	struct pv	*v;
	char		*copy, *line, *next;
	size_t		 i;
	int		 rv = 0;

	snprintf(err, errlen, "ok");
	if (body[0] == '\0' || body[strlen(body) - 1] != '\n') {
		snprintf(err, errlen, "empty, or no newline at the end");
		return -1;
	}
	v = calloc(1, sizeof *v);
	ck_assert_ptr_nonnull(v);
	v->cur = -1;
	v->err = err;
	v->errlen = errlen;
	copy = strdup(body);
	ck_assert_ptr_nonnull(copy);
	for (line = copy; rv == 0 && *line != '\0'; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		v->lineno++;
		if (line[0] == '\0')
			continue;
		if (line[0] == '#')
			rv = pv_comment(v, line);
		else
			rv = pv_sample(v, line);
	}
	for (i = 0; rv == 0 && i < v->ngrp; i++) {
		if (!v->grp[i].has_inf || !v->grp[i].has_count ||
		    !v->grp[i].has_sum)
			rv = pv_fail(v, "%s: no +Inf bucket, _count or _sum",
			    v->grp[i].key);
		else if (v->grp[i].inf != v->grp[i].count)
			rv = pv_fail(v, "%s: le=\"+Inf\" is not _count",
			    v->grp[i].key);
	}
	for (i = 0; i < v->nseen; i++)
		free(v->seen[i]);
	free(v->seen);
	free(copy);
	free(v);
	return rv;
}

/* The value of the sample written exactly as id ("name{labels}"), or -1. */
static double
sample_value(const char *body, const char *id)
{
	const char	*p = body;
	size_t		 n = strlen(id);

	while ((p = strstr(p, id)) != NULL) {
		if ((p == body || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

/* promtool, if it is on PATH: its path in buf. */
static int
promtool_find(char *buf, size_t len)
{
	const char	*path = getenv("PATH");
	char		*copy, *dir, *save = NULL;
	int		 found = 0;

	if (path == NULL)
		return 0;
	copy = strdup(path);
	ck_assert_ptr_nonnull(copy);
	for (dir = strtok_r(copy, ":", &save); dir != NULL && !found;
	    dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, len, "%s/promtool", dir[0] ? dir : ".");
		found = access(buf, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* `promtool check metrics` on body: its exit status, output in out. */
static int
promtool_check(const char *tool, const char *dir, const char *body,
    char *out, size_t outlen)
{
	char	in_path[4096], out_path[4096];
	FILE	*f;
	pid_t	 pid;
	int	 status, fd;
	size_t	 n;

	snprintf(in_path, sizeof in_path, "%s/metrics.txt", dir);
	snprintf(out_path, sizeof out_path, "%s/promtool.out", dir);
	f = fopen(in_path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(body, f);
	ck_assert_int_eq(fclose(f), 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if ((fd = open(in_path, O_RDONLY)) == -1 || dup2(fd, 0) == -1 ||
		    (fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) ==
		    -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
			_exit(126);
		execl(tool, "promtool", "check", "metrics", (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	out[0] = '\0';
	if ((f = fopen(out_path, "r")) != NULL) {
		n = fread(out, 1, outlen - 1, f);
		out[n] = '\0';
		fclose(f);
	}
	return status;
}

/* The body passes the checks here, and promtool's when it is there. */
static void
check_format(const char *dir, const char *body)
{
	char	err[512], tool[4096], out[4096];
	int	status;

	ck_assert_msg(prom_validate(body, err, sizeof err) == 0,
	    "/metrics: %s\n%s", err, body);
	if (!promtool_find(tool, sizeof tool))
		return;
	status = promtool_check(tool, dir, body, out, sizeof out);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "promtool check metrics: status %#x: %s", status, out);
}

/* The checker itself: it passes what it should and fails what it should. */

static const char good_body[] =
    "# a comment\n"
    "# HELP a_total Things.\n# TYPE a_total counter\n"
    "a_total{pool=\"p\\\"q\\\\r\\n\"} 1\na_total{pool=\"x\",} 2\n"
    "# HELP g A gauge.\n# TYPE g gauge\ng -1.5e3\ng{x=\"y\"} NaN 1700000000\n"
    "# HELP h_seconds Latency.\n# TYPE h_seconds histogram\n"
    "h_seconds_bucket{pool=\"p\",le=\"0.5\"} 1\n"
    "h_seconds_bucket{pool=\"p\",le=\"1\"} 1\n"
    "h_seconds_bucket{pool=\"p\",le=\"+Inf\"} 2\n"
    "h_seconds_sum{pool=\"p\"} 3.25\nh_seconds_count{pool=\"p\"} 2\n";

static const char *const bad_bodies[] = {
	"x 1\n",						/* no TYPE */
	"# HELP g x\ng 1\n",					/* no TYPE */
	"# TYPE g gauge\ng 1\n",				/* no HELP */
	"# HELP 1x x\n# TYPE 1x gauge\n1x 1\n",			/* name */
	"# HELP g x\n# TYPE g gauge\ng-x 1\n",			/* name */
	"# HELP c x\n# TYPE c counter\nc 1\n",			/* _total */
	"# HELP c_total x\n# TYPE c_total counter\nc_total -1\n",
	"# HELP g x\n# TYPE g gauge\ng{pool=p} 1\n",		/* quotes */
	"# HELP g x\n# TYPE g gauge\ng{pool=\"a\\q\"} 1\n",	/* escape */
	"# HELP g x\n# TYPE g gauge\ng{pool=\"a\"",		/* newline */
	"# HELP g x\n# TYPE g gauge\ng{pool=\"a\"} 1",		/* newline */
	"# HELP g x\n# TYPE g gauge\ng{pool=\"a\" x=\"b\"} 1\n",
	"# HELP g x\n# TYPE g gauge\ng{1x=\"a\"} 1\n",
	"# HELP g x\n# TYPE g gauge\ng{a=\"1\",a=\"2\"} 1\n",
	"# HELP g x\n# TYPE g gauge\ng 1x\n",			/* value */
	"# HELP g x\n# TYPE g gauge\ng\n",
	"# HELP g x\n# TYPE g gauge\ng 1\ng 2\n",		/* duplicate */
	"# HELP g x\n# TYPE g gauge\n# TYPE g gauge\ng 1\n",
	"# HELP g x\n# TYPE g nonsense\ng 1\n",
	"# HELP a x\n# TYPE a gauge\na 1\n# HELP b x\n# TYPE b gauge\nb 1\n"
	    "a{x=\"1\"} 2\n",					/* apart */
	"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
	    "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",	/* cumulative */
	"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"2\"} 1\n"
	    "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n"
	    "h_count 1\n",					/* le order */
	"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
	    "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",	/* +Inf */
	"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
	    "h_sum 1\nh_count 1\n",				/* no +Inf */
	"# HELP h x\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n"
	    "h_count 1\n",					/* no _sum */
	"# HELP h x\n# TYPE h histogram\nh_bucket 1\n",		/* no le */
	"# HELP h x\n# TYPE h histogram\nh 1\n",		/* no suffix */
	"",
};

START_TEST(test_checker)
{
	char	err[512];

	ck_assert_msg(prom_validate(good_body, err, sizeof err) == 0, "%s",
	    err);
}
END_TEST

START_TEST(test_checker_bad)
{
	char	err[512];

	ck_assert_msg(prom_validate(bad_bodies[_i], err, sizeof err) == -1,
	    "passed: %s", bad_bodies[_i]);
}
END_TEST

/* metrics_listen: empty, an absolute path, or HOST:PORT. */

static const char *const listen_good[] = {
	"", "127.0.0.1:9187", "[::1]:9187", "localhost:1", "0.0.0.0:65535",
	"/run/commis/metrics.sock", "[::]:80",
};

static const char *const listen_bad[] = {
	"9187", ":9187", "host:0", "host:65536", "host:", "host:12x",
	"host:-1", "::1:9187", "[::1]9187", "[]:80", "a]:80", "[::1:80",
	"relative/metrics.sock", "metrics.sock",
	("/very/long/path/to/a/socket/that/does/not/fit/in/sun_path/because/"
	"it/is/longer/than/one/hundred/and/eight/bytes.sock"),
};

START_TEST(test_listen_good)
{
	struct config	*cfg;
	char		 yaml[256], *errs = NULL;

	snprintf(yaml, sizeof yaml, "metrics_listen: \"%s\"\n",
	    listen_good[_i]);
	cfg = config_load_string("t.yaml", yaml, strlen(yaml), &errs);
	ck_assert_msg(cfg != NULL, "%s: %s", listen_good[_i], errs);
	ck_assert_str_eq(cfg->metrics_listen, listen_good[_i]);
	config_free(cfg);
}
END_TEST

START_TEST(test_listen_bad)
{
	struct config	*cfg;
	char		 yaml[256], *errs = NULL;

	snprintf(yaml, sizeof yaml, "metrics_listen: \"%s\"\n",
	    listen_bad[_i]);
	cfg = config_load_string("t.yaml", yaml, strlen(yaml), &errs);
	ck_assert_msg(cfg == NULL, "%s was accepted", listen_bad[_i]);
	ck_assert_ptr_nonnull(errs);
	ck_assert_msg(strncmp(errs, "t.yaml:1:", 9) == 0 &&
	    strstr(errs, "metrics_listen: ") != NULL, "%s", errs);
	free(errs);
}
END_TEST

START_TEST(test_listen_default)
{
	struct config	*cfg;

	cfg = config_load_string("t.yaml", "log_level: info\n", 16, NULL);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_str_eq(cfg->metrics_listen, "");
	config_free(cfg);
}
END_TEST

/* Integration: a real commisd. */

struct mctx {
	struct testd	 d;
	commis_client	*cl;
	char		*mdir;		/* the metrics socket's directory */
	char		 msock[108];
};

static void
mctx_start(struct mctx *m, const char *pools)
{
	char	yaml[2048];

	m->mdir = test_tmpdir();
	snprintf(m->msock, sizeof m->msock, "%s/metrics.sock", m->mdir);
	snprintf(yaml, sizeof yaml, "metrics_listen: %s\n%s", m->msock, pools);
	testd_start(&m->d, yaml);
	ck_assert_int_eq(commis_connect(m->d.sock, &m->cl), COMMIS_OK);
	/* An answer on the control socket: the loop runs, so sup_new, which
	 * binds the metrics socket, is done. */
	ck_assert_int_eq(commis_ping(m->cl, NULL), COMMIS_OK);
}

static void
mctx_stop(struct mctx *m)
{
	int	status;

	commis_close(m->cl);
	status = testd_stop(&m->d);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "commisd exit status %#x", status);
	test_rmdir(m->mdir);
	free(m->mdir);
}

static void
run_job(commis_client *cl, const char *handler, const char *data,
    const char *pool, int want)
{
	struct commis_result	r;

	ck_assert_msg(submit(cl, handler, data, pool, &r) == COMMIS_OK,
	    "%s %s: %s", handler, data, commis_client_error(cl));
	ck_assert_msg(r.status == want, "%s %s: status %d (%s)", handler,
	    data, r.status, r.cause);
	commis_result_free(&r);
}

struct metric_min {
	const char	*sock;
	const char	*id;
	double		 min;
};

static int
metric_reached(void *arg)
{
	struct metric_min	*a = arg;
	struct http_reply	 r;
	double			 v;

	http_get(a->sock, "/metrics", &r);
	v = sample_value(r.body, a->id);
	http_reply_free(&r);
	return v >= a->min;
}

static void
wait_metric(const char *sock, const char *id, double min)
{
	struct metric_min	a = { sock, id, min };

	ck_assert_msg(test_poll(metric_reached, &a, 10000),
	    "%s never reached %g", id, min);
}

static void
expect(const char *body, const char *id, double want)
{
	double	got = sample_value(body, id);

	ck_assert_msg(got == want, "%s: %g, want %g", id, got, want);
}

START_TEST(test_endpoint)
{
	struct mctx		 m;
	struct http_reply	 r;
	struct stat		 sb;
	int			 i;

	mctx_start(&m, "pools:\n"
	    "  - name: p\n    workers: 2\n    max_attempts: 1\n"
	    "  - name: q\n    workers: 1\n");
	for (i = 0; i < 5; i++)
		run_job(m.cl, "echo", "hello", "p", COMMIS_ST_SUCCEEDED);
	run_job(m.cl, "fault", "nonsense", "p", COMMIS_ST_FAILED);
	run_job(m.cl, "fault", "segv", "p", COMMIS_ST_CRASHED);
	run_job(m.cl, "echo", "hello", "q", COMMIS_ST_SUCCEEDED);

	/* Unix socket: socket_mode's default, 0660. */
	ck_assert_int_eq(lstat(m.msock, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	ck_assert_uint_eq(sb.st_mode & 0777, 0660);

	wait_metric(m.msock, "commis_worker_restarts_total{pool=\"p\"}", 1);
	http_get(m.msock, "/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.ctype, "text/plain; version=0.0.4");
	check_format(m.mdir, r.body);
	expect(r.body, "commis_up", 1);
	ck_assert(sample_value(r.body, "commis_uptime_seconds") > 0);
	expect(r.body, "commis_connections", 1);
	expect(r.body, "commis_jobs_in_flight", 0);
	expect(r.body, "commis_jobs_total{pool=\"p\",status=\"succeeded\"}", 5);
	expect(r.body, "commis_jobs_total{pool=\"p\",status=\"failed\"}", 1);
	expect(r.body, "commis_jobs_total{pool=\"p\",status=\"crashed\"}", 1);
	expect(r.body, "commis_jobs_total{pool=\"p\",status=\"expired\"}", 0);
	expect(r.body, "commis_jobs_total{pool=\"q\",status=\"succeeded\"}", 1);
	expect(r.body, "commis_jobs_submitted_total{pool=\"p\"}", 7);
	expect(r.body, "commis_jobs_submitted_total{pool=\"q\"}", 1);
	expect(r.body, "commis_jobs_rejected_total{pool=\"p\"}", 0);
	expect(r.body, "commis_pool_active_jobs{pool=\"p\"}", 0);
	expect(r.body, "commis_pool_queued_jobs{pool=\"p\"}", 0);
	ck_assert(sample_value(r.body, "commis_pool_workers{pool=\"q\"}") == 1);
	ck_assert(sample_value(r.body,
	    "commis_pool_available_slots{pool=\"q\"}") == 1);
	/* Every job that ran is in the run and end-to-end histograms. */
	ck_assert(sample_value(r.body,
	    "commis_job_run_seconds_count{pool=\"p\"}") >= 6);
	ck_assert(sample_value(r.body,
	    "commis_job_e2e_seconds_count{pool=\"p\"}") >= 6);
	ck_assert(sample_value(r.body,
	    "commis_job_queue_wait_seconds_count{pool=\"q\"}") >= 1);
	expect(r.body, "commis_job_e2e_seconds_bucket{pool=\"q\",le=\"60\"}",
	    sample_value(r.body, "commis_job_e2e_seconds_count{pool=\"q\"}"));
	http_reply_free(&r);

	http_get(m.msock, "/healthz", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "ok\n");
	http_reply_free(&r);
	ck_assert_int_eq(http_request(m.msock, "HEAD", "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.len, 0);
	http_reply_free(&r);
	http_get(m.msock, "/metrics?x=1", &r);
	ck_assert_int_eq(r.status, 200);
	http_reply_free(&r);
	http_get(m.msock, "/nothing", &r);
	ck_assert_int_eq(r.status, 404);
	http_reply_free(&r);
	http_get(m.msock, "/", &r);
	ck_assert_int_eq(r.status, 404);
	http_reply_free(&r);
	ck_assert_int_eq(http_request(m.msock, "POST", "/metrics", &r), 0);
	ck_assert_int_eq(r.status, 405);
	http_reply_free(&r);

	mctx_stop(&m);
	/* commisd removed its socket. */
	ck_assert_int_eq(lstat(m.msock, &sb), -1);
}
END_TEST

struct health_arg {
	const char	*sock;
	int		 want;
};

static int
health_is(void *arg)
{
	struct health_arg	*a = arg;
	struct http_reply	 r;
	int			 ok;

	http_get(a->sock, "/healthz", &r);
	ok = r.status == a->want && strcmp(r.body, a->want == 200 ? "ok\n" :
	    "stopping\n") == 0;
	http_reply_free(&r);
	return ok;
}

/* While SIGTERM drains a running job, /healthz says 503 and /metrics
 * still answers. */
START_TEST(test_healthz_stopping)
{
	struct commis_submit_opts	 o = { .pool = NULL };
	struct mctx			 m;
	struct health_arg		 h;
	struct http_reply		 r;
	uint64_t			 req;

	mctx_start(&m, POOL_YAML(""));
	ck_assert_int_eq(commis_submit_async(m.cl, "sleep", "3000", 4, &o,
	    &req), COMMIS_OK);
	wait_metric(m.msock, "commis_pool_active_jobs{pool=\"p\"}", 1);
	h.sock = m.msock;
	h.want = 200;
	ck_assert(health_is(&h));
	kill(m.d.pid, SIGTERM);
	h.want = 503;
	ck_assert_msg(test_poll(health_is, &h, 5000),
	    "/healthz did not turn 503");
	http_get(m.msock, "/metrics", &r);
	ck_assert_int_eq(r.status, 200);
	check_format(m.mdir, r.body);
	expect(r.body, "commis_pool_active_jobs{pool=\"p\"}", 1);
	http_reply_free(&r);
	mctx_stop(&m);
}
END_TEST

/* A second commisd on a live metrics socket does not start. */
START_TEST(test_socket_in_use)
{
	struct mctx	 m;
	struct testd	 d2;
	char		 yaml[512];
	int		 status;

	mctx_start(&m, POOL_YAML(""));
	run_job(m.cl, "echo", "x", NULL, COMMIS_ST_SUCCEEDED);
	snprintf(yaml, sizeof yaml, "metrics_listen: %s\n%s", m.msock,
	    POOL_YAML(""));
	testd_start(&d2, yaml);
	ck_assert_int_eq(waitpid(d2.pid, &status, 0), d2.pid);
	d2.pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	    "second commisd: status %#x", status);
	testd_stop(&d2);
	/* The first one still serves. */
	ck_assert(health_is(&(struct health_arg){ m.msock, 200 }));
	mctx_stop(&m);
}
END_TEST

Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc;

	tc = tcase_create("format");
	tcase_add_test(tc, test_checker);
	tcase_add_loop_test(tc, test_checker_bad, 0,
	    sizeof bad_bodies / sizeof bad_bodies[0]);
	tcase_add_loop_test(tc, test_listen_good, 0,
	    sizeof listen_good / sizeof listen_good[0]);
	tcase_add_loop_test(tc, test_listen_bad, 0,
	    sizeof listen_bad / sizeof listen_bad[0]);
	tcase_add_test(tc, test_listen_default);
	suite_add_tcase(s, tc);

	tc = tcase_create("endpoint");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_endpoint);
	tcase_add_test(tc, test_healthz_stopping);
	tcase_add_test(tc, test_socket_in_use);
	suite_add_tcase(s, tc);
	return s;
}
