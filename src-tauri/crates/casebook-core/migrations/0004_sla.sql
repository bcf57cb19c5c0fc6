-- SLA calendars and policies, and reply macros (issue 7). Forward-only: add a new file to change.
--
-- Definitions are stored as validated JSON documents (the Rust types in casebook-core's `sla` and
-- `macros` modules): the application validates before writing, SQLite checks the JSON is well
-- formed. Built-in defaults are not stored: a row here overrides the default of the same name
-- (calendars, macros) or the same source and priority (policies).

CREATE TABLE sla_calendars (
    name       TEXT    PRIMARY KEY,
    definition TEXT    NOT NULL CHECK (json_valid(definition)),
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE sla_policies (
    -- A ticket source, or '*' for any source.
    source     TEXT    NOT NULL,
    priority   INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 4),
    definition TEXT    NOT NULL CHECK (json_valid(definition)),
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (source, priority)
) STRICT;

CREATE TABLE macros (
    name       TEXT    PRIMARY KEY,
    definition TEXT    NOT NULL CHECK (json_valid(definition)),
    updated_at INTEGER NOT NULL
) STRICT;
