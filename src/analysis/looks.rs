//! The window as a sequence of looks, and the per-look cumulative counts of one side merged
//! from the per-bucket series the engine already built (`queries/route_timeseries.sql`):
//! no second pass over spans (issue 11, "per-look summaries are merged, not recomputed").
//! Durations are read the same way: the engine tags each sorted duration with its bucket
//! ([`TrackSample::duration_buckets`]), and [`LookPlan::arrivals`] groups the positions of the
//! sorted sample by the look that first sees them, so the sample at look `j` is the sorted
//! sample restricted to the positions of looks `0..=j` (`stats::order_statistics::Growing`).
//!
//! Looks are whole series buckets. The first look starts at the bucket holding the window
//! start (buckets are aligned to the Unix epoch, as SQL `date_bin` aligns them); look `j`
//! (0-based) covers buckets starting in `[first + j·L, first + (j+1)·L)`, `L` the look interval,
//! and is taken at `min(first + (j+1)·L, window end)`.

use crate::model::comparison::{bucket_start, TimeBucket, TrackSample, Window};

/// Where the looks of a window fall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookPlan {
    /// Start of the bucket holding the window start, ns since the epoch.
    pub first_unix_nano: i64,
    /// Look interval, ns (a multiple of the bucket width).
    pub interval_ns: i64,
    /// Time of each look (the end of the data it sees), ns since the epoch; at least one.
    pub ends_unix_nano: Vec<i64>,
}

impl LookPlan {
    /// The looks of `window` every `interval_ns`, on buckets `bucket_ns` wide. A window shorter
    /// than one interval gets one look at its end (the configuration check,
    /// `AnalysisConfig::check_looks`, refuses that case before analysis).
    pub fn new(window: Window, bucket_ns: i64, interval_ns: i64) -> Self {
        let first = bucket_start(window.start_unix_nano, bucket_ns.max(1));
        let interval = interval_ns.max(1);
        let span = (window.end_unix_nano - first).max(1);
        let n = ((span + interval - 1) / interval).max(1);
        let ends_unix_nano = (1..=n)
            .map(|j| (first + j * interval).min(window.end_unix_nano.max(first + 1)))
            .collect();
        LookPlan {
            first_unix_nano: first,
            interval_ns: interval,
            ends_unix_nano,
        }
    }

    /// Number of looks.
    pub fn len(&self) -> usize {
        self.ends_unix_nano.len()
    }

    /// Whether there are no looks (never, by construction; for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.ends_unix_nano.is_empty()
    }

    /// Index of the look whose data includes the bucket starting at `bucket_start`; buckets
    /// outside the window's looks go to the nearest look (they cannot occur: the series is
    /// restricted to the window).
    pub fn look_of(&self, bucket_start: i64) -> usize {
        let j = (bucket_start - self.first_unix_nano).div_euclid(self.interval_ns);
        j.clamp(0, self.len() as i64 - 1) as usize
    }

    /// Cumulative requests and errors of one side at every look: the sum over buckets up to
    /// and including that look's.
    pub fn cumulative(&self, series: &[TimeBucket]) -> Vec<LookCounts> {
        let mut per_look = vec![LookCounts::default(); self.len()];
        for b in series {
            let l = &mut per_look[self.look_of(b.start_unix_nano)];
            l.requests += b.count;
            l.errors += b.errors;
        }
        let mut total = LookCounts::default();
        for l in &mut per_look {
            total.requests += l.requests;
            total.errors += l.errors;
            *l = total;
        }
        per_look
    }
}

/// The positions (in the sorted `durations_ms`) of one side's durations, grouped by the look
/// whose data first includes them: a counting sort by look, one `u32` per duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrivals {
    /// Positions, look by look; within a look ascending.
    pub positions: Vec<u32>,
    /// `positions[ends[j − 1]..ends[j]]` arrive at look `j` (`ends[−1]` = 0).
    pub ends: Vec<usize>,
}

impl Arrivals {
    /// The positions arriving at look `j`.
    pub fn at(&self, j: usize) -> &[u32] {
        let start = if j == 0 { 0 } else { self.ends[j - 1] };
        &self.positions[start..self.ends[j]]
    }
}

impl LookPlan {
    /// Where the durations of `sample` arrive, given its `series` (the side's buckets, which
    /// `sample.duration_buckets` index). `None` when the sample has durations without bucket
    /// indices (the engine was not asked for them).
    pub fn arrivals(&self, sample: &TrackSample, series: &[TimeBucket]) -> Option<Arrivals> {
        let buckets = &sample.duration_buckets;
        if buckets.len() != sample.durations_ms.len() {
            return None;
        }
        let look: Vec<usize> = series
            .iter()
            .map(|b| self.look_of(b.start_unix_nano))
            .collect();
        let mut ends = vec![0usize; self.len()];
        for &b in buckets {
            ends[*look.get(b as usize)?] += 1;
        }
        let mut total = 0;
        for e in &mut ends {
            total += *e;
            *e = total;
        }
        let mut next: Vec<usize> = (0..self.len())
            .map(|j| if j == 0 { 0 } else { ends[j - 1] })
            .collect();
        let mut positions = vec![0u32; buckets.len()];
        for (i, &b) in buckets.iter().enumerate() {
            let j = look[b as usize];
            positions[next[j]] = i as u32;
            next[j] += 1;
        }
        Some(Arrivals { positions, ends })
    }
}

/// Recorded requests and error requests of one side up to a look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookCounts {
    /// Recorded requests (spans).
    pub requests: u64,
    /// Recorded error requests.
    pub errors: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const MIN: i64 = 60_000_000_000;

    fn window(start: i64, end: i64) -> Window {
        Window {
            start_unix_nano: start,
            end_unix_nano: end,
        }
    }

    #[test]
    fn looks_cover_the_window_in_whole_buckets() {
        // Window 00:00:30 .. 00:10:00, 1-minute buckets, looks every 3 minutes: the first look
        // starts at the bucket holding 00:00:30 (00:00), looks at 3, 6, 9 and 10 minutes.
        let p = LookPlan::new(window(MIN / 2, 10 * MIN), MIN, 3 * MIN);
        assert_eq!(p.first_unix_nano, 0);
        assert_eq!(p.ends_unix_nano, vec![3 * MIN, 6 * MIN, 9 * MIN, 10 * MIN]);
        assert_eq!(p.look_of(0), 0);
        assert_eq!(p.look_of(2 * MIN), 0);
        assert_eq!(p.look_of(3 * MIN), 1);
        assert_eq!(p.look_of(9 * MIN), 3);
        // One look when the interval is the whole window.
        assert_eq!(LookPlan::new(window(0, MIN), MIN, MIN).len(), 1);
    }

    #[test]
    fn durations_seen_at_each_look_equal_a_direct_filter() {
        // Requests with random start times and tied durations, laid out as the engine lays
        // them (durations sorted, each tagged with its bucket's index in the series); the
        // sample at every look, rebuilt from the arrivals in a growing order-statistic set,
        // must equal the sorted durations of the requests started before the look's end.
        use crate::stats::order_statistics::{Growing, OrderStatistics};
        let mut rng = StdRng::seed_from_u64(12);
        for case in 0..40 {
            let start = rng.random_range(0..5 * MIN);
            let end = start + rng.random_range(1..40) * MIN / 2;
            let bucket = MIN * rng.random_range(1..3);
            let interval = bucket * rng.random_range(1..5);
            let mut requests: Vec<(i64, f64)> = (0..rng.random_range(0..400))
                .map(|_| (rng.random_range(start..end), rng.random_range(1..30) as f64))
                .collect();
            requests.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            let mut series: Vec<TimeBucket> = Vec::new();
            let mut tagged: Vec<(f64, u32)> = Vec::new();
            for (t, d) in &requests {
                let b = bucket_start(*t, bucket);
                if series.last().map(|l| l.start_unix_nano) != Some(b) {
                    series.push(TimeBucket {
                        start_unix_nano: b,
                        ..TimeBucket::default()
                    });
                }
                series.last_mut().unwrap().count += 1;
                tagged.push((*d, series.len() as u32 - 1));
            }
            tagged.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let sample = TrackSample {
                count: requests.len() as u64,
                durations_ms: tagged.iter().map(|t| t.0).collect(),
                duration_buckets: tagged.iter().map(|t| t.1).collect(),
                ..TrackSample::default()
            };
            let p = LookPlan::new(window(start, end), bucket, interval);
            let arrivals = p.arrivals(&sample, &series).unwrap();
            let mut seen = Growing::new(&sample.durations_ms);
            for (j, end_j) in p.ends_unix_nano.iter().enumerate() {
                for &pos in arrivals.at(j) {
                    seen.insert(pos as usize);
                }
                let got: Vec<f64> = (1..=seen.size()).map(|r| seen.order_statistic(r)).collect();
                let mut want: Vec<f64> = requests
                    .iter()
                    .filter(|(t, _)| t < end_j)
                    .map(|r| r.1)
                    .collect();
                want.sort_by(f64::total_cmp);
                assert_eq!(got, want, "case {case}, look {j}");
            }
        }
        // Without bucket indices there are no arrivals.
        let bare = TrackSample {
            durations_ms: vec![1.0],
            ..TrackSample::default()
        };
        assert!(LookPlan::new(window(0, MIN), MIN, MIN)
            .arrivals(&bare, &[])
            .is_none());
    }

    #[test]
    fn cumulative_counts_equal_a_direct_count_up_to_each_look() {
        // Random request times and outcomes, bucketed as the SQL does (non-empty buckets
        // only); at every look the merged cumulative counts must equal counting the requests
        // before the look's end directly.
        let mut rng = StdRng::seed_from_u64(11);
        for case in 0..50 {
            let start = rng.random_range(0..5 * MIN);
            let end = start + rng.random_range(1..40) * MIN / 2;
            let bucket = MIN * rng.random_range(1..3);
            let interval = bucket * rng.random_range(1..5);
            let requests: Vec<(i64, bool)> = (0..rng.random_range(0..400))
                .map(|_| (rng.random_range(start..end), rng.random_bool(0.1)))
                .collect();
            let mut series: Vec<TimeBucket> = Vec::new();
            let mut sorted = requests.clone();
            sorted.sort();
            for (t, err) in &sorted {
                let b = bucket_start(*t, bucket);
                if series.last().map(|l| l.start_unix_nano) != Some(b) {
                    series.push(TimeBucket {
                        start_unix_nano: b,
                        ..TimeBucket::default()
                    });
                }
                let l = series.last_mut().unwrap();
                l.count += 1;
                l.errors += u64::from(*err);
            }
            let p = LookPlan::new(window(start, end), bucket, interval);
            let got = p.cumulative(&series);
            assert_eq!(got.len(), p.len());
            for (j, end_j) in p.ends_unix_nano.iter().enumerate() {
                let seen: Vec<_> = requests.iter().filter(|(t, _)| t < end_j).collect();
                let want = LookCounts {
                    requests: seen.len() as u64,
                    errors: seen.iter().filter(|(_, e)| *e).count() as u64,
                };
                assert_eq!(got[j], want, "case {case}, look {j}");
            }
            assert_eq!(got.last().unwrap().requests, requests.len() as u64);
        }
    }
}
