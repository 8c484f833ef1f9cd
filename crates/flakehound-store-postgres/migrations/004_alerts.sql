-- Schema version 4: alerting (flakehound-store's AlertStore): the state of each monitor's subject, the
-- log of notifications, and mutes. Only these tables.
CREATE TABLE alert_states (
    project     text NOT NULL,
    monitor     text NOT NULL,
    subject     text NOT NULL,
    state       text NOT NULL,
    version     bigint NOT NULL,
    changed_at  text NOT NULL,
    notified_at text,
    detail      text NOT NULL,
    PRIMARY KEY (project, monitor, subject)
);
CREATE TABLE alert_deliveries (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project  text NOT NULL,
    monitor  text NOT NULL,
    subject  text NOT NULL,
    channel  text NOT NULL,
    status   text NOT NULL,
    attempts bigint NOT NULL,
    error    text,
    title    text NOT NULL,
    at       text NOT NULL
);
CREATE INDEX alert_deliveries_project ON alert_deliveries (project, id);
CREATE TABLE alert_mutes (
    project    text NOT NULL,
    subject    text NOT NULL,
    until      text,
    reason     text,
    created_at text NOT NULL,
    PRIMARY KEY (project, subject)
);
