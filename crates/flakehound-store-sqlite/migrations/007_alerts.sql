-- Schema 7: alerting (flakehound-store's AlertStore): the state of each monitor's subject, the
-- log of notifications, and mutes. Only these tables.
CREATE TABLE alert_states (
    project     TEXT NOT NULL,
    monitor     TEXT NOT NULL,
    subject     TEXT NOT NULL,
    state       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    changed_at  TEXT NOT NULL,
    notified_at TEXT,
    detail      TEXT NOT NULL,
    PRIMARY KEY (project, monitor, subject)
);
CREATE TABLE alert_deliveries (
    id       INTEGER PRIMARY KEY,
    project  TEXT NOT NULL,
    monitor  TEXT NOT NULL,
    subject  TEXT NOT NULL,
    channel  TEXT NOT NULL,
    status   TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    error    TEXT,
    title    TEXT NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX alert_deliveries_project ON alert_deliveries (project, id);
CREATE TABLE alert_mutes (
    project    TEXT NOT NULL,
    subject    TEXT NOT NULL,
    until      TEXT,
    reason     TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (project, subject)
);
