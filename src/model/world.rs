//! The read-only runtime topology: which entity is which replica, where each runs, one-way
//! latencies between any two entities, and which network group carries traffic between
//! segments. Built once from a `Spec`; shared by every partition.

use super::sample::draw;
use super::spec::{Dist, FailureUnit, FaultKind, FaultTarget, KindSpec, Level, Spec, Target};
use crate::engine::rng::{derive_seed, entity_stream};
use crate::engine::{EntityId, SimTime};
use std::collections::BTreeMap;

/// Where an entity sits and what it is.
#[derive(Clone, Debug)]
pub struct EntityInfo {
    pub group: usize,
    pub replica: u32,
    pub region: u16,
    pub zone: u16,
    pub segment: u16,
}

/// The runtime topology.
#[derive(Debug)]
pub struct World {
    pub spec: Spec,
    /// First entity id of each group; a group's replicas are consecutive.
    pub first: Vec<EntityId>,
    pub entities: Vec<EntityInfo>,
    pub regions: Vec<String>,
    pub zones: Vec<String>,
    pub segments: Vec<String>,
    /// Zone-to-zone one-way latency in nanoseconds.
    zone_latency: Vec<Vec<u64>>,
    /// Group-pair overrides (smaller index first).
    links: BTreeMap<(usize, usize), u64>,
    /// For each (segment, segment) pair, the network group joining them, if any.
    devices: Vec<Vec<Option<usize>>>,
    /// Every DNS record, globally numbered: (dns group, record index).
    pub records: Vec<(usize, usize)>,
    /// Per dns group: DNS name -> global record number.
    pub record_by_name: BTreeMap<usize, BTreeMap<String, u32>>,
    /// Metric buckets: width and count.
    pub bucket: u64,
    pub nbuckets: usize,
    /// `floor(2^64 / bucket)`: `bucket_of` divides by multiplying (see there).
    bucket_recip: u64,
    /// Smallest latency between entities of different regions (None with one region).
    pub lookahead: Option<SimTime>,
    /// Partitions and link degradations, with their domains as indices.
    pub link_faults: Vec<LinkFault>,
    /// Per entity: its down times from `[[failures]]` as (failure number, down, up), drawn
    /// when the world is built from streams of (seed, failure, unit) alone.
    pub outages: Vec<Vec<(u16, u64, u64)>>,
    /// Per group: whether its service steps are folded into the delay of what they send
    /// (`Node::start_job`).
    pub fold: Vec<bool>,
    /// Per group: whether a folded step's worker stays with its job after the step (a service
    /// that calls others holds its worker until it answers) instead of coming free when its
    /// service ends.
    pub hold: Vec<bool>,
    /// Per entity: the sorted times at which a fixed-time replica fault starts or ends on it,
    /// or one of its random failures begins. A service step is folded only when none falls
    /// within it, so a folded request is never one a crash would have lost.
    pub disruptions: Vec<Vec<u64>>,
    /// Per group: its server settings (None for kinds that serve nothing), so that the hot
    /// paths need not match on the kind for them.
    pub servers: Vec<Option<super::spec::ServerSpec>>,
}

/// A partition or link degradation between two domains of one level, while it lasts.
#[derive(Clone, Debug)]
pub struct LinkFault {
    pub fault: usize,
    pub at: u64,
    pub end: u64,
    pub level: Level,
    pub a: u16,
    pub b: u16,
    pub cut: bool,
    pub latency: u64,
    pub loss: f64,
}

/// What the link faults do to a message between two entities now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LinkEffect {
    Clear,
    /// Partitioned: the message is lost.
    Cut,
    /// Delayed by `latency`, lost with probability `loss`.
    Degraded {
        latency: u64,
        loss: f64,
    },
}

/// Alternating up and down periods over `[0, end)`, starting up.
fn timeline(
    rng: &mut crate::engine::EntityRng,
    mtbf: &Dist,
    mttr: &Dist,
    end: u64,
) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut t = 0u64;
    loop {
        // At least a nanosecond per step, so that even a zero-length period moves time on.
        t = t.saturating_add(draw(mtbf, rng).max(1));
        if t >= end {
            return out;
        }
        let down = t;
        t = t.saturating_add(draw(mttr, rng).max(1));
        out.push((down, t));
    }
}

fn intern(list: &mut Vec<String>, s: &str) -> u16 {
    match list.iter().position(|x| x == s) {
        Some(i) => i as u16,
        None => {
            list.push(s.to_string());
            (list.len() - 1) as u16
        }
    }
}

impl World {
    /// Lays out entities and precomputes latencies and routes.
    pub fn new(spec: Spec) -> World {
        let mut regions = Vec::new();
        let mut zones = Vec::new();
        let mut zone_region = Vec::new();
        let mut segments = Vec::new();
        let mut first = Vec::with_capacity(spec.groups.len());
        let mut entities = Vec::new();
        for (g, group) in spec.groups.iter().enumerate() {
            first.push(entities.len() as EntityId);
            for (r, p) in group.placement.iter().enumerate() {
                let region = intern(&mut regions, &p.region);
                let before = zones.len();
                let zone = intern(&mut zones, &p.zone);
                if zones.len() > before {
                    zone_region.push(region);
                }
                let segment = intern(&mut segments, &p.segment);
                entities.push(EntityInfo {
                    group: g,
                    replica: r as u32,
                    region,
                    zone,
                    segment,
                });
            }
        }
        for g in &spec.groups {
            if let KindSpec::Network(n) = &g.kind {
                for s in &n.joins {
                    intern(&mut segments, s);
                }
            }
        }
        let net = &spec.network;
        let region_pair = |a: u16, b: u16| -> u64 {
            let (ra, rb) = (&regions[a as usize], &regions[b as usize]);
            net.region_latency
                .iter()
                .find(|(x, y, _)| (x == ra && y == rb) || (x == rb && y == ra))
                .map_or(net.cross_region.0, |(_, _, l)| l.0)
        };
        let nz = zones.len();
        let mut zone_latency = vec![vec![0u64; nz]; nz];
        for a in 0..nz {
            for b in 0..nz {
                zone_latency[a][b] = if a == b {
                    net.same_zone.0
                } else if zone_region[a] == zone_region[b] {
                    net.cross_zone.0
                } else {
                    region_pair(zone_region[a], zone_region[b])
                };
            }
        }
        let mut links = BTreeMap::new();
        for l in &net.links {
            links.insert((l.a.min(l.b), l.a.max(l.b)), l.latency.0);
        }
        let ns = segments.len();
        let mut devices = vec![vec![None; ns]; ns];
        for (g, group) in spec.groups.iter().enumerate() {
            if let KindSpec::Network(n) = &group.kind {
                let ids: Vec<u16> = n.joins.iter().map(|s| intern(&mut segments, s)).collect();
                for &a in &ids {
                    for &b in &ids {
                        if a != b && devices[a as usize][b as usize].is_none() {
                            devices[a as usize][b as usize] = Some(g);
                        }
                    }
                }
            }
        }
        let mut records = Vec::new();
        let mut record_by_name: BTreeMap<usize, BTreeMap<String, u32>> = BTreeMap::new();
        for (g, group) in spec.groups.iter().enumerate() {
            if let KindSpec::Dns(d) = &group.kind {
                for (i, rec) in d.records.iter().enumerate() {
                    record_by_name
                        .entry(g)
                        .or_default()
                        .entry(rec.name.clone())
                        .or_insert(records.len() as u32);
                    records.push((g, i));
                }
            }
        }
        let bucket = spec.bucket.0.max(1);
        let nbuckets = spec.duration.0.div_ceil(bucket).max(1) as usize;
        let n = entities.len();
        let mut outages: Vec<Vec<(u16, u64, u64)>> = vec![Vec::new(); n];
        for (fi, f) in spec.failures.iter().enumerate() {
            let stream_seed = derive_seed(spec.seed, &[0x4641_494C, fi as u64]);
            let end = spec.duration.0;
            let mut add = |e: usize, windows: &[(u64, u64)]| {
                outages[e].extend(windows.iter().map(|&(d, u)| (fi as u16, d, u)));
            };
            match &f.unit {
                FailureUnit::Replicas(g) => {
                    for e in first[*g]..first[*g] + spec.groups[*g].replicas() {
                        let mut rng = entity_stream(stream_seed, e as u64);
                        add(e as usize, &timeline(&mut rng, &f.mtbf, &f.mttr, end));
                    }
                }
                FailureUnit::Zone(name) | FailureUnit::Region(name) => {
                    let mut rng = entity_stream(stream_seed, u64::MAX);
                    let windows = timeline(&mut rng, &f.mtbf, &f.mttr, end);
                    let by_zone = matches!(f.unit, FailureUnit::Zone(_));
                    for (e, info) in entities.iter().enumerate() {
                        let group = &spec.groups[info.group];
                        let place = &group.placement[info.replica as usize];
                        let here = if by_zone { &place.zone } else { &place.region };
                        if here == name && !matches!(group.kind, KindSpec::Client(_)) {
                            add(e, &windows);
                        }
                    }
                }
            }
        }
        for o in &mut outages {
            o.sort_by_key(|&(fi, d, _)| (d, fi));
        }
        let mut link_faults = Vec::new();
        for (i, f) in spec.faults.iter().enumerate() {
            let FaultTarget::Link { level, a, b } = &f.target else {
                continue;
            };
            let names = match level {
                Level::Zone => &zones,
                Level::Region => &regions,
                Level::Segment => &segments,
            };
            let find = |n: &str| names.iter().position(|x| x == n).map(|p| p as u16);
            let (Some(a), Some(b)) = (find(a), find(b)) else {
                continue; // validation guarantees both exist
            };
            let (cut, latency, loss) = match f.kind {
                FaultKind::LinkDegradation { latency, loss } => (false, latency.0, loss),
                _ => (true, 0, 0.0),
            };
            link_faults.push(LinkFault {
                fault: i,
                at: f.at.0,
                end: f.duration.map_or(u64::MAX, |d| f.at.0.saturating_add(d.0)),
                level: *level,
                a,
                b,
                cut,
                latency,
                loss,
            });
        }
        let (fold, disruptions) = fold_plan(&spec, &entities, &outages);
        let hold = spec
            .groups
            .iter()
            .map(|g| matches!(&g.kind, KindSpec::Service(s) if !s.calls.is_empty()))
            .collect();
        let servers = spec
            .groups
            .iter()
            .map(|g| g.kind.server().cloned())
            .collect();
        let mut w = World {
            spec,
            first,
            entities,
            regions,
            zones,
            segments,
            zone_latency,
            links,
            devices,
            records,
            record_by_name,
            bucket,
            nbuckets,
            bucket_recip: bucket_reciprocal(bucket),
            lookahead: None,
            link_faults,
            outages,
            fold,
            hold,
            disruptions,
            servers,
        };
        w.lookahead = w.compute_lookahead();
        w
    }

    /// The smallest one-way latency between any two entities in different regions.
    fn compute_lookahead(&self) -> Option<SimTime> {
        if self.regions.len() < 2 {
            return None;
        }
        let nz = self.zones.len();
        let zone_region: Vec<u16> = (0..nz)
            .map(|z| {
                self.entities
                    .iter()
                    .find(|e| e.zone as usize == z)
                    .map_or(0, |e| e.region)
            })
            .collect();
        let mut min = u64::MAX;
        for a in 0..nz {
            for b in 0..nz {
                if zone_region[a] != zone_region[b] {
                    min = min.min(self.zone_latency[a][b]);
                }
            }
        }
        for (&(ga, gb), &lat) in &self.links {
            let crosses = self
                .group_regions(ga)
                .iter()
                .any(|ra| self.group_regions(gb).iter().any(|rb| rb != ra));
            if crosses {
                min = min.min(lat);
            }
        }
        Some(SimTime(min))
    }

    fn group_regions(&self, g: usize) -> Vec<u16> {
        let mut v: Vec<u16> = self
            .members(g)
            .map(|e| self.entities[e as usize].region)
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The entity ids of a group's replicas.
    pub fn members(&self, g: usize) -> std::ops::Range<EntityId> {
        let start = self.first[g];
        start..start + self.spec.groups[g].replicas()
    }

    /// Number of replicas of a group, standby ones included.
    pub fn replicas(&self, g: usize) -> u32 {
        self.spec.groups[g].replicas()
    }

    /// Number of replicas in service from the start (standby ones excluded): the ones direct
    /// callers know of.
    pub fn provisioned(&self, g: usize) -> u32 {
        let group = &self.spec.groups[g];
        group.replicas().saturating_sub(group.standby).max(1)
    }

    /// One-way latency from entity `a` to entity `b`, in nanoseconds.
    #[inline]
    pub fn latency(&self, a: EntityId, b: EntityId) -> u64 {
        let (ea, eb) = (&self.entities[a as usize], &self.entities[b as usize]);
        if !self.links.is_empty() {
            let key = (ea.group.min(eb.group), ea.group.max(eb.group));
            if let Some(&l) = self.links.get(&key) {
                return l;
            }
        }
        self.zone_latency[ea.zone as usize][eb.zone as usize]
    }

    /// The network group that relays traffic from `a`'s segment to `b`'s, if they differ.
    #[inline]
    pub fn device_between(&self, a: EntityId, b: EntityId) -> Option<usize> {
        let (sa, sb) = (
            self.entities[a as usize].segment,
            self.entities[b as usize].segment,
        );
        if sa == sb {
            None
        } else {
            self.devices[sa as usize][sb as usize]
        }
    }

    /// What partitions and link degradations do now to a message from `x` to `y`.
    pub fn link_effect(&self, x: EntityId, y: EntityId, now: u64) -> LinkEffect {
        let (ex, ey) = (&self.entities[x as usize], &self.entities[y as usize]);
        let mut effect = LinkEffect::Clear;
        for f in &self.link_faults {
            if now < f.at || now >= f.end {
                continue;
            }
            let (dx, dy) = match f.level {
                Level::Zone => (ex.zone, ey.zone),
                Level::Region => (ex.region, ey.region),
                Level::Segment => (ex.segment, ey.segment),
            };
            if !((dx == f.a && dy == f.b) || (dx == f.b && dy == f.a)) {
                continue;
            }
            if f.cut {
                return LinkEffect::Cut;
            }
            effect = match effect {
                LinkEffect::Degraded { latency, loss } => LinkEffect::Degraded {
                    latency: latency + f.latency,
                    loss: 1.0 - (1.0 - loss) * (1.0 - f.loss),
                },
                _ => LinkEffect::Degraded {
                    latency: f.latency,
                    loss: f.loss,
                },
            };
        }
        effect
    }

    /// The partition (region index) of every entity.
    pub fn assignment(&self) -> Vec<u32> {
        self.entities.iter().map(|e| e.region as u32).collect()
    }

    /// The record number a DNS target resolves through.
    pub fn record_of(&self, target: &Target) -> Option<u32> {
        match target {
            Target::Group(_) => None,
            Target::Dns { name, resolver } => match &self.spec.groups[*resolver].kind {
                // The record of the dns group this resolver asks.
                KindSpec::Resolver(r) => self.record_by_name.get(&r.dns)?.get(name).copied(),
                _ => None,
            },
        }
    }

    /// The display name of an entity: `group` or `group[replica]`.
    pub fn entity_name(&self, id: EntityId) -> String {
        let e = &self.entities[id as usize];
        let g = &self.spec.groups[e.group];
        if g.replicas() == 1 {
            g.name.clone()
        } else {
            format!("{}[{}]", g.name, e.replica)
        }
    }

    /// The bucket index of a time (the last bucket takes anything at or past the end).
    #[inline]
    pub fn bucket_of(&self, t: u64) -> usize {
        (div_by(t, self.bucket, self.bucket_recip) as usize).min(self.nbuckets - 1)
    }
}

/// Which groups fold their service step into the delay of what they send, and each entity's
/// fixed-time disruptions (see `World::fold`).
///
/// A group folds when its step after service sends nothing but requests and answers, at once
/// (load balancers and proxies without a concurrency limit, firewalls without a connection
/// table limit, caches, resolvers, authoritative DNS, storage and services that call others
/// whose calls no breaker, limit, pool or budget judges), and nothing can take it down or
/// change its settings at a time not known in advance (no config change reaches it, no
/// restart or clear_gossip action and no autoscaler acts on it). A step whose service time is
/// drawn as 0 is not folded. Crashes, hangs and other replica faults at fixed times and
/// random failures are known when the world is built: they are the disruptions.
fn fold_plan(
    spec: &Spec,
    entities: &[EntityInfo],
    outages: &[Vec<(u16, u64, u64)>],
) -> (Vec<bool>, Vec<Vec<u64>>) {
    use crate::model::spec::ActionKind;
    #[cfg(test)]
    if NO_FOLD.with(|f| f.get()) {
        return (
            vec![false; spec.groups.len()],
            vec![Vec::new(); entities.len()],
        );
    }
    #[cfg(test)]
    let no_hold = NO_HOLD.with(|f| f.get());
    #[cfg(not(test))]
    let no_hold = false;
    let dynamic = |g: usize| {
        let config = spec.faults.iter().any(|f| {
            matches!(f.kind, FaultKind::ConfigChange { .. })
                && (0..spec.groups[g].replicas()).any(|r| f.hits(&spec.groups, g, r))
        });
        let action = spec.actions.iter().any(|a| {
            matches!(a.kind, ActionKind::Restart { group, .. } | ActionKind::ClearGossip { group, .. } if group == g)
        });
        config || action || spec.autoscalers.iter().any(|a| a.group == g)
    };
    let fold = spec
        .groups
        .iter()
        .enumerate()
        .map(|(g, group)| {
            let plain = match &group.kind {
                KindSpec::LoadBalancer(lb) => lb.concurrency_limit.is_none(),
                KindSpec::Proxy(p, _) => p.concurrency_limit.is_none(),
                KindSpec::Firewall(f) => f.max_connections.is_none(),
                KindSpec::Cache(_)
                | KindSpec::Resolver(_)
                | KindSpec::Dns(_)
                | KindSpec::Storage(_) => true,
                // A service that calls others sends its first calls when its service ends
                // (holding its worker until it answers), unless a breaker, a concurrency
                // limit, pooled connections or a retry budget would judge them by what
                // happens while it serves. One that calls nothing does not fold: on M/M/10
                // its releases cost more than the ServiceDone events they replace.
                KindSpec::Service(s) => {
                    !no_hold
                        && !s.calls.is_empty()
                        && s.circuit_breaker.is_none()
                        && s.connections.is_none()
                        && s.calls.iter().all(|c| {
                            c.concurrency_limit.is_none()
                                && c.retry.budget.is_none()
                                && matches!(c.target, Target::Group(_))
                        })
                }
                _ => false,
            };
            plain && !dynamic(g)
        })
        .collect::<Vec<_>>();
    let disruptions = entities
        .iter()
        .enumerate()
        .map(|(e, info)| {
            if !fold[info.group] {
                return Vec::new();
            }
            let mut times: Vec<u64> = outages[e].iter().map(|&(_, down, _)| down).collect();
            for f in &spec.faults {
                if f.hits(&spec.groups, info.group, info.replica) {
                    times.push(f.at.0);
                    if let Some(d) = f.duration {
                        times.push(f.at.0.saturating_add(d.0));
                    }
                }
            }
            times.sort_unstable();
            times
        })
        .collect();
    (fold, disruptions)
}

/// `floor(2^64 / d)` for `d >= 1` (`u64::MAX` for 1, whose quotient `div_by` corrects).
fn bucket_reciprocal(d: u64) -> u64 {
    ((1u128 << 64) / u128::from(d.max(1))).min(u128::from(u64::MAX)) as u64
}

/// `t / d`, exactly, with `recip = bucket_reciprocal(d)`: the high half of `t * recip` is the
/// quotient or one less (the reciprocal is truncated by less than one), and one comparison
/// settles which. A multiplication costs a few cycles where a 64-bit division costs tens,
/// and every arrival, start and release asks for its bucket.
#[inline]
fn div_by(t: u64, d: u64, recip: u64) -> u64 {
    let q = ((u128::from(t) * u128::from(recip)) >> 64) as u64;
    let r = t - q * d;
    if r >= d { q + 1 } else { q }
}

#[cfg(test)]
mod bucket_tests {
    use super::{bucket_reciprocal, div_by};

    #[test]
    fn division_by_reciprocal_is_exact() {
        let ds = [
            1u64,
            2,
            3,
            7,
            1_000,
            1_000_000_000,
            10_000_000_000,
            60_000_000_000,
            (1 << 40) + 1,
            u64::MAX / 3,
            u64::MAX,
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for &d in &ds {
            let r = bucket_reciprocal(d);
            let mut ts = vec![0, 1, d - 1, d, d.saturating_add(1), u64::MAX, u64::MAX - 1];
            ts.extend((1..20u64).map(|k| k.saturating_mul(d)));
            ts.extend((1..20u64).map(|k| k.saturating_mul(d).saturating_sub(1)));
            for _ in 0..2_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ts.push(x);
                ts.push(x >> (x % 64));
            }
            for t in ts {
                assert_eq!(div_by(t, d, r), t / d, "{t} / {d}");
            }
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Tests only: build worlds without folding, to compare against the unfolded steps.
    pub(crate) static NO_FOLD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Tests only: services that call others do not fold (`World::hold`).
    pub(crate) static NO_HOLD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
mod fold_tests {
    use super::{NO_FOLD, NO_HOLD};
    use crate::model::{RunOptions, RunResult, run};
    use crate::scenario::parse;

    /// Users through a firewall to a service backed by quorum storage (the firewall's and
    /// storage's steps draw nothing at random, so folding them leaves every entity's draws
    /// where they were; the service, whose calls' picks would move among its drawn service
    /// times, is kept from folding by `NO_HOLD`). Two firewall workers of 1 ms for 1,800
    /// requests a second: requests often wait for a worker; storage's service times are
    /// drawn, so its workers come free out of order.
    const BASE: &str = r#"
[scenario]
name = "fold"
duration = "2m"
seed = 7
bucket = "10s"

[components.users]
kind = "client"
rate = 1800.0
target = "fw"
timeout = "2s"

[components.fw]
kind = "firewall"
workers = 2
queue = 40
service_time = "1ms"
next = "api"
timeout = "1s"

[components.api]
kind = "service"
workers = 64
service_time = { dist = "exponential", mean = "5ms" }
calls = [{ target = "db", timeout = "500ms" }]

[components.db]
kind = "storage"
replicas = 3
workers = 4
service_time = { dist = "exponential", mean = "1ms" }
replication_factor = 3
read_quorum = 2
write_quorum = 2
"#;

    fn run_it(text: &str, fold: bool, threads: usize) -> RunResult {
        NO_HOLD.with(|f| f.set(true));
        let r = run_with(text, !fold, threads);
        NO_HOLD.with(|f| f.set(false));
        r
    }

    /// A run with no folding (`no_fold`), or with every group folding that may.
    fn run_with(text: &str, no_fold: bool, threads: usize) -> RunResult {
        NO_FOLD.with(|f| f.set(no_fold));
        let spec = parse(text, "fold.toml").expect("valid");
        let world = super::World::new(spec.clone());
        assert_eq!(
            world.fold[1], !no_fold,
            "the second group folds: {}",
            !no_fold
        );
        let r = run(spec, &RunOptions::threads(threads), &mut |_| {}).expect("runs");
        NO_FOLD.with(|f| f.set(false));
        r
    }

    /// Every series of every group, as the results hold them.
    fn series(r: &RunResult) -> (String, String) {
        let s: Vec<_> = r
            .server_series()
            .map(|(g, s)| (g.name.clone(), s.to_vec()))
            .collect();
        let c: Vec<_> = r
            .client_series()
            .map(|(g, s)| (g.name.clone(), s.to_vec()))
            .collect();
        (format!("{s:?}"), format!("{c:?}"))
    }

    /// A crash of `target` from 40 s for 15 s, and random failures of its replicas.
    fn crash_and_failures(target: &str) -> String {
        format!(
            r#"
[[faults]]
name = "{target} down"
kind = "crash"
target = "{target}"
at = "40s"
duration = "15s"

[[failures]]
target = "{target}"
mtbf = {{ dist = "exponential", mean = "20s" }}
mttr = {{ dist = "exponential", mean = "2s" }}
"#
        )
    }

    #[test]
    fn a_folded_step_gives_what_its_service_done_event_gave() {
        // With a crash of the firewall mid-run (requests in service when it goes down must
        // not reach the service) and random failures of it, and without faults.
        let faults = crash_and_failures("fw");
        for text in [BASE.to_owned(), format!("{BASE}{faults}")] {
            let folded = run_it(&text, true, 1);
            let unfolded = run_it(&text, false, 1);
            // Fewer events (not many fewer: while requests wait, each release is a timer).
            assert!(
                folded.events < unfolded.events,
                "{} events folded, {} not",
                folded.events,
                unfolded.events
            );
            let (fs, fc) = series(&folded);
            let (us, uc) = series(&unfolded);
            assert_eq!(fs, us, "server series");
            assert_eq!(fc, uc, "client series");
            // Requests waited for a worker (the release timer's path).
            let fw = folded
                .server_series()
                .find(|(g, _)| g.name == "fw")
                .unwrap()
                .1;
            assert!(fw.iter().map(|b| b.wait_ns).sum::<f64>() > 0.0);
        }
    }

    #[test]
    fn a_held_step_gives_what_its_service_done_event_gave() {
        // A constant service time keeps the service's picks of a storage replica in the
        // order they had; the firewall and storage fold in both runs. With a crash of the
        // service and its random failures, and without.
        let text = BASE.replace(
            r#"service_time = { dist = "exponential", mean = "5ms" }"#,
            r#"service_time = "5ms""#,
        );
        let faults = crash_and_failures("api");
        for text in [text.clone(), format!("{text}{faults}")] {
            let spec = parse(&text, "fold.toml").expect("valid");
            let w = super::World::new(spec);
            assert!(w.fold[2] && w.hold[2], "the service folds, holding");
            let held = run_with(&text, false, 1);
            NO_HOLD.with(|f| f.set(true));
            let unheld = run_with(&text, false, 1);
            NO_HOLD.with(|f| f.set(false));
            assert!(held.events < unheld.events);
            assert_eq!(series(&held), series(&unheld));
        }
    }

    #[test]
    fn a_step_is_not_folded_across_a_disruption() {
        // The crash at 40s falls inside a 1 ms step started just before it.
        let text = format!(
            "{BASE}\n[[faults]]\nname = \"fw down\"\nkind = \"crash\"\ntarget = \"fw\"\nat = \"40s\"\nduration = \"15s\"\n"
        );
        let spec = parse(&text, "fold.toml").expect("valid");
        let w = super::World::new(spec);
        let fw = w.first[1] as usize;
        assert!(w.fold[1]);
        assert_eq!(w.disruptions[fw], vec![40_000_000_000, 55_000_000_000]);
        // Groups that do not fold keep no disruptions.
        assert!(!w.fold[0] && w.disruptions[w.first[0] as usize].is_empty());
        // The service folds and holds its workers past the step; the others free them.
        assert!(w.fold[2] && w.hold[2] && !w.hold[1] && !w.hold[3]);
    }
}
