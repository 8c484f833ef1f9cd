-- Schema version 2: what `report` needs without reading every result.
-- Tests that ever failed, through a partial index (failures are rare, so it costs little at
-- ingest), and the number of tests each run executed, for incident detection.
CREATE INDEX results_failed ON results(test_id, run_id) WHERE outcome >= 2;
ALTER TABLE runs ADD COLUMN tests_executed INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET tests_executed =
    (SELECT COUNT(DISTINCT test_id) FROM results WHERE run_id = runs.id AND outcome >= 1);
