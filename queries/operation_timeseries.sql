-- operation_timeseries.sql: per-operation span counts, errors and latency of both
-- sides per time bucket inside the window.
--
-- Parameters: $1..$5 as in window.sql (baseline track/version, canary track/version,
--   service filter or NULL); $6 window start (TIMESTAMP ns UTC, inclusive), $7 window end
--   (exclusive); $8 bucket width (INTERVAL, canalyst's default 1 minute). Buckets are
--   date_bin($8, start_time, 1970-01-01T00:00:00Z): aligned to the Unix epoch.
--
-- Output, one row per non-empty (side, service_name, span_name, bucket):
--   bucket_start (BIGINT ns since the epoch); count, errors (BIGINT); weighted_count,
--   weighted_errors (DOUBLE); p50_ms, p99_ms (DOUBLE, exact type-7 quantiles,
--   quantile_exact). Sorted by side, service_name, span_name, bucket_start.
SELECT
    side,
    service_name,
    span_name,
    CAST(bucket AS BIGINT) AS bucket_start,
    COUNT(*) AS count,
    SUM(CASE WHEN is_error THEN 1 ELSE 0 END) AS errors,
    SUM(sample_weight) AS weighted_count,
    SUM(CASE WHEN is_error THEN sample_weight ELSE 0.0 END) AS weighted_errors,
    quantile_exact(duration_ms, 0.5) AS p50_ms,
    quantile_exact(duration_ms, 0.99) AS p99_ms
FROM (
    SELECT
        CASE
            WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
                THEN 'baseline'
            WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
                THEN 'canary'
        END AS side,
        CAST(service_name AS VARCHAR) AS service_name,
        CAST(span_name AS VARCHAR) AS span_name,
        date_bin($8, start_time, TIMESTAMP '1970-01-01T00:00:00Z') AS bucket,
        CAST(duration_ns AS DOUBLE) / 1e6 AS duration_ms,
        is_error,
        sample_weight
    FROM spans
    WHERE ($5 IS NULL OR service_name = $5)
      AND start_time >= $6 AND start_time < $7
) AS t
WHERE side IS NOT NULL
GROUP BY side, service_name, span_name, bucket
ORDER BY side, service_name, span_name, bucket_start
