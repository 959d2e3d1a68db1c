//! `kind = "service"`: a thread-per-request server that calls its dependencies (`calls`), one
//! after another or all at once (`parallel`), holding its worker while it waits. Each call has
//! its own timeout and retry policy, and with `circuit_breaker` its own breaker. A request
//! succeeds when every call does; a wrong or degraded answer from one makes its answer so.

use crate::engine::SimTime;
use crate::model::msg::{Status, Timer};
use crate::model::node::{Cx, Node, Outcome, Owner, downstream_kind, send_self};
use crate::model::policy::breaker::Breaker;
use crate::model::policy::retry::backoff;
use crate::model::spec::{BreakerSpec, KindSpec, RetrySpec, ServerSpec, Target};
use crate::model::world::World;

/// `calls = [{ target = "db", timeout = "1s", retry = {...} }]`.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSpec {
    pub target: Target,
    pub timeout: SimTime,
    pub retry: RetrySpec,
}

/// `kind = "service"`.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceSpec {
    pub server: ServerSpec,
    pub calls: Vec<CallSpec>,
    /// `parallel = true`: all calls at once; default false: one after another.
    pub parallel: bool,
    pub circuit_breaker: Option<BreakerSpec>,
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
            req.write,
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
