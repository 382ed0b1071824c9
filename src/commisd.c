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
#include "notify.h"
#include "sup.h"
#include "version.h"

#define DEFAULT_CONFIG	COMMIS_SYSCONFDIR "/commis/commis.yaml"

static void
usage(FILE *f)
{
	fprintf(f, "usage: commisd [-t] [-c FILE] [--log-format=FORMAT] "
	    "[--syslog]\n"
	    "       commisd --version | --config-doc\n"
	    "  -c FILE       configuration (default " DEFAULT_CONFIG ")\n"
	    "  -t            check the configuration and exit\n"
	    "  --log-format=human|journal\n"
	    "                stderr lines as \"commisd[PID]: LEVEL: ...\" or "
	    "as \"<N>...\"\n"
	    "                (default: journal when stderr is the journal)\n"
	    "  --syslog      log through syslog(3), facility daemon\n"
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
	/* Workers must not see these, not even in /proc/PID/environ. */
	notify_unsetenv("LISTEN_PID");
	notify_unsetenv("LISTEN_FDS");
	notify_unsetenv("LISTEN_FDNAMES");
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, 'V' },
		{ "config-doc", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "log-format", required_argument, NULL, 'F' },
		{ "syslog", no_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	const char		*path = DEFAULT_CONFIG;
	struct supervisor	*sup;
	struct config		*cfg;
	char			*errors = NULL, *cause = NULL;
	enum log_format		 fmt = LOG_FMT_HUMAN;
	int			 ch, test = 0, code, use_syslog = 0;
	int			 fmt_set = 0;

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
		case 'F':
			if (log_format_parse(optarg, &fmt) == -1) {
				fprintf(stderr, "commisd: --log-format: "
				    "\"%s\" is neither human nor journal\n",
				    optarg);
				return EXIT_SUP_CONFIG;
			}
			fmt_set = 1;
			break;
		case 'S':
			use_syslog = 1;
			break;
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
	if (fmt_set)
		log_set_format(fmt);
	if (use_syslog && !test)
		log_open_syslog();
	if ((cfg = config_load(path, &errors)) == NULL) {
		/* Under systemd, as error records; by hand, as plain text. */
		if (!test && (use_syslog || log_get_format() ==
		    LOG_FMT_JOURNAL)) {
			log_errorx("%s", errors);
			log_errorx("%s: configuration is not valid", path);
			free(errors);
			return EXIT_SUP_CONFIG;
		}
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
	/* Before anything forks: workers never see systemd's variables. */
	notify_init();
	log_set_level(cfg->log_level);
	if ((sup = sup_new(cfg, inherited_socket(), &cause)) == NULL) {
		fatalx("%s", cause);
	}
	code = sup_run(sup);
	sup_free(sup);
	return code;
}
