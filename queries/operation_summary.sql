-- operation_summary.sql: per-operation summary of every span of both sides
-- inside the window, grouped by span name.
--
-- Parameters: $1..$5 as in window.sql (baseline track/version, canary track/version,
--   service filter or NULL); $6 window start (TIMESTAMP ns UTC, inclusive), $7 window end
--   (exclusive).
--
-- Output, one row per (side, service_name, service_version, deployment_track, span_name):
--   count, errors (BIGINT); weighted_count, weighted_errors (DOUBLE, sums of sample_weight);
--   p50_ms, p90_ms, p99_ms, p999_ms (DOUBLE, exact Hyndman–Fan type-7 quantiles of the
--   duration in milliseconds, quantile_exact); p99_sketch_ms (DOUBLE, DDSketch estimate with
--   1% relative accuracy, ddsketch_quantile). Sorted by the key columns.
SELECT
    side,
    service_name,
    service_version,
    deployment_track,
    span_name,
    COUNT(*) AS count,
    SUM(CASE WHEN is_error THEN 1 ELSE 0 END) AS errors,
    SUM(sample_weight) AS weighted_count,
    SUM(CASE WHEN is_error THEN sample_weight ELSE 0.0 END) AS weighted_errors,
    quantile_exact(duration_ms, 0.5) AS p50_ms,
    quantile_exact(duration_ms, 0.9) AS p90_ms,
    quantile_exact(duration_ms, 0.99) AS p99_ms,
    quantile_exact(duration_ms, 0.999) AS p999_ms,
    ddsketch_quantile(duration_ms, 0.99) AS p99_sketch_ms
FROM (
    SELECT
        CASE
            WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
                THEN 'baseline'
            WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
                THEN 'canary'
        END AS side,
        CAST(service_name AS VARCHAR) AS service_name,
        CAST(service_version AS VARCHAR) AS service_version,
        CAST(deployment_track AS VARCHAR) AS deployment_track,
        CAST(span_name AS VARCHAR) AS span_name,
        CAST(duration_ns AS DOUBLE) / 1e6 AS duration_ms,
        is_error,
        sample_weight
    FROM spans
    WHERE ($5 IS NULL OR service_name = $5)
      AND start_time >= $6 AND start_time < $7
) AS t
WHERE side IS NOT NULL
GROUP BY side, service_name, service_version, deployment_track, span_name
ORDER BY side, service_name, service_version, deployment_track, span_name
