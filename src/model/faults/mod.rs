//! `[[faults]]` and `[[failures]]`: what they are ([`FaultSpec`], [`FailureSpec`]), the settings
//! of each fault kind (one table per kind, read according to `kind`), and how a fault's or a
//! failure's entry becomes its spec once its target is resolved.
//!
//! Every fault has `name` (default "<kind>-<target>"), `kind`, `at` (when it starts) and
//! `duration` (default: to the end), and a `target`: a group, a zone (`zone_outage`) or a
//! region (`region_outage`); link faults name `between` and `level` instead. The rest is its
//! kind's table. A fault at or after the end simply never happens: shortening a run with
//! `--set scenario.duration=...` must not break a file whose later faults fall outside.

mod read;
mod values;

pub use crate::model::settings::{List, Text};
pub use read::{FAULT_KINDS, fault_name, read_failure, read_fault, text};
pub use values::{Answer, AnswerWord, Domains, Index, Plural, PosNumber, SetTable, Share};

use crate::engine::SimTime;
use crate::model::policy::gossip::Field as EntryField;
use crate::model::settings::Word;
use crate::model::settings::{
    Count, Distribution, Duration, Field, Fraction, Opt, PosDuration, Switch, Table,
};
use crate::model::spec::{Dist, GroupSpec, KindSpec};
use crate::settings;

// ---- the settings of each fault kind ---------------------------------------------------------

settings! {
    /// `[[faults]]`: a fault injected at a fixed time; its `kind` (crash, hang, slow, error, capacity_loss, dns_record, traffic_surge, new_source, zone_outage, region_outage, partition, link_degradation, config_change, gossip_corruption, poison) picks its further settings.
    pub struct FaultSettings "faults" {
        /// Unique among faults (default "<kind>-<target>").
        name: Opt<Text> = None,
        /// The group it hits; the zone or region of an outage (link faults: `between` instead).
        target: Opt<Text> = None,
        /// When it starts.
        at: Duration => "add at = \"20m\": when the fault starts",
        /// How long it lasts (default: to the end of the run).
        duration: Opt<PosDuration> = None,
    }
}

/// Every field some fault kind takes, in the order hints list them.
pub fn all_fault_fields() -> Vec<&'static str> {
    let mut names: Vec<&str> = FaultSettings::fields().iter().map(|f| f.name).collect();
    names.insert(1, "kind");
    for f in read::KIND_FIELDS {
        if !names.contains(&f) {
            names.push(f);
        }
    }
    names
}

/// Every field of a `[[failures]]` entry.
pub fn failure_fields() -> Vec<&'static str> {
    let fields = FailureSettings::fields().into_iter();
    fields
        .chain(FailureTimes::fields())
        .map(|f| f.name)
        .collect()
}

/// Every fault kind with every field its table may hold besides `kind`: the common ones
/// ([`FaultSettings`], `target` not for link faults) and its own.
pub fn fault_kinds() -> Vec<(&'static str, Vec<Field>)> {
    FAULT_KINDS
        .iter()
        .map(|&kind| {
            let mut fields = FaultSettings::fields();
            if matches!(kind, "partition" | "link_degradation") {
                fields.retain(|f| f.name != "target");
            }
            fields.extend(read::kind_tables(kind));
            (kind, fields)
        })
        .collect()
}

settings! {
    /// Faults on replicas (every kind but traffic faults, outages and link faults): which ones it hits.
    pub struct ReplicaSettings "replicas" {
        /// The replicas it hits, in rollout order for a config change (default: every replica of the target; a gossip corruption: replica 0).
        replicas: Opt<List<Index>> = None,
    }
}

settings! {
    /// `kind = "gossip_corruption"`: one bit flipped in one entry of the messages a replica sends.
    pub struct CorruptionSettings "gossip_corruption" {
        /// The field of the entry flipped: heartbeat, incarnation or status.
        field: Word<EntryField> = EntryField::Heartbeat,
        /// The bit flipped (0 is the lowest; heartbeats and incarnations have 32).
        bit: Count<0, 31> = 31,
        /// Whose entry (a replica index; default: the sender's own).
        entry: Opt<Count<0, { u32::MAX }>> = None,
    }
}

settings! {
    /// `kind = "poison"`: one client group's requests crash the replicas that serve them.
    pub struct PoisonSettings "poison" {
        /// The client group (tenant) whose requests crash the replicas that serve them.
        source: Text => "add source = \"<the client group whose requests crash the replicas>\"",
    }
}

settings! {
    /// `kind = "slow"`: service times multiplied by `factor`.
    pub struct SlowSettings "slow" {
        /// How many times slower service gets.
        factor: PosNumber => "add factor = 10.0: how many times slower service gets",
    }
}

settings! {
    /// `kind = "error"`: requests answered with an error (or a wrong answer).
    pub struct ErrorSettings "error" {
        /// The share of answers that fail.
        probability: Fraction => "add probability = 0.5: the share of answers that fail",
        /// A wrong answer after normal service instead of an error at once.
        wrong: Switch = false,
    }
}

settings! {
    /// `kind = "capacity_loss"`: a share of each replica's workers is lost.
    pub struct CapacityLossSettings "capacity_loss" {
        /// The share of workers lost.
        fraction: Share => "add fraction = 0.5: the share of workers lost",
    }
}

settings! {
    /// `kind = "dns_record"` on a dns group: one of its records answers empty or wrong.
    pub struct DnsRecordSettings "dns_record" {
        /// The name of a record the dns group serves.
        record: Text => "add record = \"<a name this dns serves>\"",
        /// An empty answer (the name cannot be resolved), or a wrong one.
        answer: AnswerWord = Answer::Empty,
        /// Where a wrong answer points (with `answer = "wrong"`).
        to: Opt<Text> = None,
    }
}

settings! {
    /// `kind = "traffic_surge"` on a client: its rate multiplied, or a closed-loop population's users (users leave as they finish a request, or join thinking; at least one stays), back to normal at the end.
    pub struct TrafficSurgeSettings "traffic_surge" {
        /// The factor the traffic rises by.
        multiplier: PosNumber => "add multiplier = 3.0: the factor the traffic rises by",
        /// How long the rise takes (linear), at most the fault's duration.
        ramp: Duration = SimTime::ZERO,
    }
}

settings! {
    /// `kind = "partition"` and `kind = "link_degradation"`: the link between two domains of one level.
    pub struct LinkSettings "link" {
        /// The level of both domains.
        level: Plural<Level> => "add level = \"zone\", \"region\" or \"segment\"",
        /// The two domains.
        between: Domains => "add between = [\"<one side>\", \"<the other>\"]",
    }
}

settings! {
    /// `kind = "link_degradation"`: messages over the link are delayed or lost (give latency or loss, or both).
    pub struct LinkDegradationSettings "link_degradation" {
        /// Added one-way latency.
        latency: Duration = SimTime::ZERO,
        /// The probability that a message is lost.
        loss: Fraction = 0.0,
    }
}

settings! {
    /// `kind = "config_change"`: a staged rollout of new settings to the target's replicas, rolled back at the end.
    pub struct ConfigChangeSettings "config_change" {
        /// The settings it rolls out: dotted paths into the component's table, as `--set` takes them.
        set: SetTable => "add set = { <path> = <value>, ... }: the settings it rolls out, e.g. set = { workers = 4 }",
        /// How long the rollout takes (batches spread evenly), at most the fault's duration.
        rollout: Duration = SimTime::ZERO,
        /// Replicas switched at once.
        batch: Count<1, { u32::MAX }> = 1,
    }
}

settings! {
    /// `[[failures]]`: random failures and repairs of replicas, a zone or a region, for the whole run; give exactly one of target, zone and region.
    pub struct FailureSettings "failures" {
        /// Default "failures-<target, zone or region>".
        name: Opt<Text> = None,
        /// A group: each replica fails and is repaired on its own.
        target: Opt<Text> = None,
        /// A zone: every component replica in it at once (clients are spared).
        zone: Opt<Text> = None,
        /// A region: every component replica in it at once.
        region: Opt<Text> = None,
    }
}

settings! {
    /// `[[failures]]`: how long a unit stays up, and down.
    pub struct FailureTimes "failure times" {
        /// Time between failures.
        mtbf: Distribution => "add mtbf = { dist = \"exponential\", mean = \"...\" }",
        /// Time to repair.
        mttr: Distribution => "add mttr = { dist = \"exponential\", mean = \"...\" }",
    }
}

// ---- the specs ------------------------------------------------------------------------------

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
    /// `kind = "gossip_corruption"` on a group with gossip: the messages replica
    /// `replicas[0]` (default 0) sends while the fault lasts (without a `duration`: one
    /// message) have bit `bit` of field `field` of the entry for replica `entry` (default:
    /// the sender's own) flipped. What follows is the gossip protocol's doing
    /// (`policy/gossip.rs`). With `checksums = true` receivers reject the corrupted messages.
    GossipCorruption {
        replicas: Vec<u32>,
        field: EntryField,
        bit: u8,
        entry: Option<u32>,
    },
    /// `kind = "poison"`: while the fault lasts, a work request from client group `source`
    /// (a poison pill: a malformed request, a pathological query) crashes the replica of the
    /// target that receives it; crashed replicas stay down until the fault ends (the bad
    /// input is fixed or filtered). How far it spreads is the callers' doing: load balancers
    /// and retries carry the tenant's requests on to other replicas, unless cells or shuffle
    /// shards keep them to the tenant's own (`policy/shard.rs`).
    Poison { replicas: Vec<u32>, source: usize },
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
            FaultKind::Poison { .. } => "poison",
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
            | FaultKind::GossipCorruption { replicas, .. }
            | FaultKind::Poison { replicas, .. } => Some(replicas),
            FaultKind::TrafficSurge { .. }
            | FaultKind::NewSource
            | FaultKind::ZoneOutage
            | FaultKind::RegionOutage
            | FaultKind::Partition
            | FaultKind::LinkDegradation { .. } => None,
        }
    }
}
