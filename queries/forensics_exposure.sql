-- forensics_exposure.sql: requests per service and side inside the window, the exposure an
-- error signature's rate is divided by.
--
-- Requests are the entry spans of the `requests` view (design §3), sided by their own
-- resource as in window.sql.
--
-- Parameters: $1..$5 as in window.sql (selectors, service filter); $6 window start
-- (TIMESTAMP ns UTC, inclusive), $7 window end (exclusive).
--
-- Output: service_name, side ('baseline' | 'canary'), requests (BIGINT), weighted (DOUBLE:
-- the sum of sample weights), weighted_sq (the sum of squared weights), min_weight,
-- max_weight (DOUBLE), ordered by service and side.
SELECT service_name, side, CAST(COUNT(*) AS BIGINT) AS requests, SUM(sample_weight) AS weighted,
       SUM(sample_weight * sample_weight) AS weighted_sq, MIN(sample_weight) AS min_weight,
       MAX(sample_weight) AS max_weight
FROM (
    SELECT
        CAST(service_name AS VARCHAR) AS service_name,
        CASE
            WHEN ($1 IS NULL OR deployment_track = $1) AND ($2 IS NULL OR service_version = $2)
                THEN 'baseline'
            WHEN ($3 IS NULL OR deployment_track = $3) AND ($4 IS NULL OR service_version = $4)
                THEN 'canary'
        END AS side,
        sample_weight
    FROM requests
    WHERE ($5 IS NULL OR service_name = $5)
      AND start_time >= $6 AND start_time < $7
) AS r
WHERE side IS NOT NULL
GROUP BY service_name, side
ORDER BY service_name, side
