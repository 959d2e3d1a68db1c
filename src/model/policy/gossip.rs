//! Gossip membership: every `interval` a live node bumps its heartbeat and pushes its table to
//! `fanout` random peers; a receiver merges entry by entry, keeping the newer version; a peer
//! whose entry has not advanced for `fail_after` is failed in the holder's view. Merging costs
//! worker time (`cost` per entry), so gossip competes with requests for capacity.
//!
//! Versions are `incarnation << 32 | heartbeat`. The incarnation is kept on disk: it survives
//! crashes and grows by one at every restart, so a restarted or newly provisioned node is a new
//! entry, which every node logs as it adopts it (`gossip_adopt`).
//!
//! The corrupted entry (the `gossip_corruption` fault) claims an impossible version: it wins
//! every merge, and a node holding it judges every genuine heartbeat stale, so its peers drop
//! out of its view after `fail_after` and its quorum and routing decisions fail. Only clearing
//! the group's state (the `clear_gossip` action, which also starts a new epoch so that older
//! messages are discarded) removes it. With checksums, corrupted messages are rejected.

use crate::engine::rng::below;
use crate::engine::{EntityId, SimTime};
use crate::model::msg::{GossipMsg, Msg, Timer};
use crate::model::node::{Cx, LogEntry, Node, send_self, transmit};
use crate::model::settings::{Count, Duration, PosDuration, Switch, Table};
use crate::model::spec::KindSpec;
use crate::model::world::World;
use crate::settings;
use std::sync::Arc;

settings! {
    /// Membership gossip among a group's replicas (`gossip = true` takes every default).
    pub struct GossipSpec "gossip" {
        /// Every interval each live node bumps its heartbeat and pushes its table.
        interval: PosDuration = SimTime::from_secs(1),
        /// Peers pushed to per round.
        fanout: Count<1, { u32::MAX }> = 1,
        /// A peer whose entry has not advanced for this long is failed in the holder's view.
        fail_after: PosDuration = SimTime::from_secs(30),
        /// Messages carry checksums: a corrupted message is rejected.
        checksums: Switch = false,
        /// A node that judges a peer failed pushes that news at once to `fanout` peers, besides its rounds.
        gossip_failed: Switch = false,
        /// Worker time to merge one table entry (a message costs `cost` x group size).
        cost: Duration = SimTime(2_000),
    }
}

impl Default for GossipSpec {
    fn default() -> Self {
        GossipSpec::defaults()
    }
}

/// One node's gossip state.
#[derive(Clone, Debug)]
pub(crate) struct GossipState {
    /// Per replica of the group: the newest version heard (0: unknown).
    pub ver: Vec<u64>,
    /// When each entry last advanced in this node's view.
    pub seen: Vec<u64>,
    /// This node's judgement of each peer (for logging changes).
    pub failed: Vec<bool>,
    /// Holds the corrupted entry.
    pub poisoned: bool,
    pub epoch: u32,
    /// This node's incarnation (persistent).
    pub inc: u32,
    /// This node's heartbeat counter.
    pub hb: u32,
    /// The corrupted entry this node's own rounds emit while a corruption fault is on.
    pub emit_corrupt: bool,
}

impl GossipState {
    /// The steady state at the start of a run: every provisioned peer known and alive.
    pub fn initial(n: usize, provisioned: usize) -> GossipState {
        let mut ver = vec![0u64; n];
        ver.iter_mut().take(provisioned).for_each(|v| *v = 1 << 32);
        GossipState {
            ver,
            seen: vec![0; n],
            failed: (0..n).map(|i| i >= provisioned).collect(),
            poisoned: false,
            epoch: 0,
            inc: 1,
            hb: 0,
            emit_corrupt: false,
        }
    }

    /// Whether peer `j` is alive in this view at `now` (`me` always is).
    pub fn alive(&self, j: usize, me: usize, now: u64, spec: &GossipSpec) -> bool {
        j == me || (self.ver[j] != 0 && now.saturating_sub(self.seen[j]) <= spec.fail_after.0)
    }
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
    pub(crate) fn alive_in_view(&self, w: &World, now: u64) -> usize {
        let (Some(g), Some(spec)) = (self.gossip.as_ref(), self.gossip_spec(w)) else {
            return w.provisioned(self.group) as usize;
        };
        let me = self.replica as usize;
        (0..g.ver.len())
            .filter(|&j| g.alive(j, me, now, spec))
            .count()
    }

    /// Whether replica `j` of this node's own group is alive as this node sees it: by its
    /// gossip view, or (without gossip) whether it is one of the provisioned replicas.
    pub(crate) fn peer_alive(&self, w: &World, j: usize, now: u64) -> bool {
        match (self.gossip.as_ref(), self.gossip_spec(w)) {
            (Some(g), Some(spec)) => g.alive(j, self.replica as usize, now, spec),
            _ => j < w.provisioned(self.group) as usize,
        }
    }

    /// A gossip round: bump the heartbeat, judge peers, push the table.
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
        g.hb = g.hb.wrapping_add(1);
        g.ver[me] = (g.inc as u64) << 32 | g.hb as u64;
        g.seen[me] = now;
        self.judge_peers(w, cx);
        self.push_table(w, cx, spec.fanout);
    }

    /// Compares each peer's entry with `fail_after`; logs and (with `gossip_failed`) spreads
    /// the news of peers that changed state.
    fn judge_peers(&mut self, w: &World, cx: &mut Cx) {
        let Some(spec) = self.gossip_spec(w) else {
            return;
        };
        let now = cx.now().0;
        let me = self.replica as usize;
        let first = w.first[self.group];
        let mut news = 0;
        let mut changes: Vec<(&'static str, EntityId)> = Vec::new();
        if let Some(g) = self.gossip.as_mut() {
            for j in 0..g.ver.len() {
                let alive = g.alive(j, me, now, spec);
                if alive != g.failed[j] {
                    continue;
                }
                g.failed[j] = !alive;
                // Standby replicas never heard of are not news.
                if g.ver[j] == 0 && j as u32 >= w.provisioned(self.group) {
                    continue;
                }
                if !alive {
                    news += 1;
                }
                let kind = if alive { "gossip_up" } else { "gossip_down" };
                changes.push((kind, first + j as u32));
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
        if spec.gossip_failed {
            for _ in 0..news {
                self.push_table(w, cx, spec.fanout);
            }
        }
    }

    /// Sends this node's table to `fanout` distinct random peers of its group.
    fn push_table(&mut self, w: &World, cx: &mut Cx, fanout: u32) {
        let n = w.replicas(self.group);
        if n < 2 {
            return;
        }
        let Some(g) = self.gossip.as_ref() else {
            return;
        };
        let msg = GossipMsg {
            from: self.me,
            epoch: g.epoch,
            table: Arc::from(g.ver.as_slice()),
            corrupt: g.poisoned || g.emit_corrupt,
        };
        let k = fanout.min(n - 1);
        let mut picked: Vec<u32> = Vec::with_capacity(k as usize);
        while (picked.len() as u32) < k {
            // A uniform peer other than this node.
            let mut j = below(cx.rng(), n as u64 - 1) as u32;
            if j >= self.replica {
                j += 1;
            }
            if !picked.contains(&j) {
                picked.push(j);
            }
        }
        for j in picked {
            let dst = w.first[self.group] + j;
            transmit(w, cx, dst, Msg::Gossip(Box::new(msg.clone())));
        }
    }

    /// Merges a received table (after its worker time): newer versions win.
    pub(crate) fn merge_gossip(&mut self, w: &World, cx: &mut Cx, m: &GossipMsg) {
        let Some(spec) = self.gossip_spec(w) else {
            return;
        };
        let now = cx.now().0;
        let me = self.replica as usize;
        let first = w.first[self.group];
        let mut adopted: Vec<(EntityId, String)> = Vec::new();
        let Some(g) = self.gossip.as_mut() else {
            return;
        };
        if m.epoch != g.epoch {
            return; // from before the state was cleared
        }
        if m.corrupt {
            if spec.checksums {
                return; // the checksum does not match: rejected whole
            }
            if !g.poisoned {
                g.poisoned = true;
                adopted.push((
                    self.me,
                    format!("corrupted entry from {}", w.entity_name(m.from)),
                ));
            }
        }
        for (j, &v) in m.table.iter().enumerate().take(g.ver.len()) {
            if v <= g.ver[j] {
                continue;
            }
            if j == me {
                // Someone holds a newer entry for this node (it lost its state): refute it
                // with a new incarnation.
                g.inc = g.inc.max((v >> 32) as u32 + 1);
                g.hb = 0;
                g.ver[me] = (g.inc as u64) << 32;
                continue;
            }
            let new_incarnation = (v >> 32) > (g.ver[j] >> 32);
            g.ver[j] = v;
            // A node holding the corrupted entry judges genuine heartbeats stale.
            if !g.poisoned {
                g.seen[j] = now;
            }
            if new_incarnation {
                let e = first + j as u32;
                adopted.push((e, format!("{} incarnation {}", w.entity_name(e), v >> 32)));
            }
        }
        for (_, detail) in adopted {
            self.log.push(LogEntry {
                time: now,
                kind: "gossip_adopt",
                target: w.entity_name(self.me),
                detail,
            });
        }
    }

    /// After a restart or provisioning: the view is lost (every peer unknown until heard),
    /// the incarnation grows, and the node announces itself at once.
    pub(crate) fn gossip_rejoin(&mut self, w: &World, cx: &mut Cx) {
        let Some(spec) = self.gossip_spec(w) else {
            return;
        };
        let now = cx.now().0;
        let me = self.replica as usize;
        if let Some(g) = self.gossip.as_mut() {
            g.ver.iter_mut().for_each(|v| *v = 0);
            g.seen.iter_mut().for_each(|s| *s = now);
            g.failed.iter_mut().for_each(|f| *f = true);
            g.failed[me] = false;
            g.poisoned = false;
            g.inc += 1;
            g.hb = 0;
            g.ver[me] = (g.inc as u64) << 32;
        }
        self.push_table(w, cx, spec.fanout);
    }

    /// A corruption fault starts (this node's rounds carry the corrupted entry, starting with
    /// one at once) or ends; `once`: only the round sent now.
    pub(crate) fn gossip_corrupt(&mut self, w: &World, cx: &mut Cx, on: bool, once: bool) {
        let Some(spec) = self.gossip_spec(w) else {
            return;
        };
        let Some(g) = self.gossip.as_mut() else {
            return;
        };
        g.emit_corrupt = on;
        if on && !self.crashed {
            self.push_table(w, cx, spec.fanout);
        }
        if once {
            if let Some(g) = self.gossip.as_mut() {
                g.emit_corrupt = false;
            }
        }
    }

    /// `clear_gossip`: the state is wiped and a new epoch starts (older messages are
    /// discarded when they arrive).
    pub(crate) fn gossip_clear(&mut self) {
        if let Some(g) = self.gossip.as_mut() {
            g.epoch += 1;
            g.poisoned = false;
            g.emit_corrupt = false;
            g.ver.iter_mut().for_each(|v| *v = 0);
        }
    }

    /// Whether work should be refused because this node's view holds too few of its group
    /// alive: storage cannot form quorums (checked where it coordinates); any other gossiping
    /// kind refuses work when it sees no majority (it assumes it is the one cut off).
    pub(crate) fn isolated(&self, w: &World, now: u64) -> bool {
        if self.gossip.is_none() || matches!(w.spec.groups[self.group].kind, KindSpec::Storage(_)) {
            return false;
        }
        let base = w.provisioned(self.group) as usize;
        self.alive_in_view(w, now) * 2 < base
    }
}
