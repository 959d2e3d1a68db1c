//! `[[autoscalers]]`: target tracking. A monitor evaluates a component group's utilization or
//! longest queue, or the latency a client group sees (`watch`), from the reports it receives
//! (so the metric is as late and as blind as the monitor's view), every `period`, and acts on
//! the value it had `delay` earlier (the metric pipeline's lag). It wants n x value / target
//! replicas in service (rounded up, within `min` and `max`; for a latency a rough rule that
//! overshoots); after a change it waits `cooldown` before the next.
//!
//! Scaling out provisions replicas in index order (the group's `standby` replicas, or replicas
//! an earlier scale-in took out): each comes up `provision` after the order reaches it, and the
//! load balancers over the group register it then, so it takes traffic like any other and
//! faults can hit it. Scaling in deregisters the highest-numbered replicas at once and takes
//! them down `drain` later. Only load balancers spread over replicas added at run time, so an
//! autoscaled group must be one's backends.

use crate::engine::SimTime;
use crate::model::kinds::load_balancer::balances;
use crate::model::kinds::monitor::{Metric, Watch, fits, only_monitor};
use crate::model::msg::Timer;
use crate::model::node::{Cx, Node, send_self};
use crate::model::policy::conn::pools_to;
use crate::model::settings::{
    Count, Duration, Input, Issue, Opt, PosDuration, Reader, Ref, Resolve, Role, Switch, Table,
    Text, Word, unknown_fields,
};
use crate::model::world::World;
use crate::settings;

use super::super::faults::PosNumber;

settings! {
    /// `[[autoscalers]]`: target tracking on a component group behind a load balancer, evaluated by a monitor.
    pub struct AutoscalerSettings "autoscalers" {
        /// Unique among autoscalers (default `"autoscaler-<index>"`, counting from 0).
        name: Opt<Text> = None,
        /// The monitor that evaluates it (default: the only one).
        monitor: Opt<Ref> = None,
        /// The group it scales (with standby replicas up to `max`): a load balancer's backends, or a group its callers reach over connection pools.
        group: Ref => "add group = \"<the group it scales>\"",
        /// What it tracks over each period: the group's utilization or queue (the longest waiting queue), or latency_p50/p90/p99 of the client group it watches.
        metric: Word<Metric> => "metric is utilization, queue, latency_p50, latency_p90 or latency_p99",
        /// The group whose metric it tracks (default: the group it scales; a client group for a latency).
        watch: Opt<Ref> = None,
        /// The value it keeps the metric at (utilization 0.6 keeps the replicas 60% busy).
        target: PosNumber => "add target = 0.6: the value it keeps the metric at",
        /// The fewest replicas in service (default: the group's replicas).
        min: Opt<Count<1, { u32::MAX }>> = None,
        /// The most replicas in service: at most replicas + standby.
        max: Count<1, { u32::MAX }> => "add max = <replicas + standby at most>",
        /// How often it evaluates (at least the monitor's period; rounded to whole periods).
        period: PosDuration = SimTime::from_secs(60),
        /// How old the value it acts on is: the metric pipeline's lag.
        delay: Duration = SimTime::ZERO,
        /// After a scaling activity, how long it waits before the next.
        cooldown: Duration = SimTime::from_secs(300),
        /// How long a new replica takes to come up and be registered.
        provision: Duration = SimTime::from_secs(120),
        /// How long a replica taken out keeps finishing its work before it goes down.
        drain: Duration = SimTime::from_secs(30),
        /// Whether it scales in as well as out.
        scale_in: Switch = true,
    }
}

/// `[[autoscalers]]` entry, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalerSpec {
    pub name: String,
    pub monitor: usize,
    pub group: usize,
    /// `watch`: the group whose metric it tracks (default: `group`).
    pub watch: usize,
    pub metric: Metric,
    pub target: f64,
    pub min: u32,
    pub max: u32,
    pub period: SimTime,
    pub delay: SimTime,
    pub cooldown: SimTime,
    pub provision: SimTime,
    pub drain: SimTime,
    pub scale_in: bool,
}

/// Reads autoscaler `j` from its table's entries, resolving its names through `res`.
pub fn read_autoscaler(
    j: usize,
    entries: &[(&str, &dyn Input)],
    res: &mut dyn Resolve,
) -> Option<AutoscalerSpec> {
    let base = vec!["autoscalers".to_owned(), j.to_string()];
    let at = |field: &str| [base.as_slice(), &[field.to_owned()]].concat();
    let fields: Vec<&str> = AutoscalerSettings::fields()
        .iter()
        .map(|f| f.name)
        .collect();
    unknown_fields(
        entries,
        &fields,
        &mut Reader::new(base.clone(), res.issues()),
    );
    let only = if entries.iter().any(|(k, _)| *k == "monitor") {
        None
    } else {
        only_monitor(at("monitor"), "autoscaler", res)
    };
    let s = AutoscalerSettings::read_fields(entries, &mut Reader::new(base.clone(), res.issues()))?;
    let monitor = match &s.monitor {
        Some(m) => res.group(None, at("monitor"), m, Role::Monitor),
        None => only,
    };
    let group = res.group(None, at("group"), &s.group, Role::Component);
    let watch = match &s.watch {
        Some(x) => res.group(None, at("watch"), x, Role::Watch),
        None => group,
    };
    let mut ok = true;
    let tracked = matches!(
        s.metric,
        Metric::Utilization
            | Metric::Queue
            | Metric::LatencyP50
            | Metric::LatencyP90
            | Metric::LatencyP99
    );
    if !tracked {
        res.issues().push(
            Issue::new(
                at("metric"),
                format!("an autoscaler tracks utilization, queue or a latency, not {}", s.metric.name()),
            )
            .value(s.metric.name())
            .hint("metric = \"utilization\" (target 0.6: 60% busy), \"queue\" (a queue length) or \"latency_p99\" with watch = \"<a client group>\" (a latency in seconds)".to_owned()),
        );
        ok = false;
    } else if let Some(g) = watch {
        let before = res.issues().len();
        fits(s.metric, g, at("metric"), res);
        ok &= res.issues().len() == before;
    }
    if s.metric == Metric::Utilization && s.target > 1.0 {
        res.issues().push(
            Issue::new(
                at("target"),
                format!("a utilization target is at most 1, got {}", s.target),
            )
            .value(s.target.to_string())
            .hint("e.g. target = 0.6: replicas 60% busy".to_owned()),
        );
        ok = false;
    }
    let (n, standby) = group.and_then(|g| res.replicas(g)).unwrap_or((0, 0));
    let min = s.min.unwrap_or((n - standby).max(1));
    if let Some(g) = group
        && n > 0
    {
        let name = res.names()[g].to_owned();
        if s.max > n {
            res.issues().push(
                Issue::new(
                    at("max"),
                    format!(
                        "max {} is more than '{name}' has: {} replicas and {standby} standby",
                        s.max,
                        n - standby
                    ),
                )
                .value(s.max.to_string())
                .hint(format!(
                    "add standby = {} to '{name}', or lower max",
                    s.max - (n - standby)
                )),
            );
            ok = false;
        }
        if min > s.max {
            let field = if s.min.is_some() { "min" } else { "max" };
            res.issues().push(
                Issue::new(at(field), format!("min {min} is more than max {}", s.max))
                    .value(if s.min.is_some() { min.to_string() } else { s.max.to_string() })
                    .hint("min is the fewest replicas in service (default: the group's replicas), max the most".to_owned()),
            );
            ok = false;
        }
    }
    // Reports travel from the watched group to the monitor, and orders to the scaled group.
    if let (Some(g), Some(m)) = (watch, monitor) {
        res.traffic(g, m, at("monitor"));
    }
    if !ok {
        return None;
    }
    Some(AutoscalerSpec {
        name: s.name.unwrap_or_else(|| format!("autoscaler-{j}")),
        monitor: monitor?,
        group: group?,
        watch: watch?,
        metric: s.metric,
        target: s.target,
        min,
        max: s.max,
        period: s.period,
        delay: s.delay,
        cooldown: s.cooldown,
        provision: s.provision,
        drain: s.drain,
        scale_in: s.scale_in,
    })
}

/// The replicas in service target tracking wants: n x value / target, rounded up (a hair of
/// slack so that a value exactly at the target keeps n), within [min, max].
pub fn desired(n: u32, value: f64, target: f64, min: u32, max: u32) -> u32 {
    let want = (f64::from(n) * value / target - 1e-9).ceil();
    let want = if want.is_finite() && want > 0.0 {
        want.min(f64::from(u32::MAX)) as u32
    } else {
        0
    };
    want.clamp(min, max.max(min))
}

/// An autoscaler's state at its monitor.
#[derive(Clone, Debug)]
pub struct ScalerState {
    /// Index into `spec.autoscalers`.
    pub scaler: usize,
    pub(crate) watch: Watch,
    /// Replicas in service (ordered): the first `count` replicas of the group.
    pub count: u32,
    /// Monitor periods since the last evaluation.
    ticks: u64,
    /// Values of past evaluations, newest last (for `delay`).
    history: Vec<Option<f64>>,
    /// When it may act again.
    calm_from: u64,
}

/// The autoscalers monitor group `m` evaluates.
pub(crate) fn scalers_at(w: &World, m: usize) -> Vec<ScalerState> {
    w.spec
        .autoscalers
        .iter()
        .enumerate()
        .filter(|(_, a)| a.monitor == m)
        .map(|(i, a)| ScalerState {
            scaler: i,
            watch: Watch::new(w, a.watch),
            count: w.provisioned(a.group),
            ticks: 0,
            history: Vec::new(),
            calm_from: 0,
        })
        .collect()
}

impl Node {
    /// A monitor's autoscalers whose period is up evaluate; the orders to send (autoscaler,
    /// old count, new count).
    pub(crate) fn evaluate_scalers(
        &mut self,
        w: &World,
        now: u64,
        period: u64,
        logs: &mut Vec<(&'static str, String)>,
    ) -> Vec<(usize, u32, u32)> {
        let Some(st) = self.monitor.as_mut() else {
            return Vec::new();
        };
        let mut orders = Vec::new();
        for s in &mut st.scalers {
            let a = &w.spec.autoscalers[s.scaler];
            s.ticks += 1;
            let every = a.period.0.div_ceil(period.max(1)).max(1);
            if s.ticks < every {
                continue;
            }
            s.ticks = 0;
            // Utilization is busy time over the workers each report counted, for one monitor
            // period per report: the monitor's period, however many periods were gathered.
            let value = s.watch.evaluate(w, a.metric, period);
            s.history.push(value);
            let back = a.delay.0.div_ceil(every * period) as usize;
            if s.history.len() > back + 1 {
                s.history.remove(0);
            }
            if s.history.len() <= back || now < s.calm_from {
                continue;
            }
            let Some(v) = s.history[0] else {
                continue; // no data: no decision
            };
            let want = desired(s.count, v, a.target, a.min, a.max);
            if want == s.count || (want < s.count && !a.scale_in) {
                continue;
            }
            let kind = if want > s.count {
                "scale_out"
            } else {
                "scale_in"
            };
            logs.push((
                kind,
                format!(
                    "{}: {} {} -> {} ({} {v:.3}, target {})",
                    a.name,
                    w.spec.groups[a.group].name,
                    s.count,
                    want,
                    a.metric.name(),
                    a.target
                ),
            ));
            orders.push((s.scaler, s.count, want));
            s.count = want;
            s.calm_from = now.saturating_add(a.cooldown.0);
        }
        orders
    }

    /// Sends each order to the replicas it adds or removes, to the load balancers over the
    /// group and to the callers that pool connections to it (operators' orders: the plain
    /// network latency).
    pub(crate) fn send_scaling(&self, w: &World, cx: &mut Cx, orders: Vec<(usize, u32, u32)>) {
        for (scaler, old, new) in orders {
            let g = w.spec.autoscalers[scaler].group;
            let (lo, hi) = (old.min(new), old.max(new));
            let first = w.first[g];
            let targets = (lo..hi).map(|r| first + r).chain(
                (0..w.spec.groups.len())
                    .filter(|&lb| balances(w, lb, g) || pools_to(w, lb, g))
                    .flat_map(|lb| w.members(lb)),
            );
            for e in targets {
                let d = if e == self.me {
                    0
                } else {
                    w.latency(self.me, e)
                };
                cx.send(
                    e,
                    SimTime(d),
                    crate::model::msg::Msg::Timer(Timer::Scale {
                        scaler: scaler as u16,
                        count: new,
                    }),
                );
            }
        }
    }

    /// An autoscaler's order reaches this replica, load balancer or pooling caller: the group
    /// is to have `count` replicas in service.
    pub(crate) fn on_scale(&mut self, w: &World, cx: &mut Cx, scaler: usize, count: u32) {
        let a = &w.spec.autoscalers[scaler];
        // How long until this entity takes the order in (a `ScaleStep`), if it has to.
        let wait = if self.group == a.group {
            let up = self.replica < count;
            (up != self.in_service).then_some(if up { a.provision.0 } else { a.drain.0 })
        } else if pools_to(w, self.group, a.group) {
            // A caller pooling connections to the group rebalances when new replicas are in
            // service (after their provisioning), or at once onto those that stay.
            let known = self
                .pools
                .as_ref()
                .map_or(w.provisioned(a.group), |ps| ps.members(w, a.group));
            Some(if count > known { a.provision.0 } else { 0 })
        } else if count < self.registered {
            // Taken out of the rotation at once; they finish what they hold.
            self.registered = count;
            let detail = format!("{}: {}[..{count}]", a.name, w.spec.groups[a.group].name);
            self.log(w, cx.now().0, "registered", detail);
            None
        } else {
            (count > self.registered).then_some(a.provision.0)
        };
        if let Some(wait) = wait {
            send_self(
                cx,
                wait,
                Timer::ScaleStep {
                    scaler: scaler as u16,
                    count,
                },
            );
        }
    }

    /// The provisioning or draining time of an order is over.
    pub(crate) fn on_scale_step(&mut self, w: &World, cx: &mut Cx, scaler: usize, count: u32) {
        let a = &w.spec.autoscalers[scaler];
        let now = cx.now().0;
        if self.group == a.group {
            let up = self.replica < count;
            if up == self.in_service {
                return; // a later order undid this one
            }
            self.in_service = up;
            self.crash_step(w, cx, !up);
            let kind = if up { "provisioned" } else { "deprovisioned" };
            self.log(w, now, kind, a.name.clone());
        } else if pools_to(w, self.group, a.group) {
            self.conn_rebalance(w, cx, a.group, count);
        } else if count > self.registered {
            self.registered = count.min(w.replicas(a.group));
            let detail = format!(
                "{}: {}[..{}]",
                a.name, w.spec.groups[a.group].name, self.registered
            );
            self.log(w, now, "registered", detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::desired;

    #[test]
    fn target_tracking_rounds_up_within_min_and_max() {
        // 4 replicas at 90% against a 60% target: 6.
        assert_eq!(desired(4, 0.9, 0.6, 1, 10), 6);
        // Exactly at the target: stays.
        assert_eq!(desired(5, 0.6, 0.6, 1, 10), 5);
        // Idle: down to min.
        assert_eq!(desired(5, 0.0, 0.6, 2, 10), 2);
        // Capped at max.
        assert_eq!(desired(8, 1.0, 0.5, 1, 10), 10);
        // 3 at 10%: 1 would do (0.5 rounds up).
        assert_eq!(desired(3, 0.1, 0.6, 1, 10), 1);
        assert_eq!(desired(3, f64::NAN, 0.6, 2, 10), 2);
    }
}
