//! Sweeps: seeded replications of a scenario over a grid of parameter values, each run's
//! metrics as one row of `runs.csv`, aggregated per point into `points.csv` (mean, standard
//! deviation, 95% Student-t confidence interval).
//!
//! Everything here is a pure function of the plan: the points (the grid's cross product, first
//! parameter varying slowest), each run's seed (from the sweep seed, the point and the
//! replication alone) and the rows' bytes, so the files are identical whatever the thread
//! count or the order in which runs finish. Writing files and driving threads is the CLI's job;
//! this layer produces rows and aggregates.

pub mod file;
pub mod sample;

use std::fmt::Write as _;

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::engine::rng::derive_seed;
use crate::model::spec::Spec;
use crate::model::summary::Summary;
use crate::scenario;

/// One swept parameter: a dotted path, as `--set` takes it, and its values (as `--set`
/// values: TOML, or a plain string).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// The grid: its points are the cross product of the values.
    pub params: Vec<Param>,
    /// Sampled parameters, all with the same number of values: value `j` of each makes sample
    /// point `j`. Every grid point is combined with every sample point.
    pub sample: Vec<Param>,
    pub replications: u32,
    pub seed: u64,
}

/// At most this many points in one sweep: each point's scenario is loaded and checked before
/// anything runs, so a runaway grid would exhaust memory first.
pub const MAX_POINTS: usize = 100_000;

impl Plan {
    /// The number of points: the product of the grid's value counts times the sample points
    /// (1 without parameters).
    pub fn points(&self) -> usize {
        self.params
            .iter()
            .map(|p| p.values.len())
            .product::<usize>()
            * self.sample_points()
    }

    fn sample_points(&self) -> usize {
        self.sample.first().map_or(1, |p| p.values.len())
    }

    /// Every parameter: the grid's, then the sampled ones (the order of their columns).
    pub fn all_params(&self) -> impl Iterator<Item = &Param> {
        self.params.iter().chain(&self.sample)
    }

    /// The number of runs.
    pub fn runs(&self) -> u64 {
        self.points() as u64 * u64::from(self.replications)
    }

    /// The values of point `p`, one per parameter (grid, then sample). The grid's first
    /// parameter varies slowest, the sample point fastest.
    pub fn values(&self, p: usize) -> Vec<&str> {
        let ns = self.sample_points();
        let (mut rest, j) = (p / ns, p % ns);
        let mut out = vec![""; self.params.len()];
        for (k, param) in self.params.iter().enumerate().rev() {
            let n = param.values.len();
            out[k] = &param.values[rest % n];
            rest /= n;
        }
        out.extend(self.sample.iter().map(|s| s.values[j].as_str()));
        out
    }

    /// The parameters' overrides of point `p`, `path=value`, one per parameter.
    fn assignments(&self, p: usize) -> Vec<String> {
        self.all_params()
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
    /// runs. The error names the point and its values; a plan of more than [`MAX_POINTS`]
    /// points is refused first.
    pub fn load_points(&self) -> Result<Vec<Spec>, String> {
        let counts = self.params.iter().map(|p| p.values.len());
        let points = counts
            .chain([self.sample_points()])
            .try_fold(1usize, usize::checked_mul)
            .filter(|n| *n <= MAX_POINTS);
        if points.is_none() {
            let mut sizes: Vec<String> = (self.params.iter())
                .map(|p| format!("{} ({} values)", p.path, p.values.len()))
                .collect();
            if !self.sample.is_empty() {
                sizes.push(format!("{} sample points", self.sample_points()));
            }
            return Err(format!(
                "the sweep has more than {MAX_POINTS} points: {}",
                sizes.join(" x ")
            ));
        }
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
            if self.params.is_empty() && self.sample.is_empty() {
                let _ = write!(msg, "{text}");
            } else {
                let _ = write!(msg, "{text}\n  (sweep point {p}: {})", self.label(p));
            }
        }
        Err(msg)
    }
}

/// A share of a sweep's runs, for running one sweep as several jobs (on a cluster): run `i`
/// belongs to shard `i mod count`, so every shard gets a similar mix of points. People and
/// folder names count shards from 1 (`2/4`, `shard-2-of-4`); `index` counts from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The whole sweep as one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// `I/N` with 1 <= I <= N.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "invalid shard '{s}': expected I/N with 1 <= I <= N, e.g. 2/8 (or auto inside a Slurm array task or a Kubernetes Indexed Job)"
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n): (u32, u32) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if i == 0 || i > n {
            return Err(bad());
        }
        Ok(Shard {
            index: i - 1,
            count: n,
        })
    }

    /// The number of runs of a `total`-run sweep in this shard.
    pub fn len(&self, total: u64) -> u64 {
        let (i, n) = (u64::from(self.index), u64::from(self.count));
        if i >= total {
            0
        } else {
            (total - i).div_ceil(n)
        }
    }

    /// Run number of this shard's `k`-th run.
    pub fn run(&self, k: u64) -> u64 {
        u64::from(self.index) + k * u64::from(self.count)
    }

    /// The shard's folder under the output directory: `shard-2-of-4`.
    pub fn dir_name(&self) -> String {
        format!("shard-{}-of-{}", self.index + 1, self.count)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

/// The shard settings a scheduler gives a task, from its environment: a Slurm array task
/// (`SLURM_ARRAY_TASK_ID` with `SLURM_ARRAY_TASK_COUNT`, or `SLURM_ARRAY_TASK_MIN`/`MAX`) or a
/// Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`). With `count` given (`--shards`, or
/// `OUTAGESIM_SHARDS`), the task ID or index is the shard number counted from 0 (so a Slurm
/// rerun of `--array=1,3` runs shards 2/N and 4/N); without it, the array's size is the count
/// and its first task the first shard. `env` looks a variable up.
pub fn shard_from_env(
    count: Option<u32>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Shard, String> {
    let num = |name: &str| -> Result<Option<u64>, String> {
        match env(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{name}={v} is not a whole number")),
        }
    };
    let count = match count {
        Some(c) => Some(u64::from(c)),
        None => num("OUTAGESIM_SHARDS")?,
    };
    if count == Some(0) {
        return Err("the shard count must be at least 1".into());
    }
    let (index, count, from) = if let Some(id) = num("SLURM_ARRAY_TASK_ID")? {
        match count {
            Some(c) => (id, c, "SLURM_ARRAY_TASK_ID"),
            None => {
                let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                let n = match (num("SLURM_ARRAY_TASK_COUNT")?, num("SLURM_ARRAY_TASK_MAX")?) {
                    (Some(n), _) => n,
                    (None, Some(max)) if max >= min => max - min + 1,
                    _ => {
                        return Err("SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MIN/MAX; give --shards N".into());
                    }
                };
                (
                    id.saturating_sub(min),
                    n,
                    "SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN",
                )
            }
        }
    } else if let Some(idx) = num("JOB_COMPLETION_INDEX")? {
        let Some(c) = count else {
            return Err("JOB_COMPLETION_INDEX is set but the number of shards is not: give --shards N (the Job's completions) or set OUTAGESIM_SHARDS".into());
        };
        (idx, c, "JOB_COMPLETION_INDEX")
    } else {
        return Err("--shard auto found no scheduler environment (SLURM_ARRAY_TASK_ID of a Slurm array task, or JOB_COMPLETION_INDEX of a Kubernetes Indexed Job); outside a scheduler give --shard I/N".into());
    };
    if index >= count || count > u64::from(u32::MAX) {
        return Err(format!(
            "{from} gives shard {} of {count}, beyond the last (task IDs count from 0 when --shards is given)",
            index + 1
        ));
    }
    Ok(Shard {
        index: index as u32,
        count: count as u32,
    })
}

/// A sweep's description, written as `sweep.json` beside its results: what was run, so that
/// shards can be checked to belong together and merged, and plots drawn again.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    /// The base scenario's name, path as given and a digest of its text.
    pub scenario: String,
    pub base: String,
    pub base_digest: String,
    pub sets: Vec<String>,
    pub grid: Vec<Param>,
    pub sample: Vec<Param>,
    pub replications: u32,
    pub seed: u64,
    pub points: usize,
    pub runs: u64,
    pub metrics: Vec<String>,
    /// The `[plot]` settings of the sweep file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plot: Option<serde_json::Value>,
    /// Only in a shard's folder: which shard, and the command that ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// `sweep --precision`: the target every point ran replications towards (then
    /// `replications` is the first batch and `runs` the first batches' runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
}

/// A shard's place in its sweep, counted from 1, and how it was run.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardInfo {
    pub index: u32,
    pub count: u32,
    /// The command line (arguments after the program), to rerun a missing shard.
    pub command: Vec<String>,
}

/// The manifest format written by this version.
pub const MANIFEST_FORMAT: &str = "outagesim-sweep/1";

impl Manifest {
    pub fn new(plan: &Plan, scenario: &str, metrics: &[String]) -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT.into(),
            scenario: scenario.into(),
            base: plan.file.clone(),
            base_digest: digest(plan.text.as_bytes()),
            sets: plan.sets.clone(),
            grid: plan.params.clone(),
            sample: plan.sample.clone(),
            replications: plan.replications,
            seed: plan.seed,
            points: plan.points(),
            runs: plan.runs(),
            metrics: metrics.to_vec(),
            plot: None,
            shard: None,
            precision: None,
        }
    }

    /// The plan again (without the base scenario's text, which merging does not need).
    pub fn plan(&self) -> Plan {
        Plan {
            file: self.base.clone(),
            text: String::new(),
            sets: self.sets.clone(),
            params: self.grid.clone(),
            sample: self.sample.clone(),
            replications: self.replications,
            seed: self.seed,
        }
    }

    /// `sweep.json`'s bytes: pretty JSON and a newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("a manifest always serialises");
        v.push(b'\n');
        v
    }

    /// The manifest without its shard part: what the whole sweep's folder holds.
    pub fn whole(&self) -> Manifest {
        Manifest {
            shard: None,
            ..self.clone()
        }
    }
}

/// A 64-bit FNV-1a digest, in hex: enough to tell that two shards ran different base files.
/// The checksum of one row of `runs.csv` (its cells, not their CSV spelling), as written one
/// per line in `runs.csv.sums`: 8 hex digits of a CRC-32 over the cells, each followed by a
/// unit separator, so a changed, dropped, added or cut cell changes it.
pub fn row_sum<'a>(cells: impl IntoIterator<Item = &'a str>) -> String {
    let mut h = crc32fast::Hasher::new();
    for c in cells {
        h.update(c.as_bytes());
        h.update(&[0x1f]);
    }
    format!("{:08x}", h.finalize())
}

/// Bytes of one line of `runs.csv.sums`.
pub const ROW_SUM_LINE: u64 = 9;

pub fn digest(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The client groups of a scenario, in file order: the per-group metric columns.
pub fn client_names(spec: &Spec) -> Vec<String> {
    spec.groups
        .iter()
        .filter(|g| matches!(g.kind, crate::model::spec::KindSpec::Client(_)))
        .map(|g| g.name.clone())
        .collect()
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
        let latency = c.and_then(|c| c.latency_s.as_ref());
        v.push(latency.map(|l| l.mean));
        v.push(latency.map(|l| l.p99));
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

    /// The half-width of the 95% confidence interval of the mean, Student t with n - 1
    /// degrees of freedom (None under 2 values).
    pub fn half_width(&self) -> Option<f64> {
        let sd = self.sd()?;
        let t = StudentsT::new(0.0, 1.0, (self.n - 1) as f64)
            .ok()?
            .inverse_cdf(0.975);
        Some(t * sd / (self.n as f64).sqrt())
    }

    /// The 95% confidence interval of the mean, Student t with n - 1 degrees of freedom.
    pub fn ci95(&self) -> Option<(f64, f64)> {
        let h = self.half_width()?;
        Some((self.mean - h, self.mean + h))
    }
}

/// `runs.csv`'s header.
pub fn runs_header(plan: &Plan, metrics: &[String]) -> Vec<String> {
    let mut h: Vec<String> = vec!["point".into(), "replication".into(), "seed".into()];
    h.extend(plan.all_params().map(|p| p.path.clone()));
    h.extend(metrics.iter().cloned());
    h
}

/// `points.csv`'s header.
pub fn points_header(plan: &Plan, metrics: &[String]) -> Vec<String> {
    let mut h: Vec<String> = vec!["point".into()];
    h.extend(plan.all_params().map(|p| p.path.clone()));
    h.push("runs".into());
    for m in metrics {
        for suffix in ["mean", "sd", "ci95_low", "ci95_high", "n"] {
            h.push(format!("{m}_{suffix}"));
        }
    }
    h
}

/// `points.csv`'s header of a sweep run to a precision: [`points_header`], then the target's
/// metric's 95% half-width, the target half-width at the point, and whether it was met.
pub fn precision_header(plan: &Plan, metrics: &[String]) -> Vec<String> {
    let mut h = points_header(plan, metrics);
    h.extend(
        ["precision_half_width", "precision_target", "precision_met"]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    h
}

/// Runs run `i` of the sweep (point `i / replications`) and returns its `runs.csv` row with
/// the metric columns `keep` (indices into [`metric_names`] of `clients`). `specs` holds every
/// point's scenario ([`Plan::load_points`]).
pub fn run_one(
    plan: &Plan,
    specs: &[Spec],
    clients: &[String],
    keep: &[usize],
    guard: &crate::model::Guard,
    i: u64,
) -> anyhow::Result<Vec<String>> {
    let reps = u64::from(plan.replications);
    let (p, r) = ((i / reps) as usize, (i % reps) as u32);
    run_point(plan, specs, clients, keep, guard, p, r, false).map(|(row, _)| row)
}

/// Runs replication `r` of point `p` and returns its `runs.csv` row (as [`run_one`]) and, with
/// `series`, its per-bucket client series (for `bands.csv`).
#[allow(clippy::too_many_arguments)]
pub fn run_point(
    plan: &Plan,
    specs: &[Spec],
    clients: &[String],
    keep: &[usize],
    guard: &crate::model::Guard,
    p: usize,
    r: u32,
    series: bool,
) -> anyhow::Result<(Vec<String>, Option<crate::stats::ClientSeries>)> {
    let mut spec = specs[p].clone();
    spec.seed = plan.run_seed(p, r);
    let res = crate::model::run_guarded(
        spec,
        &crate::model::RunOptions::threads(1),
        guard,
        &mut |_| {},
    )?;
    let s = crate::model::summary::summarize(&res, 0.0);
    let all = metric_values(&s, clients);
    let kept: Vec<Option<f64>> = keep.iter().map(|&m| all[m]).collect();
    let series = series.then(|| crate::stats::client_series(&res));
    Ok((run_row(plan, p, r, &kept), series))
}

/// Columns of a `runs.csv` row before the parameters: point, replication, seed.
pub const RUN_KEY_COLUMNS: usize = 3;

/// Whether a `runs.csv` row (its cells) starts as run `r` of point `p` of this plan: same
/// point, replication, seed and parameter values.
pub fn is_run<'a>(plan: &Plan, p: usize, r: u32, cells: impl Iterator<Item = &'a str>) -> bool {
    let expect = run_row(plan, p, r, &[]);
    let mut cells = cells;
    expect.iter().all(|e| cells.next() == Some(e.as_str())) && cells.next().is_some()
}

/// One row of `runs.csv`.
pub fn run_row(plan: &Plan, p: usize, r: u32, values: &[Option<f64>]) -> Vec<String> {
    let mut row = vec![
        p.to_string(),
        r.to_string(),
        plan.run_seed(p, r).to_string(),
    ];
    row.extend(plan.values(p).iter().map(|v| (*v).to_owned()));
    debug_assert_eq!(row.len(), RUN_KEY_COLUMNS + plan.all_params().count());
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

    /// One row of `points.csv` of a sweep run to `precision` (its metric at `metric` among the
    /// kept ones): [`Aggregate::point_row`], then the half-width, the target and whether it was
    /// met.
    pub fn precision_row(
        &self,
        plan: &Plan,
        p: usize,
        precision: &Precision,
        metric: usize,
    ) -> Vec<String> {
        let mut row = self.point_row(plan, p);
        let m = &self.points[p][metric];
        row.push(cell(m.half_width()));
        row.push(cell(m.mean().map(|mean| precision.target(mean))));
        row.push(precision.met(m).to_string());
        row
    }
}

/// `sweep --precision METRIC=HALF_WIDTH`: replications are added to each point, a batch at a
/// time, until the 95% interval of the metric's mean is at most the target half-width wide on
/// either side (absolute, or relative to the mean's magnitude), or the point has
/// `max_replications`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Precision {
    pub metric: String,
    pub half_width: f64,
    /// Whether `half_width` is a fraction of the mean's magnitude (given with `%`).
    pub relative: bool,
    /// Replications of a batch after the first (the sweep's `replications` is the first).
    pub batch: u32,
    pub max_replications: u32,
}

impl Precision {
    /// `METRIC=HALF_WIDTH` (`HALF_WIDTH` a positive number, or a percentage of the mean with
    /// `%`), the sweep's first batch and the cap (default [`DEFAULT_MAX_FACTOR`] times the
    /// first batch), checked against the sweep's metric columns.
    pub fn parse(
        arg: &str,
        first: u32,
        max: Option<u32>,
        metrics: &[String],
    ) -> Result<Precision, String> {
        let Some((metric, target)) = arg.split_once('=') else {
            return Err(format!(
                "--precision {arg}: expected METRIC=HALF_WIDTH, e.g. availability=0.1% (relative to the mean) or availability=0.0005 (absolute)"
            ));
        };
        let metric = metric.trim();
        if !metrics.iter().any(|m| m == metric) {
            let names: Vec<&str> = metrics.iter().map(String::as_str).collect();
            return Err(format!(
                "--precision {arg}: unknown metric '{metric}'\n  hint: {}",
                crate::scenario::suggest(metric, "metrics", &names)
            ));
        }
        let target = target.trim();
        let (number, relative) = match target.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (target, false),
        };
        let half_width = number
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .map(|x| if relative { x / 100.0 } else { x });
        let Some(half_width) = half_width else {
            return Err(format!(
                "--precision {arg}: the half-width '{target}' is not a positive number\n  hint: e.g. {metric}=0.1% (of the mean) or {metric}=0.001"
            ));
        };
        if first < 2 {
            return Err(format!(
                "--precision needs a first batch of at least 2 replications (an interval needs 2), and --replications is {first}\n  hint: --replications 10"
            ));
        }
        let max_replications = max.unwrap_or(first.saturating_mul(DEFAULT_MAX_FACTOR));
        if max_replications < first {
            return Err(format!(
                "--max-replications {max_replications} is below the first batch (--replications {first})\n  hint: give a cap of at least {first}"
            ));
        }
        Ok(Precision {
            metric: metric.to_owned(),
            half_width,
            relative,
            batch: first,
            max_replications,
        })
    }

    /// The target as given: `availability=0.1%`.
    pub fn label(&self) -> String {
        if self.relative {
            format!("{}={}%", self.metric, self.half_width * 100.0)
        } else {
            format!("{}={}", self.metric, self.half_width)
        }
    }

    /// The target half-width at a point whose mean is `mean`.
    pub fn target(&self, mean: f64) -> f64 {
        if self.relative {
            self.half_width * mean.abs()
        } else {
            self.half_width
        }
    }

    /// Whether a point's moments meet the target: two values or more, and a half-width at most
    /// the target.
    pub fn met(&self, m: &Moments) -> bool {
        match (m.mean(), m.half_width()) {
            (Some(mean), Some(h)) => h <= self.target(mean),
            _ => false,
        }
    }
}

/// Without `--max-replications`, a point stops at this many times the first batch.
pub const DEFAULT_MAX_FACTOR: u32 = 10;

/// One round of a sweep's runs: replications `start..start + len` of each of `points`, point
/// by point (a sweep without `--precision` is one round of every point). A shard runs every
/// `count`-th of them.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    pub points: Vec<usize>,
    pub start: u32,
    pub len: u32,
}

impl Round {
    /// The first round of a plan: its replications at every point.
    pub fn first(plan: &Plan) -> Round {
        Round {
            points: (0..plan.points()).collect(),
            start: 0,
            len: plan.replications,
        }
    }

    /// The number of runs of the round in `shard`.
    pub fn runs(&self, shard: Shard) -> u64 {
        shard.len(self.points.len() as u64 * u64::from(self.len))
    }

    /// The point and replication of the shard's `k`-th run of the round.
    pub fn run(&self, shard: Shard, k: u64) -> (usize, u32) {
        let i = shard.run(k);
        let len = u64::from(self.len);
        (
            self.points[(i / len) as usize],
            self.start + (i % len) as u32,
        )
    }

    /// The round after this one, once all its runs are in `agg`: the points whose metric
    /// `metric` (its place among the kept metrics) misses the target and which are under the
    /// cap, each with one more batch (cut at the cap). None when every point is done.
    pub fn next(&self, precision: &Precision, metric: usize, agg: &Aggregate) -> Option<Round> {
        let start = self.start + self.len;
        if start >= precision.max_replications {
            return None;
        }
        let points: Vec<usize> = (self.points.iter().copied())
            .filter(|&p| !precision.met(&agg.points[p][metric]))
            .collect();
        if points.is_empty() {
            return None;
        }
        Some(Round {
            points,
            start,
            len: precision.batch.min(precision.max_replications - start),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn row_sums_see_every_cell_and_where_it_ends() {
        let sum = |cells: &[&str]| super::row_sum(cells.iter().copied());
        let row = ["0", "1", "42", "0.99"];
        assert_eq!(sum(&row).len(), 8);
        assert_eq!(sum(&row), sum(&row));
        assert_ne!(sum(&row), sum(&["0", "1", "42", "0.98"]));
        assert_ne!(sum(&row), sum(&["0", "1", "42", "0.9"]));
        assert_ne!(sum(&row), sum(&["0", "1", "420", ".99"]));
        assert_ne!(sum(&row), sum(&["0", "1", "42"]));
    }

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
            sample: Vec::new(),
            replications: 3,
            seed: 9,
        }
    }

    #[test]
    fn sample_points_combine_with_every_grid_point() {
        let mut p = plan(&[("a", &["1", "2"])]);
        p.sample = vec![
            Param {
                path: "s".into(),
                values: vec!["x".into(), "y".into(), "z".into()],
            },
            Param {
                path: "t".into(),
                values: vec!["7".into(), "8".into(), "9".into()],
            },
        ];
        assert_eq!(p.points(), 6);
        assert_eq!(p.values(0), vec!["1", "x", "7"]);
        assert_eq!(p.values(2), vec!["1", "z", "9"]);
        assert_eq!(p.values(4), vec!["2", "y", "8"]);
        assert_eq!(p.label(4), "a=2, s=y, t=8");
        assert_eq!(runs_header(&p, &[])[3..], ["a", "s", "t"]);
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
    fn shards_split_the_runs_round_robin() {
        let total = 10;
        let shards: Vec<Shard> = (1..=3)
            .map(|i| Shard::parse(&format!("{i}/3")).unwrap())
            .collect();
        let mut all: Vec<u64> = shards
            .iter()
            .flat_map(|s| (0..s.len(total)).map(|k| s.run(k)))
            .collect();
        assert_eq!(
            shards.iter().map(|s| s.len(total)).collect::<Vec<_>>(),
            [4, 3, 3]
        );
        all.sort();
        assert_eq!(all, (0..total).collect::<Vec<_>>());
        assert_eq!(shards[1].to_string(), "2/3");
        assert_eq!(shards[1].dir_name(), "shard-2-of-3");
        assert_eq!(Shard::parse("5/4").ok(), None);
        assert_eq!(Shard::parse("0/4").ok(), None);
        assert_eq!(Shard::parse("x").ok(), None);
        assert_eq!(Shard { index: 5, count: 8 }.len(3), 0);
    }

    #[test]
    fn shards_from_scheduler_environments() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "4"),
        ]);
        assert_eq!(
            shard_from_env(None, slurm),
            Ok(Shard { index: 2, count: 4 })
        );
        let counted = env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
        ]);
        assert_eq!(
            shard_from_env(None, counted),
            Ok(Shard { index: 0, count: 8 })
        );
        // A rerun of task 3 alone: with the count given, the ID is the shard number from 0.
        let rerun = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "3"),
            ("SLURM_ARRAY_TASK_MAX", "3"),
        ]);
        assert_eq!(
            shard_from_env(Some(4), rerun),
            Ok(Shard { index: 3, count: 4 })
        );
        let k8s = env(&[("JOB_COMPLETION_INDEX", "1"), ("OUTAGESIM_SHARDS", "5")]);
        assert_eq!(shard_from_env(None, k8s), Ok(Shard { index: 1, count: 5 }));
        let k8s_no_count = env(&[("JOB_COMPLETION_INDEX", "1")]);
        assert!(
            shard_from_env(None, k8s_no_count)
                .unwrap_err()
                .contains("--shards")
        );
        assert!(
            shard_from_env(None, env(&[]))
                .unwrap_err()
                .contains("no scheduler")
        );
        assert!(shard_from_env(Some(1), k8s).unwrap_err().contains("beyond"));
        let bad = env(&[("SLURM_ARRAY_TASK_ID", "x")]);
        assert!(
            shard_from_env(None, bad)
                .unwrap_err()
                .contains("SLURM_ARRAY_TASK_ID=x")
        );
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
    fn precision_targets_parse_relative_or_absolute_and_refuse_bad_ones() {
        let metrics = vec!["availability".to_owned(), "users.downtime_s".to_owned()];
        let p = Precision::parse("availability=0.1%", 10, None, &metrics).unwrap();
        assert!(p.relative && (p.half_width - 0.001).abs() < 1e-15);
        assert_eq!((p.batch, p.max_replications), (10, 100));
        assert_eq!(p.label(), "availability=0.1%");
        assert!((p.target(0.9) - 0.0009).abs() < 1e-15);
        assert!((p.target(-2.0) - 0.002).abs() < 1e-15);
        let a = Precision::parse("users.downtime_s = 5", 4, Some(9), &metrics).unwrap();
        assert!(!a.relative && a.target(1000.0) == 5.0 && a.max_replications == 9);
        let err = |arg: &str, first: u32, max: Option<u32>| {
            Precision::parse(arg, first, max, &metrics).unwrap_err()
        };
        assert!(err("availability=0", 10, None).contains("not a positive number"));
        assert!(err("availability=-1%", 10, None).contains("not a positive number"));
        assert!(err("availability=inf", 10, None).contains("not a positive number"));
        assert!(err("availability", 10, None).contains("METRIC=HALF_WIDTH"));
        assert!(err("availabilty=1%", 10, None).contains("did you mean 'availability'"));
        assert!(err("availability=1%", 1, None).contains("at least 2"));
        assert!(err("availability=1%", 10, Some(9)).contains("below the first batch"));
    }

    #[test]
    fn rounds_continue_the_points_that_miss_the_target_up_to_the_cap() {
        let mut p = plan(&[("a", &["1", "2", "3"])]);
        p.replications = 2;
        let target = Precision::parse("m=0.5", 2, Some(5), &["m".to_owned()]).unwrap();
        let first = Round::first(&p);
        assert_eq!(first.runs(Shard::ALL), 6);
        assert_eq!(first.run(Shard::ALL, 3), (1, 1));
        let mut agg = Aggregate::new(3, 1);
        // Point 0 is steady (half-width 0), points 1 and 2 are noisy.
        for (pt, xs) in [(0, [1.0, 1.0]), (1, [0.0, 10.0]), (2, [5.0, -5.0])] {
            for x in xs {
                agg.push(pt, &[x.to_string()]);
            }
        }
        let second = first.next(&target, 0, &agg).unwrap();
        assert_eq!(second.points, [1, 2]);
        assert_eq!((second.start, second.len), (2, 2));
        assert_eq!(second.run(Shard::ALL, 2), (2, 2));
        for (pt, xs) in [(1, [5.0, 5.0]), (2, [0.0, 0.0])] {
            for x in xs {
                agg.push(pt, &[x.to_string()]);
            }
        }
        // Still wide: the last batch is cut at the cap of 5.
        let third = second.next(&target, 0, &agg).unwrap();
        assert_eq!((third.points.len(), third.start, third.len), (2, 4, 1));
        for pt in [1, 2] {
            agg.push(pt, &["5".to_owned()]);
        }
        assert_eq!(third.next(&target, 0, &agg), None);
        // Without the noise every point meets the target after the first round.
        let mut calm = Aggregate::new(3, 1);
        for pt in 0..3 {
            calm.push(pt, &["1".to_owned()]);
            calm.push(pt, &["1.01".to_owned()]);
        }
        assert_eq!(first.next(&target, 0, &calm), None);
        // A metric undefined at a point (no values) never meets the target.
        let empty = Aggregate::new(3, 1);
        assert_eq!(first.next(&target, 0, &empty).unwrap().points, [0, 1, 2]);
    }

    #[test]
    fn cells_round_trip() {
        for x in [0.1, 1.0 / 3.0, 1e-300, 123456.789] {
            assert_eq!(cell(Some(x)).parse::<f64>().unwrap(), x);
        }
        assert_eq!(cell(None), "");
    }
}
