/*
 * commis: the command-line client. Everything but main() is in cli.c and
 * the cli_*.c modules, so that the tests link the same code.
 */
#include "cli.h"

int
main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
