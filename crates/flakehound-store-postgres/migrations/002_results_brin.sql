-- Schema version 2: results lose their B-tree primary key for a BRIN index on run_id.
-- Measured (160,000 results, binary COPY into a logged table, same session): 270 ms with the
-- primary key (run_id, test_id, attempt) and the partial failure index, 135-185 ms with
-- BRIN(run_id) and the partial index; a plain B-tree on run_id costs as much as the key.
-- Version 1 kept the key because the writer asked every report's run for its last attempts,
-- and with BRIN that scanned the batch's unsummarised rows each time. The writer now asks only
-- when a report joins a run stored by an earlier batch (autosummarize keeps the summarised
-- ranges close behind the inserts, so that scan is the table's tail). No read looks a result
-- up by its key: reads scan a project's results or join the failing tests through
-- results_failed. Uniqueness of (run_id, test_id, attempt) is the writer's numbering under the
-- project's write lock and the run row's lock, pinned by the conformance suite on both engines.
ALTER TABLE results DROP CONSTRAINT results_pkey;
CREATE INDEX results_run ON results USING brin (run_id) WITH (autosummarize = on);
