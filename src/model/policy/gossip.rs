//! Gossip membership. Every `interval` a live node sets its heartbeat to the round number (the
//! run's clock in intervals, so heartbeats of different nodes compare without synchronised
//! clocks) and pushes its table to `fanout` peers it knows. A receiver merges entry by entry,
//! keeping the newer version (`incarnation << 32 | heartbeat`; the incarnation is kept on disk
//! and grows by one at every restart). Liveness is judged against the view itself: a peer
//! whose heartbeat lags the newest heartbeat in the view by more than `fail_after` is failed.
//!
//! A message carries entries: the sender's table (one per replica of the group) and one per
//! peer it is telling others has failed. Merging costs worker time per entry (`cost`), on the
//! same workers as requests. A node that judges a peer failed tells `failed_fanout` peers about
//! it every round, for `failed_rounds` rounds (or while it stays failed): each such message is a
//! whole table plus the failure entries, so a fleet that believes many peers failed gossips a
//! great deal.
//!
//! The `gossip_corruption` fault flips one bit of one field of one entry of the messages a
//! replica sends. The consequences follow from the merge rule: a flip that raises a heartbeat
//! or an incarnation wins every merge and spreads; a raised heartbeat moves the view's newest
//! heartbeat ahead, so every genuine heartbeat lags and the holder judges its peers failed; a
//! raised incarnation hides that peer's genuine heartbeats (even across its restarts); a flipped
//! status marks the peer failed until its next heartbeat. With `checksums`, corrupted messages
//! are rejected whole. Clearing the group's state (the `clear_gossip` action, which also starts
//! a new epoch so older messages are discarded) removes a corruption; restarted nodes announce
//! themselves to the `seeds` and learn the rest of the fleet by gossip.

use crate::engine::rng::below;
use crate::engine::{EntityId, SimTime};
use crate::model::msg::{GossipMsg, Msg, Timer};
use crate::model::node::{Cx, LogEntry, Node, send_self, transmit};
use crate::model::settings::{Count, Duration, Opt, PosDuration, Switch, Table};
use crate::model::spec::KindSpec;
use crate::model::world::World;
use crate::settings;
use std::sync::Arc;

settings! {
    /// Membership gossip among a group's replicas (`gossip = true` takes every default).
    pub struct GossipSpec "gossip" {
        /// Every interval each live node sets its heartbeat and pushes its table.
        interval: PosDuration = SimTime::from_secs(1),
        /// Peers pushed to per round.
        fanout: Count<1, { u32::MAX }> = 1,
        /// A peer whose heartbeat lags the newest heartbeat in the holder's view by more than this is failed in that view.
        fail_after: PosDuration = SimTime::from_secs(30),
        /// Messages carry checksums: a corrupted message is rejected.
        checksums: Switch = false,
        /// Peers a node tells, every round, about each peer it holds failed (0: failures travel only in the tables).
        failed_fanout: Count<0, { u32::MAX }> = 0,
        /// Rounds a node keeps telling about a peer after judging it failed (none: as long as it stays failed).
        failed_rounds: Opt<Count<1, { u32::MAX }>> = None,
        /// Replicas (the first ones) that a restarted node announces itself to; it learns the rest by gossip.
        seeds: Count<1, { u32::MAX }> = 3,
        /// Worker time to merge one entry of a message (its table and its failure entries).
        cost: Duration = SimTime(2_000),
    }
}

impl Default for GossipSpec {
    fn default() -> Self {
        GossipSpec::defaults()
    }
}

impl GossipSpec {
    /// `fail_after` in whole rounds (rounded up).
    pub fn fail_rounds(&self) -> u64 {
        self.fail_after.0.div_ceil(self.interval.0.max(1))
    }
}

/// The field of an entry that a corruption flips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// The heartbeat (the low 32 bits of the version).
    Heartbeat,
    /// The incarnation (the high 32 bits of the version).
    Incarnation,
    /// The status: the entry says its peer has failed.
    Status,
}

crate::words!(
    Field,
    "entry field",
    [
        ("heartbeat", Field::Heartbeat),
        ("incarnation", Field::Incarnation),
        ("status", Field::Status),
    ]
);

impl Field {
    /// The word a scenario writes for this field.
    pub fn word(self) -> &'static str {
        use crate::model::settings::Words;
        Field::WORDS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("", |(w, _)| w)
    }
}

/// One flipped bit: of field `field` of the entry for replica `entry`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flip {
    pub entry: u32,
    pub field: Field,
    pub bit: u8,
}

impl Flip {
    /// The version a receiver reads for the flipped entry (`v` as sent).
    fn version(&self, v: u64) -> u64 {
        match self.field {
            Field::Heartbeat => v ^ (1 << self.bit),
            Field::Incarnation => v ^ (1 << (32 + self.bit as u32)),
            Field::Status => v,
        }
    }
}

fn heartbeat(v: u64) -> u64 {
    v & 0xffff_ffff
}

/// A set of replica indices, a bit each.
#[derive(Clone, Debug)]
pub(crate) struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize, on: impl Fn(usize) -> bool) -> Bits {
        let mut b = Bits(vec![0; n.div_ceil(64)]);
        (0..n).filter(|&i| on(i)).for_each(|i| b.set(i, true));
        b
    }
    pub fn get(&self, i: usize) -> bool {
        self.0[i / 64] >> (i % 64) & 1 == 1
    }
    pub fn set(&mut self, i: usize, on: bool) {
        let (w, m) = (i / 64, 1u64 << (i % 64));
        if on {
            self.0[w] |= m;
        } else {
            self.0[w] &= !m;
        }
    }
}

/// One node's gossip state: a little over 8 bytes per replica of its group.
#[derive(Clone, Debug)]
pub(crate) struct GossipState {
    /// Per replica of the group: the newest version heard (0: unknown).
    pub ver: Vec<u64>,
    /// This node's judgement of each peer: failed.
    pub failed: Bits,
    /// Peers this node is telling others have failed, with the rounds left (u32::MAX: while
    /// they stay failed).
    pub telling: Vec<(u32, u32)>,
    pub epoch: u32,
    /// This node's incarnation (persistent).
    pub inc: u32,
    /// The flip this node's messages carry while a corruption fault is on.
    pub flip: Option<Flip>,
    /// Only the next message carries the flip.
    pub flip_once: bool,
    /// Whether this node's view has held every provisioned replica alive since it last
    /// rejoined (logged once, as `gossip_complete`).
    pub complete: bool,
}

impl GossipState {
    /// The steady state at the start of a run: every provisioned peer known and alive.
    pub fn initial(n: usize, provisioned: usize) -> GossipState {
        let mut ver = vec![0u64; n];
        ver.iter_mut().take(provisioned).for_each(|v| *v = 1 << 32);
        GossipState {
            ver,
            failed: Bits::new(n, |i| i >= provisioned),
            telling: Vec::new(),
            epoch: 0,
            inc: 1,
            flip: None,
            flip_once: false,
            complete: true,
        }
    }

    /// Whether peer `j` is alive in this view (`me` always is).
    pub fn alive(&self, j: usize, me: usize) -> bool {
        j == me || !self.failed.get(j)
    }
}

/// The round number at `now`: a node's heartbeat.
fn round(now: u64, spec: &GossipSpec) -> u64 {
    now / spec.interval.0.max(1) + 1
}

impl Node {
    /// Schedules the first gossip round (at a random point of the first interval), if the
    /// group gossips.
    pub(crate) fn start_gossip(&self, w: &World, cx: &mut Cx) {
        if let Some(g) = &w.spec.groups[self.group].gossip {
            let first = below(cx.rng(), g.interval.0.max(1));
            send_self(cx, first, Timer::GossipTick);
        }
    }

    pub(crate) fn gossip_spec<'w>(&self, w: &'w World) -> Option<&'w GossipSpec> {
        w.spec.groups[self.group].gossip.as_ref()
    }

    /// How many of the group's replicas this node's view holds alive now.
    pub(crate) fn alive_in_view(&self, w: &World) -> usize {
        let Some(g) = self.gossip.as_ref() else {
            return w.provisioned(self.group) as usize;
        };
        let me = self.replica as usize;
        (0..g.ver.len()).filter(|&j| g.alive(j, me)).count()
    }

    /// Whether replica `j` of this node's own group is alive as this node sees it: by its
    /// gossip view, or (without gossip) whether it is one of the provisioned replicas.
    pub(crate) fn peer_alive(&self, w: &World, j: usize) -> bool {
        match self.gossip.as_ref() {
            Some(g) => g.alive(j, self.replica as usize),
            None => j < w.provisioned(self.group) as usize,
        }
    }

    /// A gossip round: set the heartbeat, judge peers, push the table, tell about failures.
    pub(crate) fn on_gossip_tick(&mut self, w: &World, cx: &mut Cx) {
        let Some(spec) = self.gossip_spec(w) else {
            return;
        };
        send_self(cx, spec.interval.0, Timer::GossipTick);
        if self.crashed || self.is_hung(w) {
            return;
        }
        let now = cx.now().0;
        let me = self.replica as usize;
        let Some(g) = self.gossip.as_mut() else {
            return;
        };
        g.ver[me] = (g.inc as u64) << 32 | round(now, spec);
        self.judge_peers(w, cx);
        self.push_table(w, cx, spec.fanout, false);
        self.tell_failures(w, cx, spec);
    }

    /// Judges each peer by how far its heartbeat lags the newest one in the view; logs the
    /// peers that changed state and starts telling about the newly failed ones.
    fn judge_peers(&mut self, w: &World, cx: &mut Cx) {
        let Some(spec) = self.gossip_spec(w) else {
            return;
        };
        let now = cx.now().0;
        let me = self.replica as usize;
        let first = w.first[self.group];
        let provisioned = w.provisioned(self.group) as usize;
        let limit = spec.fail_rounds();
        let rounds = spec.failed_rounds.unwrap_or(u32::MAX);
        let tell = spec.failed_fanout > 0;
        let mut changes: Vec<(&'static str, EntityId)> = Vec::new();
        let mut complete_now = false;
        if let Some(g) = self.gossip.as_mut() {
            let top = g.ver.iter().map(|&v| heartbeat(v)).max().unwrap_or(0);
            let mut alive_count = 0;
            for j in 0..g.ver.len() {
                let v = g.ver[j];
                let alive = j == me || (v != 0 && top - heartbeat(v) <= limit);
                alive_count += alive as usize;
                if alive != g.failed.get(j) {
                    continue;
                }
                g.failed.set(j, !alive);
                if alive {
                    g.telling.retain(|&(p, _)| p as usize != j);
                }
                // Peers never heard of (standby replicas, the fleet after a clear) are not news.
                if v == 0 {
                    continue;
                }
                if !alive && tell && !g.telling.iter().any(|&(p, _)| p as usize == j) {
                    g.telling.push((j as u32, rounds));
                }
                let kind = if alive { "gossip_up" } else { "gossip_down" };
                changes.push((kind, first + j as u32));
            }
            if !g.complete && alive_count >= provisioned {
                g.complete = true;
                complete_now = true;
            }
        }
        for (kind, e) in changes {
            self.log.push(LogEntry {
                time: now,
                kind,
                target: w.entity_name(e),
                detail: format!("{} as seen by {}", w.entity_name(e), w.entity_name(self.me)),
            });
        }
        if complete_now {
            self.log.push(LogEntry {
                time: now,
                kind: "gossip_complete",
                target: w.entity_name(self.me),
                detail: format!(
                    "{} sees all {provisioned} replicas alive",
                    w.entity_name(self.me)
                ),
            });
        }
    }

    /// Tells `failed_fanout` peers about each peer this node is telling about, and counts the
    /// round off.
    fn tell_failures(&mut self, w: &World, cx: &mut Cx, spec: &GossipSpec) {
        let Some(g) = self.gossip.as_mut() else {
            return;
        };
        let n = g.telling.len();
        for t in g.telling.iter_mut() {
            if t.1 != u32::MAX {
                t.1 -= 1;
            }
        }
        self.push_tables(w, cx, spec.failed_fanout, false, n);
        if let Some(g) = self.gossip.as_mut() {
            g.telling.retain(|&(_, left)| left > 0);
        }
    }

    /// Sends this node's table (and its failure entries) to `fanout` distinct peers: random
    /// peers it knows of, or (knowing none, or `seeds`) the group's seed replicas.
    fn push_table(&mut self, w: &World, cx: &mut Cx, fanout: u32, seeds: bool) {
        self.push_tables(w, cx, fanout, seeds, 1);
    }

    /// `push_table` `times` times over: the message and the peers it may go to are built
    /// once, and each time `fanout` distinct peers are drawn.
    fn push_tables(&mut self, w: &World, cx: &mut Cx, fanout: u32, seeds: bool, times: usize) {
        let n = w.replicas(self.group);
        let Some(spec) = self.gossip_spec(w) else {
            return;
        };
        if n < 2 || fanout == 0 || times == 0 {
            return;
        }
        let me = self.replica;
        let Some(g) = self.gossip.as_mut() else {
            return;
        };
        let flip = g.flip;
        if g.flip_once {
            g.flip = None;
            g.flip_once = false;
        }
        let msg = GossipMsg {
            from: self.me,
            epoch: g.epoch,
            table: Arc::from(g.ver.as_slice()),
            failures: g.telling.len() as u32,
            flip,
        };
        let known = g
            .ver
            .iter()
            .enumerate()
            .filter(|&(j, &v)| v != 0 && j as u32 != me)
            .count() as u32;
        let candidates: Vec<u32> = if seeds || known == 0 {
            (0..spec.seeds.min(n)).filter(|&j| j != me).collect()
        } else if known == n - 1 {
            Vec::new() // every peer: drawn directly below
        } else {
            (0..n)
                .filter(|&j| j != me && g.ver[j as usize] != 0)
                .collect()
        };
        let pool = if candidates.is_empty() && !(seeds || known == 0) {
            n - 1
        } else {
            candidates.len() as u32
        };
        let k = fanout.min(pool);
        let mut picked: Vec<u32> = Vec::with_capacity(k as usize);
        for _ in 0..times {
            picked.clear();
            while (picked.len() as u32) < k {
                let i = below(cx.rng(), pool as u64) as u32;
                let j = if candidates.is_empty() {
                    // A uniform peer other than this node.
                    if i >= me { i + 1 } else { i }
                } else {
                    candidates[i as usize]
                };
                if !picked.contains(&j) {
                    picked.push(j);
                }
            }
            for &j in &picked {
                let dst = w.first[self.group] + j;
                transmit(w, cx, dst, Msg::Gossip(Box::new(msg.clone())));
            }
        }
    }

    /// Merges a received message (after its worker time): newer versions win.
    pub(crate) fn merge_gossip(&mut self, w: &World, cx: &mut Cx, m: &GossipMsg) {
        let Some(spec) = self.gossip_spec(w) else {
            return;
        };
        let now = cx.now().0;
        let me = self.replica as usize;
        let first = w.first[self.group];
        let mut logs: Vec<(&'static str, String, String)> = Vec::new();
        let Some(g) = self.gossip.as_mut() else {
            return;
        };
        if m.epoch != g.epoch {
            return; // from before the state was cleared
        }
        if m.flip.is_some() && spec.checksums {
            return; // the checksum does not match: rejected whole
        }
        let n = g.ver.len();
        for (j, &sent) in m.table.iter().enumerate().take(n) {
            let v = match m.flip {
                Some(f) if f.entry as usize == j => f.version(sent),
                _ => sent,
            };
            // A node is the authority on its own entry.
            if v <= g.ver[j] || j == me {
                continue;
            }
            let new_incarnation = (v >> 32) > (g.ver[j] >> 32);
            g.ver[j] = v;
            if new_incarnation {
                let e = first + j as u32;
                logs.push((
                    "gossip_adopt",
                    w.entity_name(self.me),
                    format!("{} incarnation {}", w.entity_name(e), v >> 32),
                ));
            }
        }
        if let Some(f) = m.flip {
            let j = f.entry as usize;
            if f.field == Field::Status && j != me && j < n && !g.failed.get(j) {
                // The entry says its peer has failed: believed until its next heartbeat.
                g.failed.set(j, true);
                logs.push((
                    "gossip_down",
                    w.entity_name(first + j as u32),
                    format!(
                        "{} as seen by {} (status entry)",
                        w.entity_name(first + j as u32),
                        w.entity_name(self.me)
                    ),
                ));
            }
        }
        for (kind, target, detail) in logs {
            self.log.push(LogEntry {
                time: now,
                kind,
                target,
                detail,
            });
        }
    }

    /// After a restart or provisioning: the view is lost (every peer unknown until heard),
    /// the incarnation grows, and the node announces itself to the seeds.
    pub(crate) fn gossip_rejoin(&mut self, w: &World, cx: &mut Cx) {
        let Some(spec) = self.gossip_spec(w) else {
            return;
        };
        let now = cx.now().0;
        let me = self.replica as usize;
        if let Some(g) = self.gossip.as_mut() {
            g.ver.iter_mut().for_each(|v| *v = 0);
            g.failed = Bits::new(g.ver.len(), |i| i != me);
            g.telling.clear();
            g.inc += 1;
            g.complete = false;
            g.ver[me] = (g.inc as u64) << 32 | round(now, spec);
        }
        self.push_table(w, cx, spec.seeds, true);
    }

    /// A corruption fault starts (this node's messages carry `flip`, starting with a round
    /// sent at once) or ends; `once`: only that message.
    pub(crate) fn gossip_corrupt(
        &mut self,
        w: &World,
        cx: &mut Cx,
        flip: Option<Flip>,
        once: bool,
    ) {
        let Some(spec) = self.gossip_spec(w) else {
            return;
        };
        let Some(g) = self.gossip.as_mut() else {
            return;
        };
        g.flip = flip;
        g.flip_once = once;
        if flip.is_some() && !self.crashed {
            self.push_table(w, cx, spec.fanout, false);
        }
    }

    /// `clear_gossip`: the state is wiped and a new epoch starts (older messages are
    /// discarded when they arrive).
    pub(crate) fn gossip_clear(&mut self) {
        if let Some(g) = self.gossip.as_mut() {
            g.epoch += 1;
            g.flip = None;
            g.flip_once = false;
            g.telling.clear();
            g.ver.iter_mut().for_each(|v| *v = 0);
        }
    }

    /// Whether work should be refused because this node's view holds too few of its group
    /// alive: storage cannot form quorums (checked where it coordinates); any other gossiping
    /// kind refuses work when it sees no majority (it assumes it is the one cut off).
    pub(crate) fn isolated(&self, w: &World) -> bool {
        if self.gossip.is_none() || matches!(w.spec.groups[self.group].kind, KindSpec::Storage(_)) {
            return false;
        }
        let base = w.provisioned(self.group) as usize;
        self.alive_in_view(w) * 2 < base
    }
}
