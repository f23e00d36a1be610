-- query_measure.sql: what `canalyst query` reads in one pass: per side, the number of requests
-- (or spans), their errors, their sampling-weighted counts and one latency quantile, inside one
-- window, plus everything else the filters keep (side 'other', for traffic_share).
--
-- Parameters (bound with placeholders, never spliced; a NULL selector value matches anything):
--   $1 population: 'requests' (the entry spans of the `requests` view, design §3) or 'spans'
--      (every span); the other branch is folded away once the value is bound
--   $2 whether there is a baseline side (BOOLEAN; false for a one-side query)
--   $3 baseline deployment_track   $4 baseline service_version   $5 baseline deployment.stage
--   $6 canary deployment_track     $7 canary service_version     $8 canary deployment.stage
--      (the stage is the `deployment.stage` resource attribute OR span attribute: the
--      BaggageSpanProcessor copies baggage entries into span attributes)
--   $9 service_name, $10 route, $11 span_name (operation): each a filter, or NULL
--   $12 window start (TIMESTAMP ns UTC, inclusive), $13 window end (exclusive), on start_time
--   $14 the latency quantile q in [0, 1] (DOUBLE)
-- A row belongs to the baseline when $2 and it matches every non-NULL baseline value, else to
-- the canary when it matches every non-NULL canary value (baseline wins, as in window.sql).
--
-- Output, one row per side present ('baseline', 'canary', 'other'), sorted by side: count,
--   errors (BIGINT); weighted_count, weighted_errors (DOUBLE, sums of sample_weight);
--   quantile_ms (DOUBLE, exact Hyndman–Fan type-7 quantile $14 of the duration in
--   milliseconds, quantile_exact).
-- The columns are named (not `*`): DataFusion 55 fails to push the map lookups down through
-- the union with `SELECT *` ("ambiguous field name"). Without a stage selector canalyst runs
-- this text with each stage lookup replaced by a typed NULL, so raw inputs can be read without
-- the attribute maps (most of an in-memory span table); the lookups are written identically
-- on one line each for that reason.
WITH population AS (
    SELECT service_name, service_version, deployment_track, route, span_name, start_time,
           duration_ns, is_error, sample_weight,
           resource_attributes['deployment.stage'] AS resource_stage,
           span_attributes['deployment.stage'] AS span_stage
    FROM requests WHERE $1 = 'requests'
    UNION ALL
    SELECT service_name, service_version, deployment_track, route, span_name, start_time,
           duration_ns, is_error, sample_weight,
           resource_attributes['deployment.stage'] AS resource_stage,
           span_attributes['deployment.stage'] AS span_stage
    FROM spans WHERE $1 = 'spans'
),
sided AS (
    SELECT
        CASE
            WHEN $2
                 AND ($3 IS NULL OR deployment_track = $3)
                 AND ($4 IS NULL OR service_version = $4)
                 AND ($5 IS NULL OR resource_stage = $5 OR span_stage = $5)
                THEN 'baseline'
            WHEN ($6 IS NULL OR deployment_track = $6)
                 AND ($7 IS NULL OR service_version = $7)
                 AND ($8 IS NULL OR resource_stage = $8 OR span_stage = $8)
                THEN 'canary'
            ELSE 'other'
        END AS side,
        CAST(duration_ns AS DOUBLE) / 1e6 AS duration_ms,
        is_error,
        sample_weight
    FROM population
    WHERE ($9 IS NULL OR service_name = $9)
      AND ($10 IS NULL OR route = $10)
      AND ($11 IS NULL OR span_name = $11)
      AND start_time >= $12 AND start_time < $13
)
SELECT
    side,
    CAST(COUNT(*) AS BIGINT) AS count,
    CAST(SUM(CASE WHEN is_error THEN 1 ELSE 0 END) AS BIGINT) AS errors,
    SUM(sample_weight) AS weighted_count,
    SUM(CASE WHEN is_error THEN sample_weight ELSE 0.0 END) AS weighted_errors,
    quantile_exact(duration_ms, $14) AS quantile_ms
FROM sided
GROUP BY side
ORDER BY side
