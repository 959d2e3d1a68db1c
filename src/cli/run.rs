//! `outagesim run`, `validate` and `describe`: load a scenario file (the only place that reads
//! it), run it with a progress bar, and write the outputs atomically.

use super::{CliError, scenario_problems, write_atomic};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use outagesim::model::{self, RunOptions, spec::Spec, summary};
use outagesim::report::{self, replay};
use outagesim::scenario;
use outagesim::stats::ClientSeries;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Flags shared by every command that loads a scenario.
#[derive(Args, Debug)]
pub struct ScenarioArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Override any value of the file by its dotted path, before validation; repeatable.
    /// Examples: components.api.replicas=3, scenario.duration=10h,
    /// 'components.users.retry={attempts=3}', faults.0.at=5m.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Run seed (overrides scenario.seed), from 0 to 2^63 - 1 (a TOML integer).
    #[arg(long, value_parser = clap::value_parser!(u64).range(0..=i64::MAX as u64))]
    pub seed: Option<u64>,
    /// Output directory [default: output/<scenario name>, in lower-case letters, digits and
    /// dashes].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads; regions run as parallel partitions when a pilot of the run (its first
    /// 1%) finds the work spread over them enough to pay (the run says which). Outputs are the
    /// same for any value. Default: the cores available.
    #[arg(long, default_value_t = super::default_threads())]
    pub threads: usize,
    /// With several threads: run the regions as parallel partitions even when the pilot finds
    /// one region doing nearly all the work (the same outputs; for checking and measuring).
    #[arg(long)]
    pub partitioned: bool,
    /// No progress bar and no table.
    #[arg(long)]
    pub quiet: bool,
    /// Print the summary as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also run every [[what_ifs]] entry of the scenario (same seed), write each one's outputs
    /// under OUT/what-ifs/<name>/, and print them beside the baseline. With --threads N, N
    /// what-ifs run at once.
    #[arg(long)]
    pub what_ifs: bool,
    /// Run the scenario R times (R >= 2) and write OUT/timeseries_bands.csv (per bucket and
    /// client group: mean and 95% band of availability and latency). Replication 0 has the
    /// run's seed and writes the usual outputs. With --what-ifs, replication r of the baseline
    /// and of every what-if share one seed, and each metric's mean difference from the
    /// baseline is reported with a 95% interval over the paired differences (per-replication
    /// values in OUT/what-ifs.csv; each what-if's bands in its folder).
    #[arg(long, value_name = "R")]
    pub replications: Option<u32>,
    /// Do not draw the plots (OUT/plots/*.png and *.svg; `outagesim plot OUT` draws them later).
    #[arg(long)]
    pub no_plots: bool,
    #[command(flatten)]
    pub guard: super::GuardArgs,
}

#[derive(Args, Debug)]
pub struct DescribeArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Print Graphviz DOT instead of text.
    #[arg(long, conflicts_with = "settings")]
    pub dot: bool,
    /// Print every component's settings instead: each declared setting with its value as
    /// written (after --set) or its default.
    #[arg(long)]
    pub settings: bool,
}

/// Reads a scenario file.
fn read(args: &ScenarioArgs) -> Result<String, CliError> {
    let path = &args.scenario;
    let bytes = super::out::read_input(path, "scenario file")?;
    super::utf8(path, bytes)
}

/// The command line's overrides followed by `extra`.
fn overrides(args: &ScenarioArgs, extra: &[String]) -> Vec<String> {
    let mut sets = args.sets.clone();
    sets.extend_from_slice(extra);
    sets
}

/// Validates a scenario's `text` (read from `args.scenario`) with its overrides.
fn load_text(args: &ScenarioArgs, text: &str, extra: &[String]) -> Result<Spec, CliError> {
    scenario::load(
        text,
        &args.scenario.display().to_string(),
        &overrides(args, extra),
    )
    .map_err(|e| scenario_problems(&[e]))
}

/// Reads and validates a scenario file with its overrides; also returns the text.
pub fn load_with_text(args: &ScenarioArgs) -> Result<(Spec, String), CliError> {
    let text = read(args)?;
    Ok((load_text(args, &text, &[])?, text))
}

/// Reads and validates a scenario file with its overrides.
pub fn load(args: &ScenarioArgs, extra: &[String]) -> Result<Spec, CliError> {
    load_text(args, &read(args)?, extra)
}

/// Loads every what-if of `base` (all of them checked before anything runs).
fn load_what_ifs(
    args: &ScenarioArgs,
    text: &str,
    extra: &[String],
    base: &Spec,
) -> Result<Vec<Spec>, CliError> {
    let file = args.scenario.display().to_string();
    let sets = overrides(args, extra);
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for i in 0..base.replay.what_ifs.len() {
        match scenario::load_what_if(text, &file, &sets, base, i) {
            Ok(s) => specs.push(s),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(scenario_problems(&errors))
    }
}

pub fn validate(args: ScenarioArgs) -> Result<(), CliError> {
    let text = read(&args)?;
    let spec = load_text(&args, &text, &[])?;
    load_what_ifs(&args, &text, &[], &spec)?;
    super::lint::print_warnings(&args, &spec, &text);
    let replicas: u32 = spec.groups.iter().map(|g| g.replicas() - g.standby).sum();
    let standby: u32 = spec.groups.iter().map(|g| g.standby).sum();
    let count =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut extras = vec![count(spec.faults.len(), "fault", "faults")];
    if standby > 0 {
        extras.insert(0, format!("{standby} standby"));
    }
    // Listed only when present.
    let optional = [
        (spec.failures.len(), "random failure", "random failures"),
        (spec.alarms.len(), "alarm", "alarms"),
        (spec.actions.len(), "action", "actions"),
        (
            spec.replay.published.len(),
            "published event",
            "published events",
        ),
        (spec.replay.what_ifs.len(), "what-if", "what-ifs"),
    ];
    for (n, one, many) in optional {
        if n > 0 {
            extras.push(count(n, one, many));
        }
    }
    println!(
        "{}: ok — scenario '{}', {} component groups ({} replicas), {}, {} simulated",
        args.scenario.display(),
        spec.name,
        spec.groups.len(),
        replicas,
        extras.join(", "),
        spec.duration
    );
    Ok(())
}

pub fn describe(args: DescribeArgs) -> Result<(), CliError> {
    if args.settings {
        let text = read(&args.scenario)?;
        let file = args.scenario.scenario.display().to_string();
        let view = scenario::settings_view(&text, &file, &overrides(&args.scenario, &[]))
            .map_err(|e| scenario_problems(&[e]))?;
        print!("{view}");
        return Ok(());
    }
    let spec = load(&args.scenario, &[])?;
    let text = if args.dot {
        scenario::topology::dot(&spec)
    } else {
        scenario::topology::describe(&spec)
    };
    print!("{text}");
    Ok(())
}

pub fn run(args: RunArgs) -> Result<(), CliError> {
    if args.threads == 0 {
        return Err(CliError::BadInput("--threads must be at least 1".into()));
    }
    let extra: Vec<String> = args
        .seed
        .map(|s| vec![format!("scenario.seed={s}")])
        .unwrap_or_default();
    if let Some(r) = args.replications {
        if r < 2 {
            return Err(CliError::BadInput(format!(
                "--replications {r}: a 95% interval needs at least 2 replications (try --replications 10)"
            )));
        }
    }
    let text = read(&args.scenario)?;
    let spec = load_text(&args.scenario, &text, &extra)?;
    if !args.quiet {
        super::lint::print_warnings(&args.scenario, &spec, &text);
    }
    let what_ifs = if args.what_ifs {
        if spec.replay.what_ifs.is_empty() {
            return Err(CliError::BadInput(format!(
                "{} has no [[what_ifs]] entries to run (add [[what_ifs]] tables with a name and set = [\"path=value\"])",
                args.scenario.scenario.display()
            )));
        }
        load_what_ifs(&args.scenario, &text, &extra, &spec)?
    } else {
        Vec::new()
    };
    let base = spec.clone();
    let out_dir = args
        .out
        .clone()
        .unwrap_or_else(|| super::default_out(&spec.name, ""));
    // Everything (what-ifs, replay.md and plots included) is written into a staging folder,
    // renamed over OUT once complete; OUT stays locked meanwhile.
    let staged = super::out::Staged::begin(&out_dir)?;
    let stage = staged.path().to_path_buf();
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    let mut on_progress = |p: model::Progress| {
        if !show_progress {
            return;
        }
        if bar.is_none() && started.elapsed() > Duration::from_secs(1) {
            let b = ProgressBar::new(p.duration.0.max(1));
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{bar:40}] {percent:>3}% simulated {msg} ({elapsed}, ETA {eta})",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(p.sim_time.0);
            let rate = p.events as f64 / started.elapsed().as_secs_f64().max(1e-9);
            b.set_message(format!(
                "{} of {}, {:.2} M events/s",
                p.sim_time,
                p.duration,
                rate / 1e6
            ));
        }
    };
    let result = model::run_guarded(
        spec,
        &if args.partitioned {
            RunOptions::partitioned(args.threads)
        } else {
            RunOptions::threads(args.threads)
        },
        &args.guard.guard(),
        &mut on_progress,
    );
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let result = result.map_err(|e| super::run_failed(e.into()))?;
    let wall = started.elapsed().as_secs_f64();
    // With several threads and regions, which executor ran and why (stderr: the outputs are
    // the same bytes either way).
    if let (Some(plan), false) = (&result.plan, args.quiet) {
        eprintln!("threads: {plan}");
    }
    let summary = summary::summarize(&result, wall);
    write_outputs(&stage, &result, &summary).map_err(CliError::Failed)?;
    let rows = replay::timeline(&base, &result, &summary);
    let series = args
        .replications
        .map(|_| outagesim::stats::client_series(&result));
    drop(result);
    if what_ifs.is_empty() {
        if let (Some(r), Some(first)) = (args.replications, series) {
            let outcomes = [replay::Outcome::of("baseline", &summary)];
            let reps = run_replications(&base, Vec::new(), r, &outcomes, &args)?;
            let mut runs = vec![first];
            runs.extend(reps.series.into_iter().flatten());
            write_atomic(
                &stage.join("timeseries_bands.csv"),
                &outagesim::stats::bands_csv(&runs),
            )
            .map_err(CliError::Failed)?;
        }
        let plots = super::plot::draw_into(&stage, args.no_plots)?;
        super::page::write(&stage, &base, &summary, &rows, &[])?;
        staged.commit()?;
        print_run(&args, &base, &summary, &rows, &out_dir, false)?;
        return super::plot::tell(&out_dir, plots, args.quiet || args.json);
    }
    let mut outcomes = vec![replay::Outcome::of("baseline", &summary)];
    let replicated = args.replications.map(|r| (r, what_ifs.clone()));
    let dirs = what_if_dirs(&base, &stage);
    let (firsts, first_series): (Vec<_>, Vec<_>) = run_what_ifs(&base, what_ifs, &dirs, &args)?
        .into_iter()
        .unzip();
    outcomes.extend(firsts);
    let mut command = format!(
        "outagesim run {} --what-ifs",
        args.scenario.scenario.display()
    );
    if let Some(r) = args.replications {
        command.push_str(&format!(" --replications {r}"));
    }
    for set in &args.scenario.sets {
        command.push_str(&format!(" --set {set}"));
    }
    if let Some(seed) = args.seed {
        command.push_str(&format!(" --seed {seed}"));
    }
    let mut md = replay::markdown(&base, &command, &replay::intro(&text), &rows, &outcomes);
    let mut paired = String::new();
    if let Some((r, specs)) = replicated {
        let reps = run_replications(&base, specs, r, &outcomes, &args)?;
        md.push_str(&replay::paired_markdown(&reps.outcomes, &reps.seeds));
        write_atomic(
            &stage.join("what-ifs.csv"),
            &replay::what_ifs_csv(&reps.outcomes, &reps.seeds),
        )
        .map_err(CliError::Failed)?;
        paired = replay::paired_text(&reps.outcomes);
        // Bands over time: the baseline's in OUT, each what-if's in its folder.
        let firsts = std::iter::once(series).chain(first_series);
        let folders = std::iter::once(stage.clone()).chain(dirs);
        for ((first, later), dir) in firsts.zip(reps.series).zip(folders) {
            let mut runs: Vec<_> = first.into_iter().collect();
            runs.extend(later);
            write_atomic(
                &dir.join("timeseries_bands.csv"),
                &outagesim::stats::bands_csv(&runs),
            )
            .map_err(CliError::Failed)?;
        }
    }
    write_atomic(&stage.join("replay.md"), md.as_bytes()).map_err(CliError::Failed)?;
    // Plots last, once every output (the what-ifs' included) is written; the page after them.
    let plots = super::plot::draw_into(&stage, args.no_plots)?;
    super::page::write(&stage, &base, &summary, &rows, &outcomes)?;
    staged.commit()?;
    print_run(&args, &base, &summary, &rows, &out_dir, true)?;
    if !args.quiet && !args.json {
        println!();
        print!("{}", replay::what_ifs_text(&outcomes));
        if !paired.is_empty() {
            println!();
            print!("{paired}");
        }
        println!(
            "outputs: {} (what-ifs under {}, report replay.md)",
            out_dir.display(),
            out_dir.join("what-ifs").display()
        );
    }
    super::plot::tell(&out_dir, plots, args.quiet || args.json)
}

/// Prints a finished run: its summary as JSON, or the table and the timeline (and where the
/// outputs are, unless what-ifs follow).
fn print_run(
    args: &RunArgs,
    base: &Spec,
    summary: &summary::Summary,
    rows: &[replay::TimelineRow],
    out_dir: &Path,
    what_ifs: bool,
) -> Result<(), CliError> {
    if args.json {
        std::io::stdout()
            .write_all(&report::summary_json(summary))
            .map_err(|e| CliError::Failed(e.into()))?;
    } else if !args.quiet {
        print!("{}", report::table(summary));
        let timeline = replay::timeline_text(base, rows);
        if !timeline.is_empty() {
            println!();
            print!("{timeline}");
        }
        if !what_ifs {
            println!("outputs: {}", out_dir.display());
        }
    }
    Ok(())
}

/// Each what-if's output folder under `out_dir`, in file order.
fn what_if_dirs(base: &Spec, out_dir: &Path) -> Vec<PathBuf> {
    let names = base.replay.what_ifs.iter().map(|w| &w.name);
    let mut dirs: Vec<PathBuf> = Vec::new();
    for n in names {
        let mut d = out_dir.join("what-ifs").join(super::slug(n, "what-if"));
        let mut k = 2;
        while dirs.contains(&d) {
            d = out_dir
                .join("what-ifs")
                .join(format!("{}-{k}", super::slug(n, "what-if")));
            k += 1;
        }
        dirs.push(d);
    }
    dirs
}

/// Runs the what-ifs, `--threads` at a time, each on one thread; writes each one's outputs
/// into `dirs` and returns their outcomes in file order (with their client series under
/// `--replications`).
fn run_what_ifs(
    base: &Spec,
    specs: Vec<Spec>,
    dirs: &[PathBuf],
    args: &RunArgs,
) -> Result<Vec<WhatIfRun>, CliError> {
    use rayon::prelude::*;
    let names: Vec<String> = base
        .replay
        .what_ifs
        .iter()
        .map(|w| w.name.clone())
        .collect();
    let (bar, pool) = bar_and_pool(
        args,
        specs.len(),
        "{spinner} what-ifs [{bar:30}] {pos}/{len} ({elapsed}, ETA {eta}) {msg}",
    )?;
    let guard = args.guard.guard();
    let results: Vec<anyhow::Result<WhatIfRun>> = pool.install(|| {
        specs
            .into_par_iter()
            .zip(names.par_iter())
            .zip(dirs.par_iter())
            .map(|((spec, name), dir)| {
                let started = Instant::now();
                let r = model::run_guarded(spec, &RunOptions::threads(1), &guard, &mut |_| {})?;
                let s = summary::summarize(&r, started.elapsed().as_secs_f64());
                write_outputs(dir, &r, &s)?;
                if let Some(b) = &bar {
                    b.inc(1);
                    b.set_message(name.clone());
                }
                let series = args
                    .replications
                    .map(|_| outagesim::stats::client_series(&r));
                Ok((replay::Outcome::of(name, &s), series))
            })
            .collect()
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    results
        .into_iter()
        .zip(&names)
        .map(|(r, n)| r.map_err(|e| super::run_failed(e.context(format!("what-if '{n}'")))))
        .collect()
}

/// Runs replications 1..`reps` of the baseline and of every what-if (replication 0 is already
/// in `first`, in file order), `--threads` runs at once, and returns every variant's outcomes
/// by replication (the baseline first) and the replications' seeds.
fn run_replications(
    base: &Spec,
    specs: Vec<Spec>,
    reps: u32,
    first: &[replay::Outcome],
    args: &RunArgs,
) -> Result<Replicated, CliError> {
    use rayon::prelude::*;
    let seeds: Vec<u64> = (0..reps)
        .map(|r| outagesim::stats::replication_seed(base.seed, r))
        .collect();
    let variants: Vec<&Spec> = std::iter::once(base).chain(&specs).collect();
    let jobs: Vec<(usize, u32)> = (0..variants.len())
        .flat_map(|v| (1..reps).map(move |r| (v, r)))
        .collect();
    let (bar, pool) = bar_and_pool(
        args,
        jobs.len(),
        "{spinner} replications [{bar:30}] {pos}/{len} ({elapsed}, ETA {eta})",
    )?;
    let guard = args.guard.guard();
    let results: Vec<anyhow::Result<(replay::Outcome, ClientSeries)>> = pool.install(|| {
        jobs.par_iter()
            .map(|&(v, r)| {
                let mut spec = variants[v].clone();
                spec.seed = seeds[r as usize];
                let started = Instant::now();
                let run = model::run_guarded(spec, &RunOptions::threads(1), &guard, &mut |_| {})
                    .map_err(|e| {
                        anyhow::Error::from(e).context(format!(
                            "{} replication {r} (seed {})",
                            first[v].name, seeds[r as usize]
                        ))
                    })?;
                let s = summary::summarize(&run, started.elapsed().as_secs_f64());
                if let Some(b) = &bar {
                    b.inc(1);
                }
                let series = outagesim::stats::client_series(&run);
                Ok((replay::Outcome::of(&first[v].name, &s), series))
            })
            .collect()
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let mut out = Replicated {
        outcomes: first.iter().map(|o| vec![o.clone()]).collect(),
        series: vec![Vec::new(); first.len()],
        seeds,
    };
    for ((v, _), r) in jobs.iter().zip(results) {
        let (outcome, series) = r.map_err(super::run_failed)?;
        out.outcomes[*v].push(outcome);
        out.series[*v].push(series);
    }
    Ok(out)
}

/// A what-if's single-seed outcome, and its client series under `--replications`.
type WhatIfRun = (replay::Outcome, Option<ClientSeries>);

/// Replications of the baseline and the what-ifs.
struct Replicated {
    /// Per variant (the baseline first), its outcomes by replication, replication 0 included.
    outcomes: Vec<Vec<replay::Outcome>>,
    /// Per variant, its client series of replications 1 and on.
    series: Vec<Vec<ClientSeries>>,
    /// Each replication's seed.
    seeds: Vec<u64>,
}

/// Writes every output file: each to a temporary name first, then renamed into place, and
/// `summary.json` last, so a folder with a summary is a complete one.
fn write_outputs(dir: &Path, r: &model::RunResult, s: &summary::Summary) -> anyhow::Result<()> {
    use anyhow::Context as _;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let _ = std::fs::remove_file(dir.join("summary.json"));
    let files: [(&str, Vec<u8>); 5] = [
        ("timeseries.csv", report::timeseries_csv(r)),
        ("components.csv", report::components_csv(r)),
        ("blast_radius.csv", report::blast_radius_csv(r)),
        ("events.csv", report::events_csv(r)),
        ("summary.json", report::summary_json(s)),
    ];
    for (name, bytes) in files {
        write_atomic(&dir.join(name), &bytes)?;
    }
    Ok(())
}

/// A progress bar over `len` runs (on a terminal, unless `--quiet`) and a pool of `--threads`.
fn bar_and_pool(
    args: &RunArgs,
    len: usize,
    template: &str,
) -> Result<(Option<ProgressBar>, rayon::ThreadPool), CliError> {
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(len as u64);
        b.set_style(
            ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> "),
        );
        b
    });
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .map_err(|e| CliError::Failed(e.into()))?;
    Ok((bar, pool))
}
