//! A run's plots: availability per client group, component utilisation and replicas up, and
//! the blast radius over time, each with the fault windows shaded and alarms and actions marked.

use super::bad;
use super::draw::{
    self, ACTION, ALARM, Area, Axes, Entry, FAILURE, Figure, HEIGHT, Key, LEGEND_W, SHADES,
    TimeUnit, WIDTH,
};
use super::table::{Table, cell, num};
use anyhow::Result;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

mod latency;

/// Draws the run folder's plots into `dir/plots/`.
pub(super) fn plot(dir: &Path) -> Result<Vec<PathBuf>> {
    let run = Run::read(dir)?;
    let out = draw::plots_dir(dir)?;
    let mut files = Vec::new();
    files.extend(draw::save(&out, "availability", &AvailabilityFig(&run))?);
    if latency::has_latency(&run) {
        files.extend(draw::save(&out, "latency", &latency::LatencyFig(&run))?);
    }
    if run.has_components {
        files.extend(draw::save(&out, "components", &ComponentsFig(&run))?);
    }
    if run.blast.is_some() {
        files.extend(draw::save(&out, "blast-radius", &BlastFig(&run))?);
    }
    files.sort();
    Ok(files)
}

/// A group's gossip work is drawn once it takes more than this share of its workers in a bucket.
const GOSSIP_SHOWN: f64 = 0.01;

/// One bucket's value: from, to (seconds) and the value, if defined.
pub(super) type Cell = (f64, f64, Option<f64>);

/// A named series of buckets.
struct Series {
    name: String,
    cells: Vec<Cell>,
}

struct Component {
    name: String,
    kind: String,
    utilization: Vec<Cell>,
    /// The share of worker time spent merging gossip (`gossip_busy`; absent in older folders).
    gossip: Vec<Cell>,
    /// Mean replicas up per bucket (`up_replicas`; absent in older folders).
    up: Vec<Cell>,
    /// Replicas provisioned per bucket.
    replicas: Vec<Cell>,
}

/// Everything a run's plots show.
struct Run {
    scenario: String,
    duration: f64,
    /// The availability target, from summary.json (absent in older folders).
    slo: Option<f64>,
    /// The scenario's wall clock, from summary.json: x ticks in clock time.
    clock: Option<crate::model::spec::Clock>,
    unit: TimeUnit,
    clients: Vec<Series>,
    /// From `timeseries_bands.csv` (`run --replications R`): each client group's mean
    /// availability and 95% band over the replications.
    bands: Option<Bands>,
    /// p99 latency of each client group's successful requests per bucket (`latency_p99_s`;
    /// undefined where nothing succeeded), in the order of `clients`.
    latency: Vec<Series>,
    components: Vec<Component>,
    /// Whether the folder has components.csv.
    has_components: bool,
    /// Whether components.csv has `up_replicas`.
    has_up: bool,
    /// Fractions of client groups and of component groups impacted, from blast_radius.csv.
    blast: Option<[Series; 2]>,
    marks: Marks,
}

/// Per client group, the mean availability per bucket and its 95% band over replications.
pub(super) struct Bands {
    /// The most replications behind a bucket.
    pub replications: u64,
    /// Per client group, in the order of first appearance.
    pub groups: Vec<BandGroup>,
}

/// A client group's name and its mean, low and high cells.
pub(super) type BandGroup = (String, Vec<Cell>, Vec<Cell>, Vec<Cell>);

impl Bands {
    /// The bands of a `timeseries_bands.csv` (or a sweep point's rows of `bands.csv`) on the
    /// bucket grid `grid`.
    pub(super) fn read(t: &Table, grid: &Grid) -> Result<Bands> {
        let (time, client) = (t.need("time_s")?, t.need("client")?);
        let reps = t.need("replications")?;
        let cols = [
            t.need("availability_mean")?,
            t.need("availability_low")?,
            t.need("availability_high")?,
        ];
        let [mean, low, high] = cols.map(|c| groups(t, client, time, grid, |r| num(r, c)));
        let replications = (t.rows.iter())
            .filter_map(|r| num(r, reps))
            .fold(0.0, f64::max) as u64;
        let groups = (mean.into_iter().zip(low).zip(high))
            .map(|(((name, m), (_, lo)), (_, hi))| (name, m, lo, hi))
            .collect();
        Ok(Bands {
            replications,
            groups,
        })
    }

    /// A step-shaped band (x, low, high) in x units of `secs` per stretch of buckets with an
    /// interval.
    pub(super) fn steps(low: &[Cell], high: &[Cell], secs: f64) -> Vec<Vec<(f64, f64, f64)>> {
        let mut out: Vec<Vec<(f64, f64, f64)>> = Vec::new();
        let mut cur: Vec<(f64, f64, f64)> = Vec::new();
        let mut last_end = f64::NAN;
        for (&(t0, t1, lo), &(_, _, hi)) in low.iter().zip(high) {
            match (lo, hi) {
                (Some(lo), Some(hi)) => {
                    if !cur.is_empty() && t0 != last_end {
                        out.push(std::mem::take(&mut cur));
                    }
                    cur.push((t0 / secs, lo, hi));
                    cur.push((t1 / secs, lo, hi));
                    last_end = t1;
                }
                _ => {
                    if !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                }
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }
}

/// Faults, random failures, alarms and actions from events.csv.
#[derive(Default)]
struct Marks {
    /// Fault (as logged: "name (kind)") -> the windows when it held somewhere.
    faults: Vec<(String, Vec<(f64, f64)>)>,
    /// Random failure name -> windows.
    failures: Vec<(String, Vec<(f64, f64)>)>,
    /// Time and alarm name of each alarm firing.
    alarms: Vec<(f64, String)>,
    /// When some alarm was firing (from each firing to its clear, or the end).
    firing: Vec<(f64, f64)>,
    /// Time and name of each action.
    actions: Vec<(f64, String)>,
}

impl Run {
    fn read(dir: &Path) -> Result<Run> {
        let path = dir.join("summary.json");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        let summary: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("{}: {e}", path.display())))?;
        let mut scenario = summary
            .get("scenario")
            .and_then(|v| v.as_str())
            .unwrap_or("run")
            .to_owned();
        // A what-if's folder (OUT/what-ifs/<name>/) says so in its titles.
        let parent = dir.parent().and_then(Path::file_name);
        if let (Some(name), Some("what-ifs")) = (dir.file_name(), parent.and_then(|p| p.to_str())) {
            scenario = format!("{scenario} (what-if {})", name.to_string_lossy());
        }
        let ts = Table::read(&dir.join("timeseries.csv"))?;
        let comps = match dir.join("components.csv") {
            p if p.is_file() => Some(Table::read(&p)?),
            _ => None,
        };
        let blast = match dir.join("blast_radius.csv") {
            p if p.is_file() => Some(Table::read(&p)?),
            _ => None,
        };
        // The run's length: the summary's, else the end of the last bucket seen.
        let mut times: Vec<f64> = Vec::new();
        let t_ts = ts.need("time_s")?;
        times.extend(ts.rows.iter().filter_map(|r| num(r, t_ts)));
        if let Some(c) = &comps {
            let t = c.need("time_s")?;
            times.extend(c.rows.iter().filter_map(|r| num(r, t)));
        }
        let duration = summary
            .get("duration_s")
            .and_then(|v| v.as_f64())
            .filter(|d| d.is_finite() && *d > 0.0);
        let grid = Grid::new(times, duration);
        let duration = duration.unwrap_or_else(|| grid.last_end());

        let clients = {
            let (c, a) = (ts.need("client")?, ts.need("availability")?);
            groups(&ts, c, t_ts, &grid, |r| num(r, a))
                .into_iter()
                .map(|(name, cells)| Series { name, cells })
                .collect()
        };
        let bands = match dir.join("timeseries_bands.csv") {
            p if p.is_file() => Some(Bands::read(&Table::read(&p)?, &grid)?),
            _ => None,
        };
        let latency = match ts.col("latency_p99_s") {
            None => Vec::new(),
            Some(l) => {
                let c = ts.need("client")?;
                groups(&ts, c, t_ts, &grid, |r| num(r, l))
                    .into_iter()
                    .map(|(name, cells)| Series { name, cells })
                    .collect()
            }
        };
        let (components, has_up) = match &comps {
            None => (Vec::new(), false),
            Some(t) => components(t, &grid)?,
        };
        let blast = match &blast {
            None => None,
            Some(t) => Some(blast_radius(t, &Grid::new(times_of(t)?, Some(duration)))?),
        };
        let events = dir.join("events.csv");
        let marks = if events.is_file() {
            Marks::read(&events, duration)?
        } else {
            Marks::default()
        };
        let slo = summary
            .get("slo")
            .and_then(|v| v.as_f64())
            .filter(|x| x.is_finite() && *x > 0.0 && *x <= 1.0);
        let clock = summary.get("clock").and_then(|c| {
            let start = c.get("start_s")?.as_u64().filter(|&s| s < 86_400)? as u32;
            let zone = c.get("zone")?.as_str()?.to_owned();
            Some(crate::model::spec::Clock { start, zone })
        });
        Ok(Run {
            scenario,
            duration,
            slo,
            clock,
            unit: draw::time_unit(duration),
            clients,
            bands,
            latency,
            has_components: comps.is_some(),
            components,
            has_up,
            blast,
            marks,
        })
    }

    /// The x range in the run's time unit.
    fn x_range(&self) -> (f64, f64) {
        draw::range(0.0, self.duration / self.unit.secs, 0.0)
    }

    fn x_desc(&self) -> String {
        match &self.clock {
            Some(c) if !c.zone.is_empty() => format!("time ({})", c.zone),
            Some(_) => "clock time".to_owned(),
            None => format!("time since start ({})", self.unit.name),
        }
    }

    /// Tick labels in clock time, when the scenario has a clock.
    fn clock_fmt(&self) -> Option<impl Fn(&f64) -> String + '_> {
        let c = self.clock.as_ref()?;
        let u = self.unit.secs;
        Some(move |v: &f64| c.format(v * u))
    }

    /// Step lines of `cells` in the run's time unit: one polyline per stretch of defined
    /// buckets.
    fn steps(&self, cells: &[Cell]) -> Vec<Vec<(f64, f64)>> {
        steps(cells, self.unit.secs)
    }

    /// Shades the fault and failure windows and draws the alarm and action lines.
    fn overlay<DB: DrawingBackend>(&self, plot: &mut draw::Plot<'_, DB>) -> Result<()> {
        let u = self.unit.secs;
        // A fault that ends where it starts (a one-round corruption) still shows, as a sliver.
        let sliver = self.duration / u * 0.003;
        let scaled = |w: &[(f64, f64)]| -> Vec<(f64, f64)> {
            w.iter()
                .map(|&(a, b)| (a / u, (b / u).max(a / u + sliver)))
                .collect()
        };
        for (_, windows) in &self.marks.failures {
            plot.shade(&scaled(windows), FAILURE.mix(0.14))?;
        }
        for (i, (_, windows)) in self.marks.faults.iter().enumerate() {
            plot.shade(&scaled(windows), SHADES[i % SHADES.len()].mix(0.16))?;
        }
        // A line where alarms or actions start after a quiet spell: a flapping alarm gets one
        // line, and its firings show in the bar along the top.
        let gap = self.duration * 0.01;
        for t in first_of_runs(&self.marks.actions, gap) {
            plot.vline(t / u, ACTION.stroke_width(2), false)?;
        }
        for t in first_of_runs(&self.marks.alarms, gap) {
            plot.vline(t / u, ALARM.stroke_width(2), true)?;
        }
        plot.strip(&scaled(&self.marks.firing), 0.02, ALARM.mix(0.75))?;
        Ok(())
    }

    /// Legend rows for the overlay.
    fn overlay_legend(&self) -> Vec<Entry> {
        let mut e = Vec::new();
        let m = &self.marks;
        if !m.faults.is_empty() || !m.failures.is_empty() {
            e.push(Entry::new(Key::Heading, "faults (shaded)"));
        }
        for (i, (name, _)) in m.faults.iter().enumerate() {
            e.push(Entry::new(
                Key::Patch(SHADES[i % SHADES.len()].mix(0.3)),
                name.clone(),
            ));
        }
        if m.failures.len() > 3 {
            e.push(Entry::new(
                Key::Patch(FAILURE.mix(0.25)),
                format!("random failures ({} kinds)", m.failures.len()),
            ));
        } else {
            for (name, _) in &m.failures {
                e.push(Entry::new(
                    Key::Patch(FAILURE.mix(0.25)),
                    format!("random failure: {name}"),
                ));
            }
        }
        let names = |xs: &[(f64, String)]| {
            let mut seen: Vec<&str> = Vec::new();
            for (_, n) in xs {
                if !seen.contains(&n.as_str()) {
                    seen.push(n);
                }
            }
            seen.join(", ")
        };
        if !m.alarms.is_empty() || !m.actions.is_empty() {
            e.push(Entry::new(Key::Heading, "operations"));
        }
        // One entry per alarm: how often it fired and when first.
        let mut alarms: Vec<(&str, usize, f64)> = Vec::new();
        for (t, n) in &m.alarms {
            match alarms.iter_mut().find(|a| a.0 == n.as_str()) {
                Some(a) => a.1 += 1,
                None => alarms.push((n, 1, *t)),
            }
        }
        for (name, count, first) in alarms {
            let times = if count == 1 {
                String::new()
            } else {
                format!(", {count}x")
            };
            e.push(Entry::new(
                Key::Line(ALARM.to_rgba(), true, 2),
                match &self.clock {
                    Some(c) => format!("alarm: {name} (at {}{times})", c.format(first)),
                    None => format!(
                        "alarm: {name} (at {:.1}{}{times})",
                        first / self.unit.secs,
                        self.unit.name
                    ),
                },
            ));
        }
        if !m.alarms.is_empty() {
            e.push(Entry::new(
                Key::Patch(ALARM.mix(0.75)),
                "alarm firing (bar along the top)",
            ));
        }
        if !m.actions.is_empty() {
            e.push(Entry::new(
                Key::Line(ACTION.to_rgba(), false, 2),
                format!("action: {}", names(&m.actions)),
            ));
        }
        e
    }
}

/// The bucket grid: sorted distinct bucket starts, the bucket width and the run's end.
pub(super) struct Grid {
    starts: Vec<f64>,
    width: f64,
    end: Option<f64>,
}

impl Grid {
    pub(super) fn new(mut times: Vec<f64>, end: Option<f64>) -> Grid {
        times.retain(|t| t.is_finite());
        times.sort_by(f64::total_cmp);
        times.dedup();
        let width = times
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 0.0)
            .fold(f64::INFINITY, f64::min);
        let width = if width.is_finite() {
            width
        } else {
            match (times.first(), end) {
                (Some(&t), Some(e)) if e > t => e - t,
                _ => 1.0,
            }
        };
        Grid {
            starts: times,
            width,
            end,
        }
    }

    /// Where the bucket starting at `t` ends: at the next bucket, else a bucket width later
    /// but not past the run's end.
    pub(super) fn end_of(&self, t: f64) -> f64 {
        let i = self.starts.partition_point(|&s| s <= t);
        match self.starts.get(i) {
            Some(&next) if next - t <= self.width * 1.5 => next,
            _ => {
                let e = t + self.width;
                match self.end {
                    Some(end) if end > t => e.min(end),
                    _ => e,
                }
            }
        }
    }

    fn last_end(&self) -> f64 {
        self.starts.last().map_or(1.0, |&t| self.end_of(t))
    }
}

/// Step lines of `cells` in units of `u` seconds: one polyline per stretch of defined buckets.
pub(super) fn steps(cells: &[Cell], u: f64) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut cur: Vec<(f64, f64)> = Vec::new();
    let mut last_end = f64::NAN;
    for &(t0, t1, v) in cells {
        match v {
            Some(v) => {
                if !cur.is_empty() && t0 != last_end {
                    out.push(std::mem::take(&mut cur));
                }
                cur.push((t0 / u, v));
                cur.push((t1 / u, v));
                last_end = t1;
            }
            None => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The `time_s` column's values.
fn times_of(t: &Table) -> Result<Vec<f64>> {
    let c = t.need("time_s")?;
    Ok(t.rows.iter().filter_map(|r| num(r, c)).collect())
}

/// Rows split by the name in column `name`, in order of first appearance: name -> cells
/// (from, to, `value(row)`), in time order.
fn groups(
    t: &Table,
    name: usize,
    time: usize,
    grid: &Grid,
    value: impl Fn(&csv::StringRecord) -> Option<f64>,
) -> Vec<(String, Vec<Cell>)> {
    let mut out: Vec<(String, Vec<Cell>)> = Vec::new();
    for r in &t.rows {
        let Some(t0) = num(r, time) else { continue };
        let n = cell(r, name);
        let i = match out.iter().position(|(m, _)| m == n) {
            Some(i) => i,
            None => {
                out.push((n.to_owned(), Vec::new()));
                out.len() - 1
            }
        };
        out[i].1.push((t0, grid.end_of(t0), value(r)));
    }
    for (_, cells) in &mut out {
        cells.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    out
}

/// Component groups from components.csv, and whether it has `up_replicas`.
fn components(t: &Table, grid: &Grid) -> Result<(Vec<Component>, bool)> {
    let (time, name) = (t.need("time_s")?, t.need("component")?);
    let kind = t.col("kind");
    let util = t.col("utilization");
    let gossip_busy = t.col("gossip_busy");
    let up = t.col("up_replicas");
    let reps = t.col("replicas");
    let get = |c: Option<usize>| move |r: &csv::StringRecord| c.and_then(|c| num(r, c));
    let utils = groups(t, name, time, grid, get(util));
    let gossips = groups(t, name, time, grid, get(gossip_busy));
    let ups = groups(t, name, time, grid, get(up));
    let replicas = groups(t, name, time, grid, get(reps));
    let kind_of = |n: &str| {
        t.rows
            .iter()
            .find(|r| cell(r, name) == n)
            .and_then(|r| kind.map(|k| cell(r, k).to_owned()))
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for ((((n, u), (_, g)), (_, up)), (_, rep)) in
        utils.into_iter().zip(gossips).zip(ups).zip(replicas)
    {
        out.push(Component {
            kind: kind_of(&n),
            name: n,
            utilization: u,
            gossip: g,
            up,
            replicas: rep,
        });
    }
    // Monitors with nothing to show (never busy, never down) are left out.
    out.retain(|c| {
        c.kind != "monitor"
            || c.utilization.iter().any(|x| x.2.unwrap_or(0.0) > 0.0)
            || c.up.iter().zip(&c.replicas).any(|(u, r)| match (u.2, r.2) {
                (Some(u), Some(r)) => u < r,
                _ => false,
            })
    });
    Ok((out, up.is_some()))
}

/// The two blast-radius series: client groups below the SLO and component groups failing, as
/// fractions of their totals.
fn blast_radius(t: &Table, grid: &Grid) -> Result<[Series; 2]> {
    let time = t.need("time_s")?;
    let cols = [
        (
            "client groups below the SLO",
            "clients_impacted",
            "clients_total",
        ),
        (
            "component groups failing",
            "components_impacted",
            "components_total",
        ),
    ];
    let mut out = Vec::new();
    for (label, n, d) in cols {
        let (n, d) = (t.need(n)?, t.need(d)?);
        let mut cells: Vec<Cell> = t
            .rows
            .iter()
            .filter_map(|r| {
                let t0 = num(r, time)?;
                let v = match (num(r, n), num(r, d)) {
                    (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                    _ => None,
                };
                Some((t0, grid.end_of(t0), v))
            })
            .collect();
        cells.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = draw::extent(t.rows.iter().filter_map(|r| num(r, d)));
        let name = match total {
            Some((_, n)) if n > 0.0 => format!("{label} (of {n})"),
            _ => label.to_owned(),
        };
        out.push(Series { name, cells });
    }
    let [a, b]: [Series; 2] = out.try_into().map_err(|_| bad("blast radius"))?;
    Ok([a, b])
}

impl Marks {
    /// Reads the rows of events.csv that the plots mark; a window still open at the end lasts
    /// to `end`.
    fn read(path: &Path, end: f64) -> Result<Marks> {
        const KINDS: [&str; 7] = [
            "fault_start",
            "fault_end",
            "failure_start",
            "failure_end",
            "alarm",
            "alarm_clear",
            "action",
        ];
        let t = Table::read_filtered(path, |r| KINDS.contains(&r.get(1).unwrap_or("")))?;
        let (time, kind, target, detail) = (
            t.need("time_s")?,
            t.need("kind")?,
            t.need("target")?,
            t.need("detail")?,
        );
        let mut m = Marks::default();
        let mut faults = Windows::default();
        let mut failures = Windows::default();
        let mut firing = Windows::default();
        for r in &t.rows {
            let Some(at) = num(r, time) else { continue };
            let (tg, d) = (cell(r, target), cell(r, detail));
            match cell(r, kind) {
                "fault_start" => faults.open(d, tg, at),
                "fault_end" => faults.close(d, tg, at),
                "failure_start" => failures.open(d, tg, at),
                "failure_end" => failures.close(d, tg, at),
                // "name: metric of group = value (above threshold)".
                "alarm" => {
                    let name = d.split(": ").next().unwrap_or(d);
                    firing.open(name, name, at);
                    m.alarms.push((at, name.to_owned()));
                }
                // The alarm's name.
                "alarm_clear" => firing.close(d, d, at),
                // "name (kind[, on alarm x])".
                "action" => m
                    .actions
                    .push((at, d.rsplit_once(" (").map_or(d, |(n, _)| n).to_owned())),
                _ => {}
            }
        }
        m.faults = faults.finish(end);
        m.failures = failures.finish(end);
        m.firing = union(
            firing
                .finish(end)
                .into_iter()
                .flat_map(|(_, w)| w)
                .collect(),
        );
        Ok(m)
    }
}

/// The times in `marks` (in time order) that come more than `gap` after the one before.
fn first_of_runs(marks: &[(f64, String)], gap: f64) -> Vec<f64> {
    let mut times: Vec<f64> = marks.iter().map(|m| m.0).collect();
    times.sort_by(f64::total_cmp);
    let mut out = Vec::new();
    let mut last = f64::NEG_INFINITY;
    for t in times {
        if t - last > gap {
            out.push(t);
        }
        last = t;
    }
    out
}

/// Open and closed windows per name and target.
#[derive(Default)]
struct Windows {
    names: Vec<Named>,
}

/// One name's windows: those still open (per target, with how many starts are unmatched)
/// and those closed.
struct Named {
    name: String,
    open: Vec<(String, f64, u32)>,
    closed: Vec<(f64, f64)>,
}

impl Windows {
    fn entry(&mut self, name: &str) -> &mut Named {
        let i = match self.names.iter().position(|n| n.name == name) {
            Some(i) => i,
            None => {
                self.names.push(Named {
                    name: name.to_owned(),
                    open: Vec::new(),
                    closed: Vec::new(),
                });
                self.names.len() - 1
            }
        };
        &mut self.names[i]
    }

    fn open(&mut self, name: &str, target: &str, at: f64) {
        let n = self.entry(name);
        match n.open.iter_mut().find(|(t, _, _)| t == target) {
            Some((_, _, depth)) => *depth += 1,
            None => n.open.push((target.to_owned(), at, 1)),
        }
    }

    fn close(&mut self, name: &str, target: &str, at: f64) {
        let n = self.entry(name);
        if let Some(k) = n.open.iter().position(|(t, _, _)| t == target) {
            n.open[k].2 -= 1;
            if n.open[k].2 == 0 {
                let (_, from, _) = n.open.remove(k);
                n.closed.push((from, at));
            }
        }
    }

    /// Name -> the union of its windows over targets, in order of first appearance.
    fn finish(self, end: f64) -> Vec<(String, Vec<(f64, f64)>)> {
        self.names
            .into_iter()
            .map(|mut n| {
                n.closed
                    .extend(n.open.into_iter().map(|(_, from, _)| (from, end.max(from))));
                (n.name, union(n.closed))
            })
            .filter(|(_, w)| !w.is_empty())
            .collect()
    }
}

/// Overlapping or touching windows merged, in time order.
fn union(mut w: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    w.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (a, b) in w {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Splits `root` into the chart area and the legend panel at its right.
fn with_legend<DB: DrawingBackend>(root: &Area<DB>) -> (Area<DB>, Area<DB>) {
    let (w, _) = root.dim_in_pixel();
    root.split_horizontally(w.saturating_sub(LEGEND_W))
}

struct AvailabilityFig<'a>(&'a Run);

impl Figure for AvailabilityFig<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<()> {
        let run = self.0;
        let body = draw::titled(
            root,
            &format!("{}: availability by client group", run.scenario),
        )?;
        let (left, right) = with_legend(&body);
        let mut legend = availability_panel(run, &left)?;
        legend.extend(run.overlay_legend());
        draw::legend(&right, &legend)
    }
}

/// The availability of each client group over time on `left`, with the SLO line and the
/// overlay; returns the legend entries for the groups and the SLO.
fn availability_panel<DB: DrawingBackend>(run: &Run, left: &Area<DB>) -> Result<Vec<Entry>> {
    // Zoom in when every bucket stays high, so that small dips show.
    let band_lows = (run.bands.iter())
        .flat_map(|b| b.groups.iter().flat_map(|g| g.2.iter().filter_map(|x| x.2)));
    let lo = draw::extent(
        (run.clients.iter())
            .flat_map(|c| c.cells.iter().filter_map(|x| x.2))
            .chain(band_lows.map(|x| x.max(0.0))),
    )
    .map_or(0.0, |(lo, _)| lo);
    // The SLO line stays in view.
    let lo = run.slo.map_or(lo, |slo| lo.min(slo));
    let y0 = if lo >= 0.9 {
        (lo - ((1.0 - lo) * 0.1).max(0.001)).max(0.0)
    } else {
        0.0
    };
    let y1 = 1.0 + (1.0 - y0) * 0.03;
    let x_desc = run.x_desc();
    let cf = run.clock_fmt();
    let mut axes = Axes::new(
        run.x_range(),
        (y0, y1),
        &x_desc,
        "availability (fraction of requests)",
    );
    if let Some(f) = &cf {
        axes.x_fmt = Some(f);
    }
    let mut plot = axes.draw(left)?;
    run.overlay(&mut plot)?;
    let mut legend = vec![Entry::new(Key::Heading, "client groups")];
    if let Some(slo) = run.slo {
        let (x0, x1) = run.x_range();
        plot.dashed(&[(x0, slo), (x1, slo)], BLACK.mix(0.6).stroke_width(1))?;
    }
    let n = run.clients.len();
    // The replications' bands under the lines: each group's 95% band shaded in its colour,
    // its mean dashed.
    if let Some(b) = &run.bands {
        for (name, mean, low, high) in &b.groups {
            let Some(i) = run.clients.iter().position(|c| c.name == *name) else {
                continue;
            };
            let col = draw::color(i);
            for band in Bands::steps(low, high, run.unit.secs) {
                plot.band(&band, col.mix(0.3))?;
            }
            for seg in run.steps(mean) {
                plot.dashed(&seg, col.mix(0.9).stroke_width(1))?;
            }
        }
    }
    for (i, c) in run.clients.iter().enumerate() {
        let (col, w) = (draw::color(i), draw::width(i, n));
        for seg in run.steps(&c.cells) {
            plot.line(&seg, col.stroke_width(w))?;
        }
        legend.push(Entry::new(
            Key::Line(col.to_rgba(), false, w.max(3)),
            c.name.clone(),
        ));
    }
    if run.clients.is_empty() {
        draw::empty(left, "no client buckets in timeseries.csv")?;
    }
    if let Some(b) = &run.bands {
        legend.push(Entry::new(
            Key::Heading,
            format!("{} replications", b.replications),
        ));
        legend.push(Entry::new(Key::Line(draw::INK.mix(0.9), true, 1), "mean"));
        legend.push(Entry::new(Key::Patch(draw::INK.mix(0.3)), "95% band"));
        legend.push(Entry::new(
            Key::Line(draw::INK.to_rgba(), false, 3),
            "the scenario's seed",
        ));
    }
    if let Some(slo) = run.slo {
        legend.push(Entry::new(
            Key::Line(BLACK.mix(0.6), true, 1),
            format!("SLO {}%", (slo * 1e6).round() / 1e4),
        ));
    }
    Ok(legend)
}

struct ComponentsFig<'a>(&'a Run);

impl Figure for ComponentsFig<'_> {
    fn size(&self) -> (u32, u32) {
        if self.0.has_up {
            (WIDTH, 960)
        } else {
            (WIDTH, HEIGHT)
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<()> {
        let run = self.0;
        let body = draw::titled(root, &format!("{}: components", run.scenario))?;
        let (left, right) = with_legend(&body);
        let (util_area, up_area) = if run.has_up {
            let (_, h) = left.dim_in_pixel();
            let (a, b) = left.split_vertically(h / 2);
            (a, Some(b))
        } else {
            (left.clone(), None)
        };
        let x_desc = run.x_desc();
        let cf = run.clock_fmt();
        let max_util = draw::extent(
            run.components
                .iter()
                .flat_map(|c| c.utilization.iter().filter_map(|x| x.2)),
        )
        .map_or(1.0, |(_, hi)| hi);
        // 0 to 1, or closer when every group stays under half busy.
        let top = if max_util >= 0.5 {
            max_util.max(1.0) * 1.04
        } else {
            (max_util * 1.2).max(0.01)
        };
        let mut axes = Axes::new(
            run.x_range(),
            (0.0, top),
            &x_desc,
            "utilisation (fraction of workers busy)",
        );
        if let Some(f) = &cf {
            axes.x_fmt = Some(f);
        }
        let gossips = run
            .components
            .iter()
            .any(|c| c.gossip.iter().any(|x| x.2.unwrap_or(0.0) > GOSSIP_SHOWN));
        axes.caption = Some(if gossips {
            "utilisation (solid); of it, merging gossip (dashed)"
        } else {
            "utilisation"
        });
        let mut plot = axes.draw(&util_area)?;
        run.overlay(&mut plot)?;
        let mut legend = vec![Entry::new(Key::Heading, "component groups")];
        let n = run.components.len();
        for (i, c) in run.components.iter().enumerate() {
            let (col, w) = (draw::color(i), draw::width(i, n));
            for seg in run.steps(&c.utilization) {
                plot.line(&seg, col.stroke_width(w))?;
            }
            if c.gossip.iter().any(|x| x.2.unwrap_or(0.0) > GOSSIP_SHOWN) {
                for seg in run.steps(&c.gossip) {
                    plot.dashed(&seg, col.stroke_width(w))?;
                }
            }
            let label = if c.kind.is_empty() {
                c.name.clone()
            } else {
                format!("{} ({})", c.name, c.kind)
            };
            legend.push(Entry::new(Key::Line(col.to_rgba(), false, w.max(3)), label));
        }
        if run.components.is_empty() {
            draw::empty(&util_area, "no component buckets in components.csv")?;
        }
        if let Some(up_area) = up_area {
            let top = draw::extent(
                run.components
                    .iter()
                    .flat_map(|c| c.up.iter().chain(c.replicas.iter()).filter_map(|x| x.2)),
            )
            .map_or(1.0, |(_, hi)| hi.max(1.0));
            let mut axes = Axes::new(run.x_range(), (0.0, top * 1.08), &x_desc, "replicas");
            if let Some(f) = &cf {
                axes.x_fmt = Some(f);
            }
            axes.caption = Some("replicas up (solid) and provisioned (dashed)");
            let mut plot = axes.draw(&up_area)?;
            run.overlay(&mut plot)?;
            for (i, c) in run.components.iter().enumerate() {
                let (col, w) = (draw::color(i), draw::width(i, n));
                for seg in run.steps(&c.replicas) {
                    plot.dashed(&seg, col.mix(0.6).stroke_width(1))?;
                }
                for seg in run.steps(&c.up) {
                    plot.line(&seg, col.stroke_width(w))?;
                }
            }
        }
        legend.extend(run.overlay_legend());
        draw::legend(&right, &legend)
    }
}

struct BlastFig<'a>(&'a Run);

impl Figure for BlastFig<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<()> {
        let run = self.0;
        let Some(series) = &run.blast else {
            return Ok(());
        };
        let body = draw::titled(root, &format!("{}: blast radius", run.scenario))?;
        let (left, right) = with_legend(&body);
        let x_desc = run.x_desc();
        let cf = run.clock_fmt();
        let mut axes = Axes::new(
            run.x_range(),
            (0.0, 1.04),
            &x_desc,
            "fraction of groups impacted",
        );
        if let Some(f) = &cf {
            axes.x_fmt = Some(f);
        }
        let mut plot = axes.draw(&left)?;
        run.overlay(&mut plot)?;
        let mut legend = vec![Entry::new(Key::Heading, "impacted")];
        for (i, s) in series.iter().enumerate() {
            let (col, w) = (draw::color(i), draw::width(i, series.len()));
            for seg in run.steps(&s.cells) {
                plot.line(&seg, col.stroke_width(w))?;
            }
            legend.push(Entry::new(
                Key::Line(col.to_rgba(), false, w.max(3)),
                s.name.clone(),
            ));
        }
        legend.extend(run.overlay_legend());
        draw::legend(&right, &legend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_pair_per_target_and_merge() {
        let mut w = Windows::default();
        w.open("cut (crash)", "a[0]", 10.0);
        w.open("cut (crash)", "a[1]", 12.0);
        w.close("cut (crash)", "a[0]", 20.0);
        w.close("cut (crash)", "a[1]", 25.0);
        w.open("cut (crash)", "a[0]", 40.0);
        w.close("never (slow)", "b[0]", 5.0);
        w.open("open (hang)", "c[0]", 90.0);
        let f = w.finish(100.0);
        assert_eq!(
            f,
            vec![
                ("cut (crash)".to_owned(), vec![(10.0, 25.0), (40.0, 100.0)]),
                ("open (hang)".to_owned(), vec![(90.0, 100.0)]),
            ]
        );
    }

    #[test]
    fn fault_windows_end_at_their_logged_end_or_rollback() {
        // What the model logs for a config change on two replicas rolled back at 900 s, a
        // one-round corruption at 300 s, and a crash without an end.
        let dir = std::env::temp_dir().join(format!("outagesim-marks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.csv");
        std::fs::write(
            &path,
            "time_s,kind,target,detail\n\
             300,fault_start,s3[0],bit flip (gossip_corruption)\n\
             300,fault_end,s3[0],bit flip (gossip_corruption)\n\
             600,fault_start,app[0],bad push (config_change)\n\
             600,fault_start,app[1],bad push (config_change)\n\
             600,config_applied,app[0],bad push: workers = 1\n\
             700,fault_start,db[0],db down (crash)\n\
             900,action,app,roll back (rollback)\n\
             900,fault_end,app[0],bad push (config_change)\n\
             900,fault_end,app[1],bad push (config_change)\n\
             900,config_reverted,app[0],bad push: workers = 1\n",
        )
        .unwrap();
        let m = Marks::read(&path, 1800.0).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            m.faults,
            vec![
                (
                    "bit flip (gossip_corruption)".to_owned(),
                    vec![(300.0, 300.0)]
                ),
                ("bad push (config_change)".to_owned(), vec![(600.0, 900.0)]),
                ("db down (crash)".to_owned(), vec![(700.0, 1800.0)]),
            ]
        );
    }

    #[test]
    fn the_grid_ends_buckets_at_the_next_or_at_the_run_end() {
        let g = Grid::new(vec![0.0, 300.0, 600.0, 300.0], Some(800.0));
        assert_eq!(g.end_of(0.0), 300.0);
        assert_eq!(g.end_of(600.0), 800.0);
        let g = Grid::new(vec![0.0], Some(60.0));
        assert_eq!(g.end_of(0.0), 60.0);
        let g = Grid::new(vec![], None);
        assert_eq!(g.last_end(), 1.0);
    }
}
