-- Escalation packages (issue 6): drafts saved locally as the agent types, and an audit of what
-- each export redacted (kinds and counts only, never values).

CREATE TABLE escalations (
    id          INTEGER PRIMARY KEY,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    title       TEXT    NOT NULL,
    -- The package content (sections, evidence, timeline, redaction settings) as JSON.
    content     TEXT    NOT NULL CHECK (json_valid(content)),
    status      TEXT    NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'exported', 'pushed')),
    score       INTEGER NOT NULL DEFAULT 0,
    revision    INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX escalations_ticket ON escalations (ticket_id, updated_at DESC);

CREATE TABLE escalation_audit (
    id            INTEGER PRIMARY KEY,
    escalation_id INTEGER NOT NULL REFERENCES escalations (id) ON DELETE CASCADE,
    at            INTEGER NOT NULL,
    action        TEXT    NOT NULL,
    -- {"counts": {"email": 3, ...}, "distinct": {...}, "total": n}: kinds and counts only.
    redaction     TEXT    NOT NULL CHECK (json_valid(redaction))
) STRICT;
CREATE INDEX escalation_audit_escalation ON escalation_audit (escalation_id, at);
