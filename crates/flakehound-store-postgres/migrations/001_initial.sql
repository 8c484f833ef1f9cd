-- flakehound PostgreSQL store, schema version 1. The same tables as the SQLite engine, with the
-- project dimension: every run, report, test and note belongs to one project, and run keys,
-- report content hashes and test ids are unique per project.
-- Timestamps are text in the store's one canonical form (RFC 3339 UTC, whole seconds): they are
-- compared as text exactly as in SQLite, and read back as written.

CREATE TABLE runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project        text    NOT NULL,
    key            text    NOT NULL,
    source         text    NOT NULL DEFAULT 'ci',
    commit_sha     text,
    branch         text,
    provider       text,
    job            text,
    ci_run_id      text,
    run_attempt    integer,
    runner         text,
    os             text,
    started_at     text,
    duration       double precision,
    url            text,
    pull_request   text,
    -- Execution position the run's next result gets (results of later reports come later).
    next_position  bigint  NOT NULL DEFAULT 0,
    -- Tests whose first attempt in the run was executed (not skipped).
    tests_executed bigint  NOT NULL DEFAULT 0,
    created_at     text    NOT NULL,
    UNIQUE (project, key)
);

CREATE TABLE reports (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project      text    NOT NULL,
    run_id       bigint  NOT NULL REFERENCES runs(id),
    hash         text    NOT NULL,
    path         text,
    format       text    NOT NULL,
    tool         text,
    timestamp    text,
    hostname     text,
    duration     double precision,
    properties   text,
    records      bigint  NOT NULL,
    results      bigint  NOT NULL,
    agg_tests    bigint,
    agg_passed   bigint,
    agg_failed   bigint,
    agg_errored  bigint,
    agg_skipped  bigint,
    ingested_at  text    NOT NULL,
    UNIQUE (project, hash)
);

CREATE TABLE tests (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project   text    NOT NULL,
    key       text    NOT NULL,
    classname text,
    name      text    NOT NULL,
    file      text,
    line      integer,
    UNIQUE (project, key)
);

-- One row per attempt. Unlike SQLite, the attempt's text (failure, captured output,
-- properties) is in the row: absent values cost a bit of the null bitmap, long ones are
-- TOASTed out of line, and a result is one COPY row. The primary key is also how a run's rows
-- are found (its next attempt numbers, its order, merge's reads); it is most of the server's
-- cost of a result (measured: 0.90 s against 0.45 s without it per 160k rows), but a BRIN
-- index on run_id, almost free, finds nothing fresh (ranges are summarised only by VACUUM, so
-- every unsummarised range matches: a scan of the table per report). No foreign keys: the
-- writer inserts parents first in the same transaction.
-- outcome: 0 skipped, 1 passed, 2 failed, 3 errored.
CREATE TABLE results (
    run_id       bigint   NOT NULL,
    test_id      bigint   NOT NULL,
    attempt      integer  NOT NULL,
    report_id    bigint   NOT NULL,
    position     integer  NOT NULL,
    outcome      smallint NOT NULL,
    duration     double precision,
    timestamp    text,
    failure_kind text,
    message      text,
    details      text,
    stdout       text,
    stderr       text,
    properties   text,
    PRIMARY KEY (run_id, test_id, attempt)
);
-- Tests that ever failed (what `report` reads), small since failures are rare.
CREATE INDEX results_failed ON results (test_id, run_id) WHERE outcome >= 2;

-- The root-cause knowledge base (see the SQLite engine's migration 3).
CREATE TABLE notes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project    text NOT NULL,
    test       text NOT NULL,
    kind       text NOT NULL DEFAULT 'note',
    category   text,
    text       text NOT NULL,
    link       text,
    author     text,
    created_at text NOT NULL
);
CREATE INDEX notes_test ON notes (project, test, id);
