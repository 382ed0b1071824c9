/*
 * The control socket and its connections: accepting and admitting clients
 * (access lists, connection caps, running out of fds), a connection's life
 * and its first-frame deadline, the command table that dispatches each
 * request by message type and role, and replies routed back by connection
 * id, never by pointer, because a connection can go away while its jobs
 * run. A bad frame drops that connection and nothing else. The handlers
 * themselves, which validate requests and build replies, are
 * control_req.c's; what a job does once accepted is the supervisor's and
 * the pools' business.
 *
 * Clients wait for results through waiters (job.c) that name their
 * connection; when a connection closes, job_conn_gone() forgets them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "chan.h"
#include "control.h"
#include "control_int.h"
#include "idmap.h"
#include "job.h"
#include "log.h"
#include "msg.h"
#include "usock.h"
#include "sup.h"

struct control_cmd {
	uint8_t			 type;
	const char		*name;
	enum access_role	 role;		/* least role allowed */
	void			(*fn)(struct conn *, struct frame *);
};

static const struct control_cmd control_cmds[] = {
	{ COMMIS_MSG_PING, "ping", ROLE_READ, control_ping },
	{ COMMIS_MSG_SUBMIT, "submit", ROLE_SUBMIT, control_submit },
	{ COMMIS_MSG_STATS, "stats", ROLE_READ, control_stats_cmd },
	{ COMMIS_MSG_STATUS, "status", ROLE_READ, control_status },
	{ COMMIS_MSG_WAIT, "wait", ROLE_SUBMIT, control_wait },
	{ COMMIS_MSG_CANCEL_JOB, "cancel", ROLE_SUBMIT, control_cancel },
	{ COMMIS_MSG_ADMIN, "admin", ROLE_ADMIN, control_admin },
	{ COMMIS_MSG_EVENTS, "events", ROLE_READ, control_events },
};

/* A per-uid counter in an idmap (keys are uid + 1, never 0). */
uint64_t
control_uid_get(const struct idmap *m, uid_t uid)
{
	return (uintptr_t)idmap_get(m, (uint64_t)uid + 1);
}

void
control_uid_add(struct idmap *m, uid_t uid, int delta)
{
	uint64_t	n = control_uid_get(m, uid) + (uint64_t)(int64_t)delta;

	idmap_del(m, (uint64_t)uid + 1);
	if (n > 0 && idmap_put(m, (uint64_t)uid + 1, (void *)(uintptr_t)n) == -1)
		log_warnx("control: out of memory counting uid %ld", (long)uid);
}

void
control_uid_job_done(struct control *ctl, uid_t uid)
{
	control_uid_add(&ctl->uid_jobs, uid, -1);
}

void
control_error(struct conn *c, uint64_t id, uint32_t code, const char *msg)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_u32(&m, code);
	mbuf_str(&m, msg);
	if (!m.err)
		chan_send(c->chan, COMMIS_MSG_ERROR, id, m.data, m.len, NULL, 0);
	mbuf_free(&m);
}

/* A reply that is one length-prefixed text: OK, STATS_REPLY. */
void
control_text(struct conn *c, uint8_t type, uint64_t id, const void *p,
    size_t len)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_u32(&m, (uint32_t)len);
	if (!m.err)
		chan_send(c->chan, type, id, m.data, m.len, p, len);
	mbuf_free(&m);
}

static void
control_conn_free(struct conn *c)
{
	if (c->events != 0)
		LIST_REMOVE(c, sub_entry);
	if (c->first != NULL)
		event_free(c->first);
	control_uid_add(&c->ctl->uid_conns, c->peer.uid, -1);
	idmap_del(&c->ctl->conns, c->id);
	job_conn_gone(c->ctl->sup->jobs, &c->waits);
	chan_free(c->chan);
	free(c);
}

/* A peer's error drops that peer: tell it why when we can, then close. */
void
control_drop(struct conn *c, uint64_t id, uint32_t code, const char *why)
{
	log_info("control: connection %llu dropped: %s",
	    (unsigned long long)c->id, why);
	c->ctl->st.dropped++;
	control_error(c, id, code, why);
	control_conn_free(c);
}

void
control_deny(struct conn *c, uint64_t id, const char *what,
    enum access_role need)
{
	char	msg[160];

	snprintf(msg, sizeof msg, "%s needs the %s role; uid %ld has %s",
	    what, access_role_name(need), (long)c->peer.uid,
	    access_role_name(c->role));
	log_info("control: connection %llu: denied: %s",
	    (unsigned long long)c->id, msg);
	c->ctl->st.denied++;
	control_error(c, id, COMMIS_E_DENIED, msg);
}

static void
control_frame(struct chan *ch, struct frame *f, void *arg)
{
	struct conn	*c = arg;
	size_t		 i;

	if (c->first != NULL) {		/* a complete frame: in time */
		event_free(c->first);
		c->first = NULL;
	}
	for (i = 0; i < sizeof control_cmds / sizeof control_cmds[0]; i++) {
		if (control_cmds[i].type != f->hdr.type)
			continue;
		if (c->role < control_cmds[i].role) {
			control_deny(c, f->hdr.id, control_cmds[i].name,
			    control_cmds[i].role);
			return;
		}
		control_cmds[i].fn(c, f);
		return;
	}
	control_error(c, f->hdr.id, COMMIS_E_UNSUPPORTED,
	    "unknown message type");
}

static int
control_conn_error(struct chan *ch, enum frame_err e, const struct frame_hdr *h,
    int errno_, void *arg)
{
	struct conn	*c = arg;
	char		 msg[128];

	switch (e) {
	case FRAME_OK:		/* EOF or I/O error: the client went away */
		log_debug("control: connection %llu closed",
		    (unsigned long long)c->id);
		control_conn_free(c);
		return 0;
	case FRAME_ETOOBIG:
		snprintf(msg, sizeof msg, "payload of %u bytes is above "
		    "max_payload (%u)", h->len, c->ctl->sup->cfg->max_payload);
		control_error(c, h->id, COMMIS_E_TOOBIG, msg);
		chan_skip(ch, h);
		return 1;
	case FRAME_EVERSION:
		snprintf(msg, sizeof msg, "protocol version %u, expected %u",
		    h->version, COMMIS_PROTO_VERSION);
		control_drop(c, 0, COMMIS_E_VERSION, msg);
		return 0;
	default:
		control_drop(c, 0, COMMIS_E_PROTO, frame_strerror(e));
		return 0;
	}
}

/*
 * accept() failed for lack of fds: give the reserve one back, take the
 * connection and close it at once, and keep the reserve for next time,
 * so the listener does not spin on a connection it cannot take.
 */
static void
control_accept_emfile(struct control *ctl, int lfd)
{
	int	fd;

	log_warnx("control: out of file descriptors; refusing a connection");
	ctl->st.refused++;
	if (ctl->reserve_fd != -1) {
		close(ctl->reserve_fd);
		ctl->reserve_fd = -1;
	}
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1)
		close(fd);
	ctl->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Whether a new peer may stay, else why not (it gets that and is closed). */
static const char *
control_admit(struct control *ctl, struct conn *c)
{
	const struct config	*cfg = ctl->sup->cfg;

	if (ctl->acl_cfg != cfg) {	/* built per config (reloads) */
		access_table_free(ctl->acl);
		ctl->acl = access_table_new(cfg);
		ctl->acl_cfg = ctl->acl != NULL ? cfg : NULL;
	}
	if (ctl->acl == NULL)
		return "out of memory";
	if ((c->role = access_role(ctl->acl, &c->peer)) == ROLE_NONE)
		return "not allowed: uid not in the access lists";
	if (idmap_len(&ctl->conns) >= cfg->max_connections &&
	    c->role < ROLE_ADMIN)
		return "too many connections (max_connections)";
	if (cfg->max_conns_per_uid > 0 && c->role < ROLE_ADMIN &&
	    control_uid_get(&ctl->uid_conns, c->peer.uid) >=
	    cfg->max_conns_per_uid)
		return "too many connections for this uid (max_conns_per_uid)";
	return NULL;
}

static void
control_first_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct conn	*c = arg;

	c->ctl->st.slow++;
	control_drop(c, 0, COMMIS_E_PROTO, "no complete frame in time "
	    "(first_frame_timeout_ms)");
}

static void
control_accept(evutil_socket_t lfd, short ev, void *arg)
{
	struct control	*ctl = arg;
	struct timeval	 tv = tv_ms(ctl->sup->cfg->first_frame_timeout_ms);
	struct conn	*c;
	const char	*why;
	int		 fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) == -1) {
		if (errno == EMFILE || errno == ENFILE)
			control_accept_emfile(ctl, lfd);
		else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("control: accept");
		return;
	}
	if ((c = calloc(1, sizeof *c)) == NULL) {
		close(fd);
		return;
	}
	c->id = ++ctl->next_id;
	c->ctl = ctl;
	LIST_INIT(&c->waits.waiters);
	LIST_INIT(&c->waits.subs);
	c->chan = chan_new(ctl->sup->base, fd,
	    ctl->sup->cfg->max_payload + COMMIS_FRAME_OVERHEAD,
	    control_frame, control_conn_error, c);
	if (c->chan == NULL || access_peer(fd, &c->peer) == -1 ||
	    idmap_put(&ctl->conns, c->id, c) == -1 ||
	    (c->first = evtimer_new(ctl->sup->base, control_first_timeout,
	    c)) == NULL) {
		log_warnx("control: cannot set up a connection");
		if (c->chan == NULL)
			close(fd);
		idmap_del(&ctl->conns, c->id);
		chan_free(c->chan);
		free(c);
		return;
	}
	control_uid_add(&ctl->uid_conns, c->peer.uid, 1);
	ctl->st.accepted++;
	if ((why = control_admit(ctl, c)) != NULL) {
		log_info("control: refused uid %ld pid %ld: %s",
		    (long)c->peer.uid, (long)c->peer.pid, why);
		ctl->st.refused++;
		control_error(c, 0, COMMIS_E_DENIED, why);
		control_conn_free(c);
		return;
	}
	evtimer_add(c->first, &tv);
	log_debug("control: connection %llu accepted: uid %ld pid %ld, role %s",
	    (unsigned long long)c->id, (long)c->peer.uid, (long)c->peer.pid,
	    access_role_name(c->role));
}

/*
 * Binds path under a umask that lets nobody in before the chmod. A stale
 * socket (nobody answers) is replaced; a live one means another commisd.
 */
struct control *
control_new(struct supervisor *sup, int listen_fd, char **cause)
{
	struct control	*ctl;

	if ((ctl = calloc(1, sizeof *ctl)) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	ctl->sup = sup;
	idmap_init(&ctl->conns);
	idmap_init(&ctl->uid_conns);
	idmap_init(&ctl->uid_jobs);
	ctl->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	LIST_INIT(&ctl->subs);
	snprintf(ctl->path, sizeof ctl->path, "%s", sup->cfg->socket);
	if (listen_fd >= 0) {
		ctl->fd = listen_fd;
		fcntl(listen_fd, F_SETFD, FD_CLOEXEC);
		evutil_make_socket_nonblocking(listen_fd);
	} else {
		if ((ctl->fd = usock_listen("control", ctl->path,
		    sup->cfg->socket_mode, sup->cfg->socket_group, 512,
		    cause)) == -1) {
			/* Not ours to unlink: another commisd may own it. */
			if (ctl->reserve_fd != -1)
				close(ctl->reserve_fd);
			free(ctl);
			return NULL;
		}
		ctl->owned = 1;
	}
	ctl->ev_accept = event_new(sup->base, ctl->fd, EV_READ | EV_PERSIST,
	    control_accept, ctl);
	if (ctl->ev_accept == NULL || event_add(ctl->ev_accept, NULL) == -1) {
		*cause = strdup("cannot watch the control socket");
		control_free(ctl);
		return NULL;
	}
	log_info("control: listening on %s%s", ctl->path,
	    ctl->owned ? "" : " (inherited)");
	return ctl;
}

void
control_close_listener(struct control *ctl)
{
	if (ctl->ev_accept != NULL) {
		event_free(ctl->ev_accept);
		ctl->ev_accept = NULL;
	}
	if (ctl->fd != -1) {
		close(ctl->fd);
		ctl->fd = -1;
		if (ctl->owned)
			unlink(ctl->path);
	}
}

void
control_free(struct control *ctl)
{
	struct conn	*c;
	size_t		 pos = 0;

	if (ctl == NULL)
		return;
	control_close_listener(ctl);
	while ((c = idmap_next(&ctl->conns, &pos)) != NULL) {
		control_conn_free(c);
		pos = 0;
	}
	idmap_free(&ctl->conns);
	idmap_free(&ctl->uid_conns);
	idmap_free(&ctl->uid_jobs);
	access_table_free(ctl->acl);
	if (ctl->reserve_fd != -1)
		close(ctl->reserve_fd);
	free(ctl);
}

void
control_result_to(struct control *ctl, uint64_t conn_id, uint64_t req_id,
    const struct job *job, const void *out, size_t len, int out_fd)
{
	struct conn	*c;
	struct mbuf	 m;

	if ((c = idmap_get(&ctl->conns, conn_id)) == NULL)
		return;
	if (out_fd != -1)
		len = 0;	/* the output is the segment */
	mbuf_init(&m);
	mbuf_u64(&m, job->id);
	mbuf_u8(&m, (uint8_t)job->status);
	mbuf_u16(&m, job->attempts);
	mbuf_str(&m, job->end->cause);
	/* Of the last attempt; a job that never ran has none. */
	mbuf_u64(&m, job->start_ns ? (job->start_ns - job->submit_ns) / 1000 :
	    0);
	mbuf_u64(&m, job->start_ns ? (job->end->done_ns - job->start_ns) / 1000 :
	    0);
	mbuf_u64(&m, job->cpu_us);
	mbuf_u64(&m, job->maxrss_kb);
	mbuf_u32(&m, (uint32_t)len);
	if (!m.err)
		chan_send_fd(c->chan, COMMIS_MSG_RESULT, req_id, m.data, m.len,
		    out, len, out_fd);
	mbuf_free(&m);
}

void
control_seg_done(struct control *ctl, uint64_t conn_id)
{
	struct conn	*c;

	if ((c = idmap_get(&ctl->conns, conn_id)) != NULL && c->nsegs > 0)
		c->nsegs--;
}

void
control_accepted_to(struct control *ctl, uint64_t conn_id, uint64_t req_id,
    uint64_t job_id)
{
	struct conn	*c;
	uint8_t		 idb[8];

	if ((c = idmap_get(&ctl->conns, conn_id)) == NULL)
		return;
	le64_put(idb, job_id);
	chan_send(c->chan, COMMIS_MSG_ACCEPTED, req_id, idb, sizeof idb, NULL,
	    0);
}

void
control_error_to(struct control *ctl, uint64_t conn_id, uint64_t req_id,
    uint32_t code, const char *msg)
{
	struct conn	*c;

	if ((c = idmap_get(&ctl->conns, conn_id)) != NULL)
		control_error(c, req_id, code, msg);
}

size_t
control_pending(const struct control *ctl)
{
	const struct conn	*c;
	size_t			 pos = 0, n = 0;

	while ((c = idmap_next(&ctl->conns, &pos)) != NULL)
		n += chan_pending(c->chan);
	return n;
}

size_t
control_throttled(const struct control *ctl)
{
	const struct conn	*c;
	size_t			 pos = 0, n = 0;

	while ((c = idmap_next(&ctl->conns, &pos)) != NULL)
		n += chan_throttled(c->chan) != 0;
	return n;
}

size_t
control_nconns(const struct control *ctl)
{
	return idmap_len(&ctl->conns);
}

const struct control_stats *
control_stats(const struct control *ctl)
{
	return &ctl->st;
}

void
control_event(struct control *ctl, const char *fmt, ...)
{
	struct conn	*c;
	char		 json[1024];
	va_list		 ap;
	int		 n;

	if (LIST_EMPTY(&ctl->subs))
		return;		/* the common case costs one test */
	va_start(ap, fmt);
	n = vsnprintf(json, sizeof json, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof json)
		return;
	LIST_FOREACH(c, &ctl->subs, sub_entry)
		control_text(c, COMMIS_MSG_EVENT, c->events, json, (size_t)n);
}
