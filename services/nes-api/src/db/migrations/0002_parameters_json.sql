-- Parameters keep their exact JSON text: key order (the injected cell lists them in order),
-- `1.0` versus `1` (a float versus an int) and integers beyond 2^53. jsonb keeps none of these.
ALTER TABLE runs ALTER COLUMN parameters TYPE json USING parameters::text::json;
ALTER TABLE runs ALTER COLUMN parameters SET DEFAULT '{}';
