//! Reading a fault's or a failure's table: the common fields, the tables of its kind, and the
//! checks that need the rest of the scenario (through [`Resolve`]).

use super::values::pick;
use super::{
    CapacityLossSettings, ConfigChangeSettings, CorruptionSettings, DnsRecordSettings,
    ErrorSettings, FailureSettings, FailureSpec, FailureTimes, FailureUnit, FaultKind, FaultSpec,
    FaultTarget, Level, LinkDegradationSettings, LinkSettings, PoisonSettings, ReplicaSettings,
    SlowSettings, TrafficSurgeSettings,
};
use crate::engine::SimTime;
use crate::model::kinds::Kind;
use crate::model::settings::Text;
use crate::model::settings::{
    Duration, Input, Issue, PosDuration, Reader, Resolve, Role, Shape, Table, Value, list,
    not_applicable, suggest,
};

/// The fault kinds, in the order hints list them.
pub const FAULT_KINDS: [&str; 15] = [
    "crash",
    "hang",
    "slow",
    "error",
    "capacity_loss",
    "dns_record",
    "traffic_surge",
    "new_source",
    "zone_outage",
    "region_outage",
    "partition",
    "link_degradation",
    "config_change",
    "gossip_corruption",
    "poison",
];

/// The settings of some fault kind, in the order problems with them are reported; `target`
/// belongs here only for link faults (the others all take it).
pub(super) const KIND_FIELDS: [&str; 22] = [
    "replicas",
    "multiplier",
    "ramp",
    "factor",
    "probability",
    "wrong",
    "fraction",
    "record",
    "answer",
    "to",
    "target",
    "between",
    "level",
    "latency",
    "loss",
    "set",
    "rollout",
    "batch",
    "field",
    "bit",
    "entry",
    "source",
];

/// The settings fault kind `kind` takes beside `name`, `kind`, `target`, `at` and `duration`
/// (its tables'), in the order of [`KIND_FIELDS`].
fn own_fields(kind: &str) -> Vec<&'static str> {
    let mut names: Vec<&str> = kind_tables(kind).iter().map(|f| f.name).collect();
    names.sort_by_key(|n| KIND_FIELDS.iter().position(|f| f == n));
    names
}

/// The fields of fault kind `kind`'s own tables.
pub(super) fn kind_tables(kind: &str) -> Vec<crate::model::settings::Field> {
    let mut fields = match kind {
        "traffic_surge" => TrafficSurgeSettings::fields(),
        "new_source" | "zone_outage" | "region_outage" => Vec::new(),
        "partition" | "link_degradation" => LinkSettings::fields(),
        _ => ReplicaSettings::fields(),
    };
    fields.extend(match kind {
        "slow" => SlowSettings::fields(),
        "error" => ErrorSettings::fields(),
        "capacity_loss" => CapacityLossSettings::fields(),
        "dns_record" => DnsRecordSettings::fields(),
        "config_change" => ConfigChangeSettings::fields(),
        "link_degradation" => LinkDegradationSettings::fields(),
        "gossip_corruption" => CorruptionSettings::fields(),
        "poison" => PoisonSettings::fields(),
        _ => Vec::new(),
    });
    fields
}

/// The type problems of `input` read as field `f` (below `base`) by the table that declares
/// it: a field written for another kind is checked for its type, not its value.
fn type_problems(f: &str, input: &dyn Input, base: Vec<String>) -> Vec<Issue> {
    fn probe<T: Table>(entries: &[(&str, &dyn Input)], r: &mut Reader<'_>) {
        let _ = T::read_fields(entries, r);
    }
    type Probe = fn(&[(&str, &dyn Input)], &mut Reader<'_>);
    let mut issues = Vec::new();
    let r = &mut Reader::new(base, &mut issues);
    let one = [(f, input)];
    let probes: [Probe; 11] = [
        probe::<ReplicaSettings>,
        probe::<SlowSettings>,
        probe::<ErrorSettings>,
        probe::<CapacityLossSettings>,
        probe::<DnsRecordSettings>,
        probe::<TrafficSurgeSettings>,
        probe::<LinkSettings>,
        probe::<LinkDegradationSettings>,
        probe::<ConfigChangeSettings>,
        probe::<CorruptionSettings>,
        probe::<PoisonSettings>,
    ];
    if f == "target" {
        let _ = r.field(f, |r| Text::read(input, r));
    }
    for probe in probes {
        probe(&one, r);
    }
    issues.retain(|i| i.message.starts_with("expected "));
    issues
}

/// Field `key` of a table's entries, if it is a string.
pub fn text<'a>(entries: &[(&str, &'a dyn Input)], key: &str) -> Option<&'a str> {
    let (_, input) = entries.iter().find(|(k, _)| *k == key)?;
    match (*input).shape() {
        Shape::Str(s) => Some(s),
        _ => None,
    }
}

/// The name of fault `entries` (written, or "<kind>-<target>") and its `kind` as written.
pub fn fault_name(entries: &[(&str, &dyn Input)]) -> (String, String) {
    let kind = text(entries, "kind").unwrap_or_default();
    let target = text(entries, "target").unwrap_or_default();
    let name = text(entries, "name").map_or_else(|| format!("{kind}-{target}"), str::to_owned);
    (name, kind.to_owned())
}

/// Reads fault `j` (`entries`: its table as written; unknown keys are the caller's).
pub fn read_fault(
    j: usize,
    entries: &[(&str, &dyn Input)],
    res: &mut dyn Resolve,
) -> Option<FaultSpec> {
    let base = vec!["faults".to_owned(), j.to_string()];
    Entry { base, entries, res }.fault(j)
}

/// Reads failure `j` (`entries`: its table as written).
pub fn read_failure(
    j: usize,
    entries: &[(&str, &dyn Input)],
    res: &mut dyn Resolve,
) -> Option<FailureSpec> {
    let base = vec!["failures".to_owned(), j.to_string()];
    Entry { base, entries, res }.failure()
}

/// A fault's or a failure's table while it is read.
struct Entry<'e, 'r> {
    base: Vec<String>,
    entries: &'e [(&'e str, &'e dyn Input)],
    res: &'r mut dyn Resolve,
}

impl<'e> Entry<'e, '_> {
    fn at(&self, seg: impl ToString) -> Vec<String> {
        let mut p = self.base.clone();
        p.push(seg.to_string());
        p
    }

    fn get(&self, key: &str) -> Option<&'e dyn Input> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    fn push(&mut self, issue: Issue) {
        self.res.issues().push(issue);
    }

    fn missing(&mut self, field: &str, hint: impl Into<String>) {
        Reader::new(self.base.clone(), self.res.issues()).missing(field, hint);
    }

    /// Field `key` as a `V`: `Some(None)` when absent, `None` when it has problems.
    fn value<V: Value>(&mut self, key: &str) -> Option<Option<V::Out>> {
        let Some(input) = self.get(key) else {
            return Some(None);
        };
        V::read(input, &mut Reader::new(self.at(key), self.res.issues())).map(Some)
    }

    /// The declared fields of table `T` (other keys are checked by the caller).
    fn table<T: Table>(&mut self) -> Option<T> {
        let mut r = Reader::new(self.base.clone(), self.res.issues());
        let t = T::read_fields(self.entries, &mut r)?;
        t.check(self.entries, &mut r).then_some(t)
    }

    /// The names of the groups whose kind passes `f`.
    fn names_of(&self, f: impl Fn(Kind) -> bool) -> Vec<String> {
        let names = self.res.names();
        (0..names.len())
            .filter(|&i| self.res.kind(i).is_some_and(&f))
            .map(|i| names[i].to_owned())
            .collect()
    }

    /// Whether some component is placed in the `level` domain `name`; if none is, reports it
    /// at `path`, suggesting the domains that do exist.
    fn domain(&mut self, path: Vec<String>, level: Level, name: &str) -> bool {
        let known = self.res.domains(level);
        if known.iter().any(|k| k == name) {
            return true;
        }
        let refs: Vec<&str> = known.iter().map(String::as_str).collect();
        let l = level.name();
        let hint = suggest(name, &format!("{l}s"), &refs);
        let issue = Issue::new(path, format!("no component is placed in {l} '{name}'"));
        self.push(issue.value(name).hint(hint));
        false
    }

    /// Whether field `key` is written with the type its kinds take (a field with a type
    /// problem counts as absent beyond that problem).
    fn typed(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|input| type_problems(key, input, Vec::new()).is_empty())
    }

    /// Field `key` as a `V` (its default when absent or of the wrong type), its problems left
    /// out: for checks between fields when its table has problems (reported already).
    fn again<V: Value>(&self, key: &str, default: V::Out) -> Option<V::Out> {
        match self.get(key).filter(|_| self.typed(key)) {
            None => Some(default),
            Some(input) => V::read(input, &mut Reader::new(Vec::new(), &mut Vec::new())),
        }
    }

    fn failure(&mut self) -> Option<FailureSpec> {
        // The values as far as they are strings; the table reports the others.
        let _ = self.table::<FailureSettings>();
        let given: Vec<&str> = ["target", "zone", "region"]
            .into_iter()
            .filter(|k| text(self.entries, k).is_some())
            .collect();
        if given.len() != 1 {
            let path = match given.get(1) {
                Some(second) => self.at(second),
                None => self.base.clone(),
            };
            self.push(
                Issue::new(path, "give exactly one of target, zone and region")
                    .hint("target = \"<group>\" fails each replica on its own; zone or region fails everything in it at once".to_owned()),
            );
            return None;
        }
        let (field, label) = (given[0], text(self.entries, given[0]).unwrap_or_default());
        let unit = match field {
            "target" => {
                let g = self.res.group(None, self.at("target"), label, Role::Any)?;
                if self.res.kind(g) == Some(Kind::Client) {
                    let issue = Issue::new(
                        self.at("target"),
                        format!("failures cannot hit '{label}': it is a client"),
                    );
                    self.push(issue.value(label));
                    return None;
                }
                FailureUnit::Replicas(g)
            }
            "zone" if self.domain(self.at("zone"), Level::Zone, label) => {
                FailureUnit::Zone(label.to_owned())
            }
            "region" if self.domain(self.at("region"), Level::Region, label) => {
                FailureUnit::Region(label.to_owned())
            }
            _ => return None,
        };
        let times = self.table::<FailureTimes>()?;
        let name = text(self.entries, "name").map(str::to_owned);
        Some(FailureSpec {
            name: name.unwrap_or_else(|| format!("failures-{label}")),
            unit,
            mtbf: times.mtbf,
            mttr: times.mttr,
        })
    }

    fn fault(&mut self, j: usize) -> Option<FaultSpec> {
        let written = self.value::<Text>("name").flatten();
        let kind = match self.get("kind") {
            None => {
                let hint = format!("kind is one of: {}", FAULT_KINDS.join(", "));
                self.missing("kind", hint);
                None
            }
            Some(input) => {
                let mut r = Reader::new(self.at("kind"), self.res.issues());
                match input.shape() {
                    Shape::Str(k) => pick(k, &FAULT_KINDS.map(|k| (k, k)), "fault kind", &mut r),
                    other => r.wrong_type("a string", &other),
                }
            }
        };
        let domain = match kind {
            Some("zone_outage") => Some(Level::Zone),
            Some("region_outage") => Some(Level::Region),
            _ => None,
        };
        let tname = text(self.entries, "target").unwrap_or_default().to_owned();
        let mut group = None;
        let target = match kind {
            Some("partition" | "link_degradation") => self.link(),
            _ => match self.value::<Text>("target") {
                None => None,
                Some(None) => {
                    let what = domain.map_or("component", Level::name);
                    self.missing("target", format!("add target = \"<the {what} it hits>\""));
                    None
                }
                Some(Some(t)) => match domain {
                    None => {
                        group = self.res.group(None, self.at("target"), &t, Role::Any);
                        group.map(FaultTarget::Group)
                    }
                    Some(level) => self.domain(self.at("target"), level, &t).then(|| {
                        if level == Level::Zone {
                            FaultTarget::Zone(t)
                        } else {
                            FaultTarget::Region(t)
                        }
                    }),
                },
            },
        };
        let at = match self.get("at") {
            None => {
                self.missing("at", "add at = \"20m\": when the fault starts");
                None
            }
            Some(_) => self.value::<Duration>("at").flatten(),
        };
        let duration = self.value::<PosDuration>("duration");
        let kind = kind?;
        self.not_applicable(kind);
        // A problem with the kind's own settings ends the reading here, except for the kinds
        // that only take `replicas` (and traffic surges, below): their name is checked too.
        let fault_kind = match kind {
            "partition" => Some(FaultKind::Partition),
            "link_degradation" => {
                let s = self.table::<LinkDegradationSettings>();
                if !self.typed("latency") && !self.typed("loss") {
                    self.push(
                        Issue::new(
                            self.base.clone(),
                            "a link_degradation needs latency or loss",
                        )
                        .hint("add latency = \"200ms\" and/or loss = 0.1".to_owned()),
                    );
                    return None;
                }
                let s = s?;
                Some(FaultKind::LinkDegradation {
                    latency: s.latency,
                    loss: s.loss,
                })
            }
            "zone_outage" => Some(FaultKind::ZoneOutage),
            "region_outage" => Some(FaultKind::RegionOutage),
            "traffic_surge" | "new_source" => {
                if !self.client_fault(kind, group, &tname) {
                    return None;
                }
                if kind == "new_source" {
                    return Some(FaultSpec {
                        name: written.unwrap_or_else(|| format!("{kind}-{tname}")),
                        target: target?,
                        at: at?,
                        duration: duration?,
                        kind: FaultKind::NewSource,
                    });
                }
                let s = self.table::<TrafficSurgeSettings>();
                let ramp = match &s {
                    Some(s) => Some(s.ramp),
                    None => self.again::<Duration>("ramp", SimTime::ZERO),
                };
                if let (Some(r), Some(Some(d))) = (ramp, duration)
                    && r > d
                {
                    let issue = Issue::new(
                        self.at("ramp"),
                        format!("the ramp ({r}) is longer than the fault ({d})"),
                    );
                    self.push(issue.value(r.to_string()));
                    return None;
                }
                s.map(|s| FaultKind::TrafficSurge {
                    multiplier: s.multiplier,
                    ramp: s.ramp,
                })
            }
            _ => {
                let k = self.replica_fault(j, kind, group, &tname, duration);
                if k.is_none() && !matches!(kind, "crash" | "hang" | "gossip_corruption") {
                    return None;
                }
                k
            }
        };
        let name = written.unwrap_or_else(|| format!("{kind}-{tname}"));
        if name.is_empty() {
            self.push(Issue::new(self.at("name"), "must not be empty").value(""));
            return None;
        }
        Some(FaultSpec {
            name,
            target: target?,
            at: at?,
            duration: duration?,
            kind: fault_kind?,
        })
    }

    /// Reports the settings written that fault kind `kind` does not take (those of the wrong
    /// type only for their type, as their own kind would).
    fn not_applicable(&mut self, kind: &str) {
        let link = matches!(kind, "partition" | "link_degradation");
        let allowed = own_fields(kind);
        let what = format!("fault kind '{kind}'");
        for f in KIND_FIELDS {
            let Some(input) = self.get(f) else { continue };
            if allowed.contains(&f) || (f == "target" && !link) {
                continue;
            }
            let problems = type_problems(f, input, self.base.clone());
            if !problems.is_empty() {
                self.res.issues().extend(problems);
                continue;
            }
            let issue = not_applicable(self.at(f), f, &allowed, &what);
            self.push(issue);
        }
    }

    /// A link fault's target: the link between two domains of one level.
    fn link(&mut self) -> Option<FaultTarget> {
        let LinkSettings {
            level,
            between: (a, b),
        } = self.table::<LinkSettings>()?;
        let mut ok = true;
        for (k, name) in [&a, &b].into_iter().enumerate() {
            let mut path = self.at("between");
            path.push(k.to_string());
            ok &= self.domain(path, level, name);
        }
        ok.then_some(FaultTarget::Link { level, a, b })
    }

    /// Whether a traffic fault may hit group `g` (a rate-based client); problems are reported.
    fn client_fault(&mut self, kind: &str, g: Option<usize>, tname: &str) -> bool {
        if let Some(k) = g.and_then(|g| self.res.kind(g))
            && k != Kind::Client
        {
            let clients = self.names_of(|k| k == Kind::Client);
            let clients: Vec<&str> = clients.iter().map(String::as_str).collect();
            let issue = Issue::new(
                self.at("target"),
                format!(
                    "{kind} applies to client components, and '{tname}' is {}",
                    k.a()
                ),
            );
            self.push(
                issue
                    .value(tname)
                    .hint(format!("clients: {}", list(&clients))),
            );
        }
        // A surge scales a closed-loop population's users (kinds/client.rs); a new source is a
        // rate that appears, which a population has not.
        if kind == "new_source" && g.is_some_and(|g| self.res.closed_loop(g)) {
            let issue = Issue::new(
                self.at("target"),
                format!("{kind} applies to rate-based clients, and '{tname}' has a concurrency"),
            );
            self.push(
                issue.value(tname).hint(
                    "a closed-loop population is there from the start: change it with a traffic_surge (its users scale) or --set on its concurrency".to_owned(),
                ),
            );
            return false;
        }
        true
    }

    /// The kind of a fault on replicas of group `g`.
    fn replica_fault(
        &mut self,
        j: usize,
        kind: &str,
        g: Option<usize>,
        tname: &str,
        duration: Option<Option<SimTime>>,
    ) -> Option<FaultKind> {
        if kind != "config_change" && g.and_then(|g| self.res.kind(g)) == Some(Kind::Client) {
            let issue = Issue::new(
                self.at("target"),
                format!("a {kind} fault cannot hit '{tname}': it is a client"),
            );
            self.push(
                issue
                    .value(tname)
                    .hint("use kind = \"traffic_surge\" to change a client's traffic".to_owned()),
            );
        }
        // A list of the wrong type is reported, and read as absent.
        let list = self.table::<ReplicaSettings>().and_then(|s| s.replicas);
        let replicas = self.replicas(list, g, tname, kind == "gossip_corruption");
        match kind {
            "crash" => replicas.map(|replicas| FaultKind::Crash { replicas }),
            "hang" => replicas.map(|replicas| FaultKind::Hang { replicas }),
            "gossip_corruption" => {
                if let Some(g) = g {
                    self.res.needs_gossip(self.at("target"), g, "corrupt");
                }
                let s = self.table::<CorruptionSettings>()?;
                if let (Some(e), Some(n)) = (s.entry, g.and_then(|g| self.res.replicas(g))) {
                    let n = n.0;
                    if e >= n {
                        let issue = Issue::new(
                            self.at("entry"),
                            format!("entry {e} is not a replica of '{tname}' (it has {n})"),
                        );
                        self.push(
                            issue
                                .value(e.to_string())
                                .hint(format!("use a replica index from 0 to {}", n - 1)),
                        );
                        return None;
                    }
                }
                replicas.map(|replicas| FaultKind::GossipCorruption {
                    replicas,
                    field: s.field,
                    bit: s.bit as u8,
                    entry: s.entry,
                })
            }
            "poison" => {
                let s = self.table::<PoisonSettings>()?;
                let path = self.at("source");
                let source = self.res.group(None, path, &s.source, Role::Source)?;
                replicas.map(|replicas| FaultKind::Poison { replicas, source })
            }
            "slow" => {
                let s = self.table::<SlowSettings>()?;
                Some(FaultKind::Slow {
                    replicas: replicas?,
                    factor: s.factor,
                })
            }
            "error" => {
                let s = self.table::<ErrorSettings>()?;
                Some(FaultKind::Error {
                    replicas: replicas?,
                    probability: s.probability,
                    wrong: s.wrong,
                })
            }
            "capacity_loss" => {
                let s = self.table::<CapacityLossSettings>()?;
                Some(FaultKind::CapacityLoss {
                    replicas: replicas?,
                    fraction: s.fraction,
                })
            }
            "dns_record" => {
                let (record, wrong_to) = self.dns_record(g, tname);
                Some(FaultKind::DnsRecord {
                    replicas: replicas?,
                    record: record?,
                    wrong_to: wrong_to?,
                })
            }
            _ => self.config_change(j, g, tname, duration, replicas),
        }
    }

    /// A dns_record fault's record (its index in the target's records) and where a wrong
    /// answer points.
    fn dns_record(
        &mut self,
        g: Option<usize>,
        tname: &str,
    ) -> (Option<usize>, Option<Option<usize>>) {
        if let Some(k) = g
            .and_then(|g| self.res.kind(g))
            .filter(|&k| k != Kind::Dns && k != Kind::Client)
        {
            let issue = Issue::new(
                self.at("target"),
                format!(
                    "dns_record applies to dns components, and '{tname}' is {}",
                    k.a()
                ),
            );
            self.push(issue.value(tname));
        }
        // The settings as far as they are strings: the table reports the rest.
        let s = self.table::<DnsRecordSettings>();
        let served: Vec<String> = g.map_or_else(Vec::new, |g| {
            let records = self.res.records(g).into_iter();
            records.filter_map(|(name, _)| name).collect()
        });
        let record = text(self.entries, "record").and_then(|r| {
            let i = served.iter().position(|x| x == r);
            if i.is_none() {
                let refs: Vec<&str> = served.iter().map(String::as_str).collect();
                let issue = Issue::new(
                    self.at("record"),
                    format!("'{tname}' serves no record named '{r}'"),
                );
                self.push(issue.value(r).hint(suggest(r, "records", &refs)));
            }
            i
        });
        let wrong_to = match (text(self.entries, "answer"), text(self.entries, "to")) {
            (None | Some("empty"), None) => Some(None),
            (Some("wrong"), Some(t)) => self
                .res
                .group(None, self.at("to"), t, Role::Serve)
                .map(Some),
            (Some("wrong"), None) => {
                self.missing("to", "add to = \"<the group the wrong answer points at>\"");
                None
            }
            (None | Some("empty"), Some(_)) => {
                let issue = Issue::new(self.at("to"), "'to' applies only with answer = \"wrong\"");
                self.push(issue.hint("an empty answer points nowhere".to_owned()));
                None
            }
            _ => None, // An unknown answer, reported by the table.
        };
        (record.filter(|_| s.is_some()), wrong_to)
    }

    fn config_change(
        &mut self,
        j: usize,
        g: Option<usize>,
        tname: &str,
        duration: Option<Option<SimTime>>,
        replicas: Option<Vec<u32>>,
    ) -> Option<FaultKind> {
        if g.and_then(|g| self.res.kind(g)) == Some(Kind::Monitor) {
            let groups = self.names_of(|k| k != Kind::Monitor);
            let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
            let issue = Issue::new(
                self.at("target"),
                format!("a config_change fault cannot hit '{tname}': it is a monitor"),
            );
            self.push(issue.value(tname).hint(format!(
                "config changes roll out to component and client groups: {}",
                list(&groups)
            )));
        }
        let s = self.table::<ConfigChangeSettings>();
        let rollout = match &s {
            Some(s) => Some(s.rollout),
            None => self.again::<Duration>("rollout", SimTime::ZERO),
        };
        let mut late = false;
        if let (Some(r), Some(Some(d))) = (rollout, duration)
            && r > d
        {
            late = true;
            let issue = Issue::new(
                self.at("rollout"),
                format!("the rollout ({r}) is longer than the fault ({d})"),
            );
            self.push(issue.value(r.to_string()).hint("the change is rolled back when the fault ends; shorten the rollout or lengthen the fault".to_owned()));
        }
        // Without a `set` table the table reported it.
        let change = if self.typed("set") {
            self.res.config_change(j, g)
        } else {
            None
        };
        let ((after, set), s) = (change?, s?);
        Some(FaultKind::ConfigChange {
            replicas: replicas?,
            after: Box::new(after),
            set,
            rollout: Some(s.rollout).filter(|_| !late)?,
            batch: s.batch,
        })
    }

    /// The replicas a replica fault hits: `list`, or every replica of group `g` (with `one`,
    /// a gossip corruption: a single replica, 0 by default).
    fn replicas(
        &mut self,
        list: Option<Vec<i64>>,
        g: Option<usize>,
        tname: &str,
        one: bool,
    ) -> Option<Vec<u32>> {
        let n = g
            .and_then(|g| self.res.replicas(g))
            .map(|(n, _)| n as usize);
        let list = match list {
            None if one => return n.map(|_| vec![0]),
            None => return n.map(|n| (0..n as u32).collect()),
            Some(list) => list,
        };
        if list.is_empty() {
            let hint = if one {
                "leave 'replicas' out to start from replica 0"
            } else {
                "leave 'replicas' out to hit every replica"
            };
            let issue = Issue::new(self.at("replicas"), "lists no replica");
            self.push(issue.hint(hint.to_owned()));
            return None;
        }
        if one && list.len() > 1 {
            let issue = Issue::new(
                self.at("replicas"),
                format!(
                    "a gossip corruption starts from one replica, got {}",
                    list.len()
                ),
            );
            self.push(
                issue
                    .value(format!("{list:?}"))
                    .hint("list one replica, e.g. replicas = [0]".to_owned()),
            );
            return None;
        }
        let mut out = Some(Vec::new());
        for (k, &r) in list.iter().enumerate() {
            let mut p = self.at("replicas");
            p.push(k.to_string());
            let problem = match n {
                None => {
                    out = None;
                    continue;
                }
                Some(n) if r < 0 || r >= n as i64 => format!(
                    "replica index {r} is out of range: '{tname}' has {n} replica(s), numbered 0 to {}",
                    n - 1
                ),
                Some(_) if list[..k].contains(&r) => format!("replica {r} is listed twice"),
                Some(_) => {
                    if let Some(v) = out.as_mut() {
                        v.push(r as u32);
                    }
                    continue;
                }
            };
            self.push(Issue::new(p, problem).value(r.to_string()));
            out = None;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::settings::table_reference;

    const BASE: &str = "[scenario]\nname = \"t\"\nduration = \"1h\"\n\n[components.users]\nkind = \"client\"\nrate = 1.0\ntarget = \"api\"\n\n[components.api]\nkind = \"service\"\nreplicas = 2\nzones = [\"a\", \"b\"]\n\n";

    /// Every problem of `entry` appended to the base scenario: (path, message), in order.
    fn problems(entry: &str) -> Vec<(String, String)> {
        let text = format!("{BASE}{entry}");
        let e = crate::scenario::load(&text, "t.toml", &[]).expect_err("invalid");
        e.problems
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect()
    }

    fn pairs(want: &[(&str, &str)]) -> Vec<(String, String)> {
        want.iter()
            .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
            .collect()
    }

    #[test]
    fn the_replicas_are_checked_whatever_the_kind_settings() {
        assert_eq!(
            problems(
                "[[faults]]\nkind = \"slow\"\ntarget = \"api\"\nat = \"1m\"\nreplicas = [2]\n"
            ),
            pairs(&[
                ("faults.0.factor", "missing required field 'factor'"),
                (
                    "faults.0.replicas.0",
                    "replica index 2 is out of range: 'api' has 2 replica(s), numbered 0 to 1"
                ),
            ])
        );
    }

    #[test]
    fn a_field_of_another_kind_is_checked_for_its_type_only() {
        let crash = "[[faults]]\nkind = \"crash\"\ntarget = \"api\"\nat = \"1m\"\n";
        assert_eq!(
            problems(&format!("{crash}factor = \"x\"\n")),
            pairs(&[("faults.0.factor", "expected a number, found string \"x\"")])
        );
        assert_eq!(
            problems(&format!("{crash}factor = 0\n")),
            pairs(&[(
                "faults.0.factor",
                "field 'factor' does not apply to fault kind 'crash'"
            )])
        );
    }

    #[test]
    fn link_faults_read_level_then_between() {
        assert_eq!(
            problems("[[faults]]\nkind = \"partition\"\nat = \"1m\"\n"),
            pairs(&[
                ("faults.0.level", "missing required field 'level'"),
                ("faults.0.between", "missing required field 'between'"),
            ])
        );
        assert_eq!(
            own_fields("link_degradation"),
            ["between", "level", "latency", "loss"]
        );
    }

    #[test]
    fn a_failure_s_unit_comes_before_its_times() {
        assert_eq!(
            problems("[[failures]]\nzone = \"c\"\n"),
            pairs(&[("failures.0.zone", "no component is placed in zone 'c'")])
        );
        assert_eq!(
            problems("[[failures]]\nzone = \"a\"\n"),
            pairs(&[
                ("failures.0.mtbf", "missing required field 'mtbf'"),
                ("failures.0.mttr", "missing required field 'mttr'"),
            ])
        );
    }

    #[test]
    fn the_tables_document_each_setting_once() {
        let doc = table_reference::<ConfigChangeSettings>("Used by config changes.");
        assert!(doc.contains("| `set` |"), "{doc}");
        assert!(
            doc.contains("| `batch` | a whole number, at least 1 | `1` |"),
            "{doc}"
        );
        assert_eq!(
            own_fields("config_change"),
            ["replicas", "set", "rollout", "batch"]
        );
        assert!(own_fields("zone_outage").is_empty());
    }
}
