//! The validated, typed description of a run: what the scenario layer builds from a file and
//! the model consumes. Every reference is already resolved to an index and every value checked;
//! the model trusts a `Spec` completely.
//!
//! Doc comments name the scenario-file field each item comes from and its default.
//!
//! This module holds the scenario-wide types. Each component kind's settings types live in
//! its module under `kinds/`, and each shared policy's (retries, health checks, circuit
//! breakers, gossip) under `policy/`, beside their behaviour, and faults' and random failures'
//! under `faults/`, beside their settings; they are re-exported here, so `spec::LbSpec` and the
//! like name them for everything outside the model.

use crate::engine::SimTime;

pub use super::faults::{FailureSpec, FailureUnit, FaultKind, FaultSpec, FaultTarget, Level};
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
pub use super::policy::autoscale::AutoscalerSpec;
pub use super::policy::breaker::BreakerSpec;
pub use super::policy::gossip::GossipSpec;
pub use super::policy::health_check::{CheckKind, HealthCheckSpec};
pub use super::policy::queue::{Discipline, QueuePolicy};
pub use super::policy::retry::{Backoff, Jitter, RetrySpec};

/// `scenario.warmup`: how much of the run's start the summary leaves out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Warmup {
    /// This long, rounded up to whole metrics buckets.
    Fixed(SimTime),
    /// Estimated per run by MSER-5 on the availability and latency series.
    Auto,
}

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
    /// `scenario.warmup`: the start of the run left out of the summary's metrics (none by
    /// default).
    pub warmup: Option<Warmup>,
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
    /// `[[autoscalers]]`, in file order.
    pub autoscalers: Vec<AutoscalerSpec>,
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
    /// `"recover:CLIENT"`: the end of that client group's impact.
    ClientRecovered(String),
    /// `"first:EVENT"`: the first event of that kind (an `events.csv` kind) from the
    /// incident's start.
    FirstEvent(&'static str),
    /// `"last:EVENT"`: the last event of that kind from the incident's start.
    LastEvent(&'static str),
}

/// The kinds of event a run logs (`events.csv`), which `first:` and `last:` can match.
pub const EVENT_KINDS: &[&str] = &[
    "fault_start",
    "fault_end",
    "config_applied",
    "alarm",
    "alarm_clear",
    "action",
    "restart",
    "crashed",
    "stopped",
    "back",
    "provisioned",
    "deprovisioned",
    "scale_out",
    "scale_in",
    "registered",
    "health_down",
    "health_up",
    "breaker_open",
    "breaker_close",
    "gossip_down",
    "gossip_up",
    "gossip_adopt",
    "gossip_complete",
];

/// The words `match` accepts besides the named forms.
pub const MILESTONES: &[&str] = &["fault", "impact", "detect", "mitigate", "recover"];

/// `[[what_ifs]]`: `name` and `set = ["path=value", ...]`, applied after any `--set`.
#[derive(Clone, Debug, PartialEq)]
pub struct WhatIf {
    pub name: String,
    pub sets: Vec<String>,
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
    /// `discipline`, `by_priority`, `shed_after`, `lifo_threshold`, `lifo_age`,
    /// `codel_target`, `codel_interval`, `drop_abandoned`: how the waiting queue orders and
    /// sheds requests (default: plain FIFO).
    pub queueing: QueuePolicy,
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
