//! Writes a run's `report.html` (see `outagesim::report::page`) once its outputs and plots
//! are in its folder.

use std::path::Path;

use outagesim::files::write_atomic;
use outagesim::model::spec::Spec;
use outagesim::model::summary::Summary;
use outagesim::report::page::{Page, html};
use outagesim::report::replay::{Outcome, TimelineRow};

use super::CliError;

/// Reads the SVG plots under `dir/plots` (in name order) and writes `dir/report.html`.
pub fn write(
    dir: &Path,
    spec: &Spec,
    summary: &Summary,
    timeline: &[TimelineRow],
    outcomes: &[Outcome],
) -> Result<(), CliError> {
    let mut plots = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("plots")) {
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "svg"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| CliError::Failed(e.into()))?;
            let name = f
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            plots.push((name, text));
        }
    }
    let page = html(&Page {
        spec,
        summary,
        timeline,
        outcomes,
        plots,
    });
    write_atomic(&dir.join("report.html"), page.as_bytes()).map_err(CliError::Failed)
}
