-- Job-level evidence imported from CI history (`flakehound import`, flakehound-store's CiJobs):
-- every job execution, and the units (run attempts, pipelines) already imported.
CREATE TABLE ci_jobs (
    project       text NOT NULL,
    provider      text NOT NULL,
    run_id        text NOT NULL,
    attempt       integer NOT NULL,
    job_id        text NOT NULL,
    name          text NOT NULL,
    workflow      text,
    commit_sha    text,
    branch        text,
    pull_request  text,
    conclusion    text NOT NULL,
    started_at    text,
    completed_at  text,
    duration_secs double precision,
    runner        text,
    PRIMARY KEY (project, provider, run_id, attempt, job_id)
);
CREATE TABLE ci_imports (
    project     text NOT NULL,
    provider    text NOT NULL,
    unit        text NOT NULL,
    imported_at text NOT NULL,
    PRIMARY KEY (project, provider, unit)
);
