-- forensics_downstream_spans.sql: every span, for downstream attribution (which track the
-- request that caused a span came from) and the trace-structure diff (calls and critical path
-- below each request).
--
-- All spans are returned, inside the window or not, because a span's originating track may
-- come from an ancestor that started before the window; `in_window` says which spans are
-- counted.
--
-- Parameters: $1..$4 the selectors as in window.sql; $5 the service whose spans keep their
-- own side (NULL: every service's; with a service, every other service is compared by the
-- track of that service's request that caused its spans); $6 window start (TIMESTAMP ns UTC,
-- inclusive), $7 window end (exclusive). The originating track is looked up by the engine in
-- `span_attributes` (the first of the origin keys, in order, with a value): six map lookups
-- per span in SQL were most of this query's time.
--
-- Output: trace_id (16 bytes), span_id (8 bytes), parent_span_id (8 bytes or NULL),
-- service_name, span_name, span_kind (INT), route (or NULL), start_ns, duration_ns (BIGINT), is_error (BOOLEAN), sample_weight (DOUBLE),
-- side ('baseline' | 'canary' | NULL: the span's own side, by deployment_track and
-- service_version as in window.sql; NULL for services other than $5), span_attributes (the map),
-- in_window (BOOLEAN: the span starts inside the window), source_file (the file it was read
-- from, for the trace-quality examples). Names stay dictionary-encoded as stored: the engine
-- interns each distinct name once per batch.
SELECT
    trace_id,
    span_id,
    parent_span_id,
    service_name,
    span_name,
    span_kind,
    route,
    CAST(start_time AS BIGINT) AS start_ns,
    duration_ns,
    is_error,
    sample_weight,
    CASE
        WHEN NOT ($5 IS NULL OR service_name = $5) THEN NULL
        WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
            THEN 'baseline'
        WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
            THEN 'canary'
    END AS side,
    span_attributes,
    (start_time >= $6 AND start_time < $7) AS in_window,
    source_file
FROM spans
