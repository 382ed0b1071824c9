/*
 * commisd's main(): options, config, then the supervisor. Kept apart so
 * that the tests link every other object.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "exitcode.h"
#include "log.h"
#include "sup.h"
#include "version.h"

#define DEFAULT_CONFIG	COMMIS_SYSCONFDIR "/commis/commis.yaml"

static void
usage(FILE *f)
{
	fprintf(f, "usage: commisd [-t] [-c FILE]\n"
	    "       commisd --version | --config-doc\n"
	    "  -c FILE       configuration (default " DEFAULT_CONFIG ")\n"
	    "  -t            check the configuration and exit\n"
	    "  --config-doc  print the configuration reference (Markdown)\n");
}

/* systemd socket activation: the listening socket arrives as fd 3. */
static int
inherited_socket(void)
{
	const char	*pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	int		 fd = -1;

	if (pid != NULL && fds != NULL && strtol(pid, NULL, 10) == getpid() &&
	    strtol(fds, NULL, 10) >= 1)
		fd = 3;
	/* Workers must not see these. */
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "config-doc", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*path = DEFAULT_CONFIG;
	struct supervisor	*sup;
	struct config		*cfg;
	char			*errors = NULL, *cause = NULL;
	int			 ch, test = 0, code;

	while ((ch = getopt_long(argc, argv, "c:th", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("commisd %s\n", COMMIS_VERSION);
			return EXIT_SUP_OK;
		case 'D':
			config_doc(stdout);
			return EXIT_SUP_OK;
		case 'h':
			usage(stdout);
			return EXIT_SUP_OK;
		default:
			usage(stderr);
			return EXIT_SUP_CONFIG;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_SUP_CONFIG;
	}
	log_init("commisd", LOG_LVL_INFO);
	if ((cfg = config_load(path, &errors)) == NULL) {
		fprintf(stderr, "%s", errors);
		if (errors[0] != '\0' && errors[strlen(errors) - 1] != '\n')
			fputc('\n', stderr);
		fprintf(stderr, "commisd: %s: configuration is not valid\n", path);
		free(errors);
		return EXIT_SUP_CONFIG;
	}
	if (test) {
		printf("commisd: %s: configuration is valid\n", path);
		config_free(cfg);
		return EXIT_SUP_OK;
	}
	log_set_level(cfg->log_level);
	if ((sup = sup_new(cfg, inherited_socket(), &cause)) == NULL) {
		fatalx("%s", cause);
	}
	code = sup_run(sup);
	sup_free(sup);
	return code;
}
