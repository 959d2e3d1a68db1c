//! The messages entities exchange: requests, responses, relays through network devices, and
//! timers an entity sets for itself.

use crate::engine::EntityId;

/// What the simulator knows about an answer (ground truth, not what a status code says).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The right answer.
    Ok,
    /// A degraded success: an apology page, or stale content from a cache.
    Degraded,
    /// An explicit error (rejection, failed dependency, ...).
    Error,
    /// A wrong answer that looks like success to a status-code check: callers pass it on as
    /// a success, but it fails the user and any deep health check.
    Wrong,
}

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReqKind {
    /// A user request (or a call made on behalf of one).
    Work,
    /// A shallow health check: answered by any live replica without work.
    ProbeShallow,
    /// A deep health check: served like work; passes only with the right answer.
    ProbeDeep,
    /// A name lookup for a DNS record (to a resolver or an authoritative DNS).
    Lookup { record: u32 },
    /// One replica's part of a storage read or write.
    ReplicaOp,
}

/// A request; the answer goes back to `from`, quoting `slot` and `gen`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Req {
    pub from: EntityId,
    pub slot: u32,
    pub gen_: u32,
    pub kind: ReqKind,
    /// The client group the work originates from (u16::MAX for probes).
    pub source: u16,
    /// Whether the user request is a write (storage quorums).
    pub write: bool,
}

/// A timer an entity sets for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Client: time for the next candidate arrival.
    Arrival,
    /// Closed-loop client: a user has finished thinking and sends a request.
    Think,
    /// Client: start attempt `attempt` of user request `slot`/`gen_`.
    Attempt { slot: u32, gen_: u32, attempt: u32 },
    /// An outbound call's deadline.
    CallTimeout { slot: u32, gen_: u32 },
    /// Server: the job's service time is over.
    ServiceDone { slot: u32, gen_: u32 },
    /// Server: retry call `call` of a job after a back-off wait.
    RetryCall {
        slot: u32,
        gen_: u32,
        call: u16,
        attempt: u32,
    },
    /// Health checker: probe every target.
    HealthTick,
    /// Fault number `fault` starts.
    FaultOn { fault: u16 },
    /// Fault number `fault` ends.
    FaultOff { fault: u16 },
    /// Random failure number `failure` takes this replica down.
    Down { failure: u16 },
    /// Random failure number `failure` is repaired.
    Up { failure: u16 },
}

/// Every event payload of the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    Req(Req),
    /// An answer: `data` carries a DNS answer (a bit set of record targets), else 0.
    Resp {
        slot: u32,
        gen_: u32,
        status: Status,
        data: u32,
    },
    /// Through a network device on its way to `to`.
    Relay {
        to: EntityId,
        inner: Box<Msg>,
    },
    Timer(Timer),
}
