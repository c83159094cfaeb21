-- Runs, their events and API tokens. Timestamps keep milliseconds so they round-trip exactly
-- through the ISO strings of the run model.

CREATE TABLE runs (
  id               text PRIMARY KEY,
  -- Submit order: queued runs start in this order and pages are newest first by it.
  submit_seq       bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  status           text NOT NULL CHECK (status IN
                     ('queued', 'starting', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out')),
  notebook         text NOT NULL,
  ref              text,
  commit_sha       text,
  parameters       jsonb NOT NULL DEFAULT '{}',
  kernel           text,
  labels           jsonb NOT NULL DEFAULT '{}',
  timeout_seconds  integer,
  resources        jsonb,
  image            text,
  queue            text NOT NULL DEFAULT 'default',
  sweep_id         text,
  created_at       timestamptz(3) NOT NULL DEFAULT now(),
  updated_at       timestamptz(3) NOT NULL DEFAULT now(),
  started_at       timestamptz(3),
  finished_at      timestamptz(3),
  progress         jsonb NOT NULL DEFAULT '{"cellsDone": 0, "cellsTotal": 0, "currentCell": null}',
  error            jsonb,
  output_uri       text,
  cancel_requested boolean NOT NULL DEFAULT false,
  -- The last event seq of this run: appending an event bumps it under the row lock.
  event_seq        bigint NOT NULL DEFAULT 0,
  idempotency_key  text UNIQUE,
  request_hash     text,
  CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
);

CREATE INDEX runs_queued ON runs (submit_seq) WHERE status = 'queued';
CREATE INDEX runs_active ON runs (queue) WHERE status IN ('starting', 'running');
CREATE INDEX runs_status ON runs (status, submit_seq);
CREATE INDEX runs_notebook ON runs (notebook, submit_seq);
CREATE INDEX runs_sweep ON runs (sweep_id, submit_seq) WHERE sweep_id IS NOT NULL;
CREATE INDEX runs_created ON runs (created_at);
CREATE INDEX runs_labels ON runs USING gin (labels jsonb_path_ops);

CREATE TABLE run_events (
  run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  seq    bigint NOT NULL,
  time   timestamptz(3) NOT NULL DEFAULT clock_timestamp(),
  type   text NOT NULL,
  data   jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE api_tokens (
  id           text PRIMARY KEY,
  name         text NOT NULL,
  scopes       jsonb NOT NULL,
  -- sha256 of the secret, hex. The secret itself is never stored.
  secret_hash  text NOT NULL UNIQUE,
  created_at   timestamptz(3) NOT NULL DEFAULT now()
);
