/*
 * A pool's journal (durable pools, docs/durability.md): an append-only
 * file of checksummed records. Records collect in memory and reach the
 * file on journal_commit(), with an fdatasync when asked, so that one
 * sync covers every record of a loop iteration (group commit). A failed
 * write is undone (the file is cut back to its last committed size), so
 * the file only ever holds whole records plus, after a crash, a torn
 * tail, which journal_replay() detects by length and CRC-32 and cuts.
 *
 * Record: u32 length of the body, u32 CRC-32 (zlib) of the body, then
 * the body: u8 type and the type's fields. All little-endian.
 */
#ifndef COMMIS_JOURNAL_H
#define COMMIS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "commis/proto.h"

#define JOURNAL_HDR_LEN		8
#define JOURNAL_REC_MAX		(COMMIS_PAYLOAD_HARD_MAX + 4096u)

struct journal;

/* Called for each whole record on replay: its type and the rest of its
 * body. Non-zero stops the replay with that value. */
typedef int	(*journal_rec_cb)(uint8_t type, const uint8_t *p, size_t n,
		    void *arg);

/*
 * Opens (creating it, mode 0600) the journal at path and replays it:
 * cb gets every whole record in order. A torn or corrupt tail (a short
 * header, a length past the end or above JOURNAL_REC_MAX, a bad CRC) is
 * cut off; *cut gets the bytes dropped. NULL with a message in err on
 * failure (or when cb stopped the replay).
 */
struct journal	*journal_open(const char *path, journal_rec_cb cb, void *arg,
		    uint64_t *cut, char *err, size_t errlen);
void		 journal_close(struct journal *);

/* Appends a record (type, then the n bytes at p) to the pending ones.
 * -1 when out of memory. */
int		 journal_add(struct journal *, uint8_t type, const void *p,
		    size_t n);
/* Bytes waiting for journal_commit(). */
size_t		 journal_pending(const struct journal *);
/*
 * Writes the pending records, then fdatasync when sync is set. 0, or -1
 * with errno (ENOSPC, EFBIG, EIO...): then nothing of this commit stays
 * in the file, and the pending records are dropped.
 */
int		 journal_commit(struct journal *, int sync);
/* fdatasync alone (the interval policy's timer). 0 or -1 with errno. */
int		 journal_sync(struct journal *);
/* Committed bytes in the file. */
uint64_t	 journal_size(const struct journal *);

/*
 * Compaction: a fresh journal is written next to the old one through
 * the returned handle (journal_add, then journal_rewrite_end), synced,
 * and renamed over it; the old handle then points at the new file.
 * On failure the old journal stays as it was.
 */
struct journal	*journal_rewrite_begin(struct journal *, char *err,
		    size_t errlen);
int		 journal_rewrite_end(struct journal *old, struct journal *new,
		    char *err, size_t errlen);
void		 journal_rewrite_abort(struct journal *new);

#endif
