-- The queue's free-text filter is answered by the in-memory queue index (store/queue_index.rs),
-- which also answers every attribute filter, sort and count. The FTS5 table that served the text
-- filter cost a third of import time and up to 30 ms per prefix query on a common word; the
-- ranked, phrase-aware search over tickets is the knowledge base's (tantivy).
DROP TRIGGER tickets_fts_au;
DROP TRIGGER tickets_fts_ad;
DROP TABLE tickets_fts;
