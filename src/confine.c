/*
 * Confinement of a worker process, applied in the child after fork and
 * before any handler code runs. It knows the pool's settings and the
 * kernel's interfaces, nothing of jobs or channels. Order matters: rlimits
 * and groups need root, so they come before setresuid; no_new_privs comes
 * last so nothing after it could gain privileges; the parent-death signal
 * is cleared by a credential change and is set again after the drop.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "confine.h"

static int
confine_rlimit(int res, uint64_t v, const char *name, char *why,
    size_t whylen)
{
	struct rlimit	rl;

	if (v == 0)
		return 0;
	rl.rlim_cur = rl.rlim_max = (rlim_t)v;
	if (setrlimit(res, &rl) == -1) {
		snprintf(why, whylen, "setrlimit %s %llu: %s", name,
		    (unsigned long long)v, strerror(errno));
		return -1;
	}
	return 0;
}

/* Drops to the pool's user and group; each step checked. */
static int
confine_drop(const struct pool_config *cfg, char *why, size_t whylen)
{
	struct passwd	*pw = NULL;
	struct group	*gr;
	uid_t		 uid = getuid();
	gid_t		 gid = getgid(), ruid, euid, suid, rgid, egid, sgid;

	if (cfg->user[0] != '\0') {
		if ((pw = getpwnam(cfg->user)) == NULL) {
			snprintf(why, whylen, "no user '%s'", cfg->user);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (cfg->group[0] != '\0') {
		if ((gr = getgrnam(cfg->group)) == NULL) {
			snprintf(why, whylen, "no group '%s'", cfg->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if ((pw != NULL && cfg->group[0] == '\0' ?
	    initgroups(pw->pw_name, gid) : setgroups(1, &gid)) == -1 ||
	    setresgid(gid, gid, gid) == -1 || setresuid(uid, uid, uid) == -1) {
		snprintf(why, whylen, "dropping to %s/%s: %s", cfg->user,
		    cfg->group, strerror(errno));
		return -1;
	}
	/* Checked, not assumed: and no way back to root. */
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1 || ruid != uid ||
	    euid != uid || suid != uid || rgid != gid || egid != gid ||
	    sgid != gid || (uid != 0 && setuid(0) != -1)) {
		snprintf(why, whylen, "the drop to uid %ld gid %ld did not "
		    "hold", (long)uid, (long)gid);
		return -1;
	}
	return 0;
}

int
confine_worker(const struct pool_config *cfg, pid_t parent, char *why,
    size_t whylen)
{
	if (confine_rlimit(RLIMIT_AS, cfg->rlimit_as, "as", why, whylen) ||
	    confine_rlimit(RLIMIT_CPU, cfg->rlimit_cpu, "cpu", why, whylen) ||
	    confine_rlimit(RLIMIT_NOFILE, cfg->rlimit_nofile, "nofile", why,
	    whylen) || confine_rlimit(RLIMIT_NPROC, cfg->rlimit_nproc,
	    "nproc", why, whylen) || confine_rlimit(RLIMIT_CORE,
	    cfg->rlimit_core, "core", why, whylen))
		return -1;
	if ((cfg->user[0] != '\0' || cfg->group[0] != '\0') && geteuid() == 0) {
		if (confine_drop(cfg, why, whylen) == -1)
			return -1;
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent) {
			snprintf(why, whylen, "the supervisor went away");
			return -1;
		}
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(why, whylen, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	return 0;
}
