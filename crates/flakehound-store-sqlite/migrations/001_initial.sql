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
    -- Execution position the run's next result gets (results of later reports come later).
    next_position INTEGER NOT NULL DEFAULT 0,
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

-- One row per attempt, clustered by run: a new run's rows are appended (clustering by test made
-- every insert a random B-tree descent: 25% more ingest work, measured), the next attempt
-- number of a test in a run is one probe, and aggregates read runs in order. Rows stay narrow:
-- text lives in outputs. A per-test index can be added when a query needs one.
-- outcome: 0 skipped, 1 passed, 2 failed, 3 errored.
CREATE TABLE results (
    test_id       INTEGER NOT NULL REFERENCES tests(id),
    run_id        INTEGER NOT NULL REFERENCES runs(id),
    attempt       INTEGER NOT NULL,
    report_id     INTEGER NOT NULL REFERENCES reports(id),
    position      INTEGER NOT NULL,
    outcome       INTEGER NOT NULL,
    duration      REAL,
    -- Start of the attempt when the report says (RFC 3339 or as written).
    timestamp     TEXT,
    output_id     INTEGER REFERENCES outputs(id),
    PRIMARY KEY (run_id, test_id, attempt)
) WITHOUT ROWID;
-- No (run_id, position) index yet: it cost 15% of ingest time and no query needs it; order
-- analysis reads runs in bulk.

-- Failure text, captured output and properties of an attempt; only attempts that have any.
CREATE TABLE outputs (
    id            INTEGER PRIMARY KEY,
    failure_kind  TEXT,
    message       TEXT,
    details       TEXT,
    stdout        TEXT,
    stderr        TEXT,
    properties    TEXT
);
