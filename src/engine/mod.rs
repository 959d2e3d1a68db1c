//! The discrete-event engine: integer time, a pending-event set, per-entity random streams and
//! two executors (sequential and partitioned-parallel) behind one model API.
//!
//! This layer knows nothing of outages, topologies, files or formats; see `ARCHITECTURE.md`.

pub mod deadlines;
pub mod exec;
pub mod model;
pub mod queue;
pub mod rng;
pub mod time;

pub use exec::{EngineConfig, Executor, RunReport, Simulation, Stop};
pub use model::{Context, EntityId, Model, OBSERVER_ID, Observer, World};
pub use rng::EntityRng;
pub use time::{DurationError, SimTime, parse_duration};

/// Errors the engine reports instead of running on with a broken guarantee.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// An event for another partition was sent with less than the lookahead.
    #[error(
        "entity {src} sent an event to entity {dst} in another partition with delay {delay} at {at}, \
         less than the lookahead {lookahead}; cross-partition events must travel at least the lookahead"
    )]
    LookaheadViolation {
        src: EntityId,
        dst: EntityId,
        delay: SimTime,
        lookahead: SimTime,
        at: SimTime,
    },
    /// The partitioned executor needs a positive lookahead.
    #[error("the partitioned executor needs a lookahead greater than zero")]
    ZeroLookahead,
    /// The partition assignment does not fit the entities.
    #[error("bad partition assignment: {0}")]
    Assignment(String),
    /// Too many entities for 32-bit ids.
    #[error("{0} entities is more than the engine supports (at most 4294967294)")]
    TooManyEntities(usize),
    /// The thread pool could not be built.
    #[error("cannot start worker threads: {0}")]
    Threads(String),
}
