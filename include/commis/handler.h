/*
 * commis handler ABI. A handler module is a shared object that exports
 *
 *	const struct commis_module commis_module = {
 *		COMMIS_HANDLER_ABI, nhandlers, handlers
 *	};
 *
 * The supervisor dlopens it before forking workers (pages shared
 * copy-on-write); init() and run() are only ever called in a worker.
 * Changing these structures: bump COMMIS_HANDLER_ABI.
 */
#ifndef COMMIS_HANDLER_H
#define COMMIS_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#define COMMIS_HANDLER_ABI	2
#define COMMIS_MODULE_SYMBOL	"commis_module"

/* Handler flags. */
#define COMMIS_HANDLER_THREAD_SAFE	0x0001	/* may run on many threads */
#define COMMIS_HANDLER_INPLACE		0x0002	/* can transform input_rw in
						   place (in-place jobs) */

/*
 * One call of a handler: the job's input and the ways to answer.
 *
 * The input is inline bytes or a mapped segment; either way it is
 * read-only at `input`. For an in-place job (only given to handlers
 * flagged COMMIS_HANDLER_INPLACE) `input_rw` is a writable view of the
 * same bytes: the handler transforms them there and writes no output.
 * Otherwise `input_rw` is NULL.
 */
struct commis_call {
	const uint8_t	*input;
	size_t		 input_len;
	uint8_t		*input_rw;	/* in-place jobs only, else NULL */
	void		*state;		/* what init() stored */

	/* Appends to the result. 0, or -1 when it would exceed the limit. */
	int		(*write)(struct commis_call *, const void *, size_t);
	/* Sets the error text that reaches the client when run() fails. */
	void		(*error)(struct commis_call *, const char *, ...)
			    __attribute__((format(printf, 2, 3)));
	/* Non-zero once the supervisor asked this job to stop. */
	int		(*cancelled)(struct commis_call *);
	/* Makes the input the result: without a copy when the input is a
	 * segment (its fd goes back as the output). 0, or -1 like write(). */
	int		(*pass_input)(struct commis_call *);

	void		*priv;		/* the worker's; do not touch */
};

struct commis_handler {
	const char	*name;
	uint32_t	 flags;
	/* Optional. Runs once in each worker; non-zero stops the worker with
	 * a start-up error (the slot is not respawned). */
	int		(*init)(void **state);
	/* 0: success, the written bytes are the result. Non-zero: failure,
	 * with the text given to error() as the cause. */
	int		(*run)(struct commis_call *);
	/* Optional. Runs when the worker exits normally. */
	void		(*fini)(void *state);
};

struct commis_module {
	uint32_t			 abi;	/* COMMIS_HANDLER_ABI */
	size_t				 nhandlers;
	const struct commis_handler	*handlers;
};

#endif /* COMMIS_HANDLER_H */
