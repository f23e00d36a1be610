-- forensics_attribute_requests.sql: every request of either side inside the window, with the
-- attribute maps of its entry span, for the attribute diff. The selection and baseline
-- predicates are added by the engine as expressions (`--select errors|slow|SQL`), never
-- spliced into this text.
--
-- Parameters: $1..$5 as in window.sql (selectors, service filter); $6 window start
-- (TIMESTAMP ns UTC, inclusive), $7 window end (exclusive); $9 (BOOLEAN) whether p99_ns is
-- wanted: when false the p99 table's filter is constant false, which DataFusion's optimizer
-- turns into an empty relation, so the `requests` view (a semi-join over every span) is not
-- evaluated a second time for a column nobody reads (p99_ns is then NULL).
--
-- The requests are the probe side of the join with the (small) p99 table, so the engine
-- streams them batch by batch instead of collecting them with their attribute maps.
--
-- Output: side ('baseline' | 'canary'), trace_id (16 bytes), service_name, route, span_name, http_method,
-- http_status_code, status_message, exception_type, is_error, duration_ns (BIGINT), p99_ns
-- (DOUBLE: the baseline's exact p99 duration of the same service and route, NULL when the
-- baseline has none), sample_weight, span_attributes, resource_attributes, span_kind (INT),
-- is_root (BOOLEAN: the entry span has no parent).
WITH r AS (
    SELECT
        CASE
            WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
                THEN 'baseline'
            WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
                THEN 'canary'
        END AS side,
        trace_id,
        CAST(service_name AS VARCHAR) AS service_name,
        route, span_name, http_method, http_status_code, status_message, exception_type,
        is_error, duration_ns, sample_weight, span_attributes, resource_attributes, span_kind,
        parent_span_id IS NULL AS is_root
    FROM requests
    WHERE ($5 IS NULL OR service_name = $5)
      AND start_time >= $6 AND start_time < $7
),
p99 AS (
    SELECT service_name AS p_service, route AS p_route,
           quantile_exact(CAST(duration_ns AS DOUBLE), 0.99) AS p99_ns
    FROM r
    WHERE $9 AND side = 'baseline'
    GROUP BY service_name, route
)
SELECT r.side, r.trace_id, r.service_name, r.route, r.span_name, r.http_method, r.http_status_code,
       r.status_message, r.exception_type, r.is_error, r.duration_ns, p99.p99_ns,
       r.sample_weight, r.span_attributes, r.resource_attributes, r.span_kind, r.is_root
FROM p99
RIGHT JOIN r ON r.service_name = p99.p_service AND r.route IS NOT DISTINCT FROM p99.p_route
WHERE r.side IS NOT NULL
