//! The model API: what a model implements (`Model`, `Observer`) and what it may do while
//! handling an event (`Context`) or observing at a barrier (`World`).
//!
//! A model is written once against these types and runs unchanged on the sequential and the
//! partitioned executor. All mutable model state lives in entities; an entity is touched only
//! by its own events, draws only from its own random stream, and reaches other entities only by
//! sending events. That is what lets partitions run in parallel and still give the same bytes.

use super::queue::{CalendarQueue, EventSet, Keyed};
use super::rng::EntityRng;
use super::time::SimTime;

/// Index of an entity (a component replica, a client group, an LP...). `u32::MAX` is reserved.
pub type EntityId = u32;

/// The sender id used for events injected by the global observer.
pub const OBSERVER_ID: EntityId = u32::MAX;

/// A pending event. Its key is (time, sender, sender's own send counter): unique, and
/// independent of the order in which events were inserted anywhere.
pub struct Event<E> {
    pub(crate) time: u64,
    pub(crate) tie: u64,
    pub(crate) dst: EntityId,
    pub(crate) payload: E,
}

impl<E> Event<E> {
    /// An event from `src` (its `seq`-th send) to `dst` at `time` nanoseconds. Models never
    /// build events themselves (they call [`Context::send`]); benchmarks of event sets do.
    #[inline]
    pub fn new(time: u64, src: EntityId, seq: u32, dst: EntityId, payload: E) -> Self {
        Event {
            time,
            tie: ((src as u64) << 32) | seq as u64,
            dst,
            payload,
        }
    }
}

impl<E> Keyed for Event<E> {
    #[inline]
    fn key(&self) -> u128 {
        ((self.time as u128) << 64) | self.tie as u128
    }
    #[inline]
    fn time(&self) -> u64 {
        self.time
    }
}

/// A simulation model: the behaviour of its entities.
///
/// `handle` must depend only on `&self` (read-only, shared by all partitions), the entity's
/// own state, the event, and what it reads from the context (time, id, random stream).
pub trait Model: Sync + Send {
    /// What an event carries.
    type Event: Send;
    /// One entity's mutable state.
    type State: Send;

    /// Called once per entity before time starts, in entity-id order within each partition.
    /// Typically schedules the entity's first events.
    fn start(&self, _state: &mut Self::State, _cx: &mut Context<'_, '_, Self::Event>) {}

    /// Handles one event addressed to the entity whose state is given.
    fn handle(
        &self,
        state: &mut Self::State,
        event: Self::Event,
        cx: &mut Context<'_, '_, Self::Event>,
    );
}

/// Where an entity lives: its partition and its index inside that partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Loc {
    pub part: u32,
    pub local: u32,
}

/// Partition-level sending machinery, built once per window and shared by the contexts of
/// every event in it.
pub(crate) struct Router<'a, E> {
    pub queue: &'a mut CalendarQueue<Event<E>>,
    pub outbox: &'a mut [Vec<Event<E>>],
    pub out_min: &'a mut u64,
    pub route: &'a [Loc],
    pub part: u32,
    pub entities: u32,
    pub lookahead: u64,
    pub initialising: bool,
    pub violation: &'a mut Option<super::EngineError>,
}

impl<E> Router<'_, E> {
    #[inline]
    fn deliver(&mut self, src: EntityId, now: u64, ev: Event<E>) {
        let dst = ev.dst;
        assert!(
            dst < self.entities,
            "entity {src} sent an event to entity {dst}, but only {} entities exist",
            self.entities
        );
        if self.route.is_empty() {
            self.queue.push(ev);
            return;
        }
        let part = self.route[dst as usize].part;
        if part == self.part {
            self.queue.push(ev);
            return;
        }
        let delay = ev.time - now;
        if !self.initialising && delay < self.lookahead {
            if self.violation.is_none() {
                *self.violation = Some(super::EngineError::LookaheadViolation {
                    src,
                    dst,
                    delay: SimTime(delay),
                    lookahead: SimTime(self.lookahead),
                    at: SimTime(now),
                });
            }
            return;
        }
        *self.out_min = (*self.out_min).min(ev.time);
        self.outbox[part as usize].push(ev);
    }
}

/// What a handler may do: read the time, its id and its random stream, and send events.
pub struct Context<'r, 'a, E> {
    pub(crate) now: u64,
    pub(crate) me: EntityId,
    pub(crate) rng: &'r mut EntityRng,
    pub(crate) seq: &'r mut u32,
    pub(crate) router: &'r mut Router<'a, E>,
}

impl<E> Context<'_, '_, E> {
    /// The current simulated time.
    #[inline]
    pub fn now(&self) -> SimTime {
        SimTime(self.now)
    }

    /// The id of the entity handling this event.
    #[inline]
    pub fn me(&self) -> EntityId {
        self.me
    }

    /// This entity's own random stream.
    #[inline]
    pub fn rng(&mut self) -> &mut EntityRng {
        self.rng
    }

    /// Sends `event` to `dst`, to arrive `delay` from now.
    ///
    /// On the partitioned executor, an event for another partition must be at least the
    /// lookahead away; a shorter one is refused and the run ends with
    /// [`EngineError::LookaheadViolation`](super::EngineError::LookaheadViolation).
    #[inline]
    pub fn send(&mut self, dst: EntityId, delay: SimTime, event: E) {
        let time = self.now.checked_add(delay.0).unwrap_or_else(|| {
            panic!(
                "entity {} scheduled an event {} after {}: past the end of representable time",
                self.me,
                delay,
                SimTime(self.now)
            )
        });
        let seq = *self.seq;
        *self.seq = seq.wrapping_add(1);
        let ev = Event::new(time, self.me, seq, dst, event);
        self.router.deliver(self.me, self.now, ev);
    }

    /// Sends `event` to `dst` at absolute time `at`, which must not be in the past.
    ///
    /// # Panics
    /// If `at` is before now: scheduling into the past is a model bug.
    #[inline]
    pub fn send_at(&mut self, dst: EntityId, at: SimTime, event: E) {
        if at.0 < self.now {
            panic!(
                "entity {} scheduled an event for entity {dst} at {at}, before the current time {}",
                self.me,
                SimTime(self.now)
            );
        }
        self.send(dst, SimTime(at.0 - self.now), event);
    }
}

/// A global observer (alarms, operators): runs at barriers, at every multiple of its period.
///
/// At time `t` it sees every entity after all events before `t` and before any event at or
/// after `t`, on every executor alike. It may send events at `t` or later.
pub trait Observer<M: Model>: Send {
    /// How often to observe. Must be greater than zero.
    fn period(&self) -> SimTime;
    /// Called at each multiple of the period.
    fn observe(&mut self, world: &mut World<'_, M>);
}

/// The observer's view of the whole simulation at a barrier.
pub struct World<'a, M: Model> {
    pub(crate) now: u64,
    pub(crate) parts: &'a mut [super::exec::Partition<M>],
    pub(crate) route: &'a [Loc],
    pub(crate) rng: &'a mut EntityRng,
    pub(crate) seq: &'a mut u32,
    pub(crate) injected_min: &'a mut u64,
}

impl<M: Model> World<'_, M> {
    /// The time of this observation.
    pub fn now(&self) -> SimTime {
        SimTime(self.now)
    }

    /// Number of entities.
    pub fn entities(&self) -> u32 {
        self.parts.iter().map(|p| p.slots.len() as u32).sum()
    }

    fn loc(&self, id: EntityId) -> Loc {
        if self.route.is_empty() {
            Loc { part: 0, local: id }
        } else {
            self.route[id as usize]
        }
    }

    /// Read access to one entity's state.
    pub fn state(&self, id: EntityId) -> &M::State {
        let loc = self.loc(id);
        &self.parts[loc.part as usize].slots[loc.local as usize].state
    }

    /// The observer's own random stream (derived from the seed and [`OBSERVER_ID`]).
    pub fn rng(&mut self) -> &mut EntityRng {
        self.rng
    }

    /// Sends `event` to `dst` at absolute time `at` (not before now).
    ///
    /// # Panics
    /// If `at` is before now, or `dst` does not exist.
    pub fn send_at(&mut self, dst: EntityId, at: SimTime, event: M::Event) {
        assert!(
            at.0 >= self.now,
            "the observer scheduled an event for entity {dst} at {at}, before the current time {}",
            SimTime(self.now)
        );
        let n = self.entities();
        assert!(
            dst < n,
            "the observer sent an event to entity {dst}, but only {n} exist"
        );
        let seq = *self.seq;
        *self.seq = seq.wrapping_add(1);
        let loc = self.loc(dst);
        *self.injected_min = (*self.injected_min).min(at.0);
        self.parts[loc.part as usize]
            .queue
            .push(Event::new(at.0, OBSERVER_ID, seq, dst, event));
    }
}
