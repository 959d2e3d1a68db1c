//! `kind = "client"`: a source of user requests, open-loop (Poisson arrivals at a rate that
//! profiles, surges and new-source faults shape) or closed-loop (users who think between
//! requests). A client times out attempts, retries them within its policy and budget, and
//! counts each user request's final outcome and latency.

use serde_json::{Value as Json, json};

use crate::engine::SimTime;
use crate::engine::rng::{below, exp1, splitmix64, unit_f64};
use crate::model::metrics::ClientBucket;
use crate::model::msg::{Item, ReqKind, Timer};
use crate::model::node::{Cx, Node, Outcome, Owner, User, send_self};
use crate::model::policy::concurrency::ConcurrencySpec;
use crate::model::policy::conn::ConnSpec;
use crate::model::policy::hedge::{HedgeDelay, HedgeSpec};
use crate::model::policy::queue::Priority;
use crate::model::policy::retry::backoff;
use crate::model::sample::draw;
use crate::model::settings::{
    Count, Distribution, Duration, Fraction, Input, Issue, Nested, Opt, PosDuration, Reader, Shape,
    Text, Value, duration, number, positive,
};
use crate::model::spec::{Dist, FaultKind, KindSpec, RetrySpec, ServerSpec, Target};
use crate::model::world::World;
use crate::settings;

use super::{Build, KindSettings};

/// The highest rate one client group may send: beyond it arrivals would fall closer than a
/// nanosecond apart and simulated time could not advance.
pub const MAX_RATE: f64 = 1e7;

settings! {
    /// `kind = "client"`: a source of user requests, open-loop (`rate`) or closed-loop
    /// (`concurrency`).
    pub struct ClientSettings "client" {
        /// User requests per second (Poisson); required unless `concurrency` is given.
        rate: Opt<Rate> = None,
        /// Users who each send a request, wait for its outcome and think (instead of `rate`).
        concurrency: Opt<Count<1, 1_000_000>> = None,
        /// How long a user thinks between requests (with `concurrency`).
        think_time: Distribution = Dist::Constant(SimTime::from_secs(1)),
        /// `[time, factor]` points: from each time on, the rate is multiplied by the factor.
        profile: Profile = Vec::new(),
        /// Required: the component it sends to, or a DNS name looked up by `resolver`.
        target: Opt<Text> = None,
        /// The resolver for a DNS name `target` (needed when there are several).
        resolver: Opt<Text> = None,
        /// The user's deadline for one attempt.
        timeout: PosDuration = SimTime::from_secs(30),
        /// How failed or timed-out attempts are retried.
        retry: Nested<RetrySpec> = RetrySpec::once(),
        /// Share of requests that are writes (matters to storage).
        write_fraction: Fraction = 0.0,
        /// A cap on its attempts in flight, fixed or adaptive (none: no cap).
        concurrency_limit: Opt<Nested<ConcurrencySpec>> = None,
        /// Hedged attempts: a second copy when the first is slow (none: no hedging).
        hedge: Opt<Nested<HedgeSpec>> = None,
        /// Priority class of its requests, kept through every hop: 0 (most important) to 7; queues with by_priority serve lower numbers first and shed higher ones first.
        priority: Priority = 0,
        /// Pooled connections to its target (none: no connection model).
        connections: Opt<Nested<ConnSpec>> = None,
    }
}

impl KindSettings for ClientSettings {
    fn build(self, b: &mut Build<'_>, _: ServerSpec) -> Option<KindSpec> {
        let think = self.think_time;
        if let Some(HedgeDelay::Fixed(d)) = self.hedge.as_ref().map(|h| h.after) {
            if d >= self.timeout {
                let mut path = b.at("hedge");
                path.push("after".to_owned());
                let issue = Issue::new(
                    path,
                    format!(
                        "the hedge delay ({d}) is not below the timeout ({})",
                        self.timeout
                    ),
                )
                .value(format!("\"{d}\""))
                .hint("a hedge goes out while the first copy may still answer: make 'after' less than 'timeout', or use a percentile such as \"p95\"".to_owned());
                b.resolve.issues().push(issue);
                return None;
            }
        }
        Some(KindSpec::Client(ClientSpec {
            rate: self.rate.unwrap_or(0.0),
            population: self.concurrency.map(|users| Population { users, think }),
            profile: self.profile,
            target: target(b)?,
            timeout: self.timeout,
            retry: self.retry,
            write_fraction: self.write_fraction,
            concurrency_limit: self.concurrency_limit,
            hedge: self.hedge,
            priority: self.priority,
            connections: self.connections,
        }))
    }
}

/// Resolves the target when the other settings have problems.
pub(super) fn refs(b: &mut Build<'_>) {
    target(b);
}

/// Open loop or closed loop, judged on what is written whether or not the other settings
/// could be read (settings that do not go together hide the target's problems); then
/// `target` with its `resolver`. A missing target is reported here, after a missing rate.
fn target(b: &mut Build<'_>) -> Option<Target> {
    let entries = b.entries;
    let shape = |f: &str| {
        entries
            .iter()
            .find(|(k, _)| *k == f)
            .map(|(_, v)| v.shape())
    };
    // A rate or concurrency of the wrong type counts as absent (its problem is reported).
    let rate = matches!(shape("rate"), Some(Shape::Int(_) | Shape::Float(_)));
    let users = matches!(shape("concurrency"), Some(Shape::Int(_)));
    let mut r = Reader::new(b.base.clone(), b.resolve.issues());
    let conflict = match (rate, users) {
        (true, true) => Some((
            "concurrency",
            "give either rate or concurrency, not both",
            "rate: requests arrive regardless (open loop); concurrency: users wait for answers (closed loop)",
        )),
        (_, true) if shape("profile").is_some() => Some((
            "profile",
            "a profile applies to rate-based clients",
            "use rate = ... with a profile, or vary concurrency across runs",
        )),
        (_, false) if shape("think_time").is_some() => Some((
            "think_time",
            "think_time applies with concurrency",
            "add concurrency = <users>, or remove think_time",
        )),
        _ => None,
    };
    if let Some((field, message, hint)) = conflict {
        r.push(Issue::new(r.at(field), message).hint(hint.to_owned()));
        return None;
    }
    let loaded = rate || users || shape("rate").is_some();
    if !loaded {
        r.missing(
            "rate",
            "add rate = <user requests per second>, e.g. rate = 10.0",
        );
    }
    let target = match shape("target") {
        None => None,
        Some(Shape::Str(t)) => Some(t),
        Some(_) => return None, // Reported by the declaration.
    };
    let resolver = b.written::<Text>("resolver");
    let base = b.base.clone();
    let target = b
        .resolve
        .target(b.group, &base, target, resolver.as_deref());
    target.filter(|_| loaded)
}

/// User requests per second: greater than 0, at most [`MAX_RATE`].
pub struct Rate;

impl Value for Rate {
    type Out = f64;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<f64> {
        let v = number(input, r)?;
        if v > MAX_RATE {
            let issue = r
                .problem(format!(
                    "{v:e} user requests per second is more than one client group may send"
                ))
                .value(format!("{v:e}"))
                .hint(format!(
                    "at most {MAX_RATE:e}; split the load over several client groups"
                ));
            r.push(issue);
            return None;
        }
        positive(v, r)
    }
    fn what() -> String {
        format!("a number greater than 0, at most {MAX_RATE:e}")
    }
    fn schema() -> Json {
        json!({ "type": "number", "exclusiveMinimum": 0, "maximum": MAX_RATE })
    }
    fn show(v: &f64) -> String {
        format!("{v:?}")
    }
}

/// A rate profile: `[time, factor]` points, times increasing, factors 0 or more.
pub struct Profile;

const POINT: &str = r#"a [time, factor] pair such as ["30m", 2.0]"#;

impl Value for Profile {
    type Out = Vec<(SimTime, f64)>;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Vec<(SimTime, f64)>> {
        let shape = input.shape();
        let Shape::Array(points) = shape else {
            return r.wrong_type("an array", &shape);
        };
        // The form of every point first (the first problem only), then their values.
        let mut written = Vec::new();
        for (j, p) in points.iter().enumerate() {
            written.push(r.field(&j.to_string(), |r| point(*p, r))?);
        }
        let mut out = Some(Vec::new());
        let mut prev: Option<SimTime> = None;
        for (j, (text, factor)) in written.into_iter().enumerate() {
            let (at, factor) = r.field(&j.to_string(), |r| {
                let at = r.field("0", |r| duration(text, r));
                if factor.is_finite() && factor >= 0.0 {
                    return (at, Some(factor));
                }
                let issue = Issue::new(
                    r.at("1"),
                    format!("the factor must be 0 or more, got {factor}"),
                )
                .value(factor.to_string());
                r.push(issue);
                (at, None)
            });
            if let (Some(at), Some(before)) = (at, prev)
                && at <= before
            {
                let mut path = r.at(&j.to_string());
                path.push("0".to_owned());
                let issue = Issue::new(
                    path,
                    format!("profile times must increase: {at} comes after {before}"),
                )
                .value(text);
                r.push(issue);
                out = None;
            }
            prev = at.or(prev);
            match (at, factor, out.as_mut()) {
                (Some(at), Some(f), Some(v)) => v.push((at, f)),
                _ => out = None,
            }
        }
        out
    }
    fn what() -> String {
        format!("a list of points, each {POINT}")
    }
    fn schema() -> Json {
        json!({
            "type": "array",
            "items": { "type": "array", "minItems": 2, "maxItems": 2 },
        })
    }
    fn show(v: &Vec<(SimTime, f64)>) -> String {
        let points: Vec<String> = v.iter().map(|(t, f)| format!("[\"{t}\", {f:?}]")).collect();
        format!("[{}]", points.join(", "))
    }
}

/// One profile point as written: `[time, factor]`, a string and a number.
fn point<'a>(input: &'a dyn Input, r: &mut Reader<'_>) -> Option<(&'a str, f64)> {
    let shape = input.shape();
    let Shape::Array(e) = shape else {
        return r.wrong_type(POINT, &shape);
    };
    let length = |r: &mut Reader<'_>| {
        let issue = r.problem(format!("expected {POINT}, found {} element(s)", e.len()));
        r.push(issue);
        None
    };
    let Some(at) = e.first() else {
        return length(r);
    };
    let Shape::Str(text) = at.shape() else {
        r.field("0", |r| Duration::read(*at, r));
        return None;
    };
    let Some(factor) = e.get(1) else {
        return length(r);
    };
    let factor = r.field("1", |r| number(*factor, r))?;
    if e.len() > 2 {
        return length(r);
    }
    Some((text, factor))
}

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
    /// `concurrency_limit`: a cap on its attempts in flight (`policy/concurrency.rs`).
    pub concurrency_limit: Option<ConcurrencySpec>,
    /// `hedge`: hedged attempts (`policy/hedge.rs`).
    pub hedge: Option<HedgeSpec>,
    /// `priority`: the class of its requests, 0 (most important, the default) to 7
    /// (`policy/queue.rs`).
    pub priority: u32,
    /// `connections`: pooled connections to its target (`policy/conn.rs`).
    pub connections: Option<ConnSpec>,
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
        self.conn_start(w, cx);
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
            self.population = p.users;
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
        c.rate * self.traffic_factor(w, c, now)
    }

    /// The factor of the client's base traffic now: profile x active surges (0 while a new
    /// source is silent).
    fn traffic_factor(&self, w: &World, c: &ClientSpec, now: u64) -> f64 {
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
        if new_source && !appeared { 0.0 } else { factor }
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
        // The key is a hash of the request's identity: no draw, so scenarios without
        // storage keep their random streams.
        let key = splitmix64(((self.me as u64) << 32) | gen_ as u64) as u32;
        let item = Item { write, key };
        let user = User {
            start: now,
            item,
            attempt: 1,
            live: [None, None],
        };
        let slot = self.users.insert(gen_, user);
        self.start_attempt(w, cx, slot, gen_, 1);
    }

    /// A closed-loop user starts thinking (then sends its next request). While a
    /// `traffic_surge` scales the population (users x multiplier, rounded, at least one), a
    /// user over that number leaves instead, and users under it join, each thinking first.
    pub(crate) fn think(&mut self, w: &World, cx: &mut Cx) {
        let KindSpec::Client(c) = self.kind(w) else {
            return;
        };
        let Some(p) = &c.population else {
            return;
        };
        let factor = self.traffic_factor(w, c, cx.now().0);
        let target = ((p.users as f64 * factor).round() as u32).max(1);
        if self.population > target {
            self.population -= 1;
            return;
        }
        while self.population < target {
            self.population += 1;
            let d = draw(&p.think, cx.rng());
            send_self(cx, d, Timer::Think);
        }
        let d = draw(&p.think, cx.rng());
        send_self(cx, d, Timer::Think);
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
        let item = user.item;
        let KindSpec::Client(c) = self.kind(w) else {
            return;
        };
        let now = cx.now().0;
        self.client_series[w.bucket_of(now)].attempts += 1;
        if attempt == 1 {
            self.earn(&c.retry);
        }
        let call = self.user_call(w, cx, c, (slot, gen_), item, c.timeout.0, attempt);
        self.hedge_arm(w, cx, slot, gen_, attempt, call);
    }

    /// Sends one copy of attempt `attempt` of user request `user` to the client's target, with
    /// `timeout` (an attempt's own, or a hedge's time left): the call's slot and generation.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn user_call(
        &mut self,
        w: &World,
        cx: &mut Cx,
        c: &ClientSpec,
        (slot, gen_): (u32, u32),
        item: Item,
        timeout: u64,
        attempt: u32,
    ) -> (u32, u32) {
        let owner = Owner::User { slot, gen_ };
        let source = self.group as u16;
        self.call_out(
            w,
            cx,
            owner,
            &c.target,
            ReqKind::Work,
            source,
            item,
            timeout,
            attempt,
        )
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
        if !self.hedge_settle(w, cx, slot, gen_, out) {
            return; // its other copy is still out
        }
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
            Outcome::Throttled => b.throttled += 1,
            Outcome::Shed => b.shed += 1,
        }
        if matches!(out, Outcome::Ok | Outcome::Degraded) {
            b.latency.record(now - user.start);
            if !self.reporter.monitors.is_empty() {
                self.report_latency(now - user.start);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    fn problems(fields: &str) -> Vec<(String, String)> {
        let text = format!(
            "[scenario]\nname = \"t\"\nduration = \"1h\"\n\n[components.api]\nkind = \"service\"\n\n[components.users]\nkind = \"client\"\ntarget = \"api\"\n{fields}\n"
        );
        match parse(&text, "t.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems
                .into_iter()
                .map(|p| (p.path, p.message))
                .collect(),
        }
    }

    #[test]
    fn profiles_are_checked_in_form_then_in_value() {
        assert_eq!(
            problems("rate = 1.0\nprofile = [[\"0s\", 1], [\"1h\", 2.5]]"),
            []
        );
        let got = problems("rate = 1.0\nprofile = [[\"1x\", 1.0], [\"1m\", 2.0, 3.0], 5]");
        assert_eq!(
            got,
            [(
                "components.users.profile.1".to_owned(),
                "expected a [time, factor] pair such as [\"30m\", 2.0], found 3 element(s)"
                    .to_owned()
            )]
        );
        let got = problems("rate = 1.0\nprofile = [[\"10m\", 1.0], [\"5m\", -2.0], [\"1x\", 1]]");
        let want = [
            (
                "profile.1.0",
                "profile times must increase: 5m comes after 10m",
            ),
            ("profile.1.1", "the factor must be 0 or more, got -2"),
            (
                "profile.2.0",
                "invalid duration \"1x\": unknown unit \"x\" (units: ns, us, ms, s, m, h, d)",
            ),
        ]
        .map(|(p, m)| (format!("components.users.{p}"), m.to_owned()));
        assert_eq!(got, want);
    }

    #[test]
    fn open_or_closed_loop_is_judged_on_what_is_written() {
        // A concurrency that cannot be read counts as absent: think_time goes without it.
        let got = problems("concurrency = \"many\"\nthink_time = \"1s\"");
        let paths: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "components.users.concurrency",
                "components.users.think_time"
            ]
        );
        assert_eq!(got[1].1, "think_time applies with concurrency");
        // Neither: a missing rate, reported even when another setting has a problem.
        let got = problems("timeout = \"0s\"");
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].1, "missing required field 'rate'");
    }
}
