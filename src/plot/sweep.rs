//! A sweep's plots: a metric's mean and 95% interval against a parameter (one line per value of
//! the other parameters), the same on a nines scale for an availability, and the spread of the
//! worst downtime over each point's replications.

use super::draw::{self, Area, Axes, Entry, Figure, INK, Key, LEGEND_W, MUTED, Plot};
use super::table::{Table, cell, num};
use super::{SweepPlot, bad, unknown};
use anyhow::Result;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// 1 - A below this is drawn at this many nines.
const NINES_CAP: f64 = 9.0;
/// More line groups than this, or about one point a group (sampled points), and the points are
/// drawn as dots with error bars instead of lines.
const MAX_LINES: usize = 12;

/// Draws the sweep folder's plots into `dir/plots/`.
pub(super) fn plot(dir: &Path, opts: &SweepPlot) -> Result<Vec<PathBuf>> {
    let sweep = Sweep::read(dir)?;
    let view = View::new(&sweep, opts)?;
    let out = draw::plots_dir(dir)?;
    let mut files = Vec::new();
    files.extend(draw::save(
        &out,
        &file_stem(&view.cols.metric),
        &CurveFig {
            sweep: &sweep,
            view: &view,
            nines: false,
        },
    )?);
    if view.nines {
        files.extend(draw::save(
            &out,
            &format!("{}-nines", file_stem(&view.cols.metric)),
            &CurveFig {
                sweep: &sweep,
                view: &view,
                nines: true,
            },
        )?);
    }
    if let Some(col) = sweep.runs.col("worst_downtime_s") {
        files.extend(draw::save(
            &out,
            "downtime",
            &DowntimeFig {
                sweep: &sweep,
                view: &view,
                col,
            },
        )?);
    }
    files.extend(bands_figs(dir, &sweep)?);
    files.sort();
    Ok(files)
}

/// At most this many points' bands in one `bands` plot (the first, in point order).
const MAX_BANDS: usize = MAX_LINES;

/// The `bands` plots of a sweep folder with `bands.csv`: per client group (`bands` for one,
/// `bands-<group>` for several), each point's mean availability over time and its 95% band
/// over the point's replications.
fn bands_figs(dir: &Path, sweep: &Sweep) -> Result<Vec<PathBuf>> {
    let path = dir.join("bands.csv");
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let shown = |r: &csv::StringRecord| {
        r.get(0)
            .and_then(|p| p.parse::<usize>().ok())
            .is_some_and(|p| p < MAX_BANDS)
    };
    let t = Table::read_filtered(&path, shown)?;
    let point = t.need("point")?;
    let time = t.need("time_s")?;
    let times: Vec<f64> = t.rows.iter().filter_map(|r| num(r, time)).collect();
    let end = times.iter().copied().fold(0.0, f64::max);
    let grid = super::run::Grid::new(times, None);
    let mut ids: Vec<String> = Vec::new();
    for r in &t.rows {
        let id = cell(r, point);
        if !ids.iter().any(|i| i == id) {
            ids.push(id.to_owned());
        }
    }
    let mut points = Vec::new();
    for id in &ids {
        let sub = Table {
            path: t.path.clone(),
            header: t.header.clone(),
            rows: (t.rows.iter())
                .filter(|r| cell(r, point) == id)
                .cloned()
                .collect(),
        };
        let label = match sweep.points.iter().find(|p| p.id == *id) {
            Some(p) if !sweep.params.is_empty() => (sweep.params.iter())
                .zip(&p.values)
                .map(|(q, v)| format!("{}={v}", q.short))
                .collect::<Vec<_>>()
                .join(", "),
            _ => format!("point {id}"),
        };
        points.push((label, super::run::Bands::read(&sub, &grid)?));
    }
    let Some(first) = points.first() else {
        return Ok(Vec::new());
    };
    let groups: Vec<String> = first.1.groups.iter().map(|g| g.0.clone()).collect();
    let out = draw::plots_dir(dir)?;
    let mut files = Vec::new();
    for (gi, group) in groups.iter().enumerate() {
        let stem = if groups.len() == 1 {
            "bands".to_owned()
        } else {
            format!("bands-{}", file_stem(group))
        };
        let fig = BandsFig {
            sweep,
            group: group.clone(),
            index: gi,
            points: &points,
            end,
            total: sweep.points.len(),
        };
        files.extend(draw::save(&out, &stem, &fig)?);
    }
    Ok(files)
}

struct BandsFig<'a> {
    sweep: &'a Sweep,
    group: String,
    /// The group's place in each point's bands.
    index: usize,
    points: &'a [(String, super::run::Bands)],
    /// The last bucket's start, in seconds.
    end: f64,
    /// Points in the sweep.
    total: usize,
}

impl Figure for BandsFig<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<()> {
        let reps: Vec<u64> = self.points.iter().map(|p| p.1.replications).collect();
        let (lo_r, hi_r) = (reps.iter().min().copied(), reps.iter().max().copied());
        let reps = match (lo_r, hi_r) {
            (Some(a), Some(b)) if a != b => format!("{a} to {b}"),
            (Some(a), _) => a.to_string(),
            _ => "0".into(),
        };
        let which = if self.points.len() < self.total {
            format!(", first {} of {} points", self.points.len(), self.total)
        } else {
            String::new()
        };
        let title = format!(
            "{}{} availability, mean and 95% band ({reps} runs per point{which})",
            self.sweep.prefix(),
            self.group
        );
        let body = draw::titled(root, &title)?;
        let (left, right) = with_legend(&body);
        let group = |b: &super::run::Bands| b.groups.get(self.index).cloned();
        let lows = (self.points.iter())
            .filter_map(|p| group(&p.1))
            .flat_map(|g| g.2.into_iter().chain(g.1).filter_map(|c| c.2));
        let lo = draw::extent(lows.map(|x| x.clamp(0.0, 1.0))).map_or(0.0, |e| e.0);
        let y0 = if lo >= 0.9 {
            (lo - ((1.0 - lo) * 0.1).max(0.001)).max(0.0)
        } else {
            0.0
        };
        let y1 = 1.0 + (1.0 - y0) * 0.03;
        let bucket = self.points[0]
            .1
            .groups
            .first()
            .and_then(|g| g.1.first())
            .map_or(0.0, |c| c.1 - c.0);
        let span = self.end + bucket;
        let unit = draw::time_unit(span);
        let x_desc = format!("time since start ({})", unit.name);
        let mut plot = Axes::new(
            draw::range(0.0, span / unit.secs, 0.0),
            (y0, y1),
            &x_desc,
            "availability (fraction of requests)",
        )
        .draw(&left)?;
        let mut legend = vec![Entry::new(Key::Heading, "points")];
        let n = self.points.len();
        for (i, (label, bands)) in self.points.iter().enumerate() {
            let Some((_, mean, low, high)) = group(bands) else {
                continue;
            };
            let col = draw::color(i);
            for band in super::run::Bands::steps(&low, &high, unit.secs) {
                plot.band(&band, col.mix(0.25))?;
            }
            for seg in super::run::steps(&mean, unit.secs) {
                plot.line(&seg, col.stroke_width(draw::width(i, n)))?;
            }
            legend.push(Entry::new(
                Key::Line(col.to_rgba(), false, 3),
                draw::clip(label, 28),
            ));
        }
        legend.push(Entry::new(Key::Heading, "shaded: 95% band"));
        draw::legend(&right, &legend)
    }
}

/// A metric name as a file name: characters other than letters, digits, '.', '-' and '_'
/// become '_'.
fn file_stem(metric: &str) -> String {
    metric
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A swept parameter: its column, its values in order, and how they sit on an axis.
struct Param {
    path: String,
    /// A short name for labels: the shortest unique dotted suffix of the path.
    short: String,
    /// Distinct values: numbers and durations ascending, names in order of first appearance.
    values: Vec<String>,
    kind: Values,
}

/// What a parameter's values are.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Values {
    /// All numbers.
    Numbers,
    /// All durations ("30s", "1h30m"): placed in seconds.
    Durations,
    /// Anything else: placed at 0, 1, 2... in order of first appearance.
    Names,
}

/// A value as a number: itself, or a duration in seconds.
fn value_of(kind: Values, v: &str) -> Option<f64> {
    match kind {
        Values::Numbers => v.trim().parse::<f64>().ok().filter(|x| x.is_finite()),
        Values::Durations => crate::engine::parse_duration(v)
            .ok()
            .map(|t| t.0 as f64 / 1e9),
        Values::Names => None,
    }
}

impl Param {
    /// Where a value sits on an axis: its number (durations in seconds), or its position among
    /// names.
    fn pos(&self, v: &str) -> f64 {
        match self.kind {
            Values::Names => self
                .values
                .iter()
                .position(|x| x == v)
                .map_or(f64::NAN, |i| i as f64),
            kind => value_of(kind, v).unwrap_or(f64::NAN),
        }
    }

    fn numeric(&self) -> bool {
        self.kind != Values::Names
    }

    fn rank(&self, v: &str) -> usize {
        self.values
            .iter()
            .position(|x| x == v)
            .unwrap_or(usize::MAX)
    }
}

/// A row of points.csv.
struct Point {
    id: String,
    values: Vec<String>,
    rec: csv::StringRecord,
}

struct Sweep {
    scenario: Option<String>,
    /// Paths of the sampled (not gridded) parameters.
    sampled: Vec<String>,
    params: Vec<Param>,
    points: Vec<Point>,
    metrics: Vec<String>,
    table: Table,
    runs: Table,
}

impl Sweep {
    fn read(dir: &Path) -> Result<Sweep> {
        let table = Table::read(&dir.join("points.csv"))?;
        let runs = Table::read(&dir.join("runs.csv"))?;
        let p = table.need("point")?;
        let r = table.need("runs")?;
        if p != 0 || r < p {
            return Err(bad(format!(
                "{}: expected the columns point, <parameters>, runs, <metric statistics>",
                table.path.display()
            )));
        }
        let paths: Vec<String> = table.header[1..r].to_vec();
        let metrics: Vec<String> = table.header[r + 1..]
            .iter()
            .filter_map(|h| h.strip_suffix("_mean").map(str::to_owned))
            .collect();
        let points: Vec<Point> = table
            .rows
            .iter()
            .map(|rec| Point {
                id: cell(rec, 0).to_owned(),
                values: (1..r).map(|i| cell(rec, i).to_owned()).collect(),
                rec: rec.clone(),
            })
            .collect();
        let mut params = Vec::new();
        for (k, path) in paths.iter().enumerate() {
            let mut values: Vec<String> = Vec::new();
            for pt in &points {
                if !values.contains(&pt.values[k]) {
                    values.push(pt.values[k].clone());
                }
            }
            let all =
                |kind| !values.is_empty() && values.iter().all(|v| value_of(kind, v).is_some());
            let kind = if all(Values::Numbers) {
                Values::Numbers
            } else if all(Values::Durations) {
                Values::Durations
            } else {
                Values::Names
            };
            if kind != Values::Names {
                let key = |v: &String| value_of(kind, v).unwrap_or(0.0);
                values.sort_by(|a, b| key(a).total_cmp(&key(b)));
            }
            params.push(Param {
                path: path.clone(),
                short: short_name(path, &paths),
                values,
                kind,
            });
        }
        let manifest = super::manifest(dir)?;
        let scenario = manifest.as_ref().and_then(|m| {
            ["scenario", "name"]
                .iter()
                .find_map(|k| m.get(k).and_then(|v| v.as_str()).map(str::to_owned))
        });
        // Parameters drawn by Latin hypercube (the manifest's "sample"): no two points share
        // their values, so their points are not joined by lines.
        let sampled: Vec<String> = manifest
            .as_ref()
            .and_then(|m| m.get("sample"))
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.get("path").and_then(|x| x.as_str()).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Sweep {
            scenario,
            sampled,
            params,
            points,
            metrics,
            table,
            runs,
        })
    }

    /// "scenario: " or nothing.
    fn prefix(&self) -> String {
        self.scenario
            .as_ref()
            .map(|s| format!("{s}: "))
            .unwrap_or_default()
    }
}

/// The shortest dotted suffix of `path` that no other path ends with.
fn short_name(path: &str, all: &[String]) -> String {
    let parts: Vec<&str> = path.split('.').collect();
    for k in 1..=parts.len() {
        let suffix = parts[parts.len() - k..].join(".");
        let clash = all
            .iter()
            .filter(|p| p.as_str() != path)
            .any(|p| p == &suffix || p.ends_with(&format!(".{suffix}")));
        if !clash {
            return suffix;
        }
    }
    path.to_owned()
}

/// One line: the points sharing the values of every parameter but x.
struct Group {
    label: String,
    /// Indices into `Sweep::points`, in x order.
    points: Vec<usize>,
}

/// What is drawn, resolved from the settings against the folder.
struct View {
    /// The plotted metric's columns.
    cols: Cols,
    /// For a metric of successful requests only (a latency): the availability drawn in a
    /// panel under it.
    companion: Option<Cols>,
    /// The x parameter's index; `None` when the sweep has no parameter (points by number).
    x: Option<usize>,
    groups: Vec<Group>,
    /// Dots with error bars rather than lines (sampled points, or too many lines).
    scatter: bool,
    nines: bool,
    references: Vec<(String, Vec<(f64, f64)>)>,
}

impl View {
    fn new(s: &Sweep, o: &SweepPlot) -> Result<View> {
        let metric_names: Vec<&str> = s.metrics.iter().map(String::as_str).collect();
        let metric = match &o.metric {
            Some(m) if metric_names.contains(&m.as_str()) => m.clone(),
            Some(m) => return Err(unknown("metric", m, &metric_names)),
            None if metric_names.contains(&"availability") => "availability".to_owned(),
            None => match metric_names.first() {
                Some(m) => (*m).to_owned(),
                None => {
                    return Err(bad(format!(
                        "{}: no metric columns (<metric>_mean ...)",
                        s.table.path.display()
                    )));
                }
            },
        };
        let paths: Vec<&str> = s.params.iter().map(|p| p.path.as_str()).collect();
        let find = |name: &str| {
            paths
                .iter()
                .position(|p| *p == name)
                .ok_or_else(|| unknown("parameter", name, &paths))
        };
        let x = match &o.x {
            Some(name) => Some(find(name)?),
            None if paths.is_empty() => None,
            None => Some(0),
        };
        let series = match &o.series {
            Some(name) => {
                let i = find(name)?;
                if Some(i) == x {
                    return Err(bad(format!(
                        "the series parameter '{name}' is also on the x axis\n  hint: pick another parameter for the series, or another for x"
                    )));
                }
                Some(i)
            }
            None => (0..paths.len()).find(|&i| Some(i) != x),
        };
        let is_availability = metric.ends_with("availability");
        let nines = match o.nines {
            Some(true) if !is_availability => {
                return Err(bad(format!(
                    "the nines scale is for an availability, not '{metric}'\n  hint: pick a metric whose name ends with 'availability' ({})",
                    metric_names
                        .iter()
                        .filter(|m| m.ends_with("availability"))
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            Some(n) => n,
            None => is_availability,
        };
        let mut references = Vec::new();
        for r in &o.reference {
            if r.x.len() != r.y.len() {
                return Err(bad(format!(
                    "plot reference '{}': x has {} values and y {}",
                    r.label,
                    r.x.len(),
                    r.y.len()
                )));
            }
            let mut pts: Vec<(f64, f64)> =
                r.x.iter()
                    .zip(&r.y)
                    .map(|(&a, &b)| (a, b))
                    .filter(|(a, b)| a.is_finite() && b.is_finite())
                    .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            references.push((r.label.clone(), pts));
        }

        // The other parameters, series first, split the points into lines.
        let mut others: Vec<usize> = series.into_iter().collect();
        others.extend((0..s.params.len()).filter(|&i| Some(i) != x && Some(i) != series));
        let mut groups: Vec<(Vec<usize>, Group)> = Vec::new();
        for (k, pt) in s.points.iter().enumerate() {
            let key: Vec<usize> = others
                .iter()
                .map(|&i| s.params[i].rank(&pt.values[i]))
                .collect();
            match groups.iter_mut().find(|(g, _)| *g == key) {
                Some((_, g)) => g.points.push(k),
                None => {
                    let label = others
                        .iter()
                        .map(|&i| format!("{}={}", s.params[i].short, pt.values[i]))
                        .collect::<Vec<_>>()
                        .join(", ");
                    groups.push((
                        key,
                        Group {
                            label,
                            points: vec![k],
                        },
                    ));
                }
            }
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        let mut groups: Vec<Group> = groups.into_iter().map(|(_, g)| g).collect();
        let xpos = |k: usize| x_pos(s, x, k);
        for g in &mut groups {
            g.points
                .sort_by(|&a, &b| xpos(a).total_cmp(&xpos(b)).then(a.cmp(&b)));
        }
        let scatter = s.params.iter().any(|p| s.sampled.contains(&p.path))
            || groups.len() > MAX_LINES
            || (groups.len() > 1 && s.points.len() < 2 * groups.len());
        if scatter {
            // One cloud of dots in x order, coloured by the series value when it has few.
            let few = series.is_some_and(|i| s.params[i].values.len() <= MAX_LINES);
            let mut regrouped: Vec<Group> = Vec::new();
            let mut order: Vec<usize> = (0..s.points.len()).collect();
            order.sort_by(|&a, &b| xpos(a).total_cmp(&xpos(b)).then(a.cmp(&b)));
            match (few, series) {
                (true, Some(i)) => {
                    for v in &s.params[i].values {
                        let pts: Vec<usize> = order
                            .iter()
                            .copied()
                            .filter(|&k| &s.points[k].values[i] == v)
                            .collect();
                        if !pts.is_empty() {
                            regrouped.push(Group {
                                label: format!("{}={v}", s.params[i].short),
                                points: pts,
                            });
                        }
                    }
                }
                _ => regrouped.push(Group {
                    label: "points".to_owned(),
                    points: order,
                }),
            }
            groups = regrouped;
        }
        Ok(View {
            cols: Cols::of(&s.table, &metric)?,
            companion: match companion(&metric, &s.metrics) {
                Some(m) => Some(Cols::of(&s.table, &m)?),
                None => None,
            },
            x,
            groups,
            scatter,
            nines,
            references,
        })
    }
}

/// Point `k`'s position on the x axis.
fn x_pos(s: &Sweep, x: Option<usize>, k: usize) -> f64 {
    match x {
        Some(i) => s.params[i].pos(&s.points[k].values[i]),
        None => k as f64,
    }
}

/// The x axis: range, title, and the names at 0, 1, 2... for a parameter of names.
struct XAxis {
    range: (f64, f64),
    desc: String,
    names: Option<Vec<String>>,
    /// Every value is a whole number: ticks at whole numbers only.
    whole: bool,
    /// The measured values (positions on the axis): whole-number ticks label these only, so
    /// the axis does not suggest values nobody ran.
    measured: Vec<f64>,
}

impl XAxis {
    fn new(s: &Sweep, x: Option<usize>, extra: impl IntoIterator<Item = f64>) -> XAxis {
        match x {
            Some(i) if s.params[i].numeric() => {
                let p = &s.params[i];
                let (lo, hi) = draw::extent(p.values.iter().map(|v| p.pos(v)).chain(extra))
                    .unwrap_or((0.0, 1.0));
                XAxis {
                    range: draw::range(lo, hi, 0.04),
                    desc: if p.kind == Values::Durations {
                        format!("{} (s)", p.path)
                    } else {
                        axis_desc(&p.path)
                    },
                    names: None,
                    whole: p.values.iter().all(|v| p.pos(v).fract() == 0.0),
                    measured: p.values.iter().map(|v| p.pos(v)).collect(),
                }
            }
            Some(i) => {
                let p = &s.params[i];
                XAxis {
                    range: (-0.5, p.values.len().max(1) as f64 - 0.5),
                    desc: axis_desc(&p.path),
                    names: Some(p.values.clone()),
                    whole: false,
                    measured: Vec::new(),
                }
            }
            None => XAxis {
                range: (-0.5, s.points.len().max(1) as f64 - 0.5),
                desc: "point".to_owned(),
                names: Some(s.points.iter().map(|p| p.id.clone()).collect()),
                whole: false,
                measured: Vec::new(),
            },
        }
    }
}

/// A parameter path as an axis title, with its unit when the values are durations in seconds.
fn axis_desc(path: &str) -> String {
    if path.ends_with("_s") {
        format!("{path} (s)")
    } else {
        path.to_owned()
    }
}

/// Tick labels for names at 0, 1, 2...: the name at a whole position, nothing elsewhere.
fn name_ticks(names: &[String]) -> impl Fn(&f64) -> String + '_ {
    move |v: &f64| {
        let r = v.round();
        if (v - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < names.len() {
            draw::clip(&names[r as usize], 18)
        } else {
            String::new()
        }
    }
}

/// How many of `names` fit side by side under a chart about 800 pixels wide (at most 25).
fn label_count(names: &[String]) -> usize {
    let widest = names
        .iter()
        .map(|n| n.chars().count().min(18))
        .max()
        .unwrap_or(1) as f64;
    let fit = (800.0 / (widest * 7.5 + 16.0)).floor().max(2.0) as usize;
    (names.len() + 1).min(fit).min(25)
}

/// A metric's axis title with its unit.
fn metric_desc(metric: &str) -> String {
    let base = metric.rsplit('.').next().unwrap_or(metric);
    let unit = if base.ends_with("availability") {
        " (fraction of requests)"
    } else if base.ends_with("_s") {
        " (s)"
    } else if base.ends_with("fraction") {
        " (fraction of client groups)"
    } else if base == "clients_impacted" {
        " (client groups)"
    } else {
        ""
    };
    format!("{metric}{unit}")
}

/// A metric's highest sensible value, for clamping confidence bounds: 1 for availabilities and
/// fractions.
fn metric_cap(metric: &str) -> f64 {
    if metric.ends_with("availability") || metric.ends_with("fraction") {
        1.0
    } else {
        f64::INFINITY
    }
}

/// -log10(1 - a), kept between 0 and `NINES_CAP`.
fn nines(a: f64) -> f64 {
    let miss = (1.0 - a).clamp(10f64.powf(-NINES_CAP), 1.0);
    (-miss.log10()).clamp(0.0, NINES_CAP)
}

/// Splits the figure into chart and legend.
fn with_legend<DB: DrawingBackend>(root: &Area<DB>) -> (Area<DB>, Area<DB>) {
    let (w, _) = root.dim_in_pixel();
    root.split_horizontally(w.saturating_sub(LEGEND_W))
}

struct CurveFig<'a> {
    sweep: &'a Sweep,
    view: &'a View,
    nines: bool,
}

/// The columns of one metric in points.csv: mean and 95% interval.
#[derive(Clone, Debug, PartialEq)]
struct Cols {
    metric: String,
    mean: usize,
    lo: usize,
    hi: usize,
}

impl Cols {
    fn of(t: &Table, metric: &str) -> Result<Cols> {
        Ok(Cols {
            metric: metric.to_owned(),
            mean: t.need(&format!("{metric}_mean"))?,
            lo: t.need(&format!("{metric}_ci95_low"))?,
            hi: t.need(&format!("{metric}_ci95_high"))?,
        })
    }
}

/// Whether a metric counts successful requests only (a latency): plotted alone, a point where
/// nearly every request failed would look fast.
fn successes_only(metric: &str) -> bool {
    metric
        .rsplit('.')
        .next()
        .unwrap_or(metric)
        .contains("latency")
}

/// The availability drawn beside a latency metric: the same client group's
/// (`users.latency_p99_s` -> `users.availability`), else the overall `availability`, whichever
/// points.csv has first.
fn companion(metric: &str, metrics: &[String]) -> Option<String> {
    if !successes_only(metric) {
        return None;
    }
    let own = metric
        .rsplit_once('.')
        .map(|(group, _)| format!("{group}.availability"));
    own.into_iter()
        .chain(["availability".to_owned()])
        .find(|m| metrics.contains(m))
}

/// The figure's share of height given to the availability panel under a latency.
const COMPANION_FRAC: f64 = 0.4;

impl Figure for CurveFig<'_> {
    fn size(&self) -> (u32, u32) {
        if self.view.companion.is_some() && !self.nines {
            (draw::WIDTH, draw::HEIGHT + 300)
        } else {
            (draw::WIDTH, draw::HEIGHT)
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<()> {
        let (s, v) = (self.sweep, self.view);
        let xname = v.x.map_or("point", |i| s.params[i].path.as_str());
        let title = if self.nines {
            format!(
                "{}{} on a nines scale vs {xname}",
                s.prefix(),
                v.cols.metric
            )
        } else {
            format!("{}{} vs {xname}", s.prefix(), v.cols.metric)
        };
        let body = draw::titled(root, &title)?;
        let (left, right) = with_legend(&body);
        let mut legend = match (&v.companion, self.nines) {
            (Some(av), false) => {
                let (_, h) = left.dim_in_pixel();
                let (top, bottom) =
                    left.split_vertically((h as f64 * (1.0 - COMPANION_FRAC)).round() as u32);
                let mut legend = self.panel(&top, &v.cols, false, true)?;
                self.panel(&bottom, av, false, false)?;
                legend.push(Entry::new(Key::Heading, "lower panel"));
                legend.push(Entry::new(
                    Key::Heading,
                    format!("{} (all requests)", av.metric),
                ));
                legend
            }
            _ => self.panel(&left, &v.cols, self.nines, true)?,
        };
        if successes_only(&v.cols.metric) && (v.companion.is_none() || self.nines) {
            legend.push(Entry::new(Key::Heading, "of successful requests only"));
        }
        draw::legend(&right, &legend)
    }
}

impl CurveFig<'_> {
    /// One chart of the metric in `c` against x on `area`; returns its legend entries.
    /// `references` draws the sweep's reference curves (they are in the main metric's units).
    fn panel<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        c: &Cols,
        nines_scale: bool,
        references: bool,
    ) -> Result<Vec<Entry>> {
        let (s, v) = (self.sweep, self.view);
        let cap = metric_cap(&c.metric);
        let tf = |y: f64| if nines_scale { nines(y) } else { y };
        // Mean, low, high per point, transformed; bounds clamped to what the metric can be.
        let stat = |k: usize| {
            let rec = &s.points[k].rec;
            let mean = num(rec, c.mean);
            let lo = num(rec, c.lo).map(|y| y.clamp(0.0, cap));
            let hi = num(rec, c.hi).map(|y| y.clamp(0.0, cap));
            (mean.map(tf), lo.map(tf), hi.map(tf))
        };
        let refs: Vec<(String, Vec<(f64, f64)>)> = if references {
            v.references
                .iter()
                .map(|(l, pts)| (l.clone(), pts.iter().map(|&(a, b)| (a, tf(b))).collect()))
                .collect()
        } else {
            Vec::new()
        };
        let xs = XAxis::new(s, v.x, refs.iter().flat_map(|(_, p)| p.iter().map(|q| q.0)));
        let ys = draw::extent(
            (0..s.points.len())
                .flat_map(|k| {
                    let (a, b, c) = stat(k);
                    [a, b, c].into_iter().flatten()
                })
                .chain(refs.iter().flat_map(|(_, p)| p.iter().map(|q| q.1))),
        );
        let (y0, y1) = ys.unwrap_or((0.0, 1.0));
        let y = draw::range(y0, y1, 0.06);
        let y = if nines_scale { (y.0.max(0.0), y.1) } else { y };
        let y_desc = if nines_scale {
            "nines (-log10(1 - availability))".to_owned()
        } else {
            metric_desc(&c.metric)
        };
        let name_fmt = xs.names.as_deref().map(name_ticks);
        let whole_fmt = |v: &f64| {
            if v.fract().abs() < 1e-9 && xs.measured.iter().any(|m| (m - v).abs() < 1e-9) {
                format!("{v:.0}")
            } else {
                String::new()
            }
        };
        let mut axes = Axes::new(xs.range, y, &xs.desc, &y_desc);
        if let Some(f) = &name_fmt {
            axes.x_fmt = Some(f);
            axes.x_labels = xs.names.as_deref().map_or(10, label_count);
        } else if xs.whole {
            axes.x_fmt = Some(&whole_fmt);
            let span = xs.range.1 - xs.range.0;
            if span <= 12.0 {
                axes.x_labels = span.ceil() as usize + 1;
            }
        }
        let mut plot = axes.draw(area)?;
        // A parameter of names has no order worth a line: dots and bars, as for sampled points.
        let scatter = v.scatter || xs.names.is_some();
        let mut legend = Vec::new();
        let heading = if scatter {
            "mean (dot), 95% CI (bar)"
        } else {
            "mean (dot), 95% CI (band)"
        };
        legend.push(Entry::new(Key::Heading, heading));
        let mut any_dashed = false;
        for (gi, g) in v.groups.iter().enumerate() {
            let col = draw::color(gi);
            let pts: Vec<Stat> = g
                .points
                .iter()
                .map(|&k| {
                    let (m, lo, hi) = stat(k);
                    (x_pos(s, v.x, k), m, lo, hi)
                })
                .filter(|p| p.0.is_finite())
                .collect();
            if scatter {
                for &(x, m, lo, hi) in &pts {
                    if let (Some(lo), Some(hi)) = (lo, hi) {
                        plot.error_bar(x, lo, hi, col.mix(0.7).stroke_width(1))?;
                    }
                    if let Some(m) = m {
                        plot.dot((x, m), 4, col.to_rgba())?;
                    }
                }
            } else {
                any_dashed |= draw_line(
                    &mut plot,
                    &pts,
                    &xs.measured,
                    &col,
                    draw::width(gi, v.groups.len()),
                )?;
            }
            let label = if g.label.is_empty() {
                c.metric.clone()
            } else {
                g.label.clone()
            };
            let key = if scatter {
                Key::Dot(col.to_rgba())
            } else {
                Key::Line(col.to_rgba(), false, draw::width(gi, v.groups.len()).max(3))
            };
            legend.push(Entry::new(key, label));
        }
        if any_dashed {
            legend.push(Entry::new(
                Key::Line(MUTED.to_rgba(), true, 2),
                "gap: nothing measured between",
            ));
        }
        if !refs.is_empty() {
            legend.push(Entry::new(Key::Heading, "reference"));
        }
        for (i, (label, pts)) in refs.iter().enumerate() {
            let col = &REF_COLORS[i % REF_COLORS.len()];
            plot.dashed(pts, col.stroke_width(2))?;
            legend.push(Entry::new(Key::Line(col.to_rgba(), true, 2), label.clone()));
        }
        if nines_scale {
            let capped = (0..s.points.len())
                .flat_map(|k| [num(&s.points[k].rec, c.mean), num(&s.points[k].rec, c.hi)])
                .flatten()
                .any(|a| 1.0 - a < 10f64.powf(-NINES_CAP));
            if capped {
                plot.note(
                    (xs.range.0, y.1),
                    &format!("  availability 1 (no failed request) is drawn at {NINES_CAP} nines"),
                    draw::text(13, &MUTED).pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Left,
                        plotters::style::text_anchor::VPos::Top,
                    )),
                )?;
            }
        }
        if s.points.is_empty() {
            draw::empty(area, "no points in points.csv")?;
        }
        Ok(legend)
    }
}

/// Reference curves: black and greys, dashed.
static REF_COLORS: [RGBColor; 3] = [
    RGBColor(0x20, 0x20, 0x20),
    RGBColor(0x70, 0x70, 0x70),
    RGBColor(0xa0, 0xa0, 0xa0),
];

/// A point's x, and its mean and interval where defined.
type Stat = (f64, Option<f64>, Option<f64>, Option<f64>);

/// A gap between neighbouring points wider than this many times the typical spacing of the
/// measured values is not drawn as a solid line.
const WIDE_GAP: f64 = 2.0;

/// How two neighbouring points of a line are joined.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Link {
    /// A solid segment (with the band of their intervals).
    Solid,
    /// A dashed segment, no band: a measured value of the parameter lies between them that
    /// this line lacks, or they are more than `WIDE_GAP` times the typical spacing apart.
    Dashed,
}

/// The typical spacing of the measured values: the median gap between neighbouring distinct
/// values (`None` for fewer than two).
fn typical_gap(measured: &[f64]) -> Option<f64> {
    let mut m: Vec<f64> = measured.iter().copied().filter(|x| x.is_finite()).collect();
    m.sort_by(f64::total_cmp);
    m.dedup();
    let mut gaps: Vec<f64> = m.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_by(f64::total_cmp);
    match gaps.len() {
        0 => None,
        n if n % 2 == 1 => Some(gaps[n / 2]),
        n => Some((gaps[n / 2 - 1] + gaps[n / 2]) / 2.0),
    }
}

/// How each neighbouring pair of `xs` (one line's positions, ascending) is joined, given every
/// value the sweep measured.
fn links(xs: &[f64], measured: &[f64]) -> Vec<Link> {
    let typical = typical_gap(measured);
    xs.windows(2)
        .map(|w| {
            let (a, b) = (w[0], w[1]);
            let skipped = measured.iter().any(|&m| m > a + 1e-9 && m < b - 1e-9);
            let wide = typical.is_some_and(|t| b - a > WIDE_GAP * t * (1.0 + 1e-9));
            if skipped || wide {
                Link::Dashed
            } else {
                Link::Solid
            }
        })
        .collect()
}

/// A dot at each defined mean; between neighbouring defined means a solid line where the
/// points are close (see [`links`]), a thinner dashed one across a gap; a band over each
/// solidly joined stretch of defined intervals, an error bar at a point outside any. An
/// undefined mean breaks the line. Returns whether a dashed segment was drawn.
fn draw_line<DB: DrawingBackend>(
    plot: &mut Plot<'_, DB>,
    pts: &[Stat],
    measured: &[f64],
    col: &RGBColor,
    width: u32,
) -> Result<bool> {
    let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let links = links(&xs, measured);
    // Stretches of points joined solidly (an undefined mean or a dashed link ends one).
    let mut stretches: Vec<Vec<usize>> = vec![Vec::new()];
    for i in 0..pts.len() {
        let joined =
            i > 0 && links[i - 1] == Link::Solid && pts[i - 1].1.is_some() && pts[i].1.is_some();
        if !joined {
            stretches.push(Vec::new());
        }
        stretches.last_mut().unwrap().push(i);
    }
    for st in stretches.iter().filter(|st| !st.is_empty()) {
        // The band over each run of defined intervals in the stretch.
        let mut band: Vec<(f64, f64, f64)> = Vec::new();
        for &i in st {
            match pts[i] {
                (x, Some(_), Some(lo), Some(hi)) => band.push((x, lo, hi)),
                _ => {
                    draw_band(plot, &band, col)?;
                    band.clear();
                }
            }
        }
        draw_band(plot, &band, col)?;
        let line: Vec<(f64, f64)> = st
            .iter()
            .filter_map(|&i| pts[i].1.map(|m| (pts[i].0, m)))
            .collect();
        if line.len() > 1 {
            plot.line(&line, col.stroke_width(width))?;
        }
    }
    let mut dashed = false;
    for i in 1..pts.len() {
        if let (Link::Dashed, Some(a), Some(b)) = (links[i - 1], pts[i - 1].1, pts[i].1) {
            plot.dashed(
                &[(pts[i - 1].0, a), (pts[i].0, b)],
                col.mix(0.8).stroke_width(width.clamp(1, 2)),
            )?;
            dashed = true;
        }
    }
    for &(x, m, _, _) in pts {
        if let Some(m) = m {
            plot.dot((x, m), 4, col.to_rgba())?;
        }
    }
    Ok(dashed)
}

/// A band over two or more intervals; a lone interval as an error bar.
fn draw_band<DB: DrawingBackend>(
    plot: &mut Plot<'_, DB>,
    band: &[(f64, f64, f64)],
    col: &RGBColor,
) -> Result<()> {
    match band {
        [] => Ok(()),
        [(x, lo, hi)] => plot.error_bar(*x, *lo, *hi, col.mix(0.7).stroke_width(1)),
        _ => plot.band(band, col.mix(0.18)),
    }
}

struct DowntimeFig<'a> {
    sweep: &'a Sweep,
    view: &'a View,
    /// The worst_downtime_s column of runs.csv.
    col: usize,
}

/// Quartiles by linear interpolation of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (i, f) = (pos.floor() as usize, pos.fract());
    match sorted.get(i + 1) {
        Some(next) => sorted[i] + (next - sorted[i]) * f,
        None => sorted[i],
    }
}

impl Figure for DowntimeFig<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<()> {
        let (s, v) = (self.sweep, self.view);
        // Points in line order (the curve's groups, each in x order), coloured by line;
        // sampled points in x order.
        let mut order: Vec<(usize, usize)> = v
            .groups
            .iter()
            .enumerate()
            .flat_map(|(gi, g)| g.points.iter().map(move |&k| (gi, k)))
            .collect();
        if v.scatter {
            order.sort_by(|a, b| {
                x_pos(s, v.x, a.1)
                    .total_cmp(&x_pos(s, v.x, b.1))
                    .then(a.1.cmp(&b.1))
            });
        }
        let point_col = s.runs.col("point");
        let values: Vec<Vec<(usize, f64)>> = order
            .iter()
            .map(|&(_, k)| {
                let id = &s.points[k].id;
                s.runs
                    .rows
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| point_col.is_some_and(|c| cell(r, c) == id))
                    .filter_map(|(i, r)| num(r, self.col).map(|d| (i, d)))
                    .collect()
            })
            .collect();
        let max = draw::extent(values.iter().flatten().map(|&(_, d)| d)).map_or(0.0, |e| e.1);
        let unit = draw::time_unit(max);
        let top = if max > 0.0 {
            max / unit.secs * 1.06
        } else {
            1.0
        };
        // Runs per point (with --precision, from fewest to most).
        let runs_col = s.table.col("runs");
        let counts: Vec<u64> = (s.points.iter())
            .filter_map(|p| runs_col.and_then(|c| cell(&p.rec, c).parse().ok()))
            .collect();
        let reps = match (counts.iter().min(), counts.iter().max()) {
            (Some(a), Some(b)) if a != b => format!("{a} to {b}"),
            _ => (s.runs.rows.len() / s.points.len().max(1)).to_string(),
        };
        let title = format!(
            "{}worst downtime per replication ({} runs per point)",
            s.prefix(),
            reps
        );
        let body = draw::titled(root, &title)?;
        let (left, right) = with_legend(&body);
        // Sampled points go in x order, named by x alone; grid points by all their values.
        let by_x = v.scatter && v.x.is_some();
        let names: Vec<String> = order
            .iter()
            .map(|&(_, k)| match v.x {
                _ if s.params.is_empty() => format!("point {}", s.points[k].id),
                Some(i) if by_x => s.points[k].values[i].clone(),
                _ => s.points[k].values.join(", "),
            })
            .collect();
        let fmt = name_ticks(&names);
        let x_desc = match v.x {
            _ if s.params.is_empty() => "point".to_owned(),
            Some(i) if by_x => axis_desc(&s.params[i].path),
            _ if s.params.len() == 1 => axis_desc(&s.params[0].path),
            _ => s
                .params
                .iter()
                .map(|p| p.short.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        };
        let y_desc = format!("worst downtime ({})", unit.name);
        let mut axes = Axes::new(
            (-0.5, order.len().max(1) as f64 - 0.5),
            (0.0, top),
            &x_desc,
            &y_desc,
        );
        axes.x_fmt = Some(&fmt);
        axes.x_labels = label_count(&names);
        let mut plot = axes.draw(&left)?;
        for (j, (&(gi, _), vals)) in order.iter().zip(&values).enumerate() {
            let col = draw::color(if v.scatter && v.groups.len() == 1 {
                0
            } else {
                gi
            });
            let x = j as f64;
            let mut sorted: Vec<f64> = vals.iter().map(|&(_, d)| d / unit.secs).collect();
            sorted.sort_by(f64::total_cmp);
            if let (Some(&lo), Some(&hi)) = (sorted.first(), sorted.last()) {
                let (q1, q2, q3) = (
                    quantile(&sorted, 0.25),
                    quantile(&sorted, 0.5),
                    quantile(&sorted, 0.75),
                );
                let w = 0.22;
                plot.line(&[(x, lo), (x, q1)], col.stroke_width(1))?;
                plot.line(&[(x, q3), (x, hi)], col.stroke_width(1))?;
                for yv in [lo, hi] {
                    plot.line(&[(x - w / 2.0, yv), (x + w / 2.0, yv)], col.stroke_width(1))?;
                }
                plot.chart
                    .draw_series([
                        Rectangle::new([(x - w, q1), (x + w, q3)], col.mix(0.2).filled()),
                        Rectangle::new([(x - w, q1), (x + w, q3)], col.stroke_width(1)),
                    ])
                    .map_err(|e| anyhow::anyhow!("drawing failed: {e}"))?;
                plot.line(&[(x - w, q2), (x + w, q2)], col.stroke_width(3))?;
            }
            // Each replication as a dot, spread across the box by its row (no randomness).
            for &(row, d) in vals {
                let jitter = ((row as f64 * 0.618_033_988_75).fract() - 0.5) * 0.36;
                plot.dot((x + jitter, d / unit.secs), 3, INK.mix(0.55))?;
            }
        }
        let mut legend = vec![
            Entry::new(Key::Heading, "box: quartiles and median"),
            Entry::new(Key::Heading, "whiskers: min and max"),
            Entry::new(Key::Dot(INK.mix(0.55)), "one replication"),
        ];
        if !(v.scatter && v.groups.len() == 1) && v.groups.len() > 1 {
            legend.push(Entry::new(Key::Heading, "by"));
            for (gi, g) in v.groups.iter().enumerate() {
                legend.push(Entry::new(
                    Key::Patch(draw::color(gi).mix(0.5)),
                    g.label.clone(),
                ));
            }
        }
        if order.is_empty() {
            draw::empty(&left, "no points in points.csv")?;
        } else if values.iter().all(Vec::is_empty) {
            draw::empty(&left, "worst_downtime_s is undefined in every run")?;
        }
        draw::legend(&right, &legend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_solid_only_between_close_measured_neighbours() {
        use Link::{Dashed, Solid};
        // Evenly spaced: all solid.
        let m = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(links(&m, &m), vec![Solid, Solid, Solid]);
        // A line lacking 3 (measured elsewhere) is dashed across it.
        assert_eq!(links(&[1.0, 2.0, 4.0], &m), vec![Solid, Dashed]);
        // 1..5 then 10 and 30: the median gap is 1, so 5 -> 10 and 10 -> 30 are wide.
        let m = [1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 30.0];
        assert_eq!(
            links(&m, &m),
            vec![Solid, Solid, Solid, Solid, Dashed, Dashed]
        );
        // Exactly twice the typical gap is still solid; doubling values: only the widest gap.
        assert_eq!(typical_gap(&[0.0, 1.0, 2.0, 4.0]), Some(1.0));
        assert_eq!(
            links(&[0.0, 1.0, 2.0, 4.0], &[0.0, 1.0, 2.0, 4.0])[2],
            Solid
        );
        let m = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
        assert_eq!(links(&m, &m), vec![Solid, Solid, Solid, Solid, Dashed]);
        // One value or none: nothing to join, no typical gap.
        assert_eq!(typical_gap(&[3.0, 3.0]), None);
        assert!(links(&[3.0], &[3.0]).is_empty());
    }

    #[test]
    fn a_latency_gets_its_groups_availability_beside_it() {
        let ms = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let all = ms(&["availability", "users.availability", "users.latency_p99_s"]);
        assert_eq!(
            companion("users.latency_p99_s", &all).as_deref(),
            Some("users.availability")
        );
        let overall = ms(&["availability", "users.latency_mean_s"]);
        assert_eq!(
            companion("users.latency_mean_s", &overall).as_deref(),
            Some("availability")
        );
        assert_eq!(
            companion("users.latency_p99_s", &ms(&["worst_downtime_s"])),
            None
        );
        assert_eq!(companion("availability", &all), None);
        assert_eq!(companion("worst_downtime_s", &all), None);
        assert!(successes_only("latency_p99_s") && !successes_only("latency.availability"));
    }

    #[test]
    fn nines_are_capped_and_floored() {
        assert!((nines(0.999) - 3.0).abs() < 1e-9);
        assert_eq!(nines(1.0), NINES_CAP);
        assert_eq!(nines(1.5), NINES_CAP);
        assert_eq!(nines(-0.2), 0.0);
        assert_eq!(nines(0.0), 0.0);
    }

    #[test]
    fn short_names_are_unique_suffixes() {
        let all = vec![
            "components.a.replicas".to_owned(),
            "components.b.replicas".to_owned(),
            "components.users.retry.attempts".to_owned(),
        ];
        assert_eq!(short_name(&all[0], &all), "a.replicas");
        assert_eq!(short_name(&all[2], &all), "attempts");
    }

    #[test]
    fn quartiles_interpolate() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert_eq!(quantile(&[7.0], 0.25), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn units_follow_the_metric() {
        assert_eq!(metric_desc("worst_downtime_s"), "worst_downtime_s (s)");
        assert_eq!(
            metric_desc("users.availability"),
            "users.availability (fraction of requests)"
        );
        assert_eq!(file_stem("a b/c"), "a_b_c");
    }
}
