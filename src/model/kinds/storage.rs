//! `kind = "storage"`: replicated nodes with quorum reads and writes. The replica a request
//! reaches coordinates it: it asks `replication_factor` replicas alive in its own view (by
//! gossip, which storage runs by default) and answers once a quorum agrees, or fails the
//! request when a quorum can no longer be reached.

use crate::engine::SimTime;
use crate::engine::rng::below;
use crate::model::msg::{Req, ReqKind, Status};
use crate::model::node::{Call, Cx, Node, Outcome, Owner, Phase};
use crate::model::spec::ServerSpec;
use crate::model::world::World;

/// `kind = "storage"`: replicated nodes with quorum reads and writes.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageSpec {
    pub server: ServerSpec,
    /// `replication_factor` (default min(3, replicas)).
    pub replication_factor: u32,
    /// `read_quorum` (default majority of the replication factor).
    pub read_quorum: u32,
    /// `write_quorum` (default majority).
    pub write_quorum: u32,
    /// `timeout` for one replica's answer (default "1s").
    pub timeout: SimTime,
}

impl Node {
    /// A request, after its service time: coordinate it.
    pub(crate) fn storage_coordinate(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        s: &StorageSpec,
        req: &Req,
    ) {
        let now = cx.now().0;
        // Coordinate: ask `replication_factor` consecutive nodes, wait for a quorum.
        // The coordinator does not hold a worker while it waits.
        // Only replicas alive in this node's own view are asked (all provisioned ones
        // without gossip); too few for a quorum fails the request at once.
        let n = w.replicas(self.group) as u64;
        let quorum = if req.write {
            s.write_quorum
        } else {
            s.read_quorum
        };
        let start = below(cx.rng(), n);
        let mut targets = Vec::with_capacity(s.replication_factor as usize);
        for k in 0..n {
            let j = ((start + k) % n) as usize;
            if self.peer_alive(w, j, now) {
                targets.push(j as u32);
                if targets.len() as u32 == s.replication_factor {
                    break;
                }
            }
        }
        let rf = targets.len() as u32;
        if rf < quorum {
            return self.finish(w, cx, slot, gen_, Status::Error, 0);
        }
        if let Some(job) = self.jobs.get_mut(slot, gen_) {
            job.asked = rf;
            job.quorum = quorum;
        }
        self.detach(w, cx, slot, gen_);
        for j in targets {
            let dst = w.first[self.group] + j;
            let owner = Owner::Job {
                slot,
                gen_,
                call: 0,
            };
            let call = Call {
                owner,
                phase: Phase::Call,
                attempt: 1,
                dst,
                kind: ReqKind::ReplicaOp,
                source: req.source,
                write: req.write,
            };
            self.place_call(w, cx, call, s.timeout.0);
        }
    }

    /// A replica answered (or not): count it towards the quorum.
    pub(crate) fn storage_result(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        out: Outcome,
    ) {
        let job = self.jobs.get_mut(slot, gen_).expect("checked");
        if out.succeeded() {
            job.ok += 1;
            job.wrong |= out == Outcome::Wrong;
        } else {
            job.failed += 1;
        }
        if job.ok >= job.quorum {
            let status = job.answer();
            self.finish(w, cx, slot, gen_, status, 0);
        } else if job.failed > job.asked - job.quorum {
            self.finish(w, cx, slot, gen_, Status::Error, 0);
        }
    }
}
