-- metrics_traffic_split.sql: share of requests the canary served per time bucket, from the
-- counts of the `http.server.request.duration` histograms (explicit and exponential): the
-- metric-side counterpart of traffic_split.sql.
--
-- Parameters: $1..$5 as in window.sql (baseline track/version, canary track/version, service
--   filter or NULL); $6 window start (TIMESTAMP ns UTC), $7 window end; $8 bucket width
--   (INTERVAL), buckets aligned to the Unix epoch. Points are placed at time − 1 ns and kept
--   when $6 < time <= $7, as in metrics_error_rate_by_track.sql.
--
-- Output, one row per non-empty bucket: bucket_start (BIGINT ns since the epoch);
--   baseline_requests, canary_requests (BIGINT, sums of histogram counts); canary_share
--   (DOUBLE, canary_requests / (baseline_requests + canary_requests), NULL when both are 0).
--   Sorted by bucket_start.
SELECT
    CAST(bucket AS BIGINT) AS bucket_start,
    CAST(SUM(CASE WHEN side = 'baseline' THEN n ELSE 0 END) AS BIGINT) AS baseline_requests,
    CAST(SUM(CASE WHEN side = 'canary' THEN n ELSE 0 END) AS BIGINT) AS canary_requests,
    CAST(SUM(CASE WHEN side = 'canary' THEN n ELSE 0 END) AS DOUBLE)
        / CAST(NULLIF(SUM(n), 0) AS DOUBLE) AS canary_share
FROM (
    SELECT
        CASE
            WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
                THEN 'baseline'
            WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
                THEN 'canary'
        END AS side,
        date_bin($8, time - INTERVAL '1 nanosecond', TIMESTAMP '1970-01-01T00:00:00Z') AS bucket,
        CAST(count AS BIGINT) AS n
    FROM (
        SELECT service_name, service_version, deployment_track, time, count
        FROM histogram_points
        WHERE metric_name = 'http.server.request.duration'
        UNION ALL
        SELECT service_name, service_version, deployment_track, time, count
        FROM exp_histogram_points
        WHERE metric_name = 'http.server.request.duration'
    ) AS p
    WHERE count IS NOT NULL
      AND ($5 IS NULL OR service_name = $5)
      AND time > $6 AND time <= $7
) AS t
WHERE side IS NOT NULL
GROUP BY bucket
ORDER BY bucket_start
