-- The report's per-stage table (requests, outcomes, p95 and friends) straight from a
-- run directory's Parquet parts, in DuckDB. Set the run directory first:
--   SET VARIABLE run = 'results/<run-id>';
-- Times are int64 microseconds since the Unix epoch, UTC (intended_us, sent_us);
-- latency_us is corrected (from the intended send), service_us uncorrected.
-- Stage windows come from manifest.json like the report's: a hold is measured from
-- min(5 s, half the stage) after it starts (the report's default --warmup 5s), a ramp
-- whole; a request counts in a stage when its `stage` column is that stage and its
-- intended send falls in the window. Percentiles are nearest-rank (quantile_disc
-- returns the value at rank ceil(p * n), as the report does); they are over sent
-- requests only (outcome <> 'dropped').
-- Layout (surge/results.py): requests/worker=<id>/part-NNNNN.parquet, a hive partition
-- per worker (hive_partitioning fills `worker` from the folder, the same value as the
-- column); at a run's end each worker compacts its parts into part-NNNNN-MMMMM.parquet
-- (parts NNNNN..MMMMM). A crash between writing a compacted file and deleting its small
-- parts leaves both: `superseded` drops the small ones, as surge's readers do. Runs of
-- results layout 1 (requests/<id>/part-NNNNN.parquet) match the same glob.
WITH manifest AS (
    SELECT
        epoch_us(CAST(started_at AS TIMESTAMPTZ)) AS start_us,
        unnest(schedule.stages) AS s
    FROM read_json(getvariable('run') || '/manifest.json', maximum_object_size = 67108864)
),
windows AS (
    SELECT
        s.index AS stage,
        s.kind AS kind,
        start_us,
        s.start_s + CASE WHEN s.kind = 'hold' THEN least(5.0, s.duration_s / 2.0) ELSE 0.0 END
            AS window_start_s,
        s.start_s + s.duration_s AS window_end_s
    FROM manifest
),
files AS (
    SELECT
        file,
        regexp_extract(file, '^(.*)/[^/]*$', 1) AS folder,
        CAST(regexp_extract(file, 'part-(\d+)(-\d+)?\.parquet$', 1) AS BIGINT) AS first,
        CAST(coalesce(nullif(regexp_extract(file, 'part-\d+-(\d+)\.parquet$', 1), ''),
                      regexp_extract(file, 'part-(\d+)\.parquet$', 1)) AS BIGINT) AS last,
        regexp_matches(file, 'part-\d+-\d+\.parquet$') AS compacted
    FROM glob(getvariable('run') || '/requests/*/part-*.parquet')
),
superseded AS (  -- covered by a compacted part of the same worker
    SELECT s.file
    FROM files AS s JOIN files AS c
        ON c.compacted AND c.folder = s.folder AND c.file <> s.file
        AND c.first <= s.first AND s.last <= c.last
        AND (NOT s.compacted OR c.last - c.first > s.last - s.first)
),
requests AS (
    SELECT *
    FROM read_parquet(getvariable('run') || '/requests/*/part-*.parquet',
                      hive_partitioning = true, filename = true)
    WHERE filename NOT IN (SELECT file FROM superseded)
)
SELECT
    w.stage + 1 AS stage,  -- numbered from 1, as the report shows them
    w.kind,
    count(r.outcome) AS requests,
    count(*) FILTER (WHERE r.outcome = 'ok') AS ok,
    count(*) FILTER (WHERE r.outcome = 'rejected') AS rejected,
    count(*) FILTER (WHERE r.outcome = 'error') AS error,
    count(*) FILTER (WHERE r.outcome = 'timeout') AS timeout,
    count(*) FILTER (WHERE r.outcome = 'dropped') AS dropped,
    quantile_disc(r.latency_us, 0.50) FILTER (WHERE r.outcome <> 'dropped') / 1e6 AS p50,
    quantile_disc(r.latency_us, 0.95) FILTER (WHERE r.outcome <> 'dropped') / 1e6 AS p95,
    quantile_disc(r.latency_us, 0.99) FILTER (WHERE r.outcome <> 'dropped') / 1e6 AS p99,
    max(r.latency_us) FILTER (WHERE r.outcome <> 'dropped') / 1e6 AS max
FROM windows AS w
LEFT JOIN requests AS r
    ON r.stage = w.stage
    AND r.intended_us - w.start_us >= ceil(w.window_start_s * 1e6)
    AND r.intended_us - w.start_us < ceil(w.window_end_s * 1e6)
GROUP BY ALL
ORDER BY stage;
