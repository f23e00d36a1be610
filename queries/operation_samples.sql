-- operation_samples.sql: every span of either side inside the window, one row per span, for
-- canalyst's parallel (rayon) summariser, grouped later by span name (operation).
--
-- Parameters: $1..$5 as in window.sql (selectors, service filter);
--   $6 window start (TIMESTAMP ns UTC, inclusive), $7 window end (exclusive).
--
-- Output: side ('baseline' | 'canary'), service_name, name (the span name) (both strings,
-- dictionary-encoded as in the table), start_ns (BIGINT), duration_ns (BIGINT),
-- is_error (BOOLEAN), sample_weight (DOUBLE).
SELECT side, service_name, name, start_ns, duration_ns, is_error, sample_weight
FROM (
    SELECT
        CASE
            WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
                THEN 'baseline'
            WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
                THEN 'canary'
        END AS side,
        service_name,
        span_name AS name,
        CAST(start_time AS BIGINT) AS start_ns,
        duration_ns,
        is_error,
        sample_weight
    FROM spans
    WHERE ($5 IS NULL OR service_name = $5)
      AND start_time >= $6 AND start_time < $7
) AS s
WHERE side IS NOT NULL
