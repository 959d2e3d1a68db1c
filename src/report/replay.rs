//! The replay report: a run's timeline beside the published one (`scenario.clock`,
//! `[[published]]`), and what-ifs (`[[what_ifs]]`) beside the baseline, as terminal text and as
//! Markdown.

use std::fmt::Write;

use super::pct;
use crate::engine::SimTime;
use crate::model::RunResult;
use crate::model::spec::{Clock, Milestone, Spec};
use crate::model::summary::Summary;

/// One line of the timeline: a published event (with the simulated moment it was matched to,
/// if any), or a moment of the run that no published event names.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelineRow {
    /// What happened: the published wording, or the run's own label.
    pub event: String,
    /// Published time, in simulated seconds, and on the wall clock (as the simulated times).
    pub published: Option<(f64, String)>,
    /// The simulated moment: its label ("impact", "alarm errors") and time in seconds (None
    /// when the run never reached it).
    pub simulated: Option<(String, Option<f64>)>,
}

impl TimelineRow {
    /// The published time, the simulated time ("never" if not reached) and the matched
    /// moment's label, as shown in reports.
    fn shown(&self, clock: Option<&Clock>) -> (&str, String, &str) {
        let published = self.published.as_ref().map_or("", |p| p.1.as_str());
        let simulated = match &self.simulated {
            Some((_, Some(t))) => when(clock, *t),
            Some((_, None)) => "never".into(),
            None => String::new(),
        };
        let matched = match (&self.published, &self.simulated) {
            (Some(_), Some((l, _))) => l.as_str(),
            _ => "",
        };
        (published, simulated, matched)
    }

    /// Simulated minus published, in seconds, when both are known.
    pub fn difference_s(&self) -> Option<f64> {
        Some(self.simulated.as_ref()?.1? - self.published.as_ref()?.0)
    }
}

/// The label of a milestone for reports.
fn label(spec: &Spec, m: &Milestone) -> String {
    match m {
        Milestone::Fault => "incident start".into(),
        Milestone::Impact => "impact".into(),
        Milestone::Detect => "first alarm".into(),
        Milestone::Mitigate => "first action".into(),
        Milestone::Recover => "recovered".into(),
        Milestone::NamedFault(i) => format!("fault '{}' starts", spec.faults[*i].name),
        Milestone::Alarm(i) => format!("alarm '{}' fires", spec.alarms[*i].name),
        Milestone::Action(i) => format!("action '{}'", spec.actions[*i].name),
        Milestone::ClientRecovered(c) => format!("{c} recovered"),
        Milestone::FirstEvent(k) => format!("first {k}"),
        Milestone::LastEvent(k) => format!("last {k}"),
    }
}

/// When the run reached a milestone, in seconds (None: it did not).
pub fn milestone_time(spec: &Spec, r: &RunResult, s: &Summary, m: &Milestone) -> Option<f64> {
    let i = &s.incident;
    let first = |kind: &str, prefix: &str, from: f64| {
        r.log
            .iter()
            .find(|e| e.kind == kind && e.detail.starts_with(prefix) && e.time as f64 / 1e9 >= from)
            .map(|e| e.time as f64 / 1e9)
    };
    match m {
        Milestone::Fault => i.start_s,
        Milestone::Impact => i.impact_s,
        Milestone::Detect => first("alarm", "", i.start_s?),
        Milestone::Mitigate => first("action", "", i.start_s?),
        Milestone::Recover => Some(i.impact_s? + i.time_to_recover_s?),
        Milestone::NamedFault(f) => {
            let at = spec.faults[*f].at;
            (at < spec.duration).then(|| at.as_secs_f64())
        }
        Milestone::Alarm(a) => first("alarm", &format!("{}: ", spec.alarms[*a].name), 0.0),
        Milestone::Action(a) => first("action", &format!("{} (", spec.actions[*a].name), 0.0),
        Milestone::ClientRecovered(c) => {
            // The end of the client's last bucket below the SLO, if it recovered before the end.
            let (_, series) = r.client_series().find(|(g, _)| g.name == *c)?;
            let last = series
                .iter()
                .rposition(|b| b.availability().is_some_and(|a| a < spec.slo))?;
            (last + 1 < series.len()).then(|| (last + 1) as f64 * r.bucket.as_secs_f64())
        }
        Milestone::FirstEvent(k) => first(k, "", i.start_s?),
        Milestone::LastEvent(k) => {
            let from = i.start_s?;
            r.log
                .iter()
                .rev()
                .find(|e| e.kind == *k && e.time as f64 / 1e9 >= from)
                .map(|e| e.time as f64 / 1e9)
        }
    }
}

/// The timeline of a run beside the published one: every published event in order, with the
/// run's moments that no published event names (fault starts, first alarms, actions, impact,
/// recovery) placed among them by time.
pub fn timeline(spec: &Spec, r: &RunResult, s: &Summary) -> Vec<TimelineRow> {
    let mut rows: Vec<(f64, TimelineRow)> = Vec::new();
    let named: Vec<&Milestone> = spec
        .replay
        .published
        .iter()
        .filter_map(|p| p.milestone.as_ref())
        .collect();
    let mut own: Vec<Milestone> = (0..spec.faults.len()).map(Milestone::NamedFault).collect();
    own.push(Milestone::Impact);
    own.extend((0..spec.alarms.len()).map(Milestone::Alarm));
    own.extend((0..spec.actions.len()).map(Milestone::Action));
    own.push(Milestone::Recover);
    for m in own {
        if named.contains(&&m) {
            continue;
        }
        if let Some(t) = milestone_time(spec, r, s, &m) {
            rows.push((
                t,
                TimelineRow {
                    event: label(spec, &m),
                    published: None,
                    simulated: Some((label(spec, &m), Some(t))),
                },
            ));
        }
    }
    for p in &spec.replay.published {
        let simulated = p
            .milestone
            .as_ref()
            .map(|m| (label(spec, m), milestone_time(spec, r, s, m)));
        let at = p.at.as_secs_f64();
        let shown = when(spec.replay.clock.as_ref(), at);
        rows.push((
            at,
            TimelineRow {
                event: p.event.clone(),
                published: Some((at, shown)),
                simulated,
            },
        ));
    }
    // Stable: at the same time the run's own moments come first, published rows keep their
    // order.
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows.into_iter().map(|(_, r)| r).collect()
}

/// A signed duration: "+5m", "-1h2m", "0s".
fn signed(d: f64) -> String {
    let t = SimTime::from_secs_f64(d.abs().round());
    if t == SimTime::ZERO {
        "0s".into()
    } else if d < 0.0 {
        format!("-{t}")
    } else {
        format!("+{t}")
    }
}

/// Wall-clock time of simulated second `t`, or an offset from the start without a clock.
fn when(clock: Option<&Clock>, t: f64) -> String {
    match clock {
        Some(c) => c.format(t),
        None => SimTime::from_secs_f64(t.round()).to_string(),
    }
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(n - 1).collect();
        out.push('…');
        out
    }
}

/// The timeline as terminal text (empty when the scenario has no published timeline).
pub fn timeline_text(spec: &Spec, rows: &[TimelineRow]) -> String {
    let mut o = String::new();
    if spec.replay.published.is_empty() {
        return o;
    }
    let clock = spec.replay.clock.as_ref();
    let zone = clock.map(|c| c.zone.as_str()).unwrap_or_default();
    let head = if zone.is_empty() {
        "timeline".to_owned()
    } else {
        format!("timeline ({zone})")
    };
    let width = rows
        .iter()
        .map(|r| r.event.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(head.len(), 56);
    let _ = writeln!(
        o,
        "{:<width$}  {:>10}  {:>10}  {:>8}  matched to",
        head, "published", "simulated", "diff"
    );
    for r in rows {
        let (published, simulated, matched) = r.shown(clock);
        let diff = r.difference_s().map(signed).unwrap_or_default();
        let line = format!(
            "{:<width$}  {:>10}  {:>10}  {:>8}  {matched}",
            clip(&r.event, width),
            published,
            simulated,
            diff
        );
        let _ = writeln!(o, "{}", line.trim_end());
    }
    o.trim_end().to_owned() + "\n"
}

/// What one what-if (or the baseline) did, for the comparison table.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub name: String,
    /// Share of all user requests answered (degraded included).
    pub availability: f64,
    /// The longest downtime of any client group, in seconds.
    pub worst_downtime_s: f64,
    /// Incident recovery after its impact began: None without impact, Some(None) if still
    /// impacted at the end.
    pub recovered_after_s: Option<Option<f64>>,
    /// From the impact's start to the first alarm: None without impact, Some(None) if no
    /// alarm fired.
    pub detected_after_s: Option<Option<f64>>,
    /// Impacted client groups.
    pub impacted: Vec<String>,
    pub clients: usize,
    /// Largest share of client groups impacted at once.
    pub peak_fraction: f64,
    /// The largest share of worker time any gossiping group spent on gossip (None: no group
    /// gossips).
    pub gossip_work: Option<f64>,
}

impl Outcome {
    /// The outcome of a run summarised in `s`, under `name`.
    pub fn of(name: &str, s: &Summary) -> Outcome {
        let i = &s.incident;
        Outcome {
            name: name.to_owned(),
            availability: 1.0 - s.blast_radius.failed_request_fraction,
            worst_downtime_s: s.clients.values().map(|c| c.downtime_s).fold(0.0, f64::max),
            recovered_after_s: i.impact_s.map(|_| i.time_to_recover_s),
            detected_after_s: i.impact_s.map(|_| i.time_to_detect_s),
            impacted: s.blast_radius.clients.impacted.clone(),
            clients: s.clients.len(),
            peak_fraction: s.blast_radius.clients.peak_fraction,
            gossip_work: s
                .components
                .values()
                .filter_map(|c| c.gossip_work)
                .reduce(f64::max),
        }
    }

    fn gossip(&self) -> String {
        self.gossip_work.map(pct).unwrap_or_default()
    }

    fn detected(&self) -> String {
        since_impact(self.detected_after_s, "no alarm")
    }

    fn recovered(&self) -> String {
        since_impact(self.recovered_after_s, "not by the end")
    }

    fn radius(&self) -> String {
        let mut s = format!("{}/{}", self.impacted.len(), self.clients);
        if !self.impacted.is_empty() {
            let _ = write!(s, " ({})", self.impacted.join(", "));
        }
        s
    }
}

/// A time since the impact began: "no impact" without one, `never` if it did not come.
fn since_impact(t: Option<Option<f64>>, never: &str) -> String {
    match t {
        None => "no impact".into(),
        Some(None) => never.into(),
        Some(Some(t)) => SimTime::from_secs_f64(t.round()).to_string(),
    }
}

fn downtime(s: f64) -> String {
    SimTime::from_secs_f64(s.round()).to_string()
}

/// Whether an alarm detected the impact in any outcome: then the what-if tables show when
/// (monitoring is one of the things a what-if can change).
fn any_detection(outcomes: &[Outcome]) -> bool {
    outcomes
        .iter()
        .any(|x| matches!(x.detected_after_s, Some(Some(_))))
}

/// The what-ifs beside the baseline (the first outcome) as terminal text.
pub fn what_ifs_text(outcomes: &[Outcome]) -> String {
    let mut o = String::new();
    let width = outcomes
        .iter()
        .map(|x| x.name.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(7, 48);
    let gossip = outcomes.iter().any(|x| x.gossip_work.is_some());
    let (g_head, g_width) = if gossip { ("gossip work", 11) } else { ("", 0) };
    let detect = any_detection(outcomes);
    let (d_head, d_width) = if detect {
        ("detected after", 14)
    } else {
        ("", 0)
    };
    let _ = writeln!(
        o,
        "{:<width$}  {:>9}  {:>14}  {d_head:>d_width$}{}{:>15}  {g_head:>g_width$}{}clients impacted",
        "what-if",
        "avail",
        "worst downtime",
        if detect { "  " } else { "" },
        "recovered after",
        if gossip { "  " } else { "" }
    );
    for x in outcomes {
        let d = if detect { x.detected() } else { String::new() };
        let _ = writeln!(
            o,
            "{:<width$}  {:>9}  {:>14}  {d:>d_width$}{}{:>15}  {:>g_width$}{}{}",
            clip(&x.name, width),
            pct(x.availability),
            downtime(x.worst_downtime_s),
            if detect { "  " } else { "" },
            x.recovered(),
            x.gossip(),
            if gossip { "  " } else { "" },
            x.radius()
        );
    }
    o
}

/// How a paired metric is shown.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Unit {
    /// A share, shown in %, its differences in percentage points.
    Share,
    /// Seconds, shown as durations.
    Seconds,
}

/// A paired metric: label, CSV column, value, unit.
type PairedMetric = (&'static str, &'static str, fn(&Outcome) -> f64, Unit);

/// The metrics compared across paired replications.
const PAIRED: [PairedMetric; 3] = [
    (
        "availability",
        "availability",
        |x| x.availability,
        Unit::Share,
    ),
    (
        "worst downtime",
        "worst_downtime_s",
        |x| x.worst_downtime_s,
        Unit::Seconds,
    ),
    (
        "peak impacted",
        "peak_impacted_fraction",
        |x| x.peak_fraction,
        Unit::Share,
    ),
];

impl Unit {
    fn value(self, v: f64) -> String {
        match self {
            Unit::Share => pct(v),
            Unit::Seconds => downtime(v),
        }
    }

    /// A signed difference.
    fn diff(self, d: f64) -> String {
        match self {
            Unit::Share => {
                let pp = d * 100.0;
                if pp.abs() < 5e-4 {
                    "0".into()
                } else {
                    format!("{pp:+.3}")
                }
            }
            Unit::Seconds => signed(d),
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Unit::Share => " pp",
            Unit::Seconds => "",
        }
    }

    /// A half-width, unsigned.
    fn half(self, h: f64) -> String {
        match self {
            Unit::Share => format!("±{:.3} pp", h * 100.0),
            Unit::Seconds => format!("±{}", downtime(h)),
        }
    }
}

/// One metric of one what-if against the baseline over paired replications.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedRow {
    pub what_if: String,
    pub metric: &'static str,
    pub baseline_mean: f64,
    pub what_if_mean: f64,
    /// The 95% interval of the mean paired difference (what-if minus baseline).
    pub paired: crate::stats::Interval,
    /// The 95% interval of the difference as if the runs were independent (Welch), for
    /// comparison.
    pub unpaired: crate::stats::Interval,
    unit: Unit,
}

impl PairedRow {
    /// "+2.487 pp [+1.902, +3.072]", with "includes 0" when the interval does.
    pub fn difference(&self) -> String {
        let (u, i) = (self.unit, &self.paired);
        let mut s = format!(
            "{}{} [{}, {}]",
            u.diff(i.mean),
            u.suffix(),
            u.diff(i.low()),
            u.diff(i.high())
        );
        if i.contains_zero() {
            s.push_str(" includes 0");
        }
        s
    }
}

/// Every what-if's metrics against the baseline: `variants[0]` is the baseline's replications,
/// `variants[k]` what-if k's, replication r of each run with the same seed. Empty under two
/// replications.
pub fn paired_rows(variants: &[Vec<Outcome>]) -> Vec<PairedRow> {
    let mut rows = Vec::new();
    let Some((base, others)) = variants.split_first() else {
        return rows;
    };
    for alt in others {
        for (metric, _, f, unit) in PAIRED {
            let b: Vec<f64> = base.iter().map(f).collect();
            let a: Vec<f64> = alt.iter().map(f).collect();
            let (Some(paired), Some(unpaired)) =
                (crate::stats::paired(&b, &a), crate::stats::unpaired(&b, &a))
            else {
                continue;
            };
            rows.push(PairedRow {
                what_if: alt[0].name.clone(),
                metric,
                baseline_mean: crate::stats::mean_interval(&b).map_or(f64::NAN, |i| i.mean),
                what_if_mean: crate::stats::mean_interval(&a).map_or(f64::NAN, |i| i.mean),
                paired,
                unpaired,
                unit,
            });
        }
    }
    rows
}

/// The paired comparison as terminal text: per what-if and metric, both means, the mean
/// difference with its 95% interval, and the unpaired interval's half-width beside it.
pub fn paired_text(variants: &[Vec<Outcome>]) -> String {
    let rows = paired_rows(variants);
    let mut o = String::new();
    let reps = variants.first().map_or(0, Vec::len);
    let _ = writeln!(
        o,
        "paired what-ifs: {reps} replications, replication r of every variant on the same seed; \
         difference = what-if - baseline, mean [95% interval]"
    );
    let width = rows
        .iter()
        .map(|r| r.what_if.chars().count())
        .max()
        .unwrap_or(0)
        .clamp(7, 48);
    let diffs: Vec<String> = rows.iter().map(PairedRow::difference).collect();
    let dw = diffs
        .iter()
        .map(|d| d.chars().count())
        .max()
        .unwrap_or(0)
        .max(10);
    let _ = writeln!(
        o,
        "{:<width$}  {:<14}  {:>9}  {:>9}  {:<dw$}  unpaired",
        "what-if", "metric", "baseline", "what-if", "difference"
    );
    let mut last = "";
    for (r, d) in rows.iter().zip(&diffs) {
        let name = if r.what_if == last {
            String::new()
        } else {
            clip(&r.what_if, width)
        };
        last = &r.what_if;
        let _ = writeln!(
            o,
            "{:<width$}  {:<14}  {:>9}  {:>9}  {:<dw$}  {}",
            name,
            r.metric,
            r.unit.value(r.baseline_mean),
            r.unit.value(r.what_if_mean),
            d,
            r.unit.half(r.unpaired.half_width)
        );
    }
    o
}

/// The paired comparison as a Markdown section (after [`markdown`]'s single-seed table).
pub fn paired_markdown(variants: &[Vec<Outcome>], seeds: &[u64]) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "### Paired over {} replications\n\n\
         Replication r of the baseline and of every what-if ran with the same seed (seeds {}); \
         the difference is the what-if's minus the baseline's, its mean over the replications \
         with a 95% Student t interval over the paired differences. \"unpaired\" is the \
         half-width the same runs would give as independent samples (Welch). Per-replication \
         values: `what-ifs.csv`.\n",
        seeds.len(),
        seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        o,
        "| what-if | metric | baseline | what-if | difference [95% interval] | unpaired |"
    );
    let _ = writeln!(o, "|---|---|---:|---:|---:|---:|");
    for r in paired_rows(variants) {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&r.what_if),
            r.metric,
            r.unit.value(r.baseline_mean),
            r.unit.value(r.what_if_mean),
            r.difference(),
            r.unit.half(r.unpaired.half_width)
        );
    }
    let _ = writeln!(o);
    o
}

/// `what-ifs.csv`: one row per variant and replication (the baseline first), with its seed,
/// each paired metric and, for a what-if, its difference from the baseline's same replication.
pub fn what_ifs_csv(variants: &[Vec<Outcome>], seeds: &[u64]) -> Vec<u8> {
    let mut o = String::from("what_if,replication,seed");
    for (_, col, _, _) in PAIRED {
        let _ = write!(o, ",{col}");
    }
    for (_, col, _, _) in PAIRED {
        let _ = write!(o, ",{col}_diff");
    }
    o.push('\n');
    let Some(base) = variants.first() else {
        return o.into_bytes();
    };
    for (k, runs) in variants.iter().enumerate() {
        for (r, x) in runs.iter().enumerate() {
            let name = if x.name.contains([',', '"', '\n']) {
                format!("\"{}\"", x.name.replace('"', "\"\""))
            } else {
                x.name.clone()
            };
            let _ = write!(
                o,
                "{name},{r},{}",
                seeds.get(r).copied().unwrap_or_default()
            );
            for (_, _, f, _) in PAIRED {
                let _ = write!(o, ",{}", f(x));
            }
            for (_, _, f, _) in PAIRED {
                if k == 0 {
                    o.push(',');
                } else {
                    let _ = write!(o, ",{}", f(x) - f(&base[r]));
                }
            }
            o.push('\n');
        }
    }
    o.into_bytes()
}

/// Escapes a table cell for Markdown.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The replay of one scenario as a Markdown section: a title, `intro` (the file's opening
/// comment), the command that produced it, the timeline and the what-ifs.
pub fn markdown(
    spec: &Spec,
    command: &str,
    intro: &str,
    rows: &[TimelineRow],
    outcomes: &[Outcome],
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "## {}\n", spec.name);
    if !intro.is_empty() {
        let _ = writeln!(o, "{}\n", intro.trim());
    }
    let _ = writeln!(
        o,
        "`{command}` (seed {}, {} simulated)\n",
        spec.seed, spec.duration
    );
    if !spec.replay.published.is_empty() {
        let clock = spec.replay.clock.as_ref();
        let zone = clock.map(|c| c.zone.as_str()).unwrap_or_default();
        let zone = if zone.is_empty() {
            String::new()
        } else {
            format!(" ({zone})")
        };
        let _ = writeln!(
            o,
            "| event | published{zone} | simulated{zone} | difference | matched to |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---|");
        for r in rows {
            let (published, simulated, matched) = r.shown(clock);
            let event = if r.published.is_some() {
                cell(&r.event)
            } else {
                format!("*{}*", cell(&r.event))
            };
            let _ = writeln!(
                o,
                "| {event} | {published} | {simulated} | {} | {} |",
                r.difference_s().map(signed).unwrap_or_default(),
                cell(matched)
            );
        }
        let _ = writeln!(
            o,
            "\nRows in italics are moments of the run that no published event names.\n"
        );
    }
    if !outcomes.is_empty() {
        let gossip = outcomes.iter().any(|x| x.gossip_work.is_some());
        let (g_head, g_rule) = if gossip {
            (" gossip work |", "---:|")
        } else {
            ("", "")
        };
        let detect = any_detection(outcomes);
        let (d_head, d_rule) = if detect {
            (" detected after |", "---:|")
        } else {
            ("", "")
        };
        let _ = writeln!(
            o,
            "| what-if | overrides | availability | worst downtime |{d_head} recovered after |{g_head} clients impacted |"
        );
        let _ = writeln!(o, "|---|---|---:|---:|{d_rule}---:|{g_rule}---|");
        for (k, x) in outcomes.iter().enumerate() {
            let sets = if k == 0 {
                String::new()
            } else {
                spec.replay.what_ifs[k - 1]
                    .sets
                    .iter()
                    .map(|s| format!("`{}`", cell(s)))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let g = if gossip {
                format!(" {} |", x.gossip())
            } else {
                String::new()
            };
            let d = if detect {
                format!(" {} |", x.detected())
            } else {
                String::new()
            };
            let _ = writeln!(
                o,
                "| {} | {sets} | {} | {} |{d} {} |{g} {} |",
                cell(&x.name),
                pct(x.availability),
                downtime(x.worst_downtime_s),
                x.recovered(),
                cell(&x.radius())
            );
        }
        let _ = writeln!(o);
    }
    o
}

/// The opening comment of a scenario file: its first paragraph of `#` lines, unwrapped
/// (editor directives such as `#:schema` skipped).
pub fn intro(text: &str) -> String {
    let mut words: Vec<&str> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with("#:")) {
        let Some(rest) = line.strip_prefix('#') else {
            break;
        };
        let rest = rest.trim();
        if rest.is_empty() {
            if words.is_empty() {
                continue;
            }
            break;
        }
        words.push(rest);
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_durations() {
        assert_eq!(signed(-300.0), "-5m");
        assert_eq!(signed(3720.0), "+1h2m");
        assert_eq!(signed(0.2), "0s");
    }

    #[test]
    fn intro_is_the_first_comment_paragraph() {
        let t = "# a: the\n# story.\n#\n# more\n[scenario]\n";
        assert_eq!(intro(t), "a: the story.");
        assert_eq!(intro("[scenario]\n"), "");
    }

    #[test]
    fn clock_formats_and_offsets() {
        let c = Clock {
            start: 23 * 3600 + 30 * 60,
            zone: "PDT".into(),
        };
        assert_eq!(c.format(18.0 * 60.0), "23:48");
        assert_eq!(c.format(3.0 * 3600.0), "02:30 +1d");
        assert_eq!(
            c.offset(Clock::parse_time("02:25").unwrap()).as_secs_f64(),
            10500.0
        );
        assert_eq!(Clock::parse_time("24:00"), None);
        assert_eq!(Clock::parse_time("9:30"), None);
        assert_eq!(Clock::parse_time("09:30:15"), Some(34215));
    }
}
