//! `kind = "load_balancer"`: balances requests over the replicas of its `backends` group that
//! are registered with it, by its policy, among those its health checker sees healthy (what
//! it does when none is: `when_none_healthy`). It holds no worker while a request is out; a
//! failed attempt is retried on another backend within the retry policy and budget. A `scale`
//! action registers new backend replicas when they are provisioned.
//!
//! With `fallback` (an ordered list of other sites' groups, probed by the same health checker),
//! a load balancer whose local backends are all unhealthy, or fewer than `fallback_below` of
//! them healthy, proxies requests to the first fallback group with a healthy replica; only
//! when none has one does `when_none_healthy` apply (the apology page is the last step).
//! Fallbacks are dependencies like backends, so sites that fall back on each other form a
//! dependency cycle, which validation refuses.

use crate::engine::rng::{below, unit_f64};
use crate::engine::{EntityId, SimTime};
use crate::model::msg::Status;
use crate::model::node::{Call, Cx, Node, Owner, Phase, downstream_kind};
use crate::model::policy::concurrency::ConcurrencySpec;
use crate::model::policy::rate_limit::RateLimitSpec;
use crate::model::policy::shard::Sharding;
use crate::model::settings::{
    Count, Fraction, Issue, List, Nested, Opt, PosDuration, Reader, Role, Shape, Text, Weights,
    Word, Words, weights,
};
use crate::model::spec::{HealthCheckSpec, KindSpec, RetrySpec, ServerSpec};
use crate::model::world::World;
use crate::{settings, words};

use super::{Build, KindSettings};

/// Load-balancing policy. `policy = "round_robin" | "least_outstanding" | "random" |
/// "weighted"` (default "round_robin").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Balance {
    RoundRobin,
    LeastOutstanding,
    Random,
    Weighted,
}

words!(
    Balance,
    "balancing policy",
    [
        ("round_robin", Balance::RoundRobin),
        ("least_outstanding", Balance::LeastOutstanding),
        ("random", Balance::Random),
        ("weighted", Balance::Weighted),
    ]
);

/// What a load balancer does when no backend is healthy. `when_none_healthy = "fail_open" |
/// "apology" | "reject"` (default "fail_open").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoneHealthy {
    /// Send to every backend as if all were healthy.
    FailOpen,
    /// Answer a static apology page: a degraded success for the user.
    Apology,
    /// Answer an error at once.
    Reject,
}

words!(
    NoneHealthy,
    "when_none_healthy action",
    [
        ("fail_open", NoneHealthy::FailOpen),
        ("apology", NoneHealthy::Apology),
        ("reject", NoneHealthy::Reject),
    ]
);

settings! {
    /// `kind = "load_balancer"`: balances requests over the replicas of a group.
    pub struct LbSettings "load_balancer" {
        /// The group it balances over.
        backends: Text => "add backends = \"<the group it balances over>\"",
        /// How it picks a backend: round_robin, least_outstanding, random or weighted.
        policy: Word<Balance> = Balance::RoundRobin,
        /// One weight per backend replica, standby included (policy "weighted" only).
        weights: Opt<Weights> = None,
        /// How it probes its backends (none: every backend counts as healthy).
        health_check: Opt<Nested<HealthCheckSpec>> = None,
        /// What it does when no backend is healthy: fail_open, apology or reject.
        when_none_healthy: Word<NoneHealthy> = NoneHealthy::FailOpen,
        /// Timeout of each backend attempt.
        timeout: PosDuration = SimTime::from_secs(30),
        /// How failed attempts are retried on other backends.
        retry: Nested<RetrySpec> = RetrySpec::once(),
        /// Other sites' groups, in order, it proxies to when its own backends are not healthy enough (needs a health_check).
        fallback: Opt<List<Text>> = None,
        /// Falls back when fewer than this share of its backends are healthy (0: only when none is).
        fallback_below: Fraction = 0.0,
        /// Splits its backends into this many cells of consecutive replicas; client groups (tenants) take cells in file order, round robin (none: no cells).
        cells: Opt<Count<1, { u32::MAX }>> = None,
        /// Gives each client group (tenant) its own shuffle shard of this many backends, drawn once from the two names (none: every backend serves every tenant).
        shuffle_shard: Opt<Count<1, { u32::MAX }>> = None,
        /// A token-bucket limit on the work it admits (none: no limit).
        rate_limit: Opt<Nested<RateLimitSpec>> = None,
        /// A cap on each replica's calls in flight to its backends, fixed or adaptive (none: no cap).
        concurrency_limit: Opt<Nested<ConcurrencySpec>> = None,
    }
}

impl KindSettings for LbSettings {
    fn build(self, b: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec> {
        let backends = b.dep("backends", Role::Serve);
        let fallback = fallbacks(b);
        if self.fallback.is_some() && self.health_check.is_none() {
            let path = b.at("fallback");
            b.resolve.issues().push(
                Issue::new(path, "a fallback needs a health check: nothing would tell it when to fall back")
                    .hint("add health_check = { kind = \"deep\" } (its probes cover the fallback groups too)".to_owned())
                    .at_key(),
            );
            return None;
        }
        if self.fallback_below > 0.0 && self.fallback.is_none() {
            let path = b.at("fallback_below");
            b.resolve.issues().push(
                Issue::new(path, "field 'fallback_below' needs a fallback")
                    .hint(
                        "add fallback = [\"<another site's group>\"], or remove fallback_below"
                            .to_owned(),
                    )
                    .at_key(),
            );
            return None;
        }
        let sharding = sharding(b, backends, self.cells, self.shuffle_shard);
        let path = b.at("weights");
        let weights = match (self.policy, self.weights) {
            (Balance::Weighted, None) => {
                b.resolve
                    .issues()
                    .push(
                        Issue::new(path, "missing required field 'weights'").hint(
                            "policy 'weighted' needs weights = [...], one per backend replica"
                                .to_owned(),
                        ),
                    );
                None
            }
            (Balance::Weighted, Some(w)) => {
                let placed = backends.and_then(|g| b.resolve.replicas(g).map(|p| (g, p)));
                let named = placed.map(|(g, p)| (b.resolve.name(g), p));
                let mut r = Reader::new(path, b.resolve.issues());
                let mark = r.issues.len();
                let n = placed.map_or(0, |(_, (n, _))| n);
                let weights = weights(&w, n as usize, "backend replica", &mut r);
                // Standby replicas need a weight for when a scale action brings them in.
                if let Some((name, (n, s))) = named
                    && s > 0
                    && let Some(issue) = r.issues.get_mut(mark)
                    && issue.hint.is_none()
                {
                    issue.hint = Some(format!(
                        "'{name}' has {} replicas and {s} standby: give one weight per replica, standby included (for when a scale action brings them in)",
                        n - s
                    ));
                }
                weights
            }
            (policy, Some(_)) => {
                let p = Balance::WORDS
                    .iter()
                    .find(|(_, v)| *v == policy)
                    .map_or("", |(w, _)| w);
                b.resolve.issues().push(
                    Issue::new(
                        path,
                        format!("field 'weights' does not apply to policy '{p}'"),
                    )
                    .hint("set policy = \"weighted\" to use weights".to_owned())
                    .at_key(),
                );
                None
            }
            (_, None) => Some(Vec::new()),
        };
        Some(KindSpec::LoadBalancer(LbSpec {
            server,
            backends: backends?,
            policy: self.policy,
            weights: weights?,
            health_check: self.health_check,
            when_none_healthy: self.when_none_healthy,
            timeout: self.timeout,
            retry: self.retry,
            fallback: fallback?,
            fallback_below: self.fallback_below,
            sharding: sharding?,
            rate_limit: self.rate_limit,
            concurrency_limit: self.concurrency_limit,
        }))
    }
}

/// `cells` or `shuffle_shard` (not both), each at most the backends' replica count.
fn sharding(
    b: &mut Build<'_>,
    backends: Option<usize>,
    cells: Option<u32>,
    shuffle: Option<u32>,
) -> Option<Sharding> {
    let (field, size, sharding) = match (cells, shuffle) {
        (None, None) => return Some(Sharding::None),
        (Some(_), Some(_)) => {
            let path = b.at("shuffle_shard");
            b.resolve.issues().push(
                Issue::new(path, "a load balancer takes cells or shuffle_shard, not both")
                    .hint("keep one: cells = m gives tenants whole cells, shuffle_shard = k each tenant its own k backends".to_owned())
                    .at_key(),
            );
            return None;
        }
        (Some(m), None) => ("cells", m, Sharding::Cells(m)),
        (None, Some(k)) => ("shuffle_shard", k, Sharding::Shuffle(k)),
    };
    let n = backends.and_then(|g| b.resolve.replicas(g).map(|(n, _)| (g, n)));
    if let Some((g, n)) = n
        && size > n
    {
        let name = b.resolve.name(g);
        let path = b.at(field);
        let what = if field == "cells" {
            "cells"
        } else {
            "backends in a shuffle shard"
        };
        b.resolve.issues().push(
            Issue::new(
                path,
                format!("{size} {what}, but '{name}' has {n} replicas"),
            )
            .value(size.to_string())
            .hint(format!("use at most {n}, or give '{name}' more replicas")),
        );
        return None;
    }
    Some(sharding)
}

/// The fallback groups, each resolved as a dependency (None when one is unknown).
fn fallbacks(b: &mut Build<'_>) -> Option<Vec<usize>> {
    let Some((_, input)) = b.entries.iter().find(|(k, _)| *k == "fallback") else {
        return Some(Vec::new());
    };
    let Shape::Array(items) = input.shape() else {
        return None; // the declaration reports the type
    };
    let mut groups = Some(Vec::new());
    for (i, item) in items.iter().enumerate() {
        let Shape::Str(name) = item.shape() else {
            groups = None;
            continue;
        };
        let mut path = b.at("fallback");
        path.push(i.to_string());
        let g = b.resolve.group(Some(b.group), path, name, Role::Serve);
        match (g, groups.as_mut()) {
            (Some(g), Some(gs)) => gs.push(g),
            _ => groups = None,
        }
    }
    groups
}

/// Resolves the backends and fallbacks when the other settings have problems.
pub(super) fn refs(b: &mut Build<'_>) {
    b.dep("backends", Role::Serve);
    fallbacks(b);
}

/// `kind = "load_balancer"`.
#[derive(Clone, Debug, PartialEq)]
pub struct LbSpec {
    pub server: ServerSpec,
    /// `backends`: the group it balances over.
    pub backends: usize,
    pub policy: Balance,
    /// `weights = [...]`, one per backend replica (weighted only).
    pub weights: Vec<f64>,
    pub health_check: Option<HealthCheckSpec>,
    pub when_none_healthy: NoneHealthy,
    /// `timeout` per backend attempt (default "30s").
    pub timeout: SimTime,
    /// `retry`: attempts on other backends (default one attempt).
    pub retry: RetrySpec,
    /// `fallback`: other sites' groups, in order (empty: none).
    pub fallback: Vec<usize>,
    /// `fallback_below`: the healthy share of backends under which it falls back.
    pub fallback_below: f64,
    /// `cells` or `shuffle_shard`: which backends serve which client group.
    pub sharding: Sharding,
    /// `rate_limit` (`policy/rate_limit.rs`).
    pub rate_limit: Option<RateLimitSpec>,
    /// `concurrency_limit` (`policy/concurrency.rs`).
    pub concurrency_limit: Option<ConcurrencySpec>,
}

impl LbSpec {
    /// What its health checker probes: every replica of its backends group, then of each
    /// fallback group in order.
    pub(crate) fn checker_plan(&self, w: &World) -> Option<(HealthCheckSpec, Vec<EntityId>)> {
        self.health_check.clone().map(|spec| {
            let mut targets: Vec<EntityId> = w.members(self.backends).collect();
            for &g in &self.fallback {
                targets.extend(w.members(g));
            }
            (spec, targets)
        })
    }
}

/// Whether group `lb` is a load balancer over group `g` (it registers `g`'s new replicas).
pub(crate) fn balances(w: &World, lb: usize, g: usize) -> bool {
    matches!(&w.spec.groups[lb].kind, KindSpec::LoadBalancer(l) if l.backends == g)
}

impl Node {
    /// Outstanding-request counts per backend replica, and the provisioned backends
    /// registered.
    pub(crate) fn init_lb(&mut self, w: &World, lb: &LbSpec) {
        self.outstanding = vec![0; w.replicas(lb.backends) as usize];
        self.registered = w.provisioned(lb.backends);
    }

    /// Deals the backends to the client groups by `lb.sharding` (at start, and again when a
    /// config change sets other cells or shard sizes).
    pub(crate) fn deal(&mut self, w: &World, lb: &LbSpec) {
        let n = w.replicas(lb.backends);
        let me = &w.spec.groups[self.group].name;
        let mut rank = 0;
        self.tenants = w
            .spec
            .groups
            .iter()
            .map(|g| {
                if !matches!(g.kind, KindSpec::Client(_)) {
                    return Box::default();
                }
                rank += 1;
                lb.sharding
                    .backends(me, &g.name, rank - 1, n)
                    .map_or_else(Box::default, Vec::into_boxed_slice)
            })
            .collect();
        self.dealt = lb.sharding;
    }

    /// Attempt `attempt` of a request: picks a registered backend by the policy among those
    /// eligible (the healthy ones, or all when none is and the LB fails open; a retry avoids
    /// the backend that just failed) and calls it, freeing the worker while it waits.
    pub(crate) fn lb_dispatch(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        attempt: u32,
    ) {
        let KindSpec::LoadBalancer(lb) = self.kind(w) else {
            return;
        };
        let Some(req) = self.jobs.get_mut(slot, gen_).and_then(|j| j.req) else {
            return;
        };
        if attempt == 1 {
            self.earn(&lb.retry);
        }
        self.detach(w, cx, slot, gen_);
        let last = self.jobs.get_mut(slot, gen_).and_then(|j| j.last_backend);
        // Standby replicas are not registered until a scale action provisions them.
        let n = self.registered.clamp(1, w.replicas(lb.backends));
        // The candidates, by position: every registered backend, or the request's tenant's
        // cell or shuffle shard (its registered members).
        if lb.sharding != self.dealt {
            self.deal(w, lb);
        }
        let shard: Option<Box<[u32]>> = match self.tenants.get(usize::from(req.source)) {
            Some(s) if !s.is_empty() => Some(s.iter().copied().filter(|&i| i < n).collect()),
            _ => None,
        };
        if shard.as_ref().is_some_and(|s| s.is_empty()) {
            // Its tenant's backends are all standby: nothing serves it.
            return self.finish(w, cx, slot, gen_, Status::Error, 0);
        }
        let len = shard.as_ref().map_or(n, |s| s.len() as u32);
        let at = |p: u32| {
            shard
                .as_ref()
                .map_or(p, |s| s.get(p as usize).copied().unwrap_or(0))
        };
        let healthy = |node: &Node, i: u32| {
            node.checker
                .as_ref()
                .is_none_or(|c| c.targets[i as usize].healthy)
        };
        let healthy_count = (0..len).filter(|&p| healthy(self, at(p))).count();
        let any_healthy = healthy_count > 0;
        if !lb.fallback.is_empty()
            && (!any_healthy || (healthy_count as f64) < lb.fallback_below * len as f64)
            && self.lb_fall_back(w, cx, slot, gen_, attempt, lb, req)
        {
            return;
        }
        if !any_healthy {
            match lb.when_none_healthy {
                NoneHealthy::Apology => return self.finish(w, cx, slot, gen_, Status::Degraded, 0),
                NoneHealthy::Reject => return self.finish(w, cx, slot, gen_, Status::Error, 0),
                NoneHealthy::FailOpen => {}
            }
        }
        // A retry avoids the backend that just failed, when another one is eligible.
        let eligible = |node: &Node, i: u32| !any_healthy || healthy(node, i);
        let avoid = last.filter(|&l| (0..len).any(|p| at(p) != l && eligible(self, at(p))));
        let ok = |node: &Node, p: u32| eligible(node, at(p)) && Some(at(p)) != avoid;
        let pick = at(match lb.policy {
            Balance::RoundRobin => {
                let mut p = self.rr % len;
                for _ in 0..len {
                    if ok(self, p) {
                        break;
                    }
                    p = (p + 1) % len;
                }
                self.rr = (p + 1) % len;
                p
            }
            Balance::LeastOutstanding => {
                let start = self.rr % len;
                self.rr = (self.rr + 1) % len;
                (0..len)
                    .map(|k| (start + k) % len)
                    .filter(|&p| ok(self, p))
                    .min_by_key(|&p| self.outstanding[at(p) as usize])
                    .unwrap_or(start)
            }
            Balance::Random => {
                let count = (0..len).filter(|&p| ok(self, p)).count() as u64;
                let k = below(cx.rng(), count.max(1));
                (0..len)
                    .filter(|&p| ok(self, p))
                    .nth(k as usize)
                    .unwrap_or(0)
            }
            Balance::Weighted => {
                let total: f64 = (0..len)
                    .filter(|&p| ok(self, p))
                    .map(|p| lb.weights[at(p) as usize])
                    .sum();
                let mut x = unit_f64(cx.rng()) * total;
                let mut chosen = 0;
                for p in (0..len).filter(|&p| ok(self, p)) {
                    chosen = p;
                    x -= lb.weights[at(p) as usize];
                    if x < 0.0 {
                        break;
                    }
                }
                chosen
            }
        });
        self.outstanding[pick as usize] += 1;
        let dst = w.first[lb.backends] + pick;
        self.lb_call(w, cx, (slot, gen_), attempt, dst, &req, lb.timeout.0);
    }

    /// Sends attempt `attempt` of job `job`'s request on to `dst`.
    #[allow(clippy::too_many_arguments)]
    fn lb_call(
        &mut self,
        w: &World,
        cx: &mut Cx,
        (slot, gen_): (u32, u32),
        attempt: u32,
        dst: EntityId,
        req: &crate::model::msg::Req,
        timeout: u64,
    ) {
        let call = Call {
            owner: Owner::Job {
                slot,
                gen_,
                call: 0,
            },
            phase: Phase::Call,
            attempt,
            dst,
            kind: downstream_kind(req.kind),
            source: req.source,
            item: req.item,
            limit: crate::model::node::Lim::Free,
            deadline: 0, // set by place_call
        };
        self.place_call(w, cx, call, timeout);
    }

    /// Proxies a request to a healthy replica of the first fallback group that has one (by
    /// this load balancer's health view), round robin; false when none has.
    #[allow(clippy::too_many_arguments)]
    fn lb_fall_back(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        attempt: u32,
        lb: &LbSpec,
        req: crate::model::msg::Req,
    ) -> bool {
        let Some(ch) = self.checker.as_ref() else {
            return false;
        };
        let mut at = w.replicas(lb.backends) as usize;
        let mut dst = None;
        for &g in &lb.fallback {
            let n = w.replicas(g) as usize;
            let start = self.rr as usize % n.max(1);
            if let Some(k) = (0..n)
                .map(|k| (start + k) % n)
                .find(|&k| ch.targets.get(at + k).is_some_and(|t| t.healthy))
            {
                dst = Some(ch.targets[at + k].entity);
                break;
            }
            at += n;
        }
        let Some(dst) = dst else {
            return false;
        };
        self.rr = self.rr.wrapping_add(1);
        self.lb_call(w, cx, (slot, gen_), attempt, dst, &req, lb.timeout.0);
        true
    }

    /// A call to backend entity `dst` ended: one fewer outstanding there, and the job's next
    /// attempt avoids it.
    pub(crate) fn lb_call_ended(
        &mut self,
        w: &World,
        lb: &LbSpec,
        dst: EntityId,
        slot: u32,
        gen_: u32,
    ) {
        let Some(idx) = dst
            .checked_sub(w.first[lb.backends])
            .filter(|&i| i < w.replicas(lb.backends))
        else {
            return; // a fallback site's replica
        };
        if let Some(o) = self.outstanding.get_mut(idx as usize) {
            *o = o.saturating_sub(1);
        }
        if let Some(job) = self.jobs.get_mut(slot, gen_) {
            job.last_backend = Some(idx);
        }
    }

    /// A `scale` action's standby replicas of `group` are provisioned: this load balancer
    /// registers them.
    pub(crate) fn register_backends(
        &mut self,
        w: &World,
        now: u64,
        a: usize,
        group: usize,
        replicas: u32,
    ) {
        let total = w.replicas(group);
        self.registered = w.provisioned(group).saturating_add(replicas).min(total);
        let g = &w.spec.groups[group].name;
        let detail = format!(
            "{}: {g}[{}..{}]",
            w.spec.actions[a].name,
            w.provisioned(group),
            self.registered
        );
        self.log(w, now, "registered", detail);
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    /// Every problem as (path, message).
    fn problems(text: &str) -> Vec<(String, String)> {
        let text = format!(
            "[scenario]\nname = \"t\"\nduration = \"1h\"\n\n[components.users]\nkind = \"client\"\nrate = 5.0\ntarget = \"lb\"\n\n[components.api]\nkind = \"service\"\n\n{text}"
        );
        let Err(e) = parse(&text, "t.toml") else {
            panic!("expected problems in:\n{text}")
        };
        e.problems
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect()
    }

    #[test]
    fn the_backends_are_resolved_even_when_other_settings_are_bad() {
        let got = problems(
            "[components.lb]\nkind = \"load_balancer\"\nbackends = \"apii\"\ntimeout = \"0s\"\n",
        );
        let want = [
            ("components.lb.backends", "unknown component 'apii'"),
            (
                "components.lb.timeout",
                "must be greater than 0, got \"0s\"",
            ),
        ];
        assert_eq!(got.len(), want.len(), "{got:?}");
        for ((path, message), (p, m)) in got.iter().zip(want) {
            assert_eq!((path.as_str(), message.as_str()), (p, m));
        }
    }

    #[test]
    fn weights_are_one_per_backend_replica_standby_included() {
        let got = problems(
            "[components.lb]\nkind = \"load_balancer\"\nbackends = \"pool\"\npolicy = \"weighted\"\nweights = [1.0, 1.0]\n\n[components.pool]\nkind = \"service\"\nreplicas = 2\nstandby = 1\n",
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            got[0].1,
            "expected 3 weights (one per backend replica), got 2"
        );
        let got = problems(
            "[components.lb]\nkind = \"load_balancer\"\nbackends = \"api\"\npolicy = \"random\"\nweights = [1.0]\n",
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            got[0].1,
            "field 'weights' does not apply to policy 'random'"
        );
    }
}
