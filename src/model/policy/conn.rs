//! Connections: a caller's pools (`connections` on clients and services) and the connection
//! tables of stateful devices (`connections` on `kind = "network"` and `kind = "firewall"`).
//!
//! **Pools.** Each caller replica keeps one pool per target group, of connections to specific
//! replicas of it. A call (its request, after any name lookup) takes the pooled connection
//! that went idle last, or opens one while the pool has room, or waits in line (FIFO) for one
//! to come free. Opening is a handshake: a `Syn` to the chosen replica and its `Ack` back,
//! sent with `transmit` like any message, so both cross the network device between the
//! segments and take its worker time. A live replica acknowledges without worker time (the
//! kernel accepts); a crashed one never does. A connect not acknowledged within
//! `connect_timeout` fails the call that opened it (a timeout: its retry policy applies);
//! the other waiting calls keep waiting. A call that times out on a connection closes it (the
//! caller cannot tell a dead peer from a slow one, and an HTTP/1 connection with an answer
//! still due cannot carry another request): this is how a crashed or restarted target
//! replica's connections are found dead. Idle connections close after `idle_timeout`, and
//! any connection past `max_lifetime` closes when it is next idle. Closing sends a `Fin`
//! through the same device. A caller that crashes or hangs drops its pools without a `Fin`.
//!
//! **Rebalancing.** A `scale` action reaches the callers that pool connections to its group
//! (besides the replicas it provisions and the load balancers over the group): when the new
//! replicas are provisioned, each such caller counts them as members, closes a `rebalance`
//! share of its connections to that group (the first ones in pool order; busy ones when their
//! call ends) and reopens as many at once to replicas drawn among all members. That is the
//! reconnect wave a scaling activity sets off. An autoscaler's orders reach them too
//! (`policy/autoscale.rs`): they rebalance when its new replicas are in service, or at once
//! onto those that stay after a scale-in.
//!
//! The other changes of the replicas behind a group reach the callers pooling to it as
//! notices from the replica, out of band at the plain network latency (`conn_notify`):
//! * a replica that goes down while in service (a crash or failure, a `restart` or
//!   `clear_gossip` action, a poison pill) sends `Down`: its kernel resets the connections.
//!   The callers close their idle connections to it at once and their busy ones when the call
//!   ends (its answer is lost), and open new ones only to the other replicas;
//! * back, it sends `Up` (discovery tells the callers): each caller moves each of its
//!   connections to it with probability `rebalance` / live replicas, its fair share;
//! * a replica that takes a config change, or reverts one, sends `Reload`: each caller closes
//!   the `rebalance` share of its connections to it and reopens them over the live replicas.
//!
//! A caller that reaches groups through a DNS name remembers the last answer for each name;
//! when an answer no longer names a group it named, the `rebalance` share of the connections
//! to that group close (busy ones when their call ends) and as many open to the groups it
//! names now (`conn_answer`). Each of these is a `rebalance` event.
//!
//! **Connection tables.** A network device with `connections` keeps a table of flows, and so
//! does a firewall with `connections` for the connections callers open to it (one
//! implementation: the firewall relays each handshake to itself through its workers, and
//! `relay_on` hands it to `conn_accept`; its requests keep their entries fresh). A
//! handshake's `Syn` crossing it costs `setup` worker time on top of relaying, and takes an
//! entry keyed by the connection; with the table full it is dropped, as a full Linux
//! conntrack table drops new flows: nothing answers, so the connect times out at the caller's
//! `connect_timeout` (no fast refusal reaches it). The `Fin` frees the entry (a caller that
//! gets the answer of a handshake it gave up on resets it with one); each request on
//! the connection keeps it fresh; an entry untouched for the table's `idle_timeout` (its
//! close was lost, its caller crashed, its handshake failed, or a kept-open connection stayed
//! idle that long, as behind a real NAT without keep-alives; the model does not then drop the
//! connection's packets, the table only forgets it) is reclaimed when the table is next full.
//! A device's crash empties its table. Refused handshakes count as the device's `dropped`
//! messages; the table starting to refuse and being below 90% again are events
//! (`conn_table_full`, `conn_table_ok` with the refusals in between).

use std::collections::{BTreeMap, VecDeque};

use crate::engine::rng::{below, unit_f64};
use crate::engine::{EntityId, SimTime};
use crate::model::kinds::client::ClientSpec;
use crate::model::msg::{ConnMsg, ConnOp, Msg, Timer};
use crate::model::node::{Call, Cx, Node, Outcome, Owner, send_self, transmit};
use crate::model::settings::{Count, Duration, Fraction, Opt, PosDuration};
use crate::model::spec::KindSpec;
use crate::model::world::World;
use crate::settings;

settings! {
    /// Pooled connections to each target group: a call reuses an idle one, opens one (a handshake through the devices on the path) or waits for one.
    pub struct ConnSpec "connections" {
        /// Connections per target group per caller replica.
        pool: Count<1, 1_000_000> = 8,
        /// An idle connection closes after this long.
        idle_timeout: PosDuration = SimTime::from_secs(60),
        /// A connection older than this closes when it is next idle (none: no limit).
        max_lifetime: Opt<PosDuration> = None,
        /// A handshake not answered within this fails the call that opened it.
        connect_timeout: PosDuration = SimTime::from_secs(1),
        /// Share of the connections closed and reopened when the replicas behind the target change: of all of them on a scale action or an autoscaler's order, of those to a replica that takes a config change, of those to groups a changed DNS answer no longer names; a replica back after a restart gets each connection with probability share / live replicas.
        rebalance: Fraction = 1.0,
        /// Connections a client keeps open to its target group even when idle: opened over the first idle_timeout, and reopened when lost (at once, or after its retry back-off while connections are lost in a row: connects or calls on them that time out, until a call is answered) (persistent pools).
        min_idle: Count<0, 1_000_000> = 0,
    }
}

impl ConnSpec {
    /// Connections a client keeps open to its target group: `min_idle`, at most `pool`.
    fn kept(&self) -> u32 {
        self.min_idle.min(self.pool)
    }
}

settings! {
    /// A stateful device's connection table: each handshake crossing it takes an entry and setup work; a full table drops new handshakes.
    pub struct TableSpec "connections (network, firewall)" {
        /// Entries per device replica.
        table: Count<1, { u32::MAX }> => "add table = <entries per device>, e.g. table = 20000",
        /// Worker time a handshake costs on top of relaying it.
        setup: Duration = SimTime::ZERO,
        /// An entry no message has refreshed for this long is reclaimed when the table is full.
        idle_timeout: PosDuration = SimTime::from_secs(350),
    }
}

/// Where a pooled connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Handshake under way, opened for call `for_call`.
    Opening { for_call: (u32, u32) },
    /// Carrying call `(slot, gen)`.
    Busy { call: (u32, u32) },
    /// Idle since the time given.
    Idle { since: u64 },
}

#[derive(Clone, Debug)]
struct Conn {
    id: u32,
    dst: EntityId,
    /// When the handshake completed (or started, while opening).
    opened: u64,
    state: State,
    /// What happens to it when its call ends (a rebalance or a lost replica).
    retire: Retire,
}

/// What a busy connection marked by a rebalance becomes when its call ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Retire {
    /// Nothing: it stays.
    No,
    /// Closed and replaced by one to a member drawn at random.
    Random,
    /// Closed and replaced by one to this replica.
    To(EntityId),
    /// Closed, not replaced (its replica is down, or its group no longer answered by DNS).
    Drop,
}

/// One caller replica's pool for one target group.
#[derive(Clone, Debug)]
struct Pool {
    group: usize,
    /// Replicas of the group the caller knows of (provisioned; a scale action adds some).
    members: u32,
    conns: Vec<Conn>,
    /// Calls waiting for a connection, oldest first (stale entries are skipped).
    waiting: VecDeque<(u32, u32)>,
    /// Connections lost in a row: connects that timed out and connections closed by a call
    /// that timed out on them, since the last answered call (the back-off of `min_idle`
    /// reconnects).
    failures: u32,
    /// A `min_idle` reconnect is scheduled.
    warming: bool,
    /// Replicas of the group known to be down (told by a `Down`, until their `Up`): new
    /// connections avoid them.
    down: Vec<EntityId>,
    /// The group is no longer in the DNS answer its calls came through: lost connections are
    /// not reopened (`min_idle`) until a call goes to it again.
    unanswered: bool,
}

/// A caller replica's pools, by target group.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pools {
    pools: Vec<Pool>,
    next_id: u32,
    /// The last DNS answer of each record this caller's calls went through: (record, data).
    answers: Vec<(u32, u32)>,
}

/// A device replica's connection table.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    /// (caller, callee, connection id) -> last message seen.
    entries: BTreeMap<(EntityId, EntityId, u32), u64>,
    /// No entry expires before this (a lower bound; recomputed at each sweep).
    next_expiry: u64,
    /// Handshakes refused since the table last filled up (Some while full).
    refused: Option<u64>,
}

impl Table {
    /// Takes an entry for a connection, reclaiming expired entries when full: false (refused)
    /// when none is free.
    pub(crate) fn admit(
        &mut self,
        key: (EntityId, EntityId, u32),
        now: u64,
        spec: &TableSpec,
    ) -> bool {
        if self.entries.len() as u64 >= u64::from(spec.table) && now >= self.next_expiry {
            let idle = spec.idle_timeout.0;
            self.entries.retain(|_, t| now.saturating_sub(*t) < idle);
            let oldest = self.entries.values().copied().min().unwrap_or(now);
            self.next_expiry = oldest.saturating_add(idle);
        }
        if self.entries.len() as u64 >= u64::from(spec.table) {
            return false;
        }
        if self.entries.is_empty() {
            self.next_expiry = now.saturating_add(spec.idle_timeout.0);
        }
        self.entries.insert(key, now);
        true
    }

    /// A request on connection `key` keeps its entry fresh.
    pub(crate) fn touch(&mut self, key: (EntityId, EntityId, u32), now: u64) {
        if let Some(t) = self.entries.get_mut(&key) {
            *t = now;
        }
    }

    /// Entries in use (expired ones not yet reclaimed included).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The pool settings that apply to a call of this owner, if any.
pub(crate) fn conn_of<'k>(kind: &'k KindSpec, owner: &Owner) -> Option<&'k ConnSpec> {
    match (kind, owner) {
        (KindSpec::Client(c), Owner::User { .. }) => c.connections.as_ref(),
        (KindSpec::Service(s), Owner::Job { .. }) => s.connections.as_ref(),
        _ => None,
    }
}

/// A caller kind's pool settings, whoever the call is for.
pub(crate) fn spec_of(kind: &KindSpec) -> Option<&ConnSpec> {
    match kind {
        KindSpec::Client(c) => c.connections.as_ref(),
        KindSpec::Service(s) => s.connections.as_ref(),
        _ => None,
    }
}

/// A client's settings with its pool settings, if it pools: `min_idle` connections are a
/// client's, kept open and reopened with its retry back-off.
fn client_pools(kind: &KindSpec) -> Option<(&ClientSpec, &ConnSpec)> {
    match kind {
        KindSpec::Client(c) => c.connections.as_ref().map(|spec| (c, spec)),
        _ => None,
    }
}

/// Whether callers of group `caller` pool connections to group `g` (a scale action of `g`
/// reaches them).
pub(crate) fn pools_to(w: &World, caller: usize, g: usize) -> bool {
    kind_pools_to(&w.spec.groups[caller].kind, g)
}

/// Whether a group of kind `kind` keeps connection pools for calls that may reach group `g`.
pub(crate) fn kind_pools_to(kind: &KindSpec, g: usize) -> bool {
    use crate::model::spec::Target;
    let hits = |t: &Target| match t {
        Target::Group(x) => *x == g,
        // Any record of a DNS name might point at it.
        Target::Dns { .. } => true,
    };
    match kind {
        KindSpec::Client(c) => c.connections.is_some() && hits(&c.target),
        KindSpec::Service(s) => s.connections.is_some() && s.calls.iter().any(|c| hits(&c.target)),
        _ => false,
    }
}

/// The table settings of a network device or a firewall, if it keeps one.
pub(crate) fn table_of(kind: &KindSpec) -> Option<&TableSpec> {
    match kind {
        KindSpec::Network(n) => n.connections.as_ref(),
        KindSpec::Firewall(f) => f.connections.as_ref(),
        _ => None,
    }
}

/// The groups a DNS answer `data` of global record `record` names (its targets' bits, or the
/// group a wrong record points at).
fn answer_groups(w: &World, record: u32, data: u32) -> Vec<usize> {
    use crate::model::kinds::dns::WRONG_ANSWER;
    if data == 0 {
        return Vec::new();
    }
    if data & WRONG_ANSWER != 0 {
        return vec![(data & !WRONG_ANSWER) as usize];
    }
    let (g, idx) = w.records[record as usize];
    let KindSpec::Dns(d) = &w.spec.groups[g].kind else {
        return Vec::new();
    };
    let targets = &d.records[idx].targets;
    (0..targets.len().min(31))
        .filter(|&i| data >> i & 1 == 1)
        .map(|i| targets[i])
        .collect()
}

/// A replica among `members` of `group` that is not known to be down (any member when all
/// are).
fn live_member(
    w: &World,
    rng: &mut crate::engine::rng::EntityRng,
    group: usize,
    members: u32,
    down: &[EntityId],
) -> EntityId {
    let live: Vec<EntityId> = (0..members.max(1))
        .map(|r| w.first[group] + r)
        .filter(|e| !down.contains(e))
        .collect();
    match live.len() {
        0 => w.first[group] + below(rng, u64::from(members.max(1))) as u32,
        1 => live[0],
        n => live[below(rng, n as u64) as usize],
    }
}

impl Pools {
    /// The replicas of `group` this caller's pool knows of (provisioned before its first
    /// connection to it).
    pub(crate) fn members(&self, w: &World, group: usize) -> u32 {
        self.pools
            .iter()
            .find(|p| p.group == group)
            .map_or(w.provisioned(group), |p| p.members)
    }

    fn pool(&mut self, w: &World, group: usize) -> usize {
        if let Some(i) = self.pools.iter().position(|p| p.group == group) {
            return i;
        }
        self.pools.push(Pool {
            group,
            members: w.provisioned(group),
            conns: Vec::new(),
            waiting: VecDeque::new(),
            failures: 0,
            warming: false,
            down: Vec::new(),
            unanswered: false,
        });
        self.pools.len() - 1
    }

    fn find(&self, id: u32) -> Option<(usize, usize)> {
        self.pools
            .iter()
            .enumerate()
            .find_map(|(p, pool)| pool.conns.iter().position(|c| c.id == id).map(|k| (p, k)))
    }

    fn find_call(&self, slot: u32, gen_: u32) -> Option<(usize, usize)> {
        self.pools.iter().enumerate().find_map(|(p, pool)| {
            pool.conns
                .iter()
                .position(|c| c.state == State::Busy { call: (slot, gen_) })
                .map(|k| (p, k))
        })
    }
}

impl Node {
    /// Sends a call's request over a pooled connection (`send_call` with `connections`
    /// set): an idle one, a new one, or after waiting for one.
    pub(crate) fn conn_send(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        spec: &ConnSpec,
    ) {
        let Some(call) = self.calls.get(slot, gen_) else {
            return;
        };
        let dst = call.dst;
        let group = w.entities[dst as usize].group;
        let pools = self.pools.get_or_insert_with(Box::default);
        let p = pools.pool(w, group);
        let pool = &mut pools.pools[p];
        // The connection that went idle last: the others may expire.
        let idle = pool
            .conns
            .iter()
            .enumerate()
            .filter_map(|(k, c)| match c.state {
                State::Idle { since } => Some((since, k)),
                _ => None,
            })
            .max();
        if let Some((_, k)) = idle {
            pool.conns[k].state = State::Busy { call: (slot, gen_) };
            let (to, id) = (pool.conns[k].dst, pool.conns[k].id);
            self.conn_request(w, cx, slot, gen_, to, id);
            return;
        }
        pool.waiting.push_back((slot, gen_));
        pool.unanswered = false;
        if (pool.conns.len() as u64) < u64::from(spec.pool) {
            let to = if !pool.down.is_empty() {
                live_member(w, cx.rng(), group, pool.members, &pool.down)
            } else if pool.members == w.provisioned(group) {
                dst
            } else {
                w.first[group] + below(cx.rng(), u64::from(pool.members)) as u32
            };
            self.conn_open(w, cx, p, to, (slot, gen_), spec);
        }
    }

    /// Sends call `(slot, gen_)`'s request to `to` on connection `conn` (to its replica).
    fn conn_request(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        to: EntityId,
        conn: u32,
    ) {
        let Some(call) = self.calls.get_mut(slot, gen_) else {
            return;
        };
        call.dst = to;
        if let Some(call) = self.calls.get(slot, gen_) {
            self.send_req(w, cx, slot, gen_, call, conn);
        }
    }

    /// Starts a handshake with `to` for pool `p`.
    fn conn_open(
        &mut self,
        w: &World,
        cx: &mut Cx,
        p: usize,
        to: EntityId,
        for_call: (u32, u32),
        spec: &ConnSpec,
    ) {
        let now = cx.now().0;
        let me = self.me;
        let pools = self.pools.as_mut().expect("pools");
        let id = pools.next_id;
        pools.next_id = pools.next_id.wrapping_add(1);
        pools.pools[p].conns.push(Conn {
            id,
            dst: to,
            opened: now,
            state: State::Opening { for_call },
            retire: Retire::No,
        });
        let m = ConnMsg {
            caller: me,
            callee: to,
            id,
            op: ConnOp::Syn,
        };
        transmit(w, cx, to, Msg::Conn(m));
        send_self(cx, spec.connect_timeout.0, Timer::ConnOpen { id });
    }

    /// Closes connection `k` of pool `p`: a `Fin` to its replica, and it leaves the pool.
    fn conn_close(&mut self, w: &World, cx: &mut Cx, p: usize, k: usize) {
        let pools = self.pools.as_mut().expect("pools");
        let c = pools.pools[p].conns.swap_remove(k);
        let m = ConnMsg {
            caller: self.me,
            callee: c.dst,
            id: c.id,
            op: ConnOp::Fin,
        };
        transmit(w, cx, c.dst, Msg::Conn(m));
        self.conn_keep(w, cx, p);
    }

    /// A client with `min_idle` and fewer connections than that schedules a reconnect: at
    /// once while no connection was lost since the last answered call, after its retry
    /// back-off (the `failures`-th retry's wait) after connections lost in a row (a connect
    /// that timed out, or a call that timed out on its connection: a client with back-off
    /// does not reconnect into the congestion that lost it at once).
    fn conn_keep(&mut self, w: &World, cx: &mut Cx, p: usize) {
        let Some((c, spec)) = client_pools(self.kind(w)) else {
            return;
        };
        let pool = &mut self.pools.as_mut().expect("pools").pools[p];
        let keep = spec.kept() as usize;
        if pool.warming || pool.unanswered || pool.conns.len() >= keep {
            return;
        }
        pool.warming = true;
        let (group, failures) = (pool.group as u32, pool.failures);
        let wait = if failures == 0 {
            0
        } else {
            crate::model::policy::retry::backoff(&c.retry, failures.saturating_add(1), cx.rng())
        };
        send_self(cx, wait, Timer::ConnWarm { group });
    }

    /// Opens a client's `min_idle` connections over its first `idle_timeout` (at start).
    pub(crate) fn conn_start(&mut self, w: &World, cx: &mut Cx) {
        let Some((c, spec)) = client_pools(self.kind(w)) else {
            return;
        };
        let crate::model::spec::Target::Group(g) = &c.target else {
            return;
        };
        for _ in 0..spec.kept() {
            let at = below(cx.rng(), spec.idle_timeout.0.max(1));
            send_self(cx, at, Timer::ConnOpenIdle { group: *g as u32 });
        }
    }

    /// One `min_idle` connection opens (at start, or to replace a lost one: then as many as
    /// are missing).
    pub(crate) fn on_conn_warm(&mut self, w: &World, cx: &mut Cx, group: u32, all: bool) {
        let Some((_, spec)) = client_pools(self.kind(w)) else {
            return;
        };
        if self.crashed {
            return;
        }
        let group = group as usize;
        let pools = self.pools.get_or_insert_with(Box::default);
        let p = pools.pool(w, group);
        if all {
            pools.pools[p].warming = false;
        }
        let keep = spec.kept() as usize;
        loop {
            if self.pools.as_ref().expect("pools").pools[p].conns.len() >= keep {
                return;
            }
            let to = self.member(w, cx, p, group);
            self.conn_open(w, cx, p, to, (u32::MAX, 0), spec);
            if !all {
                return;
            }
        }
    }

    /// A connection of pool `p` is free (`k`): the call it was opened for (`first`, if still
    /// waiting) or else the oldest waiting call takes it, or it idles.
    fn conn_free(
        &mut self,
        w: &World,
        cx: &mut Cx,
        p: usize,
        k: usize,
        spec: &ConnSpec,
        first: Option<(u32, u32)>,
    ) {
        let now = cx.now().0;
        let pools = self.pools.as_mut().expect("pools");
        let c = &pools.pools[p].conns[k];
        let old = spec
            .max_lifetime
            .is_some_and(|m| now.saturating_sub(c.opened) >= m.0);
        if c.retire != Retire::No || old {
            let retire = c.retire;
            self.conn_retire(w, cx, p, k, retire, spec);
            return;
        }
        let waiting = &mut pools.pools[p].waiting;
        if let Some(i) = first.and_then(|f| waiting.iter().position(|&c| c == f)) {
            let call = waiting.remove(i).expect("present");
            waiting.push_front(call);
        }
        while let Some((slot, gen_)) = pools.pools[p].waiting.pop_front() {
            if !self.calls.contains(slot, gen_) {
                continue; // timed out while waiting
            }
            let pools = self.pools.as_mut().expect("pools");
            let c = &mut pools.pools[p].conns[k];
            c.state = State::Busy { call: (slot, gen_) };
            let (to, id) = (c.dst, c.id);
            self.conn_request(w, cx, slot, gen_, to, id);
            return;
        }
        let pools = self.pools.as_mut().expect("pools");
        let c = &mut pools.pools[p].conns[k];
        c.state = State::Idle { since: now };
        let mut wait = spec.idle_timeout.0;
        if let Some(m) = spec.max_lifetime {
            wait = wait.min((c.opened.saturating_add(m.0)).saturating_sub(now).max(1));
        }
        let id = c.id;
        send_self(cx, wait, Timer::ConnIdle { id, since: now });
    }

    /// Closes connection `k` of pool `p` (its call ended) and does what `retire` says: opens
    /// its replacement to a member drawn at random or to a given replica, or else a connection
    /// for calls waiting with none opening for them.
    fn conn_retire(
        &mut self,
        w: &World,
        cx: &mut Cx,
        p: usize,
        k: usize,
        retire: Retire,
        spec: &ConnSpec,
    ) {
        let group = self.pools.as_ref().expect("pools").pools[p].group;
        self.conn_close(w, cx, p, k);
        match retire {
            Retire::Random => {
                let to = self.member(w, cx, p, group);
                self.conn_open(w, cx, p, to, (u32::MAX, 0), spec);
            }
            Retire::To(to) => self.conn_open(w, cx, p, to, (u32::MAX, 0), spec),
            Retire::No | Retire::Drop => self.conn_top_up(w, cx, p, spec),
        }
    }

    /// Connection `id` is to be retired as `retire` says: at once when idle, when its call or
    /// handshake ends otherwise.
    fn conn_mark(&mut self, w: &World, cx: &mut Cx, id: u32, retire: Retire, spec: &ConnSpec) {
        let Some((p, k)) = self.pools.as_ref().and_then(|ps| ps.find(id)) else {
            return;
        };
        let c = &mut self.pools.as_mut().expect("pools").pools[p].conns[k];
        match c.state {
            State::Busy { .. } | State::Opening { .. } => c.retire = retire,
            State::Idle { .. } => self.conn_retire(w, cx, p, k, retire, spec),
        }
    }

    /// A replica among the pool's members.
    fn member(&mut self, w: &World, cx: &mut Cx, p: usize, group: usize) -> EntityId {
        let pool = &self.pools.as_ref().expect("pools").pools[p];
        let n = pool.members;
        if !pool.down.is_empty() {
            return live_member(w, cx.rng(), group, n, &pool.down);
        }
        w.first[group]
            + if n <= 1 {
                0
            } else {
                below(cx.rng(), u64::from(n)) as u32
            }
    }

    /// Opens a connection for the oldest waiting call while the pool has room and calls wait
    /// with no connection opening for them.
    fn conn_top_up(&mut self, w: &World, cx: &mut Cx, p: usize, spec: &ConnSpec) {
        loop {
            let calls = &self.calls;
            let pools = self.pools.as_mut().expect("pools");
            let pool = &mut pools.pools[p];
            while let Some(&(s, g)) = pool.waiting.front() {
                if calls.contains(s, g) {
                    break;
                }
                pool.waiting.pop_front();
            }
            let opening = pool
                .conns
                .iter()
                .filter(|c| matches!(c.state, State::Opening { .. }))
                .count();
            let live = pool
                .waiting
                .iter()
                .filter(|&&(s, g)| calls.contains(s, g))
                .count();
            if opening >= live || pool.conns.len() as u64 >= u64::from(spec.pool) {
                return;
            }
            let Some(&head) = pool.waiting.iter().find(|&&(s, g)| {
                calls.contains(s, g)
                    && !pool
                        .conns
                        .iter()
                        .any(|c| c.state == State::Opening { for_call: (s, g) })
            }) else {
                return;
            };
            let group = pool.group;
            let to = self.member(w, cx, p, group);
            self.conn_open(w, cx, p, to, head, spec);
        }
    }

    /// A call ended (answered, timed out or abandoned: `out` None): its connection is free
    /// again, or closed when the call timed out or was abandoned.
    pub(crate) fn conn_call_ended(
        &mut self,
        w: &World,
        cx: &mut Cx,
        call: &Call,
        slot: u32,
        gen_: u32,
        out: Option<Outcome>,
    ) {
        let Some(spec) = conn_of(self.kind(w), &call.owner) else {
            return;
        };
        let Some((p, k)) = self.pools.as_ref().and_then(|ps| ps.find_call(slot, gen_)) else {
            return;
        };
        if matches!(out, None | Some(Outcome::Timeout)) {
            let pool = &mut self.pools.as_mut().expect("pools").pools[p];
            if out.is_some() {
                // Lost to a timeout: the next reconnect backs off.
                pool.failures = pool.failures.saturating_add(1);
            }
            let retire = pool.conns[k].retire;
            self.conn_retire(w, cx, p, k, retire, spec);
        } else {
            // Answered: the connection works.
            self.pools.as_mut().expect("pools").pools[p].failures = 0;
            self.conn_free(w, cx, p, k, spec, None);
        }
    }

    /// A connection message reached this entity: a caller's `Syn` (acknowledged by any live
    /// replica; a firewall with a table first takes an entry for it), the `Ack` of one of its
    /// own handshakes (or of one it gave up on: answered by a reset, a `Fin`), a `Fin` (a
    /// firewall with a table frees its entry), or a target replica's notice (`Down`, `Up`,
    /// `Reload`: `on_replica_notice`).
    pub(crate) fn on_conn(&mut self, w: &World, cx: &mut Cx, m: ConnMsg) {
        match m.op {
            ConnOp::Syn => {
                if m.callee == self.me
                    && matches!(self.kind(w), KindSpec::Firewall(_))
                    && table_of(self.kind(w)).is_some()
                {
                    // The firewall's own table: the handshake is relayed to itself, taking
                    // worker time and setup like a network device's (`relay_on`).
                    let relay = Some((self.me, Box::new(Msg::Conn(m))));
                    self.arrival(w, cx, None, relay, None);
                    return;
                }
                self.conn_accept(w, cx, m);
            }
            ConnOp::Ack => {
                let Some((p, k)) = self.pools.as_ref().and_then(|ps| ps.find(m.id)) else {
                    // Gave up on it (its connect timed out): the answer to an unknown
                    // connection is answered with a reset, as TCP does, which frees the
                    // entries the handshake took on its path.
                    let reset = ConnMsg {
                        op: ConnOp::Fin,
                        ..m
                    };
                    transmit(w, cx, m.callee, Msg::Conn(reset));
                    return;
                };
                let pools = self.pools.as_mut().expect("pools");
                let c = &mut pools.pools[p].conns[k];
                let State::Opening { for_call } = c.state else {
                    return;
                };
                c.opened = cx.now().0;
                c.state = State::Idle { since: 0 };
                let Some(spec) = spec_of(self.kind(w)) else {
                    return;
                };
                self.conn_free(w, cx, p, k, spec, Some(for_call));
            }
            ConnOp::Fin => {
                if m.callee == self.me && table_of(self.kind(w)).is_some() {
                    self.table_relay(w, cx, self.me, &Msg::Conn(m));
                }
            }
            ConnOp::Down | ConnOp::Up | ConnOp::Reload => self.on_replica_notice(w, cx, m),
        }
    }

    /// A live replica accepts a handshake addressed to it: its `Ack` goes back.
    pub(crate) fn conn_accept(&mut self, w: &World, cx: &mut Cx, m: ConnMsg) {
        if !self.crashed && m.callee == self.me {
            let ack = ConnMsg {
                op: ConnOp::Ack,
                ..m
            };
            transmit(w, cx, m.caller, Msg::Conn(ack));
        }
    }

    /// This replica went down (`Down`), is back (`Up`) or took a config change (`Reload`):
    /// the callers that may pool connections to its group are told, out of band, at the plain
    /// network latency (its kernel resets the connections of a crashed process; discovery
    /// tells them it is back). A replica that was not in service, or that no caller pools to,
    /// tells nobody; `Up` goes only to callers told `Down`.
    pub(crate) fn conn_notify(&mut self, w: &World, cx: &mut Cx, op: ConnOp) {
        match op {
            ConnOp::Down if !self.in_service => return,
            ConnOp::Up if !self.ops.conn_down => return,
            ConnOp::Reload if !self.in_service || self.crashed => return,
            _ => {}
        }
        let g = self.group;
        if !(0..w.spec.groups.len()).any(|c| pools_to(w, c, g)) {
            return;
        }
        self.ops.conn_down = op == ConnOp::Down;
        for e in 0..w.entities.len() as EntityId {
            if e != self.me && pools_to(w, w.entities[e as usize].group, g) {
                let m = ConnMsg {
                    caller: e,
                    callee: self.me,
                    id: 0,
                    op,
                };
                cx.send(e, SimTime(w.latency(self.me, e)), Msg::Conn(m));
            }
        }
    }

    /// A target replica's notice reaches a caller with a pool to its group. `Down`: the
    /// connections to it are lost (idle ones closed at once, busy ones when their call ends)
    /// and new ones avoid it. `Up`: it is a member again, and each connection moves to it with
    /// probability `rebalance` / live members (its fair share). `Reload`: the `rebalance`
    /// share of the connections to it close and reopen over the live members.
    fn on_replica_notice(&mut self, w: &World, cx: &mut Cx, m: ConnMsg) {
        let Some(spec) = spec_of(self.kind(w)) else {
            return;
        };
        let r = m.callee;
        let group = w.entities[r as usize].group;
        let Some(p) = self
            .pools
            .as_ref()
            .and_then(|ps| ps.pools.iter().position(|x| x.group == group))
        else {
            return;
        };
        let pool = &mut self.pools.as_mut().expect("pools").pools[p];
        let n = pool.conns.len();
        // The connections to act on, and what each becomes.
        let mut todo: Vec<(u32, Retire)> = Vec::new();
        let what = match m.op {
            ConnOp::Down => {
                if !pool.down.contains(&r) {
                    pool.down.push(r);
                }
                for c in pool.conns.iter().filter(|c| c.dst == r) {
                    todo.push((c.id, Retire::Drop));
                }
                "lost (replica down)"
            }
            ConnOp::Up => {
                let Some(i) = pool.down.iter().position(|&d| d == r) else {
                    return;
                };
                pool.down.remove(i);
                let live = (0..pool.members)
                    .filter(|&k| !pool.down.contains(&(w.first[group] + k)))
                    .count()
                    .max(1);
                let share = spec.rebalance / live as f64;
                let ids: Vec<u32> = pool
                    .conns
                    .iter()
                    .filter(|c| c.dst != r)
                    .map(|c| c.id)
                    .collect();
                for id in ids {
                    if unit_f64(cx.rng()) < share {
                        todo.push((id, Retire::To(r)));
                    }
                }
                "moved to the replica back in service"
            }
            _ => {
                let to_r: Vec<u32> = pool
                    .conns
                    .iter()
                    .filter(|c| c.dst == r)
                    .map(|c| c.id)
                    .collect();
                let share = (spec.rebalance * to_r.len() as f64).round() as usize;
                todo.extend(to_r.into_iter().take(share).map(|id| (id, Retire::Random)));
                "reopened (config change at the replica)"
            }
        };
        let moved = todo.len();
        for (id, retire) in todo {
            self.conn_mark(w, cx, id, retire, spec);
        }
        let detail = format!(
            "{}: {moved} of {n} connections {what} (replica {})",
            w.spec.groups[group].name,
            r - w.first[group]
        );
        self.log(w, cx.now().0, "rebalance", detail);
    }

    /// A DNS answer reached this caller (`data` for global record `record`): when it no longer
    /// names a group it named before, the `rebalance` share of the connections to those groups
    /// close (busy ones when their call ends) and as many open to the groups it names now.
    pub(crate) fn conn_answer(&mut self, w: &World, cx: &mut Cx, record: u32, data: u32) {
        let Some(spec) = spec_of(self.kind(w)) else {
            return;
        };
        let Some(pools) = self.pools.as_mut() else {
            return;
        };
        let old = match pools.answers.iter_mut().find(|(r, _)| *r == record) {
            Some(e) if e.1 == data => return,
            Some(e) => std::mem::replace(&mut e.1, data),
            None => {
                pools.answers.push((record, data));
                return;
            }
        };
        let now_groups = answer_groups(w, record, data);
        let gone: Vec<usize> = answer_groups(w, record, old)
            .into_iter()
            .filter(|g| !now_groups.contains(g))
            .collect();
        if gone.is_empty() || now_groups.is_empty() {
            return;
        }
        let mut ids: Vec<u32> = Vec::new();
        let mut total = 0usize;
        for &g in &gone {
            let Some(pool) = pools.pools.iter_mut().find(|x| x.group == g) else {
                continue;
            };
            pool.unanswered = true;
            total += pool.conns.len();
            let share = (spec.rebalance * pool.conns.len() as f64).round() as usize;
            ids.extend(pool.conns.iter().take(share).map(|c| c.id));
        }
        let moved = ids.len();
        for id in ids {
            let Some((p, k)) = self.pools.as_ref().and_then(|ps| ps.find(id)) else {
                continue;
            };
            let c = &mut self.pools.as_mut().expect("pools").pools[p].conns[k];
            match c.state {
                State::Busy { .. } | State::Opening { .. } => c.retire = Retire::Drop,
                State::Idle { .. } => self.conn_close(w, cx, p, k),
            }
        }
        let mut opened = 0usize;
        for i in 0..moved {
            let g = now_groups[i % now_groups.len()];
            let pools = self.pools.as_mut().expect("pools");
            let p = pools.pool(w, g);
            pools.pools[p].unanswered = false;
            if pools.pools[p].conns.len() as u64 >= u64::from(spec.pool) {
                continue;
            }
            let to = self.member(w, cx, p, g);
            self.conn_open(w, cx, p, to, (u32::MAX, 0), spec);
            opened += 1;
        }
        let name = |gs: &[usize]| {
            gs.iter()
                .map(|&g| w.spec.groups[g].name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let detail = format!(
            "{}: {moved} of {total} connections closed, {opened} opened to {} (DNS answer changed)",
            name(&gone),
            name(&now_groups)
        );
        self.log(w, cx.now().0, "rebalance", detail);
    }

    /// A handshake's connect timeout: if still unanswered, the connection is given up and the
    /// call that opened it fails (a timeout), if it is still waiting.
    pub(crate) fn on_conn_open_timer(&mut self, w: &World, cx: &mut Cx, id: u32) {
        let Some((p, k)) = self.pools.as_ref().and_then(|ps| ps.find(id)) else {
            return;
        };
        let pools = self.pools.as_mut().expect("pools");
        let State::Opening { for_call } = pools.pools[p].conns[k].state else {
            return;
        };
        pools.pools[p].conns.swap_remove(k);
        pools.pools[p].failures = pools.pools[p].failures.saturating_add(1);
        let (slot, gen_) = for_call;
        let waiting = pools.pools[p].waiting.iter().position(|&c| c == for_call);
        let mut spec = None;
        if let Some(i) = waiting {
            pools.pools[p].waiting.remove(i);
            if let Some(call) = self.calls.remove(slot, gen_) {
                spec = conn_of(self.kind(w), &call.owner).cloned();
                self.complete(w, cx, call, Outcome::Timeout, 0);
            }
        }
        let spec = spec.or_else(|| spec_of(self.kind(w)).cloned());
        if self.pools.is_some() {
            self.conn_keep(w, cx, p);
        }
        if let (Some(spec), Some(_)) = (spec, self.pools.as_ref()) {
            if p < self.pools.as_ref().expect("pools").pools.len() {
                self.conn_top_up(w, cx, p, &spec);
            }
        }
    }

    /// An idle connection's timer: closed if it has stayed idle since `since`.
    pub(crate) fn on_conn_idle_timer(&mut self, w: &World, cx: &mut Cx, id: u32, since: u64) {
        let Some((p, k)) = self.pools.as_ref().and_then(|ps| ps.find(id)) else {
            return;
        };
        if self.pools.as_ref().expect("pools").pools[p].conns[k].state != (State::Idle { since }) {
            return;
        }
        let keep = client_pools(self.kind(w)).map_or(0, |(_, spec)| spec.kept());
        let spec = spec_of(self.kind(w));
        let pool = &self.pools.as_ref().expect("pools").pools[p];
        let (n, opened) = (pool.conns.len(), pool.conns[k].opened);
        let old = spec
            .and_then(|s| s.max_lifetime)
            .is_some_and(|m| cx.now().0.saturating_sub(opened) >= m.0);
        if n > keep as usize || old {
            self.conn_close(w, cx, p, k);
        } else if let Some(spec) = spec {
            // Kept open (`min_idle`): it waits for the next call or its next idle period.
            send_self(cx, spec.idle_timeout.0, Timer::ConnIdle { id, since });
        }
    }

    /// The replicas of `group` in service change (`members` in all: a scale action's new
    /// replicas are provisioned, or an autoscaler's order takes effect): this caller counts
    /// them and closes and reopens its `rebalance` share of connections.
    pub(crate) fn conn_rebalance(&mut self, w: &World, cx: &mut Cx, group: usize, members: u32) {
        let Some(spec) = spec_of(self.kind(w)) else {
            return;
        };
        let pools = self.pools.get_or_insert_with(Box::default);
        let p = pools.pool(w, group);
        let pool = &mut pools.pools[p];
        pool.members = members.clamp(1, w.replicas(group));
        let n = pool.conns.len();
        let share = (spec.rebalance * n as f64).round() as usize;
        let ids: Vec<u32> = pool.conns.iter().take(share).map(|c| c.id).collect();
        for id in ids {
            self.conn_mark(w, cx, id, Retire::Random, spec);
        }
        let detail = format!(
            "{}: {share} of {n} connections reopened over {} replicas",
            w.spec.groups[group].name,
            self.pools.as_ref().expect("pools").pools[p].members
        );
        self.log(w, cx.now().0, "rebalance", detail);
    }

    /// A network device relays a connection message (after its worker time): a `Syn` takes
    /// a table entry or is dropped (false: not to be sent on), a `Fin` frees its entry.
    pub(crate) fn table_relay(
        &mut self,
        w: &World,
        cx: &mut Cx,
        to: EntityId,
        inner: &Msg,
    ) -> bool {
        let Some(spec) = table_of(self.kind(w)) else {
            return true;
        };
        let now = cx.now().0;
        let table = self.table.get_or_insert_with(Box::default);
        match inner {
            Msg::Conn(m) => {
                let key = (m.caller, m.callee, m.id);
                match m.op {
                    ConnOp::Syn => {
                        if table.admit(key, now, spec) {
                            let below = (table.len() as u64) * 10 < u64::from(spec.table) * 9;
                            if let Some(n) = table.refused.filter(|_| below) {
                                table.refused = None;
                                let detail = format!(
                                    "{} of {} entries in use; {n} handshakes refused while full",
                                    table.len(),
                                    spec.table
                                );
                                self.log(w, now, "conn_table_ok", detail);
                            }
                            return true;
                        }
                        let first = table.refused.is_none();
                        *table.refused.get_or_insert(0) += 1;
                        if first {
                            let detail = format!("{} entries in use", spec.table);
                            self.log(w, now, "conn_table_full", detail);
                        }
                        let b = w.bucket_of(now);
                        self.server_series[b].dropped += 1;
                        false
                    }
                    ConnOp::Fin => {
                        table.entries.remove(&key);
                        true
                    }
                    ConnOp::Ack | ConnOp::Down | ConnOp::Up | ConnOp::Reload => true,
                }
            }
            Msg::Req(r) => {
                table.touch((r.from, to, r.conn), now);
                true
            }
            _ => true,
        }
    }

    /// The setup work a handshake adds at a device that keeps a connection table.
    pub(crate) fn table_setup(&self, w: &World) -> u64 {
        table_of(self.kind(w)).map_or(0, |t| t.setup.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_refuses_until_an_entry_expires_or_closes() {
        let spec = TableSpec {
            table: 2,
            setup: SimTime::ZERO,
            idle_timeout: SimTime::from_secs(10),
        };
        let mut t = Table::default();
        assert!(t.admit((1, 2, 0), 0, &spec));
        assert!(t.admit((1, 2, 1), 5_000_000_000, &spec));
        assert!(!t.admit((1, 2, 2), 6_000_000_000, &spec));
        // The first entry is idle for 10 s at t = 10 s: reclaimed.
        assert!(t.admit((1, 2, 2), 10_000_000_000, &spec));
        assert_eq!(t.len(), 2);
        assert!(!t.admit((1, 2, 3), 11_000_000_000, &spec));
        t.entries.remove(&(1, 2, 1));
        assert!(t.admit((1, 2, 3), 11_000_000_000, &spec));
    }
}
