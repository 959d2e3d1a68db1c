//! The executors: one loop over conservative time windows, run on a single partition
//! (sequential) or on many partitions advanced in parallel with rayon (partitioned).
//!
//! Windows. Every window covers `[t, w)` where `t` is the earliest pending event anywhere and
//! `w` is the next multiple of the lookahead after `t` (clamped to the next observation and to
//! the end time). An event sent to another partition travels at least the lookahead, so it
//! lands at or after `w`: partitions never need each other's events inside a window. Messages
//! wait in per-destination outboxes and are handed over at the barrier; the order of handing
//! over is irrelevant because the event set orders by a key that does not depend on it.
//!
//! Stop rules, identical on both executors:
//! - `until`: every event with time `< until` is committed, none after.
//! - `events`: with `t_E` the time of the E-th committed event, the run commits exactly the
//!   events with time `< grid_after(t_E)`, the next multiple of the lookahead (or `t_E + 1 ns`
//!   when the lookahead is zero). The count is therefore at least E, and the same everywhere.

use super::model::{Context, Event, Loc, Model, OBSERVER_ID, Observer, Router, World};
use super::queue::{CalendarQueue, EventSet};
use super::rng::{EntityRng, entity_stream};
use super::time::SimTime;
use super::{EngineError, EntityId};
use rayon::prelude::*;

/// The engine-owned part of an entity: its state, its random stream and its send counter.
pub(crate) struct Slot<S> {
    pub state: S,
    pub rng: EntityRng,
    pub seq: u32,
}

/// One partition: a set of entities with their own event set and outboxes.
pub(crate) struct Partition<M: Model> {
    pub id: u32,
    pub ids: Vec<EntityId>,
    pub slots: Vec<Slot<M::State>>,
    pub queue: CalendarQueue<Event<M::Event>>,
    outbox: Vec<Vec<Event<M::Event>>>,
    inbox: Vec<Vec<Event<M::Event>>>,
    out_min: u64,
    next_time: u64,
    committed: u64,
    /// Sequential runs only: commit no further than the grid boundary after this many events.
    commit_limit: u64,
    limit_hit_at: Option<u64>,
    violation: Option<EngineError>,
}

impl<M: Model> Partition<M> {
    fn router<'a>(
        queue: &'a mut CalendarQueue<Event<M::Event>>,
        outbox: &'a mut [Vec<Event<M::Event>>],
        out_min: &'a mut u64,
        violation: &'a mut Option<EngineError>,
        shared: &'a Shared,
        part: u32,
        initialising: bool,
    ) -> Router<'a, M::Event> {
        Router {
            queue,
            outbox,
            out_min,
            route: &shared.route,
            part,
            entities: shared.entities,
            lookahead: shared.lookahead,
            initialising,
            violation,
        }
    }

    fn start(&mut self, model: &M, shared: &Shared) {
        let Partition {
            id,
            ids,
            slots,
            queue,
            outbox,
            out_min,
            violation,
            ..
        } = self;
        let mut router = Self::router(queue, outbox, out_min, violation, shared, *id, true);
        for (slot, &me) in slots.iter_mut().zip(ids.iter()) {
            let mut cx = Context {
                now: 0,
                me,
                rng: &mut slot.rng,
                seq: &mut slot.seq,
                router: &mut router,
            };
            model.start(&mut slot.state, &mut cx);
        }
        self.next_time = self.queue.peek_key().map_or(u64::MAX, |k| (k >> 64) as u64);
    }

    /// Commits every local event with time `< end` and notes the next pending time.
    fn run_window(&mut self, model: &M, shared: &Shared, mut end: u64) {
        let Partition {
            id,
            slots,
            queue,
            outbox,
            inbox,
            out_min,
            committed,
            commit_limit,
            limit_hit_at,
            violation,
            ..
        } = self;
        for v in inbox.iter_mut() {
            for ev in v.drain(..) {
                queue.push(ev);
            }
        }
        *out_min = u64::MAX;
        let single = shared.route.is_empty();
        let mut router = Self::router(queue, outbox, out_min, violation, shared, *id, false);
        while let Some(ev) = router.queue.pop_before(end) {
            let now = ev.time;
            let local = if single {
                ev.dst as usize
            } else {
                shared.route[ev.dst as usize].local as usize
            };
            let slot = &mut slots[local];
            let mut cx = Context {
                now,
                me: ev.dst,
                rng: &mut slot.rng,
                seq: &mut slot.seq,
                router: &mut router,
            };
            model.handle(&mut slot.state, ev.payload, &mut cx);
            *committed += 1;
            if *committed == *commit_limit {
                let stop = shared.grid_after(now);
                *limit_hit_at = Some(stop);
                end = end.min(stop);
            }
        }
        self.next_time = self.queue.peek_key().map_or(u64::MAX, |k| (k >> 64) as u64);
    }
}

/// Read-only data every partition needs during a window.
pub(crate) struct Shared {
    /// Entity id -> location; empty for a single partition (identity).
    pub route: Vec<Loc>,
    pub entities: u32,
    pub lookahead: u64,
}

impl Shared {
    /// The first stop boundary strictly after `t`.
    #[inline]
    fn grid_after(&self, t: u64) -> u64 {
        match t.checked_div(self.lookahead) {
            None => t.saturating_add(1),
            Some(k) => k.saturating_add(1).saturating_mul(self.lookahead),
        }
    }
}

/// When a call to [`Simulation::run`] stops. Both limits may be given; the first reached wins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stop {
    /// Commit every event before this time, none at or after it.
    pub until: Option<SimTime>,
    /// Commit at least this many events in total (see the module docs for the exact rule).
    pub events: Option<u64>,
}

/// What a call to [`Simulation::run`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// Events committed since the simulation was built.
    pub committed: u64,
    /// Every event before this time has been committed (the stop boundary, or the time of the
    /// last event plus one nanosecond when the run drained every event).
    pub time: SimTime,
    /// Windows (barriers) executed in this call.
    pub windows: u64,
    /// Events still pending.
    pub pending: u64,
}

/// Which executor runs the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Executor {
    /// One partition, one thread, no barriers but those the stop rules and observer need.
    Sequential,
    /// Entities assigned to partitions (`assignment[id]` = partition index), advanced in
    /// parallel on `threads` threads.
    Partitioned {
        assignment: Vec<u32>,
        threads: usize,
    },
}

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Run seed: entity `i` draws from a stream derived from `(seed, i)`.
    pub seed: u64,
    /// Smallest delay of an event between partitions; also the grid of the event-count stop.
    pub lookahead: SimTime,
    pub executor: Executor,
}

/// A model, its entities and their pending events, ready to run on one executor.
pub struct Simulation<M: Model> {
    model: M,
    parts: Vec<Partition<M>>,
    shared: Shared,
    pool: Option<rayon::ThreadPool>,
    observer: Option<Box<dyn Observer<M>>>,
    observer_rng: EntityRng,
    observer_seq: u32,
    next_obs: u64,
    started: bool,
    /// Everything before this time is committed.
    horizon: u64,
    stop_at: Option<u64>,
    windows: u64,
}

impl<M: Model> Simulation<M> {
    /// Builds a simulation of `states.len()` entities (entity `i` has `states[i]`).
    pub fn new(model: M, states: Vec<M::State>, config: EngineConfig) -> Result<Self, EngineError> {
        let n = states.len();
        if n >= OBSERVER_ID as usize {
            return Err(EngineError::TooManyEntities(n));
        }
        let (assignment, threads, partitioned) = match config.executor {
            Executor::Sequential => (vec![0u32; n], 1, false),
            Executor::Partitioned {
                assignment,
                threads,
            } => {
                if assignment.len() != n {
                    return Err(EngineError::Assignment(format!(
                        "{} entities but {} partition assignments",
                        n,
                        assignment.len()
                    )));
                }
                if config.lookahead.0 == 0 {
                    return Err(EngineError::ZeroLookahead);
                }
                if threads == 0 {
                    return Err(EngineError::Threads("zero threads requested".into()));
                }
                (assignment, threads, true)
            }
        };
        let nparts = assignment
            .iter()
            .copied()
            .max()
            .map_or(1, |m| m as usize + 1);
        let mut route = Vec::with_capacity(if partitioned { n } else { 0 });
        let mut counts = vec![0u32; nparts];
        if partitioned {
            for &p in &assignment {
                route.push(Loc {
                    part: p,
                    local: counts[p as usize],
                });
                counts[p as usize] += 1;
            }
        }
        let mut parts: Vec<Partition<M>> = (0..nparts)
            .map(|id| Partition {
                id: id as u32,
                ids: Vec::new(),
                slots: Vec::new(),
                queue: CalendarQueue::new(),
                outbox: (0..nparts).map(|_| Vec::new()).collect(),
                inbox: (0..nparts).map(|_| Vec::new()).collect(),
                out_min: u64::MAX,
                next_time: u64::MAX,
                committed: 0,
                commit_limit: u64::MAX,
                limit_hit_at: None,
                violation: None,
            })
            .collect();
        for (id, state) in states.into_iter().enumerate() {
            let p = &mut parts[assignment[id] as usize];
            p.ids.push(id as EntityId);
            p.slots.push(Slot {
                state,
                rng: entity_stream(config.seed, id as u64),
                seq: 0,
            });
        }
        let pool = if partitioned {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .map_err(|e| EngineError::Threads(e.to_string()))?,
            )
        } else {
            None
        };
        Ok(Simulation {
            model,
            parts,
            shared: Shared {
                route,
                entities: n as u32,
                lookahead: config.lookahead.0,
            },
            pool,
            observer: None,
            observer_rng: entity_stream(config.seed, OBSERVER_ID as u64),
            observer_seq: 0,
            next_obs: u64::MAX,
            started: false,
            horizon: 0,
            stop_at: None,
            windows: 0,
        })
    }

    /// Installs the global observer; it first runs at time `period`.
    pub fn set_observer(&mut self, observer: Box<dyn Observer<M>>) {
        let period = observer.period().0;
        assert!(period > 0, "an observer's period must be greater than zero");
        self.next_obs = self.horizon.div_ceil(period).max(1) * period;
        self.observer = Some(observer);
    }

    /// The model.
    pub fn model(&self) -> &M {
        &self.model
    }

    /// Number of partitions.
    pub fn partitions(&self) -> usize {
        self.parts.len()
    }

    /// Events committed so far.
    pub fn committed(&self) -> u64 {
        self.parts.iter().map(|p| p.committed).sum()
    }

    /// Events pending now.
    pub fn pending(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| (p.queue.len() + p.inbox.iter().map(Vec::len).sum::<usize>()) as u64)
            .sum()
    }

    /// Events each entity has sent so far (its own send counter, modulo 2^32), in entity-id
    /// order: who scheduled the pending and committed events. Read from the counters that
    /// order events anyway, so counting costs nothing while the run goes.
    pub fn sent(&self) -> Vec<u64> {
        let mut out = vec![0u64; self.shared.entities as usize];
        for p in &self.parts {
            for (&id, slot) in p.ids.iter().zip(&p.slots) {
                out[id as usize] = u64::from(slot.seq);
            }
        }
        out
    }

    /// Bytes the pending-event sets hold now (by capacity), summed over partitions.
    pub fn queue_memory_bytes(&self) -> usize {
        self.parts.iter().map(|p| p.queue.memory_bytes()).sum()
    }

    /// Read access to one entity's state.
    pub fn state(&self, id: EntityId) -> &M::State {
        let loc = if self.shared.route.is_empty() {
            Loc { part: 0, local: id }
        } else {
            self.shared.route[id as usize]
        };
        &self.parts[loc.part as usize].slots[loc.local as usize].state
    }

    /// Ends the simulation and returns every entity's state, in entity-id order.
    pub fn into_states(self) -> Vec<M::State> {
        self.into_parts().1
    }

    /// Ends the simulation and returns the model and every entity's state, in id order.
    pub fn into_parts(self) -> (M, Vec<M::State>) {
        let n = self.shared.entities as usize;
        let mut out: Vec<Option<M::State>> = (0..n).map(|_| None).collect();
        for p in self.parts {
            for (id, slot) in p.ids.into_iter().zip(p.slots) {
                out[id as usize] = Some(slot.state);
            }
        }
        let states = out
            .into_iter()
            .map(|s| s.expect("every entity lives in exactly one partition"))
            .collect();
        (self.model, states)
    }

    fn start(&mut self) -> Result<(), EngineError> {
        let model = &self.model;
        let shared = &self.shared;
        match &self.pool {
            Some(pool) => pool.install(|| {
                self.parts
                    .par_iter_mut()
                    .for_each(|p| p.start(model, shared));
            }),
            None => self.parts.iter_mut().for_each(|p| p.start(model, shared)),
        }
        self.exchange()?;
        self.started = true;
        Ok(())
    }

    /// Hands every outbox to its destination's inbox; reports the first lookahead violation.
    fn exchange(&mut self) -> Result<(), EngineError> {
        if let Some(e) = self.parts.iter_mut().find_map(|p| p.violation.take()) {
            return Err(e);
        }
        let np = self.parts.len();
        for src in 0..np {
            for dst in 0..np {
                if src == dst || self.parts[src].outbox[dst].is_empty() {
                    continue;
                }
                let mut v = std::mem::take(&mut self.parts[src].outbox[dst]);
                std::mem::swap(&mut v, &mut self.parts[dst].inbox[src]);
                debug_assert!(v.is_empty(), "inbox drained before the next exchange");
                self.parts[src].outbox[dst] = v;
            }
        }
        Ok(())
    }

    /// The earliest pending time anywhere (queues, outboxes already handed over, injections).
    fn earliest(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| p.next_time.min(p.out_min))
            .min()
            .unwrap_or(u64::MAX)
    }

    fn observe(&mut self, injected_min: &mut u64) {
        let now = self.next_obs;
        let Some(observer) = self.observer.as_mut() else {
            return;
        };
        let mut world = World {
            now,
            parts: &mut self.parts,
            route: &self.shared.route,
            rng: &mut self.observer_rng,
            seq: &mut self.observer_seq,
            injected_min,
        };
        observer.observe(&mut world);
        self.next_obs = now.saturating_add(observer.period().0);
        // Injected events sit in the queues; refresh each partition's next time.
        for p in &mut self.parts {
            p.next_time = p.queue.peek_key().map_or(u64::MAX, |k| (k >> 64) as u64);
        }
    }

    /// Runs until a stop rule holds or no event is left. May be called again to go on.
    pub fn run(&mut self, stop: Stop) -> Result<RunReport, EngineError> {
        if !self.started {
            self.start()?;
        }
        match self.pool.take() {
            // The whole loop runs inside the pool, so each window is a join among its
            // workers rather than a fresh injection from outside (measured: fewer wake-ups).
            Some(pool) => {
                let result = pool.install(|| self.run_windows(stop, true));
                self.pool = Some(pool);
                result
            }
            None => self.run_windows(stop, false),
        }
    }

    fn run_windows(&mut self, stop: Stop, parallel: bool) -> Result<RunReport, EngineError> {
        let until = stop.until.map_or(u64::MAX, |t| t.0);
        let target = stop.events;
        let single = !parallel;
        self.stop_at = None;
        if let Some(e) = target {
            if self.committed() >= e {
                self.stop_at = Some(self.horizon);
            }
        }
        let start_windows = self.windows;
        for p in &mut self.parts {
            p.commit_limit = u64::MAX;
            p.limit_hit_at = None;
        }
        if single {
            if let (Some(e), None) = (target, self.stop_at) {
                self.parts[0].commit_limit = e;
            }
        }
        loop {
            let limit = until.min(self.stop_at.unwrap_or(u64::MAX));
            let mut t = self.earliest();
            // Observations due before the next event (or before the limit, if nothing is left).
            if self.observer.is_some() && self.next_obs < limit && self.next_obs <= t {
                if t == u64::MAX && until == u64::MAX {
                    break; // nothing left and no end time: observing forever would never end
                }
                let mut injected = u64::MAX;
                self.observe(&mut injected);
                self.horizon = self.horizon.max(self.next_obs.min(limit));
                continue;
            }
            if t >= limit {
                self.horizon = self
                    .horizon
                    .max(limit.min(if t == u64::MAX { limit } else { t }));
                if limit != u64::MAX {
                    self.horizon = limit;
                }
                break;
            }
            if t == u64::MAX {
                break;
            }
            let mut end = limit.min(self.next_obs);
            if !single {
                end = end.min(self.shared.grid_after(t));
            }
            self.windows += 1;
            let model = &self.model;
            let shared = &self.shared;
            if parallel {
                self.parts
                    .par_iter_mut()
                    .for_each(|p| p.run_window(model, shared, end));
            } else {
                self.parts[0].run_window(model, shared, end);
            }
            self.exchange()?;
            if single {
                if let Some(s) = self.parts[0].limit_hit_at {
                    self.stop_at = Some(s);
                    self.parts[0].commit_limit = u64::MAX;
                    self.parts[0].limit_hit_at = None;
                }
            } else if let (Some(e), None) = (target, self.stop_at) {
                if self.committed() >= e {
                    self.stop_at = Some(self.shared.grid_after(t));
                }
            }
            t = self.earliest();
            self.horizon = self.horizon.max(end.min(t));
        }
        Ok(RunReport {
            committed: self.committed(),
            time: SimTime(self.horizon),
            windows: self.windows - start_windows,
            pending: self.pending(),
        })
    }
}
