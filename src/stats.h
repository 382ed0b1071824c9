/* Stats of the supervisor, its pools and workers, as JSON or a table. */
#ifndef COMMIS_STATS_H
#define COMMIS_STATS_H

struct supervisor;
struct evbuffer;

void	stats_json(struct supervisor *, struct evbuffer *);
void	stats_text(struct supervisor *, struct evbuffer *);
/* A JSON string literal, quoted and escaped. */
void	stats_json_str(struct evbuffer *, const char *);

#endif
