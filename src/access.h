/*
 * Who may do what on the control socket: peer credentials (SO_PEERCRED,
 * SO_PEERGROUPS) matched against the config's access lists, giving a role.
 */
#ifndef COMMIS_ACCESS_H
#define COMMIS_ACCESS_H

#include <sys/types.h>

#include "config.h"

#define ACCESS_MAX_GROUPS	64

struct peer {
	pid_t	 pid;
	uid_t	 uid;
	gid_t	 gid;
	gid_t	 groups[ACCESS_MAX_GROUPS];	/* supplementary */
	int	 ngroups;
};

struct access_table;

/* The access lists of cfg with names resolved to ids once. */
struct access_table	*access_table_new(const struct config *);
void			 access_table_free(struct access_table *);
/* Reads the credentials of a connected Unix socket's peer. 0 or -1. */
int			 access_peer(int fd, struct peer *);
/*
 * The peer's role: root and our own uid are admin; with no access list
 * configured everyone is submit; otherwise the highest role whose list
 * names the peer's uid, gid or one of its groups, else ROLE_NONE.
 */
enum access_role	 access_role(const struct access_table *,
			    const struct peer *);
const char		*access_role_name(enum access_role);

#endif
