-- Schema version 6: a project's alerts configuration set through the server's API (the text of
-- an alerts.toml), used for that project instead of `serve --alerts FILE`.
CREATE TABLE alert_configs (
    project    text PRIMARY KEY,
    config     text NOT NULL,
    updated_at text NOT NULL,
    updated_by text NOT NULL
);
