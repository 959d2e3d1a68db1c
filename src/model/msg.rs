//! The messages entities exchange: requests, responses, relays through network devices, and
//! timers an entity sets for itself.

use super::metrics::Histogram;
use super::policy::gossip::Flip;
use crate::engine::EntityId;
use std::sync::Arc;

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
    /// Refused by a rate or concurrency limit (like HTTP 429): a fast failure.
    Throttled,
    /// An overload answer (a fast "503"): a queue's overload control shed the request without
    /// serving it (`policy/queue.rs`); callers may retry it.
    Shed,
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
    /// What the user request asks for (storage keys and quorums).
    pub item: Item,
    /// When the caller gives up on it (its call's timeout): a queue with `drop_abandoned`
    /// drops it unserved after that (`policy/queue.rs`). The priority class travels as
    /// `source` (the client group's `priority`).
    pub deadline: u64,
    /// The caller's connection it travels on (`policy/conn.rs`), or `NO_CONN`.
    pub conn: u32,
}

/// A request that travels on no modelled connection.
pub const NO_CONN: u32 = u32::MAX;

/// What a user request asks for: a read or a write, of which key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Item {
    /// A write (storage quorums; caches pass writes through).
    pub write: bool,
    /// The key, as a 32-bit hash (storage maps it onto its keyspace).
    pub key: u32,
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
    /// The earliest of the entity's outbound-call deadlines (`Node::deadlines`) is due.
    CallDeadlines,
    /// Server: the job's service time is over.
    ServiceDone { slot: u32, gen_: u32 },
    /// The earliest release of a folded service step (`Node::start_job`) is due while
    /// requests wait for a worker.
    Release,
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
    /// Gossip: a round (bump the heartbeat, push the table, judge peers).
    GossipTick,
    /// Reporter: send counters to monitor group `monitor`.
    Report { monitor: u16 },
    /// Monitor: evaluate the alarms.
    Evaluate,
    /// Action number `action` runs now (on a target replica, or on the monitor that fired
    /// its alarm, which then logs it and passes it on).
    Action { action: u16 },
    /// A target replica's own later step of an action: go down (`up = false`) or come back
    /// (after a restart, a clear or provisioning).
    ActionStep { action: u16, up: bool },
    /// Monitor: the response delay after an alarm is over; run action `action` (log it and
    /// pass it to its targets).
    Dispatch { action: u16 },
    /// Autoscaler `scaler`'s order: its group is to have `count` replicas in service (to a
    /// replica it adds or removes, and to the load balancers over the group).
    Scale { scaler: u16, count: u32 },
    /// The provisioning (or draining) time of autoscaler `scaler`'s order for `count` is over.
    ScaleStep { scaler: u16, count: u32 },
    /// Config change `fault`: this replica switches to the new settings (`on`) or back.
    Config { fault: u16, on: bool },
    /// Rate limit (`policy/rate_limit.rs`): a request held in delay mode may enter now.
    Admit { slot: u32, gen_: u32 },
    /// Client (`policy/hedge.rs`): send a hedge for attempt `attempt` of user request
    /// `slot`/`gen_` if it has not been answered yet.
    Hedge { slot: u32, gen_: u32, attempt: u32 },
    /// Server: the oldest queued request may have waited past `shed_after`.
    QueueCheck,
    /// Caller (`policy/conn.rs`): the connect timeout of connection `id`.
    ConnOpen { id: u32 },
    /// Caller: connection `id`, idle since `since`, may have idled too long.
    ConnIdle { id: u32, since: u64 },
    /// Client with `min_idle`: reopen the connections to `group` it lacks.
    ConnWarm { group: u32 },
    /// Client with `min_idle`: open one of its connections to `group` (at start).
    ConnOpenIdle { group: u32 },
}

/// A connection's handshake or close (`policy/conn.rs`), between a caller and a callee
/// replica; network devices that keep connection tables look at it on the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnMsg {
    pub caller: EntityId,
    pub callee: EntityId,
    /// The caller's number for the connection.
    pub id: u32,
    pub op: ConnOp,
}

/// What a connection message does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnOp {
    /// Caller to callee: open.
    Syn,
    /// Callee to caller: opened.
    Ack,
    /// Caller to callee: closed.
    Fin,
    /// Callee to caller, out of band: this replica went down (crashed or restarted), its
    /// connections are gone (`caller` is the receiver).
    Down,
    /// Callee to caller, out of band: this replica is back in service after going down.
    Up,
    /// Callee to caller, out of band: this replica took a config change (or reverted one) and
    /// closes its connections (a reload).
    Reload,
}

/// A gossip message: the sender's membership table and its failure entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipMsg {
    pub from: EntityId,
    /// The sender's gossip epoch (bumped when the group's state is cleared): messages from an
    /// older epoch are discarded.
    pub epoch: u32,
    /// Per replica of the group: incarnation << 32 | heartbeat.
    pub table: Arc<[u64]>,
    /// Failure entries: the peers the sender is telling others have failed.
    pub failures: u32,
    /// A bit flipped in one entry (a `gossip_corruption` fault).
    pub flip: Option<Flip>,
}

impl GossipMsg {
    /// Entries to merge: the table's and the failure entries.
    pub fn entries(&self) -> u64 {
        self.table.len() as u64 + self.failures as u64
    }
}

/// A replica's counters since the start of the run, sent to a monitor. Monitors difference
/// successive reports, so a lost report loses no counts, and a late one arrives late.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    pub from: EntityId,
    /// When it was sent: an older report than one already seen is ignored.
    pub sent: u64,
    // Clients.
    pub requests: u64,
    pub finished: u64,
    pub good: u64,
    /// Latency of good requests finished since the previous report.
    pub latency: Histogram,
    // Components.
    pub arrivals: u64,
    /// Answered with an error.
    pub errors: u64,
    /// Rejected at admission or dropped.
    pub lost: u64,
    pub busy_ns: u64,
    pub workers: u32,
    /// Longest queue since the previous report.
    pub max_queue: u64,
    pub gossip: u64,
}

/// Every event payload of the model.
#[derive(Clone, Debug, PartialEq)]
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
    Gossip(Box<GossipMsg>),
    Report(Box<Report>),
    /// A connection's handshake or close (`policy/conn.rs`).
    Conn(ConnMsg),
}
