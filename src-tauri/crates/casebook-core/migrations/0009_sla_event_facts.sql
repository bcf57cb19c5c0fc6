-- What the SLA engine and the KPI reports read from the event log (issue 7), kept compact beside
-- it so that reading every ticket's history does not parse 500,000 JSON documents: one narrow row
-- per `updated` or `commented` event, clustered by ticket. Derived: filled by a trigger from each
-- new event (whatever code path writes it) and here from the events already logged; never
-- written otherwise. The JSON paths are those the store writes (`changes.<field>.from/to`,
-- `visibility`); anything else reads as "no SLA change", as before.
CREATE TABLE sla_event_facts (
    ticket_id     INTEGER NOT NULL,
    event_id      INTEGER NOT NULL,
    at            INTEGER NOT NULL,
    -- 1 = updated, 2 = commented
    kind          INTEGER NOT NULL CHECK (kind IN (1, 2)),
    state_from    ANY,
    state_to      ANY,
    priority_from ANY,
    priority_to   ANY,
    -- A public comment (by anyone; the loader tells agents from the requester).
    public        INTEGER NOT NULL,
    -- The author of a comment (NULL for edits).
    actor         TEXT,
    PRIMARY KEY (ticket_id, event_id)
) STRICT, WITHOUT ROWID;

INSERT INTO sla_event_facts
SELECT ticket_id, id, at, CASE kind WHEN 'updated' THEN 1 ELSE 2 END,
       data ->> '$.changes.state.from', data ->> '$.changes.state.to',
       data ->> '$.changes.priority.from', data ->> '$.changes.priority.to',
       kind = 'commented' AND coalesce(data ->> '$.visibility' = 'public', 0),
       CASE kind WHEN 'commented' THEN actor END
FROM events WHERE kind IN ('updated', 'commented');

CREATE TRIGGER events_sla_facts AFTER INSERT ON events
WHEN NEW.kind IN ('updated', 'commented')
BEGIN
    INSERT INTO sla_event_facts VALUES (
        NEW.ticket_id, NEW.id, NEW.at, CASE NEW.kind WHEN 'updated' THEN 1 ELSE 2 END,
        NEW.data ->> '$.changes.state.from', NEW.data ->> '$.changes.state.to',
        NEW.data ->> '$.changes.priority.from', NEW.data ->> '$.changes.priority.to',
        NEW.kind = 'commented' AND coalesce(NEW.data ->> '$.visibility' = 'public', 0),
        CASE NEW.kind WHEN 'commented' THEN NEW.actor END);
END;
