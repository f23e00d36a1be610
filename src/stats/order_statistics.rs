//! Order statistics of a sample that grows: what a sequential quantile test asks of each arm
//! at every look (the `OrderStatisticInterface` of confseq's C++ core, Howard & Ramdas 2022).
//!
//! [`Sorted`] answers for a whole sorted sample. [`Growing`] answers for a subset of a sorted
//! sample that only gains members (the requests seen up to a look): a Fenwick tree (Fenwick,
//! "A new data structure for cumulative frequency tables", Software—Practice and Experience
//! 24(3), 1994) over the positions of the full sample counts the members, so adding a value
//! and every query cost O(log n) and no look copies or re-sorts the values.

/// The order-statistic queries of a sample (1-based ranks, as in confseq).
pub trait OrderStatistics {
    /// Number of values.
    fn size(&self) -> usize;
    /// The `rank`-th smallest value, `1 ≤ rank ≤ size()`.
    fn order_statistic(&self, rank: usize) -> f64;
    /// Number of values `< x`.
    fn count_less(&self, x: f64) -> usize;
    /// Number of values `≤ x`.
    fn count_less_or_equal(&self, x: f64) -> usize;
}

/// A whole sample, sorted ascending.
#[derive(Debug, Clone, Copy)]
pub struct Sorted<'a>(pub &'a [f64]);

impl OrderStatistics for Sorted<'_> {
    fn size(&self) -> usize {
        self.0.len()
    }
    fn order_statistic(&self, rank: usize) -> f64 {
        self.0[rank - 1]
    }
    fn count_less(&self, x: f64) -> usize {
        self.0.partition_point(|v| *v < x)
    }
    fn count_less_or_equal(&self, x: f64) -> usize {
        self.0.partition_point(|v| *v <= x)
    }
}

/// A subset of a sorted sample that grows by [`Growing::insert`]: the order statistics of the
/// members only.
#[derive(Debug, Clone)]
pub struct Growing<'a> {
    values: &'a [f64],
    /// Fenwick tree of membership counts over positions of `values` (1-based inside).
    tree: Vec<u32>,
    size: usize,
    /// Largest power of two ≤ `values.len()`, where the descent of [`Self::order_statistic`]
    /// starts.
    top: usize,
}

impl<'a> Growing<'a> {
    /// An empty subset of `values` (sorted ascending).
    pub fn new(values: &'a [f64]) -> Self {
        let n = values.len();
        let top = if n == 0 {
            0
        } else {
            1 << (usize::BITS - 1 - n.leading_zeros())
        };
        Growing {
            values,
            tree: vec![0; n + 1],
            size: 0,
            top,
        }
    }

    /// Adds the value at `position` (0-based) of the full sample. Each position is added once.
    pub fn insert(&mut self, position: usize) {
        let mut i = position + 1;
        while i < self.tree.len() {
            self.tree[i] += 1;
            i += i & i.wrapping_neg();
        }
        self.size += 1;
    }

    /// Members among the first `positions` positions of the full sample.
    fn prefix(&self, positions: usize) -> usize {
        let mut i = positions;
        let mut s = 0usize;
        while i > 0 {
            s += self.tree[i] as usize;
            i -= i & i.wrapping_neg();
        }
        s
    }
}

impl OrderStatistics for Growing<'_> {
    fn size(&self) -> usize {
        self.size
    }
    fn order_statistic(&self, rank: usize) -> f64 {
        // Fenwick descent: the largest prefix holding fewer than `rank` members.
        let (mut pos, mut left) = (0usize, rank);
        let mut step = self.top;
        while step > 0 {
            let next = pos + step;
            if next < self.tree.len() && (self.tree[next] as usize) < left {
                pos = next;
                left -= self.tree[next] as usize;
            }
            step >>= 1;
        }
        self.values[pos]
    }
    fn count_less(&self, x: f64) -> usize {
        self.prefix(self.values.partition_point(|v| *v < x))
    }
    fn count_less_or_equal(&self, x: f64) -> usize {
        self.prefix(self.values.partition_point(|v| *v <= x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    #[test]
    fn growing_subset_answers_as_the_sorted_members() {
        let mut rng = StdRng::seed_from_u64(5);
        for n in [1usize, 2, 3, 7, 8, 9, 100, 257] {
            // Few distinct values, so ties are common.
            let mut values: Vec<f64> = (0..n).map(|_| rng.random_range(0..20) as f64).collect();
            values.sort_by(f64::total_cmp);
            let mut order: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                order.swap(i, rng.random_range(0..=i));
            }
            let mut g = Growing::new(&values);
            let mut members = Vec::new();
            for &p in &order {
                g.insert(p);
                members.push(values[p]);
                members.sort_by(f64::total_cmp);
                let s = Sorted(&members);
                assert_eq!(g.size(), s.size());
                for r in 1..=members.len() {
                    assert_eq!(g.order_statistic(r), s.order_statistic(r), "n {n} rank {r}");
                }
                for x in [-1.0, 0.0, 3.0, 3.5, 19.0, 25.0] {
                    assert_eq!(g.count_less(x), s.count_less(x));
                    assert_eq!(g.count_less_or_equal(x), s.count_less_or_equal(x));
                }
            }
        }
    }
}
