-- Connections (issue 4): the upstream accounts an agent connected. No secret is stored here: the
-- passwords, API tokens, OAuth access and refresh tokens and the database key live in the OS
-- keyring only, under names derived from the connection id.
CREATE TABLE connections (
    id                 INTEGER PRIMARY KEY,
    vendor             TEXT    NOT NULL CHECK (vendor IN ('servicenow','jira','zendesk')),
    -- Shown in the UI and used by `casebook login <name>`; unique regardless of case.
    name               TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    -- Normalized https origin: https://acme.service-now.com, https://acme.atlassian.net,
    -- https://acme.zendesk.com (http only for loopback test servers).
    base_url           TEXT    NOT NULL,
    auth_method        TEXT    NOT NULL CHECK (auth_method IN ('oauth','basic')),
    -- Basic-auth user name or Jira account email (not a secret).
    username           TEXT,
    -- The public OAuth client id (PKCE: there is no client secret).
    oauth_client_id    TEXT,
    -- What to mirror: a JSON array of ServiceNow tables, Jira project keys or Zendesk view ids.
    mirror_scope       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(mirror_scope)),
    -- The last sign-in / test outcome.
    status             TEXT    NOT NULL DEFAULT 'needs_sign_in'
                               CHECK (status IN ('signed_in','needs_sign_in','unreachable')),
    status_detail      TEXT,
    account_name       TEXT,
    -- What the account may do, as the last test found it (JSON array of plain sentences).
    capabilities       TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(capabilities)),
    -- When the access token in the keyring expires (ms since the epoch), to refresh before then.
    access_expires_at  INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    CHECK (auth_method = 'basic' OR oauth_client_id IS NOT NULL),
    CHECK (auth_method = 'oauth' OR username IS NOT NULL)
) STRICT;
