//! `kind = "storage"`: replicated nodes with quorum reads and writes. The replica a request
//! reaches coordinates it: it asks `replication_factor` replicas alive in its own view (by
//! gossip, which storage runs by default) and answers once a quorum agrees, or fails the
//! request when a quorum can no longer be reached.

use crate::engine::SimTime;
use crate::engine::rng::below;
use crate::model::msg::{Req, ReqKind, Status};
use crate::model::node::{Call, Cx, Node, Outcome, Owner, Phase};
use crate::model::settings::{Count, Issue, Opt, PosDuration};
use crate::model::spec::{KindSpec, ServerSpec};
use crate::model::world::World;
use crate::settings;

use super::{Build, KindSettings};

settings! {
    /// `kind = "storage"`: replicated nodes with quorum reads and writes.
    pub struct StorageSettings "storage" {
        /// Copies of each item (none: 3, or fewer when there are fewer replicas; standby replicas do not count).
        replication_factor: Opt<Count<1, { u32::MAX }>> = None,
        /// Answers a read waits for (none: a majority of the copies).
        read_quorum: Opt<Count<1, { u32::MAX }>> = None,
        /// Answers a write waits for (none: a majority of the copies).
        write_quorum: Opt<Count<1, { u32::MAX }>> = None,
        /// Timeout of one replica's answer.
        timeout: PosDuration = SimTime::from_secs(1),
    }
}

impl KindSettings for StorageSettings {
    fn build(self, b: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec> {
        // Standby replicas hold no copies until a scale action brings them in.
        let (placed, standby) = b.resolve.replicas(b.group)?;
        let replicas = placed - standby;
        let rf = self.replication_factor.unwrap_or(replicas.min(3));
        let mut ok = true;
        if rf > replicas {
            let standby = match standby {
                0 => String::new(),
                s => {
                    format!(" (standby replicas do not count: {s} of them wait for a scale action)")
                }
            };
            let path = b.at("replication_factor");
            b.resolve.issues().push(
                Issue::new(
                    path,
                    format!("replication_factor {rf} is more than replicas ({replicas})"),
                )
                .value(rf.to_string())
                .hint(format!("raise replicas to at least {rf}, or lower replication_factor to at most {replicas}{standby}")),
            );
            ok = false;
        }
        let majority = rf / 2 + 1;
        let mut quorum = |field: &str, q: Option<u32>| -> Option<u32> {
            let q = q.unwrap_or(majority);
            if q > rf {
                let path = b.at(field);
                b.resolve.issues().push(
                    Issue::new(path, format!("{field} {q} is more than replication_factor ({rf})"))
                        .value(q.to_string())
                        .hint(format!("a quorum counts answers from the {rf} copies; use at most {rf} (a majority is {majority})")),
                );
                return None;
            }
            Some(q)
        };
        let read_quorum = quorum("read_quorum", self.read_quorum);
        let write_quorum = quorum("write_quorum", self.write_quorum);
        if !ok {
            return None;
        }
        Some(KindSpec::Storage(StorageSpec {
            server,
            replication_factor: rf,
            read_quorum: read_quorum?,
            write_quorum: write_quorum?,
            timeout: self.timeout,
        }))
    }
}

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
