//! Sweep files: the base scenario, replications, seed, fixed overrides, a `[grid]` of values,
//! a `[sample]` of ranges drawn by Latin hypercube, the metrics to keep and `[plot]` settings.
//! Every problem is reported with the file, line and column, the bad value and a hint.
//!
//! ```toml
//! base = "../retry-storm-metastable.toml"   # relative to this file
//! replications = 20
//! seed = 7
//! set = ["scenario.duration=30m"]
//! metrics = ["availability", "worst_downtime_s"]
//!
//! [grid]
//! "components.users.retry.attempts" = [1, 2, 3]
//!
//! [sample]
//! points = 16
//! "clients.users.rate" = { log_uniform = [50, 500] }
//! "components.api.timeout" = { uniform = ["200ms", "2s"] }
//! "components.api.health_check.kind" = { choice = ["shallow", "deep"] }
//!
//! [plot]
//! x = "components.users.retry.attempts"
//! ```

use std::fmt;

use toml_edit::{Document, Item, Value};

use super::Param;
use super::sample::{Bound, Range, Sample};
use crate::scenario::error::line_col;

/// A problem in a sweep file, located.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SweepFileError {
    pub file: String,
    /// 1-based line and column (characters).
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for SweepFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "error: {}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

/// A value with where it was written (for errors found later, e.g. an unknown metric).
#[derive(Clone, Debug, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
    pub column: usize,
}

/// A sweep file as read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepFile {
    /// The base scenario, relative to the sweep file.
    pub base: String,
    pub replications: Option<u32>,
    pub seed: Option<u64>,
    pub set: Vec<String>,
    /// The grid's parameters, in file order.
    pub grid: Vec<Param>,
    pub sample: Option<Sample>,
    /// The metrics to keep (all when absent).
    pub metrics: Option<Vec<Located<String>>>,
    /// `[plot]`, as JSON (read by the plot layer).
    pub plot: Option<serde_json::Value>,
    /// Where `[plot]` starts, for errors in it.
    pub plot_at: (usize, usize),
}

const KEYS: &[&str] = &[
    "base",
    "replications",
    "seed",
    "set",
    "metrics",
    "grid",
    "sample",
    "plot",
];

const HINT: &str = "a sweep file has base, replications, seed, set, metrics, [grid] (\"dotted.path\" = [values]), [sample] (points = N and \"dotted.path\" = { uniform | log_uniform | choice = [...] }) and [plot]";

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn at(&self, span: Option<std::ops::Range<usize>>) -> (usize, usize) {
        line_col(self.text, span.map_or(0, |s| s.start))
    }

    fn err(
        &self,
        span: Option<std::ops::Range<usize>>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> SweepFileError {
        let (line, column) = self.at(span);
        SweepFileError {
            file: self.file.to_owned(),
            line,
            column,
            message: message.into(),
            hint,
        }
    }
}

/// Whether `text` looks like a sweep file (has a top-level `base`) rather than a scenario.
pub fn is_sweep_file(table: &toml::Table) -> bool {
    table.contains_key("base")
}

/// Reads a sweep file. `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<SweepFile, SweepFileError> {
    let cx = Ctx { file, text };
    let doc = Document::parse(text).map_err(|e| {
        cx.err(
            e.span(),
            e.message().trim().to_owned(),
            Some(HINT.to_owned()),
        )
    })?;
    let root = doc.as_table();
    let mut out = SweepFile::default();
    for (key, item) in root.iter() {
        let kspan = root.key(key).and_then(|k| k.span());
        match key {
            "base" => out.base = string(&cx, key, item)?,
            "replications" => {
                let n = integer(&cx, key, item)?;
                if !(1..=i64::from(u32::MAX)).contains(&n) {
                    return Err(cx.err(
                        item.span(),
                        format!("replications: {n} is out of range"),
                        Some("give at least 1".into()),
                    ));
                }
                out.replications = Some(n as u32);
            }
            "seed" => {
                let n = integer(&cx, key, item)?;
                if n < 0 {
                    return Err(cx.err(
                        item.span(),
                        format!("seed: {n} is negative"),
                        Some("seeds are 0 or more".into()),
                    ));
                }
                out.seed = Some(n as u64);
            }
            "set" => {
                out.set = strings(&cx, key, item)?
                    .into_iter()
                    .map(|l| l.value)
                    .collect()
            }
            "metrics" => {
                let m = strings(&cx, key, item)?;
                if m.is_empty() {
                    return Err(cx.err(
                        item.span(),
                        "metrics: the list is empty",
                        Some(
                            "name at least one metric, or leave metrics out to keep them all"
                                .into(),
                        ),
                    ));
                }
                out.metrics = Some(m);
            }
            "grid" => out.grid = grid(&cx, item)?,
            "sample" => out.sample = Some(sample(&cx, item)?),
            "plot" => {
                let Some(t) = item.as_table_like() else {
                    return Err(cx.err(item.span(), "plot: expected a table", None));
                };
                out.plot_at = cx.at(item.span().or(kspan));
                let v: toml::Value = toml::from_str(&doc_text(t))
                    .map_err(|e| cx.err(item.span(), format!("plot: {}", e.message()), None))?;
                out.plot = Some(serde_json::to_value(v).expect("TOML converts to JSON"));
            }
            other => {
                return Err(cx.err(
                    kspan,
                    format!("unknown key '{other}'"),
                    Some(crate::scenario::error::suggest(other, "keys", KEYS)),
                ));
            }
        }
    }
    if out.base.is_empty() {
        return Err(cx.err(
            Some(0..0),
            "base: missing",
            Some(
                "name the base scenario, relative to the sweep file: base = \"../mmc.toml\"".into(),
            ),
        ));
    }
    if let Some(s) = &out.sample {
        for r in &s.ranges {
            if let Some(g) = out.grid.iter().find(|g| g.path == r.path.value) {
                return Err(SweepFileError {
                    file: file.to_owned(),
                    line: r.path.line,
                    column: r.path.column,
                    message: format!("sample.\"{}\": also in [grid]", g.path),
                    hint: Some("a parameter is either on the grid or sampled, not both".into()),
                });
            }
        }
    }
    Ok(out)
}

/// A table-like item re-serialised as a TOML document (for serde).
fn doc_text(t: &dyn toml_edit::TableLike) -> String {
    let mut table = toml_edit::Table::new();
    for (k, v) in t.iter() {
        table.insert(k, v.clone());
    }
    let mut doc = toml_edit::DocumentMut::new();
    *doc.as_table_mut() = table;
    doc.to_string()
}

fn describe(item: &Item) -> String {
    match item {
        Item::Value(v) => v.to_string().trim().to_owned(),
        Item::Table(_) => "a table".into(),
        Item::ArrayOfTables(_) => "an array of tables".into(),
        Item::None => "nothing".into(),
    }
}

fn string(cx: &Ctx, key: &str, item: &Item) -> Result<String, SweepFileError> {
    item.as_str().map(str::to_owned).ok_or_else(|| {
        cx.err(
            item.span(),
            format!("{key}: expected a string, found {}", describe(item)),
            None,
        )
    })
}

fn integer(cx: &Ctx, key: &str, item: &Item) -> Result<i64, SweepFileError> {
    item.as_integer().ok_or_else(|| {
        cx.err(
            item.span(),
            format!("{key}: expected a whole number, found {}", describe(item)),
            None,
        )
    })
}

fn strings(cx: &Ctx, key: &str, item: &Item) -> Result<Vec<Located<String>>, SweepFileError> {
    let Some(a) = item.as_array() else {
        return Err(cx.err(
            item.span(),
            format!(
                "{key}: expected a list of strings, found {}",
                describe(item)
            ),
            None,
        ));
    };
    a.iter()
        .map(|v| match v.as_str() {
            Some(s) => {
                let (line, column) = cx.at(v.span());
                Ok(Located {
                    value: s.to_owned(),
                    line,
                    column,
                })
            }
            None => Err(cx.err(
                v.span(),
                format!("{key}: expected a string, found {}", v.to_string().trim()),
                None,
            )),
        })
        .collect()
}

/// A TOML value as a `--set` value: strings bare, everything else as TOML.
pub fn set_value(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_owned(),
        None => {
            let mut v = v.clone();
            v.decor_mut().clear();
            v.to_string()
        }
    }
}

fn grid(cx: &Ctx, item: &Item) -> Result<Vec<Param>, SweepFileError> {
    let Some(t) = item.as_table_like() else {
        return Err(cx.err(item.span(), "grid: expected a table", Some(HINT.into())));
    };
    let mut out = Vec::new();
    for (path, v) in t.iter() {
        let kspan = t.key(path).and_then(|k| k.span());
        let Some(a) = v.as_array() else {
            return Err(cx.err(
                v.span().or(kspan),
                format!(
                    "grid.\"{path}\": expected a list of values, found {}",
                    describe(v)
                ),
                Some(format!("\"{path}\" = [1, 2, 3]")),
            ));
        };
        if a.is_empty() {
            return Err(cx.err(
                v.span().or(kspan),
                format!("grid.\"{path}\": give at least one value"),
                None,
            ));
        }
        out.push(Param {
            path: path.to_owned(),
            values: a.iter().map(set_value).collect(),
        });
    }
    Ok(out)
}

const RANGE_HINT: &str = "write { uniform = [low, high] }, { log_uniform = [low, high] } (numbers or durations like \"100ms\") or { choice = [a, b, ...] }";

fn sample(cx: &Ctx, item: &Item) -> Result<Sample, SweepFileError> {
    let Some(t) = item.as_table_like() else {
        return Err(cx.err(item.span(), "sample: expected a table", Some(HINT.into())));
    };
    let mut points = None;
    let mut ranges = Vec::new();
    for (key, v) in t.iter() {
        let kspan = t.key(key).and_then(|k| k.span());
        if key == "points" {
            let n = integer(cx, "sample.points", v)?;
            if !(1..=1_000_000).contains(&n) {
                return Err(cx.err(
                    v.span(),
                    format!("sample.points: {n} is out of range"),
                    Some("draw between 1 and 1000000 points".into()),
                ));
            }
            points = Some(n as usize);
            continue;
        }
        let (line, column) = cx.at(kspan.clone());
        let path = Located {
            value: key.to_owned(),
            line,
            column,
        };
        let Some(rt) = v.as_table_like() else {
            return Err(cx.err(
                v.span().or(kspan),
                format!("sample.\"{key}\": expected a range, found {}", describe(v)),
                Some(RANGE_HINT.into()),
            ));
        };
        let entries: Vec<_> = rt.iter().collect();
        let [(kind, vals)] = entries.as_slice() else {
            return Err(cx.err(
                v.span().or(kspan),
                format!(
                    "sample.\"{key}\": a range has exactly one of uniform, log_uniform, choice"
                ),
                Some(RANGE_HINT.into()),
            ));
        };
        let vspan = vals.span().or(v.span()).or(kspan.clone());
        let Some(arr) = vals.as_array() else {
            return Err(cx.err(
                vspan,
                format!(
                    "sample.\"{key}\".{kind}: expected a list, found {}",
                    describe(vals)
                ),
                Some(RANGE_HINT.into()),
            ));
        };
        let where_ = format!("sample.\"{key}\".{kind}");
        let range = match *kind {
            "choice" => {
                if arr.is_empty() {
                    return Err(cx.err(vspan, format!("{where_}: give at least one value"), None));
                }
                Range::Choice(arr.iter().map(set_value).collect())
            }
            "uniform" | "log_uniform" => {
                let bounds: Vec<&Value> = arr.iter().collect();
                let [lo, hi] = bounds.as_slice() else {
                    return Err(cx.err(
                        vspan,
                        format!(
                            "{where_}: expected [low, high], found {} values",
                            bounds.len()
                        ),
                        Some(RANGE_HINT.into()),
                    ));
                };
                let (lo, hi) = (bound(cx, &where_, lo)?, bound(cx, &where_, hi)?);
                let log = *kind == "log_uniform";
                Range::new(lo, hi, log).map_err(|m| {
                    cx.err(
                        vspan.clone(),
                        format!("{where_}: {m}"),
                        Some(RANGE_HINT.into()),
                    )
                })?
            }
            other => {
                return Err(cx.err(
                    rt.key(other).and_then(|k| k.span()).or(vspan),
                    format!("sample.\"{key}\": unknown range kind '{other}'"),
                    Some(crate::scenario::error::suggest(
                        other,
                        "kinds",
                        &["uniform", "log_uniform", "choice"],
                    )),
                ));
            }
        };
        ranges.push(super::sample::Ranged { path, range });
    }
    let Some(points) = points else {
        return Err(cx.err(
            item.span(),
            "sample: points missing",
            Some("say how many points to draw: points = 20".into()),
        ));
    };
    if ranges.is_empty() {
        return Err(cx.err(item.span(), "sample: no ranges", Some(RANGE_HINT.into())));
    }
    Ok(Sample { points, ranges })
}

fn bound(cx: &Ctx, where_: &str, v: &Value) -> Result<Bound, SweepFileError> {
    match v {
        Value::Integer(i) => Ok(Bound::Int(*i.value())),
        Value::Float(f) => Ok(Bound::Float(*f.value())),
        Value::String(s) => crate::engine::time::parse_duration(s.value())
            .map(Bound::Duration)
            .map_err(|e| {
                cx.err(
                    v.span(),
                    format!("{where_}: {e}"),
                    Some("bounds are numbers or durations".into()),
                )
            }),
        other => Err(cx.err(
            v.span(),
            format!(
                "{where_}: expected a number or a duration, found {}",
                other.to_string().trim()
            ),
            None,
        )),
    }
}
