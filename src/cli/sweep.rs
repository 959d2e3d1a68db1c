//! `outagesim sweep`: reads a sweep file (or a scenario with `--param`), checks every point
//! before any run, runs the replications on a rayon pool in chunks, streams `runs.csv` in run
//! order and writes `points.csv` at the end; `--resume` continues an interrupted sweep.

use super::{CliError, bad, scenario_problems, write_atomic};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use outagesim::model;
use outagesim::sweep::file::Located;
use outagesim::sweep::{self, Aggregate, Manifest, Param, Plan, Shard, ShardInfo};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to sweep: a sweep file, or a scenario and flags.
#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// A sweep file (TOML with `base`, `replications`, `seed`, `[grid]`, `[sample]`), or a
    /// scenario file swept with --param.
    pub file: PathBuf,
    /// A swept parameter: a dotted path and its values, e.g. components.api.replicas=1,2,3;
    /// repeatable (the points are the cross product).
    #[arg(long = "param", value_name = "PATH=V1,V2,...")]
    pub params: Vec<String>,
    /// Replications per point [default: the sweep file's, else 10].
    #[arg(long)]
    pub replications: Option<u32>,
    /// Sweep seed: each run's seed derives from it, the point and the replication [default:
    /// the sweep file's, else the scenario's].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Fix a value of the base scenario for every run, as in `run`; repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Runs at once (each run on one thread). The files are the same for any value. Default:
    /// the cores available.
    #[arg(long, default_value_t = super::default_threads())]
    pub threads: usize,
    /// Run only shard I of N (run i belongs to shard i mod N, counted from 1) into
    /// OUT/shard-I-of-N; `auto` takes it from a Slurm array task or a Kubernetes Indexed Job.
    /// Join the shards with `outagesim merge OUT`.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// With --shard auto: the number of shards (else the Slurm array's size; required for
    /// Kubernetes unless OUTAGESIM_SHARDS is set). Task IDs then count shards from 0.
    #[arg(long, value_name = "N")]
    pub shards: Option<u32>,
    /// Add replications per point, in batches of --replications, until the 95% interval of a
    /// metric's mean is at most HALF_WIDTH on either side: absolute (availability=0.0005) or
    /// relative to the mean with % (availability=0.1%). points.csv then says each point's
    /// runs, half-width and whether the target was met. Not with --shard.
    #[arg(long, value_name = "METRIC=HALF_WIDTH")]
    pub precision: Option<String>,
    /// With --precision: the most replications a point gets [default: 10 times
    /// --replications].
    #[arg(long, value_name = "N", requires = "precision")]
    pub max_replications: Option<u32>,
    /// Continue an interrupted sweep (or shard) in --out: run only what is missing.
    #[arg(long)]
    pub resume: bool,
    /// Replace --out when it holds another sweep: everything a sweep wrote there is removed
    /// first (a folder holding other files is refused).
    #[arg(long, conflicts_with = "resume")]
    pub force: bool,
    /// Output directory [default: output/<sweep file name>-sweep, or output/<scenario
    /// name>-sweep-<digest of the plan> when flags choose the plan].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar and no per-point lines.
    #[arg(long)]
    pub quiet: bool,
    /// Do not draw the plots (OUT/plots/; `outagesim plot OUT` draws them later).
    #[arg(long)]
    pub no_plots: bool,
    #[command(flatten)]
    pub guard: super::GuardArgs,
}

fn read(path: &Path) -> Result<String, CliError> {
    let bytes = super::out::read_input(path, "sweep or scenario file")?;
    super::utf8(path, bytes)
}

/// The default output folder of a sweep: named after its sweep file when the file alone
/// chose the plan, else after the base scenario and a digest of the plan, so two different
/// sweeps of one scenario never share a default folder.
pub(super) fn default_sweep_out(args: &PlanArgs, prep: &Prepared) -> PathBuf {
    let flags = !args.params.is_empty()
        || prep.manifest.precision.is_some()
        || args.replications.is_some()
        || args.seed.is_some()
        || !args.sets.is_empty();
    let stem = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match (&prep.sweep_text, flags) {
        (Some(_), false) => super::slug(&stem, "sweep"),
        _ => {
            let d = sweep::digest(&prep.manifest.whole().to_json());
            let named = if prep.sweep_text.is_some() {
                super::slug(&stem, "sweep")
            } else {
                super::slug(&prep.manifest.scenario, "scenario")
            };
            format!("{named}-sweep-{}", &d[..8])
        }
    };
    if name == "sweep" || name.ends_with("-sweep") || name.contains("-sweep-") {
        Path::new("output").join(name)
    } else {
        Path::new("output").join(format!("{name}-sweep"))
    }
}

/// Whether a sweep writes an entry of this name in its folder (everything else there is not
/// a sweep's to remove).
fn sweep_entry(name: &str) -> bool {
    matches!(
        name,
        "sweep.json"
            | "runs.csv"
            | "runs.csv.sums"
            | "points.csv"
            | "bands.csv"
            | "bands.csv.partial"
            | "runs.csv.partial"
            | "runs.csv.sums.partial"
            | "plots"
            | "cluster"
    ) || super::merge::parse_dir_name(name).is_some()
        || (name.starts_with('.') && (name.ends_with(".lock") || name.ends_with(".partial")))
}

/// Checks that `out` holds nothing of another sweep (its `sweep.json`, its shards' and
/// unfinished shards' ones), or with `force` empties it: always for a whole sweep, only when
/// it holds another sweep for a shard (the shards of one sweep run side by side).
fn claim(out: &Path, ours: &Manifest, force: bool, whole: bool) -> Result<(), CliError> {
    let Ok(meta) = std::fs::symlink_metadata(out) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return Err(bad(format!(
            "{} exists and is not a folder\n  hint: choose another --out",
            out.display()
        )));
    }
    let mut manifests = vec![out.to_path_buf()];
    let mut foreign = Vec::new();
    let entries =
        std::fs::read_dir(out).map_err(|e| bad(format!("cannot read {}: {e}", out.display())))?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !sweep_entry(&name) {
            foreign.push(name.clone());
        }
        if super::merge::parse_dir_name(&name).is_some() && e.path().is_dir() {
            manifests.push(e.path());
        }
    }
    manifests[1..].sort();
    foreign.sort();
    let mut other = None;
    for dir in manifests {
        if !dir.join("sweep.json").is_file() {
            continue;
        }
        match read_manifest(&dir) {
            Ok(m) if m.whole() == ours.whole() => {}
            Ok(m) => {
                other = Some((dir, manifest_difference(&m, ours)));
                break;
            }
            Err(_) => {
                other = Some((dir, "its sweep.json is not readable".into()));
                break;
            }
        }
    }
    if force && (whole || other.is_some()) {
        if !foreign.is_empty() {
            return Err(bad(format!(
                "--force removes only what a sweep writes, and {} also holds {}\n  hint: choose another --out, or move those away",
                out.display(),
                foreign.join(", ")
            )));
        }
        std::fs::remove_dir_all(out).map_err(|e| fail(format!("cannot remove it: {e}"), out))?;
        return Ok(());
    }
    if let Some((dir, why)) = other {
        return Err(bad(format!(
            "{} holds another sweep ({}: {why})\n  hint: choose another --out, or add --force to replace the folder (everything the other sweep wrote there is removed)",
            out.display(),
            dir.join("sweep.json").display()
        )));
    }
    Ok(())
}

/// `PATH=V1,V2,...` (values split at commas outside brackets, braces and quotes).
fn parse_param(arg: &str) -> Result<Param, CliError> {
    let Some((path, values)) = arg.split_once('=') else {
        return Err(bad(format!(
            "--param {arg}: expected PATH=V1,V2,... (e.g. components.api.replicas=1,2,3)"
        )));
    };
    let (mut out, mut cur, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None);
    for c in values.chars() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('[' | '{', None) => depth += 1,
            (']' | '}', None) => depth -= 1,
            (',', None) if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_owned());
    if path.trim().is_empty() || out.iter().any(String::is_empty) {
        return Err(bad(format!(
            "--param {arg}: a path and at least one non-empty value are needed"
        )));
    }
    Ok(Param {
        path: path.trim().to_owned(),
        values: out,
    })
}

/// What the sweep file adds to the plan: the metrics to keep and the plot settings.
#[derive(Default)]
struct Extras {
    metrics: Option<(String, Vec<Located<String>>)>,
    /// The sweep file, where `[plot]` starts, and `[plot]`: checked once the columns are known.
    plot: Option<(String, (usize, usize), serde_json::Value)>,
    /// The sweep file's text, when the plan came from one.
    sweep_text: Option<String>,
}

/// The plan from the file and flags.
fn plan(args: &PlanArgs) -> Result<(Plan, Extras), CliError> {
    let text = read(&args.file)?;
    let shown = args.file.display().to_string();
    let table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| bad(format!("error: {shown}: {}", e.to_string().trim())))?;
    let mut extras = Extras::default();
    let (file, base_text, mut params, mut sets, reps, seed, sample) =
        if sweep::file::is_sweep_file(&table) {
            let sf = sweep::file::parse(&text, &shown).map_err(|e| bad(e.to_string()))?;
            let base = args.file.parent().unwrap_or(Path::new(".")).join(&sf.base);
            let base_text = read(&base)?;
            extras.metrics = sf.metrics.map(|m| (shown.clone(), m));
            extras.plot = sf.plot.map(|p| (shown.clone(), sf.plot_at, p));
            extras.sweep_text = Some(text);
            (
                base.display().to_string(),
                base_text,
                sf.grid,
                sf.set,
                sf.replications,
                sf.seed,
                sf.sample,
            )
        } else {
            (shown, text, Vec::new(), Vec::new(), None, None, None)
        };
    for p in &args.params {
        let p = parse_param(p)?;
        if params.iter().any(|q| q.path == p.path)
            || sample
                .as_ref()
                .is_some_and(|s| s.ranges.iter().any(|r| r.path.value == p.path))
        {
            return Err(bad(format!(
                "--param {}: the sweep file already varies {}",
                p.path, p.path
            )));
        }
        params.push(p);
    }
    sets.extend(args.sets.iter().cloned());
    let replications = args.replications.or(reps).unwrap_or(10);
    if replications == 0 {
        return Err(bad("--replications must be at least 1"));
    }
    let mut plan = Plan {
        file,
        text: base_text,
        sets,
        params,
        sample: Vec::new(),
        replications,
        seed: 0,
    };
    plan.seed = match args.seed.or(seed) {
        Some(s) => s,
        None => {
            outagesim::scenario::load(&plan.text, &plan.file, &plan.sets)
                .map_err(|e| scenario_problems(&[e]))?
                .seed
        }
    };
    if let Some(s) = sample {
        plan.sample = s.draw(plan.seed);
    }
    Ok((plan, extras))
}

/// A sweep ready to run: the plan, every point's scenario, the metric columns kept.
pub(super) struct Prepared {
    pub plan: Plan,
    specs: Vec<model::spec::Spec>,
    clients: Vec<String>,
    /// Names of the metric columns kept, and their places among all metrics.
    pub metrics: Vec<String>,
    keep: Vec<usize>,
    pub manifest: Manifest,
    /// The sweep file's text as read and checked, when the plan came from one.
    pub sweep_text: Option<String>,
}

pub(super) fn prepare(args: &PlanArgs) -> Result<Prepared, CliError> {
    let (plan, extras) = plan(args)?;
    // Every point is loaded (and refused, with exit 2) before anything runs.
    let specs = plan.load_points().map_err(bad)?;
    let clients = sweep::client_names(&specs[0]);
    let all = sweep::metric_names(&clients);
    let keep: Vec<usize> = match &extras.metrics {
        None => (0..all.len()).collect(),
        Some((file, wanted)) => {
            let names: Vec<&str> = all.iter().map(String::as_str).collect();
            let mut keep = Vec::new();
            for w in wanted {
                match all.iter().position(|m| *m == w.value) {
                    Some(i) if !keep.contains(&i) => keep.push(i),
                    Some(_) => {
                        return Err(bad(format!(
                            "error: {file}:{}:{}: metrics: '{}' is listed twice",
                            w.line, w.column, w.value
                        )));
                    }
                    None => {
                        return Err(bad(format!(
                            "error: {file}:{}:{}: metrics: unknown metric '{}'\n  hint: {}",
                            w.line,
                            w.column,
                            w.value,
                            outagesim::scenario::suggest(&w.value, "metrics", &names)
                        )));
                    }
                }
            }
            keep
        }
    };
    let metrics: Vec<String> = keep.iter().map(|&i| all[i].clone()).collect();
    if let Some((file, at, v)) = &extras.plot {
        check_plot(file, *at, v, &plan, &metrics)?;
    }
    let mut manifest = Manifest::new(&plan, &specs[0].name, &metrics);
    manifest.plot = extras.plot.map(|(_, _, v)| v);
    Ok(Prepared {
        plan,
        specs,
        clients,
        metrics,
        keep,
        manifest,
        sweep_text: extras.sweep_text,
    })
}

/// Checks a sweep file's `[plot]` against the sweep's columns before anything runs.
fn check_plot(
    file: &str,
    (line, column): (usize, usize),
    v: &serde_json::Value,
    plan: &Plan,
    metrics: &[String],
) -> Result<(), CliError> {
    let at = |msg: String, hint: String| {
        bad(format!(
            "error: {file}:{line}:{column}: plot: {msg}\n  hint: {hint}"
        ))
    };
    let p: outagesim::plot::SweepPlot = serde_json::from_value(v.clone()).map_err(|e| {
        at(
            e.to_string(),
            "[plot] takes x, series, metric, nines and [[plot.reference]] (label, x, y)".into(),
        )
    })?;
    let params: Vec<&str> = plan.all_params().map(|p| p.path.as_str()).collect();
    for (key, value) in [("x", &p.x), ("series", &p.series)] {
        if let Some(v) = value
            && !params.contains(&v.as_str())
        {
            return Err(at(
                format!("{key}: '{v}' is not a parameter of this sweep"),
                format!("parameters: {}", params.join(", ")),
            ));
        }
    }
    if let Some(m) = &p.metric
        && !metrics.contains(m)
    {
        let names: Vec<&str> = metrics.iter().map(String::as_str).collect();
        return Err(at(
            format!("metric: '{m}' is not a metric of this sweep"),
            outagesim::scenario::suggest(m, "metrics", &names),
        ));
    }
    for r in &p.reference {
        if r.x.len() != r.y.len() {
            return Err(at(
                format!(
                    "reference '{}': {} x values but {} y values",
                    r.label,
                    r.x.len(),
                    r.y.len()
                ),
                "give one y per x".into(),
            ));
        }
    }
    Ok(())
}

/// Which shard this invocation runs, if any.
fn shard(args: &SweepArgs) -> Result<Option<Shard>, CliError> {
    match args.shard.as_deref() {
        None => {
            if args.shards.is_some() {
                return Err(bad("--shards goes with --shard auto"));
            }
            Ok(None)
        }
        Some("auto") => sweep::shard_from_env(args.shards, |k| std::env::var(k).ok())
            .map(Some)
            .map_err(bad),
        Some(s) => {
            if args.shards.is_some() {
                return Err(bad(
                    "--shards goes with --shard auto (--shard I/N names the count)",
                ));
            }
            Shard::parse(s).map(Some).map_err(bad)
        }
    }
}

/// The command line of a shard, for rerunning it: this invocation's arguments with the
/// shard (and --resume, which a rerun adds itself) taken out.
fn shard_command() -> Vec<String> {
    let mut out = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--shard" | "--shards" => {
                args.next();
            }
            "--resume" => {}
            _ if a.starts_with("--shard=") || a.starts_with("--shards=") => {}
            _ => out.push(a),
        }
    }
    out
}

/// A failure while running (exit 1) about the file or folder `what`.
pub(super) fn fail(e: impl std::fmt::Display, what: &Path) -> CliError {
    CliError::Failed(anyhow::anyhow!("{}: {e}", what.display()))
}

pub fn sweep(args: SweepArgs) -> Result<(), CliError> {
    if args.threads == 0 {
        return Err(bad("--threads must be at least 1"));
    }
    let shard = shard(&args)?;
    let mut prep = prepare(&args.plan)?;
    if let Some(arg) = &args.precision {
        if shard.is_some() {
            return Err(bad(format!(
                "--precision {arg} does not go with --shard: which runs a point needs depends on its results so far, so the runs cannot be dealt to shards in advance\n  hint: run the sweep unsharded (--threads uses every core), or shard it with a fixed --replications"
            )));
        }
        let target = sweep::Precision::parse(
            arg,
            prep.plan.replications,
            args.max_replications,
            &prep.metrics,
        )
        .map_err(bad)?;
        prep.manifest.precision = Some(target);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_sweep_out(&args.plan, &prep));
    // One writer of the whole folder at a time; the shards of a sweep share it, one writer
    // per shard.
    let _locks = match shard {
        None => vec![super::out::lock(&out)?],
        Some(s) => vec![
            super::out::lock_at(&super::out::lock_path(&out), &out, false)?,
            super::out::lock_at(
                &out.join(format!(".{}.lock", s.dir_name())),
                &out.join(s.dir_name()),
                true,
            )?,
        ],
    };
    claim(&out, &prep.manifest, args.force, shard.is_none())?;
    std::fs::create_dir_all(&out).map_err(|e| {
        bad(format!(
            "--out {}: cannot create the folder: {e}\n  hint: choose a folder that is not a file and whose parent you can write",
            out.display()
        ))
    })?;
    let started = Instant::now();
    let Some(shard) = shard else {
        // The whole sweep, into OUT; its manifest first, so that the folder says whose it is.
        write_atomic(&out.join("sweep.json"), &prep.manifest.whole().to_json())
            .map_err(CliError::Failed)?;
        let job = run_job(&args, &prep, Shard::ALL, &out)?;
        finish(&out, &prep.plan, &prep.metrics, &job.agg, &prep.manifest)?;
        report(&args, &prep, Shard::ALL, &job, started, &out);
        return super::plot::draw(&out, args.no_plots, args.quiet);
    };
    // One shard, into OUT/.shard-I-of-N.partial, moved to OUT/shard-I-of-N when complete.
    let mut manifest = prep.manifest.clone();
    manifest.shard = Some(ShardInfo {
        index: shard.index + 1,
        count: shard.count,
        command: shard_command(),
    });
    let final_dir = out.join(shard.dir_name());
    if final_dir.join("sweep.json").is_file() {
        let theirs = read_manifest(&final_dir)?;
        if theirs.whole() == manifest.whole() {
            if !args.quiet {
                println!(
                    "shard {shard} is already complete in {}; nothing to run",
                    final_dir.display()
                );
            }
            return Ok(());
        }
        return Err(bad(format!(
            "{} holds shard {shard} of another sweep ({}); remove it or use another --out",
            final_dir.display(),
            manifest_difference(&theirs, &manifest)
        )));
    }
    let work = out.join(format!(".{}.partial", shard.dir_name()));
    if !args.resume {
        let _ = std::fs::remove_dir_all(&work);
    }
    std::fs::create_dir_all(&work).map_err(|e| fail(format!("cannot create it: {e}"), &work))?;
    write_atomic(&work.join("sweep.json"), &manifest.to_json()).map_err(CliError::Failed)?;
    let job = run_job(&args, &prep, shard, &work)?;
    seal(&work)?;
    sync_dir(&work);
    if final_dir.exists() {
        // A folder without a manifest: the leftovers of something else.
        std::fs::remove_dir_all(&final_dir).map_err(|e| fail(e, &final_dir))?;
    }
    std::fs::rename(&work, &final_dir).map_err(|e| fail(e, &work))?;
    sync_dir(&out);
    report(&args, &prep, shard, &job, started, &final_dir);
    Ok(())
}

use super::out::sync_dir;

/// Renames a finished `runs.csv.partial` (and its checksums) into place, checksums first: a
/// folder with `runs.csv` has `runs.csv.sums`.
fn seal(dir: &Path) -> Result<(), CliError> {
    for name in ["runs.csv.sums", "runs.csv"] {
        let partial = dir.join(format!("{name}.partial"));
        std::fs::rename(&partial, dir.join(name)).map_err(|e| fail(e, &partial))?;
    }
    Ok(())
}

/// Opens an existing partial file to append to it, refusing a symbolic link (bad input):
/// the file is this folder's own, never one elsewhere that a link points at.
fn open_own(path: &Path, append: bool) -> Result<File, CliError> {
    let mut o = OpenOptions::new();
    if append {
        o.append(true);
    } else {
        o.read(true).write(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.custom_flags(libc::O_NOFOLLOW);
    }
    o.open(path).map_err(|e| {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            bad(format!(
                "{} is a symbolic link; outagesim writes only its own files there\n  hint: remove it, or run without --resume to start over",
                path.display()
            ))
        } else {
            fail(e, path)
        }
    })
}

fn report(
    args: &SweepArgs,
    prep: &Prepared,
    shard: Shard,
    job: &JobDone,
    started: Instant,
    dir: &Path,
) {
    if args.quiet {
        return;
    }
    let done = job.done;
    let secs = started.elapsed().as_secs_f64();
    let total = job.agg.runs.iter().sum::<u64>();
    let ran = total - done;
    let what = if let Some((target, m)) = precision_of(prep) {
        let (lo, hi) =
            (job.agg.runs.iter()).fold((u64::MAX, 0), |(lo, hi), &n| (lo.min(n), hi.max(n)));
        let met = (0..prep.plan.points())
            .filter(|&p| target.met(&job.agg.points[p][m]))
            .count();
        let reps = if lo == hi {
            format!("{lo}")
        } else {
            format!("{lo} to {hi}")
        };
        format!(
            "{} points x {reps} replications = {total} runs (precision {}: met at {met} of {} points, cap {})",
            prep.plan.points(),
            target.label(),
            prep.plan.points(),
            target.max_replications
        )
    } else if shard == Shard::ALL {
        format!(
            "{} points x {} replications = {total} runs",
            prep.plan.points(),
            prep.plan.replications
        )
    } else {
        format!("shard {shard}: {total} of {} runs", prep.plan.runs())
    };
    let memory = outagesim::bench::peak_rss_bytes()
        .map(|b| format!(", peak memory {:.0} MiB", b as f64 / (1024.0 * 1024.0)))
        .unwrap_or_default();
    println!(
        "{what} ({ran} run now{}) in {secs:.1}s, {:.1} runs/s{memory}",
        if done > 0 {
            format!(", {done} resumed")
        } else {
            String::new()
        },
        ran as f64 / secs.max(1e-9)
    );
    if shard == Shard::ALL {
        println!(
            "outputs: {} (runs.csv, points.csv, {}sweep.json)",
            dir.display(),
            if job.bands { "bands.csv, " } else { "" }
        );
    } else {
        println!(
            "outputs: {} (runs.csv, sweep.json); join the shards with: outagesim merge {}",
            dir.display(),
            dir.parent().unwrap_or(Path::new(".")).display()
        );
    }
}

pub(super) fn read_manifest(dir: &Path) -> Result<Manifest, CliError> {
    let path = dir.join("sweep.json");
    let bytes =
        std::fs::read(&path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "{}: not a sweep manifest written by this version of outagesim ({e})",
            path.display()
        ))
    })
}

/// What differs between two sweeps' manifests, for messages: "seed 1 vs 2".
pub(super) fn manifest_difference(a: &Manifest, b: &Manifest) -> String {
    let a = serde_json::to_value(a.whole()).expect("serialisable");
    let b = serde_json::to_value(b.whole()).expect("serialisable");
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return "different".into();
    };
    let diffs: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, v)| {
            let short = |x: &serde_json::Value| {
                let s = x.to_string();
                if s.chars().count() > 40 {
                    format!("{}...", s.chars().take(40).collect::<String>())
                } else {
                    s
                }
            };
            format!(
                "{k} {} vs {}",
                short(v),
                short(b.get(k).unwrap_or(&serde_json::Value::Null))
            )
        })
        .collect();
    if diffs.is_empty() {
        "different".into()
    } else {
        diffs.join("; ")
    }
}

/// What a job wrote: how many runs were already there (resumed), the aggregates of all its
/// runs (fed in run order from the cells as written, resumed ones included: a whole sweep's
/// `points.csv`), and whether it wrote `bands.csv`.
pub(super) struct JobDone {
    pub done: u64,
    pub agg: Aggregate,
    pub bands: bool,
}

/// The precision target of a prepared sweep and its metric's place among the kept metrics.
fn precision_of(prep: &Prepared) -> Option<(&sweep::Precision, usize)> {
    let p = prep.manifest.precision.as_ref()?;
    let m = prep.metrics.iter().position(|m| *m == p.metric)?;
    Some((p, m))
}

/// `bands.csv` as it is written: each point's per-bucket bands folded run by run (Welford, in
/// run order) while the point runs, and its rows written once the point is complete, in point
/// order (a point that finishes before an earlier one waits as text). Without --precision the
/// points complete in order, so memory holds the points in flight only.
struct BandsOut {
    path: PathBuf,
    file: File,
    running: std::collections::BTreeMap<usize, outagesim::stats::Bands>,
    ready: std::collections::BTreeMap<usize, String>,
    next: usize,
}

impl BandsOut {
    fn create(dir: &Path) -> Result<BandsOut, CliError> {
        let path = dir.join("bands.csv.partial");
        let header = format!("point,{}\n", outagesim::stats::BANDS_HEADER);
        write_atomic(&path, header.as_bytes()).map_err(CliError::Failed)?;
        Ok(BandsOut {
            file: open_own(&path, true)?,
            path,
            running: Default::default(),
            ready: Default::default(),
            next: 0,
        })
    }

    fn push(&mut self, p: usize, series: &outagesim::stats::ClientSeries) {
        self.running.entry(p).or_default().push(series);
    }

    /// Point `p` has all its runs: its rows, then those of the points it held back.
    fn complete(&mut self, p: usize) -> Result<(), CliError> {
        let bands = self.running.remove(&p).unwrap_or_default();
        let mut text = String::new();
        bands.write_rows(&format!("{p},"), &mut text);
        self.ready.insert(p, text);
        while let Some(text) = self.ready.remove(&self.next) {
            self.file
                .write_all(text.as_bytes())
                .map_err(|e| fail(e, &self.path))?;
            self.next += 1;
        }
        Ok(())
    }

    /// Moves the complete file to `bands.csv`.
    fn seal(self, points: usize) -> Result<(), CliError> {
        debug_assert!(self.next == points && self.ready.is_empty());
        self.file.sync_all().map_err(|e| fail(e, &self.path))?;
        let dest = self.path.with_file_name("bands.csv");
        std::fs::rename(&self.path, dest).map_err(|e| fail(e, &self.path))
    }
}

/// Runs the shard's runs into `dir/runs.csv.partial` (continuing it with --resume), round by
/// round: one round of every point's replications, then with --precision a batch more for
/// each point that misses the target until none does or the cap is reached. Rows are written
/// in run order; a whole sweep that is not resumed also writes `bands.csv`.
fn run_job(
    args: &SweepArgs,
    prep: &Prepared,
    shard: Shard,
    dir: &Path,
) -> Result<JobDone, CliError> {
    let plan = &prep.plan;
    let precision = precision_of(prep);
    let partial = dir.join("runs.csv.partial");
    let sums_path = dir.join("runs.csv.sums.partial");
    let header = sweep::runs_header(plan, &prep.metrics);
    let reps = plan.replications;
    let whole = shard == Shard::ALL;

    // Resume: keep the complete rows of the partial file, after checking they belong to
    // this sweep.
    let mut done = 0u64;
    let mut round = sweep::Round::first(plan);
    let mut k0 = 0u64;
    let mut agg = Aggregate::new(plan.points(), prep.metrics.len());
    if whole && args.resume && dir.join("runs.csv").is_file() && !partial.exists() {
        return Err(bad(format!(
            "{} holds a finished sweep (runs.csv); nothing to resume",
            dir.display()
        )));
    }
    for f in ["bands.csv", "bands.csv.partial"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    if args.resume && std::fs::symlink_metadata(&partial).is_ok() {
        (done, k0) = resume(
            &partial, &sums_path, plan, shard, &header, &mut agg, &mut round, precision,
        )?;
    } else {
        if whole {
            for f in ["runs.csv", "runs.csv.sums", "points.csv"] {
                let _ = std::fs::remove_file(dir.join(f));
            }
        }
        // Fresh files, created under new names and renamed over whatever was there (a
        // planted link is replaced, never followed).
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header).expect("writing to memory");
        write_atomic(&sums_path, b"").map_err(CliError::Failed)?;
        write_atomic(&partial, &w.into_inner().expect("memory")).map_err(CliError::Failed)?;
    }
    // The bands need every run's series, which runs.csv does not keep: a resumed sweep
    // (with runs before the interruption) writes none.
    let mut bands = if whole && done == 0 {
        Some(BandsOut::create(dir)?)
    } else {
        None
    };
    let mut file = open_own(&partial, true)?;
    let mut sums = open_own(&sums_path, true)?;

    let terminal = !args.quiet && std::io::stderr().is_terminal();
    let lines = !args.quiet && !terminal;
    // With --precision the total grows round by round.
    let mut total = done - k0 + round.runs(shard);
    let bar = terminal.then(|| {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{bar:40}] {pos}/{len} runs  {per_sec}  ETA {eta}  {msg}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        b.set_position(done);
        b
    });
    // Per-point lines need every replication of a point, so only the whole sweep prints
    // them; a shard prints its progress every tenth of the way.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| CliError::Failed(e.into()))?;
    let started = Instant::now();
    let mut told = done * 10 / total.max(1);
    let columns = sweep::RUN_KEY_COLUMNS + plan.all_params().count();
    let guard = args.guard.guard();
    let series = bands.is_some();
    // Runs of earlier rounds, so that positions count the whole job.
    let mut before = done - k0;
    loop {
        let this = round.clone();
        let run = |k: u64| {
            let (p, r) = this.run(shard, k);
            sweep::run_point(
                plan,
                &prep.specs,
                &prep.clients,
                &prep.keep,
                &guard,
                p,
                r,
                series,
            )
            .map_err(|e| {
                let i = before + shard.run(k);
                e.context(format!("run {i} (point {p}, replication {r})"))
            })
        };
        run_chunks(
            &pool,
            args.threads,
            k0..this.runs(shard),
            &run,
            |ks, rows| {
                let mut w = csv::Writer::from_writer(Vec::new());
                let mut s = String::new();
                for (k, (row, run_series)) in ks.clone().zip(rows) {
                    let (p, _) = this.run(shard, k);
                    w.write_record(&row).expect("writing to memory");
                    s.push_str(&sweep::row_sum(row.iter().map(String::as_str)));
                    s.push('\n');
                    agg.push(p, &row[columns..]);
                    if let (Some(b), Some(run_series)) = (bands.as_mut(), run_series) {
                        b.push(p, &run_series);
                    }
                    // Without --precision a point is complete with its replications.
                    if whole && precision.is_none() && agg.runs[p] == u64::from(reps) {
                        if let Some(b) = bands.as_mut() {
                            b.complete(p)?;
                        }
                        if lines {
                            eprintln!("{}", point_line(plan, &agg, p, &prep.metrics, None));
                        }
                    }
                }
                // Rows first, then their checksums: a row without one is rerun by --resume.
                file.write_all(&w.into_inner().expect("memory"))
                    .map_err(|e| fail(e, &partial))?;
                sums.write_all(s.as_bytes())
                    .map_err(|e| fail(e, &sums_path))?;
                let end = before + ks.end;
                if let Some(b) = &bar {
                    b.set_position(end);
                    let (p, _) = this.run(shard, ks.end - 1);
                    b.set_message(format!("point {}/{}", p + 1, plan.points()));
                }
                if !whole && lines && end * 10 / total > told {
                    told = end * 10 / total;
                    let secs = started.elapsed().as_secs_f64();
                    eprintln!(
                        "shard {shard}: {end}/{total} runs, {:.1} runs/s",
                        (end - done) as f64 / secs.max(1e-9)
                    );
                }
                Ok(())
            },
        )?;
        let Some((target, metric)) = precision else {
            break;
        };
        // The decision for each point of the round: its own rows alone.
        let next = round.next(target, metric, &agg);
        for &p in &round.points {
            if next
                .as_ref()
                .is_some_and(|n| n.points.binary_search(&p).is_ok())
            {
                continue;
            }
            if let Some(b) = bands.as_mut() {
                b.complete(p)?;
            }
            if lines {
                eprintln!(
                    "{}",
                    point_line(plan, &agg, p, &prep.metrics, Some((target, metric)))
                );
            }
        }
        before += round.runs(shard);
        let Some(next) = next else {
            break;
        };
        round = next;
        k0 = 0;
        total += round.runs(shard);
        if let Some(b) = &bar {
            b.set_length(total);
        }
    }
    file.sync_all().map_err(|e| fail(e, &partial))?;
    sums.sync_all().map_err(|e| fail(e, &sums_path))?;
    drop((file, sums));
    let wrote_bands = bands.is_some();
    if let Some(b) = bands {
        b.seal(plan.points())?;
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(JobDone {
        done,
        agg,
        bands: wrote_bands,
    })
}

/// Runs `range` (a job's run numbers, `run(k)` making run k's row) on `pool` in chunks of 32
/// runs per thread, and hands each chunk's rows to `sink` in run order: the rows of a sweep
/// never depend on the thread count, and memory does not grow with the number of runs.
fn run_chunks<T: Send>(
    pool: &rayon::ThreadPool,
    threads: usize,
    range: std::ops::Range<u64>,
    run: &(dyn Fn(u64) -> anyhow::Result<T> + Sync),
    mut sink: impl FnMut(std::ops::Range<u64>, Vec<T>) -> Result<(), CliError>,
) -> Result<(), CliError> {
    let chunk = 32 * threads as u64;
    let mut next = range.start;
    while next < range.end {
        let end = (next + chunk).min(range.end);
        let rows: Vec<anyhow::Result<T>> = pool.install(|| {
            use rayon::prelude::*;
            (next..end).into_par_iter().map(run).collect()
        });
        let rows = rows
            .into_iter()
            .collect::<anyhow::Result<Vec<_>>>()
            .map_err(super::run_failed)?;
        sink(next..end, rows)?;
        next = end;
    }
    Ok(())
}

/// Completes a whole sweep's folder whose `runs.csv.partial` holds every run: `points.csv`
/// and `sweep.json` first, then `runs.csv` into place, so a folder with `runs.csv` is complete.
pub(super) fn finish(
    out: &Path,
    plan: &Plan,
    metrics: &[String],
    agg: &Aggregate,
    manifest: &Manifest,
) -> Result<(), CliError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let precision = (manifest.precision.as_ref())
        .and_then(|p| metrics.iter().position(|m| *m == p.metric).map(|m| (p, m)));
    match precision {
        None => w.write_record(sweep::points_header(plan, metrics)),
        Some(_) => w.write_record(sweep::precision_header(plan, metrics)),
    }
    .expect("writing to memory");
    for p in 0..plan.points() {
        match precision {
            None => w.write_record(agg.point_row(plan, p)),
            Some((target, m)) => w.write_record(agg.precision_row(plan, p, target, m)),
        }
        .expect("writing to memory");
    }
    write_atomic(&out.join("points.csv"), &w.into_inner().expect("memory"))
        .map_err(CliError::Failed)?;
    write_atomic(&out.join("sweep.json"), &manifest.whole().to_json()).map_err(CliError::Failed)?;
    seal(out)?;
    sync_dir(out);
    Ok(())
}

/// "point 2/6 components.api.replicas=2: 20 runs, availability 0.99812 (95% CI 0.99790..0.99834)",
/// and with a precision target its half-width against the target.
fn point_line(
    plan: &Plan,
    agg: &Aggregate,
    p: usize,
    metrics: &[String],
    precision: Option<(&sweep::Precision, usize)>,
) -> String {
    let shown = precision.map_or(0, |(_, m)| m);
    let m = &agg.points[p][shown];
    let ci = m
        .ci95()
        .map(|(lo, hi)| format!(" (95% CI {lo:.6}..{hi:.6})"))
        .unwrap_or_default();
    let goal = match precision {
        None => String::new(),
        Some((target, _)) => {
            let h = m.half_width().map_or("-".into(), |h| format!("{h:.6}"));
            let t = m
                .mean()
                .map_or("-".into(), |mean| format!("{:.6}", target.target(mean)));
            if target.met(m) {
                format!(", half-width {h} <= {t}: met")
            } else {
                format!(
                    ", half-width {h} > {t}: not met at the cap of {}",
                    target.max_replications
                )
            }
        }
    };
    format!(
        "point {}/{}{}: {} runs, {} {:.6}{ci}{goal}",
        p + 1,
        plan.points(),
        match plan.label(p) {
            l if l.is_empty() => l,
            l => format!(" {l}"),
        },
        agg.runs[p],
        metrics[shown],
        m.mean().unwrap_or(f64::NAN)
    )
}

/// Complete lines of a file (a last line without its newline was torn by an interruption),
/// with the byte offset after each.
fn whole_lines(file: &File, path: &Path) -> Result<Vec<(String, u64)>, CliError> {
    let mut reader = BufReader::new(file);
    let mut at = 0u64;
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).map_err(|e| fail(e, path))?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        at += n as u64;
        lines.push((line, at));
    }
    Ok(lines)
}

/// Reads back an interrupted `runs.csv.partial`: checks the header and that row k is the
/// shard's run k of this plan, keeps the rows whose checksum (line k of
/// `runs.csv.sums.partial`) matches up to the first that does not (a torn, corrupted or
/// unchecked row: it and what follows are run again), feeds them to `agg`, truncates both
/// files after them, and returns how many there are. A partial file without checksums
/// (written by an earlier version) is checked by its rows' keys alone.
#[allow(clippy::too_many_arguments)]
fn resume(
    partial: &Path,
    sums_path: &Path,
    plan: &Plan,
    shard: Shard,
    header: &[String],
    agg: &mut Aggregate,
    round: &mut sweep::Round,
    precision: Option<(&sweep::Precision, usize)>,
) -> Result<(u64, u64), CliError> {
    let file = open_own(partial, false)?;
    let lines = whole_lines(&file, partial)?;
    let sums: Option<Vec<String>> = if std::fs::symlink_metadata(sums_path).is_ok() {
        let f = open_own(sums_path, false)?;
        Some(
            whole_lines(&f, sums_path)?
                .into_iter()
                .map(|(l, _)| l.trim_end().to_owned())
                .collect(),
        )
    } else {
        None
    };
    let not_ours = |why: String| {
        bad(format!(
            "{} does not belong to this sweep ({why}); run without --resume to start over, or use another --out",
            partial.display()
        ))
    };
    let record = |line: &str| -> Option<csv::StringRecord> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes())
            .records()
            .next()
            .and_then(Result::ok)
    };
    let Some((first, mut keep)) = lines.first().cloned() else {
        return Err(not_ours("it is empty".into()));
    };
    let got: Vec<String> = record(&first)
        .map(|rec| rec.iter().map(str::to_owned).collect())
        .unwrap_or_default();
    if got != header {
        return Err(not_ours("its columns differ".into()));
    }
    let columns = sweep::RUN_KEY_COLUMNS + plan.all_params().count();
    // n: rows kept; k: of them, those of the current round (the schedule is replayed: with
    // --precision a round's points follow from the rows of the rounds before).
    let (mut n, mut k) = (0u64, 0u64);
    for (line, end) in &lines[1..] {
        let rec = record(line);
        if let Some(sums) = &sums {
            let sum = rec.as_ref().map(|r| sweep::row_sum(r.iter()));
            if sum.is_none() || sums.get(n as usize) != sum.as_ref() {
                break; // cut short, edited, or its checksum not written yet: run it again
            }
        }
        let Some(rec) = rec else {
            return Err(not_ours(format!("row {} is not CSV", n + 1)));
        };
        let i = shard.run(n);
        if k == round.runs(shard) {
            match precision.and_then(|(target, m)| round.next(target, m, agg)) {
                Some(next) => (*round, k) = (next, 0),
                None => {
                    return Err(not_ours(format!(
                        "row {} is beyond the sweep's last run",
                        n + 1
                    )));
                }
            }
        }
        let (p, rep) = round.run(shard, k);
        if rec.len() != header.len() || !sweep::is_run(plan, p, rep, rec.iter()) {
            return Err(not_ours(format!(
                "row {} is not run {i} of this sweep, replication {rep} of point {p}",
                n + 1
            )));
        }
        let cells: Vec<String> = rec.iter().skip(columns).map(str::to_owned).collect();
        agg.push(p, &cells);
        n += 1;
        k += 1;
        keep = *end;
    }
    file.set_len(keep).map_err(|e| fail(e, partial))?;
    drop(file);
    // The checksums of the rows kept (and none for an old file that had none).
    let mut text = String::new();
    if let Some(sums) = &sums {
        for s in &sums[..n as usize] {
            text.push_str(s);
            text.push('\n');
        }
    } else {
        let body: String = lines[1..=n as usize]
            .iter()
            .map(|(l, _)| l.as_str())
            .collect();
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(body.as_bytes());
        for rec in r.records().flatten() {
            text.push_str(&sweep::row_sum(rec.iter()));
            text.push('\n');
        }
    }
    write_atomic(sums_path, text.as_bytes()).map_err(CliError::Failed)?;
    Ok((n, k))
}

#[derive(Args, Debug)]
pub struct BenchSweepArgs {
    /// The scenario every run uses.
    #[arg(default_value = "scenarios/mmc.toml")]
    pub file: PathBuf,
    /// Runs per measurement (replications of the one point).
    #[arg(long, default_value_t = 200)]
    pub runs: u32,
    /// Threads to compare with one thread.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Fixed values of the scenario, as in `run` [default: scenario.duration=30m].
    #[arg(long = "set", value_name = "PATH=VALUE", default_values_t = ["scenario.duration=30m".to_owned()])]
    pub sets: Vec<String>,
    /// Measure each thread count this many times and keep the fastest.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
}

/// `outagesim bench sweep`: the same sweep on one thread and on --threads, in one process, as
/// `sweep` runs it (a rayon pool, chunks of 32 runs per thread, rows in run order).
pub fn bench(a: BenchSweepArgs) -> Result<(), CliError> {
    if a.threads == 0 || a.runs == 0 || a.repeat == 0 {
        return Err(bad("--threads, --runs and --repeat must be at least 1"));
    }
    let text = read(&a.file)?;
    let file = a.file.display().to_string();
    let mut plan = Plan {
        file,
        text,
        sets: a.sets.clone(),
        params: Vec::new(),
        sample: Vec::new(),
        replications: a.runs,
        seed: 0,
    };
    let specs = plan.load_points().map_err(bad)?;
    plan.seed = specs[0].seed;
    let clients = sweep::client_names(&specs[0]);
    let keep: Vec<usize> = (0..sweep::metric_names(&clients).len()).collect();
    let total = plan.runs();
    let measure = |threads: usize| -> Result<(f64, Vec<Vec<String>>), CliError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| CliError::Failed(e.into()))?;
        let started = Instant::now();
        let mut rows = Vec::with_capacity(total as usize);
        let guard = outagesim::model::Guard::default();
        let run = |i: u64| sweep::run_one(&plan, &specs, &clients, &keep, &guard, i);
        run_chunks(&pool, threads, 0..total, &run, |_, chunk| {
            rows.extend(chunk);
            Ok(())
        })?;
        Ok((started.elapsed().as_secs_f64(), rows))
    };
    let best = |threads: usize| -> Result<(f64, Vec<Vec<String>>), CliError> {
        let mut out = measure(threads)?;
        for _ in 1..a.repeat {
            let m = measure(threads)?;
            if m.0 < out.0 {
                out = m;
            }
        }
        Ok(out)
    };
    println!(
        "sweep bench: {} x {} runs ({}), fastest of {}",
        a.file.display(),
        total,
        a.sets.join(", "),
        a.repeat
    );
    println!(
        "{:>7} {:>9} {:>10} {:>9}",
        "threads", "seconds", "runs/s", "speed-up"
    );
    let (t1, rows1) = best(1)?;
    println!(
        "{:>7} {:>9.3} {:>10.1} {:>9}",
        1,
        t1,
        total as f64 / t1,
        "1.00x"
    );
    if a.threads > 1 {
        let (tn, rows_n) = best(a.threads)?;
        println!(
            "{:>7} {:>9.3} {:>10.1} {:>8.2}x  ({})",
            a.threads,
            tn,
            total as f64 / tn,
            t1 / tn,
            if rows_n == rows1 {
                "same rows"
            } else {
                "DIFFERENT rows"
            }
        );
    }
    if let Some(p) = outagesim::bench::peak_rss_bytes() {
        println!("peak memory: {:.1} MiB", p as f64 / (1024.0 * 1024.0));
    }
    Ok(())
}
