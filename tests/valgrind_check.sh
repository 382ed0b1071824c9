#!/bin/sh
# Reads the valgrind logs that make valgrind leaves (docs/reliability.md,
# "make valgrind") and fails unless every one is clean:
#
#  - no memcheck error, whether the process lived to its ERROR SUMMARY or
#    was killed before it (error reports are written as they happen);
#  - 0 bytes definitely lost in every process that got to its leak check;
#  - no fd open at exit that commisd opened itself: stdin, stdout and
#    stderr, and what valgrind marks "<inherited from parent>" (fds the
#    test process or its own caller leaked into commisd: Check's temporary
#    file, a make jobserver pipe, valgrind's log) are expected, except
#    anything in the daemon's own directory (its LISTEN_FDS socket), which
#    commisd must close. A worker or thread host (a process forked by a
#    logged commisd) may also hold fd 3, its channel: it _exits when the
#    supervisor closes the other end and lets the kernel close it. A process
#    that a signal ended (SIGKILL leaves no summary at all; a fault job's
#    SIGSEGV or SIGABRT, a SIGTERM at shutdown) is not checked for fds:
#    what it held mid-job says nothing about a leak.
#
# Logs are named vg.GROUP.PID.log (GROUP: the test's directory, from
# COMMIS_TESTD, see tests/testlib.c); within a group, a log whose Parent
# PID is another log of the group is a worker or host, else a supervisor.
#
# usage: tests/valgrind_check.sh DIR...   (every *.log below each DIR)
set -u

if [ $# -eq 0 ]; then
	echo "usage: $0 DIR..." >&2
	exit 2
fi
logs=$(find "$@" -name '*.log' -type f | sort)
if [ -z "$logs" ]; then
	echo "valgrind_check: no logs in $*" >&2
	exit 1
fi

printf '%s\n' "$logs" | awk '
BEGIN {
	# The error headlines of memcheck (valgrind 3.x text output), and what
	# it adds when a process dies of a real fault rather than a raise().
	errre = "^(Invalid (read|write|free|size|alignment)|Mismatched free|" \
	    "Conditional jump or move depends on uninitialised|" \
	    "Use of uninitialised value|" \
	    "Syscall param .*(uninitialised|unaddressable)|" \
	    "Source and destination overlap|" \
	    "Argument .* of function .* has a fishy value|" \
	    "Jump to the invalid address|Illegal memory pool address|" \
	    "Access not within mapped region|Bad permissions for mapped region|" \
	    "[0-9,]+ bytes in [0-9,]+ blocks are definitely lost)"
}
{
	files[++nf] = $0
	# The pids of each group, so that a supervisor (parent outside its
	# group) can be told from a worker or thread host.
	known[group_of($0) " " pid_of($0)] = 1
}
END {
	bad = 0
	for (k = 1; k <= nf; k++)
		bad += check(files[k])
	printf "valgrind_check: %d logs: %d supervisors (%d reached exit), " \
	    "%d workers/hosts (%d reached exit); definitely lost: %d bytes; " \
	    "errors: %d; unexpected fds: %d\n", nf, nsup, nsupdone, nwrk,
	    nwrkdone, lost, nerr, nfd
	if (bad)
		printf "valgrind_check: FAILED (%d logs with problems)\n", bad
	else
		print "valgrind_check: OK"
	exit bad != 0
}

function problem(file, what) {
	if (!(file in shown)) {
		shown[file] = 1
		printf "\n== %s\n   %s\n", file, cmd
	}
	printf "   %s\n", what
}

# One log; returns 1 if it has a problem.
function check(file,    line, msg, group, ppid, done, signalled, infd,
    fdline, fdnum, okfd, dir, m, errs, dl, nbad, inerr) {
	group = group_of(file)
	cmd = ""; ppid = ""; done = 0; signalled = 0; infd = 0; nbad = 0
	errs = -1; dl = 0; inerr = 0; dir = ""
	while ((getline line < file) > 0) {
		msg = line
		sub(/^==[0-9]+== ?/, "", msg)
		if (msg ~ /^Command: /) {
			cmd = msg
			# The daemon directory: that of its -c config.
			if (match(msg, / -c [^ ]+/)) {
				dir = substr(msg, RSTART + 4, RLENGTH - 4)
				sub(/\/[^\/]*$/, "", dir)
			}
		} else if (msg ~ /^Parent PID: /) {
			ppid = msg; sub(/^Parent PID: /, "", ppid)
		} else if (msg ~ /^Process terminating with default action/) {
			signalled = 1
		} else if (msg ~ /^FILE DESCRIPTORS: /) {
			infd = 1
		} else if (msg ~ /^HEAP SUMMARY:/) {
			infd = 0
		} else if (msg ~ /definitely lost: [0-9,]+ bytes/) {
			m = msg; sub(/.*definitely lost: /, "", m)
			sub(/ bytes.*/, "", m); gsub(/,/, "", m); dl = m + 0
		} else if (msg ~ /^ERROR SUMMARY: [0-9]+ errors/) {
			done = 1
			m = msg; sub(/^ERROR SUMMARY: /, "", m)
			sub(/ .*/, "", m); errs = m + 0
		}
		# An error report: its headline and its stack.
		if (msg ~ errre) {
			inerr = 1; nbad++; nerr++
			problem(file, msg)
			continue
		}
		if (inerr) {
			if (msg ~ /^ +(at|by) 0x|^ +Address /)
				problem(file, msg)
			else
				inerr = 0
		}
		if (infd && msg ~ /^Open .* [0-9]+:/) {
			fdline = msg
			m = msg; sub(/:.*/, "", m); sub(/.* /, "", m); fdnum = m + 0
			getline line < file
			m = line; sub(/^==[0-9]+== ?/, "", m)
			fd_entry[file, fdnum] = fdline "  " m
			okfd = fdnum <= 2 || \
			    (m ~ /<inherited from parent>/ && \
			    (dir == "" || index(fdline, dir "/") == 0))
			if (!okfd && role_child(group, ppid) && fdnum == 3 && \
			    fdline ~ /AF_UNIX socket 3/)
				okfd = 1
			if (!okfd && !signalled) {
				nbad++; nfd++
				problem(file, "fd open at exit: " fdline)
				problem(file, m)
				inerr = 1	# and the rest of its stack
			}
		}
	}
	close(file)
	if (role_child(group, ppid)) {
		nwrk++; nwrkdone += done
	} else {
		nsup++; nsupdone += done
	}
	if (errs > 0 && nbad == 0) {
		nbad++; nerr += errs
		problem(file, "ERROR SUMMARY: " errs " errors")
	}
	if (dl > 0) {
		nbad++; lost += dl
		problem(file, "definitely lost: " dl " bytes")
	}
	return nbad > 0
}

function group_of(file,    g) {
	g = file; sub(/.*\/vg\./, "", g); sub(/\.[0-9]+\.log$/, "", g)
	return g
}

function pid_of(file,    p) {
	p = file; sub(/\.log$/, "", p); sub(/.*\./, "", p)
	return p
}

function role_child(group, ppid) {
	return ppid != "" && ((group " " ppid) in known)
}
'
