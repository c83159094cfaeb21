-- A notebook's history (GET /v1/history) reads its runs by notebook and time: this index answers
-- the window and the aggregates without touching other notebooks' runs.
CREATE INDEX runs_notebook_created ON runs (notebook, created_at);
