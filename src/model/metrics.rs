//! Metrics: per-bucket counters every entity keeps for itself, a log-linear latency histogram,
//! and the aggregation of both into per-group time series and run summaries.
//!
//! Entities only ever touch their own counters, so collection needs no locks and the merge
//! (in entity-id order) gives the same numbers on every executor.

/// Linear sub-bins per power of two: a bin is at most 1/16 of its lower edge wide, so the
/// midpoint reported is within 1/32 (3.125%) of any value in it (from 16 ns; below, bins are
/// 1 ns wide).
const SUB: usize = 16;
/// Octaves covered: 1 ns .. 2^45 ns (about 9.8 hours); longer latencies share the top bin.
const OCTAVES: usize = 46;

/// A log-linear histogram of nanosecond latencies.
///
/// Only the bins between the lowest and the highest recorded value are stored (`first` is the
/// index of `bins[0]`): a bucket's latencies usually span a few octaves, so a histogram holds
/// about a hundred bins instead of all 736, and the per-bucket series of a long run stay small.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    bins: Vec<u64>,
    first: usize,
    count: u64,
    sum: f64,
}

/// Equal when they hold the same counts, however much of the range each stores.
impl PartialEq for Histogram {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.sum == other.sum && self.nonzero().eq(other.nonzero())
    }
}

impl Histogram {
    #[inline]
    fn index(ns: u64) -> usize {
        if ns < SUB as u64 {
            return ns as usize;
        }
        let octave = 63 - ns.leading_zeros() as usize; // >= 4
        let sub = ((ns >> (octave - 4)) & (SUB as u64 - 1)) as usize;
        ((octave - 3) * SUB + sub).min(OCTAVES * SUB - 1)
    }

    /// The lower edge of a bin, in nanoseconds.
    fn lower(i: usize) -> u64 {
        if i < SUB {
            return i as u64;
        }
        let octave = i / SUB + 3;
        let sub = (i % SUB) as u64;
        (SUB as u64 + sub) << (octave - 4)
    }

    /// The (bin index, count) pairs with a count.
    fn nonzero(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.bins
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(j, &c)| (self.first + j, c))
    }

    /// The stored counter of bin `i`, widening the stored range to reach it.
    #[inline]
    fn slot(&mut self, i: usize) -> &mut u64 {
        if self.bins.is_empty() {
            self.first = i;
            self.bins.push(0);
        } else if i < self.first {
            let grow = self.first - i;
            self.bins.splice(0..0, std::iter::repeat_n(0, grow));
            self.first = i;
        } else if i >= self.first + self.bins.len() {
            self.bins.resize(i - self.first + 1, 0);
        }
        &mut self.bins[i - self.first]
    }

    /// Records one latency.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        *self.slot(Self::index(ns)) += 1;
        self.count += 1;
        self.sum += ns as f64;
    }

    /// Adds another histogram's counts.
    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        // Widen to the other's stored range, then add bin by bin.
        let (lo, n) = (other.first, other.bins.len());
        self.slot(lo);
        self.slot(lo + n - 1);
        for (j, &c) in other.bins.iter().enumerate() {
            self.bins[lo + j - self.first] += c;
        }
        self.count += other.count;
        self.sum += other.sum;
    }

    /// Number of recorded values.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Mean in seconds (0 when empty).
    pub fn mean_s(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64 / 1e9
        }
    }

    /// The q-quantile in seconds (the midpoint of its bin; 0 when empty).
    pub fn quantile_s(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0u64;
        for (i, c) in self.nonzero() {
            seen += c;
            if seen >= rank {
                let lo = Self::lower(i) as f64;
                let hi = if i + 1 < OCTAVES * SUB {
                    Self::lower(i + 1) as f64
                } else {
                    lo
                };
                return (lo + hi) / 2.0 / 1e9;
            }
        }
        Self::lower(OCTAVES * SUB - 1) as f64 / 1e9
    }
}

/// One bucket of a client group's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClientBucket {
    /// User requests started in the bucket.
    pub requests: u64,
    /// Attempts started in the bucket.
    pub attempts: u64,
    /// User requests finished in the bucket, by outcome.
    pub successes: u64,
    pub degraded: u64,
    pub errors: u64,
    pub timeouts: u64,
    /// Refused by a rate or concurrency limit (HTTP 429) on their last attempt.
    pub throttled: u64,
    /// Hedges sent (`policy/hedge.rs`): second copies of an attempt not answered in time.
    pub hedged: u64,
    /// Calls abandoned because their hedge sibling answered first (the callee's work on
    /// them is wasted).
    pub wasted: u64,
    /// With a `concurrency_limit`: the most attempts one replica had in flight under it, and
    /// the lowest limit it had, during the bucket (as far as calls started or ended in it).
    pub peak_in_flight: u32,
    pub lowest_limit: Option<f64>,
    /// Answered with an overload answer: shed by a queue's overload control.
    pub shed: u64,
    /// Latency of successful and degraded user requests finished in the bucket.
    pub latency: Histogram,
}

impl ClientBucket {
    /// Finished user requests.
    pub fn finished(&self) -> u64 {
        self.successes + self.degraded + self.errors + self.timeouts + self.throttled + self.shed
    }

    /// Share of finished user requests that succeeded (degraded included); None if none
    /// finished.
    pub fn availability(&self) -> Option<f64> {
        let f = self.finished();
        (f > 0).then(|| (self.successes + self.degraded) as f64 / f as f64)
    }

    fn add(&mut self, o: &ClientBucket) {
        self.requests += o.requests;
        self.attempts += o.attempts;
        self.successes += o.successes;
        self.degraded += o.degraded;
        self.errors += o.errors;
        self.timeouts += o.timeouts;
        self.throttled += o.throttled;
        self.hedged += o.hedged;
        self.wasted += o.wasted;
        self.peak_in_flight = self.peak_in_flight.max(o.peak_in_flight);
        self.lowest_limit = match (self.lowest_limit, o.lowest_limit) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.shed += o.shed;
        self.latency.merge(&o.latency);
    }
}

/// One bucket of a component replica's counters.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerBucket {
    /// Requests (and relayed messages) that arrived.
    pub arrivals: u64,
    /// Refused at admission: queue full or connection table full.
    pub rejected: u64,
    /// Lost without an answer: arrived at a crashed replica, or a relayed message that found
    /// a network device's queue full.
    pub dropped: u64,
    /// Refused by a firewall's deny rule (an error for the caller, but the rule working).
    pub denied: u64,
    /// Refused by its rate limit (answered 429 at once), or outbound calls it failed fast
    /// at its own concurrency limit.
    pub throttled: u64,
    /// Shed while waiting (`policy/queue.rs`): displaced by a more important request, waited
    /// past `shed_after`, dropped by CoDel, or dropped because its caller had given up.
    pub shed: u64,
    /// Jobs finished (answered or relayed).
    pub served: u64,
    /// Jobs answered with an error.
    pub errors: u64,
    /// Jobs that got a worker, and the time they had waited for it.
    pub started: u64,
    pub wait_ns: f64,
    /// Worker-nanoseconds busy.
    pub busy_ns: f64,
    /// Nanoseconds the replica was up (provisioned and not crashed); summed over a group, the
    /// replica-nanoseconds up.
    pub up_ns: f64,
    /// Live worker-nanoseconds: the workers each replica had while up (after config changes
    /// and capacity losses; none while crashed or not yet provisioned). Utilisation is
    /// `busy_ns / worker_ns`.
    pub worker_ns: f64,
    /// Longest queue seen.
    pub max_queue: u64,
    /// For health checkers: fewest targets seen healthy during the bucket.
    pub min_healthy: Option<u32>,
    /// Gossip messages received.
    pub gossip: u64,
    /// Worker-nanoseconds spent merging gossip (counted where the merge starts).
    pub gossip_busy_ns: f64,
}

impl ServerBucket {
    fn add(&mut self, o: &ServerBucket) {
        self.arrivals += o.arrivals;
        self.rejected += o.rejected;
        self.dropped += o.dropped;
        self.denied += o.denied;
        self.throttled += o.throttled;
        self.shed += o.shed;
        self.gossip += o.gossip;
        self.gossip_busy_ns += o.gossip_busy_ns;
        self.served += o.served;
        self.errors += o.errors;
        self.started += o.started;
        self.wait_ns += o.wait_ns;
        self.busy_ns += o.busy_ns;
        self.up_ns += o.up_ns;
        self.worker_ns += o.worker_ns;
        self.max_queue = self.max_queue.max(o.max_queue);
        self.min_healthy = match (self.min_healthy, o.min_healthy) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
}

/// Sums per-replica series into a group series (in replica order).
pub fn merge_clients<'a>(
    series: impl Iterator<Item = &'a [ClientBucket]>,
    n: usize,
) -> Vec<ClientBucket> {
    let mut out = vec![ClientBucket::default(); n];
    for s in series {
        for (a, b) in out.iter_mut().zip(s) {
            a.add(b);
        }
    }
    out
}

/// Sums per-replica series into a group series (in replica order). `min_healthy` becomes
/// the sum over the group's checkers of each one's minimum.
pub fn merge_servers<'a>(
    series: impl Iterator<Item = &'a [ServerBucket]>,
    n: usize,
) -> Vec<ServerBucket> {
    let mut out = vec![ServerBucket::default(); n];
    for s in series {
        for (a, b) in out.iter_mut().zip(s) {
            a.add(b);
        }
    }
    out
}

/// Downtime and longest outage of a series: the time in buckets whose availability is below
/// the SLO, and the longest run of consecutive such buckets. `width(b)` is bucket b's width.
pub fn outage_time(series: &[ClientBucket], slo: f64, width: impl Fn(usize) -> f64) -> (f64, f64) {
    let mut down = 0.0;
    let mut run = 0.0;
    let mut longest: f64 = 0.0;
    for (i, b) in series.iter().enumerate() {
        if b.availability().is_some_and(|a| a < slo) {
            down += width(i);
            run += width(i);
            longest = longest.max(run);
        } else {
            run = 0.0;
        }
    }
    (down, longest)
}

/// Busy worker time over live worker time (0 when no worker was live).
pub fn utilization(b: &ServerBucket) -> f64 {
    if b.worker_ns > 0.0 {
        b.busy_ns / b.worker_ns
    } else {
        0.0
    }
}

/// The share of live worker time spent merging gossip.
pub fn gossip_share(b: &ServerBucket) -> f64 {
    if b.worker_ns > 0.0 {
        b.gossip_busy_ns / b.worker_ns
    } else {
        0.0
    }
}

/// A whole group's client series summed over the run.
pub fn total_client(series: &[ClientBucket]) -> ClientBucket {
    let mut t = ClientBucket::default();
    for b in series {
        t.add(b);
    }
    t
}

/// A whole group's server series summed over the run.
pub fn total_server(series: &[ServerBucket]) -> ServerBucket {
    let mut t = ServerBucket::default();
    for b in series {
        t.add(b);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_within_a_bin() {
        let mut h = Histogram::default();
        for ms in 1..=1000u64 {
            h.record(ms * 1_000_000);
        }
        for (q, expect) in [(0.5, 0.5), (0.9, 0.9), (0.99, 0.99)] {
            let got = h.quantile_s(q);
            assert!(
                (got - expect).abs() / expect < 0.05,
                "q{q}: {got} vs {expect}"
            );
        }
        assert!((h.mean_s() - 0.5005).abs() < 1e-9);
    }

    #[test]
    fn a_reported_quantile_is_within_one_32nd_of_the_value() {
        // The worst values of a bin are its edges; check both of every bin but the last.
        for i in 1..OCTAVES * SUB - 1 {
            let (lo, hi) = (Histogram::lower(i), Histogram::lower(i + 1));
            for v in [lo, hi - 1] {
                let mut h = Histogram::default();
                h.record(v);
                let err = (h.quantile_s(0.5) * 1e9 - v as f64).abs() / v as f64;
                let bound = if v < SUB as u64 { 0.5 } else { 1.0 / 32.0 };
                assert!(err <= bound, "bin {i} value {v}: {err}");
            }
        }
    }

    #[test]
    fn a_stored_range_that_grows_both_ways_and_merges_counts_every_value_once() {
        // Values arrive upwards, downwards and out of range of what is stored; merging two
        // halves in either order gives the histogram of all of them.
        let values: Vec<u64> = (0..2000u64)
            .map(|i| (i * 7919 % 1999 + 1) * 1_000 * (1 + i % 5).pow(6))
            .collect();
        let mut all = Histogram::default();
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        for (k, &v) in values.iter().enumerate() {
            all.record(v);
            if k % 3 == 0 { a.record(v) } else { b.record(v) }
        }
        assert!(
            all.bins.len() < OCTAVES * SUB,
            "only the range in use is stored"
        );
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        for h in [&ab, &ba] {
            assert_eq!(h.count(), all.count());
            assert_eq!(
                h.nonzero().collect::<Vec<_>>(),
                all.nonzero().collect::<Vec<_>>()
            );
            for q in [0.01, 0.5, 0.9, 0.999] {
                assert_eq!(h.quantile_s(q), all.quantile_s(q));
            }
        }
        // The same counts compare equal whatever range each stores.
        let mut wide = Histogram::default();
        wide.record(1);
        wide.record(1 << 40);
        let mut narrow = Histogram::default();
        narrow.record(1 << 40);
        narrow.record(1);
        assert_eq!(wide, narrow);
        let mut empty = Histogram::default();
        empty.merge(&Histogram::default());
        assert_eq!(empty, Histogram::default());
    }

    #[test]
    fn histogram_bins_are_ordered_and_cover_small_values() {
        let mut last = 0;
        for i in 1..OCTAVES * SUB {
            let l = Histogram::lower(i);
            assert!(l > last || i == 0, "bin {i}");
            assert_eq!(Histogram::index(l), i, "bin {i} lower edge {l}");
            last = l;
        }
        assert_eq!(Histogram::index(0), 0);
        assert_eq!(Histogram::index(15), 15);
    }

    #[test]
    fn outages_count_buckets_below_slo() {
        let b = |s, e| ClientBucket {
            successes: s,
            errors: e,
            ..Default::default()
        };
        let series = vec![b(10, 0), b(5, 5), b(0, 3), b(10, 0), b(1, 1), b(0, 0)];
        assert_eq!(outage_time(&series, 0.99, |_| 60.0), (180.0, 120.0));
        // A last bucket cut short counts for its own width.
        let short = vec![b(10, 0), b(0, 1), b(0, 1)];
        assert_eq!(
            outage_time(&short, 0.99, |i| if i == 2 { 30.0 } else { 60.0 }),
            (90.0, 90.0)
        );
    }
}
