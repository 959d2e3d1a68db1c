//! The settings of the shared policies: retry, health check, circuit breaker, gossip.

use super::{Count, Duration, Fraction, Input, Opt, PosDuration, Reader, Switch, Table, Word};
use crate::engine::SimTime;
use crate::settings;
use crate::words;

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
            let b = <Word<Backoff> as super::Value>::show(&self.backoff);
            let issue = super::Issue::new(
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
                    let issue = super::Issue::new(
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

/// What a health check looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckKind {
    /// Port open / status code: a replica that answers anything passes.
    Shallow,
    /// A full request whose content is checked (a wrong answer fails).
    Deep,
}

words!(
    CheckKind,
    "health check kind",
    [("shallow", CheckKind::Shallow), ("deep", CheckKind::Deep),]
);

settings! {
    /// How a load balancer or a health-steered DNS probes its targets.
    pub struct HealthCheckSpec "health_check" check HealthCheckSpec::check_timing {
        /// Shallow (port open, any answer passes) or deep (a full request whose content is checked).
        kind: Word<CheckKind> = CheckKind::Shallow,
        /// Time between probes of one target.
        interval: PosDuration = SimTime::from_secs(5),
        /// A probe not answered within this fails.
        timeout: PosDuration = SimTime::from_secs(2),
        /// Consecutive failures that mark a healthy target unhealthy.
        unhealthy: Count<1, { u32::MAX }> = 2,
        /// Consecutive successes that mark an unhealthy target healthy.
        healthy: Count<1, { u32::MAX }> = 2,
    }
}

impl HealthCheckSpec {
    /// The probe must end before the next one starts.
    pub fn check_timing(&self, _: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> bool {
        if self.timeout <= self.interval {
            return true;
        }
        let (timeout, interval) = (self.timeout, self.interval);
        let issue = super::Issue::new(
            r.at("timeout"),
            format!("the probe timeout ({timeout}) is longer than the interval ({interval})"),
        )
        .value(timeout.to_string())
        .hint(
            "a probe must end before the next one starts; lower timeout or raise interval"
                .to_owned(),
        );
        r.push(issue);
        false
    }
}

settings! {
    /// After `failures` consecutive failed calls to one dependency, fail calls to it at once for `open_for`, then let one trial call through.
    pub struct BreakerSpec "circuit_breaker" {
        /// Consecutive failed calls that open the breaker.
        failures: Count<1, { u32::MAX }> = 5,
        /// How long it stays open before a trial call.
        open_for: PosDuration = SimTime::from_secs(30),
    }
}

settings! {
    /// Membership gossip among a group's replicas (`gossip = true` takes every default).
    pub struct GossipSpec "gossip" {
        /// Every interval each live node bumps its heartbeat and pushes its table.
        interval: PosDuration = SimTime::from_secs(1),
        /// Peers pushed to per round.
        fanout: Count<1, { u32::MAX }> = 1,
        /// A peer whose entry has not advanced for this long is failed in the holder's view.
        fail_after: PosDuration = SimTime::from_secs(30),
        /// Messages carry checksums: a corrupted message is rejected.
        checksums: Switch = false,
        /// A node that judges a peer failed pushes that news at once to `fanout` peers, besides its rounds.
        gossip_failed: Switch = false,
        /// Worker time to merge one table entry (a message costs `cost` x group size).
        cost: Duration = SimTime(2_000),
    }
}

impl Default for GossipSpec {
    fn default() -> Self {
        GossipSpec::defaults()
    }
}
