-- The deletion sweep (issue 5) walks a scope's mirrored upstream ids in the order the upstreams
-- list them, merged with their listing a page at a time, instead of holding every id in memory:
-- shorter ids first, then byte order (numeric order for Jira and Zendesk ids, text order for
-- ServiceNow's fixed-width sys_ids). This index serves that walk as ranges read in order, and
-- covers it (the ticket id is the rowid; the deleted-upstream marker is in the entry).
-- `sync_tickets_scope (connection_id, scope)` is a prefix of it: dropped. Forward-only.
CREATE INDEX sync_tickets_sweep
    ON sync_tickets (connection_id, scope, length(upstream_id), upstream_id, deleted_upstream_at);
DROP INDEX sync_tickets_scope;
