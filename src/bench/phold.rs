//! PHOLD, the standard benchmark of parallel discrete-event engines, as a model on the engine
//! API, and a plain `BinaryHeap` loop with the same semantics as the baseline.
//!
//! N logical processes (LPs) each start with J events at time `L + Exp(M - L)`. An event at an
//! LP draws `u` from that LP's stream; if `u < R` it sends one event to a uniformly random LP
//! (itself included), otherwise to itself, at `now + L + Exp(M - L)`. Events do no other work.
//! Times are given in seconds and kept as integer nanoseconds.
//!
//! The checksum is a wrapping sum over committed events of a hash of (time, LP): order-free, so
//! any executor that commits the same set of events prints the same checksum. The baseline uses
//! the same streams, keys and stop rule, so it prints the same checksum too.

use crate::engine::rng::{below, entity_stream, exponential_nanos, splitmix64};
use crate::engine::{
    Context, EngineConfig, EngineError, Executor, Model, SimTime, Simulation, Stop,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// PHOLD parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct PholdParams {
    /// Number of logical processes (N).
    pub lps: u32,
    /// Events each LP starts with (J).
    pub start_events: u32,
    /// Probability that an event goes to a random LP rather than to itself (R).
    pub remote: f64,
    /// Mean delay between an event and the one it causes, in seconds (M).
    pub mean: f64,
    /// Minimum delay, in seconds (L): the lookahead.
    pub lookahead: f64,
    /// Events to commit (E); see the engine's event-count stop rule.
    pub events: u64,
    /// Run seed.
    pub seed: u64,
}

impl PholdParams {
    /// Checks the parameters and converts them to the model's integer form.
    pub fn validate(&self) -> Result<Phold, String> {
        if self.lps == 0 {
            return Err("--lps must be at least 1".into());
        }
        if self.start_events == 0 {
            return Err("--start-events must be at least 1".into());
        }
        if !(0.0..=1.0).contains(&self.remote) {
            return Err(format!(
                "--remote must be within 0..=1, got {}",
                self.remote
            ));
        }
        if !(self.lookahead.is_finite() && self.lookahead > 0.0) {
            return Err(format!(
                "--lookahead must be > 0 seconds, got {}",
                self.lookahead
            ));
        }
        if !(self.mean.is_finite() && self.mean >= self.lookahead) {
            return Err(format!(
                "--mean must be >= --lookahead ({}), got {}",
                self.lookahead, self.mean
            ));
        }
        let lookahead = SimTime::from_secs_f64(self.lookahead).0;
        if lookahead == 0 {
            return Err("--lookahead is below one nanosecond".into());
        }
        // u < R  <=>  next_u64 < R * 2^64 (R = 1 sends every event to a random LP).
        let threshold = if self.remote >= 1.0 {
            u64::MAX
        } else {
            (self.remote * 18_446_744_073_709_551_616.0) as u64
        };
        Ok(Phold {
            lps: self.lps,
            start_events: self.start_events,
            remote_threshold: threshold,
            always_remote: self.remote >= 1.0,
            lookahead,
            extra_mean_nanos: (self.mean - self.lookahead) * 1e9,
        })
    }
}

/// The PHOLD model in integer form.
#[derive(Clone, Debug)]
pub struct Phold {
    lps: u32,
    start_events: u32,
    remote_threshold: u64,
    always_remote: bool,
    lookahead: u64,
    extra_mean_nanos: f64,
}

/// One LP's state: what it has committed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lp {
    pub events: u64,
    pub checksum: u64,
}

/// The order-free hash of one committed event.
#[inline]
pub fn event_hash(time: u64, lp: u32) -> u64 {
    splitmix64(time ^ splitmix64(lp as u64 ^ 0xA5A5_0000_0000_0000))
}

impl Phold {
    #[inline]
    fn delay<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        self.lookahead + exponential_nanos(rng, self.extra_mean_nanos)
    }

    #[inline]
    fn destination<R: rand::Rng + ?Sized>(&self, rng: &mut R, me: u32) -> u32 {
        let u = rng.next_u64();
        if self.always_remote || u < self.remote_threshold {
            below(rng, self.lps as u64) as u32
        } else {
            me
        }
    }
}

impl Model for Phold {
    type Event = ();
    type State = Lp;

    fn start(&self, _lp: &mut Lp, cx: &mut Context<'_, '_, ()>) {
        let me = cx.me();
        for _ in 0..self.start_events {
            let d = self.delay(cx.rng());
            cx.send(me, SimTime(d), ());
        }
    }

    #[inline]
    fn handle(&self, lp: &mut Lp, _ev: (), cx: &mut Context<'_, '_, ()>) {
        let me = cx.me();
        lp.events += 1;
        lp.checksum = lp.checksum.wrapping_add(event_hash(cx.now().0, me));
        let dst = self.destination(cx.rng(), me);
        let d = self.delay(cx.rng());
        cx.send(dst, SimTime(d), ());
    }
}

/// One benchmark result.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PholdResult {
    pub engine: &'static str,
    pub executor: &'static str,
    pub events: u64,
    pub seconds: f64,
    pub events_per_sec: f64,
    pub threads: usize,
    pub partitions: usize,
    pub checksum: String,
    pub sim_time_s: f64,
    pub windows: u64,
    pub pending_at_end: u64,
    /// Bytes held by the pending-event sets at the end, divided by the pending events.
    pub queue_bytes_per_pending: f64,
    pub lps: u32,
    pub start_events: u32,
    pub seed: u64,
}

/// Assigns LPs to `partitions` contiguous blocks of near-equal size.
pub fn block_assignment(lps: u32, partitions: u32) -> Vec<u32> {
    (0..lps)
        .map(|i| ((i as u64 * partitions as u64) / lps as u64) as u32)
        .collect()
}

/// Runs PHOLD on the engine. `partitions = None` selects the sequential executor.
pub fn run_engine(
    params: &PholdParams,
    threads: usize,
    partitions: Option<u32>,
) -> Result<(PholdResult, Vec<Lp>), String> {
    let model = params.validate()?;
    let lookahead = SimTime(model.lookahead);
    let executor = match partitions {
        None => Executor::Sequential,
        Some(p) => {
            if p == 0 {
                return Err("--partitions must be at least 1".into());
            }
            Executor::Partitioned {
                assignment: block_assignment(params.lps, p),
                threads,
            }
        }
    };
    let states = vec![Lp::default(); params.lps as usize];
    let start = Instant::now();
    let mut sim = Simulation::new(
        model,
        states,
        EngineConfig {
            seed: params.seed,
            lookahead,
            executor,
        },
    )
    .map_err(|e: EngineError| e.to_string())?;
    let nparts = sim.partitions();
    let report = sim
        .run(Stop {
            until: None,
            events: Some(params.events),
        })
        .map_err(|e| e.to_string())?;
    let seconds = start.elapsed().as_secs_f64();
    let queue_bytes = sim.queue_memory_bytes();
    let lps = sim.into_states();
    let checksum = lps.iter().fold(0u64, |a, lp| a.wrapping_add(lp.checksum));
    let committed: u64 = lps.iter().map(|lp| lp.events).sum();
    debug_assert_eq!(committed, report.committed);
    Ok((
        PholdResult {
            engine: "outagesim",
            executor: if partitions.is_some() {
                "partitioned"
            } else {
                "sequential"
            },
            events: report.committed,
            seconds,
            events_per_sec: report.committed as f64 / seconds,
            threads: if partitions.is_some() { threads } else { 1 },
            partitions: nparts,
            checksum: format!("{checksum:016x}"),
            sim_time_s: report.time.as_secs_f64(),
            windows: report.windows,
            pending_at_end: report.pending,
            queue_bytes_per_pending: queue_bytes as f64 / report.pending.max(1) as f64,
            lps: params.lps,
            start_events: params.start_events,
            seed: params.seed,
        },
        lps,
    ))
}

/// The baseline: a plain `std::collections::BinaryHeap` loop with no engine abstractions, the
/// same random streams, the same (time, sender, counter) keys and the same stop rule.
pub fn run_baseline(params: &PholdParams) -> Result<PholdResult, String> {
    let m = params.validate()?;
    let n = params.lps as usize;
    let start = Instant::now();
    let mut rngs: Vec<_> = (0..n)
        .map(|i| entity_stream(params.seed, i as u64))
        .collect();
    let mut seqs = vec![0u32; n];
    // (time, tie, destination), smallest first.
    let mut heap: BinaryHeap<Reverse<(u64, u64, u32)>> =
        BinaryHeap::with_capacity(n * params.start_events as usize);
    for lp in 0..n {
        for _ in 0..params.start_events {
            let t = m.delay(&mut rngs[lp]);
            let tie = ((lp as u64) << 32) | seqs[lp] as u64;
            seqs[lp] = seqs[lp].wrapping_add(1);
            heap.push(Reverse((t, tie, lp as u32)));
        }
    }
    let mut committed = 0u64;
    let mut checksum = 0u64;
    let mut stop_at = u64::MAX;
    let mut horizon = 0;
    while let Some(&Reverse((t, _, _))) = heap.peek() {
        if t >= stop_at {
            horizon = stop_at;
            break;
        }
        let Reverse((t, _, lp)) = heap.pop().expect("peeked");
        let me = lp as usize;
        checksum = checksum.wrapping_add(event_hash(t, lp));
        committed += 1;
        if committed == params.events {
            stop_at = (t / m.lookahead + 1) * m.lookahead;
        }
        let dst = m.destination(&mut rngs[me], lp);
        let d = m.delay(&mut rngs[me]);
        let tie = ((lp as u64) << 32) | seqs[me] as u64;
        seqs[me] = seqs[me].wrapping_add(1);
        heap.push(Reverse((t + d, tie, dst)));
        horizon = t + 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(PholdResult {
        engine: "baseline",
        executor: "binary-heap",
        events: committed,
        seconds,
        events_per_sec: committed as f64 / seconds,
        threads: 1,
        partitions: 1,
        checksum: format!("{checksum:016x}"),
        sim_time_s: horizon as f64 / 1e9,
        windows: 0,
        pending_at_end: heap.len() as u64,
        queue_bytes_per_pending: (heap.capacity() * std::mem::size_of::<Reverse<(u64, u64, u32)>>())
            as f64
            / heap.len().max(1) as f64,
        lps: params.lps,
        start_events: params.start_events,
        seed: params.seed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small(events: u64) -> PholdParams {
        PholdParams {
            lps: 64,
            start_events: 4,
            remote: 0.9,
            mean: 1.0,
            lookahead: 0.1,
            events,
            seed: 11,
        }
    }

    #[test]
    fn baseline_and_engine_agree() {
        let p = small(50_000);
        let b = run_baseline(&p).unwrap();
        let (s, _) = run_engine(&p, 1, None).unwrap();
        let (q, _) = run_engine(&p, 2, Some(3)).unwrap();
        assert_eq!((b.events, &b.checksum), (s.events, &s.checksum));
        assert_eq!((b.events, &b.checksum), (q.events, &q.checksum));
        assert!(b.events >= 50_000);
        assert_eq!(b.pending_at_end, s.pending_at_end);
        assert_eq!(b.pending_at_end, 64 * 4);
    }

    #[test]
    fn block_assignment_is_balanced_and_ordered() {
        let a = block_assignment(10, 3);
        assert_eq!(a, vec![0, 0, 0, 0, 1, 1, 1, 2, 2, 2]);
        let a = block_assignment(3, 7);
        assert_eq!(a, vec![0, 2, 4]);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let mut p = small(10);
        p.remote = 1.5;
        assert!(p.validate().unwrap_err().contains("--remote"));
        let mut p = small(10);
        p.mean = 0.05;
        assert!(p.validate().unwrap_err().contains("--mean"));
        let mut p = small(10);
        p.lps = 0;
        assert!(p.validate().unwrap_err().contains("--lps"));
    }
}
