-- Casebook schema v1. Forward-only: never edit a shipped migration, add a new file.

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY,
    key               TEXT    NOT NULL UNIQUE,
    source            TEXT    NOT NULL,
    upstream_id       TEXT,
    title             TEXT    NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    state             TEXT    NOT NULL CHECK (state IN ('new','open','pending','on_hold','resolved','closed')),
    state_raw         TEXT,
    priority          INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 4),
    priority_raw      TEXT,
    assignee          TEXT,
    assignment_group  TEXT,
    requester         TEXT,
    organization      TEXT,
    -- Denormalized, sorted, comma-joined copy of ticket_tags for cheap page reads.
    tags              TEXT    NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    first_response_at INTEGER,
    resolved_at       INTEGER,
    extra             TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(extra)),
    revision          INTEGER NOT NULL DEFAULT 1,
    UNIQUE (source, upstream_id)
) STRICT;

CREATE INDEX tickets_updated   ON tickets (updated_at DESC, id DESC);
CREATE INDEX tickets_created   ON tickets (created_at DESC, id DESC);
CREATE INDEX tickets_priority  ON tickets (priority, updated_at DESC, id DESC);
CREATE INDEX tickets_assignee  ON tickets (assignee, updated_at DESC) WHERE assignee IS NOT NULL;
CREATE INDEX tickets_group     ON tickets (assignment_group, updated_at DESC) WHERE assignment_group IS NOT NULL;
-- Covers every attribute filter, so counts (the queue total, the view counts) read this index
-- alone instead of looking up each ticket: state ∧ priority over 100k tickets drops from
-- ~200 ms to ~1 ms.
CREATE INDEX tickets_filter    ON tickets (state, priority, assignment_group, assignee, source);

CREATE TABLE ticket_tags (
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    tag       TEXT    NOT NULL,
    PRIMARY KEY (tag, ticket_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX ticket_tags_ticket ON ticket_tags (ticket_id);

-- Free-text filter of the queue: every word must occur, the last as a prefix. External content
-- (the text lives once, in tickets); no positions or column sizes (detail=none, columnsize=0):
-- the filter neither ranks nor matches phrases, and without them the index is a fraction of the
-- size and import cost. Ranked, phrase-aware search is the knowledge base's job (tantivy).
CREATE VIRTUAL TABLE tickets_fts USING fts5 (
    key, title, description,
    content = 'tickets', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2',
    prefix = '2 3',
    detail = 'none',
    columnsize = 0
);
-- New tickets are indexed by the store, one INSERT ... SELECT per write transaction: FTS5 flushes
-- its buffer at every statement savepoint, so a per-row AFTER INSERT trigger would cost a flush and
-- a segment merge per ticket (measured: 55% of import time). Edits and deletes are single rows and
-- keep their triggers.
CREATE TRIGGER tickets_fts_ad AFTER DELETE ON tickets BEGIN
    INSERT INTO tickets_fts (tickets_fts, rowid, key, title, description)
    VALUES ('delete', old.id, old.key, old.title, old.description);
END;
CREATE TRIGGER tickets_fts_au AFTER UPDATE OF key, title, description ON tickets BEGIN
    INSERT INTO tickets_fts (tickets_fts, rowid, key, title, description)
    VALUES ('delete', old.id, old.key, old.title, old.description);
    INSERT INTO tickets_fts (rowid, key, title, description)
    VALUES (new.id, new.key, new.title, new.description);
END;

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    visibility  TEXT    NOT NULL CHECK (visibility IN ('public','internal')),
    author      TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    upstream_id TEXT
) STRICT;
CREATE INDEX comments_ticket ON comments (ticket_id, created_at, id);

CREATE TABLE links (
    id        INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind      TEXT    NOT NULL CHECK (kind IN ('duplicate_of','related','problem','known_issue')),
    target    TEXT    NOT NULL,
    title     TEXT,
    UNIQUE (ticket_id, kind, target)
) STRICT;

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    ticket_id    INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    file_name    TEXT    NOT NULL,
    content_type TEXT,
    size_bytes   INTEGER,
    upstream_id  TEXT,
    created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX attachments_ticket ON attachments (ticket_id);

-- Append-only log of every change: what happened, to which ticket, who did it and when the action
-- happened (`at`), plus when it was recorded here. Feeds the outbox, the SLA engine and reports.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    origin      TEXT    NOT NULL,
    data        TEXT    NOT NULL CHECK (json_valid(data))
) STRICT;
CREATE INDEX events_ticket ON events (ticket_id, at, id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN
    SELECT RAISE(ABORT, 'the event log is append-only');
END;

-- Local changes waiting to be pushed upstream, in order per ticket. `base` records the values the
-- change was made on, so the sync can detect a colleague's concurrent change field by field.
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL,
    event_id    INTEGER NOT NULL REFERENCES events (id),
    target      TEXT    NOT NULL,
    op          TEXT    NOT NULL,
    payload     TEXT    NOT NULL CHECK (json_valid(payload)),
    base        TEXT    NOT NULL CHECK (json_valid(base)),
    status      TEXT    NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending','in_flight','unknown','conflict','failed','done')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_pending ON outbox (status, ticket_id, id);

CREATE TABLE saved_views (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    filter     TEXT    NOT NULL CHECK (json_valid(filter)),
    position   INTEGER NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE local_keys (
    prefix TEXT PRIMARY KEY,
    next   INTEGER NOT NULL
) STRICT;
