-- Schedules: a notebook run on a cron in a time zone, one row per logical date it has met.
-- A logical date is the start of its data interval (Airflow's meaning); its run is due at the
-- interval's end. (schedule_id, logical_date) is unique: the ticker of every replica inserts
-- with ON CONFLICT DO NOTHING, so each date is created once however many replicas tick.

CREATE TABLE schedules (
  id                  text PRIMARY KEY,
  name                text NOT NULL UNIQUE,
  notebook            text NOT NULL,
  -- A branch or tag, resolved to a commit at each tick (the commit is recorded on the date).
  ref                 text,
  kernel              text,
  -- Parameter templates as their exact JSON text ({{ ds }}... rendered per logical date).
  parameters          json NOT NULL DEFAULT '{}',
  cron                text NOT NULL,
  timezone            text NOT NULL,
  start_date          timestamptz(3) NOT NULL,
  end_date            timestamptz(3),
  catchup             text NOT NULL CHECK (catchup IN ('none', 'latest', 'all')),
  max_active_runs     integer NOT NULL CHECK (max_active_runs > 0),
  timeout_seconds     integer,
  resources           jsonb,
  image               text,
  labels              jsonb NOT NULL DEFAULT '{}',
  paused              boolean NOT NULL DEFAULT false,
  -- Readiness: what must hold before a date's run starts, and how long to wait for it.
  preconditions       jsonb NOT NULL DEFAULT '[]',
  precondition_timeout_seconds integer NOT NULL DEFAULT 3600,
  poke_interval_seconds integer NOT NULL DEFAULT 60,
  -- Fix by push: rerun failed dates when a push changes the notebook (or this path prefix).
  rerun_on_push       boolean NOT NULL DEFAULT false,
  push_path_prefix    text,
  -- Freshness: the latest succeeded date may trail the latest due one by at most this much.
  freshness_sla_seconds integer,
  freshness_state     text NOT NULL DEFAULT 'fresh' CHECK (freshness_state IN ('fresh', 'stale')),
  -- The first logical date the ticker has not considered yet, and when it becomes due.
  cursor_date         timestamptz(3),
  next_due_at         timestamptz(3),
  created_by          text,
  created_at          timestamptz(3) NOT NULL DEFAULT now(),
  updated_at          timestamptz(3) NOT NULL DEFAULT now()
);

CREATE INDEX schedules_due ON schedules (next_due_at) WHERE NOT paused;

CREATE TABLE schedule_dates (
  schedule_id         text NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
  logical_date        timestamptz(3) NOT NULL,
  data_interval_end   timestamptz(3) NOT NULL,
  -- pending: a run is to be created; waiting: a precondition does not hold yet;
  -- submitted: run_id is the date's current run; precondition_timed_out; failed_to_start (the
  -- notebook could not be resolved or its parameters were refused: last_error says why);
  -- cancelled (a backfill cancelled before its run was created).
  phase               text NOT NULL CHECK (phase IN ('pending', 'waiting', 'submitted',
                        'precondition_timed_out', 'failed_to_start', 'cancelled')),
  -- scheduled, catchup, manual, backfill, push.
  trigger             text NOT NULL,
  attempt             integer NOT NULL DEFAULT 1,
  run_id              text REFERENCES runs (id) ON DELETE SET NULL,
  commit_sha          text,
  -- The ref to resolve for this attempt (a push fix pins the pushed commit).
  ref_override        text,
  sweep_id            text,
  invalidated         boolean NOT NULL DEFAULT false,
  waiting_since       timestamptz(3),
  next_check_at       timestamptz(3) NOT NULL DEFAULT now(),
  -- A replica working on the date holds it until then (the dispatch lease).
  claimed_until       timestamptz(3),
  last_error          text,
  created_at          timestamptz(3) NOT NULL DEFAULT now(),
  updated_at          timestamptz(3) NOT NULL DEFAULT now(),
  PRIMARY KEY (schedule_id, logical_date)
);

CREATE INDEX schedule_dates_todo ON schedule_dates (next_check_at)
  WHERE phase IN ('pending', 'waiting');
CREATE INDEX schedule_dates_run ON schedule_dates (run_id) WHERE run_id IS NOT NULL;
CREATE INDEX schedule_dates_sweep ON schedule_dates (sweep_id) WHERE sweep_id IS NOT NULL;
