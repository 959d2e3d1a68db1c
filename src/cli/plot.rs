//! `outagesim plot`: draws the plots of a run's or a sweep's output folder as PNG and SVG
//! under `DIR/plots/`, and prints the files written.

use super::CliError;
use clap::Args;
use outagesim::plot::{self, BadInput, Folder};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// A run's output folder (summary.json, timeseries.csv...) or a sweep's (points.csv,
    /// runs.csv).
    pub dir: PathBuf,
    /// Sweep: the parameter on the x axis, as named in points.csv [default: the sweep file's
    /// [plot] x, else the first parameter].
    #[arg(long, value_name = "PATH")]
    pub x: Option<String>,
    /// Sweep: the parameter drawn as one line per value [default: [plot] series, else the
    /// second parameter].
    #[arg(long, value_name = "PATH")]
    pub series: Option<String>,
    /// Sweep: the metric plotted, e.g. availability, worst_downtime_s, users.latency_p99_s
    /// [default: [plot] metric, else availability].
    #[arg(long, value_name = "NAME")]
    pub metric: Option<String>,
    /// Sweep: also plot the metric (an availability) on a nines scale, -log10(1 - A); the
    /// default for an availability metric.
    #[arg(long)]
    pub nines: bool,
}

/// Draws a finished run's or sweep's plots from its folder (unless `no_plots`), and says where
/// they went unless `quiet`. Used at the end of `run`, `sweep` and `merge`.
pub(super) fn draw(dir: &Path, no_plots: bool, quiet: bool) -> Result<(), CliError> {
    if no_plots {
        return Ok(());
    }
    let files = plot::plot_dir(dir, None).map_err(error)?;
    if !quiet {
        println!(
            "plots: {} ({} files)",
            dir.join("plots").display(),
            files.len()
        );
    }
    Ok(())
}

/// Draws the plots of a finished folder being staged (unless `no_plots`), saying nothing;
/// returns how many files were written, for [`tell`] once the folder is in place.
pub(super) fn draw_into(dir: &Path, no_plots: bool) -> Result<Option<usize>, CliError> {
    if no_plots {
        return Ok(None);
    }
    Ok(Some(plot::plot_dir(dir, None).map_err(error)?.len()))
}

/// Says where [`draw_into`]'s plots went, under the folder's final place `dir`.
pub(super) fn tell(dir: &Path, files: Option<usize>, quiet: bool) -> Result<(), CliError> {
    if let (Some(n), false) = (files, quiet) {
        println!("plots: {} ({n} files)", dir.join("plots").display());
    }
    Ok(())
}

fn error(e: anyhow::Error) -> CliError {
    match e.downcast_ref::<BadInput>() {
        Some(_) => CliError::BadInput(format!("{e:#}")),
        None => CliError::Failed(e),
    }
}

pub fn plot(args: PlotArgs) -> Result<(), CliError> {
    let sweep_flags =
        args.x.is_some() || args.series.is_some() || args.metric.is_some() || args.nines;
    let files = match plot::detect(&args.dir) {
        Some(Folder::Sweep) => {
            let mut opts = plot::manifest_plot(&args.dir).map_err(error)?;
            if args.x.is_some() {
                opts.x = args.x;
            }
            if args.series.is_some() {
                opts.series = args.series;
            }
            if args.metric.is_some() {
                opts.metric = args.metric;
            }
            if args.nines {
                opts.nines = Some(true);
            }
            plot::plot_dir(&args.dir, Some(&opts)).map_err(error)?
        }
        Some(Folder::Run) if sweep_flags => {
            return Err(CliError::BadInput(format!(
                "{} is a run's output folder: --x, --series, --metric and --nines apply to a sweep's",
                args.dir.display()
            )));
        }
        _ => plot::plot_dir(&args.dir, None).map_err(error)?,
    };
    for f in files {
        println!("{}", f.display());
    }
    Ok(())
}
