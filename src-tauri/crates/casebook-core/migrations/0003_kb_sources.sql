-- Knowledge base (issue 3): the runbook folders the user added. The index itself is derived (it
-- lives under the workspace home and is rebuilt from these folders and the tickets); only the list
-- of folders and what the last scan found are stored here.
CREATE TABLE kb_sources (
    id                INTEGER PRIMARY KEY,
    kind              TEXT    NOT NULL DEFAULT 'folder' CHECK (kind IN ('folder')),
    path              TEXT    NOT NULL UNIQUE,
    added_at          INTEGER NOT NULL,
    last_scan_at      INTEGER,
    -- What the last scan saw: Markdown files found, and those skipped with their reasons
    -- (a JSON array of {path, reason}).
    files_seen        INTEGER NOT NULL DEFAULT 0,
    skipped           TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(skipped))
) STRICT;
