//! CSV files of an output folder, read as text cells with their header.

use super::bad;
use std::path::{Path, PathBuf};

/// A whole CSV file.
pub(super) struct Table {
    pub path: PathBuf,
    pub header: Vec<String>,
    pub rows: Vec<csv::StringRecord>,
}

impl Table {
    /// Reads `path`; a missing or malformed file is bad input naming it.
    pub fn read(path: &Path) -> anyhow::Result<Table> {
        Self::read_filtered(path, |_| true)
    }

    /// Reads `path`, keeping the rows for which `keep` holds.
    pub fn read_filtered(
        path: &Path,
        mut keep: impl FnMut(&csv::StringRecord) -> bool,
    ) -> anyhow::Result<Table> {
        let at = |e: csv::Error| bad(format!("{}: {e}", path.display()));
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        let header: Vec<String> = r.headers().map_err(at)?.iter().map(str::to_owned).collect();
        let mut rows = Vec::new();
        for rec in r.records() {
            let rec = rec.map_err(at)?;
            if keep(&rec) {
                rows.push(rec);
            }
        }
        Ok(Table {
            path: path.to_owned(),
            header,
            rows,
        })
    }

    /// The index of column `name`, if any.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The index of column `name`; its absence is bad input naming the file.
    pub fn need(&self, name: &str) -> anyhow::Result<usize> {
        self.col(name).ok_or_else(|| {
            bad(format!(
                "{}: no column '{name}' (columns: {})",
                self.path.display(),
                self.header.join(", ")
            ))
        })
    }
}

/// A cell as a finite number; empty, unparsable and non-finite cells are `None`.
pub(super) fn num(rec: &csv::StringRecord, i: usize) -> Option<f64> {
    rec.get(i)
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite())
}

/// A cell as text ("" when the row is short).
pub(super) fn cell(rec: &csv::StringRecord, i: usize) -> &str {
    rec.get(i).unwrap_or("")
}
