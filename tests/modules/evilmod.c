/*
 * A handler module for the hostile-worker tests (tests/check_hostile.c):
 * one handler that, on its first attempt, breaks the worker channel's
 * protocol from inside the worker, and on the next attempt behaves.
 *
 *	test.evil	input "MODE,MARK,IDFILE". If the file MARK exists,
 *			the result is "ok". Otherwise it creates MARK and
 *			writes to the worker's channel (fd 3) behind the
 *			worker's back, by MODE:
 *			garbage   32 bytes that are not a frame
 *			foreign   a DONE for a job this worker does not have
 *			fds       a frame with two fds
 *			unsealed  a DONE for its own job with an unsealed memfd
 *			bigseg    a DONE for its own job with a sealed memfd
 *				  of 2 MiB (tests set max_segment to 1M)
 *			mixed     a DONE for its own job with a sealed memfd
 *				  and inline bytes as well
 *			Its own job id it reads from IDFILE (decimal), which
 *			the test writes once commisd has answered the submit;
 *			then it waits to be killed.
 *
 * The frames are written by hand from commis/proto.h, as a compromised or
 * buggy worker would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "commis/handler.h"
#include "commis/proto.h"

#define EVIL_FD		3		/* the worker's channel */
#define EVIL_WAIT_MS	10000		/* for IDFILE, then to be killed */
#define EVIL_BIGSEG	(2u << 20)

extern const struct commis_module commis_module;

static void
evil_le(uint8_t *p, uint64_t v, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void
evil_nap(void)
{
	struct timespec	ts = { 0, 10000000 };

	nanosleep(&ts, NULL);
}

/* The job id the test wrote to path, waiting for it; 0 if it never came. */
static uint64_t
evil_id(const char *path)
{
	char	buf[32];
	ssize_t	n;
	int	fd, i;

	for (i = 0; i < EVIL_WAIT_MS / 10; i++, evil_nap()) {
		if ((fd = open(path, O_RDONLY)) == -1)
			continue;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			return strtoull(buf, NULL, 10);
		}
	}
	return 0;
}

/* A memfd of size bytes, sealed as a result must be when seal is set. */
static int
evil_memfd(size_t size, int seal)
{
	int	fd;

	if ((fd = memfd_create("evil", MFD_CLOEXEC | MFD_ALLOW_SEALING)) ==
	    -1)
		return -1;
	if (ftruncate(fd, (off_t)size) == -1 || (seal &&
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_WRITE | F_SEAL_SEAL) == -1)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Sends a DONE for id: ok, no error text, no usage figures, inline bytes
 * out (may be empty), and nfd fds with it.
 */
static int
evil_done(uint64_t id, const char *out, const int *fds, int nfd)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(2 * sizeof(int))];
	}		 cbuf;
	uint8_t		 frame[COMMIS_FRAME_HDR_LEN + 64];
	struct iovec	 iov;
	struct msghdr	 msg;
	size_t		 olen = strlen(out), plen = 1 + 4 + 8 + 8 + 4 + olen;

	if (plen > 64)
		return -1;
	memset(frame, 0, sizeof frame);
	evil_le(frame, COMMIS_PROTO_MAGIC, 4);
	frame[4] = COMMIS_PROTO_VERSION;
	frame[5] = COMMIS_MSG_DONE;
	evil_le(frame + 6, nfd > 0 ? COMMIS_FLAG_FD : 0, 2);
	evil_le(frame + 8, plen, 4);
	evil_le(frame + 16, id, 8);
	/* u8 ok (0), str error (empty), u64 cpu, u64 rss: zeros already */
	evil_le(frame + COMMIS_FRAME_HDR_LEN + 1 + 4 + 8 + 8, olen, 4);
	memcpy(frame + COMMIS_FRAME_HDR_LEN + 1 + 4 + 8 + 8 + 4, out, olen);
	iov.iov_base = frame;
	iov.iov_len = COMMIS_FRAME_HDR_LEN + plen;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (nfd > 0) {
		memset(&cbuf, 0, sizeof cbuf);
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(nfd * sizeof(int));
		cbuf.hdr.cmsg_len = CMSG_LEN(nfd * sizeof(int));
		cbuf.hdr.cmsg_level = SOL_SOCKET;
		cbuf.hdr.cmsg_type = SCM_RIGHTS;
		memcpy(CMSG_DATA(&cbuf.hdr), fds, nfd * sizeof(int));
	}
	return sendmsg(EVIL_FD, &msg, MSG_NOSIGNAL) == -1 ? -1 : 0;
}

static int
evil_misbehave(struct commis_call *call, const char *mode, const char *idf)
{
	static const char	junk[32] = "this is not a frame, not at all";
	uint64_t		id = 0;
	int			fds[2] = { -1, -1 }, rc = -1;

	if (strcmp(mode, "garbage") == 0)
		return write(EVIL_FD, junk, sizeof junk) == -1 ? -1 : 0;
	if (strcmp(mode, "foreign") == 0)
		return evil_done(0xfeedfacecafeULL, "", NULL, 0);
	if (strcmp(mode, "fds") == 0) {
		fds[0] = evil_memfd(16, 1);
		fds[1] = evil_memfd(16, 1);
		if (fds[0] != -1 && fds[1] != -1)
			rc = evil_done(0xfeedfacecafeULL, "", fds, 2);
		goto out;
	}
	if ((id = evil_id(idf)) == 0) {
		call->error(call, "no job id in %s", idf);
		return -1;
	}
	if (strcmp(mode, "unsealed") == 0)
		fds[0] = evil_memfd(4096, 0);
	else if (strcmp(mode, "bigseg") == 0)
		fds[0] = evil_memfd(EVIL_BIGSEG, 1);
	else if (strcmp(mode, "mixed") == 0)
		fds[0] = evil_memfd(4096, 1);
	else {
		call->error(call, "unknown mode '%s'", mode);
		return -1;
	}
	if (fds[0] != -1)
		rc = evil_done(id, strcmp(mode, "mixed") == 0 ? "abc" : "",
		    fds, 1);
out:
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
	return rc;
}

static int
evil_run(struct commis_call *call)
{
	char	 in[1024], *mode, *mark, *idf;
	int	 fd, i;

	if (call->input_len >= sizeof in) {
		call->error(call, "input too long");
		return -1;
	}
	memcpy(in, call->input, call->input_len);
	in[call->input_len] = '\0';
	mode = in;
	if ((mark = strchr(mode, ',')) == NULL ||
	    (idf = strchr(mark + 1, ',')) == NULL) {
		call->error(call, "input is MODE,MARK,IDFILE");
		return -1;
	}
	*mark++ = '\0';
	*idf++ = '\0';
	if (access(mark, F_OK) == 0)
		return call->write(call, "ok", 2);
	if ((fd = open(mark, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1) {
		call->error(call, "%s: %s", mark, strerror(errno));
		return -1;
	}
	close(fd);
	if (evil_misbehave(call, mode, idf) == -1) {
		call->error(call, "could not misbehave: %s", strerror(errno));
		return -1;
	}
	/* commisd kills this worker for what it just read. */
	for (i = 0; i < EVIL_WAIT_MS / 10; i++)
		evil_nap();
	call->error(call, "still alive after %s", mode);
	return -1;
}

static const struct commis_handler evil_handlers[] = {
	{ "test.evil", 0, NULL, evil_run, NULL },
};

const struct commis_module commis_module = {
	COMMIS_HANDLER_ABI,
	sizeof evil_handlers / sizeof evil_handlers[0],
	evil_handlers,
};
