-- flakehound store, schema version 1.
-- Evidence is append-only: a report is written in one transaction with all its results, so a
-- report row exists if and only if all its results do.

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    -- Identity of a CI job execution: provider/run id/run attempt/job, or a content-derived key
    -- for local ingests (see flakehound-store docs).
    key           TEXT    NOT NULL UNIQUE,
    source        TEXT    NOT NULL DEFAULT 'ci',
    commit_sha    TEXT,
    branch        TEXT,
    provider      TEXT,
    job           TEXT,
    ci_run_id     TEXT,
    run_attempt   INTEGER,
    runner        TEXT,
    os            TEXT,
    started_at    TEXT,
    duration      REAL,
    url           TEXT,
    pull_request  TEXT,
    created_at    TEXT    NOT NULL
);
CREATE INDEX runs_commit ON runs(commit_sha);

CREATE TABLE reports (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs(id),
    hash          TEXT    NOT NULL UNIQUE,
    path          TEXT,
    format        TEXT    NOT NULL,
    tool          TEXT,
    timestamp     TEXT,
    hostname      TEXT,
    duration      REAL,
    properties    TEXT,
    records       INTEGER NOT NULL,
    results       INTEGER NOT NULL,
    agg_tests     INTEGER,
    agg_passed    INTEGER,
    agg_failed    INTEGER,
    agg_errored   INTEGER,
    agg_skipped   INTEGER,
    ingested_at   TEXT    NOT NULL
);

CREATE TABLE tests (
    id            INTEGER PRIMARY KEY,
    key           TEXT    NOT NULL UNIQUE,
    classname     TEXT,
    name          TEXT    NOT NULL,
    file          TEXT,
    line          INTEGER
);

-- One row per attempt. outcome: 0 skipped, 1 passed, 2 failed, 3 errored.
CREATE TABLE results (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs(id),
    report_id     INTEGER NOT NULL REFERENCES reports(id),
    test_id       INTEGER NOT NULL REFERENCES tests(id),
    attempt       INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    outcome       INTEGER NOT NULL,
    duration      REAL,
    failure_kind  TEXT,
    message       TEXT,
    details       TEXT,
    stdout        TEXT,
    stderr        TEXT,
    properties    TEXT,
    timestamp     TEXT
);
-- Serves per-test history and the per-test aggregates of `report`.
CREATE INDEX results_test_run ON results(test_id, run_id);
