//! Health checks: the `health_check` settings of load balancers and DNS, and the checker a
//! replica runs. Every `interval` it probes each target (a shallow port check, or a deep
//! request whose answer must be right) with a `timeout`; `unhealthy` consecutive failures mark
//! a target unhealthy in this replica's own view, `healthy` consecutive passes mark it healthy
//! again. What a kind probes is the kind's own (`checker_plan`).

use crate::engine::rng::below;
use crate::engine::{EntityId, SimTime};
use crate::model::msg::{ReqKind, Timer};
use crate::model::node::{Call, Cx, LogEntry, Node, Owner, Phase, send_self};
use crate::model::settings::{Count, Input, PosDuration, Reader, Word};
use crate::model::spec::KindSpec;
use crate::model::world::World;
use crate::{settings, words};

/// What a health check looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// Port open / status code: a replica that answers anything passes.
    Shallow,
    /// A full request whose content is checked (a wrong answer fails).
    Deep,
}

words!(
    CheckKind,
    "health check kind",
    [("shallow", CheckKind::Shallow), ("deep", CheckKind::Deep),]
);

settings! {
    /// How a load balancer or a health-steered DNS probes its targets.
    pub struct HealthCheckSpec "health_check" check HealthCheckSpec::check_timing {
        /// Shallow (port open, any answer passes) or deep (a full request whose content is checked).
        kind: Word<CheckKind> = CheckKind::Shallow,
        /// Time between probes of one target.
        interval: PosDuration = SimTime::from_secs(5),
        /// A probe not answered within this fails.
        timeout: PosDuration = SimTime::from_secs(2),
        /// Consecutive failures that mark a healthy target unhealthy.
        unhealthy: Count<1, { u32::MAX }> = 2,
        /// Consecutive successes that mark an unhealthy target healthy.
        healthy: Count<1, { u32::MAX }> = 2,
    }
}

impl HealthCheckSpec {
    /// The probe must end before the next one starts.
    pub fn check_timing(&self, _: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> bool {
        if self.timeout <= self.interval {
            return true;
        }
        let (timeout, interval) = (self.timeout, self.interval);
        let issue = crate::model::settings::Issue::new(
            r.at("timeout"),
            format!("the probe timeout ({timeout}) is longer than the interval ({interval})"),
        )
        .value(timeout.to_string())
        .hint(
            "a probe must end before the next one starts; lower timeout or raise interval"
                .to_owned(),
        );
        r.push(issue);
        false
    }
}

/// One probed target in a checker's view: its health and its streaks of passes and failures.
#[derive(Clone, Debug)]
pub(crate) struct Target1 {
    pub(crate) entity: EntityId,
    pub(crate) healthy: bool,
    pub(crate) ok_streak: u32,
    pub(crate) fail_streak: u32,
    pub(crate) in_flight: bool,
}

/// A health checker's live configuration and its view of its targets.
#[derive(Clone, Debug)]
pub(crate) struct Checker {
    pub(crate) spec: HealthCheckSpec,
    pub(crate) targets: Vec<Target1>,
    /// The targets counted in `healthy_seen` (a load balancer's own backends, not its
    /// fallbacks): the first ones.
    pub(crate) primary: usize,
}

/// What a kind's health checker probes, and with which settings (None: no checker).
pub(crate) fn checker_plan(w: &World, kind: &KindSpec) -> Option<(HealthCheckSpec, Vec<EntityId>)> {
    match kind {
        KindSpec::LoadBalancer(lb) => lb.checker_plan(w),
        KindSpec::Dns(d) => d.checker_plan(w),
        _ => None,
    }
}

/// A checker with no history: provisioned targets healthy, standby ones not (they have never
/// answered a probe).
pub(crate) fn fresh_checker(w: &World, kind: &KindSpec) -> Option<Checker> {
    checker_plan(w, kind).map(|(spec, targets)| Checker {
        primary: match kind {
            KindSpec::LoadBalancer(lb) => w.replicas(lb.backends) as usize,
            _ => targets.len(),
        },
        spec,
        targets: targets
            .into_iter()
            .map(|e| {
                let info = &w.entities[e as usize];
                Target1 {
                    healthy: info.replica < w.provisioned(info.group),
                    ..new_target(e)
                }
            })
            .collect(),
    })
}

pub(crate) fn new_target(entity: EntityId) -> Target1 {
    Target1 {
        entity,
        healthy: true,
        ok_streak: 0,
        fail_streak: 0,
        in_flight: false,
    }
}

impl Node {
    /// Schedules the first probe round (at a random point of the first interval), if this
    /// replica has a checker.
    pub(crate) fn start_checker(&self, cx: &mut Cx) {
        if let Some(ch) = &self.checker {
            let first = below(cx.rng(), ch.spec.interval.0.max(1));
            send_self(cx, first, Timer::HealthTick);
        }
    }

    /// After the settings changed: a checker whose settings and targets did not change keeps
    /// its view; otherwise a fresh one replaces it (and starts probing, if there was none).
    pub(crate) fn refresh_checker(&mut self, w: &World, cx: &mut Cx) {
        let kind = self.kind(w);
        let plan = checker_plan(w, kind);
        let same = match (&self.checker, &plan) {
            (Some(c), Some((spec, targets))) => {
                c.spec == *spec
                    && c.targets
                        .iter()
                        .map(|t| t.entity)
                        .eq(targets.iter().copied())
            }
            (None, None) => true,
            _ => false,
        };
        if same {
            return;
        }
        let had = self.checker.is_some();
        self.checker = fresh_checker(w, kind);
        if !had {
            self.start_checker(cx);
        }
    }

    pub(crate) fn on_health_tick(&mut self, w: &World, cx: &mut Cx) {
        let Some(ch) = &self.checker else {
            return;
        };
        let (interval, timeout, kind) = (ch.spec.interval.0, ch.spec.timeout.0, ch.spec.kind);
        if self.crashed || (!self.faults_on.is_empty() && self.fault_effects(w).hung) {
            send_self(cx, interval, Timer::HealthTick);
            return;
        }
        let now = cx.now().0;
        let healthy = ch.targets[..ch.primary]
            .iter()
            .filter(|t| t.healthy)
            .count() as u32;
        let sb = &mut self.server_series[w.bucket_of(now)];
        sb.min_healthy = Some(sb.min_healthy.map_or(healthy, |m| m.min(healthy)));
        let req_kind = match kind {
            CheckKind::Shallow => ReqKind::ProbeShallow,
            CheckKind::Deep => ReqKind::ProbeDeep,
        };
        let n = ch.targets.len();
        for i in 0..n {
            let ch = self.checker.as_mut().expect("checked");
            if ch.targets[i].in_flight {
                continue;
            }
            ch.targets[i].in_flight = true;
            let dst = ch.targets[i].entity;
            let call = Call {
                owner: Owner::Probe { target: i as u32 },
                phase: Phase::Call,
                attempt: 1,
                dst,
                kind: req_kind,
                source: u16::MAX,
                item: Default::default(),
                limit: crate::model::node::Lim::Free,
                deadline: 0, // set by place_call
            };
            self.place_call(w, cx, call, timeout);
        }
        // After the probes: a probe whose timeout equals the interval resolves first.
        send_self(cx, interval, Timer::HealthTick);
    }

    pub(crate) fn probe_result(&mut self, w: &World, cx: &mut Cx, target: u32, pass: bool) {
        let now = cx.now().0;
        let Some(ch) = self.checker.as_mut() else {
            return;
        };
        let (up_after, down_after) = (ch.spec.healthy, ch.spec.unhealthy);
        let t = &mut ch.targets[target as usize];
        t.in_flight = false;
        let mut change = None;
        if pass {
            t.ok_streak += 1;
            t.fail_streak = 0;
            if !t.healthy && t.ok_streak >= up_after {
                t.healthy = true;
                change = Some(("health_up", t.entity));
            }
        } else {
            t.fail_streak += 1;
            t.ok_streak = 0;
            if t.healthy && t.fail_streak >= down_after {
                t.healthy = false;
                change = Some(("health_down", t.entity));
            }
        }
        if let Some((kind, entity)) = change {
            let healthy = ch.targets[..ch.primary]
                .iter()
                .filter(|t| t.healthy)
                .count() as u32;
            let sb = &mut self.server_series[w.bucket_of(now)];
            sb.min_healthy = Some(sb.min_healthy.map_or(healthy, |m| m.min(healthy)));
            let detail = format!(
                "{} as seen by {}",
                w.entity_name(entity),
                w.entity_name(self.me)
            );
            self.log.push(LogEntry {
                time: now,
                kind,
                target: w.entity_name(entity),
                detail,
            });
        }
    }
}
