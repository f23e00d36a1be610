//! TEMPORARY: Mann–Whitney U test (normal approximation, tie and continuity correction).

use super::distributions::{normal_cdf, normal_sf};
use super::Alternative;

/// Result of [`mann_whitney_u`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U statistic of x.
    pub u: f64,
    /// p-value for the alternative.
    pub p_value: f64,
    /// z score of the normal approximation.
    pub z: Option<f64>,
    /// Whether the exact distribution was used (never, in this stand-in).
    pub exact: bool,
}

/// Mann–Whitney U test of x against y.
pub fn mann_whitney_u(x: &[f64], y: &[f64], alternative: Alternative) -> MannWhitney {
    let n1 = x.len() as f64;
    let n2 = y.len() as f64;
    if x.is_empty() || y.is_empty() {
        return MannWhitney {
            u: f64::NAN,
            p_value: 1.0,
            z: None,
            exact: false,
        };
    }
    let mut all: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len();
    let mut rank_x = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        for item in &all[i..=j] {
            if item.1 {
                rank_x += r;
            }
        }
        i = j + 1;
    }
    let u = rank_x - n1 * (n1 + 1.0) / 2.0;
    let mu = n1 * n2 / 2.0;
    let nn = n1 + n2;
    let var = n1 * n2 / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0)));
    if var <= 0.0 {
        return MannWhitney {
            u,
            p_value: 1.0,
            z: None,
            exact: false,
        };
    }
    let sd = var.sqrt();
    // U of x large means x larger; Greater (y larger) means U small.
    let (p, z) = match alternative {
        Alternative::TwoSided => {
            let z = ((u - mu).abs() - 0.5).max(0.0) / sd;
            ((2.0 * normal_sf(z)).min(1.0), z)
        }
        Alternative::Greater => {
            let z = (u - mu + 0.5) / sd;
            (normal_cdf(z), z)
        }
        Alternative::Less => {
            let z = (u - mu - 0.5) / sd;
            (normal_sf(z), z)
        }
    };
    MannWhitney {
        u,
        p_value: p,
        z: Some(z),
        exact: false,
    }
}
