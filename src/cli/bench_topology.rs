//! `outagesim bench topology`: CPU per event of a scenario and of its components copied
//! `--factor` times (see `outagesim::bench::topology`), for the same number of events.

use super::{CliError, bad, scenario_problems};
use clap::Args;
use outagesim::bench::topology::{self, ScaleError, ScaledRun};
use outagesim::engine::{SimTime, parse_duration};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TopologyArgs {
    /// The scenario to scale.
    #[arg(default_value = "scenarios/bench-reference.toml")]
    pub file: PathBuf,
    /// Copies of every component (each with its own clients, so this many times the load).
    #[arg(long, default_value_t = 16)]
    pub factor: u32,
    /// Simulated time of the scaled run; the original runs factor times as long, for about
    /// the same number of events.
    #[arg(long, default_value = "30s")]
    pub duration: String,
    /// Rounds, each running the original then the scaled scenario.
    #[arg(long, default_value_t = 3)]
    pub repeat: u32,
    /// Print one JSON object per run instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Largest factor accepted (the scaled topology is built in memory).
const MAX_FACTOR: u32 = 256;

pub fn topology(a: TopologyArgs) -> Result<(), CliError> {
    if a.factor < 2 || a.factor > MAX_FACTOR {
        return Err(bad(format!(
            "--factor {}: must be from 2 to {MAX_FACTOR}\n  hint: 16 compares 16 copies with one",
            a.factor
        )));
    }
    if a.repeat == 0 {
        return Err(bad("--repeat 0: must be at least 1"));
    }
    let d = parse_duration(&a.duration)
        .map_err(|e| bad(format!("--duration {:?}: {}", a.duration, e.reason())))?;
    if d.0 == 0 {
        return Err(bad("--duration 0s: must be longer than zero"));
    }
    let long =
        d.0.checked_mul(u64::from(a.factor))
            .map(SimTime)
            .ok_or_else(|| {
                bad(format!(
                    "--duration {}: too long to multiply by {}",
                    a.duration, a.factor
                ))
            })?;
    // One bucket as long as the scaled run, for both runs.
    let bucket = d;
    let bytes = super::out::read_input(&a.file, "scenario file")?;
    let text = super::utf8(&a.file, bytes)?;
    let file = a.file.display().to_string();
    let load = |factor: u32, d: SimTime| {
        topology::load_scaled(&text, &file, factor, d, bucket).map_err(|e| match e {
            ScaleError::Text(m) => bad(format!("{file}: {m}")),
            ScaleError::Scenario(e) => scenario_problems(&[e]),
        })
    };
    // The original's own problems, located in the file; then both copies, before measuring.
    let sets = [
        format!("scenario.duration={}ns", long.0),
        format!("scenario.bucket={}ns", bucket.0),
    ];
    outagesim::scenario::load(&text, &file, &sets).map_err(|e| scenario_problems(&[e]))?;
    load(1, long)?;
    load(a.factor, d)?;
    let dropped = topology::scale_scenario(&text, 1).map_or(Vec::new(), |(_, d)| d);
    if !a.json {
        println!(
            "topology bench: {file}, x1 for {}s against x{} for {}s, {} rounds, one thread",
            long.to_secs_string(),
            a.factor,
            d.to_secs_string(),
            a.repeat
        );
        if !dropped.is_empty() {
            println!("left out (steady state only): {}", dropped.join(", "));
        }
        println!(
            "{:>5} {:>6} {:>9} {:>12} {:>8} {:>9} {:>10}",
            "round",
            "factor",
            "entities",
            "events",
            "cpu_s",
            "ns/event",
            "x16 / x1".replace("16", &a.factor.to_string())
        );
    }
    let failed = |e: anyhow::Error| CliError::Failed(e);
    let mut ratios = Vec::new();
    for round in 1..=a.repeat {
        let one = topology::measure(load(1, long)?, 1).map_err(failed)?;
        let many = topology::measure(load(a.factor, d)?, a.factor).map_err(failed)?;
        let ratio = many.ns_per_event / one.ns_per_event;
        ratios.push(ratio);
        for (r, cell) in [(&one, String::new()), (&many, format!("{ratio:.3}"))] {
            if a.json {
                let mut v = serde_json::to_value(r).map_err(|e| CliError::Failed(e.into()))?;
                v["round"] = round.into();
                println!("{v}");
            } else {
                row(round, r, &cell);
            }
        }
    }
    if !a.json {
        ratios.sort_by(f64::total_cmp);
        println!(
            "cost per event at x{}: {:.3}x of x1 (median of {}; {:.3} to {:.3})",
            a.factor,
            ratios[ratios.len() / 2],
            ratios.len(),
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
    Ok(())
}

fn row(round: u32, r: &ScaledRun, ratio: &str) {
    println!(
        "{:>5} {:>6} {:>9} {:>12} {:>8.3} {:>9.1} {:>10}",
        round,
        format!("x{}", r.factor),
        r.entities,
        r.events,
        r.cpu_s,
        r.ns_per_event,
        ratio
    );
}
