//! Latin-hypercube designs: `n` points in the box of the sampled ranges, each range cut into
//! `n` equal-probability strata and every stratum used exactly once per dimension, so even a
//! few points cover each parameter's whole range (McKay, Beckman and Conover, 1979).
//!
//! The draw is a pure function of the sweep seed, the ranges and `n`.

use super::Param;
use super::file::Located;
use crate::engine::SimTime;
use crate::engine::rng::{below, derive_seed, entity_stream, unit_f64};

/// One end of a numeric range as written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    Int(i64),
    Float(f64),
    Duration(SimTime),
}

/// What values a sampled parameter takes.
#[derive(Clone, Debug, PartialEq)]
pub enum Range {
    /// Whole numbers from `lo` to `hi` inclusive, equally likely (or log-uniformly spread).
    Int { lo: i64, hi: i64, log: bool },
    /// Real numbers from `lo` to `hi`.
    Float { lo: f64, hi: f64, log: bool },
    /// Durations from `lo` to `hi` (nanoseconds), printed as durations.
    Duration { lo: u64, hi: u64, log: bool },
    /// One of the values, equally likely.
    Choice(Vec<String>),
}

impl Range {
    /// A numeric range from its bounds: both whole numbers give whole numbers, both durations
    /// durations; a whole number with a decimal gives decimals.
    pub fn new(lo: Bound, hi: Bound, log: bool) -> Result<Range, String> {
        let r = match (lo, hi) {
            (Bound::Int(a), Bound::Int(b)) => Range::Int { lo: a, hi: b, log },
            (Bound::Duration(a), Bound::Duration(b)) => Range::Duration {
                lo: a.0,
                hi: b.0,
                log,
            },
            (Bound::Duration(_), _) | (_, Bound::Duration(_)) => {
                return Err("both bounds must be durations, or both numbers".into());
            }
            (a, b) => Range::Float {
                lo: num(a),
                hi: num(b),
                log,
            },
        };
        let (a, b) = match r {
            Range::Int { lo, hi, .. } => (lo as f64, hi as f64),
            Range::Float { lo, hi, .. } => (lo, hi),
            Range::Duration { lo, hi, .. } => (lo as f64, hi as f64),
            Range::Choice(_) => unreachable!("built above as numeric"),
        };
        if !a.is_finite() || !b.is_finite() || a > b {
            return Err(format!("low {} is above high {}", show(&r, a), show(&r, b)));
        }
        if log && a <= 0.0 {
            return Err(format!(
                "a log-uniform range needs a low bound above 0, found {}",
                show(&r, a)
            ));
        }
        Ok(r)
    }

    /// The value at quantile `u` in [0, 1), as a `--set` value.
    pub fn at(&self, u: f64) -> String {
        match self {
            Range::Choice(v) => v[((u * v.len() as f64) as usize).min(v.len() - 1)].clone(),
            Range::Int { lo, hi, log } => {
                if *log {
                    // Log-uniform over [lo, hi + 1), floored: each whole number gets the mass
                    // of its unit interval.
                    let x = interp(*lo as f64, (*hi + 1) as f64, u, true).floor() as i64;
                    x.clamp(*lo, *hi).to_string()
                } else {
                    let span = (*hi - *lo) as f64 + 1.0;
                    (*lo + (u * span) as i64).min(*hi).to_string()
                }
            }
            Range::Float { lo, hi, log } => fmt_sig(interp(*lo, *hi, u, *log)),
            Range::Duration { lo, hi, log } => {
                let ns = interp(*lo as f64, *hi as f64, u, *log);
                // Whole milliseconds when the range is wider than a second: readable values.
                let step = if hi - lo >= 1_000_000_000 { 1e6 } else { 1.0 };
                let ns = ((ns / step).round() * step).clamp(*lo as f64, *hi as f64);
                SimTime(ns as u64).to_string()
            }
        }
    }
}

fn num(b: Bound) -> f64 {
    match b {
        Bound::Int(i) => i as f64,
        Bound::Float(f) => f,
        Bound::Duration(d) => d.0 as f64,
    }
}

fn show(r: &Range, x: f64) -> String {
    match r {
        Range::Duration { .. } => SimTime(x as u64).to_string(),
        _ => format!("{x}"),
    }
}

fn interp(lo: f64, hi: f64, u: f64, log: bool) -> f64 {
    if log {
        (lo.ln() + u * (hi.ln() - lo.ln())).exp().clamp(lo, hi)
    } else {
        lo + u * (hi - lo)
    }
}

/// Six significant digits, in Rust's shortest form of the rounded number.
fn fmt_sig(x: f64) -> String {
    let r: f64 = format!("{x:.5e}").parse().unwrap_or(x);
    format!("{r}")
}

/// A sampled parameter: its path (with where it was written) and range.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranged {
    pub path: Located<String>,
    pub range: Range,
}

/// `[sample]`: how many points, and the ranges.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub points: usize,
    pub ranges: Vec<Ranged>,
}

impl Sample {
    /// Draws the design: one parameter per range, each with `points` values (value `j` of
    /// every parameter makes sample point `j`).
    pub fn draw(&self, seed: u64) -> Vec<Param> {
        let n = self.points;
        // A stream of its own, apart from every run's (runs use [point, replication]).
        let mut rng = entity_stream(derive_seed(seed, &[u64::MAX, n as u64]), 0);
        self.ranges
            .iter()
            .map(|r| {
                // A random permutation of the strata (Fisher-Yates), then a uniform point in
                // each stratum.
                let mut strata: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    let j = below(&mut rng, i as u64 + 1) as usize;
                    strata.swap(i, j);
                }
                let values = strata
                    .iter()
                    .map(|&s| {
                        let u = (s as f64 + unit_f64(&mut rng)) / n as f64;
                        r.range.at(u.min(1.0 - f64::EPSILON))
                    })
                    .collect();
                Param {
                    path: r.path.value.clone(),
                    values,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranged(path: &str, range: Range) -> Ranged {
        Ranged {
            path: Located {
                value: path.into(),
                line: 1,
                column: 1,
            },
            range,
        }
    }

    #[test]
    fn every_stratum_is_used_once_per_dimension() {
        let n = 50;
        let s = Sample {
            points: n,
            ranges: vec![
                ranged(
                    "a",
                    Range::new(Bound::Float(0.0), Bound::Float(1.0), false).unwrap(),
                ),
                ranged(
                    "b",
                    Range::new(Bound::Float(1.0), Bound::Float(1e4), true).unwrap(),
                ),
            ],
        };
        let d = s.draw(42);
        assert_eq!(d.len(), 2);
        // Uniform: exactly one value per interval [k/n, (k+1)/n).
        let mut seen = vec![0; n];
        for v in &d[0].values {
            let x: f64 = v.parse().unwrap();
            seen[((x * n as f64) as usize).min(n - 1)] += 1;
        }
        assert!(seen.iter().all(|&c| c == 1), "{seen:?}");
        // Log-uniform: one value per interval of log10 width 4/n.
        let mut seen = vec![0; n];
        for v in &d[1].values {
            let x: f64 = v.parse().unwrap();
            let k = (x.log10() / 4.0 * n as f64) as usize;
            seen[k.min(n - 1)] += 1;
        }
        assert!(seen.iter().all(|&c| c == 1), "{seen:?}");
        // A pure function of the seed.
        assert_eq!(s.draw(42), d);
        assert_ne!(s.draw(43), d);
    }

    #[test]
    fn integers_durations_and_choices() {
        let ints = Range::new(Bound::Int(1), Bound::Int(5), false).unwrap();
        let got: Vec<String> = (0..5).map(|k| ints.at((k as f64 + 0.5) / 5.0)).collect();
        assert_eq!(got, ["1", "2", "3", "4", "5"]);
        let d = Range::new(
            Bound::Duration(SimTime::from_secs_f64(30.0)),
            Bound::Duration(SimTime::from_secs_f64(3600.0)),
            true,
        )
        .unwrap();
        assert_eq!(d.at(0.0), "30s");
        let mid = crate::engine::time::parse_duration(&d.at(0.5)).unwrap();
        // The geometric mean of 30 s and 1 h: 328.6 s.
        assert!((mid.as_secs_f64() - (30.0f64 * 3600.0).sqrt()).abs() < 0.01);
        let c = Range::Choice(vec!["shallow".into(), "deep".into()]);
        assert_eq!((c.at(0.1), c.at(0.9)), ("shallow".into(), "deep".into()));
        assert!(Range::new(Bound::Int(5), Bound::Int(1), false).is_err());
        assert!(Range::new(Bound::Float(0.0), Bound::Float(1.0), true).is_err());
        assert!(
            Range::new(
                Bound::Int(1),
                Bound::Duration(SimTime::from_secs_f64(1.0)),
                false
            )
            .is_err()
        );
        assert_eq!(fmt_sig(1.0 / 3.0), "0.333333");
    }
}
