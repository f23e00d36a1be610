-- metrics_p99_by_track.sql: p50 and p99 request latency per side, service, track and time
-- bucket, from the `http.server.request.duration` histograms (unit `s`): the histograms of a
-- bucket are merged and the quantile interpolated the Prometheus way (histogram_quantile for
-- explicit buckets, exp_histogram_quantile for exponential ones; docs/metrics-dashboards.md).
--
-- Parameters: $1..$5 as in window.sql (baseline track/version, canary track/version, service
--   filter or NULL); $6 window start (TIMESTAMP ns UTC), $7 window end; $8 bucket width
--   (INTERVAL), buckets aligned to the Unix epoch. Points are placed at time − 1 ns and kept
--   when $6 < time <= $7, as in metrics_error_rate_by_track.sql.
--
-- Output, one row per non-empty (side, service, track, bucket, histogram kind): side
--   ('baseline' or 'canary'); service_name; deployment_track; bucket_start (BIGINT ns since
--   the epoch); histogram_kind ('explicit' or 'exponential'); requests (BIGINT, sum of
--   counts); p50_ms, p99_ms (DOUBLE, milliseconds; NULL without observations). Sorted by
--   side, service_name, deployment_track, bucket_start, histogram_kind.
SELECT side, service_name, deployment_track, CAST(bucket AS BIGINT) AS bucket_start,
       histogram_kind, requests, p50_ms, p99_ms
FROM (
    SELECT
        side, service_name, deployment_track, bucket,
        'explicit' AS histogram_kind,
        CAST(SUM(count) AS BIGINT) AS requests,
        1000.0 * histogram_quantile(0.5, bounds, bucket_counts) AS p50_ms,
        1000.0 * histogram_quantile(0.99, bounds, bucket_counts) AS p99_ms
    FROM (
        SELECT
            CASE
                WHEN ($1 IS NULL OR deployment_track = $1)
                     AND ($2 IS NULL OR service_version = $2) THEN 'baseline'
                WHEN ($3 IS NULL OR deployment_track = $3)
                     AND ($4 IS NULL OR service_version = $4) THEN 'canary'
            END AS side,
            service_name, deployment_track,
            date_bin($8, time - INTERVAL '1 nanosecond', TIMESTAMP '1970-01-01T00:00:00Z')
                AS bucket,
            count, bounds, bucket_counts
        FROM histogram_points
        WHERE metric_name = 'http.server.request.duration' AND unit = 's'
          AND count IS NOT NULL
          AND ($5 IS NULL OR service_name = $5)
          AND time > $6 AND time <= $7
    ) AS e
    WHERE side IS NOT NULL
    GROUP BY side, service_name, deployment_track, bucket
    UNION ALL
    SELECT
        side, service_name, deployment_track, bucket,
        'exponential' AS histogram_kind,
        CAST(SUM(count) AS BIGINT) AS requests,
        1000.0 * exp_histogram_quantile(0.5, scale, zero_count, positive_offset,
            positive_bucket_counts, negative_offset, negative_bucket_counts, zero_threshold)
            AS p50_ms,
        1000.0 * exp_histogram_quantile(0.99, scale, zero_count, positive_offset,
            positive_bucket_counts, negative_offset, negative_bucket_counts, zero_threshold)
            AS p99_ms
    FROM (
        SELECT
            CASE
                WHEN ($1 IS NULL OR deployment_track = $1)
                     AND ($2 IS NULL OR service_version = $2) THEN 'baseline'
                WHEN ($3 IS NULL OR deployment_track = $3)
                     AND ($4 IS NULL OR service_version = $4) THEN 'canary'
            END AS side,
            service_name, deployment_track,
            date_bin($8, time - INTERVAL '1 nanosecond', TIMESTAMP '1970-01-01T00:00:00Z')
                AS bucket,
            count, scale, zero_count, zero_threshold, positive_offset, positive_bucket_counts,
            negative_offset, negative_bucket_counts
        FROM exp_histogram_points
        WHERE metric_name = 'http.server.request.duration' AND unit = 's'
          AND count IS NOT NULL
          AND ($5 IS NULL OR service_name = $5)
          AND time > $6 AND time <= $7
    ) AS x
    WHERE side IS NOT NULL
    GROUP BY side, service_name, deployment_track, bucket
) AS q
ORDER BY side, service_name, deployment_track, bucket_start, histogram_kind
