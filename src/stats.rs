//! Intervals for comparing replicated runs: the 95% interval of a mean, of a paired difference
//! (common random numbers: replication r of both variants ran with the same seed) and of an
//! unpaired one (Welch), all Student t.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// A mean with its 95% half-width, over `n` values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub mean: f64,
    pub half_width: f64,
    pub n: usize,
}

impl Interval {
    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }

    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }

    /// Whether zero lies inside the interval (bounds included): the difference is not told
    /// apart from no difference at this replication count.
    pub fn contains_zero(&self) -> bool {
        self.low() <= 0.0 && 0.0 <= self.high()
    }
}

/// The seed of replication `r` of a run seeded `seed`: replication 0 is `seed` itself (so its
/// outputs are the single run's), the others derived from `seed` and `r` alone (63 bits, so
/// `outagesim run --seed` takes them back).
pub fn replication_seed(seed: u64, r: u32) -> u64 {
    if r == 0 {
        seed
    } else {
        crate::engine::rng::derive_seed(seed, &[0x7265_706c, u64::from(r)]) >> 1
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom.
fn t975(df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df)
        .map(|t| t.inverse_cdf(0.975))
        .unwrap_or(f64::NAN)
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Sample variance (n - 1).
fn variance(xs: &[f64]) -> f64 {
    let m = mean(xs);
    xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64
}

/// The 95% interval of the mean of `xs` (None under 2 values).
pub fn mean_interval(xs: &[f64]) -> Option<Interval> {
    if xs.len() < 2 {
        return None;
    }
    let n = xs.len();
    let sd = variance(xs).max(0.0).sqrt();
    let half_width = if sd == 0.0 {
        0.0
    } else {
        t975((n - 1) as f64) * sd / (n as f64).sqrt()
    };
    Some(Interval {
        mean: mean(xs),
        half_width,
        n,
    })
}

/// The 95% interval of the mean of `alt[i] - base[i]`: replication `i` of both ran with the
/// same seed, so the noise they share cancels (None under 2 pairs or unequal lengths).
pub fn paired(base: &[f64], alt: &[f64]) -> Option<Interval> {
    if base.len() != alt.len() {
        return None;
    }
    let d: Vec<f64> = base.iter().zip(alt).map(|(b, a)| a - b).collect();
    mean_interval(&d)
}

/// The 95% interval of `mean(alt) - mean(base)` as if the two samples were independent
/// (Welch: unequal variances, Welch–Satterthwaite degrees of freedom).
pub fn unpaired(base: &[f64], alt: &[f64]) -> Option<Interval> {
    if base.len() < 2 || alt.len() < 2 {
        return None;
    }
    let (nb, na) = (base.len() as f64, alt.len() as f64);
    let (vb, va) = (variance(base).max(0.0) / nb, variance(alt).max(0.0) / na);
    let se2 = vb + va;
    let half_width = if se2 == 0.0 {
        0.0
    } else {
        let df = se2 * se2 / (vb * vb / (nb - 1.0) + va * va / (na - 1.0));
        t975(df) * se2.sqrt()
    };
    Some(Interval {
        mean: mean(alt) - mean(base),
        half_width,
        n: base.len().min(alt.len()),
    })
}

/// MSER-5 (White, 1997; Franklin and White, 2008): the number of leading values of `xs` to
/// drop as warm-up, a multiple of 5. The series is cut into batch means of 5 values; the
/// truncation d (in batches, searched over the first half) minimises the marginal standard
/// error of the batch means left, sum((Y_i - mean)^2) / (k - d)^2; the earliest of equal
/// minima wins. Fewer than 4 batches: 0.
pub fn mser5(xs: &[f64]) -> usize {
    let batches: Vec<f64> = xs
        .chunks_exact(5)
        .map(|c| c.iter().sum::<f64>() / 5.0)
        .collect();
    let k = batches.len();
    if k < 4 {
        return 0;
    }
    let mut best = (f64::INFINITY, 0);
    for d in 0..=k / 2 {
        let rest = &batches[d..];
        let n = rest.len() as f64;
        let m = rest.iter().sum::<f64>() / n;
        let stat = rest.iter().map(|y| (y - m) * (y - m)).sum::<f64>() / (n * n);
        if stat < best.0 {
            best = (stat, d);
        }
    }
    best.1 * 5
}

/// One run's per-bucket availability and mean latency, per client group: what
/// `timeseries_bands.csv` is made of.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientSeries {
    /// Each bucket's start, in seconds, as `timeseries.csv` writes it.
    pub starts: Vec<String>,
    pub groups: Vec<String>,
    /// `[bucket][group]`: the share of requests answered (None: no requests ended).
    pub availability: Vec<Vec<Option<f64>>>,
    /// `[bucket][group]`: the mean latency of answered requests (None: none answered).
    pub latency_s: Vec<Vec<Option<f64>>>,
}

/// The per-bucket client series of a run.
pub fn client_series(r: &crate::model::RunResult) -> ClientSeries {
    let clients: Vec<_> = r.client_series().collect();
    let mut out = ClientSeries {
        groups: clients.iter().map(|(g, _)| g.name.clone()).collect(),
        ..ClientSeries::default()
    };
    for b in 0..r.buckets() {
        out.starts
            .push(r.bucket.saturating_mul(b as u64).to_secs_string());
        out.availability
            .push(clients.iter().map(|(_, s)| s[b].availability()).collect());
        out.latency_s.push(
            clients
                .iter()
                .map(|(_, s)| (s[b].successes + s[b].degraded > 0).then(|| s[b].latency.mean_s()))
                .collect(),
        );
    }
    out
}

/// The columns of `timeseries_bands.csv` (a sweep's `bands.csv` puts `point` before them).
pub const BANDS_HEADER: &str = "time_s,client,replications,availability_mean,availability_low,\
     availability_high,latency_mean_s,latency_low_s,latency_high_s";

/// Per bucket and client group, the running mean and variance (Welford) of the availability
/// and of the mean latency over replications, fed one run at a time in run order: what
/// `timeseries_bands.csv` (and each point of a sweep's `bands.csv`) is made of. Its size is
/// buckets x groups, whatever the number of runs; the buckets and groups are the first run's.
#[derive(Clone, Debug, Default)]
pub struct Bands {
    starts: Vec<String>,
    groups: Vec<String>,
    /// `[bucket][group]`: availability, latency.
    cells: Vec<Vec<[crate::sweep::Moments; 2]>>,
    runs: u64,
}

impl Bands {
    /// Adds one run's series.
    pub fn push(&mut self, run: &ClientSeries) {
        if self.runs == 0 {
            self.starts = run.starts.clone();
            self.groups = run.groups.clone();
            self.cells = vec![vec![Default::default(); run.groups.len()]; run.starts.len()];
        }
        self.runs += 1;
        for (b, row) in self.cells.iter_mut().enumerate() {
            for (g, [avail, lat]) in row.iter_mut().enumerate() {
                let at =
                    |f: &Vec<Vec<Option<f64>>>| f.get(b).and_then(|r| r.get(g)).copied().flatten();
                if let Some(x) = at(&run.availability) {
                    avail.push(x);
                }
                if let Some(x) = at(&run.latency_s) {
                    lat.push(x);
                }
            }
        }
    }

    /// The number of runs added.
    pub fn runs(&self) -> u64 {
        self.runs
    }

    /// The CSV lines (per bucket, per group; [`BANDS_HEADER`]'s columns), each after `prefix`.
    pub fn write_rows(&self, prefix: &str, o: &mut String) {
        use std::fmt::Write as _;
        let cells = |m: &crate::sweep::Moments| match (m.mean(), m.half_width()) {
            (Some(mean), Some(h)) => format!("{mean:.6},{:.6},{:.6}", mean - h, mean + h),
            (Some(mean), None) => format!("{mean:.6},,"),
            _ => ",,".to_owned(),
        };
        for (start, row) in self.starts.iter().zip(&self.cells) {
            for (group, [avail, lat]) in self.groups.iter().zip(row) {
                let name = if group.contains([',', '"', '\n']) {
                    format!("\"{}\"", group.replace('"', "\"\""))
                } else {
                    group.clone()
                };
                let _ = writeln!(
                    o,
                    "{prefix}{start},{name},{},{},{}",
                    avail.n,
                    cells(avail),
                    cells(lat)
                );
            }
        }
    }
}

/// `timeseries_bands.csv` over replications of one scenario (same buckets and groups): per
/// bucket and client group, how many replications had a value, and the mean with its 95%
/// interval across them of the availability and of the mean latency (empty cells under two
/// values).
pub fn bands_csv(runs: &[ClientSeries]) -> Vec<u8> {
    let mut bands = Bands::default();
    for r in runs {
        bands.push(r);
    }
    let mut o = format!("{BANDS_HEADER}\n");
    bands.write_rows("", &mut o);
    o.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_seeds_start_at_the_run_seed() {
        assert_eq!(replication_seed(42, 0), 42);
        let seeds: Vec<u64> = (0..50).map(|r| replication_seed(42, r)).collect();
        let mut distinct = seeds.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 50);
        assert!(seeds.iter().all(|&s| s <= i64::MAX as u64));
        assert_ne!(replication_seed(43, 1), replication_seed(42, 1));
    }

    #[test]
    fn bands_are_the_mean_and_interval_across_replications() {
        let run = |a: f64, l: Option<f64>| ClientSeries {
            starts: vec!["0".into(), "60".into()],
            groups: vec!["users".into()],
            availability: vec![vec![Some(a)], vec![None]],
            latency_s: vec![vec![l], vec![None]],
        };
        let csv = String::from_utf8(bands_csv(&[
            run(0.9, Some(0.1)),
            run(1.0, None),
            run(0.8, Some(0.3)),
        ]))
        .unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        let i = mean_interval(&[0.9, 1.0, 0.8]).unwrap();
        let l = mean_interval(&[0.1, 0.3]).unwrap();
        assert_eq!(
            lines[1],
            format!(
                "0,users,3,{:.6},{:.6},{:.6},{:.6},{:.6},{:.6}",
                i.mean,
                i.low(),
                i.high(),
                l.mean,
                l.low(),
                l.high()
            )
        );
        assert_eq!(lines[2], "60,users,0,,,,,,");
    }

    #[test]
    fn bands_fold_runs_one_at_a_time_into_the_same_rows() {
        // Folding run by run gives the interval of the values across runs, per bucket.
        let run = |a: f64, b: f64| ClientSeries {
            starts: vec!["0".into(), "10".into()],
            groups: vec!["a,b".into()],
            availability: vec![vec![Some(a)], vec![Some(b)]],
            latency_s: vec![vec![Some(a / 10.0)], vec![None]],
        };
        let runs = [run(0.5, 1.0), run(0.7, 1.0), run(0.9, 0.8), run(0.6, 1.0)];
        let mut bands = Bands::default();
        for r in &runs {
            bands.push(r);
        }
        assert_eq!(bands.runs(), 4);
        let mut rows = String::new();
        bands.write_rows("3,", &mut rows);
        let lines: Vec<&str> = rows.lines().collect();
        let i = mean_interval(&[0.5, 0.7, 0.9, 0.6]).unwrap();
        assert!(lines[0].starts_with(&format!(
            "3,0,\"a,b\",4,{:.6},{:.6},{:.6},",
            i.mean,
            i.low(),
            i.high()
        )));
        assert!(lines[1].ends_with(",,,"), "{}", lines[1]);
        // bands_csv is the header and the same rows.
        let csv = String::from_utf8(bands_csv(&runs)).unwrap();
        assert_eq!(csv.lines().next(), Some(BANDS_HEADER));
        let mut bare = String::new();
        bands.write_rows("", &mut bare);
        assert_eq!(
            csv.lines().skip(1).collect::<Vec<_>>(),
            bare.lines().collect::<Vec<_>>()
        );
    }

    #[test]
    fn mser5_drops_the_transient() {
        // A ramp from 0 over the first 20 values, then noise around 10.
        let mut xs: Vec<f64> = (0..20).map(|i| i as f64 / 2.0).collect();
        xs.extend((0..80).map(|i| 10.0 + if i % 2 == 0 { 0.3 } else { -0.3 }));
        let d = mser5(&xs);
        assert!((15..=25).contains(&d), "{d}");
        assert_eq!(d % 5, 0);
        // A stationary series keeps (almost) everything; a short one everything.
        let flat: Vec<f64> = (0..100)
            .map(|i| if i % 3 == 0 { 1.0 } else { 0.0 })
            .collect();
        assert!(mser5(&flat) <= 10, "{}", mser5(&flat));
        assert_eq!(mser5(&[5.0, 1.0, 1.0, 1.0]), 0);
    }

    #[test]
    fn mean_interval_matches_student_t() {
        // Mean 3, sd sqrt(2.5), t(0.975, 4) = 2.7764.
        let i = mean_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert!((i.mean - 3.0).abs() < 1e-12);
        let want = 2.776_445 * 2.5f64.sqrt() / 5f64.sqrt();
        assert!((i.half_width - want).abs() < 1e-5, "{}", i.half_width);
        assert!(!i.contains_zero());
        assert_eq!(mean_interval(&[1.0]), None);
        let flat = mean_interval(&[2.0, 2.0, 2.0]).unwrap();
        assert_eq!((flat.mean, flat.half_width), (2.0, 0.0));
    }

    #[test]
    fn pairing_removes_shared_noise() {
        // The what-if adds 1 +- a little to noise the two share.
        let base = [10.0, 20.0, 5.0, 30.0, 15.0, 25.0];
        let alt = [11.1, 20.9, 6.0, 31.1, 15.9, 26.0];
        let p = paired(&base, &alt).unwrap();
        let u = unpaired(&base, &alt).unwrap();
        assert!((p.mean - u.mean).abs() < 1e-12);
        assert!(!p.contains_zero() && u.contains_zero());
        assert!(p.half_width * 10.0 < u.half_width, "{p:?} {u:?}");
        assert_eq!(paired(&base, &alt[..3]), None);
    }

    #[test]
    fn welch_with_equal_variances_is_the_pooled_t() {
        let base = [1.0, 2.0, 3.0];
        let alt = [2.0, 3.0, 4.0];
        let u = unpaired(&base, &alt).unwrap();
        // se = sqrt(1/3 + 1/3), df = 4.
        let want = 2.776_445 * (2.0f64 / 3.0).sqrt();
        assert!((u.mean - 1.0).abs() < 1e-12);
        assert!((u.half_width - want).abs() < 1e-5);
    }
}
