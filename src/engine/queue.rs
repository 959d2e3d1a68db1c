//! Pending-event sets: the self-tuning calendar queue the executors use, and the heaps it was
//! measured against (`benches/engine.rs` keeps those measurements).
//!
//! Every set orders items by a unique 128-bit key whose high 64 bits are the time in
//! nanoseconds; the low 64 bits break ties without reference to insertion order. All sets pop
//! in exactly the same order, so the choice of structure never changes a result.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// An item with a unique ordering key: `time << 64 | tie`.
pub trait Keyed {
    /// The full ordering key. Two distinct pending items must never share a key.
    fn key(&self) -> u128;
    /// The time part of the key, in nanoseconds.
    #[inline]
    fn time(&self) -> u64 {
        (self.key() >> 64) as u64
    }
}

/// The interface the benchmarks and property tests drive every structure through.
pub trait EventSet<T: Keyed> {
    /// Adds an item.
    fn push(&mut self, item: T);
    /// Removes and returns the item with the smallest key.
    fn pop(&mut self) -> Option<T>;
    /// The smallest key, if any (may reorganise internally, hence `&mut`).
    fn peek_key(&mut self) -> Option<u128>;
    /// Number of pending items.
    fn len(&self) -> usize;
    /// Removes and returns the smallest item if its time is before `end`.
    #[inline]
    fn pop_before(&mut self, end: u64) -> Option<T> {
        match self.peek_key() {
            Some(k) if ((k >> 64) as u64) < end => self.pop(),
            _ => None,
        }
    }
    /// Whether no item is pending.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reverses an item's key order so that `BinaryHeap` (a max-heap) pops the smallest key.
#[repr(transparent)]
pub struct Rev<T>(pub T);

impl<T: Keyed> PartialEq for Rev<T> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.0.key() == other.0.key()
    }
}
impl<T: Keyed> Eq for Rev<T> {}
impl<T: Keyed> PartialOrd for Rev<T> {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T: Keyed> Ord for Rev<T> {
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.key().cmp(&self.0.key())
    }
}

/// `std::collections::BinaryHeap`, the textbook baseline.
pub struct StdHeap<T>(BinaryHeap<Rev<T>>);

impl<T: Keyed> Default for StdHeap<T> {
    fn default() -> Self {
        StdHeap(BinaryHeap::new())
    }
}

impl<T: Keyed> EventSet<T> for StdHeap<T> {
    #[inline]
    fn push(&mut self, item: T) {
        self.0.push(Rev(item));
    }
    #[inline]
    fn pop(&mut self) -> Option<T> {
        self.0.pop().map(|r| r.0)
    }
    #[inline]
    fn peek_key(&mut self) -> Option<u128> {
        self.0.peek().map(|r| r.0.key())
    }
    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// An implicit 4-ary min-heap: shallower than a binary heap, children share a cache line.
pub struct QuadHeap<T> {
    items: Vec<T>,
}

impl<T: Keyed> Default for QuadHeap<T> {
    fn default() -> Self {
        QuadHeap { items: Vec::new() }
    }
}

impl<T: Keyed> EventSet<T> for QuadHeap<T> {
    fn push(&mut self, item: T) {
        let key = item.key();
        self.items.push(item);
        let mut i = self.items.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 4;
            if self.items[parent].key() <= key {
                break;
            }
            self.items.swap(i, parent);
            i = parent;
        }
    }

    fn pop(&mut self) -> Option<T> {
        let n = self.items.len();
        if n == 0 {
            return None;
        }
        let top = self.items.swap_remove(0);
        let n = n - 1;
        if n > 1 {
            let key = self.items[0].key();
            let mut i = 0;
            loop {
                let first = 4 * i + 1;
                if first >= n {
                    break;
                }
                let last = (first + 4).min(n);
                let mut best = first;
                let mut best_key = self.items[first].key();
                for c in first + 1..last {
                    let k = self.items[c].key();
                    if k < best_key {
                        best = c;
                        best_key = k;
                    }
                }
                if best_key >= key {
                    break;
                }
                self.items.swap(i, best);
                i = best;
            }
        }
        Some(top)
    }

    fn peek_key(&mut self) -> Option<u128> {
        self.items.first().map(Keyed::key)
    }

    fn len(&self) -> usize {
        self.items.len()
    }
}

/// Largest number of ring buckets (each costs a 24-byte `Vec` header).
const MAX_BUCKETS: usize = 1 << 22;
/// Smallest number of ring buckets.
const MIN_BUCKETS: usize = 16;
/// Events per bucket the tuner aims for in the dense part of the future. Measured with
/// PHOLD (see `benches/engine.rs` and the README): 3 per bucket ran at 16.5 M events/s with
/// 16 K pending and 2.8 M with 1 M pending; 32 per bucket at 25 M and 6.4 M. Fuller buckets
/// mean fewer, denser cache lines; sorting 32 keys on each advance is cheap beside a miss.
const TARGET_PER_BUCKET: u64 = 32;
/// Fraction of the pending future the ring covers; later events wait in the far heap.
const COVER: f64 = 0.995;
/// Most items pushed into the current slot that wait in the sorted list of `late`; further
/// ones wait in its heap, which keeps the worst case (every event at one time) at O(log n).
const SORTED_INSERT_MAX: usize = 128;
/// Bucket advances between two checks of the tuning statistics.
const TUNE_EVERY: u32 = 4096;

/// A calendar queue with a far-future heap, tuned from the pending events themselves.
///
/// Time is cut into slots of `2^shift` ns. The current slot's events that came from its
/// bucket sit in a vector sorted by descending key (`cur`, popped from the end); an event
/// pushed into the current slot after that waits in `late`: its item in a slab, where it stays
/// until popped, and its key with the slab index in a compact sorted list (or, past
/// `SORTED_INSERT_MAX` of them, a heap of such keys). With lazy timeouts the pending set is
/// small, slots are wide and nearly every push lands in `late`, so an insertion moves 24-byte
/// keys rather than whole events. The next `nb - 1` slots are a ring of unsorted buckets with
/// an occupancy bitmap; anything later waits in a binary heap (`far`) until the window
/// reaches it. Pushes
/// and pops are O(1) on average while the tuning holds, and never worse than a heap's
/// O(log n) when it does not (for example when every event has the same time). Retuning
/// rebuilds the structure in O(n) when the population doubles or halves, when buckets grow
/// crowded, or when too much of the future falls beyond the window.
///
/// Invariants (between calls):
/// - `cur` is sorted by descending key; every item in `cur` and `late` has slot <= `cur_slot`;
/// - every ring item has slot in (`cur_slot`, `cur_slot + nb`) and sits in bucket
///   `slot & mask`, whose occupancy bit is set iff the bucket is non-empty;
/// - every item in `far` or `far_new` has slot >= `cur_slot + nb` or was pushed before the
///   window reached it, and is pulled into the ring whenever `cur_slot` advances past it.
pub struct CalendarQueue<T> {
    buckets: Vec<Vec<Rev<T>>>,
    occupied: Vec<u64>,
    shift: u32,
    mask: u64,
    cur: Vec<Rev<T>>,
    late: Late<T>,
    cur_slot: u64,
    ring_len: usize,
    far: BinaryHeap<Rev<T>>,
    /// Far items not yet merged into `far`: pushes stay O(1), and a rebuild (which collects
    /// everything anyway) never pays for heap order it would throw away.
    far_new: Vec<Rev<T>>,
    len: usize,
    grow_at: usize,
    shrink_at: usize,
    far_limit: usize,
    advances: u32,
    advanced_items: u64,
    /// Pushes, and those of them that went beyond the ring (into `far_new`), since the last
    /// tuning check: a ring that covers too little of the future shows here.
    pushes: u64,
    far_pushes: u64,
    rebuilds: u64,
}

impl<T: Keyed> Default for CalendarQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Keyed> CalendarQueue<T> {
    /// An empty queue with small initial buckets; it retunes itself as events arrive.
    pub fn new() -> Self {
        let nb = MIN_BUCKETS;
        CalendarQueue {
            buckets: (0..nb).map(|_| Vec::new()).collect(),
            occupied: vec![0; nb.div_ceil(64)],
            shift: 20,
            mask: nb as u64 - 1,
            cur: Vec::new(),
            late: Late::default(),
            cur_slot: 0,
            ring_len: 0,
            far: BinaryHeap::new(),
            far_new: Vec::new(),
            len: 0,
            grow_at: 4 * nb,
            shrink_at: 0,
            far_limit: usize::MAX,
            advances: 0,
            advanced_items: 0,
            pushes: 0,
            far_pushes: 0,
            rebuilds: 0,
        }
    }

    /// How many times the queue has retuned itself (for diagnostics and benchmarks).
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds
    }

    /// Bytes of memory the queue holds (item storage by capacity, bucket headers, bitmap).
    pub fn memory_bytes(&self) -> usize {
        let item = std::mem::size_of::<T>();
        let header = std::mem::size_of::<Vec<Rev<T>>>();
        let buckets: usize = self
            .buckets
            .iter()
            .map(|b| b.capacity() * item + header)
            .sum();
        buckets
            + (self.cur.capacity() + self.far.capacity() + self.far_new.capacity()) * item
            + self.occupied.capacity() * 8
            + self.late.memory_bytes()
    }

    /// The bucket width in nanoseconds and the number of buckets now in use.
    pub fn geometry(&self) -> (u64, usize) {
        (1u64 << self.shift, self.buckets.len())
    }

    #[inline]
    fn nb(&self) -> u64 {
        self.mask + 1
    }

    #[inline]
    fn place(&mut self, item: T) {
        let slot = item.time() >> self.shift;
        if slot <= self.cur_slot {
            self.late.push(item);
        } else if slot - self.cur_slot < self.nb() {
            let idx = (slot & self.mask) as usize;
            self.buckets[idx].push(Rev(item));
            self.occupied[idx >> 6] |= 1 << (idx & 63);
            self.ring_len += 1;
        } else {
            self.far_pushes += 1;
            self.far_new.push(Rev(item));
        }
    }

    /// Moves far items that the window now covers into the ring (or `cur`).
    #[inline]
    fn pull_far(&mut self) {
        if !self.far_new.is_empty() {
            self.far.extend(self.far_new.drain(..));
        }
        let end = self.cur_slot.saturating_add(self.nb());
        while let Some(top) = self.far.peek() {
            if (top.0.time() >> self.shift) >= end {
                break;
            }
            let item = self.far.pop().expect("peeked").0;
            self.place(item);
        }
    }

    /// The ring index of the first occupied bucket after `cur_slot`, scanning the window.
    #[inline]
    fn next_occupied(&self) -> Option<u64> {
        let nb = self.nb();
        let start = (self.cur_slot + 1) & self.mask;
        let words = self.occupied.len() as u64;
        let mut w = start >> 6;
        // First word: only bits at or after `start`.
        let mut bits = self.occupied[w as usize] & (!0u64 << (start & 63));
        let mut scanned = 0u64;
        loop {
            if bits != 0 {
                let idx = (w << 6) | bits.trailing_zeros() as u64;
                return Some(idx);
            }
            scanned += 1;
            if scanned > words {
                return None;
            }
            w = (w + 1) % words;
            bits = self.occupied[w as usize];
            if nb < 64 {
                bits &= (1u64 << nb) - 1;
            }
        }
    }

    /// Makes the current slot non-empty if any item is pending. Returns false when the queue
    /// is empty.
    #[inline]
    fn ensure_current(&mut self) -> bool {
        if !self.cur.is_empty() || !self.late.is_empty() {
            return true;
        }
        if self.len == 0 {
            return false;
        }
        self.advance();
        true
    }

    #[cold]
    fn advance(&mut self) {
        let far_len = self.far.len() + self.far_new.len();
        if self.len > self.grow_at || self.len < self.shrink_at || far_len > self.far_limit {
            self.rebuild();
            if !self.cur.is_empty() || !self.late.is_empty() {
                return;
            }
        }
        if self.ring_len == 0 {
            // Jump straight to the earliest far item.
            if !self.far_new.is_empty() {
                self.far.extend(self.far_new.drain(..));
            }
            let first = self
                .far
                .peek()
                .expect("len > 0 but nothing pending")
                .0
                .time();
            self.cur_slot = first >> self.shift;
            self.pull_far();
            if !self.cur.is_empty() || !self.late.is_empty() {
                self.note_advance(self.cur.len() as u64);
                return;
            }
        }
        let idx = self
            .next_occupied()
            .expect("ring_len > 0 but no occupied bucket");
        let cur_idx = self.cur_slot & self.mask;
        let dist = (idx.wrapping_sub(cur_idx)) & self.mask;
        self.cur_slot += dist;
        // The current slot takes the bucket's storage; the bucket starts again with none. A
        // bucket's occupancy peaks just before it is drained and averages far less over the
        // ring, so keeping capacity would hold several times the memory the events need.
        let bucket = std::mem::take(&mut self.buckets[idx as usize]);
        self.ring_len -= bucket.len();
        self.advanced_items += bucket.len() as u64;
        self.cur = bucket;
        self.occupied[(idx >> 6) as usize] &= !(1u64 << (idx & 63));
        self.cur
            .sort_unstable_by_key(|r| std::cmp::Reverse(r.0.key()));
        self.pull_far();
        self.note_advance(0);
    }

    /// Counts one advance of the current slot (and `items` more items that reached it), and
    /// every `TUNE_EVERY` advances checks whether the tuning still fits the events.
    #[inline]
    fn note_advance(&mut self, items: u64) {
        self.advanced_items += items;
        self.advances += 1;
        if self.advances >= TUNE_EVERY {
            // Buckets far fuller than intended.
            let crowded = self.advanced_items > 16 * TARGET_PER_BUCKET * self.advances as u64;
            // A ring too short for the future: a quarter of the pushes went to the far heap
            // (the tuning aims at half a percent of the pending events). A small pending set
            // never reaches the population thresholds, so this is what retunes it, for
            // example away from the initial 1 ms slots when events are seconds apart. The
            // rebuild costs O(len), paid only when more pushes than that went by.
            let short = 4 * self.far_pushes > self.pushes && (self.len as u64) < self.pushes;
            self.advances = 0;
            self.advanced_items = 0;
            self.pushes = 0;
            self.far_pushes = 0;
            if crowded || short {
                // Retune on the next advance.
                self.grow_at = 0;
            }
        }
    }

    /// The smallest key of the current slot and where it waits: `cur`, or `late`'s sorted
    /// list or heap. `None` when the current slot is empty.
    #[inline]
    fn min_source(&self) -> Option<(u128, Source)> {
        let mut best = self.cur.last().map(|r| (r.0.key(), Source::Cur));
        if let Some(k) = self.late.sorted_key() {
            if best.is_none_or(|(b, _)| k < b) {
                best = Some((k, Source::Sorted));
            }
        }
        if let Some(k) = self.late.heap_key() {
            if best.is_none_or(|(b, _)| k < b) {
                best = Some((k, Source::Heap));
            }
        }
        best
    }

    /// The smallest key of the current slot, which must not be empty.
    #[inline]
    fn min_key(&self) -> u128 {
        self.min_source()
            .expect("min_key on an empty current slot")
            .0
    }

    /// Removes the smallest item of the current slot from where `min_source` found it.
    #[inline]
    fn take(&mut self, source: Source) -> T {
        match source {
            Source::Cur => self.cur.pop().expect("cur is non-empty").0,
            Source::Sorted => self.late.pop_sorted(),
            Source::Heap => self.late.pop_heap(),
        }
    }

    /// Collects every item and lays them out again with a width and ring size fitted to them.
    #[cold]
    fn rebuild(&mut self) {
        self.rebuilds += 1;
        let mut all: Vec<T> = Vec::with_capacity(self.len);
        all.extend(self.cur.drain(..).map(|r| r.0));
        self.late.drain_into(&mut all);
        all.extend(
            std::mem::take(&mut self.far)
                .into_vec()
                .into_iter()
                .map(|r| r.0),
        );
        all.extend(std::mem::take(&mut self.far_new).into_iter().map(|r| r.0));
        for b in &mut self.buckets {
            all.extend(b.drain(..).map(|r| r.0));
        }
        let n = all.len();
        assert_eq!(n, self.len, "calendar queue lost track of its items");
        let (shift, nb) = tune(&all);
        self.shift = shift;
        if nb != self.buckets.len() {
            self.buckets = (0..nb).map(|_| Vec::new()).collect();
        }
        self.occupied = vec![0; nb.div_ceil(64)];
        self.mask = nb as u64 - 1;
        self.ring_len = 0;
        let min_time = all.iter().map(Keyed::time).min().unwrap_or(0);
        self.cur_slot = min_time >> shift;
        for item in all {
            self.place(item);
        }
        self.grow_at = (2 * n).max(4 * nb).max(1024);
        self.shrink_at = if n > 8192 { n / 4 } else { 0 };
        self.far_limit = (n / 2).max(2 * self.far.len()).max(1024);
        self.advances = 0;
        self.advanced_items = 0;
        self.pushes = 0;
        self.far_pushes = 0;
    }
}

/// Where the smallest item of the current slot waits.
#[derive(Clone, Copy)]
enum Source {
    Cur,
    Sorted,
    Heap,
}

/// The key of an item in `late`'s sorted list and its slab index: 24 bytes, so that inserting
/// moves a third of what moving events would.
#[derive(Clone, Copy)]
struct Near {
    time: u64,
    tie: u64,
    idx: u32,
}

impl Near {
    #[inline]
    fn key(&self) -> u128 {
        ((self.time as u128) << 64) | self.tie as u128
    }
}

/// Items pushed into the current slot after it was sorted. The items stay in a slab from push
/// to pop; their keys with slab indices wait in a list sorted by descending key (`sorted`, at
/// most `SORTED_INSERT_MAX` long, popped from the end: new events mostly fall near the
/// present, so an insertion moves few entries) and, beyond that, in a binary heap (`heap`).
/// Either way only small entries move, however large the items are.
struct Late<T> {
    sorted: Vec<Near>,
    heap: BinaryHeap<std::cmp::Reverse<(u128, u32)>>,
    items: Vec<Option<T>>,
    free: Vec<u32>,
}

impl<T> Default for Late<T> {
    fn default() -> Self {
        Late {
            sorted: Vec::new(),
            heap: BinaryHeap::new(),
            items: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T: Keyed> Late<T> {
    #[inline]
    fn push(&mut self, item: T) {
        let key = item.key();
        let idx = match self.free.pop() {
            Some(i) => {
                self.items[i as usize] = Some(item);
                i
            }
            None => {
                self.items.push(Some(item));
                (self.items.len() - 1) as u32
            }
        };
        if self.sorted.len() < SORTED_INSERT_MAX {
            // Shift the later-key entries up from the end: new events mostly fall near the
            // present (the end), so the search and the move are one short pass.
            let near = Near {
                time: (key >> 64) as u64,
                tie: key as u64,
                idx,
            };
            self.sorted.push(near);
            let v = &mut self.sorted[..];
            let mut i = v.len() - 1;
            while i > 0 && v[i - 1].key() < key {
                v[i] = v[i - 1];
                i -= 1;
            }
            v[i] = near;
        } else {
            self.heap.push(std::cmp::Reverse((key, idx)));
        }
    }

    #[inline]
    fn sorted_key(&self) -> Option<u128> {
        self.sorted.last().map(Near::key)
    }

    #[inline]
    fn heap_key(&self) -> Option<u128> {
        self.heap.peek().map(|r| r.0.0)
    }

    #[inline]
    fn pop_sorted(&mut self) -> T {
        let idx = self.sorted.pop().expect("sorted is non-empty").idx;
        self.free.push(idx);
        self.items[idx as usize]
            .take()
            .expect("a sorted entry's item")
    }

    #[inline]
    fn pop_heap(&mut self) -> T {
        let idx = self.heap.pop().expect("heap is non-empty").0.1;
        self.free.push(idx);
        self.items[idx as usize]
            .take()
            .expect("a heap entry's item")
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.sorted.is_empty() && self.heap.is_empty()
    }

    /// Moves every item into `out` (in no particular order) and empties the set.
    fn drain_into(&mut self, out: &mut Vec<T>) {
        self.sorted.clear();
        self.heap.clear();
        self.free.clear();
        out.extend(self.items.drain(..).flatten());
    }

    fn memory_bytes(&self) -> usize {
        self.sorted.capacity() * std::mem::size_of::<Near>()
            + self.heap.capacity() * std::mem::size_of::<(u128, u32)>()
            + self.items.capacity() * std::mem::size_of::<Option<T>>()
            + self.free.capacity() * 4
    }
}

/// Chooses the slot width (as a power of two) and the ring size for a set of items.
fn tune<T: Keyed>(items: &[T]) -> (u32, usize) {
    let n = items.len();
    if n < 2 {
        return (20, MIN_BUCKETS);
    }
    // A strided sample of at most 1024 times is enough to find the quantiles.
    let step = (n / 1024).max(1);
    let mut sample: Vec<u64> = items.iter().step_by(step).map(Keyed::time).collect();
    sample.sort_unstable();
    let t0 = sample[0];
    let q = |p: f64| sample[((sample.len() - 1) as f64 * p) as usize] - t0;
    let half = q(0.5);
    // Width: TARGET_PER_BUCKET events per slot over the nearer half of the future.
    let width = (2 * TARGET_PER_BUCKET as u128 * half as u128 / n as u128).max(1) as u64;
    let shift = 63 - width.leading_zeros();
    // Ring: cover up to the COVER quantile, within memory bounds.
    let span_slots = (q(COVER) >> shift) + 2;
    let cap = n.next_power_of_two().clamp(MIN_BUCKETS, MAX_BUCKETS);
    let nb = (span_slots.min(cap as u64) as usize)
        .next_power_of_two()
        .clamp(MIN_BUCKETS, MAX_BUCKETS);
    (shift, nb)
}

impl<T: Keyed> EventSet<T> for CalendarQueue<T> {
    #[inline]
    fn push(&mut self, item: T) {
        self.len += 1;
        self.pushes += 1;
        self.place(item);
    }

    #[inline]
    fn pop(&mut self) -> Option<T> {
        if !self.ensure_current() {
            return None;
        }
        let (_, source) = self.min_source()?;
        self.len -= 1;
        Some(self.take(source))
    }

    #[inline]
    fn peek_key(&mut self) -> Option<u128> {
        if !self.ensure_current() {
            return None;
        }
        Some(self.min_key())
    }

    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn pop_before(&mut self, end: u64) -> Option<T> {
        if !self.ensure_current() {
            return None;
        }
        let (key, source) = self.min_source()?;
        if ((key >> 64) as u64) >= end {
            return None;
        }
        self.len -= 1;
        Some(self.take(source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::{below, entity_stream, exponential_nanos};
    use proptest::prelude::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct K(u128);
    impl Keyed for K {
        fn key(&self) -> u128 {
            self.0
        }
    }

    fn k(time: u64, tie: u64) -> K {
        K(((time as u128) << 64) | tie as u128)
    }

    /// Drives a set through a random hold model and returns the popped keys.
    fn hold_trace<S: EventSet<K>>(
        mut set: S,
        seed: u64,
        n: usize,
        ops: usize,
        mean: f64,
    ) -> Vec<u128> {
        let mut r = entity_stream(seed, 0);
        let mut tie = 0u64;
        for _ in 0..n {
            tie += 1;
            set.push(k(exponential_nanos(&mut r, mean), tie));
        }
        let mut out = Vec::with_capacity(ops);
        for i in 0..ops {
            let e = set.pop().expect("non-empty");
            out.push(e.0);
            // Vary the population: sometimes push two, sometimes none.
            let pushes = match below(&mut r, 8) {
                0 => 0,
                1 => 2,
                _ => 1,
            };
            for _ in 0..pushes {
                tie += 1;
                let delay = if i % 97 == 0 {
                    0
                } else {
                    exponential_nanos(&mut r, mean)
                };
                set.push(k(e.time() + delay, tie));
            }
            if set.is_empty() {
                tie += 1;
                set.push(k(e.time() + 1, tie));
            }
        }
        while let Some(e) = set.pop() {
            out.push(e.0);
        }
        out
    }

    #[test]
    fn all_sets_pop_the_same_sequence() {
        for &(n, mean) in &[(10usize, 1e9), (1000, 1e6), (5000, 3.0), (20_000, 1e12)] {
            let a = hold_trace(StdHeap::default(), 5, n, 50_000, mean);
            let b = hold_trace(QuadHeap::default(), 5, n, 50_000, mean);
            let c = hold_trace(CalendarQueue::new(), 5, n, 50_000, mean);
            assert_eq!(a, b, "quad heap differs at n={n}");
            assert_eq!(a, c, "calendar differs at n={n}");
            assert!(a.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn a_small_pending_set_seconds_apart_retunes_away_from_the_initial_slots() {
        // M/M/10 at 80%: about a dozen events pending, seconds apart. The population never
        // reaches the size thresholds; the far-push share must retune the 1 ms initial slots,
        // or every event goes through the far heap.
        let mut q = CalendarQueue::new();
        let mut r = entity_stream(3, 3);
        let mut tie = 0u64;
        for _ in 0..12 {
            tie += 1;
            q.push(k(exponential_nanos(&mut r, 1e9), tie));
        }
        let initial = q.geometry().0;
        let mut last = 0u128;
        for _ in 0..200_000 {
            let e = q.pop().unwrap();
            assert!(e.0 > last);
            last = e.0;
            tie += 1;
            q.push(k(e.time() + exponential_nanos(&mut r, 1e9), tie));
        }
        assert!(q.rebuilds() >= 1);
        assert!(
            q.geometry().0 >= 64 * initial,
            "slots of {} ns after retuning (initially {initial})",
            q.geometry().0
        );
        // And a retuned queue no longer sends pushes beyond its ring.
        let far_before = q.far_pushes;
        for _ in 0..10_000 {
            let e = q.pop().unwrap();
            tie += 1;
            q.push(k(e.time() + exponential_nanos(&mut r, 1e9), tie));
        }
        assert!(q.far_pushes - far_before < 1_000);
    }

    #[test]
    fn pushes_into_the_current_slot_use_the_sorted_keys_and_the_overflow_heap_in_order() {
        // Every event within one wide slot: after the first advance, pushes land in `late`,
        // first in its sorted keys, then (past SORTED_INSERT_MAX) in its heap, interleaved
        // with the slot's own sorted events. The pops must match a binary heap's.
        let mut q = CalendarQueue::new();
        let mut reference = StdHeap::default();
        let mut r = entity_stream(11, 11);
        let mut tie = 0u64;
        for _ in 0..50 {
            tie += 1;
            let e = k(below(&mut r, 1000), tie);
            q.push(e);
            reference.push(e);
        }
        let (mut saw_sorted, mut saw_heap) = (false, false);
        let mut now = 0u64;
        for i in 0..20_000u64 {
            // Grow the population past the sorted list's limit, then let it shrink again.
            let pushes = if i < 5_000 {
                2
            } else if i < 10_000 {
                1
            } else {
                i % 2
            };
            for _ in 0..pushes {
                tie += 1;
                // Ties at the same time as well as later times, all within the slot.
                let e = k(now + below(&mut r, 4), 1_000_000 - tie);
                q.push(e);
                reference.push(e);
            }
            saw_sorted |= !q.late.sorted.is_empty();
            saw_heap |= !q.late.heap.is_empty();
            let (Some(a), Some(b)) = (q.pop(), reference.pop()) else {
                break;
            };
            assert_eq!(a, b, "pop {i}");
            now = a.time();
        }
        while let Some(b) = reference.pop() {
            assert_eq!(q.pop(), Some(b));
        }
        assert_eq!(q.pop(), None);
        assert!(
            saw_sorted && saw_heap,
            "sorted {saw_sorted}, heap {saw_heap}"
        );
    }

    #[test]
    fn same_time_events_come_out_by_tie() {
        let mut q = CalendarQueue::new();
        for tie in (0..10_000u64).rev() {
            q.push(k(42, tie));
        }
        for tie in 0..10_000u64 {
            assert_eq!(q.pop(), Some(k(42, tie)));
        }
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn bimodal_delays_do_not_lose_order() {
        // Hops of microseconds mixed with hour-long timeouts, as request models produce.
        let mut q = CalendarQueue::new();
        let mut r = entity_stream(9, 9);
        let mut tie = 0;
        let mut now = 0u64;
        for _ in 0..10_000 {
            tie += 1;
            q.push(k(now + 3_600_000_000_000, tie));
            tie += 1;
            q.push(k(now + exponential_nanos(&mut r, 50_000.0), tie));
            let e = q.pop().unwrap();
            assert!(e.time() >= now);
            now = e.time();
        }
        let mut last = 0;
        while let Some(e) = q.pop() {
            assert!(e.0 > last);
            last = e.0;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Popped events come out in non-decreasing key order, whatever is pushed when.
        #[test]
        fn calendar_pops_in_key_order(
            times in prop::collection::vec(0u64..1u64 << 40, 1..400),
            later in prop::collection::vec((0u64..1u64 << 36, 0u8..3), 0..800),
        ) {
            let mut q = CalendarQueue::new();
            let mut reference = StdHeap::default();
            let mut tie = 0;
            for t in times {
                tie += 1;
                q.push(k(t, tie));
                reference.push(k(t, tie));
            }
            let mut last: Option<u128> = None;
            let mut it = later.into_iter();
            while let Some(e) = q.pop() {
                let r = reference.pop().unwrap();
                prop_assert_eq!(e, r);
                if let Some(l) = last {
                    prop_assert!(e.0 >= l);
                }
                last = Some(e.0);
                if let Some((d, copies)) = it.next() {
                    for _ in 0..copies {
                        tie += 1;
                        q.push(k(e.time() + d, tie));
                        reference.push(k(e.time() + d, tie));
                    }
                }
            }
            prop_assert!(reference.is_empty());
        }
    }
}
