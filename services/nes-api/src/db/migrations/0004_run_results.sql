-- What a run's notebook recorded (nes.record, nes.exit, scrapbook glue), as the runner collected
-- it from the output notebook: {version, results: [...], exit, dropped}. Null until the run
-- finishes (or when it never ran). Capped by the runner (1 MiB of values per run).
ALTER TABLE runs ADD COLUMN results jsonb;
