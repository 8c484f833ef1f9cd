-- Schema version 7: a project's alerts configuration set through the server's API (the text of
-- an alerts.toml), used for that project instead of `serve --alerts FILE`.
CREATE TABLE alert_configs (
    project    text PRIMARY KEY,
    config     text NOT NULL,
    updated_at text NOT NULL,
    updated_by text NOT NULL
);
-- Dashboard sessions of the server (only SHA-256 of the session id and of the token), and a
-- project's CODEOWNERS text set by an admin (the dashboard's owners on the server).
CREATE TABLE dashboard_sessions (
    id_hash    text PRIMARY KEY,
    token_hash text NOT NULL,
    csrf       text NOT NULL,
    last_seen  text NOT NULL
);
CREATE TABLE project_codeowners (
    project    text PRIMARY KEY,
    text       text NOT NULL,
    updated_at text NOT NULL
);
