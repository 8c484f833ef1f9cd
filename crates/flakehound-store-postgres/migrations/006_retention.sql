-- Schema version 6: retention (see the SQLite engine's migration 9 and flakehound-store's
-- `retention` module): pinned runs, each project's retention, the content hashes of pruned
-- reports and the per-test, per-commit aggregates of pruned runs.
ALTER TABLE runs ADD COLUMN pinned boolean NOT NULL DEFAULT false;
CREATE TABLE retention (
    project    text PRIMARY KEY,
    days       integer NOT NULL,
    updated_at text NOT NULL
);
CREATE TABLE pruned_reports (
    project   text NOT NULL,
    hash      text NOT NULL,
    pruned_at text NOT NULL,
    PRIMARY KEY (project, hash)
);
-- commit_sha '' stands for runs without a commit.
CREATE TABLE test_history (
    project      text   NOT NULL,
    test_id      bigint NOT NULL,
    commit_sha   text   NOT NULL,
    runs         bigint NOT NULL,
    passes       bigint NOT NULL,
    failures     bigint NOT NULL,
    skips        bigint NOT NULL,
    failed_runs  bigint NOT NULL,
    retry_passes bigint NOT NULL,
    runs_passed  bigint NOT NULL,
    runs_failed  bigint NOT NULL,
    last_seen    text,
    last_failure text,
    PRIMARY KEY (project, test_id, commit_sha)
);
-- Public upload ids for fork pull requests (see the SQLite engine's migration 9).
CREATE TABLE public_uploads (
    project    text PRIMARY KEY,
    id         text NOT NULL UNIQUE,
    created_at text NOT NULL
);
