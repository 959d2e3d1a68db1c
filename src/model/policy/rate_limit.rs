//! Rate limits: the `rate_limit` settings of services, proxies and load balancers, and the
//! token buckets each replica keeps. A bucket holds at most `burst` tokens and gains `rate` a
//! second; a user request (work, not health checks or lookups) takes one token as it arrives.
//! Without one it is refused at once (`throttled`, like HTTP 429), or in delay mode held until
//! its token comes, if that is within `max_delay`.
//!
//! Buckets are per replica: with `share = "group"` the group's rate and burst are split evenly
//! over its configured replicas (each gets rate/n and burst/n, at least one token), so no
//! replica consults another (deterministic, and a partition cannot make them disagree); with
//! `per = "tenant"` each client group the work comes from has its own bucket.

use serde_json::{Value as Json, json};

use crate::engine::SimTime;
use crate::model::msg::{Req, ReqKind, Status, Timer};
use crate::model::node::{Cx, Node, respond, send_self};
use crate::model::sample::Slab;
use crate::model::settings::{Count, Input, Issue, PosDuration, Reader, Value, Word, number};
use crate::model::spec::KindSpec;
use crate::model::world::World;
use crate::{settings, words};

/// Which requests share a bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Per {
    /// One bucket for all work.
    All,
    /// One bucket per client group the work comes from.
    Tenant,
}

words!(
    Per,
    "bucket key",
    [("all", Per::All), ("tenant", Per::Tenant)]
);

/// Whose limit `rate` and `burst` are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Share {
    /// Every replica has the whole rate and burst.
    Replica,
    /// The group's: each of its n replicas gets rate/n and burst/n.
    Group,
}

words!(
    Share,
    "limit share",
    [("replica", Share::Replica), ("group", Share::Group)]
);

/// What happens to a request over the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Refused at once (`throttled`).
    Reject,
    /// Held until a token is available, at most `max_delay`; refused beyond.
    Delay,
}

words!(
    Mode,
    "rate limit mode",
    [("reject", Mode::Reject), ("delay", Mode::Delay)]
);

settings! {
    /// A token bucket on the work a replica admits: `rate` tokens a second, at most `burst` saved; a request without a token is throttled (429) or, with `mode = "delay"`, held until its token comes.
    pub struct RateLimitSpec "rate_limit" check RateLimitSpec::check_written {
        /// Tokens a second: the sustained rate of requests admitted.
        rate: TokenRate => "add rate = <requests per second>, e.g. rate = 100.0",
        /// Tokens a bucket holds at most: requests admitted back to back after a quiet spell.
        burst: Count<1, 1_000_000_000> = 1,
        /// Which requests share a bucket: all, or each client group (tenant) its own.
        per: Word<Per> = Per::All,
        /// Whose limit it is: each replica's, or the group's split evenly over its replicas (rate/n and burst/n each).
        share: Word<Share> = Share::Replica,
        /// Over the limit: reject (throttled at once) or delay (held until a token comes).
        mode: Word<Mode> = Mode::Reject,
        /// Delay mode: the longest a request is held; one that would wait longer is throttled.
        max_delay: PosDuration = SimTime::from_secs(1),
    }
}

impl RateLimitSpec {
    /// `max_delay` only applies in delay mode.
    pub fn check_written(&self, entries: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> bool {
        if self.mode == Mode::Reject && entries.iter().any(|(k, _)| *k == "max_delay") {
            let issue = Issue::new(
                r.at("max_delay"),
                "field 'max_delay' does not apply to mode 'reject'",
            )
            .hint("set mode = \"delay\" to hold requests until a token comes".to_owned())
            .at_key();
            r.push(issue);
            return false;
        }
        true
    }

    /// One replica's rate and burst among `n`.
    pub fn per_replica(&self, n: u32) -> (f64, f64) {
        match self.share {
            Share::Replica => (self.rate, f64::from(self.burst)),
            Share::Group => {
                let n = f64::from(n.max(1));
                (self.rate / n, (f64::from(self.burst) / n).max(1.0))
            }
        }
    }
}

/// Tokens a second: a number greater than 0.
pub struct TokenRate;

impl Value for TokenRate {
    type Out = f64;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<f64> {
        let v = number(input, r)?;
        if v.is_finite() && v > 0.0 && v <= 1e9 {
            return Some(v);
        }
        let issue = r
            .problem(format!(
                "a rate limit must be greater than 0 and at most 1e9 a second, got {v}"
            ))
            .value(v.to_string())
            .hint("the tokens added per second, e.g. rate = 100.0".to_owned());
        r.push(issue);
        None
    }
    fn what() -> String {
        "a number greater than 0 (per second), at most 1e9".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "number", "exclusiveMinimum": 0, "maximum": 1e9 })
    }
    fn show(v: &f64) -> String {
        format!("{v:?}")
    }
}

/// One token bucket: tokens (negative while delayed requests owe some) as of `last`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bucket {
    tokens: f64,
    last: u64,
}

impl Bucket {
    pub(crate) fn full(burst: f64) -> Bucket {
        Bucket {
            tokens: burst,
            last: 0,
        }
    }

    /// Takes a token at `now`: Some(0) at once; in delay mode Some(wait in ns) when the token
    /// comes within `max_delay` (the token is spoken for); None when refused.
    pub(crate) fn take(
        &mut self,
        rate: f64,
        burst: f64,
        mode: Mode,
        max_delay: u64,
        now: u64,
    ) -> Option<u64> {
        let dt = now.saturating_sub(self.last) as f64 / 1e9;
        self.tokens = (self.tokens + rate * dt).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Some(0);
        }
        if mode == Mode::Reject {
            return None;
        }
        let wait = ((1.0 - self.tokens) / rate * 1e9).ceil();
        if wait > max_delay as f64 {
            return None;
        }
        self.tokens -= 1.0;
        Some(wait as u64)
    }
}

/// A replica's buckets (one, or one per client group) and the requests it holds.
#[derive(Debug, Default)]
pub(crate) struct RateState {
    buckets: Vec<Bucket>,
    held: Slab<Req>,
}

/// The rate limit a kind's settings give it, if any.
pub(crate) fn rate_limit_of(kind: &KindSpec) -> Option<&RateLimitSpec> {
    match kind {
        KindSpec::Service(s) => s.rate_limit.as_ref(),
        KindSpec::Proxy(p, _) => p.rate_limit.as_ref(),
        KindSpec::LoadBalancer(lb) => lb.rate_limit.as_ref(),
        _ => None,
    }
}

impl Node {
    /// A request arrives at a live replica with a rate limit: admitted (false: it goes on to
    /// admission and the queue), or throttled or held here (true). Only work is limited.
    pub(crate) fn rate_limited(&mut self, w: &World, cx: &mut Cx, req: &Req) -> bool {
        if req.kind != ReqKind::Work || self.crashed || self.server_series.is_empty() {
            return false;
        }
        let Some(spec) = rate_limit_of(self.kind(w)) else {
            return false;
        };
        if self.is_hung(w) {
            return false; // arrival swallows it
        }
        let (rate, burst) = spec.per_replica(w.spec.groups[self.group].replicas());
        let (mode, max_delay) = (spec.mode, spec.max_delay.0);
        let key = match spec.per {
            Per::All => 0,
            Per::Tenant => usize::from(req.source).min(w.spec.groups.len()),
        };
        let state = self.rate.get_or_insert_with(Box::default);
        if state.buckets.len() <= key {
            state.buckets.resize(key + 1, Bucket::full(burst));
        }
        let now = cx.now().0;
        match state.buckets[key].take(rate, burst, mode, max_delay, now) {
            Some(0) => false,
            Some(wait) => {
                let gen_ = self.next_gen();
                let state = self.rate.as_mut().expect("created above");
                let slot = state.held.insert(gen_, *req);
                send_self(cx, wait, Timer::Admit { slot, gen_ });
                true
            }
            None => {
                let b = &mut self.server_series[w.bucket_of(now)];
                b.arrivals += 1;
                b.throttled += 1;
                respond(w, cx, req, Status::Throttled, 0);
                true
            }
        }
    }

    /// A held request's token has come: it enters admission (unless the replica crashed
    /// meanwhile, which forgot it).
    pub(crate) fn on_admit(&mut self, w: &World, cx: &mut Cx, slot: u32, gen_: u32) {
        let Some(req) = self.rate.as_mut().and_then(|s| s.held.remove(slot, gen_)) else {
            return;
        };
        self.arrival(w, cx, Some(req), None, None);
    }

    /// A crash forgets held requests (their tokens stay spent).
    pub(crate) fn drop_held(&mut self) {
        if let Some(s) = self.rate.as_mut() {
            s.held.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_exactly_burst_requests_through_back_to_back() {
        let mut b = Bucket::full(5.0);
        let got: Vec<bool> = (0..7)
            .map(|_| b.take(1.0, 5.0, Mode::Reject, 0, 1_000).is_some())
            .collect();
        assert_eq!(got, [true, true, true, true, true, false, false]);
        // One second later, one token more.
        assert!(b.take(1.0, 5.0, Mode::Reject, 0, 1_000_001_000).is_some());
        assert!(b.take(1.0, 5.0, Mode::Reject, 0, 1_000_001_000).is_none());
    }

    #[test]
    fn delay_mode_queues_requests_a_token_apart_up_to_the_bound() {
        let mut b = Bucket::full(1.0);
        let max = SimTime::from_millis(350).0;
        let waits: Vec<Option<u64>> = (0..5)
            .map(|_| b.take(10.0, 1.0, Mode::Delay, max, 0))
            .collect();
        let ms = 1_000_000;
        assert_eq!(
            waits,
            [
                Some(0),
                Some(100 * ms),
                Some(200 * ms),
                Some(300 * ms),
                None
            ]
        );
    }

    #[test]
    fn a_group_share_splits_rate_and_burst() {
        let mut s = RateLimitSpec::defaults_with_rate(100.0);
        s.burst = 10;
        assert_eq!(s.per_replica(4), (100.0, 10.0));
        s.share = Share::Group;
        assert_eq!(s.per_replica(4), (25.0, 2.5));
        assert_eq!(s.per_replica(20), (5.0, 1.0));
    }

    impl RateLimitSpec {
        fn defaults_with_rate(rate: f64) -> RateLimitSpec {
            RateLimitSpec {
                rate,
                burst: 1,
                per: Per::All,
                share: Share::Replica,
                mode: Mode::Reject,
                max_delay: SimTime::from_secs(1),
            }
        }
    }
}
