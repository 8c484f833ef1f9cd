-- Job-level evidence imported from CI history (`flakehound import`, flakehound-store's CiJobs):
-- every job execution, and the units (run attempts, pipelines) already imported.
CREATE TABLE ci_jobs (
    project       TEXT NOT NULL,
    provider      TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    job_id        TEXT NOT NULL,
    name          TEXT NOT NULL,
    workflow      TEXT,
    commit_sha    TEXT,
    branch        TEXT,
    pull_request  TEXT,
    conclusion    TEXT NOT NULL,
    started_at    TEXT,
    completed_at  TEXT,
    duration_secs REAL,
    runner        TEXT,
    PRIMARY KEY (project, provider, run_id, attempt, job_id)
);
CREATE TABLE ci_imports (
    project     TEXT NOT NULL,
    provider    TEXT NOT NULL,
    unit        TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    PRIMARY KEY (project, provider, unit)
);
