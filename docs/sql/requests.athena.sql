-- Every surge run in a bucket as Athena tables, no crawler: the run id and the worker
-- are partitions projected from the key layout (surge/results.py, results layout 2):
--   s3://BUCKET/runs/<run_id>/requests/worker=<id>/part-NNNNN[-MMMMM].parquet
--   s3://BUCKET/runs/<run_id>/health/part-NNNNN.parquet  (a part a minute)
-- Replace BUCKET (and `runs` if you pushed under another prefix). Athena skips the
-- worker's _account.json (names starting with '_' are not data). Times are int64
-- microseconds since the Unix epoch, UTC: from_unixtime(intended_us / 1e6).
-- `worker` is a partition column here (the folder), not read from the files: Athena
-- does not allow a data column of the same name; the values are the same.
CREATE EXTERNAL TABLE surge_requests (
    name string, method string, stage smallint,
    intended_us bigint, sent_us bigint, latency_us bigint, service_us bigint,
    status smallint, outcome string, bytes int, error string
)
PARTITIONED BY (run_id string, worker string)
STORED AS PARQUET
LOCATION 's3://BUCKET/runs/'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.run_id.type' = 'injected',
    'projection.worker.type' = 'injected',
    'storage.location.template' = 's3://BUCKET/runs/${run_id}/requests/worker=${worker}/'
);
-- Injected partitions must be named in the query:
--   SELECT outcome, count(*) FROM surge_requests
--   WHERE run_id = 'checkout-20261130T101500Z' AND worker IN ('ip-10-0-1-5-4242', ...)
--   GROUP BY outcome;
-- The worker ids are in the run's manifest.json (workers[].id) and in the key names.
-- A worker agent deletes the small parts a compacted part replaced once that one is in
-- S3; only a worker that died in between leaves both (the report and the DuckDB query
-- drop the covered ones; here filter on "$path" if a run's manifest lists lost_workers).

CREATE EXTERNAL TABLE surge_health (
    time_us bigint, worker string, cpu_percent float,
    send_lag_p50_us bigint, send_lag_p99_us bigint, send_lag_max_us bigint,
    in_flight int, sent bigint, late bigint, dropped bigint,
    cpu_wait_percent float, loop_lag_p99_us bigint
)
PARTITIONED BY (run_id string)
STORED AS PARQUET
LOCATION 's3://BUCKET/runs/'
TBLPROPERTIES (
    'projection.enabled' = 'true',
    'projection.run_id.type' = 'injected',
    'storage.location.template' = 's3://BUCKET/runs/${run_id}/health/'
);
