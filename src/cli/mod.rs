//! Command-line interface: flag definitions (clap derive), dispatch, and exit codes.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 bad input (flags, files, values), 3 a run
//! stopped by a guard (`--max-events`, `--max-pending`).

mod bench_topology;
mod cluster;
mod lint;
mod merge;
mod out;
mod page;
mod plot;
mod run;
mod sweep;

use clap::{Args, Parser, Subcommand};
use outagesim::bench::phold::{self, PholdParams, PholdResult};
use std::io::Write;

/// outagesim: a deterministic discrete-event simulator of outages in distributed systems.
#[derive(Parser, Debug)]
#[command(name = "outagesim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario: print what users saw, write summary.json and CSVs.
    Run(run::RunArgs),
    /// Check a scenario file and report every problem at once.
    Validate(run::ScenarioArgs),
    /// Warn about single points of failure, timeout order, retry amplification, slow health checks.
    ///
    /// Exit 0 with warnings; validate and run print the same ones on stderr.
    Lint(run::ScenarioArgs),
    /// Show the built topology as text, or Graphviz DOT with --dot.
    Describe(run::DescribeArgs),
    /// Print the JSON Schema of scenario files, for editors (Taplo / Even Better TOML read a
    /// `#:schema <path>` first line); the same file ships as schema/scenario.schema.json.
    Schema,
    /// Run seeded replications over a grid of parameter values: runs.csv and points.csv.
    Sweep(sweep::SweepArgs),
    /// Join the shards of a sweep (sweep --shard I/N) into the files one unsharded run writes.
    Merge(merge::MergeArgs),
    /// Draw a run's or a sweep's output folder as PNG and SVG plots under DIR/plots/.
    Plot(plot::PlotArgs),
    /// Run a sweep on a cluster: a Slurm array job or a Kubernetes Indexed Job of shards, and
    /// the merge.
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Measure the engine.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// PHOLD, the standard parallel discrete-event benchmark, in events per second.
    Phold(PholdArgs),
    /// Sweep throughput: the same replications on one thread and on --threads, in runs/s.
    Sweep(sweep::BenchSweepArgs),
    /// CPU per event of a scenario and of its components copied --factor times (that many
    /// times the entities and the load), for the same number of events, on one thread.
    Topology(bench_topology::TopologyArgs),
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
struct PholdArgs {
    /// Number of logical processes (N).
    #[arg(long, default_value_t = 1024)]
    lps: u32,
    /// Events each LP starts with (J).
    #[arg(long, default_value_t = 16)]
    start_events: u32,
    /// Probability that an event is sent to a random LP instead of itself (R).
    #[arg(long, default_value_t = 0.9)]
    remote: f64,
    /// Mean delay between an event and the one it causes, in seconds (M).
    #[arg(long, default_value_t = 1.0)]
    mean: f64,
    /// Minimum delay in seconds (L); also the partitioned executor's lookahead.
    #[arg(long, default_value_t = 0.1)]
    lookahead: f64,
    /// Events to commit (E), e.g. 20000000 or 2e7.
    #[arg(long, default_value = "2e7", value_parser = parse_count)]
    events: u64,
    /// Worker threads. 1 without --partitions runs the sequential executor.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Partitions for the partitioned executor (default: four per thread when --threads > 1;
    /// measured better balanced than one per thread).
    #[arg(long)]
    partitions: Option<u32>,
    /// Run seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Also run a plain BinaryHeap loop with the same parameters, in the same process.
    #[arg(long)]
    baseline: bool,
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

/// Parses an event count written as an integer ("20000000", "20_000_000") or in
/// scientific notation with an integral value ("2e7").
fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    match t.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 && x.fract() == 0.0 && x < 1.8e19 => Ok(x as u64),
        _ => Err(format!(
            "invalid count \"{s}\": write a whole number such as 20000000 or 2e7"
        )),
    }
}

/// A file's bytes as text, or where its first byte that is not UTF-8 is (line and column).
fn utf8(path: &std::path::Path, bytes: Vec<u8>) -> Result<String, CliError> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let before = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        CliError::BadInput(format!(
            "error: {}:{line}:{col}: the file is not UTF-8 text (byte 0x{:02x})\n  hint: save it as UTF-8",
            path.display(),
            e.as_bytes()[at]
        ))
    })
}

/// A folder name made of lower-case letters, digits and dashes (`fallback` when nothing is
/// left): a name is a label, never a path, so no name can reach outside the output folder.
pub(crate) fn slug(name: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_owned();
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out
    }
}

/// The default output folder of a scenario named `name`: `output/<slug><suffix>`.
pub(crate) fn default_out(name: &str, suffix: &str) -> std::path::PathBuf {
    std::path::Path::new("output").join(format!("{}{suffix}", slug(name, "scenario")))
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    // A closed stdout pipe (`outagesim describe FILE | head -1`) ends the program quietly, as
    // it ends any Unix filter, rather than as a panic in `println!` (Rust ignores SIGPIPE).
    #[cfg(unix)]
    // SAFETY: restoring the default action of a signal, before any thread is started.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Validate(args) => run::validate(args),
        Command::Lint(args) => lint::lint(args),
        Command::Describe(args) => run::describe(args),
        Command::Schema => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`outagesim schema | head`) is not an error.
            let _ = out.write_all(outagesim::scenario::schema_text().as_bytes());
            Ok(())
        }
        Command::Sweep(args) => sweep::sweep(args),
        Command::Merge(args) => merge::merge(args),
        Command::Plot(args) => plot::plot(args),
        Command::Cluster(cmd) => cluster::cluster(cmd),
        Command::Bench(BenchCommand::Phold(args)) => bench_phold(args),
        Command::Bench(BenchCommand::Sweep(args)) => sweep::bench(args),
        Command::Bench(BenchCommand::Topology(args)) => bench_topology::topology(args),
    };
    match result {
        Ok(()) => 0,
        Err(CliError::BadInput(msg)) => {
            // Scenario errors arrive already formatted with their own "error:" prefixes
            // (coloured ones start with an escape sequence).
            if msg.starts_with("error") || msg.starts_with('\x1b') {
                eprintln!("{msg}");
            } else {
                eprintln!("error: {msg}");
            }
            2
        }
        Err(CliError::Failed(e)) => {
            eprintln!("error: {e:#}");
            1
        }
        Err(CliError::Guard(msg)) => {
            eprintln!("error: {msg}");
            3
        }
    }
}

use outagesim::files::write_atomic;

/// Bad input: exit code 2 with `msg`.
fn bad(msg: impl Into<String>) -> CliError {
    CliError::BadInput(msg.into())
}

/// Scenarios' problems as bad input, one report after the other, in colour when stderr is a
/// terminal (and `NO_COLOR` is not set).
fn scenario_problems(errors: &[outagesim::scenario::ScenarioError]) -> CliError {
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let reports: Vec<String> = errors.iter().map(|e| e.render(colour)).collect();
    bad(reports.join("\n"))
}

/// `s` as one POSIX shell word (quoted only where it has to be), for the commands the CLI
/// prints and the scripts it writes. A NUL byte cannot be passed to any program, so a string
/// holding one (possible only from a hand-edited file) is bad input.
fn shell_word(s: &str) -> Result<String, CliError> {
    shlex::try_quote(s).map(|q| q.into_owned()).map_err(|_| {
        bad(format!(
            "{s:?} cannot be written as a shell word: it contains a NUL byte"
        ))
    })
}

enum CliError {
    /// The user's input is wrong: exit code 2.
    BadInput(String),
    /// Something failed while running: exit code 1.
    Failed(anyhow::Error),
    /// A run went past `--max-events` or `--max-pending`: exit code 3.
    Guard(String),
}

/// A failure while running, or a guard's stop (exit 3) when that is what it was.
fn run_failed(e: anyhow::Error) -> CliError {
    match e.downcast_ref::<outagesim::model::ModelError>() {
        Some(outagesim::model::ModelError::Guard(_)) => CliError::Guard(format!("{e:#}")),
        _ => CliError::Failed(e),
    }
}

/// The limits that stop a run that would run away (`run` and `sweep`).
#[derive(Args, Debug, Clone)]
pub struct GuardArgs {
    /// Stop a run (exit 3) once it has committed more than N events, e.g. 5e8; in a sweep,
    /// each run [default: no limit].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub max_events: Option<u64>,
    /// Stop a run (exit 3) once more than N events are pending at once: the memory guard
    /// (each pending event costs memory) [default: 10000000].
    #[arg(long, value_name = "N", value_parser = parse_count)]
    pub max_pending: Option<u64>,
}

impl GuardArgs {
    fn guard(&self) -> outagesim::model::Guard {
        let default = outagesim::model::Guard::default();
        outagesim::model::Guard {
            max_events: self.max_events,
            max_pending: self.max_pending.unwrap_or(default.max_pending),
        }
    }
}

fn bench_phold(a: PholdArgs) -> Result<(), CliError> {
    let params = PholdParams {
        lps: a.lps,
        start_events: a.start_events,
        remote: a.remote,
        mean: a.mean,
        lookahead: a.lookahead,
        events: a.events,
        seed: a.seed,
    };
    params.validate().map_err(CliError::BadInput)?;
    if a.threads == 0 {
        return Err(CliError::BadInput("--threads must be at least 1".into()));
    }
    if a.partitions == Some(0) {
        return Err(CliError::BadInput("--partitions must be at least 1".into()));
    }
    let partitions = a.partitions.or(if a.threads > 1 {
        Some(4 * a.threads as u32)
    } else {
        None
    });
    let (result, _) = phold::run_engine(&params, a.threads, partitions)
        .map_err(|e| CliError::Failed(anyhow::anyhow!(e)))?;
    let peak = outagesim::bench::peak_rss_bytes();
    let mut rows = vec![(result, peak)];
    if a.baseline {
        let b = phold::run_baseline(&params).map_err(|e| CliError::Failed(anyhow::anyhow!(e)))?;
        rows.push((b, None));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let io = |e: std::io::Error| CliError::Failed(e.into());
    if a.json {
        for (r, peak) in &rows {
            let mut v = serde_json::to_value(r).map_err(|e| CliError::Failed(e.into()))?;
            if let Some(p) = peak {
                v["peak_rss_bytes"] = (*p).into();
            }
            writeln!(out, "{v}").map_err(io)?;
        }
    } else {
        print_table(&mut out, &rows).map_err(io)?;
    }
    Ok(())
}

fn print_table(out: &mut impl Write, rows: &[(PholdResult, Option<u64>)]) -> std::io::Result<()> {
    let r0 = &rows[0].0;
    writeln!(
        out,
        "PHOLD  N={} J={} seed={}  (events committed to a lookahead boundary)",
        r0.lps, r0.start_events, r0.seed
    )?;
    writeln!(
        out,
        "{:<10} {:<12} {:>7} {:>10} {:>12} {:>8} {:>12} {:>16}",
        "engine", "executor", "threads", "partitions", "events", "seconds", "events/s", "checksum"
    )?;
    for (r, _) in rows {
        writeln!(
            out,
            "{:<10} {:<12} {:>7} {:>10} {:>12} {:>8.3} {:>12} {:>16}",
            r.engine,
            r.executor,
            r.threads,
            r.partitions,
            r.events,
            r.seconds,
            human_rate(r.events_per_sec),
            r.checksum
        )?;
    }
    if rows.len() == 2 {
        let (e, b) = (&rows[0].0, &rows[1].0);
        let same = if e.checksum == b.checksum && e.events == b.events {
            "same events and checksum"
        } else {
            "DIFFERENT events or checksum"
        };
        writeln!(
            out,
            "speed-up over baseline: {:.2}x ({same})",
            e.events_per_sec / b.events_per_sec
        )?;
    }
    if let Some(p) = rows[0].1 {
        writeln!(out, "peak memory: {:.1} MiB", p as f64 / (1024.0 * 1024.0))?;
    }
    Ok(())
}

fn human_rate(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// The default of `--threads` for `run`, its what-ifs and `sweep`: the cores available to
/// this process (1 when that cannot be told). Outputs are the same for any count.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse() {
        assert_eq!(parse_count("2e7"), Ok(20_000_000));
        assert_eq!(parse_count("20_000_000"), Ok(20_000_000));
        assert_eq!(parse_count("15"), Ok(15));
        assert!(parse_count("1.5").unwrap_err().contains("whole number"));
        assert!(parse_count("-3").is_err());
        assert!(parse_count("lots").is_err());
    }

    #[test]
    fn shell_words_round_trip_and_nul_is_refused() {
        for (s, want) in [
            ("scenarios/mmc.toml", "scenarios/mmc.toml"),
            ("scenario.duration=5m", "'scenario.duration=5m'"),
            ("my study", "'my study'"),
            ("it's", "\"it's\""),
            ("", "''"),
        ] {
            let q = shell_word(s).unwrap_or_else(|_| panic!("{s:?}"));
            assert_eq!(q, want);
            assert_eq!(shlex::split(&q), Some(vec![s.to_owned()]));
        }
        match shell_word("a\0b") {
            Err(CliError::BadInput(m)) => assert_eq!(
                m,
                "\"a\\0b\" cannot be written as a shell word: it contains a NUL byte"
            ),
            _ => panic!("a NUL byte was quoted"),
        }
    }
}
