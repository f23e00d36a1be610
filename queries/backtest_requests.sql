-- backtest_requests.sql: every request of either side inside the window with its trace id,
-- one row per request, for `canalyst backtest` (which thins the canary by whole traces and
-- re-windows the rows per look). As route_samples.sql, plus trace_id; requests without a
-- route are not a route-level group and are skipped.
-- Reference statement: `canalyst backtest` gathers these rows in the direct scan
-- (src/engine/request_log.rs); a unit test there checks both give the same rows.
--
-- Parameters: $1..$5 as in window.sql (selectors, service filter);
--   $6 window start (TIMESTAMP ns UTC, inclusive), $7 window end (exclusive).
--
-- Output: side ('baseline' | 'canary'), service_name, name (the route) (both strings,
-- dictionary-encoded as in the table), trace_id (FixedSizeBinary(16)), start_ns (BIGINT),
-- duration_ns (BIGINT), is_error (BOOLEAN), sample_weight (DOUBLE).
SELECT side, service_name, name, trace_id, start_ns, duration_ns, is_error, sample_weight
FROM (
    SELECT
        CASE
            WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
                THEN 'baseline'
            WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
                THEN 'canary'
        END AS side,
        service_name,
        route AS name,
        trace_id,
        CAST(start_time AS BIGINT) AS start_ns,
        duration_ns,
        is_error,
        sample_weight
    FROM requests
    WHERE ($5 IS NULL OR service_name = $5)
      AND start_time >= $6 AND start_time < $7
      AND route IS NOT NULL
) AS r
WHERE side IS NOT NULL
