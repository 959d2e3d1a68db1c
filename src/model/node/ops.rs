//! Operators: runbook actions and staged config changes (monitors and alarms are the
//! `monitor` kind's, in `kinds/monitor.rs`).
//!
//! Actions run on their targets' own timers: at a fixed time, or when the monitor that fired
//! their alarm passes them on after the response delay.

use super::{Cx, LogEntry, Node, send_self};
use crate::engine::{EntityId, SimTime};
use crate::model::kinds::load_balancer::balances;
use crate::model::msg::{Msg, Timer};
use crate::model::spec::{ActionKind, FaultKind, KindSpec, Trigger};
use crate::model::world::World;

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
        self.start_monitoring(w, cx);
        let spec = &w.spec;
        for (i, a) in spec.actions.iter().enumerate() {
            if let Trigger::At(t) = a.trigger {
                if action_hits(w, i, self.me) {
                    send_self(cx, t.0, Timer::Action { action: i as u16 });
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
