-- Max active runs: the ticker counts each schedule's queued, starting and running runs. Counting
-- through schedule_dates reads the schedule's whole history (a minutely schedule has 525,600
-- dates a year); this index holds only active runs, by the schedule their label names.
CREATE INDEX runs_active_by_schedule ON runs ((labels ->> 'nes/schedule'))
  WHERE status IN ('queued', 'starting', 'running');
