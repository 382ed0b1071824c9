/*
 * Unix listening sockets for commisd's control socket and its metrics
 * endpoint. The order matters: the directory is checked first (in a
 * world-writable one anyone could replace the socket), the socket is
 * bound under a umask that lets nobody in, and only then given its group
 * and mode, so there is no moment when it is open to more than intended.
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "usock.h"

static int
usock_dir_ok(const char *what, const char *path, char **cause)
{
	char		 dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char		*slash;
	struct stat	 sb;

	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &sb) == -1) {
		asprintf(cause, "%s: %s: %s", what, dir, strerror(errno));
		return -1;
	}
	if (sb.st_mode & S_IWOTH) {
		asprintf(cause, "%s: %s: the socket's directory is "
		    "world-writable; use a directory of commisd's own (e.g. "
		    "/run/commis)", what, dir);
		return -1;
	}
	return 0;
}

/* A socket file already there: stale (replaced) or live (refused). */
static int
usock_existing(const char *what, const struct sockaddr_un *sun,
    char **cause)
{
	struct stat	sb;
	int		probe, r;

	if (lstat(sun->sun_path, &sb) == -1)
		return 0;
	if (!S_ISSOCK(sb.st_mode)) {
		asprintf(cause, "%s: %s: exists and is not a socket", what,
		    sun->sun_path);
		return -1;
	}
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		asprintf(cause, "%s: socket: %s", what, strerror(errno));
		return -1;
	}
	r = connect(probe, (const struct sockaddr *)sun, sizeof *sun);
	close(probe);
	if (r == 0) {
		asprintf(cause, "%s: %s: another commisd is listening there",
		    what, sun->sun_path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		asprintf(cause, "%s: %s: %s", what, sun->sun_path,
		    strerror(errno));
		return -1;
	}
	log_info("%s: removing stale socket %s", what, sun->sun_path);
	unlink(sun->sun_path);
	return 0;
}

int
usock_listen(const char *what, const char *path, mode_t mode,
    const char *group, int backlog, char **cause)
{
	struct sockaddr_un	 sun;
	struct group		*gr = NULL;
	mode_t			 old;
	int			 fd, r;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path) >=
	    sizeof sun.sun_path) {
		asprintf(cause, "%s: %s: socket path too long", what, path);
		return -1;
	}
	if (usock_dir_ok(what, path, cause) == -1)
		return -1;
	if (group[0] != '\0' && (gr = getgrnam(group)) == NULL) {
		asprintf(cause, "socket_group: no group '%s'", group);
		return -1;
	}
	if (usock_existing(what, &sun, cause) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		asprintf(cause, "%s: socket: %s", what, strerror(errno));
		return -1;
	}
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sun, sizeof sun);
	umask(old);
	if (r == -1 || (gr != NULL && chown(path, (uid_t)-1, gr->gr_gid) ==
	    -1) || chmod(path, mode) == -1 || listen(fd, backlog) == -1) {
		asprintf(cause, "%s: %s: %s", what, path, strerror(errno));
		if (r == 0)
			unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}
