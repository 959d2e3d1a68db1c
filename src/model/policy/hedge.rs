//! Hedged requests: a client's `hedge` settings and the window of latencies it keeps. When an
//! attempt has not been answered `after` its start (a fixed delay, or a percentile of the
//! latencies seen lately, such as "p95"), a second copy goes out with the time left to the
//! attempt's deadline. The first success wins; the other copy is abandoned (its callee works
//! on: wasted work) and counted as `wasted`. A failure waits for the other copy, if it is
//! still out, before the attempt fails.
//!
//! The window holds the latency of each answered attempt's first copy; when the hedge won, the
//! time until then stands for it (a lower bound, above the hedge delay), so the share of the
//! window above the delay, and so a percentile delay, is as if nothing had been hedged.

use serde_json::{Value as Json, json};

use crate::engine::SimTime;
use crate::model::msg::Timer;
use crate::model::node::{Cx, Node, Outcome, send_self};
use crate::model::settings::{Count, Input, Reader, Shape, Value, duration};
use crate::model::spec::KindSpec;
use crate::model::world::World;
use crate::settings;

/// When a hedge goes out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HedgeDelay {
    /// This long after the attempt started.
    Fixed(SimTime),
    /// The q-quantile (0 < q < 1) of the latencies in the window.
    Percentile(f64),
}

settings! {
    /// A second copy of an attempt not answered in time; the first success wins, the other copy is abandoned (wasted work).
    pub struct HedgeSpec "hedge" {
        /// When the hedge goes out: a duration ("50ms", less than the timeout) or a percentile of recent latencies ("p95", "p99.9").
        after: HedgeAfter => "add after = \"p95\" or a delay such as after = \"100ms\"",
        /// Latencies kept for a percentile delay (the latest ones); no hedge goes out before a tenth of them (at least 10) are in.
        window: Count<10, 1_000_000> = 1000,
    }
}

/// A hedge delay as written: a duration, or `"pNN"` (a percentile above 0 and below 100).
pub struct HedgeAfter;

const AFTER_WHAT: &str = r#"a duration such as "100ms", or a percentile such as "p95""#;

impl Value for HedgeAfter {
    type Out = HedgeDelay;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<HedgeDelay> {
        let shape = input.shape();
        let Shape::Str(text) = shape else {
            return r.wrong_type(AFTER_WHAT, &shape);
        };
        let Some(p) = text.strip_prefix('p') else {
            let d = duration(text, r)?;
            if d.0 == 0 {
                let issue = r
                    .problem("a hedge delay must be greater than 0")
                    .value(format!("\"{text}\""))
                    .hint("a hedge at once doubles every request; use a delay or a percentile such as \"p95\"".to_owned());
                r.push(issue);
                return None;
            }
            return Some(HedgeDelay::Fixed(d));
        };
        match p.parse::<f64>() {
            Ok(q) if q > 0.0 && q < 100.0 => Some(HedgeDelay::Percentile(q / 100.0)),
            _ => {
                let issue = r
                    .problem(format!("invalid percentile \"{text}\""))
                    .value(format!("\"{text}\""))
                    .hint(
                        "a percentile above 0 and below 100, such as \"p95\" or \"p99.9\""
                            .to_owned(),
                    );
                r.push(issue);
                None
            }
        }
    }
    fn what() -> String {
        AFTER_WHAT.to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "string", "pattern": "^(p[0-9.]+|[0-9].*)$" })
    }
    fn show(v: &HedgeDelay) -> String {
        match v {
            HedgeDelay::Fixed(d) => format!("\"{d}\""),
            HedgeDelay::Percentile(q) => format!("\"p{}\"", q * 100.0),
        }
    }
}

/// A client's recent latencies (a ring) and the percentile delay derived from them.
#[derive(Clone, Debug, Default)]
pub(crate) struct HedgeState {
    ring: Vec<u64>,
    next: usize,
    /// Samples since the delay was last computed.
    fresh: usize,
    delay: Option<u64>,
}

impl HedgeState {
    /// Adds a latency; the percentile is recomputed every window/16 samples.
    pub(crate) fn record(&mut self, ns: u64, window: usize, q: f64) {
        if self.ring.len() < window {
            self.ring.push(ns);
        } else {
            self.ring[self.next] = ns;
            self.next = (self.next + 1) % window;
        }
        self.fresh += 1;
        let enough = self.ring.len() >= (window / 10).max(10);
        if enough && (self.delay.is_none() || self.fresh >= (window / 16).max(1)) {
            let mut v = self.ring.clone();
            let k = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            let (_, x, _) = v.select_nth_unstable(k);
            self.delay = Some(*x);
            self.fresh = 0;
        }
    }
}

impl Node {
    /// The hedge delay now (None: no hedge, or not enough latencies seen yet).
    fn hedge_delay(&self, spec: &HedgeSpec) -> Option<u64> {
        match spec.after {
            HedgeDelay::Fixed(d) => Some(d.0),
            HedgeDelay::Percentile(_) => self.hedge.as_ref().and_then(|h| h.delay),
        }
    }

    /// An attempt's first copy went out as call `call`: remember it, and set the hedge timer.
    pub(crate) fn hedge_arm(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        attempt: u32,
        call: (u32, u32),
    ) {
        let now = cx.now().0;
        let KindSpec::Client(c) = self.kind(w) else {
            return;
        };
        let delay = c.hedge.as_ref().and_then(|h| self.hedge_delay(h));
        let Some(user) = self.users.get_mut(slot, gen_) else {
            return;
        };
        user.attempt = attempt;
        user.live = [Some((call.0, call.1, now)), None];
        if let Some(d) = delay.filter(|&d| d < c.timeout.0) {
            send_self(
                cx,
                d,
                Timer::Hedge {
                    slot,
                    gen_,
                    attempt,
                },
            );
        }
    }

    /// The hedge timer: if the attempt's first copy is still out, a second one goes out
    /// with the time left to the attempt's deadline.
    pub(crate) fn on_hedge(&mut self, w: &World, cx: &mut Cx, slot: u32, gen_: u32, attempt: u32) {
        let now = cx.now().0;
        let KindSpec::Client(c) = self.kind(w) else {
            return;
        };
        let Some(user) = self.users.get_mut(slot, gen_) else {
            return;
        };
        let Some((s0, g0, sent)) = user.live[0] else {
            return;
        };
        if user.attempt != attempt || user.live[1].is_some() || !self.calls.contains(s0, g0) {
            return;
        }
        let left = c.timeout.0.saturating_sub(now - sent);
        if left == 0 {
            return;
        }
        let item = user.item;
        self.client_series[w.bucket_of(now)].hedged += 1;
        let call = self.user_call(w, cx, c, (slot, gen_), item, left, attempt);
        if let Some(user) = self.users.get_mut(slot, gen_) {
            user.live[1] = Some((call.0, call.1, now));
        }
    }

    /// One copy of a user's attempt ended with `out`: whether the attempt is decided (false:
    /// a failure while the other copy is still out, which decides instead). A success
    /// abandons the other copy (wasted) and feeds the latency window.
    pub(crate) fn hedge_settle(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        out: Outcome,
    ) -> bool {
        let now = cx.now().0;
        let KindSpec::Client(c) = self.kind(w) else {
            return true;
        };
        let Some(user) = self.users.get(slot, gen_) else {
            return true;
        };
        let live = user.live;
        let out_now = |n: &Node, e: Option<(u32, u32, u64)>| {
            e.is_some_and(|(s, g, _)| n.calls.contains(s, g))
        };
        let (first_out, second_out) = (out_now(self, live[0]), out_now(self, live[1]));
        if !out.succeeded() {
            return !(first_out || second_out);
        }
        // The first copy's latency: it answered now, or is abandoned now.
        if let (Some(h), Some((_, _, sent))) = (c.hedge.as_ref(), live[0]) {
            if first_out || live[1].is_none() || second_out {
                if let HedgeDelay::Percentile(q) = h.after {
                    let state = self.hedge.get_or_insert_with(Box::default);
                    state.record(now - sent, h.window as usize, q);
                }
            }
        }
        for (s, g, _) in live.into_iter().flatten() {
            if let Some(call) = self.calls.remove(s, g) {
                self.limit_release(w, cx, &call, None);
                if self.pools.is_some() {
                    // Abandoned on its connection: closed (`policy/conn.rs`).
                    self.conn_call_ended(w, cx, &call, s, g, None);
                }
                self.client_series[w.bucket_of(now)].wasted += 1;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_gives_its_percentile_once_a_tenth_is_in() {
        let mut h = HedgeState::default();
        for i in 1..=99u64 {
            h.record(i, 1000, 0.95);
        }
        assert_eq!(h.delay, None);
        h.record(100, 1000, 0.95);
        assert_eq!(h.delay, Some(95));
        // The ring keeps the latest `window` samples.
        let mut h = HedgeState::default();
        for i in 0..2000u64 {
            h.record(if i < 1000 { 1 } else { 1000 + i }, 1000, 0.5);
        }
        assert!(h.delay.unwrap() > 1000);
    }
}
