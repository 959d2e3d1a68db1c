//! Circuit breakers: a service's `circuit_breaker` settings and the breaker each replica keeps
//! per dependency. After `failures` consecutive failed calls it opens (calls fail at once) for
//! `open_for`, then lets one trial call through, whose outcome closes or reopens it.

use crate::engine::SimTime;
use crate::model::settings::{Count, PosDuration};
use crate::settings;

settings! {
    /// After `failures` consecutive failed calls to one dependency, fail calls to it at once for `open_for`, then let one trial call through.
    pub struct BreakerSpec "circuit_breaker" {
        /// Consecutive failed calls that open the breaker.
        failures: Count<1, { u32::MAX }> = 5,
        /// How long it stays open before a trial call.
        open_for: PosDuration = SimTime::from_secs(30),
    }
}

#[derive(Clone, Copy, Debug, Default)]
/// One dependency's breaker at one replica: closed, open until a time, or half-open with
/// its one trial call in flight.
pub(crate) struct Breaker {
    failures: u32,
    /// 0 while closed; while open, when it may let a trial call through.
    open_until: u64,
    /// Half-open: the one trial call is in flight.
    trial: bool,
}

impl Breaker {
    /// Whether a call may go out now: not while open, nor while half-open with the trial call
    /// in flight. A call let through while half-open is the one trial.
    pub(crate) fn admit(&mut self, now: u64) -> bool {
        if self.open_until > now || self.trial {
            // Open, or half-open with its trial call in flight: fail at once.
            return false;
        }
        if self.open_until != 0 {
            // Half-open: this call is the one trial.
            self.trial = true;
        }
        true
    }

    /// Counts a finished call (one that `admit` let through); returns `"breaker_open"` or
    /// `"breaker_close"` when the breaker changes state.
    pub(crate) fn record(
        &mut self,
        spec: &BreakerSpec,
        succeeded: bool,
        now: u64,
    ) -> Option<&'static str> {
        let mut change = None;
        if self.trial {
            // The half-open trial decides: close, or open again.
            self.trial = false;
            if succeeded {
                self.open_until = 0;
                self.failures = 0;
                change = Some("breaker_close");
            } else {
                self.open_until = now.saturating_add(spec.open_for.0);
                change = Some("breaker_open");
            }
        } else if succeeded {
            self.failures = 0;
        } else if self.open_until == 0 {
            self.failures += 1;
            if self.failures >= spec.failures {
                self.open_until = now.saturating_add(spec.open_for.0);
                change = Some("breaker_open");
            }
        }
        change
    }
}
