//! Operators: monitors and alarms, runbook actions, and staged config changes.
//!
//! Monitoring goes over the network like everything else: the replicas of a watched group send
//! their counters to the monitor every `period` (through network devices and link faults), and
//! the monitor evaluates its alarms every `period` on what arrived. A monitor cut off from what
//! it watches sees nothing; one behind a congested device sees late data. Actions run on their
//! targets' own timers: at a fixed time, or when the monitor that fired their alarm passes them
//! on after the response delay.

use super::{Cx, LogEntry, Node, send_self, transmit};
use crate::engine::rng::below;
use crate::engine::{EntityId, SimTime};
use crate::model::kinds::load_balancer::balances;
use crate::model::metrics::Histogram;
use crate::model::msg::{Msg, Report, Timer};
use crate::model::sample::draw;
use crate::model::spec::{ActionKind, FaultKind, KindSpec, Metric, Trigger};
use crate::model::world::World;

/// A reporter's cumulative counters.
#[derive(Clone, Debug, Default)]
pub(crate) struct Counters {
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

/// What actions and config changes leave on a replica.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpsState {
    /// Faults ended by an action, and when.
    pub ended: Vec<(u16, u64)>,
    /// Faults whose start ran here and whose end has not.
    pub started: Vec<u16>,
    /// `shed_load`: fraction of work refused.
    pub shed: f64,
    /// `block`: sources denied besides the configured ones.
    pub blocked: Vec<u16>,
    /// `dns_failover`: (record index, target group) pairs.
    pub failover: Vec<(usize, usize)>,
    /// The config change whose settings this replica runs, if any.
    pub config: Option<u16>,
}

impl OpsState {
    pub fn ended_at(&self, fault: usize) -> Option<u64> {
        self.ended
            .iter()
            .find(|(f, _)| *f as usize == fault)
            .map(|&(_, t)| t)
    }
}

/// Whether entity `e` is one action `a` acts on.
fn action_hits(w: &World, a: usize, e: EntityId) -> bool {
    let info = &w.entities[e as usize];
    let spec = &w.spec;
    match spec.actions[a].kind {
        ActionKind::Rollback { fault } | ActionKind::EndFault { fault } => {
            spec.faults[fault].hits(&spec.groups, info.group, info.replica)
        }
        ActionKind::Block { firewall: g, .. }
        | ActionKind::ShedLoad { group: g, .. }
        | ActionKind::Restart { group: g, .. }
        | ActionKind::ClearGossip { group: g, .. }
        | ActionKind::DnsFailover { dns: g, .. } => info.group == g,
        ActionKind::Scale {
            group: g, replicas, ..
        } => {
            let first_standby = w.provisioned(g);
            (info.group == g
                && info.replica >= first_standby
                && info.replica < first_standby.saturating_add(replicas))
                || balances(w, info.group, g)
        }
    }
}

/// The entities an action acts on, in id order: for a scale action, the standby replicas it
/// provisions and the load balancers that will register them.
fn action_targets(w: &World, a: usize) -> impl Iterator<Item = EntityId> + '_ {
    (0..w.entities.len() as EntityId).filter(move |&e| action_hits(w, a, e))
}

impl Node {
    /// The settings this replica runs: its group's, or a config change's.
    pub(crate) fn kind<'w>(&self, w: &'w World) -> &'w KindSpec {
        if let Some(f) = self.ops.config {
            if let FaultKind::ConfigChange { after, .. } = &w.spec.faults[f as usize].kind {
                return after;
            }
        }
        &w.spec.groups[self.group].kind
    }

    /// Sets up reporting, monitoring and fixed-time actions at the start of a run.
    pub(crate) fn start_ops(&mut self, w: &World, cx: &mut Cx) {
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
        for (i, a) in spec.actions.iter().enumerate() {
            if let Trigger::At(t) = a.trigger {
                if action_hits(w, i, self.me) {
                    send_self(cx, t.0, Timer::Action { action: i as u16 });
                }
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

    /// A monitor runs an alarm-triggered action: logs it and passes it to its targets.
    pub(crate) fn on_dispatch(&mut self, w: &World, cx: &mut Cx, a: usize) {
        let now = cx.now().0;
        let act = &w.spec.actions[a];
        let after = match &act.trigger {
            Trigger::Alarm { alarm, .. } => format!(", on alarm {}", w.spec.alarms[*alarm].name),
            Trigger::At(_) => String::new(),
        };
        self.log.push(LogEntry {
            time: now,
            kind: "action",
            target: action_target_name(w, a),
            detail: format!("{} ({}{after})", act.name, act.kind.name()),
        });
        for e in action_targets(w, a) {
            // Operators act out of band: the order takes the plain network latency.
            let d = if e == self.me {
                0
            } else {
                w.latency(self.me, e)
            };
            cx.send(
                e,
                SimTime(d),
                Msg::Timer(Timer::Action { action: a as u16 }),
            );
        }
    }

    /// A target replica carries out action `a`.
    pub(crate) fn on_action(&mut self, w: &World, cx: &mut Cx, a: usize) {
        let now = cx.now().0;
        let idx = w
            .members(self.group)
            .position(|e| e == self.me)
            .unwrap_or(0) as u64;
        match w.spec.actions[a].kind {
            ActionKind::Rollback { fault } => self.config_back(w, cx, fault, now),
            ActionKind::EndFault { fault } => {
                if self.ops.ended_at(fault).is_some() {
                    return;
                }
                let running = self.ops.started.contains(&(fault as u16));
                if running {
                    self.fault(w, cx, fault, false);
                }
                self.ops.ended.push((fault as u16, now));
            }
            ActionKind::Block { source, .. } => self.ops.blocked.push(source as u16),
            ActionKind::ShedLoad { fraction, .. } => self.ops.shed = fraction,
            ActionKind::DnsFailover { record, to, .. } => {
                self.ops.failover.retain(|&(r, _)| r != record);
                self.ops.failover.push((record, to));
            }
            ActionKind::Restart { stagger, .. } => {
                let d = stagger.0.saturating_mul(idx);
                send_self(
                    cx,
                    d,
                    Timer::ActionStep {
                        action: a as u16,
                        up: false,
                    },
                );
            }
            ActionKind::ClearGossip { offline, pace, .. } => {
                self.crash_step(w, cx, true);
                self.gossip_clear();
                let d = offline.0.saturating_add(pace.0.saturating_mul(idx));
                send_self(
                    cx,
                    d,
                    Timer::ActionStep {
                        action: a as u16,
                        up: true,
                    },
                );
            }
            ActionKind::Scale { provision, .. } => send_self(
                cx,
                provision.0,
                Timer::ActionStep {
                    action: a as u16,
                    up: true,
                },
            ),
        }
    }

    /// A later step of an action on this replica.
    pub(crate) fn on_action_step(&mut self, w: &World, cx: &mut Cx, a: usize, up: bool) {
        let now = cx.now().0;
        match w.spec.actions[a].kind {
            ActionKind::Restart { cold_start, .. } if !up => {
                // The process is killed: a hang ends with it.
                let hangs: Vec<u16> = self
                    .faults_on
                    .iter()
                    .copied()
                    .filter(|&f| matches!(w.spec.faults[f as usize].kind, FaultKind::Hang { .. }))
                    .collect();
                for f in hangs {
                    self.fault(w, cx, f as usize, false);
                    self.ops.ended.push((f, now));
                }
                self.crash_step(w, cx, true);
                self.log(w, now, "restart", w.spec.actions[a].name.clone());
                send_self(
                    cx,
                    cold_start.0,
                    Timer::ActionStep {
                        action: a as u16,
                        up: true,
                    },
                );
            }
            ActionKind::Restart { .. } | ActionKind::ClearGossip { .. } => {
                self.crash_step(w, cx, false);
                if !self.crashed {
                    self.log(w, now, "back", w.spec.actions[a].name.clone());
                }
            }
            ActionKind::Scale {
                group, replicas, ..
            } if balances(w, self.group, group) => {
                self.register_backends(w, now, a, group, replicas)
            }
            ActionKind::Scale { .. } => {
                self.crash_step(w, cx, false);
                self.log(w, now, "provisioned", w.spec.actions[a].name.clone());
            }
            _ => {}
        }
    }

    // ----- config changes ------------------------------------------------------------

    /// This replica's batch in a config change's rollout, the number of batches, and the
    /// time between batches.
    fn batch_of(&self, w: &World, fault: usize) -> (u64, u64, u64) {
        let f = &w.spec.faults[fault];
        let FaultKind::ConfigChange {
            replicas,
            rollout,
            batch,
            ..
        } = &f.kind
        else {
            return (0, 1, 0);
        };
        let hit: Vec<u32> = if replicas.is_empty() {
            (0..w.replicas(self.group)).collect()
        } else {
            let mut r = replicas.clone();
            r.sort_unstable();
            r
        };
        let pos = hit.iter().position(|&r| r == self.replica).unwrap_or(0) as u64;
        let batch = (*batch).max(1) as u64;
        let batches = (hit.len() as u64).div_ceil(batch).max(1);
        (pos / batch, batches, rollout.0 / batches)
    }

    /// A config change starts: this replica switches when its batch's turn comes.
    pub(crate) fn config_start(&mut self, w: &World, cx: &mut Cx, fault: usize) {
        let (b, _, pace) = self.batch_of(w, fault);
        send_self(
            cx,
            b.saturating_mul(pace),
            Timer::Config {
                fault: fault as u16,
                on: true,
            },
        );
    }

    /// A config change ends or is rolled back: replicas that switched go back, the last to
    /// switch first, at the rollout's pace.
    pub(crate) fn config_back(&mut self, w: &World, cx: &mut Cx, fault: usize, now: u64) {
        if self.ops.ended_at(fault).is_some() {
            return;
        }
        self.ops.ended.push((fault as u16, now));
        let f = &w.spec.faults[fault];
        let (b, batches, pace) = self.batch_of(w, fault);
        if now < f.at.0 {
            return; // never started
        }
        let done = (now - f.at.0)
            .checked_div(pace)
            .map_or(batches, |k| (k + 1).min(batches));
        if b >= done {
            return; // its turn had not come
        }
        send_self(
            cx,
            (done - 1 - b).saturating_mul(pace),
            Timer::Config {
                fault: fault as u16,
                on: false,
            },
        );
    }

    /// This replica switches to a config change's settings, or back.
    pub(crate) fn on_config(&mut self, w: &World, cx: &mut Cx, fault: usize, on: bool) {
        let now = cx.now().0;
        if on {
            if self.ops.ended_at(fault).is_some() || self.ops.config == Some(fault as u16) {
                return;
            }
            self.ops.config = Some(fault as u16);
        } else {
            if self.ops.config != Some(fault as u16) {
                return;
            }
            self.ops.config = None;
        }
        self.account(w, now);
        self.derive_state(w, cx);
        self.fill_workers(w, cx);
        let f = &w.spec.faults[fault];
        let detail = match &f.kind {
            FaultKind::ConfigChange { set, .. } => {
                let s: Vec<String> = set.iter().map(|(p, v)| format!("{p} = {v}")).collect();
                format!("{}: {}", f.name, s.join(", "))
            }
            _ => f.name.clone(),
        };
        let kind = if on {
            "config_applied"
        } else {
            "config_reverted"
        };
        self.log(w, now, kind, detail);
    }

    /// Rebuilds what a replica derives from its settings (health checker, per-backend counts,
    /// breakers) after they changed; a checker whose settings and targets did not change
    /// keeps its view.
    pub(crate) fn derive_state(&mut self, w: &World, cx: &mut Cx) {
        let kind = self.kind(w);
        match kind {
            KindSpec::LoadBalancer(lb) => {
                self.outstanding.resize(w.replicas(lb.backends) as usize, 0);
            }
            KindSpec::Service(s) => self.breakers.resize(s.calls.len(), Default::default()),
            _ => {}
        }
        self.refresh_checker(w, cx);
    }
}

/// The display name of what an action acts on.
pub(crate) fn action_target_name(w: &World, a: usize) -> String {
    let spec = &w.spec;
    match spec.actions[a].kind {
        ActionKind::Rollback { fault } | ActionKind::EndFault { fault } => {
            spec.faults[fault].name.clone()
        }
        ActionKind::Block { firewall: g, .. }
        | ActionKind::ShedLoad { group: g, .. }
        | ActionKind::Restart { group: g, .. }
        | ActionKind::ClearGossip { group: g, .. }
        | ActionKind::DnsFailover { dns: g, .. }
        | ActionKind::Scale { group: g, .. } => spec.groups[g].name.clone(),
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
