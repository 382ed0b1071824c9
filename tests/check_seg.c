/*
 * Segments (src/seg.c) on their own: every missing seal is named, fds
 * that are not memfds and segments over the limit are refused without
 * being mapped, a segment survives create, seal and map, and once
 * seg_check() has passed a peer can no longer shrink the file under a
 * mapping (so no SIGBUS).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commis/proto.h"
#include "seg.h"
#include "testlib.h"

/* A memfd of size bytes (zeros), unmapped, with exactly these seals. */
static int
sealed_fd(size_t size, int seals)
{
	void	*map;
	int	 fd;

	fd = seg_create("check-seg", size, &map);
	ck_assert_int_ge(fd, 0);
	seg_unmap(map, size);
	if (seals != 0)
		ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

/* seg_check's result and reason for fd. */
static int
check(int fd, enum seg_kind kind, uint64_t max, uint64_t *size, char *why,
    size_t whylen)
{
	why[0] = '\0';
	return seg_check(fd, kind, max, size, why, whylen);
}

static void
check_missing(enum seg_kind kind, int seals, const char *want)
{
	uint64_t	size = 12345;
	char		why[256];
	int		fd;

	fd = sealed_fd(64, seals);
	ck_assert_int_eq(check(fd, kind, 1024, &size, why, sizeof why), -1);
	ck_assert_str_eq(why, want);
	ck_assert_uint_eq(size, 12345);		/* untouched on failure */
	close(fd);
}

START_TEST(test_seg_missing_seals)
{
	const int	all = COMMIS_SEALS_INPUT;

	check_missing(SEG_INPUT, all & ~F_SEAL_SHRINK,
	    "segment is not sealed against: shrink");
	check_missing(SEG_INPUT, all & ~F_SEAL_GROW,
	    "segment is not sealed against: grow");
	check_missing(SEG_INPUT, all & ~F_SEAL_WRITE,
	    "segment is not sealed against: write");
	check_missing(SEG_INPUT, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE,
	    "segment is not sealed against: seal");
	check_missing(SEG_INPUT, F_SEAL_SHRINK | F_SEAL_GROW,
	    "segment is not sealed against: write, seal");
	check_missing(SEG_INPUT, 0,
	    "segment is not sealed against: shrink, grow, write, seal");
	check_missing(SEG_INPLACE, F_SEAL_SHRINK,
	    "segment is not sealed against: grow");
	check_missing(SEG_INPLACE, F_SEAL_GROW,
	    "segment is not sealed against: shrink");
	check_missing(SEG_INPLACE, 0,
	    "segment is not sealed against: shrink, grow");
}
END_TEST

/* Extra seals are fine; a reason that does not fit is cut, not overrun. */
START_TEST(test_seg_seals_ok)
{
	uint64_t	size = 0;
	char		why[16];
	int		fd;

	fd = sealed_fd(100, COMMIS_SEALS_INPUT);
	ck_assert_int_eq(check(fd, SEG_INPUT, 100, &size, why, sizeof why), 0);
	ck_assert_uint_eq(size, 100);
	size = 0;
	ck_assert_int_eq(check(fd, SEG_INPLACE, 100, &size, why, sizeof why),
	    0);
	ck_assert_uint_eq(size, 100);
	close(fd);

	fd = sealed_fd(100, 0);
	ck_assert_int_eq(check(fd, SEG_INPUT, 100, &size, why, sizeof why),
	    -1);
	ck_assert_str_eq(why, "segment is not ");	/* cut to fit */
	close(fd);
}
END_TEST

/* A memfd made without MFD_ALLOW_SEALING comes with F_SEAL_SEAL only. */
START_TEST(test_seg_no_sealing)
{
	uint64_t	size;
	char		why[256];
	int		fd;

	fd = memfd_create("check-seg", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(check(fd, SEG_INPUT, 1024, &size, why, sizeof why),
	    -1);
	ck_assert_str_eq(why, "segment is not sealed against: shrink, grow, "
	    "write");
	ck_assert_int_eq(seg_seal(fd, SEG_INPLACE), -1);
	ck_assert_int_eq(errno, EPERM);
	close(fd);
}
END_TEST

START_TEST(test_seg_not_memfd)
{
	uint64_t	 size;
	char		 why[256], path[4200], *dir;
	int		 p[2], fd;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(check(p[0], SEG_INPUT, 1024, &size, why, sizeof why),
	    -1);
	ck_assert_str_eq(why, "not a sealable memfd");
	ck_assert_int_eq(check(p[1], SEG_INPLACE, 1024, &size, why,
	    sizeof why), -1);
	ck_assert_str_eq(why, "not a sealable memfd");
	close(p[0]);
	close(p[1]);

	dir = test_tmpdir();
	snprintf(path, sizeof path, "%s/file", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "data", 4), 4);
	ck_assert_int_eq(check(fd, SEG_INPUT, 1024, &size, why, sizeof why),
	    -1);
	/* On tmpfs F_GET_SEALS works, but nobody sealed the file. */
	ck_assert_msg(strcmp(why, "not a sealable memfd") == 0 ||
	    strncmp(why, "segment is not sealed against:", 30) == 0,
	    "why: %s", why);
	close(fd);
	test_rmdir(dir);
	free(dir);

	ck_assert_int_eq(check(-1, SEG_INPUT, 1024, &size, why, sizeof why),
	    -1);
	ck_assert_str_eq(why, "not a sealable memfd");
}
END_TEST

START_TEST(test_seg_limit)
{
	uint64_t	size = 0;
	char		why[256];
	int		fd;

	fd = sealed_fd(4096, COMMIS_SEALS_INPUT);
	ck_assert_int_eq(check(fd, SEG_INPUT, 4095, &size, why, sizeof why),
	    -1);
	ck_assert_str_eq(why, "segment of 4096 bytes is above the limit "
	    "(4095)");
	ck_assert_int_eq(check(fd, SEG_INPUT, 4096, &size, why, sizeof why),
	    0);
	ck_assert_uint_eq(size, 4096);
	close(fd);

	fd = sealed_fd(0, COMMIS_SEALS_INPUT);
	ck_assert_int_eq(check(fd, SEG_INPUT, 0, &size, why, sizeof why), 0);
	ck_assert_uint_eq(size, 0);
	close(fd);
}
END_TEST

START_TEST(test_seg_roundtrip)
{
	uint8_t		*w, *r, *r2;
	uint64_t	 size;
	size_t		 n = 100000, i;
	char		 why[256];
	int		 fd;

	fd = seg_create("check-seg", n, (void **)&w);
	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	for (i = 0; i < n; i++)
		w[i] = (uint8_t)(i * 7);
	seg_unmap(w, n);
	ck_assert_int_eq(seg_seal(fd, SEG_INPUT), 0);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), COMMIS_SEALS_INPUT);
	ck_assert_int_eq(check(fd, SEG_INPUT, n, &size, why, sizeof why), 0);
	ck_assert_uint_eq(size, n);
	r = seg_map(fd, n, 0);
	ck_assert_ptr_nonnull(r);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(r[i], (uint8_t)(i * 7));
	seg_unmap(r, n);
	/* Sealed against writes: no writable mapping either. */
	errno = 0;
	ck_assert_ptr_null(seg_map(fd, n, 1));
	ck_assert_int_eq(errno, EPERM);
	close(fd);

	/* In place: writes through one mapping show in another. */
	fd = seg_create("check-seg", 4096, (void **)&w);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(seg_seal(fd, SEG_INPLACE), 0);
	ck_assert_int_eq(check(fd, SEG_INPLACE, 4096, &size, why, sizeof why),
	    0);
	r = seg_map(fd, 4096, 1);
	r2 = seg_map(fd, 4096, 0);
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(r2);
	memcpy(r, "in place", 8);
	ck_assert_mem_eq(w, "in place", 8);
	ck_assert_mem_eq(r2, "in place", 8);
	seg_unmap(r, 4096);
	seg_unmap(r2, 4096);
	seg_unmap(w, 4096);
	close(fd);
}
END_TEST

START_TEST(test_seg_empty)
{
	uint64_t	 size = 1;
	uint8_t		*p;
	char		 why[256];
	void		*map = &size;
	int		 fd;

	fd = seg_create("check-seg", 0, &map);
	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_null(map);
	ck_assert_int_eq(seg_seal(fd, SEG_INPUT), 0);
	ck_assert_int_eq(check(fd, SEG_INPUT, 10, &size, why, sizeof why), 0);
	ck_assert_uint_eq(size, 0);
	p = seg_map(fd, 0, 0);
	ck_assert_ptr_nonnull(p);
	seg_unmap(p, 0);
	p = seg_map(fd, 0, 1);
	ck_assert_ptr_nonnull(p);
	seg_unmap(p, 0);
	seg_unmap(NULL, 0);
	close(fd);
}
END_TEST

/* F_SEAL_WRITE waits for every writable mapping to go. */
START_TEST(test_seg_busy)
{
	void	*w;
	int	 fd;

	fd = seg_create("check-seg", 8192, &w);
	ck_assert_int_ge(fd, 0);
	errno = 0;
	ck_assert_int_eq(seg_seal(fd, SEG_INPUT), -1);
	ck_assert_int_eq(errno, EBUSY);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), 0);
	/* In place needs no write seal: fine with the mapping. */
	ck_assert_int_eq(seg_seal(fd, SEG_INPLACE), 0);
	seg_unmap(w, 8192);
	ck_assert_int_eq(seg_seal(fd, SEG_INPUT), 0);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), COMMIS_SEALS_INPUT);
	close(fd);
}
END_TEST

/* What a peer that kept its own fd (or reopened the file) can still do. */
static void
check_peer(int fd, int can_write)
{
	char	path[64];
	int	fd2;

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd2, 0);
	errno = 0;
	ck_assert_int_eq(ftruncate(fd, 0), -1);
	ck_assert_int_eq(errno, EPERM);
	errno = 0;
	ck_assert_int_eq(ftruncate(fd2, 1), -1);
	ck_assert_int_eq(errno, EPERM);
	errno = 0;
	ck_assert_int_eq(ftruncate(fd2, 1 << 20), -1);
	ck_assert_int_eq(errno, EPERM);
	errno = 0;
	ck_assert_int_eq(fallocate(fd2, 0, 0, 1 << 20), -1);
	ck_assert_int_eq(errno, EPERM);
	if (!can_write) {
		errno = 0;
		ck_assert_int_eq(pwrite(fd2, "x", 1, 0), -1);
		ck_assert_int_eq(errno, EPERM);
	} else
		ck_assert_int_eq(pwrite(fd2, "x", 1, 0), 1);
	close(fd2);
}

/*
 * SIGBUS comes from touching a mapping past the end of a file that
 * shrank. Once seg_check() has passed, the size is fixed for good: every
 * attempt to change it fails, and the whole mapping stays readable.
 */
START_TEST(test_seg_no_sigbus)
{
	volatile uint8_t	 sum = 0;
	uint8_t			*r;
	uint64_t		 size;
	size_t			 n = 3 * 4096 + 10, i;
	char			 why[256];
	int			 fd;

	fd = sealed_fd(n, COMMIS_SEALS_INPUT);
	ck_assert_int_eq(check(fd, SEG_INPUT, n, &size, why, sizeof why), 0);
	r = seg_map(fd, (size_t)size, 0);
	ck_assert_ptr_nonnull(r);
	check_peer(fd, 0);
	/* Seals cannot be taken off or added once F_SEAL_SEAL is on. */
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), -1);
	for (i = 0; i < size; i++)
		sum += r[i];
	ck_assert_uint_eq(sum, 0);
	seg_unmap(r, (size_t)size);
	close(fd);

	fd = sealed_fd(n, COMMIS_SEALS_INPLACE);
	ck_assert_int_eq(check(fd, SEG_INPLACE, n, &size, why, sizeof why), 0);
	r = seg_map(fd, (size_t)size, 1);
	ck_assert_ptr_nonnull(r);
	check_peer(fd, 1);
	for (i = 0; i < size; i++)
		r[i] ^= 1;
	ck_assert_uint_eq(r[0], 'x' ^ 1);
	ck_assert_uint_eq(r[n - 1], 1);
	seg_unmap(r, (size_t)size);
	close(fd);
}
END_TEST

Suite *
seg_suite(void)
{
	Suite	*s = suite_create("seg");
	TCase	*tc = tcase_create("seg");

	tcase_add_test(tc, test_seg_missing_seals);
	tcase_add_test(tc, test_seg_seals_ok);
	tcase_add_test(tc, test_seg_no_sealing);
	tcase_add_test(tc, test_seg_not_memfd);
	tcase_add_test(tc, test_seg_limit);
	tcase_add_test(tc, test_seg_roundtrip);
	tcase_add_test(tc, test_seg_empty);
	tcase_add_test(tc, test_seg_busy);
	tcase_add_test(tc, test_seg_no_sigbus);
	suite_add_tcase(s, tc);
	return s;
}
