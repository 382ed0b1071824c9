/*
 * commis bench: the report. The figure table below names every figure
 * once (JSON key, label, unit, which way is better, whether it is drawn);
 * from it come the side-by-side table on stdout, the JSON file and the
 * SVG bar chart, which is written by hand so that commis needs no
 * plotting library. Figures not measured are NAN: "n/a" in the table,
 * null in the JSON, left out of the chart.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli_bench.h"
#include "version.h"

#define SEC_DISPATCH	"no-op dispatch, echo 1 B"
#define SEC_CPU		"CPU jobs"
#define SEC_MEM		"memory per idle job slot"
#define SEC_BULK	"segment echo (submit_fd)"
#define SEC_BLAST	"crash with the others busy"
#define SEC_HANG	"hard timeout, 100+100 ms"

const struct bench_figdef bench_figs[BENCH_NFIGS] = {
	[BF_LAT_P50] = { "dispatch_p50_us", SEC_DISPATCH, "p50", "us", -1, 1 },
	[BF_LAT_P99] = { "dispatch_p99_us", SEC_DISPATCH, "p99", "us", -1, 1 },
	[BF_TPUT] = { "noop_jobs_s", "no-op throughput", "256 in flight",
	    "jobs/s", 1, 1 },
	[BF_CPU_TPUT] = { "cpu_jobs_s", SEC_CPU, "throughput", "jobs/s", 1, 1 },
	[BF_CPU_EFF] = { "cpu_efficiency_pct", SEC_CPU, "of ideal", "%", 1,
	    0 },
	[BF_START] = { "start_ms", "worker start after SIGKILL", "p50", "ms",
	    -1, 1 },
	[BF_REPLACE] = { "crash_replace_ms", "crash replaced (fault segv)",
	    "p50", "ms", -1, 1 },
	[BF_PSS] = { "pss_kib", SEC_MEM, "PSS", "KiB", -1, 1 },
	[BF_USS] = { "private_kib", SEC_MEM, "private", "KiB", -1, 1 },
	[BF_BULK1] = { "bulk_1m_p50_us", SEC_BULK, "1 MiB p50", "us", -1, 1 },
	[BF_BULK64] = { "bulk_64m_p50_us", SEC_BULK, "64 MiB p50", "us", -1,
	    1 },
	[BF_BLAST_REQ] = { "crash_requeued", SEC_BLAST, "requeued", "jobs",
	    -1, 0 },
	[BF_BLAST_LOST] = { "crash_others_lost", SEC_BLAST, "others lost",
	    "jobs", -1, 0 },
	[BF_BLAST_REC] = { "crash_recovery_ms", SEC_BLAST, "recovery p50",
	    "ms", -1, 1 },
	[BF_HANG_MS] = { "hang_timedout_ms", SEC_HANG, "to TIMEDOUT p50",
	    "ms", -1, 1 },
	[BF_HANG_REQ] = { "hang_requeued", SEC_HANG, "requeued", "jobs", -1,
	    0 },
	[BF_HANG_REC] = { "hang_recovery_ms", SEC_HANG, "recovery p50", "ms",
	    -1, 1 },
};

/* thread / process, or NAN when that means nothing. */
static double
bench_ratio(const struct bench *b, enum bench_fig f)
{
	double	p = b->fig[BENCH_PROC][f], t = b->fig[BENCH_THR][f];

	if (isnan(p) || isnan(t) || p <= 0)
		return NAN;
	return t / p;
}

static void
bench_fmt(char *buf, size_t size, double v)
{
	if (isnan(v))
		snprintf(buf, size, "n/a");
	else
		snprintf(buf, size, "%.*f", v >= 1000 || v <= -1000 ? 0 :
		    v >= 10 || v <= -10 ? 1 : 2, v);
}

static void
bench_print_head(const struct bench *b)
{
	printf("commis bench: commis %s, commisd %s, %ld CPUs (%s), "
	    "Linux %s\n", COMMIS_VERSION, b->dversion[0] ? b->dversion : "?",
	    b->cpus, b->model, b->kernel);
	printf("pools of %u: proc (isolation: process)%s; iterations %u%s\n",
	    b->workers, b->no_thread ? ", thr not started (--no-thread)" :
	    ", thr (isolation: thread)", b->iterations,
	    b->quick ? ", quick" : "");
	printf("CPU job: %s %s, %.3f ms per job (%s); ideal %.0f jobs/s\n\n",
	    b->cpu_handler, b->cpu_data, b->cpu_ms, b->cpu_ms_measured ?
	    "measured one at a time on proc" : "spin's argument",
	    (double)b->workers * 1000.0 / b->cpu_ms);
}

static void
bench_print_notes(const struct bench *b)
{
	printf("\nmemory: process = the average over the worker processes; "
	    "thread = the host\nprocess divided by its %u threads. PSS "
	    "counts a shared page as 1/n in each of\nthe n processes that map "
	    "it (commisd and both pools share their pages);\nprivate = "
	    "Private_Clean + Private_Dirty.\n", b->workers);
	printf("requeued: jobs of other slots put back on the queue per "
	    "crash or timeout\n(%u other slot%s busy with `sleep 500`); "
	    "recovery: from submitting the fault\nuntil every job slot of "
	    "the pool is up again.\n", b->workers - 1,
	    b->workers == 2 ? "" : "s");
	if (b->cpus > 0 && b->workers > (unsigned)b->cpus)
		printf("CPU jobs: %u slots on %ld CPUs cannot reach the ideal, "
		    "which gives each slot\na CPU of its own.\n", b->workers,
		    b->cpus);
	if (!b->no_thread && strcmp(b->iso[BENCH_THR], "thread") != 0)
		printf("warning: pool thr reports isolation \"%s\": this "
		    "commisd does not run\nthread pools, so the thread column "
		    "measures processes too.\n", b->iso[BENCH_THR]);
}

void
bench_print(const struct bench *b)
{
	const struct bench_figdef	*d;
	const char			*last = NULL;
	char				 p[32], t[32], r[32];
	int				 f;

	bench_print_head(b);
	printf("%-28s %-16s %-6s %10s %10s %8s\n", "figure", "stat", "unit",
	    "process", "thread", "ratio");
	for (f = 0; f < BENCH_NFIGS; f++) {
		d = &bench_figs[f];
		bench_fmt(p, sizeof p, b->fig[BENCH_PROC][f]);
		bench_fmt(t, sizeof t, b->fig[BENCH_THR][f]);
		if (isnan(bench_ratio(b, (enum bench_fig)f)))
			snprintf(r, sizeof r, "-");
		else
			snprintf(r, sizeof r, "%.2f",
			    bench_ratio(b, (enum bench_fig)f));
		printf("%-28s %-16s %-6s %10s %10s %8s\n",
		    last != NULL && strcmp(last, d->section) == 0 ? "" :
		    d->section, d->stat, d->unit, p, t, r);
		last = d->section;
	}
	printf("(ratio: thread / process)\n");
	bench_print_notes(b);
	fflush(stdout);
}

/* A JSON string: escapes quotes, backslashes and control characters. */
static void
bench_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void
bench_json_num(FILE *f, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", f);
	else
		fprintf(f, "%.3f", v);
}

static void
bench_json_pool(FILE *f, const struct bench *b, enum bench_pool pool)
{
	int	i;

	fprintf(f, "{\"name\": \"%s\", \"isolation\": ",
	    bench_pool_name(pool));
	if (b->iso[pool][0] != '\0')
		bench_json_str(f, b->iso[pool]);
	else
		fputs("null", f);
	fprintf(f, ", \"figures\": {");
	for (i = 0; i < BENCH_NFIGS; i++) {
		fprintf(f, "%s\n      \"%s\": ", i > 0 ? "," : "",
		    bench_figs[i].key);
		bench_json_num(f, b->fig[pool][i]);
	}
	fprintf(f, "\n    }}");
}

static void
bench_json_figs(FILE *f, const struct bench *b)
{
	const struct bench_figdef	*d;
	int				 i;

	fprintf(f, "  \"figures\": [");
	for (i = 0; i < BENCH_NFIGS; i++) {
		d = &bench_figs[i];
		fprintf(f, "%s\n    {\"key\": \"%s\", \"section\": ",
		    i > 0 ? "," : "", d->key);
		bench_json_str(f, d->section);
		fprintf(f, ", \"stat\": ");
		bench_json_str(f, d->stat);
		fprintf(f, ", \"unit\": \"%s\", \"better\": \"%s\", "
		    "\"process\": ", d->unit, d->better > 0 ? "higher" :
		    d->better < 0 ? "lower" : "none");
		bench_json_num(f, b->fig[BENCH_PROC][i]);
		fprintf(f, ", \"thread\": ");
		bench_json_num(f, b->fig[BENCH_THR][i]);
		fprintf(f, ", \"ratio\": ");
		bench_json_num(f, bench_ratio(b, (enum bench_fig)i));
		fputc('}', f);
	}
	fprintf(f, "\n  ]\n");
}

int
bench_write_json(struct bench *b)
{
	FILE	*f;

	if ((f = fopen(b->json, "we")) == NULL)
		return bench_err(b, "%s: %s", b->json, strerror(errno));
	fprintf(f, "{\n  \"version\": \"%s\",\n  \"commisd_version\": ",
	    COMMIS_VERSION);
	bench_json_str(f, b->dversion);
	fprintf(f, ",\n  \"command\": ");
	bench_json_str(f, b->cmdline);
	fprintf(f, ",\n  \"machine\": {\"nproc\": %ld, \"cpu_model\": ",
	    b->cpus);
	bench_json_str(f, b->model);
	fprintf(f, ", \"kernel\": ");
	bench_json_str(f, b->kernel);
	fprintf(f, "},\n  \"workers\": %u,\n  \"iterations\": %u,\n"
	    "  \"quick\": %s,\n  \"cpu_job\": {\"handler\": ", b->workers,
	    b->iterations, b->quick ? "true" : "false");
	bench_json_str(f, b->cpu_handler);
	fprintf(f, ", \"data\": ");
	bench_json_str(f, b->cpu_data);
	fprintf(f, ", \"ms_per_job\": ");
	bench_json_num(f, b->cpu_ms);
	fprintf(f, ", \"measured\": %s, \"ideal_jobs_s\": ",
	    b->cpu_ms_measured ? "true" : "false");
	bench_json_num(f, (double)b->workers * 1000.0 / b->cpu_ms);
	fprintf(f, "},\n  \"pools\": {\n    \"process\": ");
	bench_json_pool(f, b, BENCH_PROC);
	fprintf(f, ",\n    \"thread\": ");
	if (b->no_thread)
		fputs("null", f);
	else
		bench_json_pool(f, b, BENCH_THR);
	fprintf(f, "\n  },\n");
	bench_json_figs(f, b);
	fprintf(f, "}\n");
	if (fclose(f) == EOF)
		return bench_err(b, "%s: %s", b->json, strerror(errno));
	return 0;
}

/* --- the SVG chart --- */

#define SVG_LEFT	56	/* the axis labels */
#define SVG_GROUP	104	/* one figure: two bars and a gap */
#define SVG_BAR		34
#define SVG_TOP		84
#define SVG_PLOT	240	/* plot height */
#define SVG_LABELS	80	/* the figure names below the plot */
#define SVG_YMAX	4.0	/* ratios above are clipped */
#define SVG_WRAP	18	/* characters per label line */
#define SVG_PROC_FILL	"#4e79a7"
#define SVG_THR_FILL	"#f28e2b"

/* Text for XML. */
static void
svg_esc(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '&')
			fputs("&amp;", f);
		else if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '"')
			fputs("&quot;", f);
		else if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
}

/* A centred label, wrapped at spaces into lines of about SVG_WRAP. */
static int
svg_label(FILE *f, int x, int y, const char *s)
{
	char	line[64];
	size_t	n, cut;
	int	lines = 0;

	while (*s != '\0') {
		n = strlen(s);
		cut = n;
		if (n > SVG_WRAP) {
			for (cut = SVG_WRAP; cut > 0 && s[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = n < sizeof line - 1 ? n : sizeof line - 1;
		}
		if (cut >= sizeof line)
			cut = sizeof line - 1;
		memcpy(line, s, cut);
		line[cut] = '\0';
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
		    x, y + 12 * lines++);
		svg_esc(f, line);
		fputs("</text>\n", f);
		s += cut;
		s += strspn(s, " ");
	}
	return lines;
}

static double
svg_y(double v, double ymax)
{
	if (v > ymax)
		v = ymax;
	return SVG_TOP + SVG_PLOT - v / ymax * SVG_PLOT;
}

static void
svg_bar(FILE *f, int x, double ratio, double value, double ymax,
    const char *fill, const char *unit)
{
	char	v[32];
	double	y = svg_y(ratio, ymax);

	bench_fmt(v, sizeof v, value);
	fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
	    "fill=\"%s\"><title>%s %s (x%.2f)</title></rect>\n", x, y, SVG_BAR,
	    SVG_TOP + SVG_PLOT - y, fill, v, unit, ratio);
	fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\" "
	    "font-size=\"9\">%s%s</text>\n", x + SVG_BAR / 2, y - 3, v,
	    ratio > ymax ? " ^" : "");
}

static void
svg_group(FILE *f, const struct bench *b, enum bench_fig fig, int g,
    double ymax)
{
	const struct bench_figdef	*d = &bench_figs[fig];
	char				 label[160];
	int				 x = SVG_LEFT + g * SVG_GROUP + 16;

	svg_bar(f, x, 1.0, b->fig[BENCH_PROC][fig], ymax, SVG_PROC_FILL,
	    d->unit);
	svg_bar(f, x + SVG_BAR + 4, bench_ratio(b, fig),
	    b->fig[BENCH_THR][fig], ymax, SVG_THR_FILL, d->unit);
	snprintf(label, sizeof label, "%s, %s (%s, %s is better)", d->section,
	    d->stat, d->unit, d->better > 0 ? "higher" : "lower");
	svg_label(f, x + SVG_BAR + 2, SVG_TOP + SVG_PLOT + 16, label);
}

/* The grid: a line every 0.5 (every 1 above 2), the 1.0 line darker. */
static void
svg_grid(FILE *f, int width, double ymax)
{
	double	v, step = ymax > 2 ? 1.0 : 0.5;

	for (v = 0; v <= ymax + 1e-9; v += step)
		fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
		    "stroke=\"%s\"/>\n<text x=\"%d\" y=\"%.1f\" "
		    "text-anchor=\"end\">x%.1f</text>\n", SVG_LEFT,
		    svg_y(v, ymax), width - 8, svg_y(v, ymax),
		    v > 1.0 - 1e-9 && v < 1.0 + 1e-9 ? "#555" : "#ddd",
		    SVG_LEFT - 6,
		    svg_y(v, ymax) + 4, v);
}

static void
svg_head(FILE *f, const struct bench *b, int width, int height)
{
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" "
	    "font-size=\"10\">\n<rect width=\"%d\" height=\"%d\" "
	    "fill=\"white\"/>\n", width, height, width, height, width, height);
	fprintf(f, "<text x=\"%d\" y=\"22\" font-size=\"15\" "
	    "font-weight=\"bold\">commis bench: isolation thread against "
	    "process (process = 1)</text>\n", SVG_LEFT);
	fprintf(f, "<text x=\"%d\" y=\"40\">%u job slots per pool, %ld CPUs "
	    "(", SVG_LEFT, b->workers, b->cpus);
	svg_esc(f, b->model);
	fprintf(f, "), commis %s; each bar is the figure divided by the "
	    "process figure, its value on top.</text>\n", COMMIS_VERSION);
	fprintf(f, "<rect x=\"%d\" y=\"52\" width=\"12\" height=\"12\" "
	    "fill=\"%s\"/><text x=\"%d\" y=\"62\">process</text>\n"
	    "<rect x=\"%d\" y=\"52\" width=\"12\" height=\"12\" fill=\"%s\"/>"
	    "<text x=\"%d\" y=\"62\">thread</text>\n", SVG_LEFT,
	    SVG_PROC_FILL, SVG_LEFT + 16, SVG_LEFT + 80, SVG_THR_FILL,
	    SVG_LEFT + 96);
}

/* The counts a ratio cannot show (process is 0), in words. */
static void
svg_blast(FILE *f, const struct bench *b)
{
	char	v[4][32];

	bench_fmt(v[0], sizeof v[0], b->fig[BENCH_PROC][BF_BLAST_REQ]);
	bench_fmt(v[1], sizeof v[1], b->fig[BENCH_THR][BF_BLAST_REQ]);
	bench_fmt(v[2], sizeof v[2], b->fig[BENCH_PROC][BF_HANG_REQ]);
	bench_fmt(v[3], sizeof v[3], b->fig[BENCH_THR][BF_HANG_REQ]);
	fprintf(f, "<text x=\"%d\" y=\"62\">Other jobs requeued by one "
	    "crash: process %s, thread %s; by one hard timeout: process %s, "
	    "thread %s (%u other slot%s busy).</text>\n", SVG_LEFT + 160,
	    v[0], v[1], v[2], v[3], b->workers - 1,
	    b->workers == 2 ? "" : "s");
}

int
bench_write_svg(struct bench *b)
{
	enum bench_fig	 figs[BENCH_NFIGS];
	double		 r, ymax = 1.0;
	int		 n = 0, i, width, height;
	FILE		*f;

	for (i = 0; i < BENCH_NFIGS; i++) {
		r = bench_ratio(b, (enum bench_fig)i);
		if (!bench_figs[i].chart || isnan(r))
			continue;
		figs[n++] = (enum bench_fig)i;
		if (r > ymax)
			ymax = r;
	}
	/* Up to the next half, plus a half for the value labels. */
	ymax = (double)(int)(ymax * 2 + 0.999999) / 2 + 0.5;
	if (ymax > SVG_YMAX)
		ymax = SVG_YMAX;
	width = SVG_LEFT + (n > 0 ? n : 4) * SVG_GROUP + 16;
	height = SVG_TOP + SVG_PLOT + SVG_LABELS + 24;
	if ((f = fopen(b->svg, "we")) == NULL)
		return bench_err(b, "%s: %s", b->svg, strerror(errno));
	svg_head(f, b, width, height);
	svg_blast(f, b);
	svg_grid(f, width, ymax);
	for (i = 0; i < n; i++)
		svg_group(f, b, figs[i], i, ymax);
	if (n == 0)
		fprintf(f, "<text x=\"%d\" y=\"%d\">no figure measured on both "
		    "pools</text>\n", SVG_LEFT + 8, SVG_TOP + SVG_PLOT / 2);
	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"9\">", SVG_LEFT,
	    height - 8);
	svg_esc(f, b->cmdline);
	fprintf(f, "</text>\n</svg>\n");
	if (fclose(f) == EOF)
		return bench_err(b, "%s: %s", b->svg, strerror(errno));
	return 0;
}
