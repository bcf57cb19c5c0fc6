-- The queue is answered by the in-memory queue index (store/queue_index.rs): every filter, sort
-- and count, and the free-text filter. What served those in SQL goes:
-- * the FTS5 table and its triggers: a third of import time, and up to 30 ms per prefix query on
--   a common word (ranked, phrase-aware search over tickets is the knowledge base's, tantivy);
-- * the indexes for the other sort orders and filters: a third of what remained of import time.
-- Kept: tickets_updated (the first page right after opening, before the queue index is built,
-- is the default order), the unique keys, and the indexes the ticket view and edits use.
DROP TRIGGER tickets_fts_au;
DROP TRIGGER tickets_fts_ad;
DROP TABLE tickets_fts;
DROP INDEX tickets_created;
DROP INDEX tickets_priority;
DROP INDEX tickets_assignee;
DROP INDEX tickets_group;
DROP INDEX tickets_filter;
