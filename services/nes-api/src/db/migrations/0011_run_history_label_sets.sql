-- A notebook's history narrowed by labels, from a rollup too: the per-day rollup of migration 0009
-- kept once more per label set (a run's whole labels). A selector (labels that must all match) is
-- matched against the notebook's distinct label sets, usually few (env, team, schedule), and the
-- matching sets' rollups are added up: exact, since every run is in exactly one set. Where a
-- notebook has too many sets matching a selector for this to pay (a label carrying a date or a
-- run id), history.ts reads the runs instead (docs/history.md has the measured threshold).
--
-- The service never changes a run's labels after submit; the triggers still move a run between
-- sets if a statement does, so the rollup stays exact whatever writes to `runs`.

-- A label set's key: the SHA-256 of its canonical text (jsonb prints its keys sorted and
-- deduplicated, so equal label sets print alike).
CREATE FUNCTION nes_label_set_key(labels jsonb)
RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256(convert_to(coalesce(labels, '{}'::jsonb)::text, 'UTF8'))
$$;

-- The distinct label sets of a notebook's runs and how many runs carry each (a set is dropped
-- with its last run).
CREATE TABLE run_label_sets (
  notebook  text NOT NULL,
  label_set bytea NOT NULL,
  labels    jsonb NOT NULL,
  runs      integer NOT NULL,
  PRIMARY KEY (notebook, label_set)
);
-- A filter matched among many sets (a label carrying a date) without reading them all.
CREATE INDEX run_label_sets_labels ON run_label_sets USING gin (labels jsonb_path_ops);

-- run_history_days and run_history_commits (migration 0009), by label set as well.
CREATE TABLE run_history_label_days (
  notebook      text NOT NULL,
  label_set     bytea NOT NULL,
  day           date NOT NULL,
  status        text NOT NULL,
  failure_class text NOT NULL,
  runs          integer NOT NULL,
  durations     jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (notebook, label_set, day, status, failure_class)
);

CREATE TABLE run_history_label_commits (
  notebook   text NOT NULL,
  label_set  bytea NOT NULL,
  day        date NOT NULL,
  commit_sha text NOT NULL,
  runs       integer NOT NULL,
  succeeded  integer NOT NULL,
  first_at   timestamptz(3) NOT NULL,
  last_at    timestamptz(3) NOT NULL,
  PRIMARY KEY (notebook, label_set, day, commit_sha)
);

-- Adds (delta 1) or takes away (delta -1) one run's share of its label set's count and day rollup.
CREATE FUNCTION nes_label_history_day_add(r runs, delta integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  key_set bytea := nes_label_set_key(r.labels);
  bucket integer := nes_duration_bucket(r.status, r.started_at, r.finished_at);
  key_day date := (r.created_at AT TIME ZONE 'UTC')::date;
  key_class text := nes_failure_class(r.status, r.error);
BEGIN
  INSERT INTO run_history_label_days AS d
         (notebook, label_set, day, status, failure_class, runs, durations)
  VALUES (r.notebook, key_set, key_day, r.status, key_class, delta,
          CASE WHEN bucket IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(bucket::text, delta) END)
  ON CONFLICT (notebook, label_set, day, status, failure_class) DO UPDATE
    SET runs = d.runs + EXCLUDED.runs,
        durations = CASE WHEN bucket IS NULL THEN d.durations
                         ELSE nes_histogram_add(d.durations, EXCLUDED.durations) END;
  DELETE FROM run_history_label_days
   WHERE notebook = r.notebook AND label_set = key_set AND day = key_day AND status = r.status
     AND failure_class = key_class AND runs = 0;
END
$$;

-- One run more (delta 1) or less (delta -1) carrying a label set.
CREATE FUNCTION nes_label_set_add(r runs, delta integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  key_set bytea := nes_label_set_key(r.labels);
BEGIN
  INSERT INTO run_label_sets AS s (notebook, label_set, labels, runs)
  VALUES (r.notebook, key_set, coalesce(r.labels, '{}'::jsonb), delta)
  ON CONFLICT (notebook, label_set) DO UPDATE SET runs = s.runs + EXCLUDED.runs;
  DELETE FROM run_label_sets WHERE notebook = r.notebook AND label_set = key_set AND runs = 0;
END
$$;

-- One (notebook, label set, day, commit) group counted again from its runs.
CREATE FUNCTION nes_label_history_commit_recount(r runs)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  key_set bytea := nes_label_set_key(r.labels);
  key_day date := (r.created_at AT TIME ZONE 'UTC')::date;
  key_commit text := coalesce(r.commit_sha, '');
BEGIN
  DELETE FROM run_history_label_commits
   WHERE notebook = r.notebook AND label_set = key_set AND day = key_day AND commit_sha = key_commit;
  INSERT INTO run_history_label_commits
         (notebook, label_set, day, commit_sha, runs, succeeded, first_at, last_at)
  SELECT r.notebook, key_set, key_day, key_commit, count(*),
         count(*) FILTER (WHERE status = 'succeeded'), min(created_at), max(created_at)
    FROM runs
   WHERE notebook = r.notebook AND labels = coalesce(r.labels, '{}'::jsonb)
     AND coalesce(commit_sha, '') = key_commit
     AND created_at >= key_day::timestamp AT TIME ZONE 'UTC'
     AND created_at < (key_day + 1)::timestamp AT TIME ZONE 'UTC'
  HAVING count(*) > 0;
END
$$;

-- Inserts, in bulk: each statement's new runs are added grouped.
CREATE FUNCTION nes_label_history_runs_inserted()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO run_label_sets AS s (notebook, label_set, labels, runs)
  SELECT notebook, nes_label_set_key(labels), labels, count(*)
    FROM new_runs GROUP BY notebook, labels
  ON CONFLICT (notebook, label_set) DO UPDATE SET runs = s.runs + EXCLUDED.runs;
  INSERT INTO run_history_label_days AS d
         (notebook, label_set, day, status, failure_class, runs, durations)
  SELECT notebook, nes_label_set_key(labels), day, status, failure_class, sum(n)::integer,
         coalesce(jsonb_object_agg(bucket::text, n) FILTER (WHERE bucket IS NOT NULL), '{}'::jsonb)
    FROM (SELECT notebook, labels, (created_at AT TIME ZONE 'UTC')::date AS day, status,
                 nes_failure_class(status, error) AS failure_class,
                 nes_duration_bucket(status, started_at, finished_at) AS bucket, count(*) AS n
            FROM new_runs GROUP BY 1, 2, 3, 4, 5, 6) AS g
   GROUP BY notebook, labels, day, status, failure_class
  ON CONFLICT (notebook, label_set, day, status, failure_class) DO UPDATE
    SET runs = d.runs + EXCLUDED.runs,
        durations = nes_histogram_add(d.durations, EXCLUDED.durations);
  INSERT INTO run_history_label_commits AS c
         (notebook, label_set, day, commit_sha, runs, succeeded, first_at, last_at)
  SELECT notebook, nes_label_set_key(labels), (created_at AT TIME ZONE 'UTC')::date,
         coalesce(commit_sha, ''), count(*), count(*) FILTER (WHERE status = 'succeeded'),
         min(created_at), max(created_at)
    FROM new_runs GROUP BY notebook, labels, 3, 4
  ON CONFLICT (notebook, label_set, day, commit_sha) DO UPDATE
    SET runs = c.runs + EXCLUDED.runs,
        succeeded = c.succeeded + EXCLUDED.succeeded,
        first_at = least(c.first_at, EXCLUDED.first_at),
        last_at = greatest(c.last_at, EXCLUDED.last_at);
  RETURN NULL;
END
$$;

-- A run that changed what the rollup counts: its old share taken away, its new one added (to
-- another label set if its labels changed).
CREATE FUNCTION nes_label_history_run_updated()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nes_label_history_day_add(OLD, -1);
  PERFORM nes_label_history_day_add(NEW, 1);
  IF OLD.notebook <> NEW.notebook OR OLD.labels <> NEW.labels THEN
    PERFORM nes_label_set_add(OLD, -1);
    PERFORM nes_label_set_add(NEW, 1);
  END IF;
  IF OLD.notebook = NEW.notebook AND OLD.labels = NEW.labels AND OLD.created_at = NEW.created_at
     AND OLD.commit_sha IS NOT DISTINCT FROM NEW.commit_sha THEN
    UPDATE run_history_label_commits
       SET succeeded = succeeded + (NEW.status = 'succeeded')::integer
                                 - (OLD.status = 'succeeded')::integer
     WHERE notebook = NEW.notebook AND label_set = nes_label_set_key(NEW.labels)
       AND day = (NEW.created_at AT TIME ZONE 'UTC')::date
       AND commit_sha = coalesce(NEW.commit_sha, '');
  ELSE
    PERFORM nes_label_history_commit_recount(OLD);
    PERFORM nes_label_history_commit_recount(NEW);
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION nes_label_history_run_deleted()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nes_label_history_day_add(OLD, -1);
  PERFORM nes_label_set_add(OLD, -1);
  PERFORM nes_label_history_commit_recount(OLD);
  RETURN NULL;
END
$$;

CREATE FUNCTION nes_label_history_runs_truncated()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE run_label_sets, run_history_label_days, run_history_label_commits;
  RETURN NULL;
END
$$;

CREATE TRIGGER runs_label_history_truncated AFTER TRUNCATE ON runs
  FOR EACH STATEMENT EXECUTE FUNCTION nes_label_history_runs_truncated();

CREATE TRIGGER runs_label_history_inserted AFTER INSERT ON runs
  REFERENCING NEW TABLE AS new_runs
  FOR EACH STATEMENT EXECUTE FUNCTION nes_label_history_runs_inserted();

-- As runs_history_updated (0009), and a change of labels.
CREATE TRIGGER runs_label_history_updated AFTER UPDATE ON runs
  FOR EACH ROW
  WHEN (OLD.status IS DISTINCT FROM NEW.status
        OR nes_failure_class(OLD.status, OLD.error) IS DISTINCT FROM nes_failure_class(NEW.status, NEW.error)
        OR OLD.started_at IS DISTINCT FROM NEW.started_at
        OR OLD.finished_at IS DISTINCT FROM NEW.finished_at
        OR OLD.notebook IS DISTINCT FROM NEW.notebook
        OR OLD.created_at IS DISTINCT FROM NEW.created_at
        OR OLD.commit_sha IS DISTINCT FROM NEW.commit_sha
        OR OLD.labels IS DISTINCT FROM NEW.labels)
  EXECUTE FUNCTION nes_label_history_run_updated();

CREATE TRIGGER runs_label_history_deleted AFTER DELETE ON runs
  FOR EACH ROW EXECUTE FUNCTION nes_label_history_run_deleted();

-- The runs already there.
INSERT INTO run_label_sets (notebook, label_set, labels, runs)
SELECT notebook, nes_label_set_key(labels), labels, count(*) FROM runs GROUP BY notebook, labels;
INSERT INTO run_history_label_days (notebook, label_set, day, status, failure_class, runs, durations)
SELECT notebook, nes_label_set_key(labels), day, status, failure_class, sum(n)::integer,
       coalesce(jsonb_object_agg(bucket::text, n) FILTER (WHERE bucket IS NOT NULL), '{}'::jsonb)
  FROM (SELECT notebook, labels, (created_at AT TIME ZONE 'UTC')::date AS day, status,
               nes_failure_class(status, error) AS failure_class,
               nes_duration_bucket(status, started_at, finished_at) AS bucket, count(*) AS n
          FROM runs GROUP BY 1, 2, 3, 4, 5, 6) AS g
 GROUP BY notebook, labels, day, status, failure_class;
INSERT INTO run_history_label_commits
       (notebook, label_set, day, commit_sha, runs, succeeded, first_at, last_at)
SELECT notebook, nes_label_set_key(labels), (created_at AT TIME ZONE 'UTC')::date,
       coalesce(commit_sha, ''), count(*), count(*) FILTER (WHERE status = 'succeeded'),
       min(created_at), max(created_at)
  FROM runs GROUP BY notebook, labels, 3, 4;
