-- Confluence-backed knowledge base for Jira Service Management connections (issue 5): which
-- Confluence spaces back the connection's knowledge base (a JSON array of space keys; empty: no
-- knowledge-base pull), and what the last sync said about the knowledge base (pulled, skipped
-- and why) so the status can show it. Forward-only.
ALTER TABLE connections ADD COLUMN kb_spaces TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(kb_spaces));
ALTER TABLE sync_runs ADD COLUMN kb_status TEXT;
