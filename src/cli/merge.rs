//! `outagesim merge`: joins the shards of a sweep (`sweep --shard I/N`) into exactly the files
//! one unsharded run writes, after checking that every shard is there and that they all belong
//! to the same sweep.

use super::sweep::{fail, finish, manifest_difference, read_manifest};
use super::{CliError, bad, shell_word};
use clap::Args;
use outagesim::sweep::{self, Aggregate, Manifest, Shard};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Shard folders (shard-I-of-N), or folders holding them (a sweep's --out).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write runs.csv, points.csv and sweep.json [default: the folder holding the
    /// shards].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print nothing on success.
    #[arg(long)]
    pub quiet: bool,
    /// Do not draw the plots (OUT/plots/; `outagesim plot OUT` draws them later).
    #[arg(long)]
    pub no_plots: bool,
}

/// A complete shard found on disk.
struct Found {
    dir: PathBuf,
    manifest: Manifest,
    shard: Shard,
}

/// Shard folders named `shard-I-of-N`, and interrupted ones (`.shard-I-of-N.partial`).
pub(super) fn parse_dir_name(name: &str) -> Option<(Shard, bool)> {
    let (name, partial) = match name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".partial"))
    {
        Some(n) => (n, true),
        None => (name, false),
    };
    let rest = name.strip_prefix("shard-")?;
    let (i, n) = rest.split_once("-of-")?;
    Shard::parse(&format!("{i}/{n}")).ok().map(|s| (s, partial))
}

/// Shards not complete yet: their `.shard-I-of-N.partial` folders.
type Unfinished = Vec<(Shard, PathBuf)>;

/// Every shard under the given folders, and the interrupted ones seen.
fn collect(dirs: &[PathBuf]) -> Result<(Vec<Found>, Unfinished), CliError> {
    let mut found = Vec::new();
    let mut partial = Vec::new();
    for d in dirs {
        if !d.is_dir() {
            return Err(bad(format!("{}: no such folder", d.display())));
        }
        let direct = d.join("sweep.json");
        if direct.is_file() {
            let m = read_manifest(d)?;
            if let Some(s) = &m.shard {
                let shard = Shard {
                    index: s.index.saturating_sub(1),
                    count: s.count,
                };
                found.push(Found {
                    dir: d.clone(),
                    manifest: m,
                    shard,
                });
                continue;
            }
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| bad(format!("cannot read {}: {e}", d.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        let before = found.len() + partial.len();
        for e in entries {
            let name = e.file_name().map(|n| n.to_string_lossy().into_owned());
            let Some((shard, is_partial)) = name.as_deref().and_then(parse_dir_name) else {
                continue;
            };
            if is_partial {
                partial.push((shard, e));
            } else {
                let manifest = read_manifest(&e)?;
                found.push(Found {
                    dir: e,
                    manifest,
                    shard,
                });
            }
        }
        if found.len() + partial.len() == before {
            return Err(bad(format!(
                "{} holds no shards\n  hint: shards are the shard-I-of-N folders `outagesim sweep --shard I/N --out {}` writes",
                d.display(),
                d.display()
            )));
        }
    }
    Ok((found, partial))
}

pub fn merge(args: MergeArgs) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    let (mut found, partial) = collect(&args.dirs)?;
    let Some(first) = found.first() else {
        let list: Vec<String> = partial
            .iter()
            .map(|(s, p)| format!("{s} ({})", p.display()))
            .collect();
        return Err(bad(format!(
            "no complete shard yet; unfinished: {}",
            list.join(", ")
        )));
    };
    let reference = first.manifest.whole();
    if let Some(p) = &reference.precision {
        return Err(bad(format!(
            "{}: a sweep run to a precision ({}) is never sharded, so there is nothing to merge",
            first.dir.display(),
            p.label()
        )));
    }
    let count = first.shard.count;
    for f in &found {
        let name = f.dir.display();
        let Some(info) = &f.manifest.shard else {
            return Err(bad(format!("{name}: sweep.json does not describe a shard")));
        };
        if info.count != count || f.shard.count != count {
            return Err(bad(format!(
                "{name} is a shard of {} but {} is a shard of {count}; shards of one sweep share their count",
                info.count,
                found[0].dir.display()
            )));
        }
        if f.manifest.whole() != reference {
            return Err(bad(format!(
                "{name} and {} are shards of different sweeps ({})",
                found[0].dir.display(),
                manifest_difference(&f.manifest, &found[0].manifest)
            )));
        }
    }
    found.sort_by_key(|f| f.shard.index);
    for w in found.windows(2) {
        if w[0].shard == w[1].shard {
            return Err(bad(format!(
                "shard {} is given twice: {} and {}",
                w[0].shard,
                w[0].dir.display(),
                w[1].dir.display()
            )));
        }
    }
    let out = match &args.out {
        Some(o) => o.clone(),
        None => {
            let parent = |f: &Found| f.dir.parent().map(Path::to_path_buf).unwrap_or_default();
            let p = parent(&found[0]);
            if found.iter().any(|f| parent(f) != p) {
                return Err(bad(
                    "the shards are in different folders; say where the merged sweep goes with --out",
                ));
            }
            p
        }
    };
    let missing: Vec<Shard> = (0..count)
        .map(|index| Shard { index, count })
        .filter(|s| !found.iter().any(|f| f.shard == *s))
        .collect();
    if !missing.is_empty() {
        return Err(bad(missing_message(&found[0], &missing, &partial, &out)?));
    }
    let plan = reference.plan();
    let metrics = reference.metrics.clone();
    // One writer of the merged folder at a time, and only over this sweep's files.
    let _lock = super::out::lock(&out)?;
    if out.join("sweep.json").is_file() {
        let theirs = read_manifest(&out)?;
        if theirs.whole() != reference {
            return Err(bad(format!(
                "{} holds another sweep ({})\n  hint: merge into another --out, or remove that sweep's files",
                out.display(),
                manifest_difference(&theirs, &found[0].manifest)
            )));
        }
    }
    std::fs::create_dir_all(&out).map_err(|e| {
        bad(format!(
            "--out {}: cannot create the folder: {e}\n  hint: choose a folder that is not a file and whose parent you can write",
            out.display()
        ))
    })?;
    let agg = join(&found, &plan, &metrics, &out)?;
    finish(&out, &plan, &metrics, &agg, &reference)?;
    if !args.quiet {
        println!(
            "merged {count} shards: {} points x {} replications = {} runs in {:.1}s",
            plan.points(),
            plan.replications,
            plan.runs(),
            started.elapsed().as_secs_f64()
        );
        println!(
            "outputs: {} (runs.csv, points.csv, sweep.json)",
            out.display()
        );
    }
    super::plot::draw(&out, args.no_plots, args.quiet)
}

/// The error for an incomplete set: which shards are missing, which are unfinished, and the
/// commands that run only them.
fn missing_message(
    any: &Found,
    missing: &[Shard],
    partial: &[(Shard, PathBuf)],
    out: &Path,
) -> Result<String, CliError> {
    let count = missing[0].count;
    let list: Vec<String> = missing.iter().map(|s| s.to_string()).collect();
    let mut msg = format!(
        "{} of {count} shards missing: {}",
        missing.len(),
        list.join(", ")
    );
    let unfinished: Vec<String> = partial
        .iter()
        .filter(|(s, _)| missing.contains(s))
        .map(|(s, p)| format!("{s} ({})", p.display()))
        .collect();
    if !unfinished.is_empty() {
        msg.push_str(&format!(
            "\n  unfinished (still running, or interrupted): {}",
            unfinished.join(", ")
        ));
    }
    let command = any
        .manifest
        .shard
        .as_ref()
        .map(|s| s.command.clone())
        .unwrap_or_default();
    let quoted = command
        .iter()
        .map(|a| shell_word(a))
        .collect::<Result<Vec<_>, _>>()?;
    msg.push_str(
        "\n  hint: rerun only the missing shards (--resume continues an interrupted one):",
    );
    for s in missing {
        msg.push_str(&format!(
            "\n    outagesim {} --shard {s} --resume",
            quoted.join(" ")
        ));
    }
    let sbatch = out.join("cluster").join("sweep-array.sbatch");
    if sbatch.is_file() {
        let ids: Vec<String> = missing.iter().map(|s| s.index.to_string()).collect();
        msg.push_str(&format!(
            "\n  or, on Slurm: sbatch --array={} {}",
            ids.join(","),
            shell_word(&sbatch.display().to_string())?
        ));
    }
    msg.push_str(&format!(
        "\n  then merge again: outagesim merge {}",
        shell_word(&out.display().to_string())?
    ));
    Ok(msg)
}

/// Interleaves the shards' rows back into run order into `out/runs.csv.partial`, checking
/// each row is the run it should be, and aggregates them.
fn join(
    found: &[Found],
    plan: &outagesim::sweep::Plan,
    metrics: &[String],
    out: &Path,
) -> Result<Aggregate, CliError> {
    let header = sweep::runs_header(plan, metrics);
    let mut readers = Vec::with_capacity(found.len());
    for f in found {
        let path = f.dir.join("runs.csv");
        let mut r = csv::Reader::from_path(&path)
            .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        let h: Vec<String> = r
            .headers()
            .map_err(|e| bad(format!("{}: {e}", path.display())))?
            .iter()
            .map(str::to_owned)
            .collect();
        if h != header {
            return Err(bad(format!(
                "{}: its columns are not this sweep's",
                path.display()
            )));
        }
        let sums = read_sums(&f.dir.join("runs.csv.sums"))?;
        readers.push((path, r.into_records(), sums.into_iter()));
    }
    let partial = out.join("runs.csv.partial");
    let sums_path = out.join("runs.csv.sums.partial");
    // Fresh files under new names, renamed over whatever was there (never through a link).
    let new_file = |path: &Path| -> Result<tempfile::NamedTempFile, CliError> {
        outagesim::files::builder(false)
            .prefix(".merge.")
            .suffix(".partial")
            .tempfile_in(out)
            .map_err(|e| fail(e, path))
    };
    let (file, sums_file) = (new_file(&partial)?, new_file(&sums_path)?);
    let mut sums_out = std::io::BufWriter::new(sums_file);
    let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
    let io = |e: csv::Error| fail(e, &partial);
    w.write_record(&header).map_err(io)?;
    let mut agg = Aggregate::new(plan.points(), metrics.len());
    let reps = u64::from(plan.replications);
    let columns = sweep::RUN_KEY_COLUMNS + plan.all_params().count();
    let n = found.len() as u64;
    for i in 0..plan.runs() {
        let (path, records, sums) = &mut readers[(i % n) as usize];
        let (p, r) = ((i / reps) as usize, (i % reps) as u32);
        let rec = match records.next() {
            Some(Ok(rec)) => rec,
            Some(Err(e)) => return Err(bad(format!("{}: {e}", path.display()))),
            None => {
                return Err(bad(format!(
                    "{} ends early: run {i} is missing; rerun that shard",
                    path.display()
                )));
            }
        };
        let line = rec.position().map_or(0, |p| p.line());
        let sum = sweep::row_sum(rec.iter());
        if sums.next().as_ref() != Some(&sum) {
            return Err(bad(format!(
                "error: {}:{line}: the row of run {i} does not match its checksum in runs.csv.sums: the file was cut short or edited\n  hint: remove {} and merge again: merge then names the command that reruns that shard",
                path.display(),
                path.parent().unwrap_or(Path::new(".")).display()
            )));
        }
        if !sweep::is_run(plan, p, r, rec.iter()) || rec.len() != header.len() {
            return Err(bad(format!(
                "error: {}:{line}: row for run {i} (point {p}, replication {r}) does not match this sweep",
                path.display()
            )));
        }
        let cells: Vec<String> = rec.iter().skip(columns).map(str::to_owned).collect();
        agg.push(p, &cells);
        w.write_record(&rec).map_err(io)?;
        sums_out
            .write_all(format!("{sum}\n").as_bytes())
            .map_err(|e| fail(e, &sums_path))?;
    }
    for (path, records, sums) in &mut readers {
        if records.next().is_some() || sums.next().is_some() {
            return Err(bad(format!(
                "{} has more rows (or checksums in runs.csv.sums) than its shard's runs",
                path.display()
            )));
        }
    }
    let persist = |buf: std::io::BufWriter<tempfile::NamedTempFile>, to: &Path| {
        let tmp = buf.into_inner().map_err(|e| fail(e.error(), to))?;
        tmp.as_file().sync_all().map_err(|e| fail(e, to))?;
        tmp.persist(to).map_err(|e| fail(e.error, to))?;
        Ok::<(), CliError>(())
    };
    persist(sums_out, &sums_path)?;
    persist(w.into_inner().map_err(|e| fail(e, &partial))?, &partial)?;
    Ok(agg)
}

/// A shard's row checksums (`runs.csv.sums`, one per line).
fn read_sums(path: &Path) -> Result<Vec<String>, CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        bad(format!(
            "cannot read {}: {e}\n  hint: a shard folder holds runs.csv and its checksums; rerun that shard",
            path.display()
        ))
    })?;
    Ok(String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::to_owned)
        .collect())
}
