//! `kind = "monitor"`: where alarms are evaluated, and the reports that feed it.
//!
//! Monitoring goes over the network like everything else: the replicas of a watched group send
//! their counters to the monitor every `period` (through network devices and link faults), and
//! the monitor evaluates its alarms every `period` on what arrived. A monitor cut off from what
//! it watches sees nothing; one behind a congested device sees late data. An alarm that fires
//! for the first time dispatches the actions it triggers after their response delay.
//!
//! `[[alarms]]` settings are declared here too ([`AlarmSettings`]).

use crate::engine::SimTime;
use crate::engine::rng::below;
use crate::model::metrics::Histogram;
use crate::model::msg::{Msg, Report, Timer};
use crate::model::node::{Cx, Node, send_self, transmit};
use crate::model::sample::draw;
use crate::model::settings::{
    Duration, Input, Issue, Number, Opt, PosDuration, Reader, Ref, Resolve, Role, Table, Text,
    Word, Words, list, unknown_fields,
};
use crate::model::spec::{KindSpec, ServerSpec, Trigger};
use crate::model::world::World;
use crate::{settings, words};

use super::{Build, Kind, KindSettings};

settings! {
    /// `kind = "monitor"`: where alarms are evaluated.
    pub struct MonitorSettings "monitor" {
        /// How often watched groups report and alarms are evaluated.
        period: PosDuration = SimTime::from_secs(10),
    }
}

impl KindSettings for MonitorSettings {
    fn build(self, _: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec> {
        Some(KindSpec::Monitor(MonitorSpec {
            server,
            period: self.period,
        }))
    }
}

/// `kind = "monitor"`: where alarms are evaluated. The replicas of every watched group send it
/// their counters every `period` over the network (through devices and link faults like any
/// message), so a monitor whose path is cut or congested sees late data or none.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorSpec {
    /// Handles reports (defaults: 64 workers, queue 1000, 100us constant).
    pub server: ServerSpec,
    /// `period`: how often reporters send and alarms are evaluated (default "10s").
    pub period: SimTime,
}

/// `[[alarms]]`: `name` (default "alarm-<index>", counting from 0; unique), `monitor` (a
/// monitor group; default: the only one), `group` (the watched group), `metric`, `above = x`
/// or `below = x`, `for` (how long the condition must hold, default "0s"),
/// `missing = "not_breaching" | "breaching"` (what a period without any report counts as,
/// default "not_breaching": a blind monitor stays silent).
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    pub monitor: usize,
    pub group: usize,
    pub metric: Metric,
    /// True for `above`, false for `below`.
    pub above: bool,
    pub threshold: f64,
    pub hold: SimTime,
    pub missing_breaches: bool,
}

/// What an alarm watches, over one monitor period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Client group: (successes + degraded) / finished user requests.
    Availability,
    /// Client group: failed / finished user requests; component group: (errors + rejected +
    /// dropped + shed) / arrivals.
    ErrorRate,
    /// Client group: latency quantile of successful requests, in seconds.
    LatencyP50,
    LatencyP90,
    LatencyP99,
    /// Client group: user requests started per second.
    Requests,
    /// Component group: busy worker time over available worker time.
    Utilization,
    /// Component group: the longest waiting queue of any replica.
    Queue,
    /// Component group: requests rejected, dropped or shed per second.
    Dropped,
    /// Component group: gossip messages received per second per replica.
    GossipRate,
}

impl Metric {
    /// Every metric with its scenario-file name.
    pub const ALL: [(Metric, &'static str); 10] = [
        (Metric::Availability, "availability"),
        (Metric::ErrorRate, "error_rate"),
        (Metric::LatencyP50, "latency_p50"),
        (Metric::LatencyP90, "latency_p90"),
        (Metric::LatencyP99, "latency_p99"),
        (Metric::Requests, "requests"),
        (Metric::Utilization, "utilization"),
        (Metric::Queue, "queue"),
        (Metric::Dropped, "dropped"),
        (Metric::GossipRate, "gossip_rate"),
    ];

    /// The scenario-file name.
    pub fn name(self) -> &'static str {
        Metric::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("?", |(_, n)| n)
    }

    /// Whether it applies to client groups (else to component groups; `error_rate` to both).
    pub fn for_clients(self) -> Option<bool> {
        match self {
            Metric::Availability
            | Metric::LatencyP50
            | Metric::LatencyP90
            | Metric::LatencyP99
            | Metric::Requests => Some(true),
            Metric::Utilization | Metric::Queue | Metric::Dropped | Metric::GossipRate => {
                Some(false)
            }
            Metric::ErrorRate => None,
        }
    }
}

impl Words for Metric {
    const WHAT: &'static str = "metric";
    const WORDS: &'static [(&'static str, Metric)] = &{
        let mut words = [("", Metric::Availability); Metric::ALL.len()];
        let mut i = 0;
        while i < words.len() {
            words[i] = (Metric::ALL[i].1, Metric::ALL[i].0);
            i += 1;
        }
        words
    };
}

/// `missing`: what a period without any report counts as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingData {
    /// Not breaching: a blind monitor stays silent.
    NotBreaching,
    Breaching,
}

words!(
    MissingData,
    "missing-data rule",
    [
        ("not_breaching", MissingData::NotBreaching),
        ("breaching", MissingData::Breaching),
    ]
);

settings! {
    /// `[[alarms]]`: a condition on the reports of one group, evaluated by a monitor every period; it fires once it has held for `for`, and triggers the actions `on` it.
    pub struct AlarmSettings "alarms" {
        /// Unique among alarms; actions name it in `on` (default `"alarm-<index>"`, counting from 0).
        name: Opt<Text> = None,
        /// The monitor that evaluates it (default: the only one).
        monitor: Opt<Ref> = None,
        /// The group it watches: a client or component group, not a monitor.
        group: Ref => "add group = \"<the group it watches>\"",
        /// What it watches, over one period: client groups have availability, error_rate, latency_p50/p90/p99 and requests; component groups error_rate, utilization, queue, dropped and gossip_rate.
        metric: Word<Metric> => "metric is one of: availability, error_rate, latency_p50, latency_p90, latency_p99, requests, utilization, queue, dropped, gossip_rate",
        /// Breaches while the metric is over this value (give `above` or `below`).
        above: Opt<Number> = None,
        /// Breaches while the metric is under this value.
        below: Opt<Number> = None,
        /// How long the condition must hold before the alarm fires.
        r#for: Duration = SimTime::ZERO,
        /// What a period without any report counts as (breaching or not).
        missing: Word<MissingData> = MissingData::NotBreaching,
    }
}

/// Reads alarm `j` from its table's entries, resolving its names through `res`.
pub fn read_alarm(
    j: usize,
    entries: &[(&str, &dyn Input)],
    res: &mut dyn Resolve,
) -> Option<AlarmSpec> {
    let base = vec!["alarms".to_owned(), j.to_string()];
    let at = |field: &str| [base.as_slice(), &[field.to_owned()]].concat();
    let written = |field: &str| entries.iter().any(|(k, _)| *k == field);
    let fields: Vec<&str> = AlarmSettings::fields().iter().map(|f| f.name).collect();
    unknown_fields(
        entries,
        &fields,
        &mut Reader::new(base.clone(), res.issues()),
    );
    let only_monitor = if written("monitor") {
        None
    } else {
        only_monitor(at("monitor"), "alarm", res)
    };
    let settings =
        AlarmSettings::read_fields(entries, &mut Reader::new(base.clone(), res.issues()));
    let hint = |h: &str| Some(h.to_owned());
    match (written("above"), written("below")) {
        (true, true) => res.issues().push(
            Issue::new(at("below"), "give either above or below, not both")
                .hint(hint(
                    "above = x fires while the metric is over x, below = x while it is under x",
                ))
                .at_key(),
        ),
        (false, false) => res.issues().push(
            Issue::new(
                at("above"),
                "missing threshold: give above = x or below = x",
            )
            .hint(hint(
                "e.g. below = 0.99 on availability, above = 0.8 on utilization",
            )),
        ),
        _ => {}
    }
    let s = settings?;
    let monitor = match &s.monitor {
        Some(m) => res.group(None, at("monitor"), m, Role::Monitor),
        None => only_monitor,
    };
    let group = res.group(None, at("group"), &s.group, Role::Watch);
    if let Some(g) = group {
        fits(s.metric, g, at("metric"), res);
    }
    let threshold = match (s.above, s.below) {
        (Some(x), None) => Some((true, "above", x)),
        (None, Some(x)) => Some((false, "below", x)),
        _ => None,
    };
    let threshold = threshold.and_then(|(above, field, x)| {
        let fraction = matches!(s.metric, Metric::Availability | Metric::ErrorRate);
        let (ok, message) = if fraction {
            (
                (0.0..=1.0).contains(&x),
                format!("must be between 0 and 1, got {x}"),
            )
        } else {
            (
                x.is_finite() && x >= 0.0,
                format!("must be 0 or more, got {x}"),
            )
        };
        if ok {
            return Some((above, x));
        }
        res.issues()
            .push(Issue::new(at(field), message).value(x.to_string()));
        None
    });
    // Reports travel from the watched group to the monitor.
    if let (Some(g), Some(m)) = (group, monitor) {
        res.traffic(g, m, at("monitor"));
    }
    let (above, threshold) = threshold?;
    Some(AlarmSpec {
        name: s.name.unwrap_or_else(|| format!("alarm-{j}")),
        monitor: monitor?,
        group: group?,
        metric: s.metric,
        above,
        threshold,
        hold: s.r#for,
        missing_breaches: s.missing == MissingData::Breaching,
    })
}

/// The monitor of an alarm that names none: the only one there is.
pub(crate) fn only_monitor(path: Vec<String>, what: &str, res: &mut dyn Resolve) -> Option<usize> {
    let names = res.names();
    let monitors: Vec<usize> = (0..names.len())
        .filter(|&i| res.kind(i) == Some(Kind::Monitor))
        .collect();
    let issue = match monitors.as_slice() {
        [m] => return Some(*m),
        // A component of unknown kind may be meant as the monitor.
        [] if (0..names.len()).any(|i| res.kind(i).is_none()) => return None,
        [] => Issue::new(path, format!("there is no monitor to evaluate this {what}")).hint(
            r#"add a component with kind = "monitor": alarms and autoscalers are evaluated where the reports arrive"#
                .to_owned(),
        ),
        several => {
            let several: Vec<&str> = several.iter().map(|&i| names[i]).collect();
            Issue::new(path, "missing required field 'monitor'").hint(format!(
                "there are several monitors: add monitor = one of: {}",
                list(&several)
            ))
        }
    };
    res.issues().push(issue);
    None
}

/// Reports a metric that does not fit group `g`'s kind, or the gossip rate of a group without
/// gossip.
pub(crate) fn fits(m: Metric, g: usize, path: Vec<String>, res: &mut dyn Resolve) {
    let Some(k) = res.kind(g) else { return };
    let gname = res.names()[g].to_owned();
    let clients = k == Kind::Client;
    let (message, hint) = match m.for_clients() {
        Some(c) if c != clients => {
            let (to, of) = if c {
                ("client groups", "component groups")
            } else {
                ("component groups", "client groups")
            };
            let fit: Vec<&str> = Metric::ALL
                .iter()
                .filter(|(m, _)| m.for_clients().is_none_or(|c| c == clients))
                .map(|(_, n)| *n)
                .collect();
            (
                format!(
                    "metric '{}' applies to {to}, and '{gname}' is {}",
                    m.name(),
                    k.a()
                ),
                format!("metrics for {of}: {}", fit.join(", ")),
            )
        }
        _ if m == Metric::GossipRate && res.gossips(g) == Some(false) => (
            format!("'{gname}' has no gossip: its gossip_rate is always 0"),
            format!("turn gossip on in '{gname}', or watch another metric"),
        ),
        _ => return,
    };
    res.issues()
        .push(Issue::new(path, message).value(m.name()).hint(hint));
}

/// A reporter's cumulative counters.
#[derive(Clone, Debug, Default)]
struct Counters {
    requests: u64,
    finished: u64,
    good: u64,
    arrivals: u64,
    errors: u64,
    lost: u64,
    busy_ns: u64,
    gossip: u64,
}

impl Counters {
    fn of(r: &Report) -> Counters {
        Counters {
            requests: r.requests,
            finished: r.finished,
            good: r.good,
            arrivals: r.arrivals,
            errors: r.errors,
            lost: r.lost,
            busy_ns: r.busy_ns,
            gossip: r.gossip,
        }
    }

    fn add_delta(&mut self, new: &Counters, old: &Counters) {
        self.requests += new.requests.saturating_sub(old.requests);
        self.finished += new.finished.saturating_sub(old.finished);
        self.good += new.good.saturating_sub(old.good);
        self.arrivals += new.arrivals.saturating_sub(old.arrivals);
        self.errors += new.errors.saturating_sub(old.errors);
        self.lost += new.lost.saturating_sub(old.lost);
        self.busy_ns += new.busy_ns.saturating_sub(old.busy_ns);
        self.gossip += new.gossip.saturating_sub(old.gossip);
    }
}

/// What a reporter keeps: the monitors it reports to, and its running totals.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reporter {
    /// Monitor groups, and per monitor the latency of good requests since the last report.
    pub monitors: Vec<(u16, Histogram, u64)>,
    /// Totals of the buckets before `upto`.
    done: Counters,
    upto: usize,
}

/// One alarm's state at its monitor.
#[derive(Clone, Debug)]
struct AlarmState {
    alarm: usize,
    watch: Watch,
    /// Since when the condition has held.
    since: Option<u64>,
    firing: bool,
    fired: bool,
}

/// What a monitor gathers of one watched group between two evaluations (an alarm's or an
/// autoscaler's view).
#[derive(Clone, Debug)]
pub(crate) struct Watch {
    /// The watched group.
    pub group: usize,
    /// Per replica of the watched group: when its newest report was sent, and its counters.
    last: Vec<Option<(u64, Counters)>>,
    /// Sums of differences since the last evaluation.
    acc: Counters,
    latency: Histogram,
    workers: u64,
    max_queue: u64,
    reporters: u64,
}

impl Watch {
    pub(crate) fn new(w: &World, group: usize) -> Watch {
        Watch {
            group,
            last: vec![None; w.replicas(group) as usize],
            acc: Counters::default(),
            latency: Histogram::default(),
            workers: 0,
            max_queue: 0,
            reporters: 0,
        }
    }

    /// Takes in report `r` from replica `replica` of the watched group.
    fn take(&mut self, replica: u32, r: &Report, counters: &Counters) {
        let slot = &mut self.last[replica as usize];
        match slot {
            Some((sent, _)) if *sent >= r.sent => return, // older than what we have
            Some((_, old)) => self.acc.add_delta(counters, old),
            None => self.acc.add_delta(counters, &Counters::default()),
        }
        *slot = Some((r.sent, counters.clone()));
        self.latency.merge(&r.latency);
        self.workers += r.workers as u64;
        self.max_queue = self.max_queue.max(r.max_queue);
        self.reporters += 1;
    }

    /// Metric `m` over the `period` since the last evaluation (None: no data), and a fresh
    /// start for the next.
    pub(crate) fn evaluate(&mut self, w: &World, m: Metric, period: u64) -> Option<f64> {
        let client = matches!(w.spec.groups[self.group].kind, KindSpec::Client(_));
        let value = metric_value(m, self, period, client);
        self.acc = Counters::default();
        self.latency = Histogram::default();
        self.workers = 0;
        self.max_queue = 0;
        self.reporters = 0;
        value
    }
}

/// A monitor's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct MonitorState {
    alarms: Vec<AlarmState>,
    /// Autoscalers (`policy/autoscale.rs`) evaluated here.
    pub scalers: Vec<crate::model::policy::autoscale::ScalerState>,
}

impl Node {
    /// Sets up reporting (one report stream per monitor that watches this replica's group)
    /// and, on a monitor, its alarms.
    pub(crate) fn start_monitoring(&mut self, w: &World, cx: &mut Cx) {
        let spec = &w.spec;
        // Reporters: one report stream per monitor that watches this group.
        for (m, g) in spec.groups.iter().enumerate() {
            let KindSpec::Monitor(ms) = &g.kind else {
                continue;
            };
            let watched = spec
                .alarms
                .iter()
                .any(|a| a.monitor == m && a.group == self.group)
                || spec
                    .autoscalers
                    .iter()
                    .any(|a| a.monitor == m && a.watch == self.group);
            if watched {
                self.reporter
                    .monitors
                    .push((m as u16, Histogram::default(), 0));
                let first = below(cx.rng(), ms.period.0.max(1));
                send_self(cx, first, Timer::Report { monitor: m as u16 });
            }
        }
        if let KindSpec::Monitor(ms) = &spec.groups[self.group].kind {
            let mut st = MonitorState::default();
            for (i, a) in spec.alarms.iter().enumerate() {
                if a.monitor == self.group {
                    st.alarms.push(AlarmState {
                        alarm: i,
                        watch: Watch::new(w, a.group),
                        since: None,
                        firing: false,
                        fired: false,
                    });
                }
            }
            st.scalers = crate::model::policy::autoscale::scalers_at(w, self.group);
            if !st.alarms.is_empty() || !st.scalers.is_empty() {
                self.monitor = Some(Box::new(st));
                send_self(cx, ms.period.0, Timer::Evaluate);
            }
        }
    }

    /// A latency of a good request, for the reports to come.
    pub(crate) fn report_latency(&mut self, ns: u64) {
        for (_, h, _) in &mut self.reporter.monitors {
            h.record(ns);
        }
    }

    /// Sends this replica's counters to monitor group `m`.
    pub(crate) fn on_report_timer(&mut self, w: &World, cx: &mut Cx, m: usize) {
        let KindSpec::Monitor(ms) = &w.spec.groups[m].kind else {
            return;
        };
        send_self(cx, ms.period.0, Timer::Report { monitor: m as u16 });
        if self.crashed || self.is_hung(w) {
            return; // a dead or hung replica reports nothing
        }
        let now = cx.now().0;
        self.account(w, now);
        let b = w.bucket_of(now);
        // Fold finished buckets into the running totals, then add the current one.
        while self.reporter.upto < b {
            let c = self.bucket_counters(self.reporter.upto);
            let d = &mut self.reporter.done;
            d.add_delta(&c, &Counters::default());
            self.reporter.upto += 1;
        }
        let mut c = self.reporter.done.clone();
        c.add_delta(&self.bucket_counters(b), &Counters::default());
        let Some(k) = self
            .reporter
            .monitors
            .iter()
            .position(|(x, _, _)| *x as usize == m)
        else {
            return;
        };
        let since = self.reporter.monitors[k].2;
        let latency = std::mem::take(&mut self.reporter.monitors[k].1);
        self.reporter.monitors[k].2 = now;
        let max_queue = if self.server_series.is_empty() {
            0
        } else {
            (w.bucket_of(since)..=b)
                .map(|i| self.server_series[i].max_queue)
                .max()
                .unwrap_or(0)
                .max(self.queue.len() as u64)
        };
        let workers = if self.server_series.is_empty() {
            0
        } else {
            self.workers(w)
        };
        let report = Report {
            from: self.me,
            sent: now,
            requests: c.requests,
            finished: c.finished,
            good: c.good,
            latency,
            arrivals: c.arrivals,
            errors: c.errors,
            lost: c.lost,
            busy_ns: c.busy_ns,
            workers,
            max_queue,
            gossip: c.gossip,
        };
        transmit(w, cx, w.first[m], Msg::Report(Box::new(report)));
    }

    fn bucket_counters(&self, b: usize) -> Counters {
        if let Some(c) = self.client_series.get(b) {
            Counters {
                requests: c.requests,
                finished: c.finished(),
                good: c.successes + c.degraded,
                ..Counters::default()
            }
        } else if let Some(s) = self.server_series.get(b) {
            Counters {
                arrivals: s.arrivals,
                errors: s.errors,
                lost: s.rejected + s.dropped + s.shed,
                busy_ns: s.busy_ns as u64,
                gossip: s.gossip,
                ..Counters::default()
            }
        } else {
            Counters::default()
        }
    }

    /// A monitor receives a report.
    pub(crate) fn on_report(&mut self, w: &World, cx: &mut Cx, r: &Report) {
        let now = cx.now().0;
        if self.server_series.is_empty() {
            return;
        }
        self.account(w, now);
        let down = self.crashed || self.is_hung(w);
        let sb = &mut self.server_series[w.bucket_of(now)];
        sb.arrivals += 1;
        if down {
            sb.dropped += 1;
            return;
        }
        sb.served += 1;
        let Some(st) = self.monitor.as_mut() else {
            return;
        };
        let info = &w.entities[r.from as usize];
        let counters = Counters::of(r);
        let watches = st
            .alarms
            .iter_mut()
            .map(|a| &mut a.watch)
            .chain(st.scalers.iter_mut().map(|s| &mut s.watch));
        for watch in watches.filter(|x| x.group == info.group) {
            watch.take(info.replica, r, &counters);
        }
    }

    /// A monitor evaluates its alarms on the data of the last period.
    pub(crate) fn on_evaluate(&mut self, w: &World, cx: &mut Cx) {
        let KindSpec::Monitor(ms) = &w.spec.groups[self.group].kind else {
            return;
        };
        let period = ms.period.0;
        send_self(cx, period, Timer::Evaluate);
        if self.crashed || self.is_hung(w) {
            return;
        }
        let now = cx.now().0;
        let mut fired = Vec::new();
        let mut logs = Vec::new();
        let Some(st) = self.monitor.as_mut() else {
            return;
        };
        for a in &mut st.alarms {
            let spec = &w.spec.alarms[a.alarm];
            let value = a.watch.evaluate(w, spec.metric, period);
            let breaching = match value {
                None => spec.missing_breaches,
                Some(v) if spec.above => v > spec.threshold,
                Some(v) => v < spec.threshold,
            };
            if breaching {
                let since = *a.since.get_or_insert(now);
                if !a.firing && now - since >= spec.hold.0 {
                    a.firing = true;
                    let shown = value.map_or("no data".to_owned(), |v| format!("{v:.4}"));
                    let cmp = if spec.above { "above" } else { "below" };
                    logs.push((
                        "alarm",
                        format!(
                            "{}: {} of {} = {shown} ({cmp} {})",
                            spec.name,
                            spec.metric.name(),
                            w.spec.groups[spec.group].name,
                            spec.threshold
                        ),
                    ));
                    if !a.fired {
                        a.fired = true;
                        fired.push(a.alarm);
                    }
                }
            } else {
                a.since = None;
                if a.firing {
                    a.firing = false;
                    logs.push(("alarm_clear", spec.name.clone()));
                }
            }
        }
        let scaled = self.evaluate_scalers(w, now, period, &mut logs);
        for (kind, detail) in logs {
            self.log(w, now, kind, detail);
        }
        self.send_scaling(w, cx, scaled);
        for alarm in fired {
            for (i, act) in w.spec.actions.iter().enumerate() {
                if let Trigger::Alarm { alarm: x, delay } = &act.trigger {
                    if *x == alarm {
                        let d = draw(delay, cx.rng());
                        send_self(cx, d, Timer::Dispatch { action: i as u16 });
                    }
                }
            }
        }
    }
}

/// An alarm's metric over one period of accumulated reports (None: no data).
fn metric_value(m: Metric, a: &Watch, period: u64, client: bool) -> Option<f64> {
    if a.reporters == 0 {
        return None;
    }
    let c = &a.acc;
    let secs = period as f64 / 1e9;
    Some(match m {
        Metric::Availability => {
            if c.finished == 0 {
                if c.requests == 0 {
                    return None;
                }
                0.0
            } else {
                c.good as f64 / c.finished as f64
            }
        }
        Metric::ErrorRate if client => {
            if c.finished == 0 {
                if c.requests == 0 {
                    return None;
                }
                1.0
            } else {
                1.0 - c.good as f64 / c.finished as f64
            }
        }
        Metric::ErrorRate => {
            if c.arrivals == 0 {
                0.0
            } else {
                (c.errors + c.lost) as f64 / c.arrivals as f64
            }
        }
        Metric::LatencyP50 | Metric::LatencyP90 | Metric::LatencyP99 => {
            if a.latency.count() == 0 {
                return None;
            }
            let q = match m {
                Metric::LatencyP50 => 0.5,
                Metric::LatencyP90 => 0.9,
                _ => 0.99,
            };
            a.latency.quantile_s(q)
        }
        Metric::Requests => c.requests as f64 / secs,
        Metric::Utilization => {
            if a.workers == 0 {
                0.0
            } else {
                c.busy_ns as f64 / (a.workers as f64 * period as f64)
            }
        }
        Metric::Queue => a.max_queue as f64,
        Metric::Dropped => c.lost as f64 / secs,
        Metric::GossipRate => c.gossip as f64 / a.reporters as f64 / secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::settings::Field;

    #[test]
    fn a_missing_metric_lists_every_metric() {
        let fields: Vec<Field> = AlarmSettings::fields();
        let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "name", "monitor", "group", "metric", "above", "below", "for", "missing"
            ]
        );
        let mut issues = Vec::new();
        let entries: [(&str, &dyn Input); 0] = [];
        let read = AlarmSettings::read_fields(&entries, &mut Reader::new(vec![], &mut issues));
        assert!(read.is_none());
        let metrics: Vec<&str> = Metric::ALL.iter().map(|(_, n)| *n).collect();
        let want = format!("metric is one of: {}", metrics.join(", "));
        assert_eq!(issues[1].hint.as_deref(), Some(want.as_str()));
    }
}
