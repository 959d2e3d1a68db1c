//! `kind = "monitor"`: where alarms are evaluated, and the reports that feed it.
//!
//! Monitoring goes over the network like everything else: the replicas of a watched group send
//! their counters to the monitor every `period` (through network devices and link faults), and
//! the monitor evaluates its alarms every `period` on what arrived. A monitor cut off from what
//! it watches sees nothing; one behind a congested device sees late data. An alarm that fires
//! for the first time dispatches the actions it triggers after their response delay.

use crate::engine::SimTime;
use crate::engine::rng::below;
use crate::model::metrics::Histogram;
use crate::model::msg::{Msg, Report, Timer};
use crate::model::node::{Cx, Node, send_self, transmit};
use crate::model::sample::draw;
use crate::model::settings::PosDuration;
use crate::model::spec::{KindSpec, Metric, ServerSpec, Trigger};
use crate::model::world::World;
use crate::settings;

use super::{Build, KindSettings};

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
    /// Per replica of the watched group: when its newest report was sent, and its counters.
    last: Vec<Option<(u64, Counters)>>,
    /// Sums of differences since the last evaluation.
    acc: Counters,
    latency: Histogram,
    workers: u64,
    max_queue: u64,
    reporters: u64,
    /// Since when the condition has held.
    since: Option<u64>,
    firing: bool,
    fired: bool,
}

/// A monitor's state.
#[derive(Clone, Debug, Default)]
pub(crate) struct MonitorState {
    alarms: Vec<AlarmState>,
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
            if spec
                .alarms
                .iter()
                .any(|a| a.monitor == m && a.group == self.group)
            {
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
                        last: vec![None; w.replicas(a.group) as usize],
                        acc: Counters::default(),
                        latency: Histogram::default(),
                        workers: 0,
                        max_queue: 0,
                        reporters: 0,
                        since: None,
                        firing: false,
                        fired: false,
                    });
                }
            }
            if !st.alarms.is_empty() {
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
                finished: c.successes + c.degraded + c.errors + c.timeouts,
                good: c.successes + c.degraded,
                ..Counters::default()
            }
        } else if let Some(s) = self.server_series.get(b) {
            Counters {
                arrivals: s.arrivals,
                errors: s.errors,
                lost: s.rejected + s.dropped,
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
        for a in &mut st.alarms {
            if w.spec.alarms[a.alarm].group != info.group {
                continue;
            }
            let slot = &mut a.last[info.replica as usize];
            match slot {
                Some((sent, _)) if *sent >= r.sent => continue, // older than what we have
                Some((_, old)) => a.acc.add_delta(&counters, old),
                None => a.acc.add_delta(&counters, &Counters::default()),
            }
            *slot = Some((r.sent, counters.clone()));
            a.latency.merge(&r.latency);
            a.workers += r.workers as u64;
            a.max_queue = a.max_queue.max(r.max_queue);
            a.reporters += 1;
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
            let client = matches!(w.spec.groups[spec.group].kind, KindSpec::Client(_));
            let value = metric_value(spec.metric, a, period, client);
            let breaching = match value {
                None => spec.missing_breaches,
                Some(v) if spec.above => v > spec.threshold,
                Some(v) => v < spec.threshold,
            };
            a.acc = Counters::default();
            a.latency = Histogram::default();
            a.workers = 0;
            a.max_queue = 0;
            a.reporters = 0;
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
        for (kind, detail) in logs {
            self.log(w, now, kind, detail);
        }
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
fn metric_value(m: Metric, a: &AlarmState, period: u64, client: bool) -> Option<f64> {
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
