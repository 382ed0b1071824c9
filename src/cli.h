/*
 * The commis command line: the command table and the commands. main()
 * lives in commis.c so that the tests can link this module.
 */
#ifndef COMMIS_CLI_H
#define COMMIS_CLI_H

/* Runs one command line; returns an EXIT_CLI_* code (exitcode.h). */
int	cli_main(int argc, char **argv);

#endif
