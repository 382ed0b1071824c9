/* Exit codes of commis, commisd and the workers, named in one place. */
#ifndef COMMIS_EXITCODE_H
#define COMMIS_EXITCODE_H

/* commis (CLI) */
#define EXIT_CLI_OK		0
#define EXIT_CLI_FAILED		1	/* the handler reported an error */
#define EXIT_CLI_USAGE		2
#define EXIT_CLI_CONNECT	3	/* cannot connect to commisd */
#define EXIT_CLI_REJECTED	4	/* commisd refused the request */
#define EXIT_CLI_TIMEDOUT	5	/* the job timed out */
#define EXIT_CLI_CRASHED	6	/* the job's worker died on every attempt */
#define EXIT_CLI_CANCELLED	7	/* cancelled or expired */
#define EXIT_CLI_PROTO		8	/* I/O or protocol error */

/* commisd */
#define EXIT_SUP_OK		0
#define EXIT_SUP_FAIL		1
#define EXIT_SUP_CONFIG		2	/* the config did not load (-t too) */

/* workers: exit code 2 tells the supervisor not to respawn the slot */
#define EXIT_WORKER_OK		0
#define EXIT_WORKER_ERROR	1
#define EXIT_WORKER_NORESPAWN	2

#endif
