//! Sweeps: seeded replications of a scenario over a grid of parameter values, each run's
//! metrics as one row of `runs.csv`, aggregated per point into `points.csv` (mean, standard
//! deviation, 95% Student-t confidence interval).
//!
//! Everything here is a pure function of the plan: the points (the grid's cross product, first
//! parameter varying slowest), each run's seed (from the sweep seed, the point and the
//! replication alone) and the rows' bytes, so the files are identical whatever the thread
//! count or the order in which runs finish. Writing files and driving threads is the CLI's job;
//! this layer produces rows and aggregates.

use std::fmt::Write as _;

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::engine::rng::derive_seed;
use crate::model::spec::Spec;
use crate::model::summary::Summary;
use crate::scenario;

/// One swept parameter: a dotted path, as `--set` takes it, and its values (as `--set`
/// values: TOML, or a plain string).
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub path: String,
    pub values: Vec<String>,
}

/// What to run: the base scenario, fixed overrides, the grid, replications and seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The base scenario's path as given (for messages) and its text.
    pub file: String,
    pub text: String,
    /// Fixed overrides for every run (`--set`), applied before the point's values.
    pub sets: Vec<String>,
    pub params: Vec<Param>,
    pub replications: u32,
    pub seed: u64,
}

impl Plan {
    /// The number of points: the product of the value counts (1 without parameters).
    pub fn points(&self) -> usize {
        self.params.iter().map(|p| p.values.len()).product()
    }

    /// The number of runs.
    pub fn runs(&self) -> u64 {
        self.points() as u64 * u64::from(self.replications)
    }

    /// The values of point `p`, one per parameter (the first parameter varies slowest).
    pub fn values(&self, p: usize) -> Vec<&str> {
        let mut rest = p;
        let mut out = vec![""; self.params.len()];
        for (k, param) in self.params.iter().enumerate().rev() {
            let n = param.values.len();
            out[k] = &param.values[rest % n];
            rest /= n;
        }
        out
    }

    /// The parameters' overrides of point `p`, `path=value`, one per parameter.
    fn assignments(&self, p: usize) -> Vec<String> {
        self.params
            .iter()
            .zip(self.values(p))
            .map(|(param, v)| format!("{}={v}", param.path))
            .collect()
    }

    /// Point `p` for messages: "a=1, b=x".
    pub fn label(&self, p: usize) -> String {
        self.assignments(p).join(", ")
    }

    /// The overrides of point `p`: the fixed ones, then one per parameter.
    pub fn point_sets(&self, p: usize) -> Vec<String> {
        let mut sets = self.sets.clone();
        sets.extend(self.assignments(p));
        sets
    }

    /// The seed of replication `r` of point `p`: from the sweep seed, `p` and `r` alone (63 bits,
    /// so `outagesim run --seed` takes it back).
    pub fn run_seed(&self, p: usize, r: u32) -> u64 {
        derive_seed(self.seed, &[p as u64, u64::from(r)]) >> 1
    }

    /// Loads every point's scenario, so that a bad path or value is reported before anything
    /// runs. The error names the point and its values.
    pub fn load_points(&self) -> Result<Vec<Spec>, String> {
        let mut specs = Vec::with_capacity(self.points());
        let mut errors = Vec::new();
        for p in 0..self.points() {
            match scenario::load(&self.text, &self.file, &self.point_sets(p)) {
                Ok(s) => specs.push(s),
                Err(e) => {
                    // One report per distinct problem: a bad value shows at every point that
                    // has it, but a bad path at all of them.
                    let text = e.to_string();
                    if !errors.iter().any(|(_, t)| *t == text) {
                        errors.push((p, text));
                    }
                }
            }
        }
        if errors.is_empty() {
            return Ok(specs);
        }
        let mut msg = String::new();
        for (p, text) in errors {
            if !msg.is_empty() {
                msg.push('\n');
            }
            if self.params.is_empty() {
                let _ = write!(msg, "{text}");
            } else {
                let _ = write!(msg, "{text}\n  (sweep point {p}: {})", self.label(p));
            }
        }
        Err(msg)
    }
}

/// The metric columns of a sweep whose base scenario has client groups `clients`.
pub fn metric_names(clients: &[String]) -> Vec<String> {
    let mut names: Vec<String> = [
        "availability",
        "worst_downtime_s",
        "time_to_detect_s",
        "time_to_recover_s",
        "clients_impacted",
        "peak_impacted_fraction",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for c in clients {
        names.push(format!("{c}.availability"));
        names.push(format!("{c}.downtime_s"));
        names.push(format!("{c}.latency_mean_s"));
        names.push(format!("{c}.latency_p99_s"));
    }
    names
}

/// A run's metrics, in [`metric_names`] order (None: not defined for this run, e.g. the time to
/// recover of a run without impact).
pub fn metric_values(s: &Summary, clients: &[String]) -> Vec<Option<f64>> {
    let i = &s.incident;
    let mut v = vec![
        Some(1.0 - s.blast_radius.failed_request_fraction),
        Some(s.clients.values().map(|c| c.downtime_s).fold(0.0, f64::max)),
        i.time_to_detect_s,
        i.time_to_recover_s,
        Some(s.blast_radius.clients.impacted.len() as f64),
        Some(s.blast_radius.clients.peak_fraction),
    ];
    for c in clients {
        let c = s.clients.get(c);
        v.push(c.map(|c| c.availability));
        v.push(c.map(|c| c.downtime_s));
        v.push(c.map(|c| c.latency_s.mean));
        v.push(c.map(|c| c.latency_s.p99));
    }
    v
}

/// A value as written in `runs.csv`: Rust's shortest round-trip form, so reading it back gives
/// the same number (aggregates from a resumed file are the same bits).
pub fn cell(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// Running mean and variance (Welford), fed in run order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Moments {
    pub n: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// Sample standard deviation (n - 1).
    pub fn sd(&self) -> Option<f64> {
        (self.n > 1).then(|| (self.m2 / (self.n - 1) as f64).max(0.0).sqrt())
    }

    /// The 95% confidence interval of the mean, Student t with n - 1 degrees of freedom.
    pub fn ci95(&self) -> Option<(f64, f64)> {
        let sd = self.sd()?;
        let t = StudentsT::new(0.0, 1.0, (self.n - 1) as f64)
            .ok()?
            .inverse_cdf(0.975);
        let h = t * sd / (self.n as f64).sqrt();
        Some((self.mean - h, self.mean + h))
    }
}

/// `runs.csv`'s header.
pub fn runs_header(plan: &Plan, metrics: &[String]) -> Vec<String> {
    let mut h: Vec<String> = vec!["point".into(), "replication".into(), "seed".into()];
    h.extend(plan.params.iter().map(|p| p.path.clone()));
    h.extend(metrics.iter().cloned());
    h
}

/// `points.csv`'s header.
pub fn points_header(plan: &Plan, metrics: &[String]) -> Vec<String> {
    let mut h: Vec<String> = vec!["point".into()];
    h.extend(plan.params.iter().map(|p| p.path.clone()));
    h.push("runs".into());
    for m in metrics {
        for suffix in ["mean", "sd", "ci95_low", "ci95_high", "n"] {
            h.push(format!("{m}_{suffix}"));
        }
    }
    h
}

/// One row of `runs.csv`.
pub fn run_row(plan: &Plan, p: usize, r: u32, values: &[Option<f64>]) -> Vec<String> {
    let mut row = vec![
        p.to_string(),
        r.to_string(),
        plan.run_seed(p, r).to_string(),
    ];
    row.extend(plan.values(p).iter().map(|v| (*v).to_owned()));
    row.extend(values.iter().map(|v| cell(*v)));
    row
}

/// Per point, per metric: the moments of the runs finished so far.
#[derive(Clone, Debug)]
pub struct Aggregate {
    pub points: Vec<Vec<Moments>>,
    pub runs: Vec<u64>,
}

impl Aggregate {
    pub fn new(points: usize, metrics: usize) -> Aggregate {
        Aggregate {
            points: vec![vec![Moments::default(); metrics]; points],
            runs: vec![0; points],
        }
    }

    /// Adds a run of point `p`, from its cells as written (so a resumed sweep adds the same
    /// numbers).
    pub fn push(&mut self, p: usize, cells: &[String]) {
        self.runs[p] += 1;
        for (m, c) in self.points[p].iter_mut().zip(cells) {
            if let Ok(x) = c.parse::<f64>() {
                m.push(x);
            }
        }
    }

    /// One row of `points.csv`.
    pub fn point_row(&self, plan: &Plan, p: usize) -> Vec<String> {
        let mut row = vec![p.to_string()];
        row.extend(plan.values(p).iter().map(|v| (*v).to_owned()));
        row.push(self.runs[p].to_string());
        for m in &self.points[p] {
            let ci = m.ci95();
            row.push(cell(m.mean()));
            row.push(cell(m.sd()));
            row.push(cell(ci.map(|c| c.0)));
            row.push(cell(ci.map(|c| c.1)));
            row.push(m.n.to_string());
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(params: &[(&str, &[&str])]) -> Plan {
        Plan {
            file: "x.toml".into(),
            text: String::new(),
            sets: vec!["scenario.duration=1m".into()],
            params: params
                .iter()
                .map(|(p, v)| Param {
                    path: (*p).into(),
                    values: v.iter().map(|s| (*s).into()).collect(),
                })
                .collect(),
            replications: 3,
            seed: 9,
        }
    }

    #[test]
    fn points_are_the_cross_product_first_parameter_slowest() {
        let p = plan(&[("a", &["1", "2"]), ("b", &["x", "y", "z"])]);
        assert_eq!(p.points(), 6);
        assert_eq!(p.runs(), 18);
        assert_eq!(p.values(0), vec!["1", "x"]);
        assert_eq!(p.values(1), vec!["1", "y"]);
        assert_eq!(p.values(5), vec!["2", "z"]);
        assert_eq!(p.point_sets(4), vec!["scenario.duration=1m", "a=2", "b=y"]);
        assert_eq!(plan(&[]).points(), 1);
    }

    #[test]
    fn seeds_depend_on_point_and_replication_only() {
        let a = plan(&[("a", &["1", "2"])]);
        let mut b = a.clone();
        b.params[0].values.push("3".into());
        b.replications = 10;
        assert_eq!(a.run_seed(1, 2), b.run_seed(1, 2));
        assert_ne!(a.run_seed(1, 2), a.run_seed(2, 1));
        assert!(a.run_seed(0, 0) <= i64::MAX as u64);
    }

    #[test]
    fn moments_and_student_t_interval() {
        let mut m = Moments::default();
        for x in [1.0, 2.0, 3.0, 4.0, 5.0] {
            m.push(x);
        }
        assert_eq!(m.mean(), Some(3.0));
        let sd = m.sd().unwrap();
        assert!((sd - 2.5f64.sqrt()).abs() < 1e-12);
        // t(0.975, 4) = 2.776445.
        let (lo, hi) = m.ci95().unwrap();
        let h = 2.776_445_105 * sd / 5f64.sqrt();
        assert!((lo - (3.0 - h)).abs() < 1e-6 && (hi - (3.0 + h)).abs() < 1e-6);
        let mut one = Moments::default();
        one.push(1.0);
        assert_eq!((one.sd(), one.ci95()), (None, None));
    }

    #[test]
    fn cells_round_trip() {
        for x in [0.1, 1.0 / 3.0, 1e-300, 123456.789] {
            assert_eq!(cell(Some(x)).parse::<f64>().unwrap(), x);
        }
        assert_eq!(cell(None), "");
    }
}
