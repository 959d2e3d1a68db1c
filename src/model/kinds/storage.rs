//! `kind = "storage"`: a keyed, replicated store with quorum reads and writes. Each of `keys`
//! keys has a replica set of `replication_factor` nodes, placed by consistent hashing with
//! `vnodes` virtual nodes per server (`key_placement = "ring"`) or drawn at random
//! (`"random"`). A request carries a key (a 32-bit hash fixed when the user request starts,
//! so a retry asks for the same key), mapped onto the keyspace uniformly or by a Zipf
//! popularity. The replica a request reaches coordinates it: it asks the key's replicas that
//! are alive in its own view (by gossip, which storage runs by default), answers once a
//! quorum agrees, and fails the request when too few are believed alive or a quorum can no
//! longer be reached. A wrong view sends work to a dead replica (a timeout) or skips a live one.

use std::sync::Arc;

use crate::engine::SimTime;
use crate::engine::rng::splitmix64;
use crate::model::faults::PosNumber;
use crate::model::msg::{Req, ReqKind, Status};
use crate::model::node::{Call, Cx, Node, Outcome, Owner, Phase};
use crate::model::settings::{Count, Issue, Opt, PosDuration, Word};
use crate::model::spec::{KindSpec, ServerSpec};
use crate::model::world::World;
use crate::settings;

/// How keys' replica sets are placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPlacement {
    /// Consistent hashing: each server owns `vnodes` points of a ring; a key's replicas are
    /// the first distinct servers clockwise from its hash.
    Ring,
    /// Each key's replica set is drawn at random (a fixed draw: placement is topology).
    Random,
}

crate::words!(
    KeyPlacement,
    "key placement",
    [
        ("ring", KeyPlacement::Ring),
        ("random", KeyPlacement::Random)
    ]
);

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
        /// Keys in the store.
        keys: Count<1, 1_000_000> = 10_000,
        /// How keys' replica sets are placed: "ring" (consistent hashing) or "random".
        key_placement: Word<KeyPlacement> = KeyPlacement::Ring,
        /// Points per server on the ring (1: a ring without virtual nodes).
        vnodes: Count<1, 4096> = 64,
        /// Zipf exponent of key popularity (none: every key equally popular).
        key_zipf: Opt<PosNumber> = None,
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
            keys: Keys::new(
                self.keys,
                replicas,
                rf,
                self.key_placement,
                self.vnodes,
                self.key_zipf,
            ),
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
    /// The keys: their replica sets and popularity.
    pub keys: Keys,
}

/// The keyspace: each key's replica set, and how requests pick keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Keys {
    /// Replicas per key.
    pub rf: u32,
    /// Key k's replicas are `sets[k * rf .. (k + 1) * rf]`.
    pub sets: Arc<[u32]>,
    /// Zipf popularity: the cumulative share of keys 0..=k (none: uniform).
    pub cdf: Option<Arc<[f64]>>,
}

impl Keys {
    /// Places `keys` keys on `servers` servers, `rf` replicas each.
    pub fn new(
        keys: u32,
        servers: u32,
        rf: u32,
        placement: KeyPlacement,
        vnodes: u32,
        zipf: Option<f64>,
    ) -> Keys {
        let rf = rf.min(servers);
        let mut sets = Vec::with_capacity(keys as usize * rf as usize);
        match placement {
            KeyPlacement::Ring => {
                let mut ring: Vec<(u64, u32)> = (0..servers)
                    .flat_map(|s| {
                        (0..vnodes).map(move |v| {
                            (splitmix64(0x7269_6e67 ^ ((s as u64) << 20 | v as u64)), s)
                        })
                    })
                    .collect();
                ring.sort_unstable();
                for k in 0..keys {
                    let h = splitmix64(0x6b65_7973 ^ k as u64);
                    let mut i = ring.partition_point(|&(t, _)| t < h);
                    let start = sets.len();
                    while sets.len() - start < rf as usize {
                        let s = ring[i % ring.len()].1;
                        if !sets[start..].contains(&s) {
                            sets.push(s);
                        }
                        i += 1;
                    }
                }
            }
            KeyPlacement::Random => {
                for k in 0..keys {
                    let start = sets.len();
                    let mut d = 0u64;
                    while sets.len() - start < rf as usize {
                        let h = splitmix64(splitmix64(0x7261_6e64 ^ k as u64) ^ d);
                        let s = (h % servers as u64) as u32;
                        if !sets[start..].contains(&s) {
                            sets.push(s);
                        }
                        d += 1;
                    }
                }
            }
        }
        let cdf = zipf.map(|s| {
            let mut acc = 0.0;
            let w: Vec<f64> = (1..=keys)
                .map(|r| {
                    acc += (r as f64).powf(-s);
                    acc
                })
                .collect();
            w.iter().map(|x| x / acc).collect::<Vec<f64>>().into()
        });
        Keys {
            rf,
            sets: sets.into(),
            cdf,
        }
    }

    pub fn len(&self) -> u32 {
        (self.sets.len() / self.rf.max(1) as usize) as u32
    }

    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// The key a request's 32-bit key hash asks for.
    pub fn key(&self, hash: u32) -> u32 {
        let n = self.len();
        match &self.cdf {
            None => ((hash as u64 * n as u64) >> 32) as u32,
            Some(cdf) => {
                let u = (hash as f64 + 0.5) / 4_294_967_296.0;
                (cdf.partition_point(|&c| c < u) as u32).min(n - 1)
            }
        }
    }

    /// Key `k`'s replicas.
    pub fn replicas(&self, k: u32) -> &[u32] {
        let rf = self.rf as usize;
        &self.sets[k as usize * rf..(k as usize + 1) * rf]
    }
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
        // Coordinate: ask the key's replicas, wait for a quorum. The coordinator does not
        // hold a worker while it waits. Only replicas alive in this node's own view are
        // asked (all provisioned ones without gossip); too few for a quorum fails the
        // request at once.
        let quorum = if req.item.write {
            s.write_quorum
        } else {
            s.read_quorum
        };
        let key = s.keys.key(req.item.key);
        // The replicas to ask, on the stack for any usual replication factor.
        let all = s.keys.replicas(key);
        let (mut small, mut big) = ([0u32; 16], Vec::new());
        let targets: &[u32] = if all.len() <= small.len() {
            let mut n = 0;
            for &j in all {
                if self.peer_alive(w, j as usize) {
                    small[n] = j;
                    n += 1;
                }
            }
            &small[..n]
        } else {
            big.extend(
                all.iter()
                    .copied()
                    .filter(|&j| self.peer_alive(w, j as usize)),
            );
            &big
        };
        let rf = targets.len() as u32;
        if rf < quorum {
            return self.finish(w, cx, slot, gen_, Status::Error, 0);
        }
        if let Some(job) = self.jobs.get_mut(slot, gen_) {
            job.asked = rf;
            job.quorum = quorum;
        }
        self.detach(w, cx, slot, gen_);
        for &j in targets {
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
                item: req.item,
                limit: crate::model::node::Lim::Free,
                deadline: 0, // set by place_call
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The share of keys whose replica set holds both `a` and `b`.
    fn both(k: &Keys, a: u32, b: u32) -> f64 {
        let n = k.len();
        let hit = (0..n)
            .filter(|&i| k.replicas(i).contains(&a) && k.replicas(i).contains(&b))
            .count();
        hit as f64 / n as f64
    }

    #[test]
    fn ring_and_random_placements_lose_the_shares_combinatorics_predict() {
        // A ring with one point per server: a key's copies are 3 servers in a row, so each
        // key holds 2 of the 12 neighbouring pairs, and the mean over the pairs of the share
        // lost with both is 2/12 exactly (each pair's own share depends on its arcs).
        let ring = Keys::new(10_000, 12, 3, KeyPlacement::Ring, 1, None);
        let order: Vec<u32> = {
            // Servers in ring order: follow the first copies around.
            let mut firsts: Vec<(u32, u32)> = (0..ring.len())
                .map(|k| (ring.replicas(k)[0], ring.replicas(k)[1]))
                .collect();
            firsts.sort_unstable();
            firsts.dedup();
            let mut o = vec![firsts[0].0];
            while o.len() < 12 {
                let last = *o.last().unwrap();
                let next = firsts.iter().find(|&&(a, _)| a == last).unwrap().1;
                o.push(next);
            }
            o
        };
        let mean: f64 = (0..12)
            .map(|i| both(&ring, order[i], order[(i + 1) % 12]))
            .sum::<f64>()
            / 12.0;
        assert!((mean - 2.0 / 12.0).abs() < 1e-9, "{mean}");
        // Random sets: C(10,1) / C(12,3) = 4.5% for any pair; 10,000 keys: ±0.2% (1 sd).
        let random = Keys::new(10_000, 12, 3, KeyPlacement::Random, 1, None);
        for (a, b) in [(0, 1), (3, 7), (10, 11)] {
            let x = both(&random, a, b);
            assert!((x - 10.0 / 220.0).abs() < 0.007, "{a},{b}: {x}");
        }
        // Every set holds distinct servers.
        for k in 0..random.len() {
            let r = random.replicas(k);
            assert!(r[0] != r[1] && r[1] != r[2] && r[0] != r[2]);
        }
    }

    #[test]
    fn zipf_popularity_favours_the_first_keys() {
        let k = Keys::new(1_000, 12, 3, KeyPlacement::Ring, 64, Some(1.0));
        let hashes = (0..100_000u64).map(|i| (splitmix64(i) >> 32) as u32);
        let top = hashes.filter(|&h| k.key(h) == 0).count() as f64 / 100_000.0;
        // 1 / H(1000) = 0.1336.
        assert!((top - 0.1336).abs() < 0.005, "{top}");
        let uniform = Keys::new(1_000, 12, 3, KeyPlacement::Ring, 64, None);
        assert_eq!(uniform.key(0), 0);
        assert_eq!(uniform.key(u32::MAX), 999);
    }
}
