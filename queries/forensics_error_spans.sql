-- forensics_error_spans.sql: every error span of either side inside the window, for error
-- signatures.
--
-- A span's side is its own resource's (deployment_track / service_version); error spans of
-- neither side are left out. The message is the first exception event's `exception.message`,
-- else the span's status message.
--
-- Parameters: $1..$5 as in window.sql (selectors, service filter); $6 window start
-- (TIMESTAMP ns UTC, inclusive), $7 window end (exclusive).
--
-- Output: trace_id (16 bytes), service_name, side ('baseline' | 'canary'), span_name,
-- start_ns (BIGINT), exception_type, message (strings or NULL), sample_weight (DOUBLE).
SELECT trace_id, service_name, side, span_name, start_ns, exception_type, message, sample_weight
FROM (
    SELECT
        trace_id,
        service_name,
        CASE
            WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
                THEN 'baseline'
            WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
                THEN 'canary'
        END AS side,
        span_name,
        CAST(start_time AS BIGINT) AS start_ns,
        exception_type,
        COALESCE(exception_message, status_message) AS message,
        sample_weight
    FROM spans
    WHERE is_error
      AND ($5 IS NULL OR service_name = $5)
      AND start_time >= $6 AND start_time < $7
) AS e
WHERE side IS NOT NULL
