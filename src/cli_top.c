/*
 * commis top: a live view of the workers, like top(1), built on the JSON
 * stats. This module owns the snapshot read out of them (with the JSON
 * reader of cli_json.c), its rendering, and the terminal: raw input for
 * the keys, the alternate screen, and putting both back on the way out,
 * on SIGINT, SIGTERM and SIGHUP, and around a suspend (SIGTSTP). It
 * knows the stats schema (docs/operations.md, "Stats") and nothing of
 * commisd's insides; it talks only through the public client API.
 *
 * Figures are optional: a commisd without per-worker RSS or latency
 * histograms shows "-" there, and fields it adds later are ignored.
 * When stdout is not a terminal the view degrades to plain text, one
 * block per refresh, with no escape codes.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli_json.h"
#include "cli_top.h"
#include "exitcode.h"

/* --- the snapshot --- */

void
top_snap_free(struct top_snap *s)
{
	if (s == NULL)
		return;
	free(s->w);
	free(s);
}

/* A number, or the "total" (else the sum) of an object of numbers:
 * restarts may come as a count or by cause. */
static long long
top_count(const struct json *v)
{
	const struct json	*e;
	long long	 sum = 0;

	if (v == NULL)
		return 0;
	if (v->type == JSON_NUM)
		return (long long)v->num;
	if (v->type != JSON_OBJ)
		return 0;
	if ((e = json_get(v, "total")) != NULL && e->type == JSON_NUM)
		return (long long)e->num;
	for (e = v->child; e != NULL; e = e->next)
		sum += e->type == JSON_NUM ? (long long)e->num : 0;
	return sum;
}

/*
 * A pool's end-to-end p99 in microseconds, or -1: of the last minute
 * ("latency_1m") when jobs ended in it, else of the whole run
 * ("latency"); an empty histogram has none.
 */
static double
top_pool_p99(const struct json *pool, int *recent)
{
	static const char *const	 keys[] = { "latency_1m", "latency" };
	const struct json		*e2e, *p99;
	size_t				 i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		e2e = json_get(json_get(pool, keys[i]), "e2e");
		if ((p99 = json_get(e2e, "p99")) == NULL ||
		    p99->type != JSON_NUM || json_ll(e2e, "count", 1) == 0)
			continue;
		*recent = i == 0;
		return p99->num;
	}
	return -1;
}

static int
top_add_worker(struct top_snap *s, size_t *cap, const struct json *pool,
    const struct json *w)
{
	struct top_worker	*tw;
	void			*p;

	if (s->nw == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		if ((p = realloc(s->w, *cap * sizeof *s->w)) == NULL)
			return -1;
		s->w = p;
	}
	tw = &s->w[s->nw++];
	json_strcpy(pool, "name", tw->pool, sizeof tw->pool);
	json_strcpy(w, "state", tw->state, sizeof tw->state);
	tw->pid = json_ll(w, "pid", -1);
	tw->job = json_ll(w, "job", -1);
	tw->job_age_ms = tw->job >= 0 ? json_ll(w, "job_age_ms", -1) : -1;
	tw->rss_kb = json_ll(w, "rss_kb", -1);
	tw->cpu_ms = json_ll(w, "cpu_ms", -1);
	tw->jobs_done = json_ll(w, "jobs_done", -1);
	tw->timeout_ms = json_ll(pool, "timeout_ms", -1);
	return 0;
}

static int
top_add_pool(struct top_snap *s, size_t *cap, const struct json *pool)
{
	const struct json	*wl, *w;
	double			 p99;
	int			 recent = 0;

	if (pool->type != JSON_OBJ)
		return 0;
	s->npools++;
	s->queued += json_ll(pool, "queued", 0);
	s->succeeded += json_ll(json_get(pool, "jobs"), "succeeded", 0);
	s->restarts += top_count(json_get(pool, "restarts"));
	if ((p99 = top_pool_p99(pool, &recent)) > s->e2e_p99_us) {
		s->e2e_p99_us = p99;
		s->e2e_recent = recent;
	}
	if ((wl = json_get(pool, "worker_list")) == NULL ||
	    wl->type != JSON_ARR)
		return 0;
	for (w = wl->child; w != NULL; w = w->next) {
		if (w->type == JSON_OBJ &&
		    top_add_worker(s, cap, pool, w) == -1)
			return -1;
	}
	return 0;
}

struct top_snap *
top_snap_parse(const char *json, char *err, size_t errsz)
{
	struct top_snap		*s;
	struct json		*root;
	const struct json	*pools, *p;
	size_t			 cap = 0;

	if ((root = json_parse(json, err, errsz)) == NULL)
		return NULL;
	if (root->type != JSON_OBJ ||
	    (pools = json_get(root, "pools")) == NULL ||
	    pools->type != JSON_ARR) {
		snprintf(err, errsz, "not the stats: no \"pools\" array");
		json_free(root);
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL)
		goto nomem;
	json_strcpy(root, "version", s->version, sizeof s->version);
	s->pid = json_ll(root, "pid", -1);
	s->uptime_ms = json_ll(root, "uptime_ms", -1);
	s->e2e_p99_us = -1;
	s->throughput = -1;
	for (p = pools->child; p != NULL; p = p->next) {
		if (top_add_pool(s, &cap, p) == -1)
			goto nomem;
	}
	json_free(root);
	return s;
nomem:
	top_snap_free(s);
	json_free(root);
	snprintf(err, errsz, "out of memory");
	return NULL;
}

void
top_snap_rate(struct top_snap *now, const struct top_snap *prev)
{
	now->throughput = -1;
	if (prev == NULL || now->at_ms <= prev->at_ms ||
	    now->succeeded < prev->succeeded)
		return;
	now->throughput = (double)(now->succeeded - prev->succeeded) *
	    1000.0 / (double)(now->at_ms - prev->at_ms);
}

/* --- sorting --- */

static const char *const top_sort_names[TOP_NSORTS] = {
	[TOP_SORT_PID] = "pid",
	[TOP_SORT_AGE] = "age",
	[TOP_SORT_RSS] = "rss",
	[TOP_SORT_JOBS] = "jobs",
};

const char *
top_sort_name(enum top_sort k)
{
	return (unsigned)k < TOP_NSORTS ? top_sort_names[k] : "?";
}

static int
top_cmp_ll(long long a, long long b)
{
	return a < b ? -1 : a > b;
}

/* qsort has no argument: the key goes in this one static. */
static enum top_sort	top_sort_key;

static int
top_cmp(const void *va, const void *vb)
{
	const struct top_worker	*a = va, *b = vb;
	int			 c = 0;

	switch (top_sort_key) {
	case TOP_SORT_AGE:
		c = -top_cmp_ll(a->job_age_ms, b->job_age_ms);
		break;
	case TOP_SORT_RSS:
		c = -top_cmp_ll(a->rss_kb, b->rss_kb);
		break;
	case TOP_SORT_JOBS:
		c = -top_cmp_ll(a->jobs_done, b->jobs_done);
		break;
	case TOP_SORT_PID:
	case TOP_NSORTS:
		break;
	}
	return c != 0 ? c : top_cmp_ll(a->pid, b->pid);
}

void
top_sort(struct top_snap *s, enum top_sort k)
{
	top_sort_key = k;
	if (s->nw > 1)
		qsort(s->w, s->nw, sizeof *s->w, top_cmp);
}

/* --- rendering --- */

/* Columns before the bar: POOL PID STATE JOBS RSS CPU JOB AGE. */
#define TOP_COLS_FMT	"%-10.10s %7s %-8.8s %7s %7s %7s %8s %7s"
#define TOP_FIXED_W	68
#define TOP_BAR_MAX	40

static void
top_fmt_ll(char *buf, size_t n, long long v)
{
	if (v < 0)
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%lld", v);
}

static void
top_fmt_ms(char *buf, size_t n, long long ms)
{
	if (ms < 0)
		snprintf(buf, n, "-");
	else if (ms < 1000)
		snprintf(buf, n, "%lldms", ms);
	else if (ms < 60000)
		snprintf(buf, n, "%.1fs", (double)ms / 1000);
	else if (ms < 3600000)
		snprintf(buf, n, "%lldm%02llds", ms / 60000, ms / 1000 % 60);
	else
		snprintf(buf, n, "%lldh%02lldm", ms / 3600000,
		    ms / 60000 % 60);
}

static void
top_fmt_kb(char *buf, size_t n, long long kb)
{
	if (kb < 0)
		snprintf(buf, n, "-");
	else if (kb < 1024)
		snprintf(buf, n, "%lldK", kb);
	else if (kb < 1024 * 1024)
		snprintf(buf, n, "%.1fM", (double)kb / 1024);
	else
		snprintf(buf, n, "%.2fG", (double)kb / (1024 * 1024));
}

static void
top_fmt_us(char *buf, size_t n, double us)
{
	if (us < 0)
		snprintf(buf, n, "-");
	else if (us < 1000)
		snprintf(buf, n, "%.0f us", us);
	else if (us < 1e6)
		snprintf(buf, n, "%.1f ms", us / 1000);
	else
		snprintf(buf, n, "%.2f s", us / 1e6);
}

/* A bar of width cells for frac (0..1), in eighths of a cell. */
static void
top_bar(char *buf, size_t n, double frac, int width)
{
	static const char *const part[8] = { "", "\u258f", "\u258e",
	    "\u258d", "\u258c", "\u258b", "\u258a", "\u2589" };
	long		 eighths, i;
	size_t		 len = 0;

	buf[0] = '\0';
	if (frac > 1)
		frac = 1;
	eighths = frac > 0 ? (long)(frac * width * 8 + 0.5) : 0;
	for (i = 0; i < eighths / 8 && len + 4 < n; i++)
		len += (size_t)snprintf(buf + len, n - len, "\u2588");
	if (len + 4 < n)
		snprintf(buf + len, n - len, "%s", part[eighths % 8]);
}

/* One line: ASCII text cut to the screen, then suffix (a bar, or the end
 * of an attribute), which the cut must not lose. */
static void
top_line(FILE *f, const struct top_view *v, const char *suffix,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
top_line(FILE *f, const struct top_view *v, const char *suffix,
    const char *fmt, ...)
{
	char	line[512];
	va_list	ap;
	size_t	len;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	len = strlen(line);
	if (v->tty && v->cols > 0 && len > (size_t)v->cols)
		line[v->cols] = '\0';
	fputs(line, f);
	if (suffix != NULL)
		fputs(suffix, f);
	fputs(v->tty ? "\033[K\n" : "\n", f);
}

static void
top_header(FILE *f, const struct top_snap *s, const struct top_view *v)
{
	char	up[32], rate[32], p99[32];

	top_fmt_ms(up, sizeof up, s->uptime_ms);
	if (s->throughput < 0)
		snprintf(rate, sizeof rate, "-");
	else
		snprintf(rate, sizeof rate, "%.1f/s", s->throughput);
	top_fmt_us(p99, sizeof p99, s->e2e_p99_us);
	/* The figures first: a narrow screen cuts the end. */
	top_line(f, v, NULL, "queue %lld, throughput %s, e2e p99 %s%s, "
	    "restarts %lld -- commisd %s pid %lld up %s, %zu pool%s",
	    s->queued, rate, p99,
	    s->e2e_p99_us < 0 ? "" : s->e2e_recent ? " (1 min)" : " (all)",
	    s->restarts, s->version[0] ? s->version : "?", s->pid, up,
	    s->npools, s->npools == 1 ? "" : "s");
	if (v->tty)
		top_line(f, v, NULL, "sort: %s    s: next sort  q: quit",
		    top_sort_name(v->sort));
}

/* The age a full bar stands for: the pool's timeout, else the oldest. */
static long long
top_bar_scale(const struct top_snap *s, const struct top_worker *w)
{
	long long	max = 0;
	size_t		i;

	if (w->timeout_ms > 0)
		return w->timeout_ms;
	for (i = 0; i < s->nw; i++) {
		if (s->w[i].job_age_ms > max)
			max = s->w[i].job_age_ms;
	}
	return max;
}

static void
top_worker_line(FILE *f, const struct top_snap *s,
    const struct top_worker *w, const struct top_view *v, int barw)
{
	char		 pid[24], jobs[24], rss[24], cpu[24], job[24], age[24];
	char		 bar[TOP_BAR_MAX * 3 + 8];	/* " " and UTF-8 */
	long long	 scale;

	top_fmt_ll(pid, sizeof pid, w->pid);
	top_fmt_ll(jobs, sizeof jobs, w->jobs_done);
	top_fmt_ll(job, sizeof job, w->job);
	top_fmt_kb(rss, sizeof rss, w->rss_kb);
	top_fmt_ms(cpu, sizeof cpu, w->cpu_ms);
	top_fmt_ms(age, sizeof age, w->job_age_ms);
	bar[0] = '\0';
	if (barw > 0 && w->job_age_ms >= 0 &&
	    (scale = top_bar_scale(s, w)) > 0) {
		bar[0] = ' ';
		top_bar(bar + 1, sizeof bar - 1,
		    (double)w->job_age_ms / (double)scale, barw);
	}
	top_line(f, v, bar, TOP_COLS_FMT, w->pool[0] ? w->pool : "-", pid,
	    w->state[0] ? w->state : "-", jobs, rss, cpu, job, age);
}

void
top_render(FILE *f, const struct top_snap *s, const struct top_view *v)
{
	char	title[128];
	size_t	i, shown = s->nw;
	int	barw = 0, room;

	top_header(f, s, v);
	if (v->tty) {
		barw = v->cols - TOP_FIXED_W - 1;
		barw = barw > TOP_BAR_MAX ? TOP_BAR_MAX : barw < 4 ? 0 : barw;
		/* Header, keys, titles, and a line for "... more". */
		room = v->rows - 4;
		if (room < 1)
			room = 1;
		if (shown > (size_t)room)
			shown = (size_t)room;
	}
	snprintf(title, sizeof title, TOP_COLS_FMT, "POOL", "PID", "STATE",
	    "JOBS", "RSS", "CPU", "JOB", "AGE");
	if (v->tty) {
		/* Reverse video across the screen; the reset survives the cut. */
		fputs("\033[7m", f);
		top_line(f, v, "\033[m", "%-*s", v->cols, title);
	} else
		top_line(f, v, NULL, "%s", title);
	for (i = 0; i < shown; i++)
		top_worker_line(f, s, &s->w[i], v, barw);
	if (shown < s->nw)
		top_line(f, v, NULL, "... %zu more", s->nw - shown);
}

/* --- the terminal --- */

/*
 * The signal bridge: handlers only record the signal, and the loop acts
 * on it. A second SIGINT/SIGTERM/SIGHUP while the first is pending (the
 * loop is stuck, say in a stats call to a stopped commisd) puts the
 * terminal back from the handler itself and dies of the signal.
 */
static volatile sig_atomic_t	 top_sig;
static volatile sig_atomic_t	 top_winch;
static struct termios		 top_saved;
static int			 top_keys;	/* stdin raw, for keys */

#define TOP_SCREEN_ON	"\033[?1049h\033[?25l"	/* alt screen, no cursor */
#define TOP_SCREEN_OFF	"\033[?25h\033[?1049l"

static const int	top_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGTSTP,
			    SIGWINCH };
#define TOP_NSIGS	(sizeof top_sigs / sizeof top_sigs[0])

struct top_term {
	struct sigaction	 old[TOP_NSIGS];
	int			 on;
};

static void
top_on_signal(int sig)
{
	ssize_t	n;

	if (sig == SIGWINCH) {
		top_winch = 1;
		return;
	}
	if (top_sig != 0 && sig != SIGTSTP) {
		n = write(STDOUT_FILENO, TOP_SCREEN_OFF,
		    sizeof TOP_SCREEN_OFF - 1);
		(void)n;
		if (top_keys)
			tcsetattr(STDIN_FILENO, TCSANOW, &top_saved);
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	top_sig = sig;
}

static void
top_screen(const char *s)
{
	fputs(s, stdout);
	fflush(stdout);
}

/* Raw input (no echo, no line editing; signals still come from keys)
 * when stdin is a terminal too, and the alternate screen. */
static void
top_raw(struct top_term *t)
{
	struct termios	raw;

	top_keys = 0;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &top_saved) == 0) {
		raw = top_saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0)
			top_keys = 1;
	}
	top_screen(TOP_SCREEN_ON);
	t->on = 1;
}

static void
top_cooked(struct top_term *t)
{
	if (!t->on)
		return;
	top_screen(TOP_SCREEN_OFF);
	if (top_keys)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &top_saved);
	top_keys = 0;
	t->on = 0;
}

static void
top_term_enter(struct top_term *t)
{
	struct sigaction	sa;
	size_t			i;

	memset(t, 0, sizeof *t);
	top_sig = 0;
	top_winch = 0;
	/* No SA_RESTART: a signal ends the poll that waits for keys. */
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = top_on_signal;
	for (i = 0; i < TOP_NSIGS; i++)
		sigaction(top_sigs[i], &sa, &t->old[i]);
	top_raw(t);
}

static void
top_term_leave(struct top_term *t)
{
	size_t	i;

	top_cooked(t);
	for (i = 0; i < TOP_NSIGS; i++)
		sigaction(top_sigs[i], &t->old[i], NULL);
}

/* Ctrl-Z: the terminal back as it was, stop, and raw again on fg. */
static void
top_suspend(struct top_term *t)
{
	struct sigaction	sa, old;

	top_cooked(t);
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTSTP, &sa, &old);
	raise(SIGTSTP);
	sigaction(SIGTSTP, &old, NULL);
	top_raw(t);
}

static void
top_size(struct top_view *v)
{
	struct winsize	ws;

	v->cols = 80;
	v->rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 &&
	    ws.ws_row > 0) {
		v->cols = ws.ws_col;
		v->rows = ws.ws_row;
	}
}

/* --- the loop --- */

static uint64_t
top_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One frame, written at once (a terminal redraws in place, no flicker). */
static int
top_draw(const struct top_snap *s, const struct top_view *v)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;
	int	 rc = 0;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return -1;
	if (v->tty)
		fputs("\033[H", f);
	top_render(f, s, v);
	fputs(v->tty ? "\033[J" : "\n", f);
	if (fclose(f) == EOF)
		rc = -1;
	else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout) == EOF)
		rc = -1;
	free(buf);
	return rc;
}

static int
top_fetch(commis_client *c, struct top_snap **out, char *err, size_t errsz)
{
	char	*json, why[256];
	int	 rc;

	*out = NULL;
	if ((rc = commis_stats(c, COMMIS_STATS_JSON, &json)) != COMMIS_OK)
		return rc;
	*out = top_snap_parse(json, why, sizeof why);
	free(json);
	if (*out == NULL) {
		snprintf(err, errsz, "cannot read commisd's stats: %s", why);
		return EXIT_CLI_PROTO;
	}
	(*out)->at_ms = top_now_ms();
	return COMMIS_OK;
}

/* Keys and signals until deadline: 1 to quit, 0 when the time is up. */
static int
top_wait(struct top_term *t, struct top_snap *s, struct top_view *v,
    uint64_t deadline)
{
	struct pollfd	pfd;
	uint64_t	now;
	char		keys[32];
	ssize_t		n, i;

	while ((now = top_now_ms()) < deadline) {
		pfd.fd = top_keys ? STDIN_FILENO : -1;
		pfd.events = POLLIN;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)(deadline - now));
		if (top_sig == SIGTSTP) {
			top_sig = 0;
			top_suspend(t);
			top_winch = 1;
		}
		if (top_sig != 0)
			return 1;
		if (top_winch && v->tty) {
			top_winch = 0;
			top_size(v);
			top_draw(s, v);
		}
		if (n <= 0 || !(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((n = read(STDIN_FILENO, keys, sizeof keys)) == -1 &&
		    (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return 1;	/* the terminal went away */
		for (i = 0; i < n; i++) {
			if (keys[i] == 'q' || keys[i] == 'Q')
				return 1;
			if (keys[i] == 's' || keys[i] == 'S') {
				v->sort = (v->sort + 1) % TOP_NSORTS;
				top_sort(s, v->sort);
				top_draw(s, v);
			}
		}
	}
	return 0;
}

static int
top_loop(commis_client *c, const struct top_opts *o, struct top_term *t,
    struct top_view *v, char *err, size_t errsz)
{
	struct top_snap	*prev = NULL, *now;
	long long	 n = 0;
	int		 rc;

	for (;;) {
		if ((rc = top_fetch(c, &now, err, errsz)) != COMMIS_OK)
			break;
		top_snap_rate(now, prev);
		top_snap_free(prev);
		prev = now;
		top_sort(now, v->sort);
		if (top_draw(now, v) == -1) {
			snprintf(err, errsz, "stdout: %s", strerror(errno));
			rc = EXIT_CLI_PROTO;
			break;
		}
		if (o->count > 0 && ++n >= o->count)
			break;
		if (v->tty) {
			if (top_wait(t, now, v, now->at_ms +
			    (uint64_t)o->interval_ms))
				break;
		} else
			poll(NULL, 0, o->interval_ms);
	}
	top_snap_free(prev);
	return rc;
}

int
top_run(commis_client *c, const struct top_opts *o)
{
	struct top_term	t;
	struct top_view	v;
	char		err[512];
	int		rc;

	memset(&v, 0, sizeof v);
	memset(&t, 0, sizeof t);
	err[0] = '\0';
	v.sort = TOP_SORT_PID;
	v.tty = isatty(STDOUT_FILENO);
	if (v.tty) {
		top_size(&v);
		top_term_enter(&t);
	}
	rc = top_loop(c, o, &t, &v, err, sizeof err);
	if (v.tty)
		top_term_leave(&t);
	if (err[0] != '\0')
		fprintf(stderr, "commis: %s\n", err);
	return rc;
}
