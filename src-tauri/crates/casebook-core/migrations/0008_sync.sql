-- Sync (issue 5): per-connection pull cursors, what each synced ticket looked like upstream (its
-- version and field values: the base of new local edits), a deleted-upstream marker, the conflict
-- inbox and the outbox's sync bookkeeping. Forward-only.

-- Where each pull stream of a connection resumes (one per mirrored scope, plus `kb`). Written in
-- the same transaction as the page it follows, so a page is never half-applied or skipped.
CREATE TABLE sync_cursors (
    connection_id INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    stream        TEXT    NOT NULL,
    cursor        TEXT    NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (connection_id, stream)
) STRICT;

-- The outcome of the last sync of each connection (shown as its status).
CREATE TABLE sync_runs (
    connection_id   INTEGER PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    last_started_at INTEGER,
    last_success_at INTEGER,
    last_error      TEXT,
    last_error_kind TEXT,
    pulled          INTEGER NOT NULL DEFAULT 0,
    pushed          INTEGER NOT NULL DEFAULT 0
) STRICT;

-- One row per ticket mirrored from a connection: the upstream version last seen and the upstream
-- field values at that version. `deleted_upstream_at` marks a ticket the upstream no longer shows
-- (deleted or out of reach): marked, never silently dropped.
CREATE TABLE sync_tickets (
    ticket_id           INTEGER PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    connection_id       INTEGER NOT NULL,
    scope               TEXT    NOT NULL,
    upstream_id         TEXT    NOT NULL,
    version             TEXT    NOT NULL,
    version_updated_at  INTEGER NOT NULL,
    fields              TEXT    NOT NULL CHECK (json_valid(fields)),
    deleted_upstream_at INTEGER,
    last_seen_at        INTEGER NOT NULL,
    UNIQUE (connection_id, upstream_id)
) STRICT;
CREATE INDEX sync_tickets_scope ON sync_tickets (connection_id, scope);

-- The conflict inbox: a field changed both here and upstream since the edit's base. Resolved by
-- the agent (keep mine, take theirs, or an edited value); a resolution that must reach the
-- upstream becomes a new outbox operation based on `theirs_version`.
CREATE TABLE sync_conflicts (
    id             INTEGER PRIMARY KEY,
    ticket_id      INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    outbox_id      INTEGER NOT NULL,
    field          TEXT    NOT NULL,
    base           TEXT    NOT NULL CHECK (json_valid(base)),
    mine           TEXT    NOT NULL CHECK (json_valid(mine)),
    theirs         TEXT    NOT NULL CHECK (json_valid(theirs)),
    theirs_version TEXT    NOT NULL CHECK (json_valid(theirs_version)),
    status         TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open','resolved')),
    resolution     TEXT    CHECK (resolution IN ('mine','theirs','edited')),
    resolved_value TEXT    CHECK (resolved_value IS NULL OR json_valid(resolved_value)),
    created_at     INTEGER NOT NULL,
    resolved_at    INTEGER
) STRICT;
CREATE INDEX sync_conflicts_open ON sync_conflicts (status, ticket_id);
CREATE UNIQUE INDEX sync_conflicts_one_open ON sync_conflicts (outbox_id, field) WHERE status = 'open';

-- The outbox's sync bookkeeping: the idempotency marker written upstream with a comment or a
-- creation (set before the first attempt, so a retry after an unknown outcome can look for it),
-- when the next attempt is due (backoff), why the last attempt failed, and when the row changed.
ALTER TABLE outbox ADD COLUMN marker TEXT;
ALTER TABLE outbox ADD COLUMN next_attempt_at INTEGER;
ALTER TABLE outbox ADD COLUMN error_kind TEXT;
ALTER TABLE outbox ADD COLUMN updated_at INTEGER;
CREATE INDEX comments_upstream ON comments (ticket_id, upstream_id) WHERE upstream_id IS NOT NULL;
