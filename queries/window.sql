-- window.sql: first and last span start of each side, and the comparison window.
--
-- The comparison window (design §3) is the overlap of the time ranges in which the baseline
-- and the canary served traffic: [max(first starts), min(last starts)], so both sides are
-- compared under the same load and time of day. canalyst makes the end exclusive by adding
-- 1 ns. Times are span start times, nanoseconds since the Unix epoch (BIGINT).
--
-- Parameters (bound with placeholders, never spliced):
--   $1 baseline deployment_track or NULL   $2 baseline service_version or NULL
--   $3 canary deployment_track or NULL     $4 canary service_version or NULL
--   $5 service_name to restrict to, or NULL for every service
-- A span belongs to the baseline when it matches both non-NULL baseline values, else to the
-- canary when it matches both non-NULL canary values (baseline wins if both match).
--
-- Output: one row: baseline_spans, canary_spans (BIGINT), baseline_first, baseline_last,
-- canary_first, canary_last, window_start, window_last (BIGINT ns, NULL when a side is empty
-- or the sides do not overlap).
WITH sided AS (
    SELECT
        CASE
            WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
                THEN 'baseline'
            WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
                THEN 'canary'
        END AS side,
        CAST(start_time AS BIGINT) AS t
    FROM spans
    WHERE $5 IS NULL OR service_name = $5
),
ranges AS (
    SELECT
        SUM(CASE WHEN side = 'baseline' THEN 1 ELSE 0 END) AS baseline_spans,
        SUM(CASE WHEN side = 'canary' THEN 1 ELSE 0 END) AS canary_spans,
        MIN(CASE WHEN side = 'baseline' THEN t END) AS baseline_first,
        MAX(CASE WHEN side = 'baseline' THEN t END) AS baseline_last,
        MIN(CASE WHEN side = 'canary' THEN t END) AS canary_first,
        MAX(CASE WHEN side = 'canary' THEN t END) AS canary_last
    FROM sided
    WHERE side IS NOT NULL
)
SELECT
    CAST(COALESCE(baseline_spans, 0) AS BIGINT) AS baseline_spans,
    CAST(COALESCE(canary_spans, 0) AS BIGINT) AS canary_spans,
    baseline_first,
    baseline_last,
    canary_first,
    canary_last,
    CASE WHEN GREATEST(baseline_first, canary_first) <= LEAST(baseline_last, canary_last)
        THEN GREATEST(baseline_first, canary_first) END AS window_start,
    CASE WHEN GREATEST(baseline_first, canary_first) <= LEAST(baseline_last, canary_last)
        THEN LEAST(baseline_last, canary_last) END AS window_last
FROM ranges
