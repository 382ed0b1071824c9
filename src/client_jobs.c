/*
 * libcommis: the calls about a job by its id -- commis_submit_nowait,
 * commis_status, commis_wait, commis_cancel -- plus commis_admin and the
 * event stream. This module encodes those requests and says what reply
 * each waits for; sending, decoding and matching the replies are
 * client.c's (client_call, client_pump), so it knows nothing of frames,
 * the socket or the queue of results.
 *
 * Events: once commis_events() has its OK, the connection is a one-way
 * stream of EVENT frames under that request's id. client_send refuses
 * anything more on it, so that no reply can come mixed with the events,
 * and an ERROR on that id ends the stream for good.
 */
#include <string.h>

#include "client_int.h"
#include "msg.h"

/* libcommis's own bound on an ADMIN argument vector. */
#define CLIENT_ADMIN_ARGC_MAX	64

/* A request that is only a job id, plus the u32 of a WAIT. */
static int
client_call_job(struct commis_client *c, struct client_wait *w, uint8_t type,
    uint64_t job_id, const uint32_t *timeout_ms)
{
	uint8_t	b[12];

	if (job_id == 0)
		return client_fail(c, COMMIS_ERR_INVAL, "job id 0");
	le64_put(b, job_id);
	if (timeout_ms != NULL)
		le32_put(b + 8, *timeout_ms);
	return client_call(c, w, type, b, timeout_ms != NULL ? 12 : 8);
}

int
commis_submit_nowait(commis_client *c, const char *handler, const void *data,
    size_t len, const struct commis_submit_opts *opts, uint64_t *job_id)
{
	struct client_wait	w;
	int			rc;

	if (c == NULL)
		return COMMIS_ERR_INVAL;
	if (job_id != NULL)
		*job_id = 0;
	memset(&w, 0, sizeof w);
	if ((rc = client_submit(c, handler, data, len, opts,
	    COMMIS_SUBMIT_NOWAIT, -1, &w.id)) != COMMIS_OK)
		return rc;
	w.type = COMMIS_MSG_ACCEPTED;
	w.job_id = job_id;
	return client_pump(c, &w, -1);
}

int
commis_status(commis_client *c, uint64_t job_id, struct commis_job_info *info)
{
	struct client_wait	w;

	if (c == NULL || info == NULL)
		return COMMIS_ERR_INVAL;
	memset(info, 0, sizeof *info);
	memset(&w, 0, sizeof w);
	w.type = COMMIS_MSG_JOB_INFO;
	w.job = job_id;
	w.info = info;
	return client_call_job(c, &w, COMMIS_MSG_STATUS, job_id, NULL);
}

/* The wait runs out on the commisd side, which answers ERROR TIMEOUT; the
 * client itself waits without a limit so that the answer is never lost. */
int
commis_wait(commis_client *c, uint64_t job_id, uint32_t timeout_ms,
    struct commis_result *out)
{
	struct client_wait	w;

	if (c == NULL || out == NULL)
		return COMMIS_ERR_INVAL;
	client_result_init(out);
	memset(&w, 0, sizeof w);
	w.type = COMMIS_MSG_RESULT;
	w.res = out;
	return client_call_job(c, &w, COMMIS_MSG_WAIT, job_id, &timeout_ms);
}

int
commis_cancel(commis_client *c, uint64_t job_id)
{
	struct client_wait	w;

	if (c == NULL)
		return COMMIS_ERR_INVAL;
	memset(&w, 0, sizeof w);
	w.type = COMMIS_MSG_OK;		/* the text is checked, not kept */
	return client_call_job(c, &w, COMMIS_MSG_CANCEL_JOB, job_id, NULL);
}

int
commis_admin(commis_client *c, int argc, const char *const *argv, char **text)
{
	struct client_wait	w;
	struct mbuf		m;
	int			i, rc;

	if (c == NULL || text == NULL)
		return COMMIS_ERR_INVAL;
	*text = NULL;
	if (argc < 1 || argc > CLIENT_ADMIN_ARGC_MAX || argv == NULL)
		return client_fail(c, COMMIS_ERR_INVAL,
		    "admin command needs 1 to %d arguments",
		    CLIENT_ADMIN_ARGC_MAX);
	for (i = 0; i < argc; i++) {
		if (argv[i] == NULL || (i == 0 && argv[i][0] == '\0'))
			return client_fail(c, COMMIS_ERR_INVAL,
			    "admin argument %d missing", i);
		if (strlen(argv[i]) > COMMIS_TEXT_MAX - 1)
			return client_fail(c, COMMIS_ERR_INVAL,
			    "admin argument %d longer than %d bytes", i,
			    COMMIS_TEXT_MAX - 1);
	}
	mbuf_init(&m);
	mbuf_u32(&m, (uint32_t)argc);
	for (i = 0; i < argc; i++)
		mbuf_str(&m, argv[i]);
	if (m.err) {
		mbuf_free(&m);
		return client_fail(c, COMMIS_ERR_NOMEM, "out of memory");
	}
	memset(&w, 0, sizeof w);
	w.type = COMMIS_MSG_OK;
	w.text = text;
	rc = client_call(c, &w, COMMIS_MSG_ADMIN, m.data, m.len);
	mbuf_free(&m);
	return rc;
}

/* --- events --- */

/* Results of earlier async submits would mix with the events: collect
 * them first (results already queued stay collectable). */
int
commis_events(commis_client *c)
{
	struct client_wait	w;
	int			rc;

	if (c == NULL)
		return COMMIS_ERR_INVAL;
	if (c->broken)
		return c->broken;
	if (c->events_id != 0)
		return client_fail(c, COMMIS_ERR_INVAL,
		    "already subscribed to events");
	if (c->inflight != 0)
		return client_fail(c, COMMIS_ERR_INVAL, "%zu request(s) "
		    "pending: collect their results first", c->inflight);
	memset(&w, 0, sizeof w);
	w.type = COMMIS_MSG_OK;		/* the text is checked, not kept */
	if ((rc = client_call(c, &w, COMMIS_MSG_EVENTS, NULL, 0)) !=
	    COMMIS_OK)
		return rc;
	c->events_id = w.id;
	return COMMIS_OK;
}

int
commis_next_event(commis_client *c, int timeout_ms, char **json)
{
	struct client_wait	w;
	int			rc;

	if (json != NULL)
		*json = NULL;
	if (c == NULL || json == NULL)
		return COMMIS_ERR_INVAL;
	if (c->broken)
		return c->broken;
	if (c->events_id == 0)
		return client_fail(c, COMMIS_ERR_INVAL,
		    "not subscribed to events (commis_events)");
	memset(&w, 0, sizeof w);
	w.id = c->events_id;
	w.type = COMMIS_MSG_EVENT;
	w.text = json;
	rc = client_pump(c, &w, timeout_ms < 0 ? -1 : timeout_ms);
	if (rc == COMMIS_ERR_TIMEOUT && !w.done)
		return COMMIS_OK;	/* *json stays NULL */
	if (rc == COMMIS_ERR_REJECTED)
		c->broken = rc;		/* commisd ended the stream */
	return rc;
}
