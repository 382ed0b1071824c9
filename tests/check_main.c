/*
 * The test runner: every suite is registered in this one table. Check's
 * fork mode stays on, so a crashing test fails alone.
 */
#include <stdlib.h>

#include "testlib.h"

static Suite *(*const suites[])(void) = {
	msg_suite,
	frame_suite,
	seg_suite,
	queue_suite,
	config_suite,
	handlers_suite,
	client_suite,
	worker_suite,
	host_suite,
	sup_suite,
	supervise_suite,
	bulk_suite,
	thread_suite,
	access_suite,
	cli_suite,
	log_suite,
	notify_suite,
	hist_suite,
	metrics_suite,
	hostile_suite,
	batch_suite,
	alloc_suite,
	journal_suite,
	durable_suite,
	thumbnail_suite,
	exec_suite,
};

int
main(void)
{
	SRunner	*sr;
	size_t	 i;
	int	 failed;

	sr = srunner_create(suites[0]());
	for (i = 1; i < sizeof suites / sizeof suites[0]; i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
