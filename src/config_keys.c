/*
 * The configuration keys: one table per level (top level, pool), each
 * entry with its type, range, default and help text. The same tables parse
 * scalar values, apply defaults and generate docs/configuration.md, so the
 * documentation cannot drift from the parser. This file knows nothing of
 * YAML: the loader (config.c) hands it scalars and error buffers.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config_keys.h"

#define POOL_WORKERS_MAX	1024

#define TOP(m)	.off = offsetof(struct config, m),			\
		.size = sizeof(((struct config *)0)->m)
#define POOL(m)	.off = offsetof(struct pool_config, m),			\
		.size = sizeof(((struct pool_config *)0)->m)

const struct config_key config_top_keys[] = {
	{ .name = "socket", .type = CT_STRING, TOP(socket),
	  .def = "/run/commis/commis.sock",
	  .help = "Path of the control socket. A relative path is relative "
	  "to commisd's working directory. It must fit in sun_path." },
	{ .name = "socket_mode", .type = CT_MODE, TOP(socket_mode),
	  .min = 0, .max = 0777, .def = "0660",
	  .help = "Permissions of the control socket, always read as octal "
	  "like chmod: `0660`, `660` and `0o660` are the same." },
	{ .name = "log_level", .type = CT_LEVEL, TOP(log_level),
	  .def = "info",
	  .help = "Least severe messages written to stderr." },
	{ .name = "max_payload", .type = CT_SIZE, TOP(max_payload),
	  .min = 1024, .max = COMMIS_PAYLOAD_HARD_MAX, .def = "4M",
	  .help = "Largest inline payload in bytes that a client may submit "
	  "or a handler may return. A plain integer, or with a suffix "
	  "`K`, `M` or `G` (powers of 1024): `512K`, `4M`." },
	{ .name = "pools", .type = CT_POOLS,
	  .def_doc = "one pool `default`",
	  .help = "The worker pools, a list of mappings with the pool keys "
	  "below. Without this key there is one pool named `default` with "
	  "every default; an empty list is an error." },
};
const size_t config_ntop_keys =
    sizeof config_top_keys / sizeof config_top_keys[0];

const struct config_key config_pool_keys[] = {
	{ .name = "name", .type = CT_NAME, POOL(name), .required = 1,
	  .help = "Name of the pool, as in `commis submit --pool NAME`. "
	  "Unique across pools." },
	{ .name = "workers", .type = CT_UNSIGNED, POOL(workers),
	  .min = 1, .max = POOL_WORKERS_MAX, .def_doc = "online CPUs",
	  .help = "Number of workers." },
	{ .name = "isolation", .type = CT_ISOLATION, POOL(isolation),
	  .def = "process",
	  .help = "`process`: each worker is a forked process. `thread` "
	  "(workers as threads of one host process) is not supported yet." },
	{ .name = "timeout_ms", .type = CT_U32, POOL(timeout_ms),
	  .min = 0, .max = 86400000, .def = "0",
	  .help = "Hard timeout of one attempt of a job, in milliseconds; "
	  "0 means no timeout." },
	{ .name = "kill_grace_ms", .type = CT_U32, POOL(kill_grace_ms),
	  .min = 10, .max = 600000, .def = "2000",
	  .help = "Milliseconds between SIGTERM and SIGKILL when a worker "
	  "is stopped." },
	{ .name = "max_attempts", .type = CT_U32, POOL(max_attempts),
	  .min = 1, .max = 100, .def = "3",
	  .help = "Attempts a job gets when its worker crashes or times out; "
	  "after the last one the job ends as `crashed` or `timedout`. A "
	  "handler error is final at once." },
	{ .name = "queue_max", .type = CT_U32, POOL(queue_max),
	  .min = 1, .max = 10000000, .def = "100000",
	  .help = "Jobs waiting in the pool's queue before new submissions "
	  "are refused." },
	{ .name = "nice", .type = CT_INT, POOL(nice),
	  .min = 0, .max = 19, .def = "5",
	  .help = "Nice level of the workers, relative to the supervisor." },
	{ .name = "sched_batch", .type = CT_BOOL, POOL(sched_batch),
	  .def = "true",
	  .help = "Run the workers under the SCHED_BATCH scheduling "
	  "policy." },
	{ .name = "restart_delay_ms", .type = CT_U32, POOL(restart_delay_ms),
	  .min = 0, .max = 60000, .def = "100",
	  .help = "Delay before restarting a crashed worker; it grows "
	  "exponentially while crashes continue." },
	{ .name = "restart_delay_max_ms", .type = CT_U32,
	  POOL(restart_delay_max_ms), .min = 0, .max = 600000, .def = "5000",
	  .help = "Cap of the restart delay; at least restart_delay_ms." },
	{ .name = "modules", .type = CT_STRLIST, POOL(modules),
	  .off_n = offsetof(struct pool_config, nmodules), .def_doc = "`[]`",
	  .help = "Paths of handler modules (`.so`) loaded before the "
	  "workers fork, in addition to the built-in handlers." },
};
const size_t config_npool_keys =
    sizeof config_pool_keys / sizeof config_pool_keys[0];

/* The example at the end of the documentation; a test loads it. */
static const char config_example[] =
    "socket: /run/commis/commis.sock\n"
    "socket_mode: 0660\n"
    "log_level: info\n"
    "max_payload: 4M\n"
    "pools:\n"
    "  - name: default\n"
    "    workers: 4\n"
    "    isolation: process\n"
    "    timeout_ms: 60000\n"
    "    kill_grace_ms: 2000\n"
    "    max_attempts: 3\n"
    "    queue_max: 100000\n"
    "    nice: 5\n"
    "    sched_batch: true\n"
    "    restart_delay_ms: 100\n"
    "    restart_delay_max_ms: 5000\n"
    "  - name: images\n"
    "    workers: 2\n"
    "    timeout_ms: 300000\n"
    "    nice: 10\n"
    "    modules:\n"
    "      - /usr/local/lib/commis/resize.so\n";

const struct config_key *
config_key_find(const struct config_key *keys, size_t n, const char *name,
    size_t *idx)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (strcmp(keys[i].name, name) == 0) {
			if (idx != NULL)
				*idx = i;
			return &keys[i];
		}
	}
	return NULL;
}

/* Levenshtein distance of a to b, b shorter than CONFIG_KEYS_MAX bytes. */
static size_t
key_distance(const char *a, const char *b)
{
	size_t	row[64], prev, tmp, i, j, nb = strlen(b);

	if (nb >= sizeof row / sizeof row[0])
		return SIZE_MAX;
	for (j = 0; j <= nb; j++)
		row[j] = j;
	for (i = 1; a[i - 1] != '\0'; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= nb; j++) {
			tmp = row[j];
			row[j] = prev + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < row[j])
				row[j] = row[j - 1] + 1;
			if (tmp + 1 < row[j])
				row[j] = tmp + 1;
			prev = tmp;
		}
	}
	return row[nb];
}

/* The key closest to a misspelt name, or NULL if none is close. */
const char *
config_key_suggest(const struct config_key *keys, size_t n, const char *name)
{
	const char	*best = NULL;
	size_t		 i, d, bestd = 3;

	if (strlen(name) > 64)
		return NULL;
	for (i = 0; i < n; i++) {
		d = key_distance(name, keys[i].name);
		if (d < bestd && d < strlen(keys[i].name) / 2) {
			bestd = d;
			best = keys[i].name;
		}
	}
	return best;
}

int
config_scalar_null(const struct config_scalar *v)
{
	return v->plain && (v->len == 0 || strcmp(v->s, "~") == 0 ||
	    strcmp(v->s, "null") == 0 || strcmp(v->s, "Null") == 0 ||
	    strcmp(v->s, "NULL") == 0);
}

/* A short printable copy of a value for messages. */
const char *
config_quote(const char *s, char *buf, size_t sz)
{
	unsigned char	c;
	size_t		i;

	for (i = 0; s[i] != '\0' && i + 4 < sz; i++) {
		c = (unsigned char)s[i];
		buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (s[i] != '\0')
		buf[i++] = '.', buf[i++] = '.', buf[i++] = '.';
	buf[i] = '\0';
	return buf;
}

static void
fmt_size(long long v, char *buf, size_t sz)
{
	if (v != 0 && v % (1 << 30) == 0)
		snprintf(buf, sz, "%lldG", v >> 30);
	else if (v != 0 && v % (1 << 20) == 0)
		snprintf(buf, sz, "%lldM", v >> 20);
	else if (v != 0 && v % (1 << 10) == 0)
		snprintf(buf, sz, "%lldK", v >> 10);
	else
		snprintf(buf, sz, "%lld", v);
}

/* The accepted values of a key, for the documentation and for errors. */
static const char *
range_str(const struct config_key *k, char *buf, size_t sz)
{
	char	a[32], b[32];

	switch (k->type) {
	case CT_STRING:
		snprintf(buf, sz, "1..%zu bytes", k->size - 1);
		break;
	case CT_NAME:
		snprintf(buf, sz, "1..%zu chars: A-Z a-z 0-9 _ . -", k->size - 1);
		break;
	case CT_SIZE:
		fmt_size(k->min, a, sizeof a);
		fmt_size(k->max, b, sizeof b);
		snprintf(buf, sz, "%s..%s", a, b);
		break;
	case CT_MODE:
		snprintf(buf, sz, "%s%llo..0%llo", k->min ? "0" : "",
		    (unsigned long long)k->min, (unsigned long long)k->max);
		break;
	case CT_BOOL:
		snprintf(buf, sz, "true/false, yes/no, on/off");
		break;
	case CT_LEVEL:
		snprintf(buf, sz, "error, warning, info, debug");
		break;
	case CT_ISOLATION:
		snprintf(buf, sz, "process (thread: not yet)");
		break;
	case CT_STRLIST:
		snprintf(buf, sz, "any number");
		break;
	case CT_POOLS:
		snprintf(buf, sz, "at least 1");
		break;
	default:
		snprintf(buf, sz, "%lld..%lld", k->min, k->max);
		break;
	}
	return buf;
}

/*
 * Parses a number of the key's syntax. Returns 0, -1 if the text is not a
 * number of that syntax, -2 if it does not fit.
 */
static int
parse_number(enum config_type type, const char *s, long long *n)
{
	const char	*p = s;
	char		*end;
	int		 shift = 0, base = 10;

	if (type == CT_MODE) {
		base = 8;
		if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
			p += 2;
		if (*p == '\0' || strspn(p, "01234567") != strlen(p))
			return -1;
	} else if (*p == '-')
		p++;
	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	*n = strtoll(p, &end, base);
	if (errno == ERANGE)
		return -2;
	if (p != s && *s == '-')
		*n = -*n;
	if (type == CT_SIZE && end[0] != '\0' && end[1] == '\0') {
		switch (*end++) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: return -1;
		}
	}
	if (*end != '\0')
		return -1;
	if (*n > (LLONG_MAX >> shift) || *n < (LLONG_MIN >> shift))
		return -2;
	*n *= 1LL << shift;
	return 0;
}

static int
set_number(const struct config_key *k, const char *s, char *field,
    char *err, size_t errlen)
{
	static const char *const what[] = {
		[CT_U32] = "an integer", [CT_UNSIGNED] = "an integer",
		[CT_INT] = "an integer", [CT_SIZE] = "a size like 4M",
		[CT_MODE] = "an octal mode like 0660",
	};
	long long	n;
	char		q[64], r[64];
	int		rv;

	if ((rv = parse_number(k->type, s, &n)) == -1) {
		snprintf(err, errlen, "%s: expected %s, got \"%s\"", k->name,
		    what[k->type], config_quote(s, q, sizeof q));
		return -1;
	}
	if (rv == -2 || n < k->min || n > k->max) {
		snprintf(err, errlen, "%s: %s is out of range %s", k->name,
		    config_quote(s, q, sizeof q), range_str(k, r, sizeof r));
		return -1;
	}
	switch (k->type) {
	case CT_U32:
	case CT_SIZE:
		*(uint32_t *)field = (uint32_t)n;
		break;
	case CT_UNSIGNED:
		*(unsigned *)field = (unsigned)n;
		break;
	case CT_INT:
		*(int *)field = (int)n;
		break;
	default:
		*(mode_t *)field = (mode_t)n;
		break;
	}
	return 0;
}

static int
set_string(const struct config_key *k, const struct config_scalar *v,
    char *field, char *err, size_t errlen)
{
	char	q[64];

	if (v->len == 0) {
		snprintf(err, errlen, "%s: must not be empty", k->name);
		return -1;
	}
	if (v->len >= k->size) {
		snprintf(err, errlen, "%s: \"%s\" is longer than %zu bytes",
		    k->name, config_quote(v->s, q, sizeof q), k->size - 1);
		return -1;
	}
	if (k->type == CT_NAME && strspn(v->s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-") != v->len) {
		snprintf(err, errlen, "%s: \"%s\" may only contain "
		    "A-Z a-z 0-9 _ . -", k->name, config_quote(v->s, q, sizeof q));
		return -1;
	}
	memcpy(field, v->s, v->len + 1);
	return 0;
}

static int
set_word(const struct config_key *k, const char *s, char *field,
    char *err, size_t errlen)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	enum log_level	lvl;
	char		q[64], r[64];
	size_t		i;

	switch (k->type) {
	case CT_BOOL:
		for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
			if (strcasecmp(s, yes[i]) == 0 ||
			    strcasecmp(s, no[i]) == 0) {
				*(int *)field = strcasecmp(s, yes[i]) == 0;
				return 0;
			}
		}
		break;
	case CT_LEVEL:
		if (log_level_parse(s, &lvl) == 0) {
			*(enum log_level *)field = lvl;
			return 0;
		}
		break;
	default:
		if (strcmp(s, "process") == 0) {
			*(enum isolation *)field = ISOLATION_PROCESS;
			return 0;
		}
		if (strcmp(s, "thread") == 0) {
			snprintf(err, errlen, "%s: thread is not supported yet",
			    k->name);
			return -1;
		}
		break;
	}
	snprintf(err, errlen, "%s: expected %s, got \"%s\"", k->name,
	    range_str(k, r, sizeof r), config_quote(s, q, sizeof q));
	return -1;
}

/*
 * Parses v into the field of obj (a struct config or pool_config) that k
 * describes. On error returns -1 with the message, prefixed by the key's
 * name, in err.
 */
int
config_key_set(const struct config_key *k, const struct config_scalar *v,
    void *obj, char *err, size_t errlen)
{
	char	*field = (char *)obj + k->off;

	if (config_scalar_null(v)) {
		snprintf(err, errlen, "%s: missing value", k->name);
		return -1;
	}
	if (strlen(v->s) != v->len) {
		snprintf(err, errlen, "%s: value contains a NUL byte", k->name);
		return -1;
	}
	switch (k->type) {
	case CT_STRING:
	case CT_NAME:
		return set_string(k, v, field, err, errlen);
	case CT_BOOL:
	case CT_LEVEL:
	case CT_ISOLATION:
		return set_word(k, v->s, field, err, errlen);
	case CT_U32:
	case CT_UNSIGNED:
	case CT_INT:
	case CT_SIZE:
	case CT_MODE:
		return set_number(k, v->s, field, err, errlen);
	default:
		snprintf(err, errlen, "%s: expected a list", k->name);
		return -1;
	}
}

static void
apply_defaults(const struct config_key *keys, size_t n, void *obj)
{
	struct config_scalar	v;
	char			err[256];
	size_t			i;

	for (i = 0; i < n; i++) {
		if (keys[i].def == NULL)
			continue;
		v.s = keys[i].def;
		v.len = strlen(v.s);
		v.plain = 1;
		if (config_key_set(&keys[i], &v, obj, err, sizeof err) != 0)
			fatalx("config: bad default: %s", err);
	}
}

/* Sets every top-level default except pools, which the loader makes. */
void
config_top_init(struct config *cfg)
{
	apply_defaults(config_top_keys, config_ntop_keys, cfg);
}

void
config_pool_init(struct pool_config *pc)
{
	long	ncpu;

	apply_defaults(config_pool_keys, config_npool_keys, pc);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > POOL_WORKERS_MAX)
		ncpu = POOL_WORKERS_MAX;
	pc->workers = (unsigned)ncpu;
}

static const char *const config_type_names[] = {
	[CT_STRING] = "string", [CT_NAME] = "string",
	[CT_U32] = "integer", [CT_UNSIGNED] = "integer",
	[CT_INT] = "integer", [CT_SIZE] = "size", [CT_MODE] = "octal mode",
	[CT_BOOL] = "boolean", [CT_LEVEL] = "enum", [CT_ISOLATION] = "enum",
	[CT_STRLIST] = "list of strings", [CT_POOLS] = "list of mappings",
};

static void
doc_table(FILE *f, const struct config_key *keys, size_t n)
{
	char	r[128];
	size_t	i;

	fputs("| key | type | default | range | description |\n", f);
	fputs("|-----|------|---------|-------|-------------|\n", f);
	for (i = 0; i < n; i++) {
		fprintf(f, "| `%s` | %s | ", keys[i].name,
		    config_type_names[keys[i].type]);
		if (keys[i].required)
			fputs("required", f);
		else if (keys[i].def != NULL)
			fprintf(f, "`%s`", keys[i].def);
		else
			fputs(keys[i].def_doc, f);
		fprintf(f, " | %s | %s |\n", range_str(&keys[i], r, sizeof r),
		    keys[i].help);
	}
}

/* Writes docs/configuration.md: everything comes from the tables above. */
void
config_doc(FILE *f)
{
	fputs("# Configuration\n\n"
	    "<!-- Generated by config_doc() from the key tables in "
	    "src/config_keys.c\n"
	    "     (`make config-doc`). Edit the tables, not this file. -->\n\n"
	    "commisd reads one YAML file: `commisd -c FILE` runs with it and\n"
	    "`commisd -t -c FILE` only checks it. A file with any error is\n"
	    "rejected as a whole. (Reloading on SIGHUP is not supported yet:\n"
	    "the signal is logged and ignored.)\n\n"
	    "Every problem is reported, one per line, as\n"
	    "`file:line:column: message`: unknown or duplicate keys, values "
	    "of the\nwrong type or out of range, missing or duplicate pool "
	    "names, and YAML\nsyntax errors.\n\n"
	    "## Values\n\n"
	    "- The document is a mapping of the top-level keys below; keys "
	    "are\n  case-sensitive. Omit a key to get its default; a key "
	    "with no value\n  (`key:`) is an error.\n"
	    "- Integers are decimal; trailing text is an error. Quoting does "
	    "not\n  change a value's type: `workers: \"4\"` is 4.\n"
	    "- Sizes are integers in bytes with an optional suffix `K`, `M` "
	    "or `G`\n  (powers of 1024, either case): `4M` is 4194304.\n"
	    "- Modes are octal like chmod, with or without a leading zero:\n"
	    "  `0660`, `660` and `0o660` are the same.\n"
	    "- Booleans are `true`/`false`, `yes`/`no` or `on`/`off`.\n", f);
	fprintf(f, "- Limits: a file of at most %d bytes, one document, "
	    "collections nested\n  at most %d deep, scalars of at most %d "
	    "bytes. Aliases (`*name`) are\n  rejected.\n",
	    CONFIG_SIZE_MAX, CONFIG_DEPTH_MAX, CONFIG_SCALAR_MAX);
	fputs("\n## Top-level keys\n\n", f);
	doc_table(f, config_top_keys, config_ntop_keys);
	fputs("\n## Pool keys\n\nEach item of `pools` is a mapping of these "
	    "keys.\n\n", f);
	doc_table(f, config_pool_keys, config_npool_keys);
	fputs("\n## Example\n\n```yaml\n", f);
	fputs(config_example, f);
	fputs("```\n", f);
}
