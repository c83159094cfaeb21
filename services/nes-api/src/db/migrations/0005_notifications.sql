-- Notifications: subscriptions (which runs, which events, which target) and a durable outbox of
-- deliveries. A run's terminal transition inserts its outbox rows in the same statement, so an
-- event is never lost between the status change and the delivery; delivery is at least once.

CREATE TABLE notification_subscriptions (
  id          text PRIMARY KEY,
  name        text NOT NULL,
  -- Event types: failed, succeeded, cancelled, timed_out, sweep_finished, freshness_missed.
  events      jsonb NOT NULL,
  -- Which runs: all of these that are set must match.
  notebook    text,
  labels      jsonb NOT NULL DEFAULT '{}',
  sweep_id    text,
  schedule_id text,
  target_kind text NOT NULL CHECK (target_kind IN ('webhook', 'slack')),
  target_url  text NOT NULL,
  -- The webhook's signing secret: needed to sign every delivery, so kept; shown once at creation.
  secret      text,
  enabled     boolean NOT NULL DEFAULT true,
  created_at  timestamptz(3) NOT NULL DEFAULT now()
);

CREATE TABLE notification_outbox (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The event's id: the same in every attempt and redelivery (receivers deduplicate on it).
  event_id        text NOT NULL,
  subscription_id text NOT NULL REFERENCES notification_subscriptions (id) ON DELETE CASCADE,
  event_type      text NOT NULL,
  run_id          text,
  -- Deliveries of one subscription with the same key (a run, a sweep) go out in id order.
  order_key       text NOT NULL,
  -- The event's body for events that are not a run's (a run's is rendered from the run).
  payload         jsonb,
  status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz(3) NOT NULL DEFAULT now(),
  -- While an API process delivers a row it holds this lease; a process that dies lets it lapse.
  leased_until    timestamptz(3),
  created_at      timestamptz(3) NOT NULL DEFAULT now(),
  -- Retries stop this long after the first try began (reset by a redelivery).
  retry_from      timestamptz(3) NOT NULL DEFAULT now(),
  delivered_at    timestamptz(3),
  last_status     integer,
  last_error      text,
  UNIQUE (event_id, subscription_id)
);

CREATE INDEX notification_outbox_due ON notification_outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX notification_outbox_order ON notification_outbox (subscription_id, order_key, id)
  WHERE status = 'pending';
CREATE INDEX notification_outbox_recent ON notification_outbox (id DESC);
CREATE INDEX notification_outbox_run ON notification_outbox (run_id) WHERE run_id IS NOT NULL;

-- The delivery log: one row per attempt, with what the receiver answered.
CREATE TABLE notification_attempts (
  outbox_id   bigint NOT NULL REFERENCES notification_outbox (id) ON DELETE CASCADE,
  attempt     integer NOT NULL,
  time        timestamptz(3) NOT NULL DEFAULT now(),
  status_code integer,
  error       text,
  duration_ms integer NOT NULL,
  PRIMARY KEY (outbox_id, attempt)
);
