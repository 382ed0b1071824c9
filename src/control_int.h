/*
 * Private to the control module, which is two files: control.c (the
 * listener, admission, a connection's life, the command table and reply
 * routing) and control_req.c (the request handlers the table names).
 * Nothing else includes this.
 */
#ifndef COMMIS_CONTROL_INT_H
#define COMMIS_CONTROL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <sys/un.h>

#include <event2/event.h>

#include "access.h"
#include "config.h"
#include "control.h"
#include "idmap.h"
#include "job.h"

struct chan;
struct frame;

struct conn {
	uint64_t		 id;
	struct control		*ctl;
	struct chan		*chan;
	struct conn_waits	 waits;		/* job results it waits for */
	uint32_t		 nsegs;		/* segments of jobs in flight */
	struct peer		 peer;		/* from the kernel */
	enum access_role	 role;
	struct event		*first;		/* first-frame deadline */
	uint64_t		 events;	/* EVENTS request id, or 0 */
	LIST_ENTRY(conn)	 sub_entry;	/* while subscribed */
};

struct control {
	struct supervisor	*sup;
	int			 fd;
	int			 owned;		/* we bound it: unlink at close */
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct event		*ev_accept;
	struct idmap		 conns;
	uint64_t		 next_id;
	struct control_stats	 st;
	struct access_table	*acl;
	const struct config	*acl_cfg;	/* the config acl is of */
	struct idmap		 uid_conns;	/* uid + 1 -> connections */
	struct idmap		 uid_jobs;	/* uid + 1 -> jobs in flight */
	int			 reserve_fd;	/* for accept on EMFILE */
	LIST_HEAD(, conn)	 subs;		/* subscribed to events */
};

/* control.c */
/* A per-uid counter in an idmap (keys are uid + 1, never 0). */
uint64_t	 control_uid_get(const struct idmap *, uid_t);
void		 control_uid_add(struct idmap *, uid_t, int delta);
/* An ERROR reply: the request failed, the connection stays. */
void		 control_error(struct conn *, uint64_t id, uint32_t code,
		    const char *msg);
/* A reply that is one length-prefixed text: OK, STATS_REPLY, EVENT. */
void		 control_text(struct conn *, uint8_t type, uint64_t id,
		    const void *, size_t);
/* A peer's error drops that peer: tell it why when we can, then close.
 * The connection is freed: the caller must not touch it again. */
void		 control_drop(struct conn *, uint64_t id, uint32_t code,
		    const char *why);
/* A request beyond the peer's role: counted, logged, refused. */
void		 control_deny(struct conn *, uint64_t id, const char *what,
		    enum access_role need);

/* control_req.c: the handlers of the command table. */
void		 control_ping(struct conn *, struct frame *);
void		 control_submit(struct conn *, struct frame *);
void		 control_stats_cmd(struct conn *, struct frame *);
void		 control_status(struct conn *, struct frame *);
void		 control_wait(struct conn *, struct frame *);
void		 control_cancel(struct conn *, struct frame *);
void		 control_admin(struct conn *, struct frame *);
void		 control_events(struct conn *, struct frame *);

#endif
