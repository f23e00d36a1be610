-- forensics_failing_spans.sql: every span of every failing trace, for origin search.
--
-- A failing trace is one with a root span (no parent) that is an error and starts inside the
-- window. All its spans are returned, whatever their side, service or time, because origin
-- search walks the whole tree and a trace's track is decided by the spans it passed through.
-- Memory is bounded by the failing traces, not the input.
--
-- Parameters: $1..$4 the selectors as in window.sql; $5 the service whose spans decide a
-- trace's track (NULL: every span with a side); $6 window start (TIMESTAMP ns UTC,
-- inclusive), $7 window end (exclusive).
--
-- Output: trace_id (16 bytes), span_id (8 bytes), parent_span_id (8 bytes or NULL),
-- service_name, side ('baseline' | 'canary' | NULL), tracked (BOOLEAN: the span's side counts
-- for the trace's track), span_name, span_kind (INT), start_ns, duration_ns (BIGINT),
-- is_error (BOOLEAN), route, status_message, exception_type, exception_message, source_file;
-- ordered by trace id, start time, span id.
WITH failing AS (
    SELECT DISTINCT trace_id
    FROM spans
    WHERE parent_span_id IS NULL
      AND is_error
      AND start_time >= $6 AND start_time < $7
)
SELECT
    s.trace_id,
    s.span_id,
    s.parent_span_id,
    s.service_name,
    CASE
        WHEN ($1 IS NULL OR s.deployment_track = $1) AND ($2 IS NULL OR s.service_version = $2)
            THEN 'baseline'
        WHEN ($3 IS NULL OR s.deployment_track = $3) AND ($4 IS NULL OR s.service_version = $4)
            THEN 'canary'
    END AS side,
    ($5 IS NULL OR s.service_name = $5) AS tracked,
    s.span_name,
    s.span_kind,
    CAST(s.start_time AS BIGINT) AS start_ns,
    s.duration_ns,
    s.is_error,
    s.route,
    s.status_message,
    s.exception_type,
    s.exception_message,
    s.source_file
FROM spans AS s
WHERE s.trace_id IN (SELECT trace_id FROM failing)
ORDER BY s.trace_id, start_ns, s.span_id
