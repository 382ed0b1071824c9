/*
 * Histograms: percentiles against known inputs, the edges (empty, one
 * value, values past HIST_MAX_US), merging, the cumulative counts behind
 * Prometheus buckets, and the one-minute window on a synthetic clock.
 */
#include <stdlib.h>

#include "hist.h"
#include "testlib.h"

#define NS_PER_S	(1000ULL * 1000 * 1000)

/* q within the histogram's relative error (1/64) above the exact value. */
static void
near(uint64_t got, uint64_t want)
{
	ck_assert_msg(got >= want && (double)(got - want) <= (double)want / 64,
	    "got %llu, want %llu (+1.6%%)", (unsigned long long)got,
	    (unsigned long long)want);
}

START_TEST(test_uniform)
{
	struct hist	*h = hist_new();
	uint64_t	 v;

	ck_assert_ptr_nonnull(h);
	for (v = 1; v <= 10000; v++)
		hist_add(h, v);
	ck_assert_uint_eq(hist_count(h), 10000);
	ck_assert_uint_eq(hist_sum(h), 10000ULL * 10001 / 2);
	ck_assert_uint_eq(hist_max(h), 10000);
	near(hist_quantile(h, 0.5), 5000);
	near(hist_quantile(h, 0.9), 9000);
	near(hist_quantile(h, 0.99), 9900);
	near(hist_quantile(h, 0.999), 9990);
	ck_assert_uint_eq(hist_quantile(h, 1.0), 10000);
	ck_assert_uint_eq(hist_quantile(h, 0.0), 1);
	/* Below 128 us every value has its own bucket. */
	ck_assert_uint_eq(hist_quantile(h, 0.0005), 5);
	ck_assert_uint_eq(hist_quantile(h, 0.0127), 127);
	hist_free(h);
}
END_TEST

/* Each value alone comes back within 1/64, never below it. */
START_TEST(test_error_bound)
{
	struct hist	*h = hist_new();
	uint64_t	 v;

	for (v = 1; v < HIST_MAX_US; v = v * 3 / 2 + 7) {
		hist_reset(h);
		hist_add(h, v);
		hist_add(h, v + 1000000);	/* max does not clamp p50 */
		near(hist_quantile(h, 0.5), v);
	}
	hist_free(h);
}
END_TEST

START_TEST(test_single_and_empty)
{
	struct hist	*h = hist_new();
	uint64_t	 b[2] = { 10, 1000 }, c[2];

	ck_assert_uint_eq(hist_count(h), 0);
	ck_assert_uint_eq(hist_sum(h), 0);
	ck_assert_uint_eq(hist_max(h), 0);
	ck_assert_uint_eq(hist_quantile(h, 0.5), 0);
	ck_assert_uint_eq(hist_quantile(h, 1), 0);
	hist_cumulative(h, b, 2, c);
	ck_assert_uint_eq(c[0], 0);
	ck_assert_uint_eq(c[1], 0);

	/* One value: every quantile is that value (clamped to max). */
	hist_add(h, 123457);
	ck_assert_uint_eq(hist_count(h), 1);
	ck_assert_uint_eq(hist_quantile(h, 0), 123457);
	ck_assert_uint_eq(hist_quantile(h, 0.5), 123457);
	ck_assert_uint_eq(hist_quantile(h, 0.99), 123457);
	ck_assert_uint_eq(hist_quantile(h, 1), 123457);

	hist_reset(h);
	hist_add(h, 0);
	ck_assert_uint_eq(hist_count(h), 1);
	ck_assert_uint_eq(hist_quantile(h, 0.5), 0);
	hist_free(h);
	hist_free(NULL);
}
END_TEST

START_TEST(test_overflow)
{
	struct hist	*h = hist_new();

	hist_add(h, HIST_MAX_US + 1);
	hist_add(h, UINT64_MAX);
	hist_add(h, HIST_MAX_US);
	ck_assert_uint_eq(hist_count(h), 3);
	ck_assert_uint_eq(hist_max(h), HIST_MAX_US);
	ck_assert_uint_eq(hist_sum(h), 3 * HIST_MAX_US);
	ck_assert_uint_eq(hist_quantile(h, 0.5), HIST_MAX_US);
	ck_assert_uint_eq(hist_quantile(h, 1), HIST_MAX_US);
	hist_add(h, 1);
	ck_assert_uint_eq(hist_quantile(h, 0.25), 1);
	hist_free(h);
}
END_TEST

START_TEST(test_merge)
{
	struct hist	*a = hist_new(), *b = hist_new(), *all = hist_new();
	uint64_t	 v;

	for (v = 1; v <= 10000; v++) {
		hist_add(v % 2 ? a : b, v * 100);
		hist_add(all, v * 100);
	}
	hist_merge(a, b);
	ck_assert_uint_eq(hist_count(a), 10000);
	ck_assert_uint_eq(hist_sum(a), hist_sum(all));
	ck_assert_uint_eq(hist_max(a), 1000000);
	ck_assert_uint_eq(hist_quantile(a, 0.5), hist_quantile(all, 0.5));
	ck_assert_uint_eq(hist_quantile(a, 0.99), hist_quantile(all, 0.99));
	near(hist_quantile(a, 0.5), 500000);
	/* Merging an empty one changes nothing; into an empty one copies. */
	hist_reset(b);
	hist_merge(a, b);
	ck_assert_uint_eq(hist_count(a), 10000);
	hist_merge(b, a);
	ck_assert_uint_eq(hist_count(b), 10000);
	ck_assert_uint_eq(hist_max(b), 1000000);
	ck_assert_uint_eq(hist_quantile(b, 0.9), hist_quantile(all, 0.9));
	hist_free(a);
	hist_free(b);
	hist_free(all);
}
END_TEST

START_TEST(test_cumulative)
{
	/* The metrics endpoint's bounds, in microseconds. */
	static const uint64_t	bounds[] = { 100, 250, 500, 1000, 2500,
				    5000, 10000, 25000, 50000, 100000,
				    250000, 500000, 1000000, 2500000,
				    5000000, 10000000, 30000000, 60000000 };
	const size_t	 n = sizeof bounds / sizeof bounds[0];
	struct hist	*h = hist_new();
	uint64_t	 c[sizeof bounds / sizeof bounds[0]], v, exact;
	size_t		 i;

	/* 1..100000 us, then 7 values of an hour and more. */
	for (v = 1; v <= 100000; v++)
		hist_add(h, v);
	for (i = 0; i < 7; i++)
		hist_add(h, HIST_MAX_US + i);
	hist_cumulative(h, bounds, n, c);
	for (i = 0; i < n; i++) {
		exact = bounds[i] < 100000 ? bounds[i] : 100000;
		/* Non-decreasing, never below the exact count, and above it
		 * only by values within 1/64 of the bound. */
		if (i > 0)
			ck_assert_uint_ge(c[i], c[i - 1]);
		ck_assert_uint_ge(c[i], exact);
		ck_assert_msg(c[i] - exact <= bounds[i] / 64,
		    "le %llu: %llu", (unsigned long long)bounds[i],
		    (unsigned long long)c[i]);
	}
	ck_assert_uint_eq(c[0], 100);		/* exact below 128 us */
	ck_assert_uint_eq(c[n - 1], 100000);	/* not the hour-long ones */
	v = HIST_MAX_US;
	hist_cumulative(h, &v, 1, c);
	ck_assert_uint_eq(c[0], hist_count(h));

	/* Values exactly on a bound count as <= it. */
	hist_reset(h);
	for (i = 0; i < n; i++)
		hist_add(h, bounds[i]);
	hist_cumulative(h, bounds, n, c);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(c[i], i + 1);
	hist_free(h);
}
END_TEST

START_TEST(test_window)
{
	struct histw	*w = histw_new();
	struct hist	*r = hist_new();
	uint64_t	 t0 = 1000 * NS_PER_S, i;

	ck_assert_ptr_nonnull(w);
	histw_recent(w, t0, r);
	ck_assert_uint_eq(hist_count(r), 0);

	/* 1000 slow values at t0, then one fast value per second. */
	for (i = 0; i < 1000; i++)
		histw_add(w, 5000000, t0);
	for (i = 1; i <= 30; i++)
		histw_add(w, 100, t0 + i * NS_PER_S);
	histw_recent(w, t0 + 30 * NS_PER_S, r);
	ck_assert_uint_eq(hist_count(r), 1030);
	ck_assert_uint_eq(hist_max(r), 5000000);
	near(hist_quantile(r, 0.5), 5000000);

	/* The window is the current 10 s slot and the five before it: at
	 * t0 + 59 s the slow ones are in it, at t0 + 60 s they are older
	 * than a minute and gone from it, but still in the total. */
	histw_recent(w, t0 + 59 * NS_PER_S, r);
	ck_assert_uint_eq(hist_count(r), 1030);
	histw_recent(w, t0 + 60 * NS_PER_S, r);
	ck_assert_uint_eq(hist_count(r), 30 - 9);	/* t0 + 10 s on */
	ck_assert_uint_eq(hist_max(r), 100);
	histw_recent(w, t0 + 70 * NS_PER_S, r);
	ck_assert_uint_eq(hist_count(r), 30 - 19);	/* t0 + 20 s on */
	ck_assert_uint_eq(hist_max(r), 100);
	ck_assert_uint_eq(hist_quantile(r, 0.99), 100);
	ck_assert_uint_eq(hist_count(histw_total(w)), 1030);
	ck_assert_uint_eq(hist_max(histw_total(w)), 5000000);
	near(hist_quantile(histw_total(w), 0.5), 5000000);

	/* Adding much later reuses the stale slots, clearing them first. */
	for (i = 0; i < 6; i++)
		histw_add(w, 7, t0 + (200 + 10 * i) * NS_PER_S);
	histw_recent(w, t0 + 250 * NS_PER_S, r);
	ck_assert_uint_eq(hist_count(r), 6);
	ck_assert_uint_eq(hist_max(r), 7);
	histw_recent(w, t0 + 1000 * NS_PER_S, r);
	ck_assert_uint_eq(hist_count(r), 0);
	ck_assert_uint_eq(hist_count(histw_total(w)), 1036);

	/* A window asked for before its values (a clock read early) does
	 * not include them. */
	histw_recent(w, t0, r);
	ck_assert_uint_eq(hist_count(r), 0);
	hist_free(r);
	histw_free(w);
	histw_free(NULL);
}
END_TEST

Suite *
hist_suite(void)
{
	Suite	*s = suite_create("hist");
	TCase	*tc = tcase_create("hist");

	tcase_add_test(tc, test_uniform);
	tcase_add_test(tc, test_error_bound);
	tcase_add_test(tc, test_single_and_empty);
	tcase_add_test(tc, test_overflow);
	tcase_add_test(tc, test_merge);
	tcase_add_test(tc, test_cumulative);
	tcase_add_test(tc, test_window);
	suite_add_tcase(s, tc);
	return s;
}
