-- Breach warnings already sent (issue 7): one row per SLA target (ticket, kind, when its clock
-- started), so a warning is sent once per target and a restart does not repeat it. Derived
-- bookkeeping, not ticket data: rows go with their ticket.
CREATE TABLE sla_notices (
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    target      TEXT    NOT NULL CHECK (target IN ('first_response', 'next_update', 'resolution')),
    started_at  INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    notified_at INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, target, started_at)
) STRICT, WITHOUT ROWID;
