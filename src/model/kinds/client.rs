//! `kind = "client"`: a source of user requests, open-loop (Poisson arrivals at a rate that
//! profiles, surges and new-source faults shape) or closed-loop (users who think between
//! requests). A client times out attempts, retries them within its policy and budget, and
//! counts each user request's final outcome and latency.

use crate::engine::SimTime;
use crate::engine::rng::{below, exp1, unit_f64};
use crate::model::metrics::ClientBucket;
use crate::model::msg::{ReqKind, Timer};
use crate::model::node::{Cx, Node, Outcome, Owner, User, send_self};
use crate::model::policy::retry::backoff;
use crate::model::sample::draw;
use crate::model::spec::{Dist, FaultKind, KindSpec, RetrySpec, Target};
use crate::model::world::World;

/// `kind = "client"`: a source of user requests, open-loop (`rate`) or closed-loop
/// (`concurrency`).
#[derive(Clone, Debug, PartialEq)]
pub struct ClientSpec {
    /// `rate`: user requests per second (Poisson), whatever happens to earlier ones. 0 for a
    /// closed-loop client.
    pub rate: f64,
    /// `concurrency = N` with `think_time` (a distribution, default "1s"): N users, each of
    /// whom sends a request, waits for its final outcome (retries included), thinks, and
    /// starts again. Under trouble they send less, as people and blocking callers do.
    pub population: Option<Population>,
    /// `profile = [["0s", 1.0], ["30m", 2.0]]`: from each time on, the rate is multiplied by
    /// the factor (piecewise constant; before the first point the factor is 1).
    pub profile: Vec<(SimTime, f64)>,
    /// `target` (a group name, or a DNS name with `resolver = "<group>"`).
    pub target: Target,
    /// `timeout`: the user's deadline for one attempt (default "30s").
    pub timeout: SimTime,
    /// `retry` (default one attempt).
    pub retry: RetrySpec,
    /// `write_fraction`: share of requests that are writes (matters to storage; default 0).
    pub write_fraction: f64,
}

/// A closed-loop client population.
#[derive(Clone, Debug, PartialEq)]
pub struct Population {
    pub users: u32,
    pub think: Dist,
}

impl Node {
    /// A client's metrics and its peak arrival rate (the rate it draws candidate arrivals at,
    /// thinned to the rate of the moment).
    pub(crate) fn init_client(&mut self, w: &World, c: &ClientSpec) {
        self.client_series = vec![ClientBucket::default(); w.nbuckets];
        let mut peak = c.profile.iter().fold(1.0f64, |m, &(_, f)| m.max(f));
        for f in &w.spec.faults {
            if let (true, FaultKind::TrafficSurge { multiplier, .. }) =
                (f.group() == Some(self.group), &f.kind)
            {
                peak *= multiplier.max(1.0);
            }
        }
        self.lambda_max = c.rate * peak;
    }

    /// The first arrival, and each closed-loop user's first request.
    pub(crate) fn start_client(&mut self, w: &World, cx: &mut Cx) {
        if self.lambda_max > 0.0 {
            self.schedule_arrival(cx);
        }
        if let KindSpec::Client(ClientSpec {
            population: Some(p),
            ..
        }) = &w.spec.groups[self.group].kind
        {
            // Each user starts in the middle of its thinking, as if it had been thinking and
            // asking for a long time: its first request comes after the remaining part of a
            // think time in steady state (the equilibrium residual). It is drawn by running
            // the user's think times forward from a random phase 20 mean think times before
            // zero; a uniform point within one drawn think time instead would front-load
            // exponential thinkers (a quarter of them in the first eighth of a mean) and can
            // start a retry storm by itself.
            let span = 20 * p.think.mean_nanos().max(1.0) as u64;
            for _ in 0..p.users {
                let first = draw(&p.think, cx.rng()).max(1);
                let phase = below(cx.rng(), first);
                let mut t = span.saturating_add(phase);
                while t > 0 {
                    let d = draw(&p.think, cx.rng()).max(1);
                    if d >= t {
                        t = d - t;
                        break;
                    }
                    t -= d;
                }
                send_self(cx, t, Timer::Think);
            }
        }
    }

    pub(crate) fn schedule_arrival(&mut self, cx: &mut Cx) {
        let gap = exp1(cx.rng()) / self.lambda_max * 1e9;
        send_self(cx, (gap + 0.5) as u64, Timer::Arrival);
    }

    /// The client's rate now: base rate x profile x active surges.
    pub(crate) fn rate_now(&self, w: &World, now: u64) -> f64 {
        let KindSpec::Client(c) = self.kind(w) else {
            return 0.0;
        };
        let mut factor = 1.0;
        for &(t, f) in &c.profile {
            if t.0 <= now {
                factor = f;
            }
        }
        // A new source is silent outside its fault windows.
        let (mut new_source, mut appeared) = (false, false);
        for (i, f) in w.spec.faults.iter().enumerate() {
            if f.group() != Some(self.group) {
                continue;
            }
            let mut end = f.duration.map_or(u64::MAX, |d| f.at.0.saturating_add(d.0));
            if let Some(t) = self.ops.ended_at(i) {
                end = end.min(t);
            }
            if matches!(f.kind, FaultKind::NewSource) {
                new_source = true;
                appeared |= now >= f.at.0 && now < end;
            }
            if let FaultKind::TrafficSurge { multiplier, ramp } = f.kind {
                if now >= f.at.0 && now < end {
                    let into = now - f.at.0;
                    let m = if ramp.0 > 0 && into < ramp.0 {
                        1.0 + (multiplier - 1.0) * into as f64 / ramp.0 as f64
                    } else {
                        multiplier
                    };
                    factor *= m;
                }
            }
        }
        if new_source && !appeared {
            0.0
        } else {
            c.rate * factor
        }
    }

    pub(crate) fn on_arrival_timer(&mut self, w: &World, cx: &mut Cx) {
        let now = cx.now().0;
        if now >= w.spec.duration.0 {
            return;
        }
        let lambda = self.rate_now(w, now);
        let accept = unit_f64(cx.rng()) * self.lambda_max < lambda;
        if accept && !self.crashed {
            self.new_request(w, cx);
        }
        self.schedule_arrival(cx);
    }

    /// A closed-loop user is done thinking: its next request starts (before the end).
    pub(crate) fn on_think(&mut self, w: &World, cx: &mut Cx) {
        if cx.now().0 < w.spec.duration.0 {
            self.new_request(w, cx);
        }
    }

    /// A user request starts: counted, and its first attempt sent.
    pub(crate) fn new_request(&mut self, w: &World, cx: &mut Cx) {
        let KindSpec::Client(c) = self.kind(w) else {
            return;
        };
        let now = cx.now().0;
        let write = c.write_fraction > 0.0 && unit_f64(cx.rng()) < c.write_fraction;
        self.client_series[w.bucket_of(now)].requests += 1;
        let gen_ = self.next_gen();
        let slot = self.users.insert(gen_, User { start: now, write });
        self.start_attempt(w, cx, slot, gen_, 1);
    }

    /// A closed-loop user starts thinking (then sends its next request).
    pub(crate) fn think(&self, w: &World, cx: &mut Cx) {
        if let KindSpec::Client(c) = self.kind(w) {
            if let Some(p) = &c.population {
                let d = draw(&p.think, cx.rng());
                send_self(cx, d, Timer::Think);
            }
        }
    }

    pub(crate) fn start_attempt(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        attempt: u32,
    ) {
        let Some(user) = self.users.get_mut(slot, gen_) else {
            return;
        };
        let write = user.write;
        let KindSpec::Client(c) = self.kind(w) else {
            return;
        };
        let now = cx.now().0;
        self.client_series[w.bucket_of(now)].attempts += 1;
        if attempt == 1 {
            self.earn(&c.retry);
        }
        let owner = Owner::User { slot, gen_ };
        let source = self.group as u16;
        self.call_out(
            w,
            cx,
            owner,
            &c.target,
            ReqKind::Work,
            source,
            write,
            c.timeout.0,
            attempt,
        );
    }

    pub(crate) fn user_result(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        attempt: u32,
        out: Outcome,
    ) {
        let now = cx.now().0;
        let KindSpec::Client(c) = self.kind(w) else {
            return;
        };
        if !out.succeeded() && attempt < c.retry.attempts && self.budget_allows(&c.retry) {
            let wait = backoff(&c.retry, attempt + 1, cx.rng());
            send_self(
                cx,
                wait,
                Timer::Attempt {
                    slot,
                    gen_,
                    attempt: attempt + 1,
                },
            );
            return;
        }
        let Some(user) = self.users.remove(slot, gen_) else {
            return;
        };
        self.think(w, cx);
        let b = &mut self.client_series[w.bucket_of(now)];
        match out {
            Outcome::Ok => b.successes += 1,
            Outcome::Degraded => b.degraded += 1,
            // A wrong page is a failure for the user, even though nothing retried it.
            Outcome::Error | Outcome::Wrong => b.errors += 1,
            Outcome::Timeout => b.timeouts += 1,
        }
        if matches!(out, Outcome::Ok | Outcome::Degraded) {
            b.latency.record(now - user.start);
            if !self.reporter.monitors.is_empty() {
                self.report_latency(now - user.start);
            }
        }
    }
}
