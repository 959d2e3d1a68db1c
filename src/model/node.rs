//! The pipeline every entity runs, and the dispatch to the kinds. Clients generate user
//! requests and retry them; every other kind is a server (admission, a waiting queue, workers,
//! a service time: here) followed by its own step (call dependencies, balance, forward, cache,
//! resolve, answer DNS, coordinate a quorum, relay between segments), which the kind's module
//! in `kinds/` holds; the `match`es on `KindSpec` here only call into them. Policies several
//! kinds share (retries, health checks, circuit breakers, gossip) are in `policy/`. Outbound
//! calls, replica faults, crashes and restarts are here; operators' actions and config changes
//! in `node/ops.rs`.
//!
//! Callers time out and abandon calls, but the callee keeps working: its answer arrives late
//! and is ignored (wasted work). Every answer carries the ground truth (`Status`).

use super::metrics::{ClientBucket, ServerBucket};
use super::msg::{ConnMsg, ConnOp, GossipMsg, Item, Msg, Req, ReqKind, Status, Timer};
use super::sample::{Slab, draw};
use super::spec::{FaultKind, KindSpec, RetrySpec, ServerSpec, Target};
use super::world::{LinkEffect, World};
use crate::engine::rng::{below, unit_f64};
use crate::engine::{Context, EntityId, Model, SimTime};

pub(crate) mod ops;

use super::kinds::dns::answer_target;
use super::kinds::monitor::{MonitorState, Reporter};
use super::kinds::network::relay_device;
use super::policy::breaker::Breaker;
use super::policy::conn::conn_of;
use super::policy::gossip::GossipState;
use super::policy::health_check::{Checker, fresh_checker};
use super::policy::queue::WaitQueue;
use ops::OpsState;
pub(crate) use ops::action_target_name;

pub(crate) type Cx<'r, 'a> = Context<'r, 'a, Msg>;

/// One line of the events log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub time: u64,
    pub kind: &'static str,
    pub target: String,
    pub detail: String,
}

/// How an outbound call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Degraded,
    Error,
    Timeout,
    /// Looked like success, was not.
    Wrong,
    /// Refused by a rate or concurrency limit.
    Throttled,
    /// Shed by the callee's overload control (a fast overload answer).
    Shed,
}

impl Outcome {
    pub(crate) fn from_status(s: Status) -> Outcome {
        match s {
            Status::Ok => Outcome::Ok,
            Status::Degraded => Outcome::Degraded,
            Status::Error => Outcome::Error,
            Status::Wrong => Outcome::Wrong,
            Status::Throttled => Outcome::Throttled,
            Status::Shed => Outcome::Shed,
        }
    }
    /// Whether the caller sees a success (a wrong answer looks like one).
    pub(crate) fn succeeded(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Degraded | Outcome::Wrong)
    }
    /// The answer to pass on: successes as they are, any failure as an error.
    pub(crate) fn status(self) -> Status {
        match self {
            Outcome::Ok => Status::Ok,
            Outcome::Degraded => Status::Degraded,
            Outcome::Wrong => Status::Wrong,
            Outcome::Shed => Status::Shed,
            Outcome::Error | Outcome::Timeout => Status::Error,
            Outcome::Throttled => Status::Throttled,
        }
    }
}

/// Who is waiting for an outbound call.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Owner {
    User { slot: u32, gen_: u32 },
    Job { slot: u32, gen_: u32, call: u16 },
    Probe { target: u32 },
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Phase {
    /// Waiting for a resolver's answer for this record before calling.
    Resolve { record: u32 },
    /// Waiting for the callee's answer.
    Call,
}

#[derive(Clone, Debug)]
pub(crate) struct Call {
    pub(crate) owner: Owner,
    pub(crate) phase: Phase,
    pub(crate) attempt: u32,
    pub(crate) dst: EntityId,
    pub(crate) kind: ReqKind,
    pub(crate) source: u16,
    pub(crate) item: Item,
    /// Its place under a concurrency limit (`policy/concurrency.rs`).
    pub(crate) limit: Lim,
    /// When the call times out (set by `place_call`): requests carry it.
    pub(crate) deadline: u64,
}

/// Where an outbound call stands with its caller's concurrency limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lim {
    /// No limit applies.
    Free,
    /// Holds a place of limiter `idx` since `sent`.
    Holding { idx: u16, sent: u64 },
    /// Waits in line for a place; its request is not sent yet.
    Waiting,
    /// Over the limit: fails as throttled at once.
    Rejected,
}

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub(crate) start: u64,
    pub(crate) item: Item,
    /// The attempt under way, and its copies out (`policy/hedge.rs`): call slot, generation
    /// and when it went out; the second is the hedge.
    pub(crate) attempt: u32,
    pub(crate) live: [Option<(u32, u32, u64)>; 2],
}

#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) req: Option<Req>,
    pub(crate) relay: Option<(EntityId, Box<Msg>)>,
    pub(crate) arrived: u64,
    pub(crate) has_worker: bool,
    pub(crate) next_call: u16,
    pub(crate) pending: u32,
    pub(crate) ok: u32,
    pub(crate) failed: u32,
    pub(crate) degraded: bool,
    /// A dependency answered wrongly: the job's answer is wrong too.
    pub(crate) wrong: bool,
    /// Storage: replicas asked, and the quorum needed.
    pub(crate) asked: u32,
    pub(crate) quorum: u32,
    /// Cache: the request hit content past its TTL (served stale if the backend fails).
    pub(crate) stale_hit: bool,
    /// Load balancer: the backend the last attempt went to (a retry avoids it).
    pub(crate) last_backend: Option<u32>,
    /// Firewall: refused by a deny rule (counted as denied, not as an error).
    pub(crate) denied: bool,
    /// A gossip message to merge.
    pub(crate) gossip: Option<Box<GossipMsg>>,
}

impl Job {
    /// The answer a job gives when its work succeeded: wrong beats degraded beats right.
    pub(crate) fn answer(&self) -> Status {
        if self.wrong {
            Status::Wrong
        } else if self.degraded {
            Status::Degraded
        } else {
            Status::Ok
        }
    }
}

/// What the active replica faults do to a replica.
pub(crate) struct Effects {
    /// Accepts connections, answers nothing.
    pub(crate) hung: bool,
    /// Service-time multiplier.
    pub(crate) slow: f64,
    /// Chance that a request is answered with an error at once.
    pub(crate) fast_error: f64,
    /// Chance that an answer is wrong.
    pub(crate) wrong: f64,
    /// Fraction of workers lost.
    pub(crate) lost: f64,
}

/// One entity's whole state. Kind-specific parts are empty where they do not apply.
pub struct Node {
    pub group: usize,
    pub replica: u32,
    pub(crate) me: EntityId,
    pub(crate) gen_: u32,
    pub(crate) calls: Slab<Call>,
    /// The outbound calls' deadlines, behind one armed `Timer::CallDeadlines`.
    pub(crate) deadlines: crate::engine::deadlines::Deadlines,
    /// Events of this entity, in the order they happened.
    pub log: Vec<LogEntry>,
    pub(crate) crashed: bool,
    /// Active crash faults (overlapping crashes end when the last one does).
    pub(crate) crash_depth: u32,
    /// Other active replica faults (hang, slow, error, capacity loss), by fault number.
    pub(crate) faults_on: Vec<u16>,
    // Client (`kinds/client.rs`).
    pub(crate) users: Slab<User>,
    pub client_series: Vec<ClientBucket>,
    /// Retry-budget tokens (`policy/retry.rs`).
    pub(crate) tokens: f64,
    /// The peak arrival rate: candidate arrivals are drawn at it and thinned to the rate now.
    pub(crate) lambda_max: f64,
    /// A closed-loop client's users now (its `concurrency`, scaled by traffic surges).
    pub(crate) population: u32,
    // Server.
    pub(crate) busy: u32,
    /// Requests waiting for a worker, in the order and classes `policy/queue.rs` keeps.
    pub(crate) queue: WaitQueue,
    pub(crate) jobs: Slab<Job>,
    pub server_series: Vec<ServerBucket>,
    pub(crate) last_account: u64,
    /// When the workers of folded service steps come free, in time order (`start_job`):
    /// they count in `busy` until then, and `account` frees them as time passes.
    pub(crate) releases: std::collections::VecDeque<u64>,
    /// When the armed `Timer::Release` is due (0: none armed).
    pub(crate) release_timer: u64,
    /// While a folded step runs: its service time, added to the delay of what it sends.
    pub(crate) defer: u64,
    /// How many of this entity's disruptions (`World::disruptions`) are past.
    pub(crate) disrupted: u32,
    /// Firewall: connection-table entries in use.
    pub(crate) conns: u32,
    /// Health checker (`policy/health_check.rs`), for kinds that probe.
    pub(crate) checker: Option<Checker>,
    /// Load balancer: where round-robin (and least-outstanding's search) goes next.
    pub(crate) rr: u32,
    /// Load balancer: requests outstanding per backend replica.
    pub(crate) outstanding: Vec<u32>,
    /// Load balancer: how many of its backends are registered with it (the provisioned ones;
    /// a scale action registers the new replicas when they are provisioned).
    pub(crate) registered: u32,
    /// Load balancer with cells or shuffle sharding: per group (a request's source), the
    /// backends that serve it (empty for groups that are not clients), dealt for `dealt`.
    pub(crate) tenants: Vec<Box<[u32]>>,
    pub(crate) dealt: crate::model::policy::shard::Sharding,
    /// The poison faults that crashed this replica (it restarts when they end).
    pub(crate) poisoned: Vec<u16>,
    /// Whether the replica is provisioned (standby replicas are not, until a scale action or
    /// an autoscaler brings them in; an autoscaler's scale-in takes replicas out).
    pub(crate) in_service: bool,
    /// Cache: time of the last right backend answer; None while cold (after a restart).
    pub(crate) cache_last_ok: Option<u64>,
    /// Cache with `keys`: per item, when its content expires (0: empty since a restart).
    pub(crate) cache_items: Vec<u64>,
    /// Resolver: per record, the cached answer and when it expires (an answer of 0 is a
    /// cached empty answer, kept for the record's TTL like any other).
    pub(crate) resolver_cache: Vec<Option<(u32, u64)>>,
    /// Caller: per record, an answer kept from a resolver with `client_cache` and when it
    /// expires (`kinds/dns.rs`); empty until the first one.
    pub(crate) dns_answers: Vec<Option<(u32, u64)>>,
    /// Service: one circuit breaker per call (`policy/breaker.rs`).
    pub(crate) breakers: Vec<Breaker>,
    /// Gossip membership, for groups that gossip.
    pub(crate) gossip: Option<Box<GossipState>>,
    /// Reports to monitors.
    pub(crate) reporter: Reporter,
    /// A monitor's alarms.
    pub(crate) monitor: Option<Box<MonitorState>>,
    /// What actions and config changes left here.
    pub(crate) ops: OpsState,
    /// Rate-limit buckets and held requests (`policy/rate_limit.rs`).
    pub(crate) rate: Option<Box<super::policy::rate_limit::RateState>>,
    /// Concurrency limiters, per call target (`policy/concurrency.rs`).
    pub(crate) limiters: Vec<super::policy::concurrency::Limiter>,
    /// A hedging client's latency window (`policy/hedge.rs`).
    pub(crate) hedge: Option<Box<super::policy::hedge::HedgeState>>,
    /// A caller's connection pools (`policy/conn.rs`), once it has opened a connection.
    pub(crate) pools: Option<Box<super::policy::conn::Pools>>,
    /// A network device's connection table (`policy/conn.rs`), once a handshake crossed it.
    pub(crate) table: Option<Box<super::policy::conn::Table>>,
}

/// The outage model: the runtime topology plus behaviour.
pub struct OutageModel {
    pub world: World,
}

#[inline]
pub(crate) fn send_self(cx: &mut Cx, delay: u64, t: Timer) {
    let me = cx.me();
    cx.send(me, SimTime(delay), Msg::Timer(t));
}

/// Applies partitions and link degradations to a message from the current entity to `dst`:
/// None if it is lost, else the extra latency it suffers.
pub(crate) fn link_check(w: &World, cx: &mut Cx, dst: EntityId) -> Option<u64> {
    if w.link_faults.is_empty() {
        return Some(0);
    }
    link_check_at(w, cx, dst, cx.now().0)
}

/// `link_check` for a message leaving at `at`.
fn link_check_at(w: &World, cx: &mut Cx, dst: EntityId, at: u64) -> Option<u64> {
    match w.link_effect(cx.me(), dst, at) {
        LinkEffect::Clear => Some(0),
        LinkEffect::Cut => None,
        LinkEffect::Degraded { latency, loss } => {
            if loss > 0.0 && unit_f64(cx.rng()) < loss {
                None
            } else {
                Some(latency)
            }
        }
    }
}

/// Sends `msg` from the current entity to `dst`, through the network group joining their
/// segments if they differ.
pub(crate) fn transmit(w: &World, cx: &mut Cx, dst: EntityId, msg: Msg) {
    transmit_after(w, cx, dst, msg, 0);
}

/// `transmit`, leaving `after` from now (a folded service step's remaining service time): the
/// link faults are those of that time.
pub(crate) fn transmit_after(w: &World, cx: &mut Cx, dst: EntityId, msg: Msg, after: u64) {
    let me = cx.me();
    let link = if after == 0 || w.link_faults.is_empty() {
        link_check(w, cx, dst)
    } else {
        link_check_at(w, cx, dst, cx.now().0 + after)
    };
    let Some(extra) = link else {
        return;
    };
    let extra = extra + after;
    match relay_device(w, me, dst) {
        None => cx.send(dst, SimTime(w.latency(me, dst) + extra), msg),
        Some(dev) => {
            let relay = Msg::Relay {
                to: dst,
                inner: Box::new(msg),
            };
            cx.send(dev, SimTime(w.latency(me, dev) + extra), relay);
        }
    }
}

/// A random replica among those a caller knows of (standby replicas excluded).
pub(crate) fn pick_replica(w: &World, cx: &mut Cx, g: usize) -> EntityId {
    let n = w.provisioned(g) as u64;
    w.first[g] + if n == 1 { 0 } else { below(cx.rng(), n) as u32 }
}

impl OutageModel {
    /// The initial state of every entity, in entity-id order.
    pub fn initial_states(&self) -> Vec<Node> {
        let w = &self.world;
        (0..w.entities.len() as EntityId)
            .map(|id| {
                let info = &w.entities[id as usize];
                let group = &w.spec.groups[info.group];
                let mut node = Node {
                    group: info.group,
                    replica: info.replica,
                    me: id,
                    gen_: 1,
                    calls: Slab::default(),
                    deadlines: Default::default(),
                    log: Vec::new(),
                    crashed: false,
                    crash_depth: 0,
                    faults_on: Vec::new(),
                    users: Slab::default(),
                    client_series: Vec::new(),
                    tokens: 10.0,
                    lambda_max: 0.0,
                    population: 0,
                    busy: 0,
                    queue: WaitQueue::default(),
                    jobs: Slab::default(),
                    server_series: Vec::new(),
                    last_account: 0,
                    releases: Default::default(),
                    release_timer: 0,
                    defer: 0,
                    disrupted: 0,
                    conns: 0,
                    checker: None,
                    rr: info.replica,
                    outstanding: Vec::new(),
                    registered: 0,
                    tenants: Vec::new(),
                    dealt: Default::default(),
                    poisoned: Vec::new(),
                    in_service: info.replica < w.provisioned(info.group),
                    // Caches start warm: the run begins in steady state.
                    cache_last_ok: Some(0),
                    cache_items: Vec::new(),
                    resolver_cache: Vec::new(),
                    dns_answers: Vec::new(),
                    breakers: Vec::new(),
                    gossip: group.gossip.as_ref().map(|_| {
                        Box::new(GossipState::initial(
                            group.replicas() as usize,
                            w.provisioned(info.group) as usize,
                        ))
                    }),
                    reporter: Reporter::default(),
                    monitor: None,
                    ops: OpsState::default(),
                    rate: None,
                    limiters: Vec::new(),
                    hedge: None,
                    pools: None,
                    table: None,
                };
                if info.replica >= w.provisioned(info.group) {
                    // A standby replica: down until a scale action provisions it.
                    node.crashed = true;
                    node.crash_depth = 1;
                }
                match &group.kind {
                    KindSpec::Client(c) => node.init_client(w, c),
                    kind => {
                        node.server_series = vec![ServerBucket::default(); w.nbuckets];
                        match kind {
                            KindSpec::LoadBalancer(lb) => node.init_lb(w, lb),
                            KindSpec::Resolver(_) => node.init_resolver(w),
                            KindSpec::Cache(c) => node.init_cache(c),
                            KindSpec::Service(s) => node.init_service(s),
                            _ => {}
                        }
                        node.checker = fresh_checker(w, kind);
                    }
                }
                node
            })
            .collect()
    }
}

impl Model for OutageModel {
    type Event = Msg;
    type State = Node;

    fn start(&self, node: &mut Node, cx: &mut Cx) {
        let w = &self.world;
        for (i, f) in w.spec.faults.iter().enumerate() {
            if !f.hits(&w.spec.groups, node.group, node.replica) {
                continue;
            }
            send_self(cx, f.at.0, Timer::FaultOn { fault: i as u16 });
            if let Some(d) = f.duration {
                send_self(
                    cx,
                    f.at.0.saturating_add(d.0),
                    Timer::FaultOff { fault: i as u16 },
                );
            }
        }
        for &(failure, down, up) in &w.outages[node.me as usize] {
            send_self(cx, down, Timer::Down { failure });
            send_self(cx, up, Timer::Up { failure });
        }
        node.start_client(w, cx);
        node.start_checker(cx);
        node.start_gossip(w, cx);
        node.start_ops(w, cx);
    }

    fn handle(&self, node: &mut Node, msg: Msg, cx: &mut Cx) {
        let w = &self.world;
        match msg {
            Msg::Req(req) => {
                if !node.rate_limited(w, cx, &req) {
                    node.arrival(w, cx, Some(req), None, None)
                }
            }
            Msg::Relay { to, inner } => node.arrival(w, cx, None, Some((to, inner)), None),
            Msg::Gossip(g) => node.arrival(w, cx, None, None, Some(g)),
            Msg::Report(r) => node.on_report(w, cx, &r),
            Msg::Resp {
                slot,
                gen_,
                status,
                data,
            } => node.on_response(w, cx, slot, gen_, status, data),
            Msg::Timer(t) => node.on_timer(w, cx, t),
            Msg::Conn(m) => node.on_conn(w, cx, m),
        }
    }
}

impl Node {
    pub(crate) fn next_gen(&mut self) -> u32 {
        let g = self.gen_;
        self.gen_ = self.gen_.wrapping_add(1).max(1);
        g
    }

    pub(crate) fn log(&mut self, w: &World, time: u64, kind: &'static str, detail: String) {
        self.log.push(LogEntry {
            time,
            kind,
            target: w.entity_name(self.me),
            detail,
        });
    }

    // ----- outbound calls ------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call_out(
        &mut self,
        w: &World,
        cx: &mut Cx,
        owner: Owner,
        target: &Target,
        kind: ReqKind,
        source: u16,
        item: Item,
        timeout: u64,
        attempt: u32,
    ) -> (u32, u32) {
        let (phase, dst) = match target {
            Target::Group(g) => (Phase::Call, pick_replica(w, cx, *g)),
            Target::Dns { resolver, .. } => {
                let record = w.record_of(target).unwrap_or(0);
                // A `reroute` action may have moved these lookups to another resolver that
                // asks the same dns (so the record is the same).
                let resolver = self.ops.resolver(*resolver);
                match self.kept_answer(record, cx.now().0) {
                    // A kept answer (`client_cache`): no lookup.
                    Some(data) => {
                        let group = answer_target(w, cx, record, data).unwrap_or(resolver);
                        (Phase::Call, pick_replica(w, cx, group))
                    }
                    None => (Phase::Resolve { record }, pick_replica(w, cx, resolver)),
                }
            }
        };
        let call = Call {
            owner,
            phase,
            attempt,
            dst,
            kind,
            source,
            item,
            limit: Lim::Free,
            deadline: 0,
        };
        self.place_call(w, cx, call, timeout)
    }

    /// Records an outbound call, arms its timeout and sends its request (a lookup while the
    /// call is still resolving a name), unless its concurrency limit holds it back. Returns
    /// the call's slot and generation.
    pub(crate) fn place_call(
        &mut self,
        w: &World,
        cx: &mut Cx,
        mut call: Call,
        timeout: u64,
    ) -> (u32, u32) {
        let gen_ = self.next_gen();
        // A folded step's call leaves when its service ends.
        call.deadline = (cx.now().0 + self.defer).saturating_add(timeout);
        let call_deadline = call.deadline;
        let slot = self.calls.insert(gen_, call);
        // Lazily: most calls end long before their deadline, which then never becomes an
        // event of its own; one timer covers the earliest deadline still open. Added as of
        // when the call leaves, so that calls with one timeout share a lane.
        let leaves = cx.now().0 + self.defer;
        if let Some(at) = self.deadlines.add(leaves, call_deadline, slot, gen_) {
            send_self(cx, at - cx.now().0, Timer::CallDeadlines);
        }
        if self.limit_admit(w, cx, slot, gen_) {
            self.send_call(w, cx, slot, gen_);
        }
        (slot, gen_)
    }

    /// Sends a recorded call's request (a lookup while it is still resolving a name).
    pub(crate) fn send_call(&mut self, w: &World, cx: &mut Cx, slot: u32, gen_: u32) {
        let Some(call) = self.calls.get(slot, gen_) else {
            return;
        };
        if let (Phase::Call, Some(spec)) = (call.phase, conn_of(self.kind(w), &call.owner)) {
            return self.conn_send(w, cx, slot, gen_, spec);
        }
        self.send_req(w, cx, slot, gen_, call, super::msg::NO_CONN);
    }

    /// Sends call `(slot, gen_)`'s request to its `dst` (a lookup while it is still resolving
    /// a name), on pooled connection `conn` (`NO_CONN`: none).
    pub(crate) fn send_req(
        &self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        call: &Call,
        conn: u32,
    ) {
        let kind = match call.phase {
            Phase::Resolve { record } => ReqKind::Lookup { record },
            Phase::Call => call.kind,
        };
        let req = Req {
            from: self.me,
            slot,
            gen_,
            kind,
            source: call.source,
            item: call.item,
            deadline: call.deadline,
            conn,
        };
        transmit_after(w, cx, call.dst, Msg::Req(req), self.defer);
    }

    pub(crate) fn on_response(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        status: Status,
        data: u32,
    ) {
        let Some(call) = self.calls.get_mut(slot, gen_) else {
            return; // late: the call timed out or the caller crashed since
        };
        if let Phase::Resolve { record } = call.phase {
            if status == Status::Ok && data != 0 {
                let Some(group) = answer_target(w, cx, record, data) else {
                    return;
                };
                let resolver = call.dst;
                if self.pools.is_some() {
                    // Pools may follow a changed answer (`policy/conn.rs`).
                    self.conn_answer(w, cx, record, data);
                }
                self.keep_answer(w, resolver, record, data, cx.now().0);
                let Some(call) = self.calls.get_mut(slot, gen_) else {
                    return;
                };
                let dst = pick_replica(w, cx, group);
                call.phase = Phase::Call;
                call.dst = dst;
                self.send_call(w, cx, slot, gen_);
                return;
            }
            let call = self.calls.remove(slot, gen_).expect("present");
            self.complete(w, cx, call, Outcome::Error, 0);
            return;
        }
        let call = self.calls.remove(slot, gen_).expect("present");
        let out = Outcome::from_status(status);
        if self.pools.is_some() {
            self.conn_call_ended(w, cx, &call, slot, gen_, Some(out));
        }
        self.complete(w, cx, call, out, data);
    }

    /// Hands an outbound call's end to whoever waits for it. `data` is the answer's payload
    /// (a DNS answer's target set), 0 otherwise.
    pub(crate) fn complete(&mut self, w: &World, cx: &mut Cx, call: Call, out: Outcome, data: u32) {
        if call.limit != Lim::Free {
            self.limit_release(w, cx, &call, Some(out));
        }
        match call.owner {
            Owner::User { slot, gen_ } => self.user_result(w, cx, slot, gen_, call.attempt, out),
            Owner::Job {
                slot,
                gen_,
                call: i,
            } => {
                if let KindSpec::LoadBalancer(lb) = self.kind(w) {
                    self.lb_call_ended(w, lb, call.dst, slot, gen_);
                }
                self.job_call_result(w, cx, slot, gen_, i, call.attempt, out, data)
            }
            Owner::Probe { target } => self.probe_result(w, cx, target, out == Outcome::Ok),
        }
    }

    // ----- servers -------------------------------------------------------------------

    #[inline]
    pub(crate) fn server<'w>(&self, w: &'w World) -> &'w ServerSpec {
        // Its group's settings, looked up once when the world was built.
        if self.ops.config.is_none()
            && let Some(s) = &w.servers[self.group]
        {
            return s;
        }
        self.live_server(w)
    }

    /// `server` under a config change: the settings it runs now.
    #[cold]
    #[inline(never)]
    fn live_server<'w>(&self, w: &'w World) -> &'w ServerSpec {
        self.kind(w).server().expect("servers have server settings")
    }

    /// Closes the books at the end of the run: busy time up to `end` is accounted, so workers
    /// still busy when the run stops count in the last buckets.
    pub fn close(&mut self, w: &World, end: u64) {
        self.account(w, end);
    }

    /// Adds busy worker time (and, while up, up time and live worker time) up to `now`, split
    /// at bucket boundaries.
    /// Called before anything that changes `busy` or `crashed`.
    pub(crate) fn account(&mut self, w: &World, now: u64) {
        if self.server_series.is_empty() || self.last_account >= now {
            return;
        }
        // Nothing that changes the live workers happens between two calls (callers account
        // first), so they are looked up once, not per bucket, and not at all when no time
        // has passed (several arrivals and releases at one instant).
        let live = if self.crashed { 0 } else { self.workers(w) };
        // Folded service steps free their workers as time passes, in order.
        while let Some(&at) = self.releases.front() {
            if at > now {
                break;
            }
            self.integrate(w, live, at);
            self.busy -= 1;
            self.releases.pop_front();
        }
        self.integrate(w, live, now);
    }

    /// `account`'s integration up to `now` with `live` workers, split at bucket boundaries.
    fn integrate(&mut self, w: &World, live: u32, now: u64) {
        while self.last_account < now {
            let b = w.bucket_of(self.last_account);
            let end = if b + 1 == w.nbuckets {
                now
            } else {
                now.min((b as u64 + 1) * w.bucket)
            };
            let sb = &mut self.server_series[b];
            let dt = (end - self.last_account) as f64;
            sb.busy_ns += self.busy as f64 * dt;
            if !self.crashed {
                sb.up_ns += dt;
                sb.worker_ns += f64::from(live) * dt;
            }
            self.last_account = end;
        }
    }

    pub(crate) fn arrival(
        &mut self,
        w: &World,
        cx: &mut Cx,
        req: Option<Req>,
        relay: Option<(EntityId, Box<Msg>)>,
        gossip: Option<Box<GossipMsg>>,
    ) {
        let now = cx.now().0;
        if self.server_series.is_empty() {
            return; // clients serve nothing
        }
        self.account(w, now);
        let b = w.bucket_of(now);
        if gossip.is_some() {
            self.server_series[b].gossip += 1;
        } else {
            self.server_series[b].arrivals += 1;
        }
        if self.crashed {
            self.server_series[b].dropped += 1;
            return;
        }
        if let Some(r) = &req {
            if r.kind == ReqKind::ProbeShallow {
                // A port check: any live replica answers, whatever its state.
                respond(w, cx, r, Status::Ok, 0);
                return;
            }
        }
        if !self.faults_on.is_empty() {
            if let Some(r) = &req
                && let Some(i) = self.poison_of(w, r)
            {
                // A poison pill: the replica crashes on it, with everything it holds.
                self.server_series[b].dropped += 1;
                self.poisoned.push(i);
                self.crash_step(w, cx, true);
                let detail = format!(
                    "{} ({} request from {})",
                    w.spec.faults[i as usize].name,
                    w.spec.faults[i as usize].kind.name(),
                    w.spec.groups[usize::from(r.source)].name
                );
                self.log(w, now, "crashed", detail);
                return;
            }
            let fx = self.fault_effects(w);
            if fx.hung {
                // Accepted, never answered.
                self.server_series[b].dropped += 1;
                return;
            }
            if let Some(r) = &req {
                if fx.fast_error > 0.0 && unit_f64(cx.rng()) < fx.fast_error {
                    let sb = &mut self.server_series[b];
                    sb.served += 1;
                    sb.errors += 1;
                    respond(w, cx, r, Status::Error, 0);
                    return;
                }
            }
        }
        if let Some(r) = &req {
            if self.ops.shed > 0.0 && r.kind == ReqKind::Work && unit_f64(cx.rng()) < self.ops.shed
            {
                // Load shedding: refused at once, before any work.
                self.server_series[b].rejected += 1;
                respond(w, cx, r, Status::Error, 0);
                return;
            }
            if self.gossip.is_some() && self.isolated(w) {
                // Its view holds no majority of its group: it refuses work.
                let sb = &mut self.server_series[b];
                sb.served += 1;
                sb.errors += 1;
                respond(w, cx, r, Status::Error, 0);
                return;
            }
        }
        let (workers, queue_cap) = (self.workers(w), self.server(w).queue);
        if !self.take_connection(w) {
            self.reject(w, cx, b, req);
            return;
        }
        let gen_ = self.next_gen();
        let slot = self.jobs.insert(
            gen_,
            Job {
                req,
                relay,
                arrived: now,
                has_worker: false,
                next_call: 0,
                pending: 0,
                ok: 0,
                failed: 0,
                degraded: false,
                wrong: false,
                asked: 0,
                quorum: 0,
                stale_hit: false,
                last_backend: None,
                denied: false,
                gossip,
            },
        );
        if self.busy < workers {
            self.start_job(w, cx, slot, gen_);
        } else if !self.enqueue(w, cx, slot, gen_, queue_cap) {
            let job = self.jobs.remove(slot, gen_).expect("just inserted");
            self.release_connection(w);
            self.reject(w, cx, b, job.req);
        } else {
            self.arm_release(cx);
        }
    }

    /// While requests wait for a worker and folded steps hold workers, a timer frees the
    /// earliest of them when it is due (nothing else would notice it then). A release earlier
    /// than the armed timer (drawn service times) arms another; the later one is then stale.
    fn arm_release(&mut self, cx: &mut Cx) {
        if self.queue.len() == 0 {
            return;
        }
        if let Some(&at) = self.releases.front()
            && (self.release_timer == 0 || at < self.release_timer)
        {
            self.release_timer = at;
            send_self(cx, at - cx.now().0, Timer::Release);
        }
    }

    /// `Timer::Release`: the folded steps due have freed their workers; waiting requests
    /// take them.
    fn on_release(&mut self, w: &World, cx: &mut Cx) {
        let now = cx.now().0;
        if self.release_timer != now {
            return;
        }
        self.release_timer = 0;
        self.account(w, now);
        self.fill_workers(w, cx);
        self.arm_release(cx);
    }

    /// Whether job `(slot, gen_)`, about to take `d` of service, may fold its service step:
    /// its group folds, no replica fault is active and none starts or ends (nor a random
    /// failure begins) before the step would have ended, and it is a plain request.
    fn may_fold(&mut self, w: &World, now: u64, d: u64, job_plain: bool) -> bool {
        if !job_plain || !w.fold[self.group] || !self.faults_on.is_empty() || d == 0 {
            return false;
        }
        let times = &w.disruptions[self.me as usize];
        let mut i = self.disrupted as usize;
        while i < times.len() && times[i] < now {
            i += 1;
        }
        self.disrupted = i as u32;
        times.get(i).is_none_or(|&t| t > now.saturating_add(d))
    }

    /// Refuses a request at admission (an error answer), or drops a relayed message.
    pub(crate) fn reject(&mut self, w: &World, cx: &mut Cx, b: usize, req: Option<Req>) {
        match req {
            Some(r) => {
                self.server_series[b].rejected += 1;
                respond(w, cx, &r, Status::Error, 0);
            }
            None => self.server_series[b].dropped += 1,
        }
    }

    pub(crate) fn start_job(&mut self, w: &World, cx: &mut Cx, slot: u32, gen_: u32) {
        let now = cx.now().0;
        let Some(job) = self.jobs.get_mut(slot, gen_) else {
            return;
        };
        job.has_worker = true;
        let gossip_entries = job.gossip.as_ref().map(|m| m.entries());
        // A handshake costs a device's setup work (`policy/conn.rs`).
        let syn = matches!(&job.relay, Some((_, m)) if matches!(**m, Msg::Conn(ConnMsg { op: ConnOp::Syn, .. })));
        let relayed = job.relay.is_some() || job.req.is_none();
        let waited = now - job.arrived;
        self.busy += 1;
        let sb = &mut self.server_series[w.bucket_of(now)];
        sb.started += 1;
        sb.wait_ns += waited as f64;
        let mut d = match (gossip_entries, self.gossip_spec(w)) {
            // Merging costs time per entry of the table.
            (Some(entries), Some(g)) => g.cost.0.saturating_mul(entries),
            _ => draw(&self.server(w).service_time, cx.rng()),
        };
        if syn {
            d = d.saturating_add(self.table_setup(w));
        }
        if gossip_entries.is_some() {
            self.server_series[w.bucket_of(now)].gossip_busy_ns += d as f64;
        }
        if !self.faults_on.is_empty() {
            let fx = self.fault_effects(w);
            let slow = fx.slow * capacity(self.server(w).workers, fx.lost).1;
            if slow != 1.0 {
                d = (d as f64 * slow + 0.5) as u64;
            }
        }
        let plain = gossip_entries.is_none() && !relayed;
        if self.may_fold(w, now, d, plain) {
            if w.hold[self.group] {
                // Folded, holding: the calls leave `d` later and the job keeps its worker
                // until it answers, as it would have.
                self.defer = d;
                self.on_service_done(w, cx, slot, gen_);
                self.defer = 0;
                return;
            }
            // Folded: the step after service runs now, and what it sends leaves `d` later,
            // when the service would have ended; the worker stays busy until then.
            if let Some(job) = self.jobs.get_mut(slot, gen_) {
                job.has_worker = false;
            }
            let at = now + d;
            let k = self.releases.partition_point(|&r| r <= at);
            self.releases.insert(k, at);
            self.defer = d;
            self.on_service_done(w, cx, slot, gen_);
            self.defer = 0;
            self.arm_release(cx);
            return;
        }
        send_self(cx, d, Timer::ServiceDone { slot, gen_ });
    }

    /// Frees a job's worker while the job waits downstream. Every kind but `service`
    /// (thread-per-request) forwards asynchronously.
    pub(crate) fn detach(&mut self, w: &World, cx: &mut Cx, slot: u32, gen_: u32) {
        if let Some(job) = self.jobs.get_mut(slot, gen_) {
            if job.has_worker {
                job.has_worker = false;
                self.release_worker(w, cx);
            }
        }
    }

    pub(crate) fn release_worker(&mut self, w: &World, cx: &mut Cx) {
        self.account(w, cx.now().0);
        self.busy -= 1;
        self.fill_workers(w, cx);
    }

    /// Starts queued jobs while workers are free (after a release, or capacity coming back).
    pub(crate) fn fill_workers(&mut self, w: &World, cx: &mut Cx) {
        while self.busy < self.workers(w) {
            // The discipline picks the next job; it sheds the ones it drops on the way.
            let Some((slot, gen_)) = self.dequeue(w, cx) else {
                break;
            };
            self.start_job(w, cx, slot, gen_);
        }
    }

    /// Workers per replica now: the configured ones less any lost to a capacity_loss fault.
    #[inline]
    pub(crate) fn workers(&self, w: &World) -> u32 {
        let base = self.server(w).workers;
        if self.faults_on.is_empty() {
            return base;
        }
        capacity(base, self.fault_effects(w).lost).0
    }

    /// The combined effect of the active replica faults (nothing, on most replicas).
    pub(crate) fn fault_effects(&self, w: &World) -> Effects {
        let mut e = Effects {
            hung: false,
            slow: 1.0,
            fast_error: 0.0,
            wrong: 0.0,
            lost: 0.0,
        };
        for &i in &self.faults_on {
            match w.spec.faults[i as usize].kind {
                FaultKind::Hang { .. } => e.hung = true,
                FaultKind::Slow { factor, .. } => e.slow *= factor,
                FaultKind::Error {
                    probability, wrong, ..
                } => {
                    // Independent faults: the chance that at least one strikes.
                    let p = if wrong {
                        &mut e.wrong
                    } else {
                        &mut e.fast_error
                    };
                    *p = 1.0 - (1.0 - *p) * (1.0 - probability);
                }
                FaultKind::CapacityLoss { fraction, .. } => e.lost = e.lost.max(fraction),
                FaultKind::Crash { .. }
                | FaultKind::NewSource
                | FaultKind::DnsRecord { .. }
                | FaultKind::Partition
                | FaultKind::LinkDegradation { .. }
                | FaultKind::ZoneOutage
                | FaultKind::RegionOutage
                | FaultKind::TrafficSurge { .. }
                | FaultKind::ConfigChange { .. }
                | FaultKind::GossipCorruption { .. }
                | FaultKind::Poison { .. } => {}
            }
        }
        e
    }

    /// Ends a job: frees its worker and answers its caller.
    pub(crate) fn finish(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        status: Status,
        data: u32,
    ) {
        let Some(job) = self.jobs.remove(slot, gen_) else {
            return;
        };
        let mut status = status;
        if !self.faults_on.is_empty() && matches!(status, Status::Ok | Status::Degraded) {
            let p = self.fault_effects(w).wrong;
            if p > 0.0 && job.req.is_some() && unit_f64(cx.rng()) < p {
                status = Status::Wrong;
            }
        }
        if job.has_worker {
            self.release_worker(w, cx);
        }
        self.release_connection(w);
        // A folded step's answer is served when its service ends (if the run has not).
        let at = cx.now().0 + self.defer;
        if self.defer == 0 || at < w.spec.duration.0 {
            let sb = &mut self.server_series[w.bucket_of(at)];
            sb.served += 1;
            if job.denied {
                sb.denied += 1;
            } else if matches!(status, Status::Error | Status::Throttled | Status::Shed) {
                sb.errors += 1;
            }
        }
        if let Some(r) = job.req {
            let msg = Msg::Resp {
                slot: r.slot,
                gen_: r.gen_,
                status,
                data,
            };
            transmit_after(w, cx, r.from, msg, self.defer);
        }
    }

    pub(crate) fn on_service_done(&mut self, w: &World, cx: &mut Cx, slot: u32, gen_: u32) {
        let Some(job) = self.jobs.get_mut(slot, gen_) else {
            return;
        };
        if let Some(m) = job.gossip.take() {
            let job = self.jobs.remove(slot, gen_).expect("present");
            if job.has_worker {
                self.release_worker(w, cx);
            }
            self.merge_gossip(w, cx, &m);
            return;
        }
        if let Some((to, inner)) = job.relay.take() {
            return self.relay_on(w, cx, slot, gen_, to, *inner);
        }
        let Some(req) = job.req else {
            return;
        };
        match (self.kind(w), req.kind) {
            (_, ReqKind::ReplicaOp) => self.finish(w, cx, slot, gen_, Status::Ok, 0),
            (KindSpec::Dns(_), ReqKind::Lookup { record }) => {
                self.dns_lookup(w, cx, slot, gen_, record, req.from)
            }
            (KindSpec::Resolver(r), ReqKind::Lookup { record }) => {
                self.resolver_lookup(w, cx, slot, gen_, r, &req, record)
            }
            (KindSpec::Dns(_) | KindSpec::Resolver(_), _) => {
                self.finish(w, cx, slot, gen_, Status::Error, 0)
            }
            (KindSpec::Service(s), _) => self.service_start(w, cx, slot, gen_, s),
            (KindSpec::LoadBalancer(_), _) => self.lb_dispatch(w, cx, slot, gen_, 1),
            (KindSpec::Proxy(p, _), _) => self.proxy_serve(w, cx, slot, gen_, p, &req),
            (KindSpec::Cache(c), _) => self.cache_serve(w, cx, slot, gen_, c, &req),
            (KindSpec::Firewall(f), _) => self.firewall_serve(w, cx, slot, gen_, f, &req),
            (KindSpec::Storage(s), _) => self.storage_coordinate(w, cx, slot, gen_, s, &req),
            (KindSpec::Network(_) | KindSpec::Client(_) | KindSpec::Monitor(_), _) => {
                self.finish(w, cx, slot, gen_, Status::Error, 0)
            }
        }
    }

    /// Proxy, cache and firewall: pass the request on to group `next`, freeing the worker
    /// while it waits. A first attempt earns tokens for `retry`'s budget (proxies).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        attempt: u32,
        next: usize,
        timeout: SimTime,
        retry: Option<&RetrySpec>,
    ) {
        let Some(req) = self.jobs.get_mut(slot, gen_).and_then(|j| j.req) else {
            return;
        };
        if let (1, Some(retry)) = (attempt, retry) {
            self.earn(retry);
        }
        self.detach(w, cx, slot, gen_);
        let kind = downstream_kind(req.kind);
        let owner = Owner::Job {
            slot,
            gen_,
            call: 0,
        };
        self.call_out(
            w,
            cx,
            owner,
            &Target::Group(next),
            kind,
            req.source,
            req.item,
            timeout.0,
            attempt,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn job_call_result(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        i: u16,
        attempt: u32,
        out: Outcome,
        data: u32,
    ) {
        if self.jobs.get_mut(slot, gen_).is_none() {
            return; // the job already finished (parallel fail-fast, or a crash)
        }
        match self.kind(w) {
            KindSpec::Service(s) => self.service_result(w, cx, slot, gen_, s, i, attempt, out),
            KindSpec::LoadBalancer(lb) => {
                self.pass_or_retry(w, cx, slot, gen_, attempt, out, &lb.retry)
            }
            KindSpec::Storage(_) => self.storage_result(w, cx, slot, gen_, out),
            KindSpec::Resolver(_) => self.resolver_result(w, cx, slot, gen_, out, data),
            KindSpec::Cache(c) => self.cache_result(w, cx, slot, gen_, c, out),
            KindSpec::Proxy(p, _) => self.pass_or_retry(w, cx, slot, gen_, attempt, out, &p.retry),
            KindSpec::Firewall(_) => self.firewall_result(w, cx, slot, gen_, out),
            _ => self.finish(w, cx, slot, gen_, Status::Error, 0),
        }
    }

    // ----- timers and faults -----------------------------------------------------------

    pub(crate) fn on_timer(&mut self, w: &World, cx: &mut Cx, t: Timer) {
        match t {
            Timer::Arrival => self.on_arrival_timer(w, cx),
            Timer::Think => self.on_think(w, cx),
            Timer::Attempt {
                slot,
                gen_,
                attempt,
            } => self.start_attempt(w, cx, slot, gen_, attempt),
            Timer::CallTimeout { slot, gen_ } => self.call_timeout(w, cx, slot, gen_),
            Timer::CallDeadlines => {
                let now = cx.now().0;
                if !self.deadlines.fire(now) {
                    return; // superseded by an earlier timer, which re-armed
                }
                while let Some((slot, gen_)) = self.deadlines.pop_due(now) {
                    self.call_timeout(w, cx, slot, gen_);
                }
                let calls = &self.calls;
                if let Some(at) = self.deadlines.rearm(|s, g| calls.contains(s, g)) {
                    send_self(cx, at - now, Timer::CallDeadlines);
                }
            }
            Timer::ServiceDone { slot, gen_ } => self.on_service_done(w, cx, slot, gen_),
            Timer::Release => self.on_release(w, cx),
            Timer::RetryCall {
                slot,
                gen_,
                call,
                attempt,
            } => match self.kind(w) {
                KindSpec::Service(_) => self.service_call(w, cx, slot, gen_, call, attempt),
                KindSpec::LoadBalancer(_) => self.lb_dispatch(w, cx, slot, gen_, attempt),
                KindSpec::Proxy(p, _) => self.proxy_forward(w, cx, slot, gen_, attempt, p),
                KindSpec::Cache(c) => self.cache_forward(w, cx, slot, gen_, attempt, c),
                KindSpec::Firewall(f) => self.firewall_forward(w, cx, slot, gen_, attempt, f),
                _ => {}
            },
            Timer::HealthTick => self.on_health_tick(w, cx),
            Timer::GossipTick => self.on_gossip_tick(w, cx),
            Timer::Report { monitor } => self.on_report_timer(w, cx, monitor as usize),
            Timer::Evaluate => self.on_evaluate(w, cx),
            Timer::Action { action } => self.on_action(w, cx, action as usize),
            Timer::ActionStep { action, up } => self.on_action_step(w, cx, action as usize, up),
            Timer::Dispatch { action } => self.on_dispatch(w, cx, action as usize),
            Timer::Config { fault, on } => self.on_config(w, cx, fault as usize, on),
            Timer::Admit { slot, gen_ } => self.on_admit(w, cx, slot, gen_),
            Timer::Hedge {
                slot,
                gen_,
                attempt,
            } => self.on_hedge(w, cx, slot, gen_, attempt),
            Timer::QueueCheck => self.on_queue_check(w, cx),
            Timer::ConnOpen { id } => self.on_conn_open_timer(w, cx, id),
            Timer::ConnIdle { id, since } => self.on_conn_idle_timer(w, cx, id, since),
            Timer::ConnWarm { group } => self.on_conn_warm(w, cx, group, true),
            Timer::ConnOpenIdle { group } => self.on_conn_warm(w, cx, group, false),
            Timer::Scale { scaler, count } => self.on_scale(w, cx, scaler as usize, count),
            Timer::ScaleStep { scaler, count } => self.on_scale_step(w, cx, scaler as usize, count),
            Timer::FaultOn { fault } => self.fault(w, cx, fault as usize, true),
            Timer::FaultOff { fault } => self.fault(w, cx, fault as usize, false),
            Timer::Down { failure } | Timer::Up { failure } => {
                let now = cx.now().0;
                let down = matches!(t, Timer::Down { .. });
                self.crash_step(w, cx, down);
                let name = w.spec.failures[failure as usize].name.clone();
                let kind = if down { "failure_start" } else { "failure_end" };
                self.log(w, now, kind, name);
            }
        }
    }

    /// One more (`down`) or one fewer crash cause: the replica goes down with the first and
    /// comes back with the last, whether scheduled faults or random failures.
    /// An outbound call's deadline is due: if still open, it ends as timed out (throttled
    /// when its concurrency limit rejected it).
    fn call_timeout(&mut self, w: &World, cx: &mut Cx, slot: u32, gen_: u32) {
        if let Some(call) = self.calls.remove(slot, gen_) {
            let out = if call.limit == Lim::Rejected {
                Outcome::Throttled
            } else {
                Outcome::Timeout
            };
            if self.pools.is_some() {
                self.conn_call_ended(w, cx, &call, slot, gen_, Some(out));
            }
            self.complete(w, cx, call, out, 0);
        }
    }

    pub(crate) fn crash_step(&mut self, w: &World, cx: &mut Cx, down: bool) {
        let now = cx.now().0;
        self.account(w, now);
        if down {
            self.crash_depth += 1;
            if self.crash_depth == 1 {
                self.crash();
                // Callers pooling to the group lose their connections to it (`policy/conn.rs`).
                self.conn_notify(w, cx, ConnOp::Down);
            }
        } else {
            self.crash_depth = self.crash_depth.saturating_sub(1);
            if self.crash_depth == 0 {
                self.restart(w);
                self.gossip_rejoin(w, cx);
                self.conn_notify(w, cx, ConnOp::Up);
            }
        }
    }

    /// The active poison fault whose pill request `r` is, if any.
    fn poison_of(&self, w: &World, r: &Req) -> Option<u16> {
        if r.kind != ReqKind::Work {
            return None;
        }
        self.faults_on.iter().copied().find(|&i| {
            matches!(w.spec.faults[i as usize].kind,
                FaultKind::Poison { source, .. } if source == usize::from(r.source))
        })
    }

    /// Whether a hang fault holds this replica.
    pub(crate) fn is_hung(&self, w: &World) -> bool {
        !self.faults_on.is_empty() && self.fault_effects(w).hung
    }

    /// Goes down: everything in flight is lost.
    pub(crate) fn crash(&mut self) {
        self.crashed = true;
        self.drop_in_flight();
        self.table = None;
    }

    /// Forgets every job, queued request and outbound call: none will ever be answered.
    pub(crate) fn drop_in_flight(&mut self) {
        self.jobs.clear();
        self.queue.clear();
        self.calls.clear();
        self.users.clear();
        self.busy = 0;
        self.releases.clear();
        self.conns = 0;
        self.outstanding.iter_mut().for_each(|o| *o = 0);
        self.clear_limiters();
        self.drop_held();
        self.pools = None;
    }

    /// Comes back empty: cold caches, a fresh view of health, closed breakers, a full retry
    /// budget. (Live configuration stays as it was.)
    pub(crate) fn restart(&mut self, w: &World) {
        self.crashed = false;
        self.resolver_cache.iter_mut().for_each(|e| *e = None);
        self.dns_answers.clear();
        if matches!(self.kind(w), KindSpec::Cache(_)) {
            self.cache_restart();
        }
        if self.checker.is_some() {
            self.checker = fresh_checker(w, self.kind(w));
        }
        self.breakers
            .iter_mut()
            .for_each(|b| *b = Breaker::default());
        self.tokens = 10.0;
    }

    pub(crate) fn fault(&mut self, w: &World, cx: &mut Cx, i: usize, on: bool) {
        let f = &w.spec.faults[i];
        let now = cx.now().0;
        let kind = if on { "fault_start" } else { "fault_end" };
        // An action ended it already (or before it began): nothing more happens.
        if self.ops.ended_at(i).is_some() {
            return;
        }
        if on {
            self.ops.started.push(i as u16);
        } else {
            self.ops.started.retain(|&x| x as usize != i);
        }
        match &f.kind {
            FaultKind::Crash { .. } | FaultKind::ZoneOutage | FaultKind::RegionOutage => {
                self.crash_step(w, cx, on);
                self.log(w, now, kind, format!("{} ({})", f.name, f.kind.name()));
            }
            FaultKind::Hang { .. }
            | FaultKind::Slow { .. }
            | FaultKind::Error { .. }
            | FaultKind::CapacityLoss { .. }
            | FaultKind::DnsRecord { .. } => {
                self.account(w, now);
                if on {
                    self.faults_on.push(i as u16);
                    if matches!(f.kind, FaultKind::Hang { .. }) {
                        // What it held when it hung is never answered.
                        self.drop_in_flight();
                    }
                } else if let Some(k) = self.faults_on.iter().position(|&x| x as usize == i) {
                    self.faults_on.remove(k);
                    // Capacity may be back.
                    self.fill_workers(w, cx);
                }
                self.log(w, now, kind, format!("{} ({})", f.name, f.kind.name()));
            }
            // Link faults act in `transmit`, and are logged when the run is collected.
            FaultKind::Partition | FaultKind::LinkDegradation { .. } => {}
            FaultKind::NewSource => {
                self.log(w, now, kind, format!("{} (new_source)", f.name));
            }
            FaultKind::TrafficSurge { multiplier, ramp } => {
                let detail = format!("{} (traffic_surge x{multiplier}, ramp {})", f.name, ramp);
                self.log(w, now, kind, detail);
            }
            FaultKind::ConfigChange { .. } => {
                if on {
                    self.config_start(w, cx, i);
                } else {
                    self.config_back(w, cx, i, now);
                }
                self.log(w, now, kind, format!("{} ({})", f.name, f.kind.name()));
            }
            FaultKind::Poison { .. } => {
                if on {
                    self.faults_on.push(i as u16);
                } else {
                    self.faults_on.retain(|&x| x as usize != i);
                    if let Some(k) = self.poisoned.iter().position(|&x| x as usize == i) {
                        // The bad input is gone: the replica restarts.
                        self.poisoned.remove(k);
                        self.crash_step(w, cx, false);
                    }
                }
                self.log(w, now, kind, format!("{} ({})", f.name, f.kind.name()));
            }
            FaultKind::GossipCorruption {
                field, bit, entry, ..
            } => {
                // Without a duration, a single corrupted message: it ends where it starts.
                let flip = crate::model::policy::gossip::Flip {
                    entry: entry.unwrap_or(self.replica),
                    field: *field,
                    bit: *bit,
                };
                let once = on && f.duration.is_none();
                self.gossip_corrupt(w, cx, on.then_some(flip), once);
                self.log(w, now, kind, format!("{} ({})", f.name, f.kind.name()));
                if once {
                    self.log(
                        w,
                        now,
                        "fault_end",
                        format!("{} ({})", f.name, f.kind.name()),
                    );
                }
            }
        }
    }
}

/// What a `capacity_loss` of `lost` leaves of `base` workers: x = base x (1 - lost) workers'
/// worth of capacity, exactly, as ceil(x) workers each serving x / ceil(x) as fast (the
/// service-time multiplier returned), so that a 78% and an 80% cut of 5 workers differ.
pub(crate) fn capacity(base: u32, lost: f64) -> (u32, f64) {
    if lost <= 0.0 {
        return (base, 1.0);
    }
    let x = base as f64 * (1.0 - lost);
    let n = x.ceil();
    if n <= 0.0 {
        (0, 1.0)
    } else {
        (n as u32, n / x)
    }
}

/// Answers a request's caller.
pub(crate) fn respond(w: &World, cx: &mut Cx, req: &Req, status: Status, data: u32) {
    let msg = Msg::Resp {
        slot: req.slot,
        gen_: req.gen_,
        status,
        data,
    };
    transmit(w, cx, req.from, msg);
}

/// What a server asks its dependencies on behalf of a request: a deep health check stays deep
/// all the way down (so its answer reflects the whole path); anything else is work.
pub(crate) fn downstream_kind(k: ReqKind) -> ReqKind {
    if k == ReqKind::ProbeDeep {
        ReqKind::ProbeDeep
    } else {
        ReqKind::Work
    }
}
