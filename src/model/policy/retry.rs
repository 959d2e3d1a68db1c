//! Retries: the `retry` settings of clients, service calls, load balancers and proxies
//! (attempts, back-off, jitter, budget), the waits drawn between attempts, and the retry
//! budget each caller replica keeps.

use crate::engine::rng::below;
use crate::engine::{EntityRng, SimTime};
use crate::model::msg::{Status, Timer};
use crate::model::node::{Cx, Node, Outcome, send_self};
use crate::model::world::World;

/// How waits between attempts grow. `backoff = "none" | "fixed" | "exponential"`.
#[derive(Clone, Debug, PartialEq)]
pub enum Backoff {
    /// Retry at once.
    None,
    /// Wait `base` every time.
    Fixed { base: SimTime },
    /// Wait `base * 2^(k-1)` before retry k, at most `cap` (default 30s).
    Exponential { base: SimTime, cap: SimTime },
}

/// Randomisation of back-off waits. `jitter = "none" | "full" | "equal"` (default "none").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    None,
    /// Uniform in [0, wait].
    Full,
    /// wait/2 plus uniform in [0, wait/2].
    Equal,
}

/// `retry = { attempts = 3, backoff = "exponential", base = "100ms", cap = "10s",
/// jitter = "full", budget = 0.1 }`.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySpec {
    /// Attempts in all, the first included (default 1: no retry).
    pub attempts: u32,
    pub backoff: Backoff,
    pub jitter: Jitter,
    /// Retry budget: retries may be at most this fraction of first attempts, counted per
    /// caller replica over the run so far (token bucket refilled by first attempts). None =
    /// unlimited.
    pub budget: Option<f64>,
}

impl RetrySpec {
    /// A single attempt.
    pub fn once() -> Self {
        RetrySpec {
            attempts: 1,
            backoff: Backoff::None,
            jitter: Jitter::None,
            budget: None,
        }
    }
}

/// The wait before attempt `next` (2 for the first retry), with jitter.
pub fn backoff(retry: &RetrySpec, next: u32, rng: &mut EntityRng) -> u64 {
    let base = match retry.backoff {
        Backoff::None => 0,
        Backoff::Fixed { base } => base.0,
        Backoff::Exponential { base, cap } => {
            let shift = (next.saturating_sub(2)).min(62);
            base.0.saturating_mul(1u64 << shift).min(cap.0)
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
            self.finish(w, cx, slot, gen_, Status::Error, 0);
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
            backoff: Backoff::Exponential {
                base: SimTime::from_millis(100),
                cap: SimTime::from_millis(500),
            },
            jitter: Jitter::None,
            budget: None,
        };
        let waits: Vec<u64> = (2..7)
            .map(|k| backoff(&retry, k, &mut r) / 1_000_000)
            .collect();
        assert_eq!(waits, vec![100, 200, 400, 500, 500]);
    }
}
