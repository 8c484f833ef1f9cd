-- Schema version 10: a project's alerts configuration set through the server's API (the text of
-- an alerts.toml), used for that project instead of `serve --alerts FILE`.
CREATE TABLE alert_configs (
    project    TEXT PRIMARY KEY,
    config     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
-- Dashboard sessions of the server (only SHA-256 of the session id and of the token), and a
-- project's CODEOWNERS text set by an admin (the dashboard's owners on the server).
CREATE TABLE dashboard_sessions (
    id_hash    TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    last_seen  TEXT NOT NULL
);
CREATE TABLE project_codeowners (
    project    TEXT PRIMARY KEY,
    text       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
