-- Schema 6: what the team server keeps beside the evidence (flakehound-store's Admin): the
-- projects it serves, their tokens (only a SHA-256 of each secret) and the uploads it answered.
CREATE TABLE server_projects (
    name       TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    project      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    label        TEXT,
    hash         TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT
);
CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    project     TEXT NOT NULL,
    token_id    INTEGER,
    received_at TEXT NOT NULL,
    response    TEXT NOT NULL
);
-- The team's quarantine (the server's; a repository keeps its own in .flakehound/quarantine.toml)
-- and who changed it, when and why.
CREATE TABLE server_quarantine (
    project    TEXT NOT NULL,
    test       TEXT NOT NULL,
    reason     TEXT NOT NULL,
    owner      TEXT NOT NULL,
    added      TEXT NOT NULL,
    expires    TEXT NOT NULL,
    issue      TEXT,
    PRIMARY KEY (project, test)
);
CREATE TABLE quarantine_audit (
    id      INTEGER PRIMARY KEY,
    project TEXT NOT NULL,
    test    TEXT NOT NULL,
    action  TEXT NOT NULL,
    actor   TEXT NOT NULL,
    reason  TEXT,
    at      TEXT NOT NULL
);
CREATE INDEX quarantine_audit_project ON quarantine_audit (project, id);
