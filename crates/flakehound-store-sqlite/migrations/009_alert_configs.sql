-- Schema version 9: a project's alerts configuration set through the server's API (the text of
-- an alerts.toml), used for that project instead of `serve --alerts FILE`.
CREATE TABLE alert_configs (
    project    TEXT PRIMARY KEY,
    config     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
