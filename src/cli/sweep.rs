//! `outagesim sweep`: reads a sweep file (or a scenario with `--param`), checks every point
//! before any run, runs the replications on a rayon pool in chunks, streams `runs.csv` in run
//! order and writes `points.csv` at the end; `--resume` continues an interrupted sweep.

use super::{CliError, write_atomic};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use outagesim::model::{self, RunOptions, summary};
use outagesim::sweep::{self, Aggregate, Param, Plan};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// A sweep file (TOML with `base`, `replications`, `seed`, `[grid]`), or a scenario file
    /// swept with --param.
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
    /// Runs at once (each run on one thread). The files are the same for any value.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Continue an interrupted sweep in --out: run only what is missing.
    #[arg(long)]
    pub resume: bool,
    /// Output directory [default: output/<scenario name>-sweep].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bar and no per-point lines.
    #[arg(long)]
    pub quiet: bool,
}

/// A sweep file as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    /// The base scenario, relative to the sweep file.
    base: String,
    replications: Option<u32>,
    seed: Option<u64>,
    #[serde(default)]
    set: Vec<String>,
    /// Dotted path -> values.
    #[serde(default)]
    grid: BTreeMap<String, Vec<toml::Value>>,
}

fn bad(msg: impl Into<String>) -> CliError {
    CliError::BadInput(msg.into())
}

fn read(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read {}: {e}", path.display())))
}

/// A TOML value as a `--set` value: strings bare, everything else as TOML.
fn set_value(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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

/// The plan from the file and flags.
fn plan(args: &SweepArgs) -> Result<Plan, CliError> {
    let text = read(&args.file)?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        bad(format!(
            "error: {}: {}",
            args.file.display(),
            e.to_string().trim()
        ))
    })?;
    let (file, base_text, mut params, mut sets, reps, seed) = if table.contains_key("base") {
        let sf: SweepFile = toml::from_str(&text).map_err(|e| {
            bad(format!(
                "error: {}: {}\n  hint: a sweep file has base, replications, seed, set and a [grid] of \"dotted.path\" = [values]",
                args.file.display(),
                e.to_string().trim()
            ))
        })?;
        let base = args.file.parent().unwrap_or(Path::new(".")).join(&sf.base);
        let params = sf
            .grid
            .iter()
            .map(|(path, values)| {
                if values.is_empty() {
                    Err(bad(format!(
                        "error: {}: grid.\"{path}\": give at least one value",
                        args.file.display()
                    )))
                } else {
                    Ok(Param {
                        path: path.clone(),
                        values: values.iter().map(set_value).collect(),
                    })
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let base_text = read(&base)?;
        (
            base.display().to_string(),
            base_text,
            params,
            sf.set,
            sf.replications,
            sf.seed,
        )
    } else {
        (
            args.file.display().to_string(),
            text,
            Vec::new(),
            Vec::new(),
            None,
            None,
        )
    };
    for p in &args.params {
        params.push(parse_param(p)?);
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
        replications,
        seed: 0,
    };
    plan.seed = match args.seed.or(seed) {
        Some(s) => s,
        None => {
            outagesim::scenario::load(&plan.text, &plan.file, &plan.sets)
                .map_err(|e| bad(e.to_string()))?
                .seed
        }
    };
    Ok(plan)
}

pub fn sweep(args: SweepArgs) -> Result<(), CliError> {
    if args.threads == 0 {
        return Err(bad("--threads must be at least 1"));
    }
    let plan = plan(&args)?;
    // Every point is loaded (and refused, with exit 2) before anything runs.
    let specs = plan.load_points().map_err(bad)?;
    let clients: Vec<String> = specs[0]
        .groups
        .iter()
        .filter(|g| matches!(g.kind, model::spec::KindSpec::Client(_)))
        .map(|g| g.name.clone())
        .collect();
    let metrics = sweep::metric_names(&clients);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(format!("{}-sweep", specs[0].name)));
    std::fs::create_dir_all(&out)
        .map_err(|e| CliError::Failed(anyhow::anyhow!("cannot create {}: {e}", out.display())))?;
    let fail = |e: std::io::Error, what: &Path| {
        CliError::Failed(anyhow::anyhow!("{}: {e}", what.display()))
    };
    let partial = out.join("runs.csv.partial");
    let header = sweep::runs_header(&plan, &metrics);
    let mut agg = Aggregate::new(plan.points(), metrics.len());
    let total = plan.runs();
    let reps = u64::from(plan.replications);

    // Resume: keep the complete rows of the partial file, after checking they belong to
    // this sweep, and feed them to the aggregates.
    let mut done = 0u64;
    if args.resume && out.join("runs.csv").is_file() && !partial.exists() {
        return Err(bad(format!(
            "{} holds a finished sweep (runs.csv); nothing to resume",
            out.display()
        )));
    }
    if args.resume && partial.is_file() {
        done = resume(&partial, &plan, &header, &mut agg)?;
    } else {
        let _ = std::fs::remove_file(out.join("runs.csv"));
        let _ = std::fs::remove_file(out.join("points.csv"));
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(&header).expect("writing to memory");
        std::fs::write(&partial, w.into_inner().expect("memory")).map_err(|e| fail(e, &partial))?;
    }
    let mut file = OpenOptions::new()
        .append(true)
        .open(&partial)
        .map_err(|e| fail(e, &partial))?;

    let terminal = !args.quiet && std::io::stderr().is_terminal();
    let lines = !args.quiet && !terminal;
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
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| CliError::Failed(e.into()))?;
    let started = Instant::now();
    let chunk = 32 * args.threads as u64;
    let mut next = done;
    while next < total {
        let end = (next + chunk).min(total);
        let rows: Vec<anyhow::Result<Vec<String>>> = pool.install(|| {
            use rayon::prelude::*;
            (next..end)
                .into_par_iter()
                .map(|i| {
                    let (p, r) = ((i / reps) as usize, (i % reps) as u32);
                    let mut spec = specs[p].clone();
                    spec.seed = plan.run_seed(p, r);
                    let res = model::run(spec, &RunOptions { threads: 1 }, &mut |_| {})?;
                    let s = summary::summarize(&res, 0.0);
                    Ok(sweep::run_row(
                        &plan,
                        p,
                        r,
                        &sweep::metric_values(&s, &clients),
                    ))
                })
                .collect()
        });
        let mut w = csv::Writer::from_writer(Vec::new());
        for (i, row) in (next..end).zip(rows) {
            let row = row.map_err(|e| CliError::Failed(e.context(format!("run {i}"))))?;
            let p = (i / reps) as usize;
            agg.push(p, &row[3 + plan.params.len()..]);
            w.write_record(&row).expect("writing to memory");
            if lines && (i + 1) % reps == 0 {
                eprintln!("{}", point_line(&plan, &agg, p, &metrics));
            }
        }
        file.write_all(&w.into_inner().expect("memory"))
            .map_err(|e| fail(e, &partial))?;
        if let Some(b) = &bar {
            b.set_position(end);
            let p = ((end - 1) / reps) as usize;
            b.set_message(format!("point {}/{}", p + 1, plan.points()));
        }
        next = end;
    }
    file.sync_all().map_err(|e| fail(e, &partial))?;
    drop(file);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    // points.csv first, then runs.csv into place: a folder with runs.csv is complete.
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(sweep::points_header(&plan, &metrics))
        .expect("writing to memory");
    for p in 0..plan.points() {
        w.write_record(agg.point_row(&plan, p))
            .expect("writing to memory");
    }
    write_atomic(&out.join("points.csv"), &w.into_inner().expect("memory"))
        .map_err(CliError::Failed)?;
    std::fs::rename(&partial, out.join("runs.csv")).map_err(|e| fail(e, &partial))?;
    if !args.quiet {
        let secs = started.elapsed().as_secs_f64();
        let ran = total - done;
        println!(
            "{} points x {} replications = {total} runs ({ran} run now{}) in {secs:.1}s, {:.1} runs/s",
            plan.points(),
            plan.replications,
            if done > 0 {
                format!(", {done} resumed")
            } else {
                String::new()
            },
            ran as f64 / secs.max(1e-9)
        );
        println!("outputs: {} (runs.csv, points.csv)", out.display());
    }
    Ok(())
}

/// "point 2/6 components.api.replicas=2: 20 runs, availability 0.99812 (95% CI 0.99790..0.99834)".
fn point_line(plan: &Plan, agg: &Aggregate, p: usize, metrics: &[String]) -> String {
    let m = &agg.points[p][0];
    let ci = m
        .ci95()
        .map(|(lo, hi)| format!(" (95% CI {lo:.6}..{hi:.6})"))
        .unwrap_or_default();
    format!(
        "point {}/{} {}: {} runs, {} {:.6}{ci}",
        p + 1,
        plan.points(),
        plan.label(p),
        agg.runs[p],
        metrics[0],
        m.mean().unwrap_or(f64::NAN)
    )
}

/// Reads back an interrupted `runs.csv.partial`: checks the header and that row i is run i of
/// this plan, drops a torn last line, feeds the rows to `agg`, and returns how many there are.
fn resume(
    partial: &Path,
    plan: &Plan,
    header: &[String],
    agg: &mut Aggregate,
) -> Result<u64, CliError> {
    let fail = |e: std::io::Error| CliError::Failed(anyhow::anyhow!("{}: {e}", partial.display()));
    let f = File::open(partial).map_err(fail)?;
    let mut reader = BufReader::new(f);
    // Keep whole lines only: a line without its newline was torn by the interruption.
    let mut keep = 0u64;
    let mut lines: Vec<String> = Vec::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).map_err(fail)?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        keep += n as u64;
        lines.push(line);
    }
    let not_ours = |why: String| {
        bad(format!(
            "{} does not belong to this sweep ({why}); run without --resume to start over, or use another --out",
            partial.display()
        ))
    };
    let Some(first) = lines.first() else {
        return Err(not_ours("it is empty".into()));
    };
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(first.as_bytes());
    let got: Vec<String> = r
        .records()
        .next()
        .and_then(Result::ok)
        .map(|rec| rec.iter().map(str::to_owned).collect())
        .unwrap_or_default();
    if got != header {
        return Err(not_ours("its columns differ".into()));
    }
    let reps = u64::from(plan.replications);
    let body: String = lines[1..].concat();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes());
    let mut n = 0u64;
    for rec in r.records() {
        let rec = rec.map_err(|e| not_ours(e.to_string()))?;
        let (p, rep) = ((n / reps) as usize, (n % reps) as u32);
        let expect = sweep::run_row(plan, p, rep, &[]);
        if n >= plan.runs()
            || rec
                .iter()
                .take(expect.len())
                .ne(expect.iter().map(String::as_str))
        {
            return Err(not_ours(format!(
                "row {} is not run {n} of this sweep",
                n + 1
            )));
        }
        let cells: Vec<String> = rec.iter().skip(expect.len()).map(str::to_owned).collect();
        agg.push(p, &cells);
        n += 1;
    }
    let file = OpenOptions::new().write(true).open(partial).map_err(fail)?;
    file.set_len(keep).map_err(fail)?;
    Ok(n)
}
