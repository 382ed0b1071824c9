/* Stats of the supervisor, its pools and workers, as JSON or a table. */
#ifndef COMMIS_STATS_H
#define COMMIS_STATS_H

struct supervisor;
struct evbuffer;
struct pool;

void	stats_json(struct supervisor *, struct evbuffer *);
void	stats_text(struct supervisor *, struct evbuffer *);
/* Job slots (workers, or a thread pool's threads), and the free ones on
 * ready workers that take jobs. */
unsigned	stats_pool_size(const struct pool *);
unsigned	stats_pool_available(const struct pool *);
/* A JSON string literal, quoted and escaped. */
void	stats_json_str(struct evbuffer *, const char *);

#endif
