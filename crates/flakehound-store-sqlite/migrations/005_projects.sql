-- Schema 5: every run belongs to a project (one store can hold several repositories). Run keys
-- and report hashes become unique per project, which SQLite can only change by rebuilding the
-- two tables (both small: one row per run and per report file). Existing evidence belongs to
-- the project 'default'; a store with a single project is used by every command that names no
-- project (see flakehound-store's `Store::project`).
CREATE TABLE runs_v5 (
    id            INTEGER PRIMARY KEY,
    project       TEXT    NOT NULL,
    key           TEXT    NOT NULL,
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
    next_position INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL,
    tests_executed INTEGER NOT NULL DEFAULT 0,
    UNIQUE (project, key)
);
INSERT INTO runs_v5 (id, project, key, source, commit_sha, branch, provider, job, ci_run_id,
        run_attempt, runner, os, started_at, duration, url, pull_request, next_position,
        created_at, tests_executed)
    SELECT id, 'default', key, source, commit_sha, branch, provider, job, ci_run_id,
        run_attempt, runner, os, started_at, duration, url, pull_request, next_position,
        created_at, tests_executed
    FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v5 RENAME TO runs;
CREATE INDEX runs_commit ON runs(commit_sha);

CREATE TABLE reports_v5 (
    id            INTEGER PRIMARY KEY,
    project       TEXT    NOT NULL,
    run_id        INTEGER NOT NULL REFERENCES runs(id),
    hash          TEXT    NOT NULL,
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
    ingested_at   TEXT    NOT NULL,
    UNIQUE (project, hash)
);
INSERT INTO reports_v5 (id, project, run_id, hash, path, format, tool, timestamp, hostname,
        duration, properties, records, results, agg_tests, agg_passed, agg_failed, agg_errored,
        agg_skipped, ingested_at)
    SELECT id, 'default', run_id, hash, path, format, tool, timestamp, hostname, duration,
        properties, records, results, agg_tests, agg_passed, agg_failed, agg_errored,
        agg_skipped, ingested_at
    FROM reports;
DROP TABLE reports;
ALTER TABLE reports_v5 RENAME TO reports;

ALTER TABLE notes ADD COLUMN project TEXT NOT NULL DEFAULT 'default';
DROP INDEX notes_test;
CREATE INDEX notes_test ON notes(project, test, id);
