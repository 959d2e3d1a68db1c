//! Plots of an output folder, as PNG and SVG under `<folder>/plots/`.
//!
//! A run's folder (`summary.json` + `timeseries.csv`) gets `availability`, `components` and,
//! when `blast_radius.csv` is there, `blast-radius`. A sweep's folder (`points.csv` +
//! `runs.csv`) gets `<metric>` (the metric's mean against a parameter, with 95% confidence
//! bands), `<metric>-nines` for an availability metric, and `downtime` (the spread of
//! `worst_downtime_s` over the replications of each point).
//!
//! Only the folder's files are read, so older folders plot too: a panel whose column or file
//! is missing is left out. The same folder always gives the same bytes: text is drawn with the
//! bundled DejaVu Sans (no system fonts), colours come from a fixed palette in a fixed order,
//! and nothing depends on the clock or on hash order.

mod draw;
mod run;
mod sweep;
mod table;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// How a sweep is plotted: read from a sweep file's `[plot]` table, kept in the sweep
/// folder's `sweep.json` under `"plot"`, and overridden by `outagesim plot`'s flags.
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SweepPlot {
    /// The parameter (dotted path, as in the sweep's columns) on the x axis
    /// [default: the first parameter].
    pub x: Option<String>,
    /// The parameter drawn as one line per value [default: the second parameter, if any].
    /// Any further parameters split the lines once more: one line per combination.
    pub series: Option<String>,
    /// The metric on the y axis, as named in `points.csv` without its `_mean` suffix
    /// [default: `availability`, else the first metric].
    pub metric: Option<String>,
    /// Also draw the metric on a nines scale, -log10(1 - A). [default: yes when the metric
    /// is an availability (its name ends with `availability`)]. `true` for another metric is
    /// refused.
    pub nines: Option<bool>,
    /// Curves to compare with (e.g. a model's prediction), drawn dashed and labelled.
    pub reference: Vec<Reference>,
}

/// A reference curve: y against x, in the units of the plotted metric and parameter (seconds
/// for a parameter of durations; for a parameter of names, x is the name's position: 0 for the
/// first, 1 for the second...).
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Reference {
    pub label: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

/// An error in what was asked or in the folder's files (not in writing the plots): the command
/// line reports it as bad input. It travels inside `anyhow::Error`; find it with
/// `err.downcast_ref::<BadInput>()`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

pub(crate) fn bad(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(BadInput(msg.into()))
}

/// What an output folder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Folder {
    /// `summary.json` + `timeseries.csv`.
    Run,
    /// `points.csv` + `runs.csv`.
    Sweep,
}

/// The hint given for a folder that is neither.
pub const FOLDER_HINT: &str =
    "expected summary.json + timeseries.csv (a run) or points.csv + runs.csv (a sweep)";

/// What `dir` holds, from its files: a sweep when it has both sweep files, else a run when it
/// has both run files.
pub fn detect(dir: &Path) -> Option<Folder> {
    let has = |f: &str| dir.join(f).is_file();
    if has("points.csv") && has("runs.csv") {
        Some(Folder::Sweep)
    } else if has("summary.json") && has("timeseries.csv") {
        Some(Folder::Run)
    } else {
        None
    }
}

/// Draws every plot of the output folder `dir` (a run's or a sweep's, told by its files) into
/// `dir/plots/` and returns the files written, sorted. For a sweep, `sweep` gives the settings;
/// `None` takes them from `dir/sweep.json`'s `"plot"` object (defaults when absent). A run's
/// folder also plots each of its `what-ifs/<name>/` folders into their own `plots/`.
pub fn plot_dir(dir: &Path, sweep: Option<&SweepPlot>) -> anyhow::Result<Vec<PathBuf>> {
    match detect(dir) {
        Some(Folder::Run) => {
            let mut files = plot_run(dir)?;
            for w in what_ifs(dir)? {
                files.extend(plot_run(&w)?);
            }
            files.sort();
            Ok(files)
        }
        Some(Folder::Sweep) => match sweep {
            Some(opts) => plot_sweep(dir, opts),
            None => plot_sweep(dir, &manifest_plot(dir)?),
        },
        None if dir.join("runs.csv").is_file() && dir.join("sweep.json").is_file() => {
            Err(bad(format!(
                "{} holds a shard of a sweep (runs.csv without points.csv)\n  hint: join the shards with outagesim merge, then plot the merged folder",
                dir.display()
            )))
        }
        None => Err(bad(format!(
            "{} is not an output folder\n  hint: {FOLDER_HINT}",
            dir.display()
        ))),
    }
}

/// Draws a run folder's plots into `dir/plots/`; returns the files written, sorted.
pub fn plot_run(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    run::plot(dir)
}

/// Draws a sweep folder's plots into `dir/plots/`; returns the files written, sorted.
pub fn plot_sweep(dir: &Path, opts: &SweepPlot) -> anyhow::Result<Vec<PathBuf>> {
    sweep::plot(dir, opts)
}

/// The `"plot"` object of `dir/sweep.json`, or the defaults when the file or the key is absent.
pub fn manifest_plot(dir: &Path) -> anyhow::Result<SweepPlot> {
    let path = dir.join("sweep.json");
    let Some(v) = manifest(dir)? else {
        return Ok(SweepPlot::default());
    };
    match v.get("plot") {
        None | Some(serde_json::Value::Null) => Ok(SweepPlot::default()),
        Some(p) => serde_json::from_value(p.clone())
            .map_err(|e| bad(format!("{}: \"plot\": {e}", path.display()))),
    }
}

/// `dir/sweep.json` as JSON, if the file exists.
pub(crate) fn manifest(dir: &Path) -> anyhow::Result<Option<serde_json::Value>> {
    let path = dir.join("sweep.json");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| bad(format!("{}: {e}", path.display())))
}

/// The run folders under `dir/what-ifs/`, sorted by name.
fn what_ifs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let root = dir.join("what-ifs");
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    let entries = std::fs::read_dir(&root)
        .map_err(|e| anyhow::anyhow!("cannot list {}: {e}", root.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| detect(p) == Some(Folder::Run))
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// "unknown metric 'x'" with a did-you-mean and the valid names.
pub(crate) fn unknown(what: &str, word: &str, valid: &[&str]) -> anyhow::Error {
    let hint = crate::scenario::suggest(word, &format!("{what}s"), valid);
    bad(format!("unknown {what} '{word}'\n  hint: {hint}"))
}

#[cfg(test)]
mod folder_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_refuse_unknown_fields() {
        let p = SweepPlot {
            x: Some("a.b".into()),
            series: None,
            metric: Some("availability".into()),
            nines: Some(true),
            reference: vec![Reference {
                label: "model".into(),
                x: vec![1.0, 2.0],
                y: vec![0.9, 0.99],
            }],
        };
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(serde_json::from_value::<SweepPlot>(json).unwrap(), p);
        let t: SweepPlot = toml::from_str("metric = \"worst_downtime_s\"").unwrap();
        assert_eq!(t.metric.as_deref(), Some("worst_downtime_s"));
        assert_eq!(t.x, None);
        assert!(toml::from_str::<SweepPlot>("metrc = \"x\"").is_err());
    }

    #[test]
    fn unknown_names_suggest_the_closest() {
        let e = unknown(
            "metric",
            "availabilty",
            &["availability", "worst_downtime_s"],
        );
        let msg = e.to_string();
        assert!(msg.contains("unknown metric 'availabilty'"), "{msg}");
        assert!(msg.contains("did you mean 'availability'?"), "{msg}");
        assert!(e.downcast_ref::<BadInput>().is_some());
        let e = unknown("metric", "avail", &["worst_downtime_s", "availability"]);
        assert!(e.to_string().contains("did you mean 'availability'?"));
        let e = unknown("metric", "zzz", &["availability"]);
        assert!(e.to_string().contains("metrics: availability"));
    }

    #[test]
    fn a_folder_without_outputs_is_bad_input() {
        let dir = std::env::temp_dir().join(format!("outagesim-plot-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = plot_dir(&dir, None).unwrap_err();
        assert!(e.downcast_ref::<BadInput>().is_some());
        assert!(e.to_string().contains(FOLDER_HINT));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
