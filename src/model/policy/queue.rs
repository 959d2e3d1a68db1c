//! Queue disciplines and shedding: the order in which a replica's waiting requests get a worker
//! (`discipline`: FIFO, LIFO, adaptive LIFO, CoDel), serving by priority class (`by_priority`,
//! non-preemptive, with the least important class displaced first when the queue is full), a
//! bound on the queueing delay (`shed_after`), and dropping requests whose caller has already
//! given up (`drop_abandoned`). The value types of these server settings (declared in
//! `server.rs`) and their behaviour are here; `node.rs`'s `arrival` and `fill_workers` call
//! [`Node::enqueue`] and [`Node::dequeue`].
//!
//! Priority classes: a client group's `priority` (0, the default, is the most important; 7 the
//! least). A request keeps its class through every hop: the class travels with the request's
//! `source` (the client group it comes from), which every downstream call inherits. Health
//! checks, gossip and relayed messages are class 0.
//!
//! A request shed here is answered at once with [`Status::Shed`] (a fast overload answer, like
//! HTTP 503), which its caller may retry; one dropped because its caller gave up is not
//! answered (nobody waits for it). Both count in the `shed` column.

use std::collections::VecDeque;

use serde_json::{Value as Json, json};

use crate::engine::SimTime;
use crate::model::msg::{Status, Timer};
use crate::model::node::{Cx, Node, respond, send_self};
use crate::model::settings::{Input, PosDuration, Reader, Shape, Value, bounded};
use crate::model::spec::KindSpec;
use crate::model::world::World;
use crate::words;

/// The least important priority class (0 is the most important).
pub const MAX_PRIORITY: u32 = 7;

/// `discipline`: which waiting request gets the next free worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discipline {
    /// First in, first out (the default).
    Fifo,
    /// Last in, first out: the newest waiting request first.
    Lifo,
    /// FIFO while the queue is short and young; LIFO while more than `lifo_threshold` wait
    /// or the oldest has waited longer than `lifo_age` (Facebook's adaptive LIFO).
    AdaptiveLifo,
    /// FIFO with CoDel's drops at dequeue: once the queueing delay has stayed above
    /// `codel_target` for `codel_interval`, requests are shed at intervals that shrink as
    /// interval / sqrt(drops).
    Codel,
}

words!(
    Discipline,
    "queue discipline",
    [
        ("fifo", Discipline::Fifo),
        ("lifo", Discipline::Lifo),
        ("adaptive_lifo", Discipline::AdaptiveLifo),
        ("codel", Discipline::Codel),
    ]
);

/// How a replica's waiting queue orders and sheds requests (from the server settings).
#[derive(Clone, Debug, PartialEq)]
pub struct QueuePolicy {
    /// `discipline` (default "fifo").
    pub discipline: Discipline,
    /// `by_priority`: serve the most important class first (default false).
    pub by_priority: bool,
    /// `shed_after`: shed a request that has waited this long (default none).
    pub shed_after: Option<SimTime>,
    /// `lifo_threshold`: adaptive LIFO serves newest first while more than this many wait.
    pub lifo_threshold: u32,
    /// `lifo_age`: adaptive LIFO also serves newest first while the oldest is older.
    pub lifo_age: Option<SimTime>,
    /// `codel_target`: CoDel's acceptable standing queueing delay.
    pub codel_target: SimTime,
    /// `codel_interval`: CoDel's window (and the base of its control law).
    pub codel_interval: SimTime,
    /// `drop_abandoned`: drop, unserved, requests whose caller's timeout has passed.
    pub drop_abandoned: bool,
}

impl Default for QueuePolicy {
    /// Today's plain FIFO queue, and the defaults of the settings.
    fn default() -> QueuePolicy {
        QueuePolicy {
            discipline: Discipline::Fifo,
            by_priority: false,
            shed_after: None,
            lifo_threshold: DEFAULT_LIFO_THRESHOLD,
            lifo_age: None,
            codel_target: DEFAULT_CODEL_TARGET,
            codel_interval: DEFAULT_CODEL_INTERVAL,
            drop_abandoned: false,
        }
    }
}

pub const DEFAULT_LIFO_THRESHOLD: u32 = 10;
pub const DEFAULT_CODEL_TARGET: SimTime = SimTime::from_millis(5);
pub const DEFAULT_CODEL_INTERVAL: SimTime = SimTime::from_millis(100);

/// Adds `hint` to the problems `read` recorded (those without one).
fn hinted<T>(r: &mut Reader<'_>, hint: &str, read: impl FnOnce(&mut Reader<'_>) -> T) -> T {
    let before = r.issues.len();
    let out = read(r);
    for issue in &mut r.issues[before..] {
        if issue.hint.is_none() {
            issue.hint = Some(hint.to_owned());
        }
    }
    out
}

/// A client group's `priority`: a whole number from 0 (most important) to 7.
pub struct Priority;

impl Value for Priority {
    type Out = u32;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<u32> {
        let shape = input.shape();
        let Shape::Int(v) = shape else {
            return r.wrong_type("a whole number", &shape);
        };
        hinted(
            r,
            "priority classes go from 0 (the most important, the default) to 7 (the least)",
            |r| bounded(v, 0, MAX_PRIORITY, r),
        )
    }
    fn what() -> String {
        format!("a whole number from 0 (most important) to {MAX_PRIORITY}")
    }
    fn schema() -> Json {
        json!({ "type": "integer", "minimum": 0, "maximum": MAX_PRIORITY })
    }
    fn show(v: &u32) -> String {
        v.to_string()
    }
}

/// `lifo_threshold`: a whole number, at least 1.
pub struct LifoThreshold;

impl Value for LifoThreshold {
    type Out = u32;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<u32> {
        let shape = input.shape();
        let Shape::Int(v) = shape else {
            return r.wrong_type("a whole number", &shape);
        };
        hinted(
            r,
            "adaptive LIFO serves newest first while more than this many requests wait: \
             a threshold of 0 would be plain LIFO (write discipline = \"lifo\"); e.g. lifo_threshold = 10",
            |r| bounded(v, 1, u32::MAX, r),
        )
    }
    fn what() -> String {
        "a whole number, at least 1".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "integer", "minimum": 1 })
    }
    fn show(v: &u32) -> String {
        v.to_string()
    }
}

/// `codel_target` and `codel_interval`: a duration greater than zero.
pub struct CodelTime;

impl Value for CodelTime {
    type Out = SimTime;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<SimTime> {
        hinted(
            r,
            "CoDel needs a target delay and an interval greater than 0, e.g. codel_target = \"5ms\", codel_interval = \"100ms\"",
            |r| PosDuration::read(input, r),
        )
    }
    fn what() -> String {
        PosDuration::what()
    }
    fn schema() -> Json {
        PosDuration::schema()
    }
    fn show(v: &SimTime) -> String {
        PosDuration::show(v)
    }
}

/// One waiting request: its job and when it arrived.
#[derive(Clone, Copy, Debug)]
struct Entry {
    slot: u32,
    gen_: u32,
    arrived: u64,
}

/// CoDel's state (RFC 8289's names).
#[derive(Clone, Debug, Default)]
struct Codel {
    /// When the delay, above target since, will have been so for an interval.
    first_above: Option<u64>,
    dropping: bool,
    drop_next: u64,
    count: u32,
    last_count: u32,
}

/// CoDel's control law: the next drop `interval / sqrt(count)` after `t`.
pub fn control_law(t: u64, count: u32, interval: SimTime) -> u64 {
    t + (interval.0 as f64 / f64::from(count.max(1)).sqrt()) as u64
}

impl Codel {
    fn ok_to_drop(&mut self, now: u64, sojourn: u64, empty: bool, p: &QueuePolicy) -> bool {
        if sojourn < p.codel_target.0 || empty {
            self.first_above = None;
            return false;
        }
        match self.first_above {
            None => {
                self.first_above = Some(now + p.codel_interval.0);
                false
            }
            Some(t) => now >= t,
        }
    }

    /// Whether the request just taken from the queue, which waited `sojourn`, is dropped
    /// (`empty`: nothing else waits).
    fn drop(&mut self, now: u64, sojourn: u64, empty: bool, p: &QueuePolicy) -> bool {
        let ok = self.ok_to_drop(now, sojourn, empty, p);
        let interval = p.codel_interval;
        if self.dropping {
            if !ok {
                self.dropping = false;
                return false;
            }
            if now >= self.drop_next {
                self.count += 1;
                self.drop_next = control_law(self.drop_next, self.count, interval);
                return true;
            }
            false
        } else if ok {
            self.dropping = true;
            // Drop faster at once when the last dropping state ended recently.
            let delta = self.count.saturating_sub(self.last_count);
            self.count = if delta > 1 && now.saturating_sub(self.drop_next) < 16 * interval.0 {
                delta
            } else {
                1
            };
            self.drop_next = control_law(now, self.count, interval);
            self.last_count = self.count;
            true
        } else {
            false
        }
    }
}

/// A replica's waiting requests: one FIFO-ordered deque per priority class (one class unless
/// `by_priority`), each in arrival order; the discipline takes from either end.
#[derive(Debug, Default)]
pub(crate) struct WaitQueue {
    classes: Vec<VecDeque<Entry>>,
    len: usize,
    codel: Codel,
    /// A `QueueCheck` timer is pending (`shed_after`).
    check_armed: bool,
}

impl WaitQueue {
    /// Requests waiting.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Forgets every waiting request (a crash).
    pub(crate) fn clear(&mut self) {
        self.classes.iter_mut().for_each(VecDeque::clear);
        self.len = 0;
        self.codel = Codel::default();
    }

    fn push(&mut self, class: usize, e: Entry) {
        if self.classes.len() <= class {
            self.classes.resize_with(class + 1, VecDeque::new);
        }
        self.classes[class].push_back(e);
        self.len += 1;
    }

    /// The most important class with a waiting request.
    fn first_class(&self) -> Option<usize> {
        self.classes.iter().position(|q| !q.is_empty())
    }

    /// The least important class with a waiting request.
    fn last_class(&self) -> Option<usize> {
        self.classes.iter().rposition(|q| !q.is_empty())
    }

    /// When the longest-waiting request arrived.
    fn oldest(&self) -> Option<u64> {
        self.classes
            .iter()
            .filter_map(|q| q.front().map(|e| e.arrived))
            .min()
    }
}

/// The priority class of requests from group `source` (class 0 for probes and others).
pub(crate) fn class_of(w: &World, source: u16) -> usize {
    match w.spec.groups.get(source as usize).map(|g| &g.kind) {
        Some(KindSpec::Client(c)) => c.priority as usize,
        _ => 0,
    }
}

impl Node {
    fn policy<'w>(&self, w: &'w World) -> &'w QueuePolicy {
        &self.server(w).queueing
    }

    /// Queues job `slot`/`gen_`, which found every worker busy; false when there is no room
    /// for it (the caller rejects it). With `by_priority`, a full queue makes room by shedding
    /// the newest waiting request of the least important class, if that class is less
    /// important than the arriving one.
    pub(crate) fn enqueue(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        cap: Option<u32>,
    ) -> bool {
        let now = cx.now().0;
        let p = self.policy(w);
        let class = match (p.by_priority, self.jobs.get_mut(slot, gen_)) {
            (true, Some(job)) => job.req.map_or(0, |r| class_of(w, r.source)),
            _ => 0,
        };
        if cap.is_some_and(|c| self.queue.len() as u64 >= u64::from(c)) {
            let low = match (p.by_priority, self.queue.last_class()) {
                (true, Some(low)) if low > class => low,
                _ => return false,
            };
            let e = self.queue.classes[low]
                .pop_back()
                .expect("a waiting request");
            self.queue.len -= 1;
            self.shed_job(w, cx, e.slot, e.gen_, true);
        }
        self.queue.push(
            class,
            Entry {
                slot,
                gen_,
                arrived: now,
            },
        );
        let q = self.queue.len() as u64;
        let sb = &mut self.server_series[w.bucket_of(now)];
        sb.max_queue = sb.max_queue.max(q);
        if let (Some(bound), false) = (p.shed_after, self.queue.check_armed) {
            self.queue.check_armed = true;
            send_self(cx, bound.0, Timer::QueueCheck);
        }
        true
    }

    /// The next waiting job to serve, by the discipline; requests it drops on the way (caller
    /// gone, waited past `shed_after`, CoDel) are shed.
    pub(crate) fn dequeue(&mut self, w: &World, cx: &mut Cx) -> Option<(u32, u32)> {
        let now = cx.now().0;
        let p = self.policy(w);
        loop {
            let c = self.queue.first_class()?;
            let q = &mut self.queue.classes[c];
            let newest = match p.discipline {
                Discipline::Fifo | Discipline::Codel => false,
                Discipline::Lifo => true,
                Discipline::AdaptiveLifo => {
                    self.queue.len > p.lifo_threshold as usize
                        || p.lifo_age
                            .is_some_and(|a| q.front().is_some_and(|e| now - e.arrived > a.0))
                }
            };
            let e = if newest { q.pop_back() } else { q.pop_front() }.expect("non-empty");
            self.queue.len -= 1;
            let Some(job) = self.jobs.get_mut(e.slot, e.gen_) else {
                continue;
            };
            let waited = now - e.arrived;
            if p.drop_abandoned && job.req.is_some_and(|r| r.deadline <= now) {
                // Its caller has given up: nobody waits for an answer.
                self.shed_job(w, cx, e.slot, e.gen_, false);
                continue;
            }
            let shed = p.shed_after.is_some_and(|b| waited >= b.0)
                || (p.discipline == Discipline::Codel
                    && self.queue.codel.drop(now, waited, self.queue.len == 0, p));
            if shed {
                self.shed_job(w, cx, e.slot, e.gen_, true);
                continue;
            }
            return Some((e.slot, e.gen_));
        }
    }

    /// `shed_after`: sheds the requests that have waited that long, and checks again when
    /// the next oldest will have.
    pub(crate) fn on_queue_check(&mut self, w: &World, cx: &mut Cx) {
        self.queue.check_armed = false;
        let Some(bound) = self.policy(w).shed_after else {
            return;
        };
        let now = cx.now().0;
        for c in 0..self.queue.classes.len() {
            while let Some(&e) = self.queue.classes[c].front() {
                if now - e.arrived < bound.0 {
                    break;
                }
                self.queue.classes[c].pop_front();
                self.queue.len -= 1;
                self.shed_job(w, cx, e.slot, e.gen_, true);
            }
        }
        if let Some(oldest) = self.queue.oldest() {
            self.queue.check_armed = true;
            send_self(cx, oldest + bound.0 - now, Timer::QueueCheck);
        }
    }

    /// Ends a waiting job unserved: counted as shed, answered with an overload answer when
    /// `answer` (a relayed message or gossip is just dropped).
    fn shed_job(&mut self, w: &World, cx: &mut Cx, slot: u32, gen_: u32, answer: bool) {
        let Some(job) = self.jobs.remove(slot, gen_) else {
            return;
        };
        self.release_connection(w);
        self.server_series[w.bucket_of(cx.now().0)].shed += 1;
        if let (true, Some(r)) = (answer, job.req) {
            respond(w, cx, &r, Status::Shed, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codel() -> QueuePolicy {
        QueuePolicy {
            discipline: Discipline::Codel,
            ..QueuePolicy::default()
        }
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn the_control_law_shrinks_as_one_over_the_square_root_of_drops() {
        let i = SimTime::from_millis(100);
        assert_eq!(control_law(0, 1, i), 100 * MS);
        assert_eq!(control_law(0, 4, i), 50 * MS);
        assert_eq!(control_law(10, 100, i), 10 + 10 * MS);
    }

    #[test]
    fn codel_drops_only_after_the_delay_stayed_above_target_for_an_interval() {
        let p = codel();
        let mut c = Codel::default();
        // Below target: never.
        assert!(!c.drop(0, 4 * MS, false, &p));
        // Above target from 10ms: the interval starts.
        assert!(!c.drop(10 * MS, 6 * MS, false, &p));
        assert!(!c.drop(109 * MS, 50 * MS, false, &p));
        // An interval later, still above: the first drop, next one 100ms on.
        assert!(c.drop(110 * MS, 50 * MS, false, &p));
        assert!(c.dropping);
        assert!(!c.drop(150 * MS, 50 * MS, false, &p));
        assert!(c.drop(210 * MS, 50 * MS, false, &p));
        // Second drop: the next one interval / sqrt(2) later.
        assert_eq!(
            c.drop_next,
            210 * MS + (100.0 * MS as f64 / 2f64.sqrt()) as u64
        );
        // The delay falls under target: dropping stops.
        assert!(!c.drop(220 * MS, MS, false, &p));
        assert!(!c.dropping);
        // Nothing else waiting: no drop however long it waited.
        let mut c = Codel::default();
        assert!(!c.drop(0, 500 * MS, true, &p));
        assert!(!c.drop(500 * MS, 500 * MS, true, &p));
        assert_eq!(c.first_above, None);
    }

    #[test]
    fn codel_resumes_at_the_last_rate_after_a_short_pause() {
        let p = codel();
        let mut c = Codel::default();
        let mut t = 0;
        assert!(!c.drop(t, 50 * MS, false, &p));
        t += 100 * MS;
        let mut drops = 0;
        while drops < 5 {
            if c.drop(t, 50 * MS, false, &p) {
                drops += 1;
            }
            t += MS;
        }
        assert_eq!(c.count, 5);
        // A short dip below target, then above again for an interval.
        assert!(!c.drop(t, MS, false, &p));
        assert!(!c.drop(t + MS, 50 * MS, false, &p));
        assert!(c.drop(t + 101 * MS, 50 * MS, false, &p));
        // It starts again at count - last_count = 4 drops' rate, not at 1.
        assert_eq!(c.count, 4);
    }

    #[test]
    fn classes_keep_arrival_order_and_the_oldest_is_at_a_front() {
        let mut q = WaitQueue::default();
        for (i, class) in [2usize, 0, 2, 1].into_iter().enumerate() {
            q.push(
                class,
                Entry {
                    slot: i as u32,
                    gen_: 0,
                    arrived: 10 * i as u64,
                },
            );
        }
        assert_eq!(q.len(), 4);
        assert_eq!((q.first_class(), q.last_class()), (Some(0), Some(2)));
        assert_eq!(q.oldest(), Some(0));
        q.classes[2].pop_front();
        q.len -= 1;
        assert_eq!(q.oldest(), Some(10));
        q.clear();
        assert_eq!((q.len(), q.first_class(), q.oldest()), (0, None, None));
    }
}
