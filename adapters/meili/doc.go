// Package meili is the production search index: ports.SearchIndex on
// Meilisearch through meilisearch-go. Index "messages", primary key id,
// searchable content, filterable chat_id/sender_id/workspace_id, sortable
// created_at/seq. Meilisearch applies writes asynchronously as tasks; the
// adapter waits for each task (GET /tasks/{uid}) so that a write is
// searchable once Upsert or Delete returned, and a failed task is an error.
//
// Meilisearch cannot run on the machine these tests were written on, so
// the tests run the contract suite against a real server only when
// MEILI_URL is set (MEILI_MASTER_KEY optional). They always run against an
// in-process fake (package meilitest) that follows Meilisearch's documented HTTP
// API: it checks the Authorization: Bearer header, the methods, paths and
// JSON bodies of index creation, settings (including the filterable
// attributes a filter needs and the typo threshold), document additions and
// batch deletions, parses the chat_id filter syntax, and answers with tasks
// that move enqueued → processing → succeeded (or failed) only as they are
// polled, hits with _formatted highlights, and estimatedTotalHits. It
// matches words roughly as Meilisearch does (prefix on the last word, one
// typo from the configured length) but ranks by id and does not crop: it
// checks the adapter's conversation with the server, not search relevance.
package meili
