/*
 * The thumbnail module (modules/thumbnail) against a real commisd: sizes
 * and fits, pixels of the fits that crop, stretch or letterbox, the three
 * output formats and their quality, GIF input, libvips's untrusted
 * loaders blocked by default, images libvips cannot read, bad
 * options, a decompression bomb, a 36 MB input as a segment, a soft
 * timeout that stops the job without killing its worker, and refusal by a
 * thread pool. The test binary does not link libvips: it writes its
 * inputs by hand (binary PPM, and an uncompressed GIF) and reads the
 * results with its own parsers (JPEG SOF, PNG IHDR and IDAT through zlib,
 * WebP VP8/VP8L/VP8X).
 *
 * The module is built only when libvips is installed. Without it this
 * suite runs one test that checks the module is indeed absent and says
 * it skipped; `make test-run` sets COMMIS_THUMBNAIL_BUILT=1 when it built
 * the module, and then a missing module fails instead of skipping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "testlib.h"

#define THUMB_SO	"commis-thumbnail.so"
#define THUMB_YAML \
	"max_payload: 16M\n" \
	"pools:\n  - name: p\n    workers: 2\n    timeout_ms: 60000\n" \
	"    max_attempts: 1\n    modules: [%s]\n"
#define THUMB_SKIP_MSG \
	"thumbnail: libvips not installed, module not built; skipped"

enum { FMT_NONE, FMT_JPEG, FMT_PNG, FMT_WEBP };

/* A decoded 8-bit PNG: ch channels per pixel, rows packed. */
struct pngimg {
	unsigned	 w, h, ch;
	uint8_t		*px;
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint32_t
le24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/* JPEG: the first start-of-frame marker (SOF0..SOF15 but DHT, JPG, DAC). */
static int
jpeg_dims(const uint8_t *p, size_t n, unsigned *w, unsigned *h)
{
	size_t	i = 2, len;
	uint8_t	m;

	while (i + 4 <= n) {
		if (p[i] != 0xff)
			return -1;
		while (i < n && p[i] == 0xff)
			i++;
		if (i >= n)
			return -1;
		m = p[i++];
		if (m == 0x01 || (m >= 0xd0 && m <= 0xd8))
			continue;
		if (i + 2 > n)
			return -1;
		len = (size_t)p[i] << 8 | p[i + 1];
		if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 &&
		    m != 0xcc) {
			if (i + 7 > n)
				return -1;
			*h = (unsigned)p[i + 3] << 8 | p[i + 4];
			*w = (unsigned)p[i + 5] << 8 | p[i + 6];
			return 0;
		}
		i += len;
	}
	return -1;
}

static int
webp_dims(const uint8_t *p, size_t n, unsigned *w, unsigned *h)
{
	uint32_t	bits;

	if (n < 30)
		return -1;
	if (memcmp(p + 12, "VP8 ", 4) == 0) {
		if (p[23] != 0x9d || p[24] != 0x01 || p[25] != 0x2a)
			return -1;
		*w = (p[26] | (unsigned)p[27] << 8) & 0x3fff;
		*h = (p[28] | (unsigned)p[29] << 8) & 0x3fff;
		return 0;
	}
	if (memcmp(p + 12, "VP8L", 4) == 0) {
		if (p[20] != 0x2f)
			return -1;
		bits = (uint32_t)p[21] | (uint32_t)p[22] << 8 |
		    (uint32_t)p[23] << 16 | (uint32_t)p[24] << 24;
		*w = (bits & 0x3fff) + 1;
		*h = ((bits >> 14) & 0x3fff) + 1;
		return 0;
	}
	if (memcmp(p + 12, "VP8X", 4) == 0) {
		*w = le24(p + 24) + 1;
		*h = le24(p + 27) + 1;
		return 0;
	}
	return -1;
}

/* The format by its magic bytes, and the dimensions it declares. */
static int
img_dims(const uint8_t *p, size_t n, unsigned *w, unsigned *h)
{
	*w = *h = 0;
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return jpeg_dims(p, n, w, h) == 0 ? FMT_JPEG : FMT_NONE;
	if (n >= 24 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0 &&
	    memcmp(p + 12, "IHDR", 4) == 0) {
		*w = be32(p + 16);
		*h = be32(p + 20);
		return FMT_PNG;
	}
	if (n >= 16 && memcmp(p, "RIFF", 4) == 0 &&
	    memcmp(p + 8, "WEBP", 4) == 0)
		return webp_dims(p, n, w, h) == 0 ? FMT_WEBP : FMT_NONE;
	return FMT_NONE;
}

static uint8_t
paeth(int a, int b, int c)
{
	int	p = a + b - c, pa = abs(p - a), pb = abs(p - b),
		pc = abs(p - c);

	if (pa <= pb && pa <= pc)
		return (uint8_t)a;
	return (uint8_t)(pb <= pc ? b : c);
}

/* Non-interlaced 8-bit grey, grey+alpha, RGB or RGBA only. */
static void
png_decode(const uint8_t *p, size_t n, struct pngimg *im)
{
	uint8_t		*z = NULL, *raw, *row, *prev, f;
	size_t		 zlen = 0, off = 8, stride, i;
	uLongf		 rawlen;
	uint32_t	 len;
	unsigned	 y;
	int		 a, b, c;

	memset(im, 0, sizeof *im);
	ck_assert_int_ge(n, 33);
	ck_assert_int_eq(p[24], 8);		/* bit depth */
	ck_assert_int_eq(p[28], 0);		/* interlace */
	switch (p[25]) {
	case 0: im->ch = 1; break;
	case 2: im->ch = 3; break;
	case 4: im->ch = 2; break;
	case 6: im->ch = 4; break;
	default: ck_abort_msg("PNG colour type %d", p[25]);
	}
	im->w = be32(p + 16);
	im->h = be32(p + 20);
	while (off + 12 <= n) {
		len = be32(p + off);
		ck_assert_uint_le(off + 12 + len, n);
		if (memcmp(p + off + 4, "IDAT", 4) == 0) {
			z = realloc(z, zlen + len);
			ck_assert_ptr_nonnull(z);
			memcpy(z + zlen, p + off + 8, len);
			zlen += len;
		}
		off += 12 + (size_t)len;
	}
	stride = (size_t)im->w * im->ch;
	rawlen = (uLongf)((stride + 1) * im->h);
	raw = malloc(rawlen);
	im->px = malloc(stride * im->h);
	ck_assert(raw != NULL && im->px != NULL);
	ck_assert_int_eq(uncompress(raw, &rawlen, z, (uLong)zlen), Z_OK);
	ck_assert_uint_eq(rawlen, (stride + 1) * im->h);
	for (y = 0; y < im->h; y++) {
		f = raw[y * (stride + 1)];
		row = im->px + y * stride;
		prev = y > 0 ? row - stride : NULL;
		memcpy(row, raw + y * (stride + 1) + 1, stride);
		for (i = 0; i < stride; i++) {
			a = i >= im->ch ? row[i - im->ch] : 0;
			b = prev != NULL ? prev[i] : 0;
			c = prev != NULL && i >= im->ch ? prev[i - im->ch] : 0;
			switch (f) {
			case 0: break;
			case 1: row[i] = (uint8_t)(row[i] + a); break;
			case 2: row[i] = (uint8_t)(row[i] + b); break;
			case 3: row[i] = (uint8_t)(row[i] + (a + b) / 2); break;
			case 4: row[i] = (uint8_t)(row[i] + paeth(a, b, c));
				break;
			default: ck_abort_msg("PNG filter %d", f);
			}
		}
	}
	free(raw);
	free(z);
}

/* Within 40 of (r, g, b): resampling blurs only near edges. */
static void
png_expect(const struct pngimg *im, unsigned x, unsigned y, int r, int g,
    int b, const char *what)
{
	const uint8_t	*px = im->px + ((size_t)y * im->w + x) * im->ch;

	ck_assert_uint_ge(im->ch, 3);
	ck_assert_msg(abs(px[0] - r) <= 40 && abs(px[1] - g) <= 40 &&
	    abs(px[2] - b) <= 40, "%s: pixel (%u,%u) is (%d,%d,%d), "
	    "expected about (%d,%d,%d)", what, x, y, px[0], px[1], px[2], r,
	    g, b);
}

/*
 * A binary PPM: three vertical stripes, blue for the first quarter, green
 * for the middle half, red for the last quarter (where cover crops and
 * fill stretches show), or, with noise, pseudo-random pixels (where JPEG
 * and WebP quality show).
 */
static uint8_t *
ppm(unsigned w, unsigned h, int noise, size_t *len)
{
	uint8_t		*p, *q;
	uint32_t	 seed = 12345;
	unsigned	 x, y;
	int		 hl;

	hl = snprintf(NULL, 0, "P6\n%u %u\n255\n", w, h);
	*len = (size_t)hl + (size_t)w * h * 3;
	p = malloc(*len);
	ck_assert_ptr_nonnull(p);
	snprintf((char *)p, (size_t)hl + 1, "P6\n%u %u\n255\n", w, h);
	q = p + hl;
	for (y = 0; y < h; y++) {
		for (x = 0; x < w; x++, q += 3) {
			if (noise) {
				seed = seed * 1103515245u + 12345u;
				q[0] = (uint8_t)(seed >> 16);
				q[1] = (uint8_t)(seed >> 8);
				q[2] = (uint8_t)(x + y);
				continue;
			}
			q[0] = x >= 3 * w / 4 ? 255 : 0;
			q[1] = x >= w / 4 && x < 3 * w / 4 ? 255 : 0;
			q[2] = x < w / 4 ? 255 : 0;
		}
	}
	return p;
}

struct bits {
	uint8_t		*p;
	size_t		 len;
	uint32_t	 acc;
	int		 n;
};

static void
bits_put(struct bits *b, unsigned code, int width)
{
	b->acc |= (uint32_t)code << b->n;
	for (b->n += width; b->n >= 8; b->n -= 8, b->acc >>= 8)
		b->p[b->len++] = (uint8_t)b->acc;
}

/*
 * The same stripes as a GIF, written without compression: LZW with 9-bit
 * codes, every pixel a literal, and a clear code before the code table
 * could grow past 9 bits.
 */
static uint8_t *
gif(unsigned w, unsigned h, size_t *len)
{
	struct bits	 b = { NULL, 0, 0, 0 };
	uint8_t		*p, *q;
	size_t		 npx = (size_t)w * h, i, off;
	unsigned	 x, run = 0;

	b.p = malloc(npx * 2 + 16);
	/* Header, colour table, descriptor; codes and block lengths. */
	p = malloc(13 + 768 + 11 + npx * 3 + 32);
	ck_assert(b.p != NULL && p != NULL);
	memcpy(p, "GIF89a", 6);
	p[6] = (uint8_t)w; p[7] = (uint8_t)(w >> 8);
	p[8] = (uint8_t)h; p[9] = (uint8_t)(h >> 8);
	p[10] = 0xf7;			/* 256-entry global colour table */
	p[11] = p[12] = 0;
	q = p + 13;
	memset(q, 0, 768);
	q[2] = 255;			/* 0: blue */
	q[4] = 255;			/* 1: green */
	q[6] = 255;			/* 2: red */
	q += 768;
	memcpy(q, "\x2c\0\0\0\0", 5);
	q[5] = (uint8_t)w; q[6] = (uint8_t)(w >> 8);
	q[7] = (uint8_t)h; q[8] = (uint8_t)(h >> 8);
	q[9] = 0;
	q[10] = 8;			/* LZW minimum code size */
	q += 11;
	for (i = 0; i < npx; i++) {
		if (run++ % 250 == 0)
			bits_put(&b, 256, 9);	/* clear */
		x = (unsigned)(i % w);
		bits_put(&b, x < w / 4 ? 0 : x < 3 * w / 4 ? 1 : 2, 9);
	}
	bits_put(&b, 257, 9);			/* end of information */
	if (b.n > 0)
		b.p[b.len++] = (uint8_t)b.acc;
	for (off = 0; off < b.len; off += 255) {
		*q = (uint8_t)(b.len - off < 255 ? b.len - off : 255);
		memcpy(q + 1, b.p + off, *q);
		q += 1 + *q;
	}
	*q++ = 0;
	*q++ = 0x3b;
	*len = (size_t)(q - p);
	free(b.p);
	return p;
}

/* The job's input: the options line, then the image. */
static uint8_t *
job_input(const char *opts, const uint8_t *img, size_t len, size_t *total)
{
	size_t	 ol = strlen(opts);
	uint8_t	*p;

	*total = ol + len;
	p = malloc(*total + 1);
	ck_assert_ptr_nonnull(p);
	memcpy(p, opts, ol);
	if (len > 0)
		memcpy(p + ol, img, len);
	return p;
}

/* Submits opts + img to "thumbnail"; big inputs go as a segment. */
static void
thumb(struct ctx *c, const char *opts, const uint8_t *img, size_t len,
    struct commis_result *r)
{
	uint8_t	*in;
	size_t	 n;
	int	 rc;

	in = job_input(opts, img, len, &n);
	memset(r, 0, sizeof *r);
	if (n > (1u << 20))
		rc = commis_submit_copy(c->cl, "thumbnail", in, n, NULL, r);
	else
		rc = commis_submit_wait(c->cl, "thumbnail", in, n, NULL, r);
	free(in);
	ck_assert_msg(rc == COMMIS_OK, "submit '%s': %d (%s)", opts, rc,
	    r->cause);
}

/* Asserts success, the format and the size; returns nothing to free. */
static void
expect_image(const struct commis_result *r, const char *opts, int fmt,
    unsigned w, unsigned h)
{
	unsigned	gw, gh;
	int		gf;

	ck_assert_msg(r->status == COMMIS_ST_SUCCEEDED, "'%s': status %d, "
	    "cause '%s'", opts, r->status, r->cause);
	gf = img_dims(r->output, r->output_len, &gw, &gh);
	ck_assert_msg(gf == fmt, "'%s': format %d, expected %d", opts, gf,
	    fmt);
	ck_assert_msg(gw == w && gh == h, "'%s': %ux%u, expected %ux%u",
	    opts, gw, gh, w, h);
}

/*
 * Under make valgrind (COMMIS_TEST_WRAP), libvips must not use its
 * run-time generated vector code (liborc): valgrind does not see code
 * written through one mapping and run through another, runs stale
 * translations and reports reads in them. libvips's own advice for
 * valgrind is VIPS_NOVECTOR=1; workers inherit commisd's environment.
 */
static void
thumb_setup(void)
{
	const char	*wrap = getenv("COMMIS_TEST_WRAP");

	if (wrap != NULL && *wrap != '\0')
		ck_assert_int_eq(setenv("VIPS_NOVECTOR", "1", 1), 0);
}

static void
thumb_start(struct ctx *c)
{
	char	yaml[4096];

	snprintf(yaml, sizeof yaml, THUMB_YAML, test_build_path(THUMB_SO));
	ctx_start(c, yaml);
}

/* Each fit, and the aspect ratio kept when one side is given. */
START_TEST(test_thumbnail_fits)
{
	static const struct {
		const char	*opts;
		unsigned	 in_w, in_h;
		int		 fmt;
		unsigned	 w, h;
	} cases[] = {
		{ "width=100\n", 400, 300, FMT_JPEG, 100, 75 },
		{ "height=60\n", 400, 300, FMT_JPEG, 80, 60 },
		{ "width=100 height=100\n", 400, 300, FMT_JPEG, 100, 75 },
		{ "width=100 height=100 fit=inside format=png\n", 400, 300,
		    FMT_PNG, 100, 75 },
		{ "width=100 height=100 fit=cover format=png\n", 400, 300,
		    FMT_PNG, 100, 100 },
		{ "width=100 height=100 fit=contain format=png\n", 400, 300,
		    FMT_PNG, 100, 100 },
		{ "width=50 height=200 fit=fill format=png\n", 400, 300,
		    FMT_PNG, 50, 200 },
		{ "width=100 height=100 fit=outside format=webp\n", 400, 300,
		    FMT_WEBP, 133, 100 },
		{ "width=100 height=100 fit=outside format=webp\n", 300, 400,
		    FMT_WEBP, 100, 133 },
		{ "width=100 height=100 fit=inside\n", 300, 400, FMT_JPEG,
		    75, 100 },
		/* One side given: the fit does not matter (as in sharp). */
		{ "width=100 fit=cover\n", 300, 400, FMT_JPEG, 100, 133 },
		{ "height=100 fit=fill format=jpg\n", 400, 300, FMT_JPEG,
		    133, 100 },
		/* Enlarges, like sharp without withoutEnlargement. */
		{ "width=800 format=png\n", 400, 300, FMT_PNG, 800, 600 },
		/* Spaces, tabs and a CRLF line end are fine. */
		{ "  width=100\tformat=webp quality=90 \r\n", 400, 300,
		    FMT_WEBP, 100, 75 },
	};
	struct commis_result	 r;
	struct ctx		 c;
	uint8_t			*img;
	size_t			 i, len;

	thumb_start(&c);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		img = ppm(cases[i].in_w, cases[i].in_h, 0, &len);
		thumb(&c, cases[i].opts, img, len, &r);
		expect_image(&r, cases[i].opts, cases[i].fmt, cases[i].w,
		    cases[i].h);
		commis_result_free(&r);
		free(img);
	}
	ctx_stop(&c);
}
END_TEST

/*
 * 400x300 stripes (blue 0-99, green 100-299, red 300-399) to 200x200.
 * cover: scaled to 267x200, the middle 200 columns kept: blue 0-33,
 * green 34-166, red 167-199. fill: squeezed to half the width: blue
 * 0-49, green 50-149, red 150-199. contain: 200x150 on black, rows
 * 25-174.
 */
START_TEST(test_thumbnail_fit_pixels)
{
	struct commis_result	 r;
	struct pngimg		 im;
	struct ctx		 c;
	uint8_t			*img;
	size_t			 len;
	unsigned		 y;

	thumb_start(&c);
	img = ppm(400, 300, 0, &len);

	thumb(&c, "width=200 height=200 fit=cover format=png\n", img, len,
	    &r);
	expect_image(&r, "cover", FMT_PNG, 200, 200);
	png_decode(r.output, r.output_len, &im);
	png_expect(&im, 10, 100, 0, 0, 255, "cover");
	png_expect(&im, 42, 100, 0, 255, 0, "cover: cropped, not squeezed");
	png_expect(&im, 100, 0, 0, 255, 0, "cover");
	png_expect(&im, 190, 199, 255, 0, 0, "cover");
	free(im.px);
	commis_result_free(&r);

	thumb(&c, "width=200 height=200 fit=fill format=png\n", img, len,
	    &r);
	expect_image(&r, "fill", FMT_PNG, 200, 200);
	png_decode(r.output, r.output_len, &im);
	png_expect(&im, 42, 100, 0, 0, 255, "fill: squeezed, not cropped");
	png_expect(&im, 100, 100, 0, 255, 0, "fill");
	png_expect(&im, 160, 100, 255, 0, 0, "fill");
	free(im.px);
	commis_result_free(&r);

	thumb(&c, "width=200 height=200 fit=contain format=png\n", img, len,
	    &r);
	expect_image(&r, "contain", FMT_PNG, 200, 200);
	png_decode(r.output, r.output_len, &im);
	for (y = 0; y < 25; y++) {
		png_expect(&im, 100, y, 0, 0, 0, "contain: top band");
		png_expect(&im, 100, 199 - y, 0, 0, 0, "contain: bottom band");
	}
	png_expect(&im, 10, 100, 0, 0, 255, "contain");
	png_expect(&im, 100, 27, 0, 255, 0, "contain");
	png_expect(&im, 100, 172, 0, 255, 0, "contain");
	png_expect(&im, 190, 100, 255, 0, 0, "contain");
	free(im.px);
	commis_result_free(&r);

	free(img);
	ctx_stop(&c);
}
END_TEST

/* libvips reads the JPEG, PNG and WebP it wrote (JPEG: shrink-on-load). */
START_TEST(test_thumbnail_input_formats)
{
	static const char *const fmts[] = { "jpeg", "png", "webp" };
	static const int	 expect[] = { FMT_JPEG, FMT_PNG, FMT_WEBP };
	struct commis_result	 r, r2;
	struct ctx		 c;
	char			 opts[64];
	uint8_t			*img;
	size_t			 len, i, j;

	thumb_start(&c);
	img = ppm(400, 300, 0, &len);
	for (i = 0; i < 3; i++) {
		snprintf(opts, sizeof opts, "width=400 format=%s quality=95\n",
		    fmts[i]);
		thumb(&c, opts, img, len, &r);
		expect_image(&r, opts, expect[i], 400, 300);
		for (j = 0; j < 3; j++) {
			snprintf(opts, sizeof opts, "width=40 format=%s\n",
			    fmts[j]);
			thumb(&c, opts, r.output, r.output_len, &r2);
			expect_image(&r2, opts, expect[j], 40, 30);
			commis_result_free(&r2);
		}
		commis_result_free(&r);
	}
	free(img);
	ctx_stop(&c);
}
END_TEST

/* GIF in, PNG out. */
START_TEST(test_thumbnail_gif)
{
	struct commis_result	 r;
	struct pngimg		 im;
	struct ctx		 c;
	uint8_t			*img;
	size_t			 len;

	thumb_start(&c);
	img = gif(400, 300, &len);
	thumb(&c, "width=200 format=png\n", img, len, &r);
	expect_image(&r, "gif", FMT_PNG, 200, 150);
	png_decode(r.output, r.output_len, &im);
	png_expect(&im, 20, 75, 0, 0, 255, "gif");
	png_expect(&im, 100, 75, 0, 255, 0, "gif");
	png_expect(&im, 180, 75, 255, 0, 0, "gif");
	free(im.px);
	commis_result_free(&r);
	free(img);
	ctx_stop(&c);
}
END_TEST

/*
 * libvips's untrusted loaders (SVG here) are blocked unless commisd runs
 * with COMMIS_THUMBNAIL_UNTRUSTED=1. A libvips built without SVG says
 * "not in a known format" either way; "blocked" proves the loader is
 * there, and then the variable must let it through.
 */
START_TEST(test_thumbnail_untrusted)
{
	static const char	 svg[] = "<svg xmlns=\"http://www.w3.org/2000/"
				    "svg\" width=\"400\" height=\"300\"><rect "
				    "width=\"400\" height=\"300\" fill=\"red\"/>"
				    "</svg>\n";
	struct commis_result	 r;
	struct ctx		 c;
	int			 blocked;

	thumb_start(&c);
	thumb(&c, "width=100 format=png\n", (const uint8_t *)svg,
	    sizeof svg - 1, &r);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	blocked = strstr(r.cause, "operation is blocked") != NULL;
	ck_assert_msg(blocked || strstr(r.cause, "not in a known format"),
	    "cause '%s'", r.cause);
	commis_result_free(&r);
	ctx_stop(&c);
	if (!blocked)
		return;
	ck_assert_int_eq(setenv("COMMIS_THUMBNAIL_UNTRUSTED", "1", 1), 0);
	thumb_start(&c);
	thumb(&c, "width=100 format=png\n", (const uint8_t *)svg,
	    sizeof svg - 1, &r);
	expect_image(&r, "svg, untrusted allowed", FMT_PNG, 100, 75);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

/* quality reaches the JPEG and WebP encoders. */
START_TEST(test_thumbnail_quality)
{
	static const char *const fmts[] = { "jpeg", "webp" };
	struct commis_result	 lo, hi;
	struct ctx		 c;
	char			 opts[64];
	uint8_t			*img;
	size_t			 len, i;

	thumb_start(&c);
	img = ppm(400, 300, 1, &len);
	for (i = 0; i < 2; i++) {
		snprintf(opts, sizeof opts, "width=400 format=%s quality=10\n",
		    fmts[i]);
		thumb(&c, opts, img, len, &lo);
		expect_image(&lo, opts, i == 0 ? FMT_JPEG : FMT_WEBP, 400,
		    300);
		snprintf(opts, sizeof opts, "width=400 format=%s quality=95\n",
		    fmts[i]);
		thumb(&c, opts, img, len, &hi);
		expect_image(&hi, opts, i == 0 ? FMT_JPEG : FMT_WEBP, 400,
		    300);
		ck_assert_msg(lo.output_len * 2 < hi.output_len,
		    "%s: quality 10 gave %zu bytes, 95 gave %zu", fmts[i],
		    lo.output_len, hi.output_len);
		commis_result_free(&lo);
		commis_result_free(&hi);
	}
	free(img);
	ctx_stop(&c);
}
END_TEST

/*
 * Not an image, a truncated one, none: failed, with libvips's cause.
 * The inputs here are over 80 bytes: on shorter ones libvips 8.14's
 * format sniffing reads bytes of its own buffer it did not fill, which
 * valgrind reports (make valgrind); harmless, and not ours to suppress.
 */
START_TEST(test_thumbnail_bad_image)
{
	static const char	 text[] = "this is not an image at all, "
				    "though it is long enough for every "
				    "format sniffer of libvips to read";
	struct commis_result	 r;
	struct ctx		 c;
	uint8_t			*img;
	size_t			 len;

	thumb_start(&c);
	thumb(&c, "width=100\n", (const uint8_t *)text, sizeof text - 1, &r);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	ck_assert_msg(strncmp(r.cause, "thumbnail: ", 11) == 0 &&
	    strstr(r.cause, "not in a known format") != NULL, "cause '%s'",
	    r.cause);
	commis_result_free(&r);

	img = ppm(400, 300, 0, &len);
	thumb(&c, "width=100\n", img, len / 3, &r);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	ck_assert_msg(strncmp(r.cause, "thumbnail: ", 11) == 0 &&
	    strlen(r.cause) > 20, "cause '%s'", r.cause);
	commis_result_free(&r);
	free(img);

	thumb(&c, "width=100\n", NULL, 0, &r);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	ck_assert_str_eq(r.cause, "thumbnail: no image after the header line");
	commis_result_free(&r);

	/* The worker that failed goes on. */
	img = ppm(40, 30, 0, &len);
	thumb(&c, "width=20\n", img, len, &r);
	expect_image(&r, "after failures", FMT_JPEG, 20, 15);
	commis_result_free(&r);
	free(img);
	ctx_stop(&c);
}
END_TEST

START_TEST(test_thumbnail_bad_options)
{
	static const struct {
		const char	*opts;
		const char	*cause;
	} cases[] = {
		{ "width=abc\n", "thumbnail: width: expected an integer "
		    "1..16383, got 'abc'" },
		{ "width=0\n", "thumbnail: width: expected an integer " },
		{ "width=100000\n", "thumbnail: width: expected an integer " },
		{ "width=-5\n", "thumbnail: width: expected an integer " },
		{ "height=\n", "thumbnail: height: expected an integer " },
		{ "width=10 fit=squash\n", "thumbnail: fit: expected "
		    "cover|contain|fill|inside|outside, got 'squash'" },
		{ "width=10 format=gif\n", "thumbnail: format: expected " },
		{ "width=10 quality=0\n", "thumbnail: quality: expected an "
		    "integer 1..100, got '0'" },
		{ "width=10 quality=101\n", "thumbnail: quality: " },
		{ "width=10 colour=red\n", "thumbnail: unknown option "
		    "'colour=red'" },
		{ "width=10 cover\n", "thumbnail: unknown option 'cover'" },
		{ "width=10 width=20\n", "thumbnail: option 'width' given "
		    "twice" },
		{ "fit=cover format=png\n", "thumbnail: width or height is "
		    "required" },
		{ "\n", "thumbnail: width or height is required" },
		/* No newline within the first 257 bytes. */
		{ "width=10", "thumbnail: expected a header line" },
	};
	struct commis_result	 r;
	struct ctx		 c;
	uint8_t			*img;
	size_t			 i, len;

	thumb_start(&c);
	img = ppm(40, 30, 0, &len);
	/* The PPM's own newlines come after 257 bytes of spaces. */
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (cases[i].opts[strlen(cases[i].opts) - 1] != '\n') {
			char	*pad = malloc(300 + len);

			ck_assert_ptr_nonnull(pad);
			memset(pad, ' ', 300);
			memcpy(pad + 300, img, len);
			thumb(&c, cases[i].opts, (uint8_t *)pad, 300 + len,
			    &r);
			free(pad);
		} else
			thumb(&c, cases[i].opts, img, len, &r);
		ck_assert_msg(r.status == COMMIS_ST_FAILED, "'%s': status %d",
		    cases[i].opts, r.status);
		ck_assert_msg(strncmp(r.cause, cases[i].cause,
		    strlen(cases[i].cause)) == 0, "'%s': cause '%s', "
		    "expected '%s...'", cases[i].opts, r.cause,
		    cases[i].cause);
		commis_result_free(&r);
	}
	free(img);
	ctx_stop(&c);
}
END_TEST

/* Refused from the header, before a pixel is decoded. */
START_TEST(test_thumbnail_too_large)
{
	static const char	 hdr[] = "P6\n20000 20000\n255\n";
	struct commis_result	 r;
	struct ctx		 c;
	uint8_t			 bomb[256], *img;
	size_t			 len;

	/* 400 megapixels declared, 256 bytes given (see bad_image). */
	memset(bomb, 0x55, sizeof bomb);
	memcpy(bomb, hdr, sizeof hdr - 1);
	thumb_start(&c);
	thumb(&c, "width=100\n", bomb, sizeof bomb, &r);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	ck_assert_str_eq(r.cause, "thumbnail: input of 20000x20000 is more "
	    "than 268402689 pixels");
	commis_result_free(&r);
	/* A result over 16383 on a side (WebP's limit) is refused too. */
	img = ppm(10, 2000, 0, &len);
	thumb(&c, "width=100\n", img, len, &r);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	ck_assert_str_eq(r.cause, "thumbnail: the result would be 100x20000, "
	    "more than 16383 on a side");
	commis_result_free(&r);
	free(img);
	ctx_stop(&c);
}
END_TEST

/* 4000x3000, 36 MB: a segment the worker maps; commisd never copies it. */
START_TEST(test_thumbnail_segment)
{
	struct commis_result	 r;
	struct pngimg		 im;
	struct ctx		 c;
	uint8_t			*img;
	size_t			 len;

	thumb_start(&c);
	img = ppm(4000, 3000, 0, &len);
	ck_assert_uint_gt(len, 36000000);
	thumb(&c, "width=200 format=png\n", img, len, &r);
	expect_image(&r, "4000x3000", FMT_PNG, 200, 150);
	png_decode(r.output, r.output_len, &im);
	png_expect(&im, 20, 75, 0, 0, 255, "4000x3000");
	png_expect(&im, 100, 75, 0, 255, 0, "4000x3000");
	png_expect(&im, 180, 75, 255, 0, 0, "4000x3000");
	free(im.px);
	commis_result_free(&r);
	/* And as JPEG, through the same worker slots. */
	thumb(&c, "width=1000 height=1000 fit=cover quality=70\n", img, len,
	    &r);
	expect_image(&r, "4000x3000 cover", FMT_JPEG, 1000, 1000);
	commis_result_free(&r);
	free(img);
	ctx_stop(&c);
}
END_TEST

/*
 * A soft timeout reaches libvips through cancelled(): the job ends long
 * before the hard timeout (a minute here) and its worker lives on. The
 * job, 4000x3000 stretched to 16000x12000 as PNG, takes about 6 s when
 * left alone on the reference machine.
 */
START_TEST(test_thumbnail_cancel)
{
	struct commis_submit_opts o = { .timeout_ms = 200 };
	struct commis_result	 r;
	struct wstat		 before, after;
	struct ctx		 c;
	char			 yaml[4096];
	const char		*mult = getenv("CK_TIMEOUT_MULTIPLIER");
	uint64_t		 t0, ms, bound = 2500;
	uint8_t			*img, *in;
	size_t			 len, n;

	if (mult != NULL && atoi(mult) > 1)
		bound *= (uint64_t)atoi(mult);
	snprintf(yaml, sizeof yaml, "pools:\n  - name: p\n    workers: 1\n"
	    "    kill_grace_ms: 60000\n    max_attempts: 1\n"
	    "    modules: [%s]\n", test_build_path(THUMB_SO));
	ctx_start(&c, yaml);
	wait_ready(c.cl, 1);
	wstats(c.cl, &before);
	img = ppm(4000, 3000, 0, &len);
	in = job_input("width=16000 height=12000 fit=fill format=png\n", img,
	    len, &n);
	t0 = test_now_ms();
	memset(&r, 0, sizeof r);
	ck_assert_int_eq(commis_submit_copy(c.cl, "thumbnail", in, n, &o, &r),
	    COMMIS_OK);
	ms = test_now_ms() - t0;
	ck_assert_int_eq(r.status, COMMIS_ST_TIMEDOUT);
	ck_assert_msg(ms < bound, "the job took %llu ms to stop",
	    (unsigned long long)ms);
	commis_result_free(&r);
	wait_ready(c.cl, 1);
	wstats(c.cl, &after);
	ck_assert_int_eq(after.n, 1);
	ck_assert_int_eq(after.pid[0], before.pid[0]);
	free(in);
	free(img);
	img = ppm(40, 30, 0, &len);
	thumb(&c, "width=20\n", img, len, &r);
	expect_image(&r, "after the timeout", FMT_JPEG, 20, 15);
	commis_result_free(&r);
	free(img);
	ctx_stop(&c);
}
END_TEST

/* Not flagged thread-safe (see thumbnail.c): a thread pool refuses it. */
START_TEST(test_thumbnail_thread_pool)
{
	struct commis_result	 r;
	struct ctx		 c;
	char			 yaml[4096];

	snprintf(yaml, sizeof yaml, "pools:\n  - name: t\n"
	    "    isolation: thread\n    mode: static\n    workers: 2\n"
	    "    modules: [%s]\n", test_build_path(THUMB_SO));
	ctx_start(&c, yaml);
	ck_assert_int_eq(submit(c.cl, "thumbnail", "width=1\nx", NULL, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_UNSUPPORTED);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

/* libvips is absent: the module must be too, and the suite says so. */
START_TEST(test_thumbnail_not_built)
{
	ck_assert_msg(access(test_build_path(THUMB_SO), F_OK) == -1,
	    "%s exists", test_build_path(THUMB_SO));
	fprintf(stderr, "%s\n", THUMB_SKIP_MSG);
}
END_TEST

/* make built the module (libvips is there), yet it is missing. */
START_TEST(test_thumbnail_missing)
{
	ck_abort_msg("%s: missing, though make built it "
	    "(COMMIS_THUMBNAIL_BUILT=1)", test_build_path(THUMB_SO));
}
END_TEST

Suite *
thumbnail_suite(void)
{
	Suite		*s = suite_create("thumbnail");
	TCase		*tc;
	const char	*built = getenv("COMMIS_THUMBNAIL_BUILT");

	if (access(test_build_path(THUMB_SO), F_OK) == -1) {
		tc = tcase_create("skipped");
		if (built != NULL && strcmp(built, "1") == 0)
			tcase_add_test(tc, test_thumbnail_missing);
		else
			tcase_add_test(tc, test_thumbnail_not_built);
		suite_add_tcase(s, tc);
		return s;
	}
	tc = tcase_create("thumbnail");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, thumb_setup, NULL);
	tcase_add_test(tc, test_thumbnail_fits);
	tcase_add_test(tc, test_thumbnail_fit_pixels);
	tcase_add_test(tc, test_thumbnail_input_formats);
	tcase_add_test(tc, test_thumbnail_gif);
	tcase_add_test(tc, test_thumbnail_untrusted);
	tcase_add_test(tc, test_thumbnail_quality);
	tcase_add_test(tc, test_thumbnail_bad_image);
	tcase_add_test(tc, test_thumbnail_bad_options);
	tcase_add_test(tc, test_thumbnail_too_large);
	tcase_add_test(tc, test_thumbnail_segment);
	tcase_add_test(tc, test_thumbnail_cancel);
	tcase_add_test(tc, test_thumbnail_thread_pool);
	suite_add_tcase(s, tc);
	return s;
}
