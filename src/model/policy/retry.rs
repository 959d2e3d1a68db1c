//! Retries: the `retry` settings of clients, service calls, load balancers and proxies
//! (attempts, back-off, jitter, budget), the waits drawn between attempts, and the retry
//! budget each caller replica keeps.

use crate::engine::rng::below;
use crate::engine::{EntityRng, SimTime};
use crate::model::msg::Timer;
use crate::model::node::{Cx, Node, Outcome, send_self};
use crate::model::settings::{Count, Fraction, Input, Opt, PosDuration, Reader, Table, Word};
use crate::model::world::World;
use crate::{settings, words};

/// At most this many attempts in a retry policy.
pub const MAX_ATTEMPTS: u32 = 1_000;

/// How waits between attempts grow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// Retry at once.
    None,
    /// Wait `base` every time.
    Fixed,
    /// Wait `base * 2^(k-1)` before retry k, at most `cap`.
    Exponential,
}

words!(
    Backoff,
    "backoff",
    [
        ("none", Backoff::None),
        ("fixed", Backoff::Fixed),
        ("exponential", Backoff::Exponential),
    ]
);

/// Randomisation of back-off waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    None,
    /// Uniform in [0, wait].
    Full,
    /// wait/2 plus uniform in [0, wait/2].
    Equal,
}

words!(
    Jitter,
    "jitter",
    [
        ("none", Jitter::None),
        ("full", Jitter::Full),
        ("equal", Jitter::Equal),
    ]
);

settings! {
    /// How a caller retries a failed or timed-out attempt.
    pub struct RetrySpec "retry" check RetrySpec::check_written {
        /// Attempts in all, the first included (1: no retry).
        attempts: Count<1, MAX_ATTEMPTS> = 1,
        /// How waits between attempts grow: none (at once), fixed or exponential.
        backoff: Word<Backoff> = Backoff::None,
        /// The wait before the first retry (fixed: before every retry).
        base: PosDuration = SimTime::from_millis(100),
        /// The longest wait of an exponential back-off.
        cap: PosDuration = SimTime::from_secs(30),
        /// Randomisation of the waits: none, full (uniform in [0, wait]) or equal (half fixed).
        jitter: Word<Jitter> = Jitter::None,
        /// Retries may be at most this fraction of first attempts, per caller replica (none: unlimited).
        budget: Opt<Fraction> = None,
    }
}

impl RetrySpec {
    /// A single attempt: the defaults.
    pub fn once() -> RetrySpec {
        RetrySpec::defaults()
    }

    /// Checks that depend on which fields were written.
    pub fn check_written(&self, entries: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> bool {
        let written = |f: &str| entries.iter().any(|(k, _)| *k == f);
        let mut ok = true;
        let mut not_for = |r: &mut Reader<'_>, f: &str, hint: &str| {
            ok = false;
            let b = <Word<Backoff> as crate::model::settings::Value>::show(&self.backoff);
            let issue = crate::model::settings::Issue::new(
                r.at(f),
                format!(
                    "field '{f}' does not apply to backoff '{}'",
                    b.trim_matches('"')
                ),
            )
            .hint(hint.to_owned())
            .at_key();
            r.push(issue);
        };
        match self.backoff {
            Backoff::None => {
                for f in ["base", "cap", "jitter"] {
                    if written(f) {
                        not_for(
                            r,
                            f,
                            "set backoff = \"fixed\" or \"exponential\" to wait between attempts",
                        );
                    }
                }
            }
            Backoff::Fixed => {
                if written("cap") {
                    not_for(
                        r,
                        "cap",
                        "a fixed back-off waits 'base' every time; 'cap' limits exponential back-off",
                    );
                }
            }
            Backoff::Exponential => {
                if self.cap < self.base {
                    ok = false;
                    let (cap, base) = (self.cap, self.base);
                    let issue = crate::model::settings::Issue::new(
                        r.at("cap"),
                        format!("cap ({cap}) is less than base ({base})"),
                    )
                    .value(cap.to_string())
                    .hint("the cap limits the longest wait; make it at least 'base'".to_owned());
                    r.push(issue);
                }
            }
        }
        ok
    }
}

/// The wait before attempt `next` (2 for the first retry), with jitter.
pub fn backoff(retry: &RetrySpec, next: u32, rng: &mut EntityRng) -> u64 {
    let base = match retry.backoff {
        Backoff::None => 0,
        Backoff::Fixed => retry.base.0,
        Backoff::Exponential => {
            let shift = (next.saturating_sub(2)).min(62);
            retry.base.0.saturating_mul(1u64 << shift).min(retry.cap.0)
        }
    };
    if base == 0 {
        return 0;
    }
    match retry.jitter {
        Jitter::None => base,
        Jitter::Full => below(rng, base + 1),
        Jitter::Equal => base / 2 + below(rng, base / 2 + 1),
    }
}

impl Node {
    /// A first attempt earns retry-budget tokens (a bucket holding at most 10).
    pub(crate) fn earn(&mut self, retry: &RetrySpec) {
        if let Some(b) = retry.budget {
            self.tokens = (self.tokens + b).min(10.0);
        }
    }

    /// Whether the budget allows a retry now (which spends a token); always, without a budget.
    pub(crate) fn budget_allows(&mut self, retry: &RetrySpec) -> bool {
        match retry.budget {
            None => true,
            Some(_) if self.tokens >= 1.0 => {
                self.tokens -= 1.0;
                true
            }
            Some(_) => false,
        }
    }

    /// Load balancers and proxies: pass a success on; retry a failure after its back-off
    /// while the policy and budget allow; otherwise answer an error.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn pass_or_retry(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        attempt: u32,
        out: Outcome,
        retry: &RetrySpec,
    ) {
        if out.succeeded() {
            self.finish(w, cx, slot, gen_, out.status(), 0);
        } else if attempt < retry.attempts && self.budget_allows(retry) {
            let wait = backoff(retry, attempt + 1, cx.rng());
            let t = Timer::RetryCall {
                slot,
                gen_,
                call: 0,
                attempt: attempt + 1,
            };
            send_self(cx, wait, t);
        } else {
            // An error, or a throttled (429) or shed (503) answer passed on as such.
            self.finish(w, cx, slot, gen_, out.status(), 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::entity_stream;

    #[test]
    fn exponential_backoff_doubles_up_to_the_cap() {
        let mut r = entity_stream(1, 3);
        let retry = RetrySpec {
            attempts: 10,
            backoff: Backoff::Exponential,
            base: SimTime::from_millis(100),
            cap: SimTime::from_millis(500),
            ..RetrySpec::once()
        };
        let waits: Vec<u64> = (2..7)
            .map(|k| backoff(&retry, k, &mut r) / 1_000_000)
            .collect();
        assert_eq!(waits, vec![100, 200, 400, 500, 500]);
    }
}
