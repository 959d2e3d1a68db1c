//! The validated, typed description of a run: what the scenario layer builds from a file and
//! the model consumes. Every reference is already resolved to an index and every value checked;
//! the model trusts a `Spec` completely.
//!
//! Doc comments name the scenario-file field each item comes from and its default.
//!
//! This module holds the scenario-wide types. Each component kind's settings types live in
//! its module under `kinds/`, and each shared policy's (retries, health checks, circuit
//! breakers, gossip) under `policy/`, beside their behaviour; they are re-exported here, so
//! `spec::LbSpec` and the like name them for everything outside the model.

use crate::engine::SimTime;

pub use super::kinds::cache::CacheSpec;
pub use super::kinds::client::{ClientSpec, Population};
pub use super::kinds::dns::{DnsSpec, RecordSpec, Routing};
pub use super::kinds::firewall::FirewallSpec;
pub use super::kinds::load_balancer::{Balance, LbSpec, NoneHealthy};
pub use super::kinds::monitor::{AlarmSpec, Metric, MonitorSpec};
pub use super::kinds::network::NetworkDeviceSpec;
pub use super::kinds::proxy::ProxySpec;
pub use super::kinds::resolver::ResolverSpec;
pub use super::kinds::service::{CallSpec, ServiceSpec};
pub use super::kinds::storage::StorageSpec;
pub use super::node::ops::{ActionKind, ActionSpec, Trigger};
pub use super::policy::breaker::BreakerSpec;
pub use super::policy::gossip::GossipSpec;
pub use super::policy::health_check::{CheckKind, HealthCheckSpec};
pub use super::policy::retry::{Backoff, Jitter, RetrySpec};

/// A whole run.
#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    /// `scenario.name`.
    pub name: String,
    /// `scenario.duration`.
    pub duration: SimTime,
    /// `scenario.seed` (default 1), overridden by `--seed`.
    pub seed: u64,
    /// `scenario.bucket`: metrics time bucket (default "1m").
    pub bucket: SimTime,
    /// `scenario.slo`: availability below this counts as downtime (default 0.99).
    pub slo: f64,
    /// `[network]`.
    pub network: NetworkSpec,
    /// `[components.<name>]`, in file order.
    pub groups: Vec<GroupSpec>,
    /// `[[faults]]`, in file order.
    pub faults: Vec<FaultSpec>,
    /// `[[failures]]`, in file order.
    pub failures: Vec<FailureSpec>,
    /// `[[alarms]]`, in file order.
    pub alarms: Vec<AlarmSpec>,
    /// `[[actions]]`, in file order.
    pub actions: Vec<ActionSpec>,
    /// `scenario.clock`, `[[published]]` and `[[what_ifs]]`: material for reports; the run
    /// itself does not read it.
    pub replay: Replay,
}

/// What a scenario file says about the incident it replays, for the replay report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Replay {
    /// `scenario.clock = "08:00 PDT"`: the wall-clock time of simulated time zero.
    pub clock: Option<Clock>,
    /// `[[published]]`: the published timeline, in file order.
    pub published: Vec<Published>,
    /// `[[what_ifs]]`: named sets of overrides, in file order.
    pub what_ifs: Vec<WhatIf>,
}

/// A wall clock: simulated time zero is `start` seconds after midnight, in zone `zone`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clock {
    pub start: u32,
    /// The label after the time ("PDT"), possibly empty.
    pub zone: String,
}

const SECONDS_PER_DAY: u64 = 86_400;

impl Clock {
    /// Reads `"HH:MM"` or `"HH:MM:SS"` as seconds after midnight.
    pub fn parse_time(text: &str) -> Option<u32> {
        let parts: Vec<&str> = text.split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return None;
        }
        let mut secs = 0u32;
        for (i, p) in parts.iter().enumerate() {
            if p.len() != 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let v: u32 = p.parse().ok()?;
            let limit = if i == 0 { 24 } else { 60 };
            if v >= limit {
                return None;
            }
            secs = secs * 60 + v;
        }
        if parts.len() == 2 {
            secs *= 60;
        }
        Some(secs)
    }

    /// The simulated time of wall-clock `time` (seconds after midnight): its first occurrence
    /// at or after the clock's start, so a timeline may run past midnight.
    pub fn offset(&self, time: u32) -> SimTime {
        let d = (u64::from(time) + SECONDS_PER_DAY - u64::from(self.start)) % SECONDS_PER_DAY;
        SimTime::from_secs(d)
    }

    /// The wall-clock time of simulated second `t`: `"HH:MM"`, with `"+1d"` past midnight.
    pub fn format(&self, t: f64) -> String {
        let total = (f64::from(self.start) + t.max(0.0)).round() as u64;
        let (day, secs) = (total / SECONDS_PER_DAY, total % SECONDS_PER_DAY);
        let mut out = format!("{:02}:{:02}", secs / 3600, secs / 60 % 60);
        if secs % 60 != 0 {
            out = format!("{out}:{:02}", secs % 60);
        }
        if day > 0 {
            out.push_str(&format!(" +{day}d"));
        }
        out
    }
}

/// `[[published]]`: `at = "10:32"` (wall clock), `event`, optional `match`.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    /// Simulated time of the published moment (on `scenario.clock`, which it requires).
    pub at: SimTime,
    pub event: String,
    /// `match`: the simulated moment it corresponds to.
    pub milestone: Option<Milestone>,
}

/// A moment of a run that a published event can be set beside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Milestone {
    /// `"fault"`: the incident's start (first fault or random failure).
    Fault,
    /// `"impact"`: the first client group below the SLO.
    Impact,
    /// `"detect"`: the first alarm of the incident.
    Detect,
    /// `"mitigate"`: the first action of the incident.
    Mitigate,
    /// `"recover"`: the end of the last client group's impact.
    Recover,
    /// `"fault:NAME"`: that fault's start.
    NamedFault(usize),
    /// `"alarm:NAME"`: that alarm's first firing.
    Alarm(usize),
    /// `"action:NAME"`: that action's run.
    Action(usize),
}

/// The words `match` accepts besides the named forms.
pub const MILESTONES: &[&str] = &["fault", "impact", "detect", "mitigate", "recover"];

/// `[[what_ifs]]`: `name` and `set = ["path=value", ...]`, applied after any `--set`.
#[derive(Clone, Debug, PartialEq)]
pub struct WhatIf {
    pub name: String,
    pub sets: Vec<String>,
}

/// `[[failures]]`: random failures and repairs for the whole run. Each unit alternates between
/// up (for a time drawn from `mtbf`) and down (for a time drawn from `mttr`), starting up; a
/// down unit behaves as crashed.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureSpec {
    /// `name` (default "failures-<target>").
    pub name: String,
    pub unit: FailureUnit,
    /// `mtbf`: time between failures, a distribution.
    pub mtbf: Dist,
    /// `mttr`: time to repair, a distribution.
    pub mttr: Dist,
}

/// What fails as one unit.
#[derive(Clone, Debug, PartialEq)]
pub enum FailureUnit {
    /// `target = "<group>"`: each replica fails and is repaired on its own.
    Replicas(usize),
    /// `zone = "<zone>"`: every component replica in the zone at once (clients are spared).
    Zone(String),
    /// `region = "<region>"`: every component replica in the region at once.
    Region(String),
}

/// One-way latencies between placements. `[network]`.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpec {
    /// `same_zone` (default "250us").
    pub same_zone: SimTime,
    /// `cross_zone`: between zones of one region (default "1ms").
    pub cross_zone: SimTime,
    /// `cross_region` (default "40ms").
    pub cross_region: SimTime,
    /// `[[network.regions]]` with `between = ["a", "b"]` and `latency`: a region pair's own
    /// latency, either direction.
    pub region_latency: Vec<(String, String, SimTime)>,
    /// `[[links]]` with `between = ["group", "group"]` and `latency`: overrides for any two
    /// replicas of these groups, either direction.
    pub links: Vec<LinkSpec>,
}

/// A latency override between two component groups.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    pub a: usize,
    pub b: usize,
    pub latency: SimTime,
}

/// Where one replica runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// `region` (default "default"). Regions are the engine's partitions.
    pub region: String,
    /// From `zone` or `zones` (replicas spread round-robin over the list). Default: the
    /// region's name followed by "-a".
    pub zone: String,
    /// `segment`: the network segment (default "main"). Traffic between segments crosses a
    /// `network` group that joins them.
    pub segment: String,
}

/// A component group: `replicas` instances of one kind.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSpec {
    /// The table name in `[components.<name>]`.
    pub name: String,
    /// One placement per replica (`replicas`, default 1; clients and monitors always have 1),
    /// then one per standby replica.
    pub placement: Vec<Placement>,
    pub kind: KindSpec,
    /// `gossip`: membership gossip among the group's replicas. On by default for storage
    /// (`gossip = false` turns it off), off for other kinds; never on clients and monitors.
    pub gossip: Option<GossipSpec>,
    /// `standby = N`: extra replicas that exist but are not provisioned until a `scale` action
    /// brings them in (default 0). They are the last N of `placement`.
    pub standby: u32,
}

impl GroupSpec {
    /// Number of replicas, standby replicas included (`placement.len()`).
    pub fn replicas(&self) -> u32 {
        self.placement.len() as u32
    }
}

/// What every non-client replica has: workers, a waiting queue and a service time.
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSpec {
    /// `workers`: requests served at once per replica. Defaults: service 1, storage 8,
    /// resolver and dns 64, firewall and network 1, load_balancer and proxy/cdn 10000,
    /// cache 256.
    pub workers: u32,
    /// `queue`: "unbounded" (None) or waiting places per replica. Default: unbounded for
    /// service and storage, 1000 otherwise.
    pub queue: Option<u32>,
    /// `service_time`. Defaults: service 10ms exponential, storage 2ms exponential, resolver
    /// and dns 100us constant, load_balancer/proxy/firewall 50us constant, cache 200us constant.
    /// For `network`, derived from `capacity`.
    pub service_time: Dist,
}

/// A distribution of durations. `{ dist = "...", ... }`.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// `{ dist = "constant", value = "5ms" }`, or just a duration string `"5ms"`.
    Constant(SimTime),
    /// `{ dist = "exponential", mean = "10ms" }`.
    Exponential { mean: SimTime },
    /// `{ dist = "lognormal", mean = "10ms", sigma = 0.5 }`: the log has standard deviation
    /// `sigma`; `mean` is the distribution's mean.
    LogNormal { mean: SimTime, sigma: f64 },
    /// `{ dist = "uniform", min = "1ms", max = "3ms" }`.
    Uniform { min: SimTime, max: SimTime },
    /// `{ dist = "weibull", mean = "30d", shape = 1.5 }`: shape < 1 means failures cluster
    /// early (infant mortality), > 1 that they come with wear.
    Weibull { mean: SimTime, shape: f64 },
}

impl Dist {
    /// The mean, in nanoseconds.
    pub fn mean_nanos(&self) -> f64 {
        match *self {
            Dist::Constant(v) => v.0 as f64,
            Dist::Exponential { mean }
            | Dist::LogNormal { mean, .. }
            | Dist::Weibull { mean, .. } => mean.0 as f64,
            Dist::Uniform { min, max } => (min.0 as f64 + max.0 as f64) / 2.0,
        }
    }
}

/// What a client or a call is aimed at.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// A component group by name: a replica is picked at random for each attempt.
    Group(usize),
    /// A DNS name served by a `dns` group's record, resolved through a `resolver` group.
    Dns { name: String, resolver: usize },
}

/// The kind of a group, with its settings.
#[derive(Clone, Debug, PartialEq)]
pub enum KindSpec {
    Client(ClientSpec),
    Resolver(ResolverSpec),
    Dns(DnsSpec),
    Firewall(FirewallSpec),
    Network(NetworkDeviceSpec),
    LoadBalancer(LbSpec),
    /// `proxy` and `cdn` behave alike; the flag keeps the name for reports.
    Proxy(ProxySpec, bool),
    Cache(CacheSpec),
    Service(ServiceSpec),
    Storage(StorageSpec),
    Monitor(MonitorSpec),
}

impl KindSpec {
    /// The `kind` string of the scenario file.
    pub fn name(&self) -> &'static str {
        match self {
            KindSpec::Client(_) => "client",
            KindSpec::Resolver(_) => "resolver",
            KindSpec::Dns(_) => "dns",
            KindSpec::Firewall(_) => "firewall",
            KindSpec::Network(_) => "network",
            KindSpec::LoadBalancer(_) => "load_balancer",
            KindSpec::Proxy(_, false) => "proxy",
            KindSpec::Proxy(_, true) => "cdn",
            KindSpec::Cache(_) => "cache",
            KindSpec::Service(_) => "service",
            KindSpec::Storage(_) => "storage",
            KindSpec::Monitor(_) => "monitor",
        }
    }

    /// The server settings, for every kind but clients.
    pub fn server(&self) -> Option<&ServerSpec> {
        match self {
            KindSpec::Client(_) => None,
            KindSpec::Resolver(s) => Some(&s.server),
            KindSpec::Dns(s) => Some(&s.server),
            KindSpec::Firewall(s) => Some(&s.server),
            KindSpec::Network(s) => Some(&s.server),
            KindSpec::LoadBalancer(s) => Some(&s.server),
            KindSpec::Proxy(s, _) => Some(&s.server),
            KindSpec::Cache(s) => Some(&s.server),
            KindSpec::Service(s) => Some(&s.server),
            KindSpec::Storage(s) => Some(&s.server),
            KindSpec::Monitor(s) => Some(&s.server),
        }
    }

    /// The groups this kind sends requests to (its dependency edges), in a fixed order.
    pub fn dependencies(&self) -> Vec<usize> {
        let target = |t: &Target| match t {
            Target::Group(g) => vec![*g],
            Target::Dns { resolver, .. } => vec![*resolver],
        };
        match self {
            KindSpec::Client(c) => target(&c.target),
            KindSpec::Resolver(r) => vec![r.dns],
            KindSpec::Dns(d) => {
                // Health checks are probes, not dependencies; records point at targets that
                // clients then call, so they are not dependencies of the DNS either.
                let _ = d;
                vec![]
            }
            KindSpec::Firewall(f) => vec![f.next],
            KindSpec::Network(_) => vec![],
            KindSpec::LoadBalancer(l) => vec![l.backends],
            KindSpec::Proxy(p, _) => vec![p.upstream],
            KindSpec::Cache(c) => vec![c.backend],
            KindSpec::Service(s) => s.calls.iter().flat_map(|c| target(&c.target)).collect(),
            KindSpec::Storage(_) | KindSpec::Monitor(_) => vec![],
        }
    }
}

/// `[[faults]]`: `name`, `kind`, `target`, `at`, optional `duration` (default: to the end).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    pub name: String,
    pub target: FaultTarget,
    pub at: SimTime,
    pub duration: Option<SimTime>,
    pub kind: FaultKind,
}

/// What a fault's `target` names: a group, or (zone and region outages) a failure domain, or
/// (partitions and link degradations) the link between two domains of one level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultTarget {
    Group(usize),
    Zone(String),
    Region(String),
    /// `between = ["a", "b"]` with `level = "zone" | "region" | "segment"`.
    Link {
        level: Level,
        a: String,
        b: String,
    },
}

/// A level of placement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Zone,
    Region,
    Segment,
}

impl Level {
    /// The word of the scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Level::Zone => "zone",
            Level::Region => "region",
            Level::Segment => "segment",
        }
    }
}

impl FaultSpec {
    /// The group it targets, if it targets a group.
    pub fn group(&self) -> Option<usize> {
        match self.target {
            FaultTarget::Group(g) => Some(g),
            _ => None,
        }
    }

    /// Whether it hits replica `replica` of group `g`. Zone and region outages hit every
    /// component replica placed there, and spare clients.
    pub fn hits(&self, groups: &[GroupSpec], g: usize, replica: u32) -> bool {
        let group = &groups[g];
        match &self.target {
            FaultTarget::Group(t) => {
                *t == g
                    && self
                        .kind
                        .replicas()
                        .is_none_or(|r| r.is_empty() || r.contains(&replica))
            }
            FaultTarget::Zone(z) => {
                !matches!(group.kind, KindSpec::Client(_))
                    && group
                        .placement
                        .get(replica as usize)
                        .is_some_and(|p| &p.zone == z)
            }
            FaultTarget::Region(r) => {
                !matches!(group.kind, KindSpec::Client(_))
                    && group
                        .placement
                        .get(replica as usize)
                        .is_some_and(|p| &p.region == r)
            }
            FaultTarget::Link { .. } => false,
        }
    }
}

/// The fault kinds of this version. Replica faults take `replicas = [0, 2]` (default: every
/// replica of the target group).
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// `kind = "crash"`: the replicas stop answering anything, lose their in-flight work, and
    /// restart empty when the fault ends.
    Crash { replicas: Vec<u32> },
    /// `kind = "hang"`: the replicas accept connections (shallow health checks pass) but never
    /// answer a request; what they hold when it starts is never answered either.
    Hang { replicas: Vec<u32> },
    /// `kind = "slow"`: service times multiplied by `factor` (required, > 0).
    Slow { replicas: Vec<u32>, factor: f64 },
    /// `kind = "error"`: each request is answered with an error at once with `probability`
    /// (required, 0..=1); with `wrong = true`, instead with a wrong answer after normal service,
    /// which looks like success to a status-code check but fails users and deep checks.
    Error {
        replicas: Vec<u32>,
        probability: f64,
        wrong: bool,
    },
    /// `kind = "capacity_loss"`: a `fraction` (required, in (0, 1]) of each replica's workers
    /// is lost; work in progress finishes, but no new work starts beyond what is left.
    CapacityLoss { replicas: Vec<u32>, fraction: f64 },
    /// `kind = "dns_record"` on a `dns` group: its `record` (a name it serves) answers empty
    /// (`answer = "empty"`, the default: clients cannot resolve the name), or wrong
    /// (`answer = "wrong"` with `to = "<group>"`: clients are sent to that group instead).
    DnsRecord {
        replicas: Vec<u32>,
        /// The record's index within the dns group's records.
        record: usize,
        /// None: an empty answer; Some(group): a wrong one.
        wrong_to: Option<usize>,
    },
    /// `kind = "new_source"` on a client group: the group sends nothing except while this
    /// fault lasts, when it sends at its `rate` (an unknown source appearing: a new top talker).
    NewSource,
    /// `kind = "partition"`: nothing gets through between the two domains of `between`.
    Partition,
    /// `kind = "link_degradation"`: messages between the two domains take `latency` longer
    /// (default "0s") and are lost with probability `loss` (default 0).
    LinkDegradation { latency: SimTime, loss: f64 },
    /// `kind = "zone_outage"`, `target = "<zone>"`: every component replica in the zone
    /// crashes at once.
    ZoneOutage,
    /// `kind = "region_outage"`, `target = "<region>"`: every component replica in the region
    /// crashes at once.
    RegionOutage,
    /// `kind = "traffic_surge"` on a client group: `multiplier` (required, > 0) reached
    /// linearly over `ramp` (default "0s"), back to normal at the end.
    TrafficSurge { multiplier: f64, ramp: SimTime },
    /// `kind = "config_change"`: a staged rollout of new settings to the target group's
    /// replicas: `set = { "health_check.kind" = "shallow", workers = 4 }` (dotted paths into the
    /// component's table, as `--set` takes them, validated like the file itself). Replicas
    /// switch in order, in batches of `batch` (default 1), batches spread evenly over `rollout`
    /// (default "0s": all at once). At the fault's end, or on a `rollback` action, they switch
    /// back in reverse order at the same pace.
    ConfigChange {
        replicas: Vec<u32>,
        /// The group's settings after the change.
        after: Box<KindSpec>,
        /// The settings as written, for reports: `path = value`.
        set: Vec<(String, String)>,
        rollout: SimTime,
        batch: u32,
    },
    /// `kind = "gossip_corruption"` on a group with gossip: replica `replicas[0]` (default 0)
    /// emits a corrupted state entry in its gossip rounds while the fault lasts (without a
    /// `duration`: one round). The entry claims an impossible version, so it wins every merge;
    /// a node that adopts it judges every genuine heartbeat stale, so its peers drop out of its
    /// view after `fail_after`. Only clearing the group's gossip state removes it. With
    /// `checksums = true` receivers reject the corrupted messages.
    GossipCorruption { replicas: Vec<u32> },
}

impl FaultKind {
    /// The `kind` string of the scenario file.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Crash { .. } => "crash",
            FaultKind::Hang { .. } => "hang",
            FaultKind::Slow { .. } => "slow",
            FaultKind::Error { .. } => "error",
            FaultKind::CapacityLoss { .. } => "capacity_loss",
            FaultKind::DnsRecord { .. } => "dns_record",
            FaultKind::NewSource => "new_source",
            FaultKind::Partition => "partition",
            FaultKind::LinkDegradation { .. } => "link_degradation",
            FaultKind::ZoneOutage => "zone_outage",
            FaultKind::RegionOutage => "region_outage",
            FaultKind::TrafficSurge { .. } => "traffic_surge",
            FaultKind::ConfigChange { .. } => "config_change",
            FaultKind::GossipCorruption { .. } => "gossip_corruption",
        }
    }

    /// The replicas a replica fault hits (None for faults on a whole client group).
    pub fn replicas(&self) -> Option<&[u32]> {
        match self {
            FaultKind::Crash { replicas }
            | FaultKind::Hang { replicas }
            | FaultKind::Slow { replicas, .. }
            | FaultKind::Error { replicas, .. }
            | FaultKind::CapacityLoss { replicas, .. }
            | FaultKind::DnsRecord { replicas, .. }
            | FaultKind::ConfigChange { replicas, .. }
            | FaultKind::GossipCorruption { replicas } => Some(replicas),
            FaultKind::TrafficSurge { .. }
            | FaultKind::NewSource
            | FaultKind::ZoneOutage
            | FaultKind::RegionOutage
            | FaultKind::Partition
            | FaultKind::LinkDegradation { .. } => None,
        }
    }
}
