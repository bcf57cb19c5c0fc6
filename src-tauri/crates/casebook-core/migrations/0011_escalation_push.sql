-- Escalation packages pushed to an engineering tracker (issue 6, "Push to Jira"): the outbox
-- operation that carries the push and, once it went through, the issue it became. Forward-only.
ALTER TABLE escalations ADD COLUMN push_op_id INTEGER;
ALTER TABLE escalations ADD COLUMN pushed_key TEXT;
ALTER TABLE escalations ADD COLUMN pushed_url TEXT;
ALTER TABLE escalations ADD COLUMN pushed_at INTEGER;
