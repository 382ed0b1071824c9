/*
 * Frame codec (src/frame.c): header layout, the incremental decoder under
 * every split of its input, the limit check before allocation, sticky
 * header errors, and the fd rules over real socketpairs. Each test builds
 * its own sockets and closes them; children report by exit status only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commis/proto.h"
#include "frame.h"
#include "msg.h"
#include "testlib.h"

#define HDR		COMMIS_FRAME_HDR_LEN
#define LIMIT		(COMMIS_PAYLOAD_DEFAULT + COMMIS_FRAME_OVERHEAD)
/*
 * A decoder that buffers no payload: each read asks for 64 KiB of room
 * beyond what is held, so two read chunks at most, nowhere near a
 * declared length.
 */
#define SMALL_CAP	(2 * 65536)
/* Fed without reads, it keeps to one chunk. */
#define FEED_CAP	65536

/* Open fds of this process (the directory's own fd is counted too, but
 * the same way every time). */
static int
fd_count(void)
{
	DIR	*dir;
	int	 n = 0;

	dir = opendir("/proc/self/fd");
	ck_assert_ptr_nonnull(dir);
	while (readdir(dir) != NULL)
		n++;
	closedir(dir);
	return n;
}

static void
pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
}

static void
set_nonblock(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	ck_assert_int_ne(fl, -1);
	ck_assert_int_eq(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* Deterministic payload bytes, different per seed. */
static void
fill(uint8_t *p, size_t n, unsigned seed)
{
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed * 7 + (i >> 8));
}

/* Header plus payload in one malloc'd buffer; *total gets its size. */
static uint8_t *
mkframe(uint8_t type, uint16_t flags, uint64_t id, const void *p, size_t n,
    size_t *total)
{
	uint8_t	*b = malloc(HDR + n + 1);

	ck_assert_ptr_nonnull(b);
	frame_hdr_encode(b, type, flags, (uint32_t)n, id);
	if (n > 0)
		memcpy(b + HDR, p, n);
	*total = HDR + n;
	return b;
}

/* Writes all of b with one sendmsg carrying nfds fds (blocking socket). */
static void
send_raw(int sock, const void *b, size_t n, const int *fds, int nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 16)];
	}		 cbuf;
	struct msghdr	 msg;
	struct iovec	 iov;

	ck_assert_int_le(nfds, 16);
	memset(&msg, 0, sizeof msg);
	memset(&cbuf, 0, sizeof cbuf);
	iov.iov_base = (void *)b;
	iov.iov_len = n;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfds > 0) {
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cbuf.hdr.cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		cbuf.hdr.cmsg_level = SOL_SOCKET;
		cbuf.hdr.cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(&cbuf.hdr), fds, sizeof(int) * nfds);
	}
	ck_assert_int_eq(sendmsg(sock, &msg, MSG_NOSIGNAL), (ssize_t)n);
}

/*
 * The next frame from a blocking socket: 1, or -1 with d->err set (a
 * frame error from frame_dec_next or from frame_dec_read's ancillary
 * checks). EOF before a frame fails the test.
 */
static int
read_frame(struct frame_dec *d, int sock, struct frame *f)
{
	ssize_t	n;
	int	r;

	for (;;) {
		if ((r = frame_dec_next(d, f)) != 0)
			return r;
		n = frame_dec_read(d, sock);
		if (n == -1 && d->err != FRAME_OK)
			return -1;
		ck_assert_msg(n > 0, "read: %zd (%s)", n,
		    n == -1 ? strerror(errno) : "eof");
	}
}

static void
check_frame(const struct frame *f, uint8_t type, uint16_t flags, uint64_t id,
    const void *p, size_t n)
{
	ck_assert_uint_eq(f->hdr.magic, COMMIS_PROTO_MAGIC);
	ck_assert_uint_eq(f->hdr.version, COMMIS_PROTO_VERSION);
	ck_assert_uint_eq(f->hdr.type, type);
	ck_assert_uint_eq(f->hdr.flags, flags);
	ck_assert_uint_eq(f->hdr.len, n);
	ck_assert_uint_eq(f->hdr.reserved, 0);
	ck_assert(f->hdr.id == id);
	ck_assert_ptr_nonnull(f->payload);
	if (n > 0)
		ck_assert_mem_eq(f->payload, p, n);
}

/* ---- header ---------------------------------------------------------- */

/* The worked example of docs/protocol.md, byte for byte. */
START_TEST(test_hdr_ping_example)
{
	static const uint8_t	want[HDR] = {
		0x43, 0x4d, 0x49, 0x53,		/* "CMIS" */
		0x04, 0x02, 0x00, 0x00,		/* version 4, PING, no flags */
		0x00, 0x00, 0x00, 0x00,		/* length 0 */
		0x00, 0x00, 0x00, 0x00,		/* reserved */
		0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,	/* id 7 */
	};
	uint8_t			b[HDR];
	struct frame_hdr	h;

	frame_hdr_encode(b, COMMIS_MSG_PING, 0, 0, 7);
	ck_assert_mem_eq(b, want, HDR);
	ck_assert_mem_eq(b, "CMIS", 4);

	frame_hdr_encode(b, COMMIS_MSG_SUBMIT, COMMIS_FLAG_FD, 0x01020304u,
	    0x1122334455667788ull);
	frame_hdr_decode(b, &h);
	ck_assert_uint_eq(h.magic, COMMIS_PROTO_MAGIC);
	ck_assert_uint_eq(h.version, COMMIS_PROTO_VERSION);
	ck_assert_uint_eq(h.type, COMMIS_MSG_SUBMIT);
	ck_assert_uint_eq(h.flags, COMMIS_FLAG_FD);
	ck_assert_uint_eq(h.len, 0x01020304u);
	ck_assert_uint_eq(h.reserved, 0);
	ck_assert(h.id == 0x1122334455667788ull);
	ck_assert_uint_eq(b[8], 0x04);		/* little-endian length */
	ck_assert_uint_eq(b[16], 0x88);		/* little-endian id */
}
END_TEST

/* ---- decoder under splits -------------------------------------------- */

START_TEST(test_split_every_point)
{
	static const size_t	 sizes[] = { 0, 1, 37 };
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			 pl[64], *b;
	size_t			 n, k, i;

	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		fill(pl, sizes[i], (unsigned)i);
		b = mkframe(COMMIS_MSG_SUBMIT, 0, 0xabcdef0123ull + i, pl,
		    sizes[i], &n);
		for (k = 1; k < n; k++) {
			frame_dec_init(&d, 4096);
			ck_assert_int_eq(frame_dec_feed(&d, b, k, -1), 0);
			ck_assert_int_eq(frame_dec_next(&d, &f), 0);
			ck_assert_int_eq(frame_dec_next(&d, &f), 0);
			ck_assert_int_eq(frame_dec_feed(&d, b + k, n - k, -1),
			    0);
			ck_assert_int_eq(frame_dec_next(&d, &f), 1);
			check_frame(&f, COMMIS_MSG_SUBMIT, 0,
			    0xabcdef0123ull + i, pl, sizes[i]);
			ck_assert_int_eq(f.fd, -1);
			ck_assert_int_eq(frame_dec_next(&d, &f), 0);
			ck_assert_int_eq(d.err, FRAME_OK);
			frame_dec_free(&d);
		}
		free(b);
	}
}
END_TEST

START_TEST(test_byte_by_byte)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			 pl[300], *b;
	size_t			 n, k;
	int			 round;

	fill(pl, sizeof pl, 3);
	b = mkframe(COMMIS_MSG_RESULT, 0, 99, pl, sizeof pl, &n);
	frame_dec_init(&d, 4096);
	/* Twice through the same decoder: state resets between frames. */
	for (round = 0; round < 2; round++) {
		for (k = 0; k < n; k++) {
			ck_assert_int_eq(frame_dec_next(&d, &f), 0);
			ck_assert_int_eq(frame_dec_feed(&d, b + k, 1, -1), 0);
		}
		ck_assert_int_eq(frame_dec_next(&d, &f), 1);
		check_frame(&f, COMMIS_MSG_RESULT, 0, 99, pl, sizeof pl);
		ck_assert_int_eq(frame_dec_next(&d, &f), 0);
	}
	frame_dec_free(&d);
	free(b);
}
END_TEST

/* Several frames in one stream: fed whole, then in uneven chunks. */
START_TEST(test_back_to_back_feed)
{
	static const size_t	 sizes[] = { 0, 1, 100, 0, 5000, 70000, 3 };
	enum { NF = sizeof sizes / sizeof sizes[0] };
	struct frame_dec	 d;
	struct frame		 f;
	struct mbuf		 stream;
	uint8_t			*pl, *b;
	size_t			 i, n, off, chunk;
	int			 got, r, pass;

	pl = malloc(70000);
	ck_assert_ptr_nonnull(pl);
	mbuf_init(&stream);
	for (i = 0; i < NF; i++) {
		fill(pl, sizes[i], (unsigned)i);
		b = mkframe(COMMIS_MSG_JOB, 0, 1000 + i, pl, sizes[i], &n);
		mbuf_add(&stream, b, n);
		free(b);
	}
	ck_assert_int_eq(stream.err, 0);

	for (pass = 0; pass < 3; pass++) {
		frame_dec_init(&d, 100000);
		got = 0;
		off = 0;
		chunk = pass == 0 ? stream.len : pass == 1 ? 7 : 4099;
		while (off < stream.len) {
			n = stream.len - off < chunk ? stream.len - off : chunk;
			ck_assert_int_eq(frame_dec_feed(&d, stream.data + off,
			    n, -1), 0);
			off += n;
			while ((r = frame_dec_next(&d, &f)) == 1) {
				ck_assert_int_lt(got, NF);
				fill(pl, sizes[got], (unsigned)got);
				check_frame(&f, COMMIS_MSG_JOB, 0, 1000 + got,
				    pl, sizes[got]);
				got++;
			}
			ck_assert_int_eq(r, 0);
		}
		ck_assert_int_eq(got, NF);
		ck_assert_int_eq(frame_dec_next(&d, &f), 0);
		frame_dec_free(&d);
	}
	mbuf_free(&stream);
	free(pl);
}
END_TEST

/* Frames written with frame_send by another process, read with recvmsg. */
START_TEST(test_back_to_back_socket)
{
	static const size_t	 sizes[] = { 0, 1, 100, 200000, 0, 65536,
				     65537, 12 };
	enum { NF = sizeof sizes / sizeof sizes[0] };
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			*pl;
	size_t			 i, half;
	ssize_t			 n;
	pid_t			 pid;
	int			 sv[2], st, got = 0, reads = 0, r;

	pl = malloc(200000);
	ck_assert_ptr_nonnull(pl);
	pair(sv);
	if ((pid = fork()) == 0) {
		close(sv[1]);
		for (i = 0; i < NF; i++) {
			fill(pl, sizes[i], (unsigned)i);
			/* Payload in two parts, split unevenly. */
			half = sizes[i] / 3;
			if (frame_send(sv[0], COMMIS_MSG_DONE, 0, 500 + i, pl,
			    half, pl + half, sizes[i] - half, -1) == -1)
				_exit(1);
		}
		_exit(0);
	}
	ck_assert_int_ne(pid, -1);
	close(sv[0]);

	frame_dec_init(&d, 1 << 20);
	for (;;) {
		while ((r = frame_dec_next(&d, &f)) == 1) {
			ck_assert_int_lt(got, NF);
			fill(pl, sizes[got], (unsigned)got);
			check_frame(&f, COMMIS_MSG_DONE, 0, 500 + got, pl,
			    sizes[got]);
			got++;
		}
		ck_assert_int_eq(r, 0);
		n = frame_dec_read(&d, sv[1]);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		reads++;
	}
	ck_assert_int_eq(got, NF);
	ck_assert_int_gt(reads, 1);
	ck_assert_int_eq(d.len - d.off, 0);	/* nothing left over */
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	frame_dec_free(&d);
	close(sv[1]);
	free(pl);
}
END_TEST

START_TEST(test_zero_length)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			*b;
	size_t			 n;
	int			 sv[2];

	b = mkframe(COMMIS_MSG_PING, 0, 1, NULL, 0, &n);
	ck_assert_uint_eq(n, HDR);
	frame_dec_init(&d, 0);		/* a zero limit still takes empty frames */
	ck_assert_int_eq(frame_dec_feed(&d, b, n, -1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), 1);
	check_frame(&f, COMMIS_MSG_PING, 0, 1, NULL, 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), 0);
	frame_dec_free(&d);
	free(b);

	pair(sv);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_PONG, 0, 2, NULL, 0,
	    NULL, 0, -1), 0);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_CANCEL, 0, 3, NULL, 0,
	    NULL, 0, -1), 0);
	frame_dec_init(&d, 16);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), 1);
	check_frame(&f, COMMIS_MSG_PONG, 0, 2, NULL, 0);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), 1);
	check_frame(&f, COMMIS_MSG_CANCEL, 0, 3, NULL, 0);
	frame_dec_free(&d);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- limits ---------------------------------------------------------- */

START_TEST(test_limit_exact)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			*pl, *b;
	size_t			 n;

	pl = malloc(LIMIT);
	ck_assert_ptr_nonnull(pl);
	fill(pl, LIMIT, 9);
	b = mkframe(COMMIS_MSG_SUBMIT, 0, 77, pl, LIMIT, &n);
	frame_dec_init(&d, LIMIT);
	ck_assert_int_eq(frame_dec_feed(&d, b, HDR, -1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), 0);	/* accepted, waiting */
	ck_assert_int_eq(d.err, FRAME_OK);
	ck_assert_int_eq(frame_dec_feed(&d, b + HDR, n - HDR, -1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), 1);
	check_frame(&f, COMMIS_MSG_SUBMIT, 0, 77, pl, LIMIT);
	ck_assert_int_eq(frame_dec_next(&d, &f), 0);
	frame_dec_free(&d);
	free(b);
	free(pl);
}
END_TEST

/*
 * One byte over: refused on the header alone (nothing allocated for the
 * payload), skipped as it arrives in pieces, and the next frame decodes.
 */
START_TEST(test_limit_over_skip)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			 hdr[HDR], *pl, *b;
	size_t			 n, off, piece;
	uint32_t		 over = LIMIT + 1;

	frame_hdr_encode(hdr, COMMIS_MSG_SUBMIT, 0, over, 4242);
	frame_dec_init(&d, LIMIT);
	ck_assert_int_eq(frame_dec_feed(&d, hdr, 10, -1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), 0);
	ck_assert_int_eq(frame_dec_feed(&d, hdr + 10, HDR - 10, -1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(d.err, FRAME_ETOOBIG);
	ck_assert_uint_eq(f.hdr.len, over);
	ck_assert_uint_eq(f.hdr.type, COMMIS_MSG_SUBMIT);
	ck_assert(f.hdr.id == 4242);
	ck_assert_ptr_null(f.payload);
	ck_assert_int_eq(f.fd, -1);
	ck_assert_uint_le(d.cap, FEED_CAP);

	/* Not sticky: asked again without a skip, the same answer. */
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(d.err, FRAME_ETOOBIG);

	frame_dec_skip(&d, &f.hdr);
	ck_assert_int_eq(d.err, FRAME_OK);
	pl = calloc(1, 65536);
	ck_assert_ptr_nonnull(pl);
	memset(pl, 0xee, 65536);
	b = mkframe(COMMIS_MSG_PING, 0, 4243, NULL, 0, &n);
	for (off = 0; off < over; off += piece) {
		piece = over - off < 50000 ? over - off : 50000;
		ck_assert_int_eq(frame_dec_next(&d, &f), 0);
		if (off + piece == over) {
			/* The last piece and a valid frame in one feed. */
			memcpy(pl + piece, b, n);
			ck_assert_int_eq(frame_dec_feed(&d, pl, piece + n, -1),
			    0);
		} else
			ck_assert_int_eq(frame_dec_feed(&d, pl, piece, -1), 0);
		/* Skipped bytes are dropped, never buffered up. */
		ck_assert_uint_le(d.cap, FEED_CAP);
	}
	ck_assert_int_eq(frame_dec_next(&d, &f), 1);
	check_frame(&f, COMMIS_MSG_PING, 0, 4243, NULL, 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), 0);
	ck_assert_int_eq(d.err, FRAME_OK);
	frame_dec_free(&d);
	free(b);
	free(pl);
}
END_TEST

START_TEST(test_huge_length)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			 hdr[HDR + 100];
	int			 sv[2];

	frame_hdr_encode(hdr, COMMIS_MSG_SUBMIT, 0, 0xffffffffu, 5);
	memset(hdr + HDR, 0x11, 100);

	frame_dec_init(&d, LIMIT);
	ck_assert_int_eq(frame_dec_feed(&d, hdr, HDR, -1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(d.err, FRAME_ETOOBIG);
	ck_assert_uint_eq(f.hdr.len, 0xffffffffu);
	ck_assert_uint_le(d.cap, FEED_CAP);
	frame_dec_free(&d);

	/* Through recvmsg: a read after the refusal must not size its
	 * buffer from the declared length either. */
	pair(sv);
	set_nonblock(sv[1]);
	ck_assert_int_eq(write(sv[0], hdr, HDR), HDR);
	frame_dec_init(&d, LIMIT);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), -1);
	ck_assert_int_eq(d.err, FRAME_ETOOBIG);
	ck_assert_int_eq(write(sv[0], hdr + HDR, 100), 100);
	ck_assert_int_eq(frame_dec_read(&d, sv[1]), 100);
	ck_assert_uint_le(d.cap, SMALL_CAP);
	frame_dec_skip(&d, &f.hdr);
	ck_assert_int_eq(frame_dec_next(&d, &f), 0);
	ck_assert(d.skip == 0xffffffffull - 100);
	ck_assert_int_eq(frame_dec_read(&d, sv[1]), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_le(d.cap, SMALL_CAP);
	frame_dec_free(&d);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- header errors --------------------------------------------------- */

/* Corrupts one header field; the error must persist on later calls even
 * after a valid frame follows. */
static void
check_bad_header(size_t at, uint8_t val, enum frame_err want)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			*b, *good;
	size_t			 n, gn;

	b = mkframe(COMMIS_MSG_PING, 0, 1, NULL, 0, &n);
	good = mkframe(COMMIS_MSG_PING, 0, 2, NULL, 0, &gn);
	b[at] = val;
	frame_dec_init(&d, 1024);
	ck_assert_int_eq(frame_dec_feed(&d, b, n, -1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(d.err, want);
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(d.err, want);
	frame_dec_feed(&d, good, gn, -1);
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(d.err, want);
	frame_dec_free(&d);
	free(b);
	free(good);
}

START_TEST(test_bad_magic)
{
	check_bad_header(0, 'X', FRAME_EMAGIC);
	check_bad_header(3, 0x00, FRAME_EMAGIC);
}
END_TEST

START_TEST(test_bad_version)
{
	check_bad_header(4, COMMIS_PROTO_VERSION + 1, FRAME_EVERSION);
	check_bad_header(4, 0, FRAME_EVERSION);
}
END_TEST

START_TEST(test_bad_reserved_flags)
{
	check_bad_header(12, 1, FRAME_EHEADER);	/* reserved, low byte */
	check_bad_header(15, 0x80, FRAME_EHEADER);	/* reserved, high byte */
	check_bad_header(6, 0x02, FRAME_EHEADER);	/* unknown flag bit */
	check_bad_header(7, 0x80, FRAME_EHEADER);	/* unknown flag bit */
}
END_TEST

/* A bad header read from a socket: frame_dec_read refuses to go on. */
START_TEST(test_bad_header_socket)
{
	struct frame_dec	d;
	struct frame		f;
	uint8_t			hdr[HDR];
	int			sv[2];

	pair(sv);
	frame_hdr_encode(hdr, COMMIS_MSG_PING, 0, 0, 1);
	hdr[4] = 99;
	ck_assert_int_eq(write(sv[0], hdr, HDR), HDR);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_PING, 0, 2, NULL, 0,
	    NULL, 0, -1), 0);
	frame_dec_init(&d, 1024);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), -1);
	ck_assert_int_eq(d.err, FRAME_EVERSION);
	ck_assert_uint_eq(f.hdr.version, 99);	/* for the ERROR reply */
	ck_assert(f.hdr.id == 1);
	ck_assert_int_eq(frame_dec_read(&d, sv[1]), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(d.err, FRAME_EVERSION);
	frame_dec_free(&d);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- fd passing ------------------------------------------------------ */

START_TEST(test_fd_submit_memfd)
{
	static const char	 seg[] = "sealed segment bytes";
	struct frame_dec	 d;
	struct frame		 f;
	struct stat		 st0, st1;
	char			 back[sizeof seg];
	int			 sv[2], mfd, base;

	pair(sv);
	mfd = memfd_create("commis-test", MFD_CLOEXEC);
	ck_assert_int_ge(mfd, 0);
	ck_assert_int_eq(write(mfd, seg, sizeof seg), sizeof seg);
	ck_assert_int_eq(fstat(mfd, &st0), 0);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_SUBMIT, 0, 10, "abc", 3,
	    NULL, 0, mfd), 0);
	close(mfd);		/* the peer holds its own reference now */
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_PING, 0, 11, NULL, 0,
	    NULL, 0, -1), 0);
	base = fd_count();

	frame_dec_init(&d, 1024);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), 1);
	check_frame(&f, COMMIS_MSG_SUBMIT, COMMIS_FLAG_FD, 10, "abc", 3);
	ck_assert_int_ge(f.fd, 0);
	ck_assert_int_eq(fd_count(), base + 1);
	ck_assert_int_eq(fstat(f.fd, &st1), 0);
	ck_assert(st1.st_ino == st0.st_ino && st1.st_dev == st0.st_dev);
	ck_assert_int_eq(st1.st_size, sizeof seg);
	ck_assert_int_eq(pread(f.fd, back, sizeof back, 0), sizeof seg);
	ck_assert_mem_eq(back, seg, sizeof seg);
	ck_assert_int_ne(fcntl(f.fd, F_GETFD) & FD_CLOEXEC, 0);
	ck_assert_int_eq(d.nfds, 0);		/* handed to the caller */
	close(f.fd);

	ck_assert_int_eq(read_frame(&d, sv[1], &f), 1);
	check_frame(&f, COMMIS_MSG_PING, 0, 11, NULL, 0);
	ck_assert_int_eq(f.fd, -1);
	frame_dec_free(&d);
	ck_assert_int_eq(fd_count(), base);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Unflagged, flagged, unflagged: the first two arrive in one read (recvmsg
 * stops after the data that carried an fd), yet the fd goes to the
 * flagged frame only. */
START_TEST(test_fd_between_frames)
{
	struct frame_dec	 d;
	struct frame		 f;
	int			 sv[2], p[2], base;

	pair(sv);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_READY, 0, 1, "1234", 4,
	    NULL, 0, -1), 0);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_JOB, 0, 2, "job", 3,
	    NULL, 0, p[0]), 0);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_CANCEL, 0, 3, NULL, 0,
	    NULL, 0, -1), 0);
	close(p[0]);
	base = fd_count();

	frame_dec_init(&d, 1024);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), 1);
	check_frame(&f, COMMIS_MSG_READY, 0, 1, "1234", 4);
	ck_assert_int_eq(f.fd, -1);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), 1);
	check_frame(&f, COMMIS_MSG_JOB, COMMIS_FLAG_FD, 2, "job", 3);
	ck_assert_int_ge(f.fd, 0);
	/* It is the pipe's read end: what we write comes out there. */
	ck_assert_int_eq(write(p[1], "z", 1), 1);
	{
		char	c = 0;

		ck_assert_int_eq(read(f.fd, &c, 1), 1);
		ck_assert_int_eq(c, 'z');
	}
	close(f.fd);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), 1);
	check_frame(&f, COMMIS_MSG_CANCEL, 0, 3, NULL, 0);
	ck_assert_int_eq(f.fd, -1);
	frame_dec_free(&d);
	ck_assert_int_eq(fd_count(), base);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_fd_flag_without_fd)
{
	struct frame_dec	d;
	struct frame		f;
	int			sv[2];

	pair(sv);
	/* frame_send sets the flag only for an fd; pass it by hand. */
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_SUBMIT, COMMIS_FLAG_FD,
	    8, "data", 4, NULL, 0, -1), 0);
	frame_dec_init(&d, 1024);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), -1);
	ck_assert_int_eq(d.err, FRAME_EFD);
	ck_assert_int_eq(f.fd, -1);
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);	/* sticky */
	ck_assert_int_eq(d.err, FRAME_EFD);
	frame_dec_free(&d);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_fd_without_flag)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			*b, *b2;
	size_t			 n, n2;
	int			 sv[2], p[2], base;

	pair(sv);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	b = mkframe(COMMIS_MSG_SUBMIT, 0, 20, "x", 1, &n);
	b2 = mkframe(COMMIS_MSG_PING, 0, 21, NULL, 0, &n2);
	send_raw(sv[0], b, n, &p[0], 1);
	send_raw(sv[0], b2, n2, NULL, 0);
	close(p[0]);
	close(p[1]);
	base = fd_count();

	frame_dec_init(&d, 1024);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), -1);
	ck_assert_int_eq(d.err, FRAME_EFD);
	ck_assert_int_eq(f.fd, -1);
	ck_assert_int_eq(fd_count(), base + 1);	/* held by the decoder */
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(d.err, FRAME_EFD);
	frame_dec_free(&d);
	ck_assert_int_eq(fd_count(), base);
	free(b);
	free(b2);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_fd_on_ping)
{
	struct frame_dec	d;
	struct frame		f;
	int			sv[2], p[2], base;

	ck_assert(!COMMIS_MSG_FD_OK(COMMIS_MSG_PING));
	pair(sv);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_PING, 0, 30, NULL, 0,
	    NULL, 0, p[1]), 0);
	close(p[0]);
	close(p[1]);
	base = fd_count();

	frame_dec_init(&d, 1024);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), -1);
	ck_assert_int_eq(d.err, FRAME_EFD);
	ck_assert_uint_eq(f.hdr.flags, COMMIS_FLAG_FD);
	ck_assert_int_eq(f.fd, -1);
	ck_assert_int_eq(fd_count(), base + 1);
	frame_dec_free(&d);
	ck_assert_int_eq(fd_count(), base);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * Sends a PING, then a flagged SUBMIT with nfds fds in one sendmsg. The
 * kernel may hand both to one read; either way the PING comes out whole
 * and the SUBMIT fails with want, and no received fd outlives
 * frame_dec_free.
 */
static void
check_many_fds(int nfds, enum frame_err want)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			*b, *ping;
	size_t			 n, np, got = 0;
	ssize_t			 r;
	int			 sv[2], fds[16], i, base;

	pair(sv);
	for (i = 0; i < nfds; i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(fds[i], 0);
	}
	ping = mkframe(COMMIS_MSG_PING, 0, 39, NULL, 0, &np);
	b = mkframe(COMMIS_MSG_SUBMIT, COMMIS_FLAG_FD, 40, "y", 1, &n);
	send_raw(sv[0], ping, np, NULL, 0);
	send_raw(sv[0], b, n, fds, nfds);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	base = fd_count();

	frame_dec_init(&d, 1024);
	while (got < np + n) {
		r = frame_dec_read(&d, sv[1]);
		ck_assert_int_gt(r, 0);
		got += (size_t)r;
	}
	/* Extras are closed at once; the first stays with the decoder. */
	ck_assert_int_eq(fd_count(), base + 1);
	ck_assert_int_eq(frame_dec_next(&d, &f), 1);
	ck_assert_uint_eq(f.hdr.type, COMMIS_MSG_PING);
	ck_assert_uint_eq(f.hdr.id, 39);
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(d.err, want);
	/* Sticky: nothing more comes out, and no read is tried. */
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(frame_dec_read(&d, sv[1]), -1);
	ck_assert_int_eq(errno, EPROTO);
	frame_dec_free(&d);
	ck_assert_int_eq(fd_count(), base);
	free(b);
	free(ping);
	close(sv[0]);
	close(sv[1]);
}

START_TEST(test_fd_two_in_one)
{
	check_many_fds(2, FRAME_EFD);
}
END_TEST

/*
 * MSG_CTRUNC, forced for real: the decoder's control buffer holds
 * FRAME_MAX_FDS fds, so a sendmsg with one more makes the kernel truncate
 * (and close the fd that did not fit).
 */
START_TEST(test_fd_ctrunc)
{
	check_many_fds(FRAME_MAX_FDS + 1, FRAME_ECTRUNC);
}
END_TEST

/* Fds paired through frame_dec_feed: the fd must come with the bytes that
 * hold the frame's first byte. */
START_TEST(test_fd_feed_rules)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			*b, *b2;
	size_t			 n, n2;
	int			 p[2], base;

	b = mkframe(COMMIS_MSG_DONE, COMMIS_FLAG_FD, 50, "out", 3, &n);
	b2 = mkframe(COMMIS_MSG_PING, 0, 51, NULL, 0, &n2);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	close(p[1]);
	base = fd_count();

	/* With the first byte, header then split: accepted. */
	frame_dec_init(&d, 1024);
	ck_assert_int_eq(frame_dec_feed(&d, b, 1, dup(p[0])), 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), 0);
	ck_assert_int_eq(frame_dec_feed(&d, b + 1, n - 1, -1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), 1);
	check_frame(&f, COMMIS_MSG_DONE, COMMIS_FLAG_FD, 50, "out", 3);
	ck_assert_int_ge(f.fd, 0);
	close(f.fd);
	frame_dec_free(&d);
	ck_assert_int_eq(fd_count(), base);

	/* With the second byte: the frame's start had no fd. */
	frame_dec_init(&d, 1024);
	ck_assert_int_eq(frame_dec_feed(&d, b, 1, -1), 0);
	ck_assert_int_eq(frame_dec_feed(&d, b + 1, n - 1, dup(p[0])), 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(d.err, FRAME_EFD);
	frame_dec_free(&d);
	ck_assert_int_eq(fd_count(), base);

	/* An fd that came with an earlier, unflagged frame is not carried
	 * over to a later flagged one. */
	frame_dec_init(&d, 1024);
	ck_assert_int_eq(frame_dec_feed(&d, b2, n2, dup(p[0])), 0);
	ck_assert_int_eq(frame_dec_feed(&d, b, n, -1), 0);
	ck_assert_int_eq(frame_dec_next(&d, &f), -1);
	ck_assert_int_eq(d.err, FRAME_EFD);
	frame_dec_free(&d);
	ck_assert_int_eq(fd_count(), base);

	free(b);
	free(b2);
	close(p[0]);
}
END_TEST

/*
 * An oversize SUBMIT that carries an fd is refused and skipped like any
 * other; its fd goes with it and the connection goes on.
 */
START_TEST(test_fd_toobig_skip)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			 pl[200];
	int			 sv[2], p[2], base;

	pair(sv);
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	memset(pl, 'q', sizeof pl);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_SUBMIT, 0, 60, pl,
	    sizeof pl, NULL, 0, p[0]), 0);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_PING, 0, 61, NULL, 0,
	    NULL, 0, -1), 0);
	close(p[0]);
	close(p[1]);
	base = fd_count();

	frame_dec_init(&d, 100);
	ck_assert_int_eq(read_frame(&d, sv[1], &f), -1);
	ck_assert_int_eq(d.err, FRAME_ETOOBIG);
	ck_assert(f.hdr.id == 60);
	frame_dec_skip(&d, &f.hdr);
	ck_assert_int_eq(fd_count(), base);		/* closed by the skip */
	ck_assert_int_eq(read_frame(&d, sv[1], &f), 1);
	check_frame(&f, COMMIS_MSG_PING, 0, 61, NULL, 0);
	ck_assert_int_eq(f.fd, -1);
	frame_dec_free(&d);
	ck_assert_int_eq(fd_count(), base);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* ---- frame_send ------------------------------------------------------ */

/* A reader in another process checks the frames (the first with an fd,
 * which it closes); exit 0 when intact. */
static int
large_reader(int sock, size_t len)
{
	struct frame_dec	 d;
	struct frame		 f;
	uint8_t			*want;
	ssize_t			 n;
	int			 r, got = 0;

	if ((want = malloc(len)) == NULL)
		return 10;
	fill(want, len, 4);
	frame_dec_init(&d, (uint32_t)len);
	for (;;) {
		while ((r = frame_dec_next(&d, &f)) == 1) {
			if (got == 0 && (f.hdr.type != COMMIS_MSG_SUBMIT ||
			    f.hdr.len != len || f.hdr.id != 70 ||
			    f.hdr.flags != COMMIS_FLAG_FD || f.fd == -1 ||
			    memcmp(f.payload, want, len) != 0))
				return 11;
			if (f.fd != -1)
				close(f.fd);
			if (got == 1 && (f.hdr.type != COMMIS_MSG_PING ||
			    f.hdr.id != 71))
				return 12;
			got++;
		}
		if (r == -1)
			return 13;
		if ((n = frame_dec_read(&d, sock)) == 0)
			break;
		if (n == -1 && errno != EINTR)
			return 14;
	}
	frame_dec_free(&d);
	free(want);
	return got == 2 ? 0 : 15;
}

START_TEST(test_send_large_nonblock)
{
	size_t		 len = 4u << 20, split = 1000003;
	uint8_t		*pl;
	socklen_t	 sl;
	pid_t		 pid;
	int		 sv[2], st, sndbuf, mfd;

	pl = malloc(len);
	ck_assert_ptr_nonnull(pl);
	fill(pl, len, 4);
	pair(sv);
	sl = sizeof sndbuf;
	ck_assert_int_eq(getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
	    &sl), 0);
	ck_assert_int_lt(sndbuf, (int)len);	/* or the test proves nothing */

	if ((pid = fork()) == 0) {
		close(sv[0]);
		_exit(large_reader(sv[1], len));
	}
	ck_assert_int_ne(pid, -1);
	close(sv[1]);
	set_nonblock(sv[0]);
	/* With an fd: it must travel once, with the first byte, however
	 * many partial sends follow. */
	mfd = memfd_create("commis-test", MFD_CLOEXEC);
	ck_assert_int_ge(mfd, 0);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_SUBMIT, 0, 70, pl, split,
	    pl + split, len - split, mfd), 0);
	close(mfd);
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_PING, 0, 71, NULL, 0,
	    NULL, 0, -1), 0);
	close(sv[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "reader status %#x", st);
	free(pl);
}
END_TEST

START_TEST(test_send_errors)
{
	int	sv[2];

	pair(sv);
	close(sv[1]);
	/* A closed peer: EPIPE, and no SIGPIPE kills us (MSG_NOSIGNAL). */
	ck_assert_int_eq(frame_send(sv[0], COMMIS_MSG_PING, 0, 1, NULL, 0,
	    NULL, 0, -1), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(sv[0]);
}
END_TEST

START_TEST(test_strerror)
{
	enum frame_err	e;
	const char	*s;

	for (e = FRAME_OK; e <= FRAME_ENOMEM; e++) {
		s = frame_strerror(e);
		ck_assert_ptr_nonnull(s);
		ck_assert_uint_gt(strlen(s), 0);
	}
	s = frame_strerror((enum frame_err)(FRAME_ENOMEM + 1));
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_gt(strlen(s), 0);
}
END_TEST

Suite *
frame_suite(void)
{
	Suite	*s = suite_create("frame");
	TCase	*tc;

	tc = tcase_create("codec");
	tcase_add_test(tc, test_hdr_ping_example);
	tcase_add_test(tc, test_split_every_point);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_test(tc, test_back_to_back_feed);
	tcase_add_test(tc, test_zero_length);
	tcase_add_test(tc, test_bad_magic);
	tcase_add_test(tc, test_bad_version);
	tcase_add_test(tc, test_bad_reserved_flags);
	tcase_add_test(tc, test_strerror);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_limit_exact);
	tcase_add_test(tc, test_limit_over_skip);
	tcase_add_test(tc, test_huge_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("socket");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_back_to_back_socket);
	tcase_add_test(tc, test_bad_header_socket);
	tcase_add_test(tc, test_send_large_nonblock);
	tcase_add_test(tc, test_send_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("fd");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_fd_submit_memfd);
	tcase_add_test(tc, test_fd_between_frames);
	tcase_add_test(tc, test_fd_flag_without_fd);
	tcase_add_test(tc, test_fd_without_flag);
	tcase_add_test(tc, test_fd_on_ping);
	tcase_add_test(tc, test_fd_two_in_one);
	tcase_add_test(tc, test_fd_ctrunc);
	tcase_add_test(tc, test_fd_feed_rules);
	tcase_add_test(tc, test_fd_toobig_skip);
	suite_add_tcase(s, tc);
	return s;
}
