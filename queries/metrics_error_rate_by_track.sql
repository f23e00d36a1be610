-- metrics_error_rate_by_track.sql: requests and server errors per side, service, track and time
-- bucket, from the counts of the `http.server.request.duration` histograms (explicit and
-- exponential), not from spans: what the services' own OpenTelemetry metrics say.
--
-- Parameters: $1..$5 as in window.sql (baseline track/version, canary track/version, service
--   filter or NULL); $6 window start (TIMESTAMP ns UTC), $7 window end; $8 bucket width
--   (INTERVAL), buckets aligned to the Unix epoch.
-- A point covers its export interval (start_time, time], so it is placed at time − 1 ns and
--   kept when $6 < time <= $7: a point exported at 00:01:00 counts toward the bucket that
--   starts at 00:00:00. Points are deltas (cumulative series are converted at ingest); the
--   baseline point of a cumulative series has a NULL count and adds nothing.
-- Error: `http.response.status_code` attribute >= 500 (design §3; a missing or non-numeric
--   status code is not an error).
--
-- Output, one row per non-empty (side, service, track, bucket): side ('baseline' or 'canary');
--   service_name; deployment_track; bucket_start (BIGINT ns since the epoch); requests,
--   errors (BIGINT, sums of histogram counts); error_rate (DOUBLE, errors / requests, NULL
--   when requests = 0). Sorted by side, service_name, deployment_track, bucket_start.
SELECT
    side,
    service_name,
    deployment_track,
    CAST(bucket AS BIGINT) AS bucket_start,
    CAST(SUM(n) AS BIGINT) AS requests,
    CAST(SUM(CASE WHEN is_error THEN n ELSE 0 END) AS BIGINT) AS errors,
    CAST(SUM(CASE WHEN is_error THEN n ELSE 0 END) AS DOUBLE)
        / CAST(NULLIF(SUM(n), 0) AS DOUBLE) AS error_rate
FROM (
    SELECT
        CASE
            WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
                THEN 'baseline'
            WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
                THEN 'canary'
        END AS side,
        service_name,
        deployment_track,
        date_bin($8, time - INTERVAL '1 nanosecond', TIMESTAMP '1970-01-01T00:00:00Z') AS bucket,
        COALESCE(TRY_CAST(attributes['http.response.status_code'] AS BIGINT) >= 500, false)
            AS is_error,
        CAST(count AS BIGINT) AS n
    FROM (
        SELECT service_name, service_version, deployment_track, attributes, time, count
        FROM histogram_points
        WHERE metric_name = 'http.server.request.duration'
        UNION ALL
        SELECT service_name, service_version, deployment_track, attributes, time, count
        FROM exp_histogram_points
        WHERE metric_name = 'http.server.request.duration'
    ) AS p
    WHERE count IS NOT NULL
      AND ($5 IS NULL OR service_name = $5)
      AND time > $6 AND time <= $7
) AS t
WHERE side IS NOT NULL
GROUP BY side, service_name, deployment_track, bucket
ORDER BY side, service_name, deployment_track, bucket_start
