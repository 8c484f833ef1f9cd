-- Schema 9: retention (flakehound-store's `retention` module). A project may keep its raw
-- results for N days; the runs pruned leave per-test, per-commit aggregates (`test_history`,
-- what `test_stats` adds) and their reports' content hashes (`pruned_reports`: uploading one
-- again is still a duplicate). A pinned run is never pruned.
ALTER TABLE runs ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
CREATE TABLE retention (
    project    TEXT PRIMARY KEY,
    days       INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE pruned_reports (
    project   TEXT NOT NULL,
    hash      TEXT NOT NULL,
    pruned_at TEXT NOT NULL,
    PRIMARY KEY (project, hash)
) WITHOUT ROWID;
-- commit_sha '' stands for runs without a commit (a primary key column cannot be NULL).
CREATE TABLE test_history (
    project      TEXT    NOT NULL,
    test_id      INTEGER NOT NULL REFERENCES tests(id),
    commit_sha   TEXT    NOT NULL,
    runs         INTEGER NOT NULL,
    passes       INTEGER NOT NULL,
    failures     INTEGER NOT NULL,
    skips        INTEGER NOT NULL,
    failed_runs  INTEGER NOT NULL,
    retry_passes INTEGER NOT NULL,
    runs_passed  INTEGER NOT NULL,
    runs_failed  INTEGER NOT NULL,
    last_seen    TEXT,
    last_failure TEXT,
    PRIMARY KEY (project, test_id, commit_sha)
) WITHOUT ROWID;
-- Public upload ids (fork pull requests have no secrets): at most one per project; the id
-- lets anyone upload to the project and read its quarantine, nothing else. Not a secret, so
-- kept as it is.
CREATE TABLE public_uploads (
    project    TEXT PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
