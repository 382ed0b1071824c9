/*
 * commis-thumbnail.so: the "thumbnail" handler, sharp's core operation on
 * libvips. The input is one header line of options, then an encoded image
 * (any format libvips reads); the result is the resized image, encoded as
 * asked. See docs/cookbook-thumbnails.md for the options, their sharp
 * equivalents and where they differ.
 *
 *	width=W height=H fit=cover|contain|fill|inside|outside quality=Q
 *	format=jpeg|png|webp\n<image bytes>
 *
 * It knows only the public handler ABI (commis/handler.h) and libvips;
 * nothing of commis's internals. It is built only when pkg-config finds
 * libvips 8.13 or later, and the core never links libvips.
 *
 * Why the process-wide settings in thumb_init:
 * - init() runs in the worker, after the fork: VIPS_INIT starts libvips's
 *   threads, which a fork must never copy, so it cannot run in the
 *   supervisor where the module is dlopened.
 * - vips_concurrency_set(1): commis parallelises by process (one job per
 *   worker, as many workers as CPUs); a libvips thread pool per worker on
 *   top of that would only make the workers fight over the same CPUs.
 * - Loaders: libvips flags as untrusted the ones not fuzzed for hostile
 *   input (ImageMagick, PDF, SVG, JPEG 2000, JPEG XL, FITS, Matlab, CSV,
 *   ...); they are blocked, as libvips advises for untrusted images, and
 *   a job in their formats fails ("operation is blocked"). JPEG, PNG,
 *   WebP, GIF, TIFF and HEIF/AVIF stay, and so does PPM/PGM (a parser of
 *   a few lines; generated images use it). COMMIS_THUMBNAIL_UNTRUSTED=1
 *   in commisd's environment (workers inherit it) allows them all.
 * - vips_cache_set_max(0): libvips caches operations by their arguments,
 *   and a buffer argument is known by its address. A segment's mapping is
 *   unmapped after the job and the next job's mapping may land at the same
 *   address with other bytes: a cache hit would then read the wrong image,
 *   or unmapped memory. Thumbnails are never repeated within a worker
 *   anyway.
 *
 * Not flagged COMMIS_HANDLER_THREAD_SAFE: libvips itself is thread-safe,
 * but its error buffer is one per process, so two jobs failing at once on
 * the threads of one host could each report the other's cause; and image
 * decoders fed untrusted files are the textbook case for process
 * isolation (docs/isolation.md). A thread pool refuses the handler at
 * submission (error unsupported).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "commis/handler.h"

#define THUMB_HEADER_MAX	256	/* longest options line, newline excluded */
#define THUMB_SIDE_MAX		16383	/* WebP's largest side; a requested or
					   resulting side beyond it is refused */
/* sharp's default limitInputPixels (0x3FFF * 0x3FFF): a decompression
 * bomb is refused from its header, before any pixel is decoded. */
#define THUMB_PIXELS_MAX	268402689ull
#define THUMB_QUALITY_DEFAULT	80	/* sharp's default for JPEG and WebP */
#define THUMB_PNG_COMPRESSION	6	/* sharp's default compressionLevel */
#define THUMB_SHOW_MAX		32	/* option text quoted in an error */
#define THUMB_BANDS_MAX		16	/* letterbox: bands given a colour each */
/* "1" in commisd's environment: libvips's untrusted loaders allowed. */
#define THUMB_ENV_UNTRUSTED	"COMMIS_THUMBNAIL_UNTRUSTED"

enum thumb_fit {
	THUMB_FIT_COVER,
	THUMB_FIT_CONTAIN,
	THUMB_FIT_FILL,
	THUMB_FIT_INSIDE,
	THUMB_FIT_OUTSIDE,
};

enum thumb_format {
	THUMB_FORMAT_JPEG,
	THUMB_FORMAT_PNG,
	THUMB_FORMAT_WEBP,
};

struct thumb_opts {
	int		 width;		/* 0: not given */
	int		 height;	/* 0: not given */
	int		 fit;		/* enum thumb_fit */
	int		 quality;
	int		 format;	/* enum thumb_format */
	unsigned	 seen;		/* bit per thumb_keys entry */
};

/* One job: what the eval callback needs to honour cancelled(). */
struct thumb_job {
	struct commis_call	*call;
	pthread_t		 thread;
	int			 cancelled;
};

struct thumb_name {
	const char	*name;
	int		 value;
};

struct thumb_key {
	const char	*name;
	int		(*parse)(struct commis_call *, const struct thumb_key *,
			    const char *, struct thumb_opts *);
	size_t		 off;		/* of the int it sets */
	int		 min, max;	/* integers */
	const struct thumb_name *names;	/* enumerations, NULL-terminated */
};

extern const struct commis_module commis_module;

static int	thumb_parse_int(struct commis_call *, const struct thumb_key *,
		    const char *, struct thumb_opts *);
static int	thumb_parse_name(struct commis_call *,
		    const struct thumb_key *, const char *,
		    struct thumb_opts *);

static const struct thumb_name thumb_fits[] = {
	{ "cover", THUMB_FIT_COVER },
	{ "contain", THUMB_FIT_CONTAIN },
	{ "fill", THUMB_FIT_FILL },
	{ "inside", THUMB_FIT_INSIDE },
	{ "outside", THUMB_FIT_OUTSIDE },
	{ NULL, 0 },
};

static const struct thumb_name thumb_formats[] = {
	{ "jpeg", THUMB_FORMAT_JPEG },
	{ "jpg", THUMB_FORMAT_JPEG },
	{ "png", THUMB_FORMAT_PNG },
	{ "webp", THUMB_FORMAT_WEBP },
	{ NULL, 0 },
};

static const struct thumb_key thumb_keys[] = {
	{ "width", thumb_parse_int, offsetof(struct thumb_opts, width),
	    1, THUMB_SIDE_MAX, NULL },
	{ "height", thumb_parse_int, offsetof(struct thumb_opts, height),
	    1, THUMB_SIDE_MAX, NULL },
	{ "fit", thumb_parse_name, offsetof(struct thumb_opts, fit),
	    0, 0, thumb_fits },
	{ "quality", thumb_parse_int, offsetof(struct thumb_opts, quality),
	    1, 100, NULL },
	{ "format", thumb_parse_name, offsetof(struct thumb_opts, format),
	    0, 0, thumb_formats },
};
#define THUMB_NKEYS	(sizeof thumb_keys / sizeof thumb_keys[0])

/* A printable excerpt of untrusted text, for an error message. */
static void
thumb_show(char *dst, size_t dstlen, const char *s)
{
	size_t	i;

	for (i = 0; s[i] != '\0' && i < THUMB_SHOW_MAX && i + 4 < dstlen; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0' && i + 4 <= dstlen) {
		memcpy(dst + i, "...", 4);
		return;
	}
	dst[i] = '\0';
}

static int
thumb_parse_int(struct commis_call *call, const struct thumb_key *k,
    const char *v, struct thumb_opts *o)
{
	char	show[THUMB_SHOW_MAX + 4];
	long	n = 0;
	size_t	i;

	for (i = 0; v[i] != '\0'; i++) {
		if (v[i] < '0' || v[i] > '9' || n > k->max)
			goto bad;
		n = n * 10 + (v[i] - '0');
	}
	if (i == 0 || n < k->min || n > k->max)
		goto bad;
	*(int *)(void *)((char *)o + k->off) = (int)n;
	return 0;

bad:
	thumb_show(show, sizeof show, v);
	call->error(call, "thumbnail: %s: expected an integer %d..%d, got '%s'",
	    k->name, k->min, k->max, show);
	return -1;
}

static int
thumb_parse_name(struct commis_call *call, const struct thumb_key *k,
    const char *v, struct thumb_opts *o)
{
	const struct thumb_name	*n;
	char			 show[THUMB_SHOW_MAX + 4];
	char			 list[128];
	size_t			 len = 0;

	for (n = k->names; n->name != NULL; n++) {
		if (strcmp(n->name, v) == 0) {
			*(int *)(void *)((char *)o + k->off) = n->value;
			return 0;
		}
	}
	list[0] = '\0';
	for (n = k->names; n->name != NULL && len < sizeof list; n++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
		    len == 0 ? "" : "|", n->name);
	thumb_show(show, sizeof show, v);
	call->error(call, "thumbnail: %s: expected %s, got '%s'", k->name,
	    list, show);
	return -1;
}

/* One "key=value" word of the header line. */
static int
thumb_option(struct commis_call *call, char *word, struct thumb_opts *o)
{
	char	show[THUMB_SHOW_MAX + 4], *eq;
	size_t	i;

	if ((eq = strchr(word, '=')) == NULL)
		goto bad;
	*eq = '\0';
	for (i = 0; i < THUMB_NKEYS; i++) {
		if (strcmp(thumb_keys[i].name, word) != 0)
			continue;
		if (o->seen & (1u << i)) {
			call->error(call, "thumbnail: option '%s' given twice",
			    word);
			return -1;
		}
		o->seen |= 1u << i;
		return thumb_keys[i].parse(call, &thumb_keys[i], eq + 1, o);
	}
	*eq = '=';
bad:
	thumb_show(show, sizeof show, word);
	call->error(call, "thumbnail: unknown option '%s' (expected "
	    "width=W height=H fit=F quality=Q format=F)", show);
	return -1;
}

/*
 * The options line; *skip is its length with the newline, so that the
 * image starts at call->input + *skip.
 */
static int
thumb_header(struct commis_call *call, struct thumb_opts *o, size_t *skip)
{
	char		 line[THUMB_HEADER_MAX + 1], *word, *save;
	const uint8_t	*nl;
	size_t		 n;

	memset(o, 0, sizeof *o);
	o->fit = THUMB_FIT_INSIDE;
	o->quality = THUMB_QUALITY_DEFAULT;
	o->format = THUMB_FORMAT_JPEG;

	n = call->input_len < sizeof line ? call->input_len : sizeof line;
	if ((nl = memchr(call->input, '\n', n)) == NULL) {
		call->error(call, "thumbnail: expected a header line of "
		    "options (at most %d bytes) ending in a newline, then the "
		    "image", THUMB_HEADER_MAX);
		return -1;
	}
	n = (size_t)(nl - call->input);
	memcpy(line, call->input, n);
	line[n] = '\0';
	*skip = n + 1;
	if (memchr(line, '\0', n) != NULL) {
		call->error(call, "thumbnail: NUL byte in the header line");
		return -1;
	}
	for (word = strtok_r(line, " \t\r", &save); word != NULL;
	    word = strtok_r(NULL, " \t\r", &save)) {
		if (thumb_option(call, word, o) == -1)
			return -1;
	}
	if (o->width == 0 && o->height == 0) {
		call->error(call, "thumbnail: width or height is required");
		return -1;
	}
	return 0;
}

/* libvips's error text as the job's cause, on one line. */
static int
thumb_fail(struct commis_call *call, struct thumb_job *job, const char *what)
{
	char	*msg, *p;
	size_t	 len;

	if (job != NULL && job->cancelled) {
		vips_error_clear();
		call->error(call, "thumbnail: cancelled");
		return -1;
	}
	msg = vips_error_buffer_copy();
	len = strlen(msg);
	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	for (p = msg; *p != '\0'; p++) {
		if (*p == '\n')
			*p = ' ';
	}
	call->error(call, "thumbnail: %s: %s", what,
	    len > 0 ? msg : "libvips gave no reason");
	g_free(msg);
	return -1;
}

/*
 * The header only (libvips reads no pixels yet): refuses decompression
 * bombs, and gives the size after EXIF auto-rotation, which fit=outside
 * needs to choose its binding side, and whether a colour profile is
 * embedded.
 */
static int
thumb_probe(struct commis_call *call, const void *img, size_t len,
    int *w, int *h, int *icc)
{
	VipsSource	*src;
	VipsImage	*im;

	if ((src = vips_source_new_from_memory(img, len)) == NULL)
		return thumb_fail(call, NULL, "input");
	im = vips_image_new_from_source(src, "", "access",
	    VIPS_ACCESS_SEQUENTIAL, NULL);
	g_object_unref(src);
	if (im == NULL)
		return thumb_fail(call, NULL, "not an image libvips reads");
	*w = vips_image_get_width(im);
	*h = vips_image_get_height(im);
	*icc = vips_image_get_typeof(im, VIPS_META_ICC_NAME) != 0;
	if (vips_image_get_orientation_swap(im)) {
		*w = vips_image_get_height(im);
		*h = vips_image_get_width(im);
	}
	g_object_unref(im);
	if ((unsigned long long)*w * (unsigned long long)*h >
	    THUMB_PIXELS_MAX) {
		call->error(call, "thumbnail: input of %dx%d is more than "
		    "%llu pixels", *w, *h, THUMB_PIXELS_MAX);
		return -1;
	}
	return 0;
}

/*
 * sharp's fit as vips_thumbnail arguments. With one side given, the other
 * follows the aspect ratio whatever the fit (as in sharp): VIPS_MAX_COORD
 * on the other side makes the given one bind.
 */
static void
thumb_box(const struct thumb_opts *o, int iw, int ih, int *w, int *h,
    VipsSize *size, VipsInteresting *crop)
{
	*w = o->width != 0 ? o->width : VIPS_MAX_COORD;
	*h = o->height != 0 ? o->height : VIPS_MAX_COORD;
	*size = VIPS_SIZE_BOTH;
	*crop = VIPS_INTERESTING_NONE;
	if (o->width == 0 || o->height == 0)
		return;
	switch (o->fit) {
	case THUMB_FIT_COVER:
		*crop = VIPS_INTERESTING_CENTRE;
		break;
	case THUMB_FIT_FILL:
		*size = VIPS_SIZE_FORCE;
		break;
	case THUMB_FIT_OUTSIDE:
		/* The side with the larger scale binds: W/iw >= H/ih. */
		if ((long long)o->width * ih >= (long long)o->height * iw)
			*h = VIPS_MAX_COORD;
		else
			*w = VIPS_MAX_COORD;
		break;
	default:	/* inside; contain is inside, then letterboxed */
		break;
	}
}

/*
 * fit=contain: centred on a box of exactly W x H, black and opaque like
 * sharp's default background. A background with one value covers every
 * band; with an alpha band, each band gets its own.
 */
static int
thumb_letterbox(const struct thumb_opts *o, VipsImage *in, VipsImage **out)
{
	VipsArrayDouble	*bg;
	double		 v[THUMB_BANDS_MAX] = { 0 };
	int		 bands = 1, r;

	if (vips_image_hasalpha(in) &&
	    vips_image_get_bands(in) <= THUMB_BANDS_MAX) {
		bands = vips_image_get_bands(in);
		v[bands - 1] = vips_image_get_format(in) == VIPS_FORMAT_USHORT ?
		    65535 : 255;
	}
	bg = vips_array_double_new(v, bands);
	r = vips_gravity(in, out, VIPS_COMPASS_DIRECTION_CENTRE, o->width,
	    o->height, "extend", VIPS_EXTEND_BACKGROUND, "background", bg,
	    NULL);
	vips_area_unref(VIPS_AREA(bg));
	return r;
}

/*
 * libvips emits "eval" as it computes the result. In the job's own thread
 * (cancelled() reads the worker's channel, so only there) a cancel or a
 * soft timeout kills the computation: the job ends without waiting for the
 * hard timeout's SIGKILL, and the worker lives on.
 */
static void
thumb_eval(VipsImage *im, VipsProgress *progress, void *arg)
{
	struct thumb_job	*job = arg;

	if (!pthread_equal(pthread_self(), job->thread))
		return;
	if (job->cancelled || job->call->cancelled(job->call)) {
		job->cancelled = 1;
		vips_image_set_kill(im, TRUE);
	}
}

static int
thumb_save(const struct thumb_opts *o, VipsImage *im, void **buf,
    size_t *len)
{
	switch (o->format) {
	case THUMB_FORMAT_PNG:
		/* sharp: compressionLevel 6, adaptiveFiltering off. */
		return vips_pngsave_buffer(im, buf, len, "strip", TRUE,
		    "compression", THUMB_PNG_COMPRESSION, "filter",
		    VIPS_FOREIGN_PNG_FILTER_NONE, NULL);
	case THUMB_FORMAT_WEBP:
		return vips_webpsave_buffer(im, buf, len, "strip", TRUE, "Q",
		    o->quality, NULL);
	default:
		/* sharp: 4:2:0 chroma subsampling at every quality. */
		return vips_jpegsave_buffer(im, buf, len, "strip", TRUE, "Q",
		    o->quality, "subsample_mode", VIPS_FOREIGN_SUBSAMPLE_ON,
		    NULL);
	}
}

/* Resize and encode; the result goes to call->write. */
static int
thumb_make(struct commis_call *call, struct thumb_job *job,
    const struct thumb_opts *o, const void *img, size_t len)
{
	VipsSource	*src;
	VipsImage	*t = NULL, *boxed = NULL;
	VipsSize	 size;
	VipsInteresting	 crop;
	void		*buf = NULL;
	size_t		 outlen = 0;
	int		 iw = 0, ih = 0, icc = 0, w, h, r = -1;

	if (thumb_probe(call, img, len, &iw, &ih, &icc) == -1)
		return -1;
	thumb_box(o, iw, ih, &w, &h, &size, &crop);
	/*
	 * vips_thumbnail_buffer's twin on a memory source (no copy): the
	 * same shrink-on-load (JPEG, WebP, ...), and libvips has loaders for
	 * more formats from a source than from a buffer (PPM/PGM, for one,
	 * which vips_thumbnail_buffer reads only through ImageMagick).
	 *
	 * The result's profile is stripped, so an embedded one (Display P3,
	 * Adobe RGB, CMYK...) is used to convert the pixels to sRGB first,
	 * as sharp does. Without one the pixels are taken as sRGB already:
	 * an export profile then would cost a transform and shift colours.
	 */
	if ((src = vips_source_new_from_memory(img, len)) == NULL)
		return thumb_fail(call, job, "input");
	if (icc)
		r = vips_thumbnail_source(src, &t, w, "height", h, "size",
		    size, "crop", crop, "fail_on", VIPS_FAIL_ON_WARNING,
		    "export_profile", "srgb", NULL);
	else
		r = vips_thumbnail_source(src, &t, w, "height", h, "size",
		    size, "crop", crop, "fail_on", VIPS_FAIL_ON_WARNING, NULL);
	g_object_unref(src);
	if (r != 0)
		return thumb_fail(call, job, "resize");
	r = -1;
	if (vips_image_get_width(t) > THUMB_SIDE_MAX ||
	    vips_image_get_height(t) > THUMB_SIDE_MAX) {
		call->error(call, "thumbnail: the result would be %dx%d, more "
		    "than %d on a side", vips_image_get_width(t),
		    vips_image_get_height(t), THUMB_SIDE_MAX);
		goto out;
	}
	if (o->fit == THUMB_FIT_CONTAIN && o->width != 0 && o->height != 0) {
		if (thumb_letterbox(o, t, &boxed) != 0) {
			thumb_fail(call, job, "letterbox");
			goto out;
		}
		g_object_unref(t);
		t = boxed;
	}
	vips_image_set_progress(t, TRUE);
	g_signal_connect(t, "eval", G_CALLBACK(thumb_eval), job);
	if (thumb_save(o, t, &buf, &outlen) != 0) {
		thumb_fail(call, job, "encode");
		goto out;
	}
	if (call->write(call, buf, outlen) == -1) {
		call->error(call, "thumbnail: result of %zu bytes is over the "
		    "limit", outlen);
		goto out;
	}
	r = 0;
out:
	g_free(buf);
	g_object_unref(t);
	return r;
}

static int
thumb_run(struct commis_call *call)
{
	struct thumb_opts	 o;
	struct thumb_job	 job;
	size_t			 skip;
	int			 r;

	if (thumb_header(call, &o, &skip) == -1)
		return -1;
	if (skip == call->input_len) {
		call->error(call, "thumbnail: no image after the header line");
		return -1;
	}
	job.call = call;
	job.thread = pthread_self();
	job.cancelled = 0;
	r = thumb_make(call, &job, &o, call->input + skip,
	    call->input_len - skip);
	vips_error_clear();
	return r;
}

static int
thumb_env_flag(const char *name)
{
	const char	*v = getenv(name);

	return v != NULL && strcmp(v, "1") == 0;
}

/*
 * libvips's warnings ("error in tile 0 x 10", one per tile of a bad
 * image) would reach commisd's log with no job named; the job's cause
 * already carries the error, so they are dropped.
 */
static void
thumb_log_drop(const gchar *domain, GLogLevelFlags level, const gchar *msg,
    gpointer arg)
{
}

static int
thumb_init(void **state)
{
	if (VIPS_INIT("commis-thumbnail") != 0) {
		fprintf(stderr, "thumbnail: libvips: %s\n",
		    vips_error_buffer());
		return -1;
	}
	vips_concurrency_set(1);
	vips_cache_set_max(0);
	g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING, thumb_log_drop, NULL);
	if (!thumb_env_flag(THUMB_ENV_UNTRUSTED)) {
		vips_block_untrusted_set(TRUE);
		vips_operation_block_set("VipsForeignLoadPpm", FALSE);
	}
	*state = NULL;
	return 0;
}

static void
thumb_fini(void *state)
{
	vips_shutdown();
}

static const struct commis_handler thumb_handlers[] = {
	{ "thumbnail", 0, thumb_init, thumb_run, thumb_fini },
};

const struct commis_module commis_module = {
	COMMIS_HANDLER_ABI,
	sizeof thumb_handlers / sizeof thumb_handlers[0],
	thumb_handlers,
};
