//! Concurrency limits (bulkheads): the `concurrency_limit` settings of clients, of a
//! service's calls, of load balancers and proxies, and the limiter each caller replica keeps per target. A call over the
//! limit fails at once as `throttled`, or (`mode = "wait"`) waits in line for a free place
//! until its own timeout. The limit is fixed, or adapts to what the caller sees:
//!
//! - `aimd`: +1/limit for each success (one more place per limit's worth of successes), times
//!   `decrease` for each timeout, error or success slower than `latency_bound`.
//! - `gradient` (Vegas-like): after each success, new = limit x min(1, max(0.5, tolerance x
//!   min_latency / latency)) + sqrt(limit), and limit moves `smoothing` of the way to it;
//!   `min_latency` is the lowest latency seen. Latency beyond `tolerance` times the unloaded
//!   one shrinks the limit (towards 4, the fixed point of L = L/2 + sqrt L); below, the
//!   sqrt(limit) headroom grows it.
//!
//! Adaptive limits stay within [`min_limit`, `max_limit`]; the place count is the limit
//! rounded down.

use crate::model::msg::Timer;
use crate::model::node::{Call, Cx, Lim, Node, Outcome, Owner, send_self};
use crate::model::settings::{
    Count, Fraction, Input, Issue, Opt, PosDuration, Reader, Value, Word, number,
};
use crate::model::spec::KindSpec;
use crate::model::world::World;
use crate::{settings, words};
use serde_json::{Value as Json, json};
use std::collections::VecDeque;

/// How the limit moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// Stays at `limit`.
    Fixed,
    /// Additive increase, multiplicative decrease.
    Aimd,
    /// Scaled by min latency / latency (Vegas-like).
    Gradient,
}

words!(
    Algorithm,
    "limit algorithm",
    [
        ("fixed", Algorithm::Fixed),
        ("aimd", Algorithm::Aimd),
        ("gradient", Algorithm::Gradient),
    ]
);

/// What happens to a call over the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverLimit {
    /// Fails at once (`throttled`).
    Reject,
    /// Waits in line for a place, until its timeout.
    Wait,
}

words!(
    OverLimit,
    "over-limit mode",
    [("reject", OverLimit::Reject), ("wait", OverLimit::Wait)]
);

/// The most calls a limit may allow in flight.
pub const MAX_LIMIT: u32 = 1_000_000;

settings! {
    /// A cap on one caller replica's calls in flight to a target (a bulkhead), fixed or adaptive; calls over it fail fast as throttled, or wait for a place.
    pub struct ConcurrencySpec "concurrency_limit" check ConcurrencySpec::check_written {
        /// Calls in flight at most (the starting limit of an adaptive algorithm).
        limit: Count<1, MAX_LIMIT> = 10,
        /// How the limit moves: fixed, aimd or gradient.
        algorithm: Word<Algorithm> = Algorithm::Fixed,
        /// A call over the limit: reject (throttled at once) or wait (in line, until its timeout).
        mode: Word<OverLimit> = OverLimit::Reject,
        /// Adaptive: the lowest the limit goes.
        min_limit: Count<1, MAX_LIMIT> = 1,
        /// Adaptive: the highest the limit goes.
        max_limit: Count<1, MAX_LIMIT> = 1000,
        /// AIMD: the factor the limit is multiplied by on a timeout, error or slow success.
        decrease: Fraction = 0.9,
        /// AIMD: a success slower than this counts as a drop (none: only failures do).
        latency_bound: Opt<PosDuration> = None,
        /// Gradient: how far the limit moves towards its new value after each success.
        smoothing: Fraction = 0.2,
        /// Gradient: latency up to this multiple of the lowest seen counts as unloaded.
        tolerance: Tolerance = 2.0,
    }
}

impl ConcurrencySpec {
    /// Adaptive bounds in order around the limit; settings of other algorithms absent.
    pub fn check_written(&self, entries: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> bool {
        let written = |f: &str| entries.iter().any(|(k, _)| *k == f);
        let mut ok = true;
        let only = |f: &str, algo: Algorithm| match f {
            "min_limit" | "max_limit" => algo != Algorithm::Fixed,
            "decrease" | "latency_bound" => algo == Algorithm::Aimd,
            "smoothing" | "tolerance" => algo == Algorithm::Gradient,
            _ => true,
        };
        let name = match self.algorithm {
            Algorithm::Fixed => "fixed",
            Algorithm::Aimd => "aimd",
            Algorithm::Gradient => "gradient",
        };
        for f in [
            "min_limit",
            "max_limit",
            "decrease",
            "latency_bound",
            "smoothing",
            "tolerance",
        ] {
            if written(f) && !only(f, self.algorithm) {
                ok = false;
                let issue = Issue::new(
                    r.at(f),
                    format!("field '{f}' does not apply to algorithm '{name}'"),
                )
                .hint("min_limit and max_limit: aimd or gradient; decrease and latency_bound: aimd; smoothing and tolerance: gradient".to_owned())
                .at_key();
                r.push(issue);
            }
        }
        if self.algorithm != Algorithm::Fixed
            && !(self.min_limit <= self.limit && self.limit <= self.max_limit)
        {
            ok = false;
            let issue = Issue::new(
                r.at("limit"),
                format!(
                    "limit {} is outside [min_limit, max_limit] = [{}, {}]",
                    self.limit, self.min_limit, self.max_limit
                ),
            )
            .value(self.limit.to_string())
            .hint("the starting limit must lie between min_limit and max_limit".to_owned());
            r.push(issue);
        }
        if self.algorithm == Algorithm::Aimd && !(self.decrease > 0.0 && self.decrease < 1.0) {
            ok = false;
            let issue = Issue::new(
                r.at("decrease"),
                format!(
                    "decrease must be between 0 and 1 (exclusive), got {}",
                    self.decrease
                ),
            )
            .value(self.decrease.to_string())
            .hint("the limit is multiplied by it on a drop, e.g. decrease = 0.9".to_owned());
            r.push(issue);
        }
        ok
    }
}

/// A multiple of a latency: a number from 1 to 100.
pub struct Tolerance;

impl Value for Tolerance {
    type Out = f64;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<f64> {
        let v = number(input, r)?;
        if (1.0..=100.0).contains(&v) {
            return Some(v);
        }
        let issue = r
            .problem(format!("must be from 1 to 100, got {v}"))
            .value(v.to_string())
            .hint(
                "how many times the lowest latency still counts as unloaded, e.g. tolerance = 2.0"
                    .to_owned(),
            );
        r.push(issue);
        None
    }
    fn what() -> String {
        "a number from 1 to 100".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "number", "minimum": 1, "maximum": 100 })
    }
    fn show(v: &f64) -> String {
        format!("{v:?}")
    }
}

/// One target's limiter at one caller replica.
#[derive(Clone, Debug, Default)]
pub(crate) struct Limiter {
    /// The current limit (adaptive algorithms move it; 0 until first used).
    pub(crate) limit: f64,
    /// Calls holding a place.
    pub(crate) in_flight: u32,
    /// The most calls that ever held a place at once.
    pub(crate) peak: u32,
    /// The lowest limit reached so far.
    pub(crate) lowest: f64,
    /// Gradient: the lowest latency seen (ns; 0 before the first).
    min_latency: u64,
    /// Calls waiting for a place, oldest first (slot, gen; ones that timed out are skipped).
    waiting: VecDeque<(u32, u32)>,
}

impl Limiter {
    fn fresh(spec: &ConcurrencySpec) -> Limiter {
        let limit = f64::from(spec.limit);
        Limiter {
            limit,
            lowest: limit,
            ..Limiter::default()
        }
    }

    /// Places now: the limit rounded down, at least 1.
    pub(crate) fn cap(&self) -> u32 {
        (self.limit as u32).max(1)
    }

    /// Moves an adaptive limit after a call that held a place ended with `out` after
    /// `latency` ns.
    pub(crate) fn learn(&mut self, spec: &ConcurrencySpec, out: Outcome, latency: u64) {
        let (lo, hi) = (f64::from(spec.min_limit), f64::from(spec.max_limit));
        match spec.algorithm {
            Algorithm::Fixed => return,
            Algorithm::Aimd => {
                let slow = spec.latency_bound.is_some_and(|b| latency > b.0);
                if out.succeeded() && !slow {
                    self.limit += 1.0 / self.limit;
                } else if out != Outcome::Throttled {
                    self.limit *= spec.decrease;
                }
            }
            Algorithm::Gradient => {
                if !out.succeeded() {
                    return;
                }
                let latency = latency.max(1);
                if self.min_latency == 0 || latency < self.min_latency {
                    self.min_latency = latency;
                }
                let ratio =
                    (spec.tolerance * self.min_latency as f64 / latency as f64).clamp(0.5, 1.0);
                let target = self.limit * ratio + self.limit.sqrt();
                self.limit += spec.smoothing * (target - self.limit);
            }
        }
        self.limit = self.limit.clamp(lo, hi);
        self.lowest = self.lowest.min(self.limit);
    }
}

/// The concurrency limit an outbound call of `owner` is under: which limiter, and its
/// settings. Clients' calls, each service call, and a load balancer's or proxy's calls to its
/// backends or upstream have their own.
pub(crate) fn limit_of<'k>(
    kind: &'k KindSpec,
    owner: &Owner,
) -> Option<(u16, &'k ConcurrencySpec)> {
    match (kind, owner) {
        (KindSpec::Client(c), Owner::User { .. }) => c.concurrency_limit.as_ref().map(|s| (0, s)),
        (KindSpec::Service(s), Owner::Job { call, .. }) => s
            .calls
            .get(usize::from(*call))
            .and_then(|c| c.concurrency_limit.as_ref())
            .map(|l| (*call, l)),
        (KindSpec::LoadBalancer(lb), Owner::Job { .. }) => {
            lb.concurrency_limit.as_ref().map(|s| (0, s))
        }
        (KindSpec::Proxy(p, _), Owner::Job { .. }) => p.concurrency_limit.as_ref().map(|s| (0, s)),
        _ => None,
    }
}

impl Node {
    /// A call about to go out (already in the slab as `slot`/`gen_`): whether its request may
    /// be sent now. Over the limit it waits in line, or is failed as throttled at once (by a
    /// zero-delay timer, so its owner learns of it as of any other call's end).
    pub(crate) fn limit_admit(&mut self, w: &World, cx: &mut Cx, slot: u32, gen_: u32) -> bool {
        let kind = self.kind(w);
        let Some(call) = self.calls.get_mut(slot, gen_) else {
            return false;
        };
        let Some((idx, spec)) = limit_of(kind, &call.owner) else {
            return true;
        };
        let i = usize::from(idx);
        if self.limiters.len() <= i {
            self.limiters.resize(i + 1, Limiter::default());
        }
        if self.limiters[i].limit == 0.0 {
            self.limiters[i] = Limiter::fresh(spec);
        }
        let now = cx.now().0;
        let l = &mut self.limiters[i];
        if l.in_flight < l.cap() {
            l.in_flight += 1;
            l.peak = l.peak.max(l.in_flight);
            call.limit = Lim::Holding { idx, sent: now };
            self.note_limiter(w, idx, now);
            return true;
        }
        match spec.mode {
            OverLimit::Wait => {
                l.waiting.push_back((slot, gen_));
                call.limit = Lim::Waiting;
            }
            OverLimit::Reject => {
                call.limit = Lim::Rejected;
                if let Some(b) = self.server_series.get_mut(w.bucket_of(now)) {
                    b.throttled += 1;
                }
                send_self(cx, 0, Timer::CallTimeout { slot, gen_ });
            }
        }
        false
    }

    /// A call that held a place ended (`out`; None: abandoned for its hedge sibling): the
    /// place is free, an adaptive limit learns from the outcome, and waiting calls go out
    /// while there are places.
    pub(crate) fn limit_release(
        &mut self,
        w: &World,
        cx: &mut Cx,
        call: &Call,
        out: Option<Outcome>,
    ) {
        let Lim::Holding { idx, sent } = call.limit else {
            return;
        };
        let Some((_, spec)) = limit_of(self.kind(w), &call.owner) else {
            // Settings changed under it: just free the place.
            if let Some(l) = self.limiters.get_mut(usize::from(idx)) {
                l.in_flight = l.in_flight.saturating_sub(1);
            }
            return;
        };
        let now = cx.now().0;
        let Some(l) = self.limiters.get_mut(usize::from(idx)) else {
            return;
        };
        l.in_flight = l.in_flight.saturating_sub(1);
        if let Some(out) = out {
            l.learn(spec, out, now - sent);
        }
        while self.limiters[usize::from(idx)].in_flight < self.limiters[usize::from(idx)].cap() {
            let l = &mut self.limiters[usize::from(idx)];
            let Some((slot, gen_)) = l.waiting.pop_front() else {
                break;
            };
            let Some(waiting) = self.calls.get_mut(slot, gen_) else {
                continue; // timed out while waiting
            };
            waiting.limit = Lim::Holding { idx, sent: now };
            l.in_flight += 1;
            l.peak = l.peak.max(l.in_flight);
            self.send_call(w, cx, slot, gen_);
        }
        self.note_limiter(w, idx, now);
    }

    /// A client's bucket notes its limiter's in-flight count and limit.
    fn note_limiter(&mut self, w: &World, idx: u16, now: u64) {
        let (Some(l), false) = (
            self.limiters.get(usize::from(idx)),
            self.client_series.is_empty(),
        ) else {
            return;
        };
        let b = &mut self.client_series[w.bucket_of(now)];
        b.peak_in_flight = b.peak_in_flight.max(l.in_flight);
        b.lowest_limit = Some(b.lowest_limit.map_or(l.limit, |x| x.min(l.limit)));
    }

    /// A crash forgets every call: no place is held, nobody waits.
    pub(crate) fn clear_limiters(&mut self) {
        for l in &mut self.limiters {
            l.in_flight = 0;
            l.waiting.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimTime;

    fn spec(algorithm: Algorithm) -> ConcurrencySpec {
        ConcurrencySpec {
            limit: 20,
            algorithm,
            mode: OverLimit::Reject,
            min_limit: 2,
            max_limit: 100,
            decrease: 0.5,
            latency_bound: Some(SimTime::from_millis(100)),
            smoothing: 0.2,
            tolerance: 1.0,
        }
    }

    #[test]
    fn aimd_halves_on_drops_and_climbs_back_one_per_limit_of_successes() {
        let s = spec(Algorithm::Aimd);
        let mut l = Limiter::fresh(&s);
        for _ in 0..3 {
            l.learn(&s, Outcome::Timeout, 0);
        }
        assert_eq!(l.limit, 2.5);
        // A slow success is a drop too; the floor holds.
        l.learn(&s, Outcome::Ok, SimTime::from_millis(200).0);
        assert_eq!(l.limit, 2.0);
        assert_eq!(l.lowest, 2.0);
        let ms = SimTime::from_millis(1).0;
        for _ in 0..200 {
            l.learn(&s, Outcome::Ok, 10 * ms);
        }
        // Sum of 1/limit steps: limit^2/2 grows by about 1 per success.
        assert!(l.limit > 19.0 && l.limit < 21.0, "{}", l.limit);
        assert_eq!(l.cap(), l.limit as u32);
    }

    #[test]
    fn gradient_shrinks_when_latency_grows_and_grows_when_it_is_low() {
        let s = spec(Algorithm::Gradient);
        let mut l = Limiter::fresh(&s);
        let ms = SimTime::from_millis(1).0;
        l.learn(&s, Outcome::Ok, 10 * ms);
        let after_fast = l.limit;
        assert!(after_fast > 20.0);
        for _ in 0..50 {
            l.learn(&s, Outcome::Ok, 40 * ms);
        }
        // At twice and more the unloaded latency the gradient is 0.5: limit -> 0.5 L + sqrt L,
        // whose fixed point is L = 4.
        assert!(l.limit < 5.0, "{}", l.limit);
        for _ in 0..200 {
            l.learn(&s, Outcome::Ok, 10 * ms);
        }
        assert_eq!(l.limit, 100.0);
        // Failures leave it alone.
        l.learn(&s, Outcome::Error, 0);
        assert_eq!(l.limit, 100.0);
    }

    #[test]
    fn a_fixed_limit_does_not_move() {
        let s = spec(Algorithm::Fixed);
        let mut l = Limiter::fresh(&s);
        l.learn(&s, Outcome::Timeout, 0);
        l.learn(&s, Outcome::Ok, 1);
        assert_eq!(l.cap(), 20);
    }
}
