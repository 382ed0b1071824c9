/*
 * Access control on the control socket. The kernel tells who the peer is
 * (SO_PEERCRED for uid, gid and pid, SO_PEERGROUPS for its supplementary
 * groups), so nothing the client sends is trusted for identity. Names in
 * the config are resolved to ids when the table is built (at start and
 * on each reload), not on each connection. This module decides roles; the
 * control module enforces them.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"

struct access_entry {
	int			 is_group;
	unsigned long		 id;
	enum access_role	 role;
};

struct access_table {
	struct access_entry	*v;
	size_t			 n;
};

static const char *const access_role_names[] = {
	[ROLE_NONE] = "none",
	[ROLE_READ] = "read",
	[ROLE_SUBMIT] = "submit",
	[ROLE_ADMIN] = "admin",
};

const char *
access_role_name(enum access_role r)
{
	return access_role_names[r];
}

/* "user:alice" -> uid, "gid:100" -> gid... -1 if it no longer resolves. */
static int
access_parse(const char *s, struct access_entry *e)
{
	const char	*v = strchr(s, ':') + 1;
	struct passwd	*pw;
	struct group	*gr;

	e->is_group = strncmp(s, "group:", 6) == 0 || strncmp(s, "gid:", 4) == 0;
	if (strncmp(s, "uid:", 4) == 0 || strncmp(s, "gid:", 4) == 0) {
		e->id = strtoul(v, NULL, 10);
		return 0;
	}
	if (!e->is_group && (pw = getpwnam(v)) != NULL) {
		e->id = pw->pw_uid;
		return 0;
	}
	if (e->is_group && (gr = getgrnam(v)) != NULL) {
		e->id = gr->gr_gid;
		return 0;
	}
	return -1;
}

struct access_table *
access_table_new(const struct config *cfg)
{
	char * const		*lists[] = { cfg->access_read,
				    cfg->access_submit, cfg->access_admin };
	const size_t		 counts[] = { cfg->naccess_read,
				    cfg->naccess_submit, cfg->naccess_admin };
	struct access_table	*t;
	size_t			 i, j, n = 0;

	if ((t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	for (i = 0; i < 3; i++)
		n += counts[i];
	if (n > 0 && (t->v = calloc(n, sizeof *t->v)) == NULL) {
		free(t);
		return NULL;
	}
	for (i = 0; i < 3; i++) {
		for (j = 0; j < counts[i]; j++) {
			/* A name deleted since the config was read: skip. */
			if (access_parse(lists[i][j], &t->v[t->n]) == -1)
				continue;
			t->v[t->n++].role = (enum access_role)(ROLE_READ + i);
		}
	}
	/* Lists were configured but nothing resolved: still closed. */
	if (n > 0 && t->n == 0) {
		t->v[0].is_group = 0;
		t->v[0].id = (unsigned long)-1;
		t->v[0].role = ROLE_NONE;
		t->n = 1;
	}
	return t;
}

void
access_table_free(struct access_table *t)
{
	if (t == NULL)
		return;
	free(t->v);
	free(t);
}

int
access_peer(int fd, struct peer *p)
{
	struct ucred	cred;
	socklen_t	len = sizeof cred;
	socklen_t	glen = sizeof p->groups;

	memset(p, 0, sizeof *p);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return -1;
	p->pid = cred.pid;
	p->uid = cred.uid;
	p->gid = cred.gid;
	/* Too many groups to list: only the primary group counts. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &glen) == 0)
		p->ngroups = (int)(glen / sizeof(gid_t));
	return 0;
}

static int
access_match(const struct access_entry *e, const struct peer *p)
{
	int	i;

	if (!e->is_group)
		return e->id == p->uid;
	if (e->id == p->gid)
		return 1;
	for (i = 0; i < p->ngroups; i++) {
		if (e->id == p->groups[i])
			return 1;
	}
	return 0;
}

enum access_role
access_role(const struct access_table *t, const struct peer *p)
{
	enum access_role	best = ROLE_NONE;
	size_t			i;

	if (p->uid == 0 || p->uid == getuid())
		return ROLE_ADMIN;
	if (t->n == 0)
		return ROLE_SUBMIT;
	for (i = 0; i < t->n; i++) {
		if (t->v[i].role > best && access_match(&t->v[i], p))
			best = t->v[i].role;
	}
	return best;
}
