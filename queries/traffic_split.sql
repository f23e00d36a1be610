-- traffic_split.sql: share of requests the canary served per time bucket, for checking the
-- rollout weight and for charts.
--
-- Parameters: $1..$5 as in window.sql (baseline track/version, canary track/version,
--   service filter or NULL); $6 window start (TIMESTAMP ns UTC, inclusive), $7 window end
--   (exclusive); $8 bucket width (INTERVAL), buckets aligned to the Unix epoch.
--
-- Output, one row per non-empty bucket: bucket_start (BIGINT ns since the epoch);
--   baseline_requests, canary_requests (BIGINT, recorded); baseline_weighted,
--   canary_weighted (DOUBLE, sums of sample_weight); canary_share (DOUBLE, canary_weighted /
--   (baseline_weighted + canary_weighted)). Sorted by bucket_start.
SELECT
    CAST(bucket AS BIGINT) AS bucket_start,
    SUM(CASE WHEN side = 'baseline' THEN 1 ELSE 0 END) AS baseline_requests,
    SUM(CASE WHEN side = 'canary' THEN 1 ELSE 0 END) AS canary_requests,
    SUM(CASE WHEN side = 'baseline' THEN sample_weight ELSE 0.0 END) AS baseline_weighted,
    SUM(CASE WHEN side = 'canary' THEN sample_weight ELSE 0.0 END) AS canary_weighted,
    SUM(CASE WHEN side = 'canary' THEN sample_weight ELSE 0.0 END) / SUM(sample_weight)
        AS canary_share
FROM (
    SELECT
        CASE
            WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
                THEN 'baseline'
            WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
                THEN 'canary'
        END AS side,
        date_bin($8, start_time, TIMESTAMP '1970-01-01T00:00:00Z') AS bucket,
        sample_weight
    FROM requests
    WHERE ($5 IS NULL OR service_name = $5)
      AND start_time >= $6 AND start_time < $7
) AS t
WHERE side IS NOT NULL
GROUP BY bucket
ORDER BY bucket_start
