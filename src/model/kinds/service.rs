//! `kind = "service"`: a thread-per-request server that calls its dependencies (`calls`), one
//! after another or all at once (`parallel`), holding its worker while it waits. Each call has
//! its own timeout and retry policy, and with `circuit_breaker` its own breaker. A request
//! succeeds when every call does; a wrong or degraded answer from one makes its answer so.

use crate::engine::SimTime;
use crate::model::msg::{Status, Timer};
use crate::model::node::{Cx, Node, Outcome, Owner, downstream_kind, send_self};
use crate::model::policy::breaker::Breaker;
use crate::model::policy::concurrency::ConcurrencySpec;
use crate::model::policy::conn::ConnSpec;
use crate::model::policy::rate_limit::RateLimitSpec;
use crate::model::policy::retry::backoff;
use crate::model::settings::{Input, List, Nested, Opt, PosDuration, Shape, Switch, Text};
use crate::model::spec::{BreakerSpec, KindSpec, RetrySpec, ServerSpec, Target};
use crate::model::world::World;
use crate::settings;

use super::{Build, KindSettings};

settings! {
    /// One entry of a service's `calls`: a dependency it calls for each request.
    pub struct CallSettings "calls" {
        /// The component it calls, or a DNS name looked up through `resolver`.
        target: Text => "add target = \"<component>\" or a DNS name with resolver = \"<resolver>\"",
        /// The resolver that looks a DNS name target up (none: the only resolver).
        resolver: Opt<Text> = None,
        /// Timeout of each attempt.
        timeout: PosDuration = SimTime::from_secs(30),
        /// How failed attempts are retried.
        retry: Nested<RetrySpec> = RetrySpec::once(),
        /// A cap on each replica's calls in flight to it, fixed or adaptive (none: no cap).
        concurrency_limit: Opt<Nested<ConcurrencySpec>> = None,
    }
}

settings! {
    /// `kind = "service"`: a thread-per-request server that calls its dependencies.
    pub struct ServiceSettings "service" {
        /// The dependencies it calls for each request, in order.
        calls: List<Nested<CallSettings>> = Vec::new(),
        /// Make all calls at once rather than one after another.
        parallel: Switch = false,
        /// A circuit breaker per call (none: no breakers).
        circuit_breaker: Opt<Nested<BreakerSpec>> = None,
        /// A token-bucket limit on the work it admits (none: no limit).
        rate_limit: Opt<Nested<RateLimitSpec>> = None,
        /// Pooled connections to each group it calls (none: no connection model).
        connections: Opt<Nested<ConnSpec>> = None,
    }
}

impl KindSettings for ServiceSettings {
    fn build(self, b: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec> {
        let mut calls = Some(Vec::new());
        for (j, call) in self.calls.into_iter().enumerate() {
            let cpath = call_path(b, j);
            let target = b.resolve.target(
                b.group,
                &cpath,
                Some(&call.target),
                call.resolver.as_deref(),
            );
            match (target, calls.as_mut()) {
                (Some(target), Some(v)) => v.push(CallSpec {
                    target,
                    timeout: call.timeout,
                    retry: call.retry,
                    concurrency_limit: call.concurrency_limit,
                }),
                _ => calls = None,
            }
        }
        Some(KindSpec::Service(ServiceSpec {
            server,
            calls: calls?,
            parallel: self.parallel,
            circuit_breaker: self.circuit_breaker,
            rate_limit: self.rate_limit,
            connections: self.connections,
        }))
    }
}

/// The path of call `j`.
fn call_path(b: &Build<'_>, j: usize) -> Vec<String> {
    let mut p = b.at("calls");
    p.push(j.to_string());
    p
}

/// Resolves the calls' targets written when the other settings have problems.
pub(super) fn refs(b: &mut Build<'_>) {
    let Some((_, calls)) = b.entries.iter().find(|(k, _)| *k == "calls") else {
        return;
    };
    let Shape::Array(calls) = calls.shape() else {
        return;
    };
    let text = |entries: &[(&str, &dyn Input)], f: &str| {
        entries
            .iter()
            .find(|(k, _)| *k == f)
            .and_then(|(_, v)| match v.shape() {
                Shape::Str(s) => Some(s.to_owned()),
                _ => None,
            })
    };
    for (j, call) in calls.iter().enumerate() {
        let Shape::Table(entries) = call.shape() else {
            continue;
        };
        if let Some(target) = text(&entries, "target") {
            let resolver = text(&entries, "resolver");
            let cpath = call_path(b, j);
            b.resolve
                .target(b.group, &cpath, Some(&target), resolver.as_deref());
        }
    }
}

/// `calls = [{ target = "db", timeout = "1s", retry = {...} }]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSpec {
    pub target: Target,
    pub timeout: SimTime,
    pub retry: RetrySpec,
    /// `concurrency_limit` (`policy/concurrency.rs`).
    pub concurrency_limit: Option<ConcurrencySpec>,
}

/// `kind = "service"`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSpec {
    pub server: ServerSpec,
    pub calls: Vec<CallSpec>,
    /// `parallel = true`: all calls at once; default false: one after another.
    pub parallel: bool,
    pub circuit_breaker: Option<BreakerSpec>,
    /// `rate_limit` (`policy/rate_limit.rs`).
    pub rate_limit: Option<RateLimitSpec>,
    /// `connections`: pooled connections to each group it calls (`policy/conn.rs`).
    pub connections: Option<ConnSpec>,
}

impl Node {
    /// One closed breaker per call.
    pub(crate) fn init_service(&mut self, s: &ServiceSpec) {
        self.breakers = vec![Breaker::default(); s.calls.len()];
    }

    /// A request, after its service time: its calls start (all of them, or the first).
    pub(crate) fn service_start(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        s: &ServiceSpec,
    ) {
        if s.calls.is_empty() {
            self.finish(w, cx, slot, gen_, Status::Ok, 0);
        } else if s.parallel {
            let n = s.calls.len();
            if let Some(job) = self.jobs.get_mut(slot, gen_) {
                job.pending = n as u32;
            }
            for i in 0..n {
                self.service_call(w, cx, slot, gen_, i as u16, 1);
            }
        } else {
            self.service_call(w, cx, slot, gen_, 0, 1);
        }
    }

    /// Attempt `attempt` of call `i`: fails at once while the call's breaker is open, else
    /// goes out to the call's target.
    pub(crate) fn service_call(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        i: u16,
        attempt: u32,
    ) {
        let KindSpec::Service(s) = self.kind(w) else {
            return;
        };
        let Some(req) = self.jobs.get_mut(slot, gen_).and_then(|j| j.req) else {
            return;
        };
        let call = &s.calls[i as usize];
        let now = cx.now().0;
        if attempt == 1 {
            self.earn(&call.retry);
        }
        if s.circuit_breaker.is_some() && !self.breakers[i as usize].admit(now) {
            // The breaker is open: the call fails at once.
            return self.job_call_result(w, cx, slot, gen_, i, u32::MAX, Outcome::Error, 0);
        }
        let kind = downstream_kind(req.kind);
        let owner = Owner::Job {
            slot,
            gen_,
            call: i,
        };
        self.call_out(
            w,
            cx,
            owner,
            &call.target,
            kind,
            req.source,
            req.item,
            call.timeout.0,
            attempt,
        );
    }

    /// Call `i` ended: the breaker counts it; a failure is retried within the policy and
    /// budget, else fails the request; a success starts the next call or ends the request.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn service_result(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        s: &ServiceSpec,
        i: u16,
        attempt: u32,
        out: Outcome,
    ) {
        let now = cx.now().0;
        if let Some(cb) = &s.circuit_breaker {
            if attempt != u32::MAX {
                let change = self.breakers[i as usize].record(cb, out.succeeded(), now);
                if let Some(kind) = change {
                    let target = target_name(w, &s.calls[i as usize].target);
                    self.log(w, now, kind, format!("call {i} to {target}"));
                }
            }
        }
        let call = &s.calls[i as usize];
        if !out.succeeded() {
            if attempt != u32::MAX
                && attempt < call.retry.attempts
                && self.budget_allows(&call.retry)
            {
                let wait = backoff(&call.retry, attempt + 1, cx.rng());
                send_self(
                    cx,
                    wait,
                    Timer::RetryCall {
                        slot,
                        gen_,
                        call: i,
                        attempt: attempt + 1,
                    },
                );
                return;
            }
            return self.finish(w, cx, slot, gen_, Status::Error, 0);
        }
        let job = self.jobs.get_mut(slot, gen_).expect("checked");
        job.degraded |= out == Outcome::Degraded;
        job.wrong |= out == Outcome::Wrong;
        let status = job.answer();
        if s.parallel {
            job.pending -= 1;
            if job.pending == 0 {
                self.finish(w, cx, slot, gen_, status, 0);
            }
        } else {
            job.next_call = i + 1;
            if (i as usize + 1) < s.calls.len() {
                self.service_call(w, cx, slot, gen_, i + 1, 1);
            } else {
                self.finish(w, cx, slot, gen_, status, 0);
            }
        }
    }
}

pub(crate) fn target_name(w: &World, t: &Target) -> String {
    match t {
        Target::Group(g) => w.spec.groups[*g].name.clone(),
        Target::Dns { name, .. } => name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    #[test]
    fn call_targets_are_resolved_even_when_a_call_is_bad() {
        let text = "[scenario]\nname = \"t\"\nduration = \"1h\"\n\n[components.users]\nkind = \"client\"\nrate = 5.0\ntarget = \"api\"\n\n[components.api]\nkind = \"service\"\ncalls = [{ target = \"dbb\" }, { target = \"api\", timeout = 5 }]\n\n[components.db]\nkind = \"storage\"\n";
        let Err(e) = parse(text, "t.toml") else {
            panic!("expected problems")
        };
        let got: Vec<(&str, &str)> = e
            .problems
            .iter()
            .map(|p| (p.path.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(got.len(), 3, "{got:#?}");
        assert_eq!(
            got[0],
            ("components.api.calls.0.target", "unknown component 'dbb'")
        );
        // The call to itself is still an edge of the dependency graph.
        assert_eq!(
            got[1],
            (
                "components.api.calls.1.target",
                "dependency cycle: api -> api"
            )
        );
        assert_eq!(got[2].0, "components.api.calls.1.timeout");
    }
}
