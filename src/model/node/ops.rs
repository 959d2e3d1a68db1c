//! Operators: runbook actions and staged config changes (monitors and alarms are the
//! `monitor` kind's, in `kinds/monitor.rs`).
//!
//! Actions run on their targets' own timers: at a fixed time, or when the monitor that fired
//! their alarm passes them on after the response delay.
//!
//! `[[actions]]` settings are declared here: the trigger ([`ActionSettings`]) and one table per
//! action kind, chosen by `kind`; a field of another kind "does not apply".

use super::{Cx, LogEntry, Node, send_self};
use crate::engine::{EntityId, SimTime};
use crate::model::kinds::load_balancer::balances;
use crate::model::msg::{Msg, Timer};
use crate::model::settings::{
    Count, Distribution, Duration, Field, Input, Issue, Number, Opt, Reader, Ref, Resolve, Role,
    Table, Text, Value, bounded, list, not_applicable, positive, suggest, unknown_fields,
};
use crate::model::spec::{Dist, FaultKind, KindSpec};
use crate::model::world::World;
use crate::settings;

/// `[[actions]]`: `name` (default "action-<index>", counting from 0; unique), `kind`, and
/// either `at` (a fixed time) or `on = "<alarm>"` with `delay` (a distribution, default "0s"):
/// the operators' response after the alarm first fires. An action runs at most once.
#[derive(Clone, Debug, PartialEq)]
pub struct ActionSpec {
    pub name: String,
    pub trigger: Trigger,
    pub kind: ActionKind,
}

/// When an action runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    At(SimTime),
    Alarm { alarm: usize, delay: Dist },
}

/// What an action does.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    /// `kind = "rollback"`, `fault = "<config_change fault>"`: undo the rollout, replica by
    /// replica in reverse order, at the rollout's pace.
    Rollback { fault: usize },
    /// `kind = "end_fault"`, `fault = "<name>"`: the fault stops now (stop the scaling
    /// activity, the surge, the new source...).
    EndFault { fault: usize },
    /// `kind = "block"`, `firewall = "<group>"`, `source = "<client group>"`: the firewall
    /// denies the source from now on.
    Block { firewall: usize, source: usize },
    /// `kind = "shed_load"`, `target = "<group>"`, `fraction`: each replica refuses that
    /// fraction of work requests at admission (a fast error), from now on.
    ShedLoad { group: usize, fraction: f64 },
    /// `kind = "dns_failover"`, `target = "<dns group>"`, `record = "<name>"`, `to =
    /// "<group>"`: the record answers only `to` (one of its targets) from now on.
    DnsFailover {
        dns: usize,
        record: usize,
        to: usize,
    },
    /// `kind = "restart"`, `target = "<group>"`, `stagger` (default "0s"), `cold_start`
    /// (default "30s"): replica i goes down at i x stagger and comes back empty after
    /// `cold_start`; a restart ends the replica's hang faults.
    Restart {
        group: usize,
        stagger: SimTime,
        cold_start: SimTime,
    },
    /// `kind = "clear_gossip"`, `target = "<group>"`, `restart_time` (default "0s"),
    /// `restart_batch` (default: all): every replica goes down at once and its gossip state
    /// is cleared; they restart `restart_batch` at a time in replica order, each restart
    /// taking `restart_time`, and rebuild their views by gossip through the seeds.
    ClearGossip {
        group: usize,
        restart_time: SimTime,
        restart_batch: Option<u32>,
    },
    /// `kind = "scale"`, `target = "<group>"`, `replicas` (default: all its standby),
    /// `provision` (provisioning time, default "5m"): that many standby replicas come into
    /// service `provision` after the action runs (load balancers find them by health checks,
    /// storage by gossip). (`delay` is the trigger's, as for every action.)
    Scale {
        group: usize,
        replicas: u32,
        provision: SimTime,
    },
    /// `kind = "reroute"`, `target = "<group>"`, `from = "<resolver>"`, `to = "<resolver>"`:
    /// the target's lookups that went through `from` go through `to` (a resolver asking the
    /// same dns group, on another network path) from now on.
    Reroute {
        group: usize,
        from: usize,
        to: usize,
    },
}

impl ActionKind {
    /// The `kind` string of the scenario file.
    pub fn name(&self) -> &'static str {
        match self {
            ActionKind::Rollback { .. } => "rollback",
            ActionKind::EndFault { .. } => "end_fault",
            ActionKind::Block { .. } => "block",
            ActionKind::ShedLoad { .. } => "shed_load",
            ActionKind::DnsFailover { .. } => "dns_failover",
            ActionKind::Restart { .. } => "restart",
            ActionKind::ClearGossip { .. } => "clear_gossip",
            ActionKind::Scale { .. } => "scale",
            ActionKind::Reroute { .. } => "reroute",
        }
    }
}

settings! {
    /// `[[actions]]`: an operator's action, run once, at a fixed time or when an alarm first fires (after `delay`); its `kind` (rollback, end_fault, block, shed_load, dns_failover, restart, clear_gossip, scale, reroute) picks its further settings.
    pub struct ActionSettings "actions" check ActionSettings::check_trigger {
        /// Unique among actions (default `"action-<index>"`, counting from 0).
        name: Opt<Text> = None,
        /// When it runs, a fixed time (give `at` or `on`).
        at: Opt<Duration> = None,
        /// The alarm whose first firing triggers it.
        on: Opt<Ref> = None,
        /// With `on`: the operators' response time after the alarm fires.
        delay: Distribution = Dist::Constant(SimTime::ZERO),
    }
}

impl ActionSettings {
    /// Exactly one trigger; `delay` only with `on`.
    fn check_trigger(&self, entries: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> bool {
        let hint = "at = \"30m\" runs the action at a fixed time; on = \"<alarm>\" when that alarm first fires (after delay)".to_owned();
        let issue = match (self.at, &self.on) {
            (Some(_), Some(_)) => Issue::new(r.at("on"), "give either at or on, not both")
                .hint(hint)
                .at_key(),
            (None, None) => Issue::new(
                r.at("on"),
                "missing trigger: give at = \"<time>\" or on = \"<alarm>\"",
            )
            .hint(hint),
            (Some(_), None) if entries.iter().any(|(k, _)| *k == "delay") => {
                Issue::new(r.at("delay"), "'delay' applies only with on = \"<alarm>\"")
                    .hint("with at, put the delay into the time itself".to_owned())
                    .at_key()
            }
            _ => return true,
        };
        r.push(issue);
        false
    }

    /// The trigger, its alarm resolved.
    fn trigger(self, path: Vec<String>, res: &mut dyn Resolve) -> Option<Trigger> {
        let Some(on) = self.on else {
            return self.at.map(Trigger::At);
        };
        let alarms = res.alarms();
        if let Some(alarm) = alarms.iter().position(|n| n.as_deref() == Some(&on)) {
            return Some(Trigger::Alarm {
                alarm,
                delay: self.delay,
            });
        }
        let names: Vec<&str> = alarms.iter().flatten().map(String::as_str).collect();
        let hint = if names.is_empty() {
            format!(
                "there are no alarms: add an [[alarms]] entry named '{on}', or use at = \"<time>\""
            )
        } else {
            suggest(&on, "alarms", &names)
        };
        let issue = Issue::new(path, format!("no alarm is named '{on}'"))
            .value(on)
            .hint(hint);
        res.issues().push(issue);
        None
    }
}

settings! {
    /// `kind = "rollback"` (undo a config_change, replica by replica in reverse order, at the rollout's pace) and `kind = "end_fault"` (the fault stops now).
    pub struct FaultAction "rollback, end_fault" {
        /// The fault's name (rollback: a config_change fault).
        fault: Ref => "add fault = \"<the name of a fault>\"",
    }
}

settings! {
    /// `kind = "block"`: the firewall denies the source from now on.
    pub struct BlockAction "block" {
        /// The firewall that blocks.
        firewall: Ref => "add firewall = \"<the firewall that blocks>\"",
        /// The client group blocked.
        source: Ref => "add source = \"<the client group to block>\"",
    }
}

settings! {
    /// `kind = "shed_load"`: each replica refuses a fraction of work requests at admission (a fast error), from now on.
    pub struct ShedLoadAction "shed_load" {
        /// The group that sheds.
        target: Ref => "add target = \"<the group it acts on>\"",
        /// The share of work refused, above 0 and at most 1.
        fraction: Number => "add fraction = 0.3: the share of work refused",
    }
}

settings! {
    /// `kind = "dns_failover"`: the record answers only `to`, one of its targets, from now on.
    pub struct DnsFailoverAction "dns_failover" {
        /// The dns group.
        target: Ref => "add target = \"<the dns group>\"",
        /// A name the dns group serves.
        record: Ref => "add record = \"<a name the dns group serves>\"",
        /// The target the record answers from now on.
        to: Ref => "add to = \"<the target the record answers from now on>\"",
    }
}

settings! {
    /// `kind = "restart"`: replica i goes down at i x `stagger` and comes back empty after `cold_start`; a restart ends the replica's hang faults.
    pub struct RestartAction "restart" {
        /// The group restarted.
        target: Ref => "add target = \"<the group it acts on>\"",
        /// Between the restarts of successive replicas.
        stagger: Duration = SimTime::ZERO,
        /// How long a replica is down.
        cold_start: Duration = SimTime::from_secs(30),
    }
}

settings! {
    /// `kind = "clear_gossip"`: every replica goes down at once and its gossip state is cleared; they restart `restart_batch` at a time, each restart taking `restart_time`, and rebuild their views by gossip through the seeds.
    pub struct ClearGossipAction "clear_gossip" {
        /// The group cleared (it must gossip).
        target: Ref => "add target = \"<the group it acts on>\"",
        /// Time one server takes to restart with cleared state (boot, reload and check its data).
        restart_time: Duration = SimTime::ZERO,
        /// Servers restarted at once, in replica order (the operators' restart capacity; none: all at once).
        restart_batch: Opt<Count<1, { u32::MAX }>> = None,
    }
}

settings! {
    /// `kind = "scale"`: standby replicas come into service `provision` after the action runs (load balancers find them by health checks, storage by gossip).
    pub struct ScaleAction "scale" {
        /// The group scaled (it must have standby replicas).
        target: Ref => "add target = \"<the group it acts on>\"",
        /// How many standby replicas come in (default: all of them).
        replicas: Opt<Count<1, { u32::MAX }>> = None,
        /// Provisioning time.
        provision: Duration = SimTime::from_mins(5),
    }
}

settings! {
    /// `kind = "reroute"`: the target's DNS lookups through resolver `from` go through resolver `to` from now on (a resolver fleet on another network path that asks the same dns).
    pub struct RerouteAction "reroute" {
        /// The group whose lookups move (a client or a group with calls to DNS names).
        target: Ref => "add target = \"<the group whose lookups move>\"",
        /// The resolver it looks names up through now.
        from: Ref => "add from = \"<the resolver its lookups go through now>\"",
        /// The resolver its lookups go through from now on (it must ask the same dns).
        to: Ref => "add to = \"<the resolver its lookups go through from now on>\"",
    }
}

/// What an action kind's settings need to become the action.
struct Act<'a> {
    /// The `kind` word.
    kind: &'static str,
    base: Vec<String>,
    res: &'a mut dyn Resolve,
}

impl Act<'_> {
    fn at(&self, field: &str) -> Vec<String> {
        [self.base.as_slice(), &[field.to_owned()]].concat()
    }

    /// The group named by a field, which must suit `role`.
    fn group(&mut self, field: &str, name: &str, role: Role) -> Option<usize> {
        let path = self.at(field);
        self.res.group(None, path, name, role)
    }

    fn push(&mut self, issue: Issue) {
        self.res.issues().push(issue);
    }
}

/// An action kind's declared settings, and the action they make once names are resolved.
trait ActionKindSettings: Table {
    fn build(self, a: &mut Act<'_>) -> Option<ActionKind>;
}

/// Reads kind `T`'s settings from an action's entries and builds the action.
fn read<T: ActionKindSettings>(
    entries: &[(&str, &dyn Input)],
    a: &mut Act<'_>,
) -> Option<ActionKind> {
    let settings = T::read_fields(entries, &mut Reader::new(a.base.clone(), a.res.issues()))?;
    settings.build(a)
}

type Fields = fn() -> Vec<Field>;
type ReadKind = fn(&[(&str, &dyn Input)], &mut Act<'_>) -> Option<ActionKind>;

/// The action kinds, in the order hints list them: each one's settings and reader.
const KINDS: [(&str, Fields, ReadKind); 9] = [
    ("rollback", FaultAction::fields, read::<FaultAction>),
    ("end_fault", FaultAction::fields, read::<FaultAction>),
    ("block", BlockAction::fields, read::<BlockAction>),
    ("shed_load", ShedLoadAction::fields, read::<ShedLoadAction>),
    (
        "dns_failover",
        DnsFailoverAction::fields,
        read::<DnsFailoverAction>,
    ),
    ("restart", RestartAction::fields, read::<RestartAction>),
    (
        "clear_gossip",
        ClearGossipAction::fields,
        read::<ClearGossipAction>,
    ),
    ("scale", ScaleAction::fields, read::<ScaleAction>),
    ("reroute", RerouteAction::fields, read::<RerouteAction>),
];

/// Reads action `j` from its table's entries, resolving its names through `res`.
pub fn read_action(
    j: usize,
    entries: &[(&str, &dyn Input)],
    res: &mut dyn Resolve,
) -> Option<ActionSpec> {
    let base = vec!["actions".to_owned(), j.to_string()];
    let common: Vec<&str> = ActionSettings::fields().iter().map(|f| f.name).collect();
    let fields = action_fields();
    let mut r = Reader::new(base.clone(), res.issues());
    unknown_fields(entries, &fields, &mut r);
    let kind = r.field("kind", |r| kind_word(entries, r));
    let settings =
        ActionSettings::read_fields(entries, &mut r).filter(|s| s.check(entries, &mut r));
    let name = settings.as_ref().map(|s| s.name.clone());
    let on = [base.as_slice(), &["on".to_owned()]].concat();
    let trigger = settings.and_then(|s| s.trigger(on, res));
    let (kind, own, read) = KINDS.iter().find(|k| Some(k.0) == kind)?;
    let own: Vec<&str> = own().iter().map(|f| f.name).collect();
    let what = format!("action kind '{kind}'");
    for f in &fields[2..] {
        if entries.iter().any(|(k, _)| k == f) && !common.contains(f) && !own.contains(f) {
            let path = [base.as_slice(), &[(*f).to_owned()]].concat();
            res.issues().push(not_applicable(path, f, &own, &what));
        }
    }
    let action = read(entries, &mut Act { kind, base, res });
    Some(ActionSpec {
        name: name?.unwrap_or_else(|| format!("action-{j}")),
        trigger: trigger?,
        kind: action?,
    })
}

/// Every action kind with every field its table may hold besides `kind`: the common ones
/// ([`ActionSettings`]) and its own.
pub fn action_kinds() -> Vec<(&'static str, Vec<Field>)> {
    KINDS
        .iter()
        .map(|(kind, own, _)| {
            let mut fields = ActionSettings::fields();
            fields.extend(own());
            (*kind, fields)
        })
        .collect()
}

/// Every field of some action kind, in the order hints list them.
fn action_fields() -> Vec<&'static str> {
    let mut fields = vec!["name", "kind"];
    let common = ActionSettings::fields().into_iter();
    for f in common.chain(KINDS.iter().flat_map(|k| k.1())) {
        if !fields.contains(&f.name) {
            fields.push(f.name);
        }
    }
    fields
}

/// The `kind` of an action (`r` is at the field).
fn kind_word(entries: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> Option<&'static str> {
    let words: Vec<&str> = KINDS.iter().map(|k| k.0).collect();
    let Some((_, input)) = entries.iter().find(|(k, _)| *k == "kind") else {
        let issue = r
            .problem("missing required field 'kind'")
            .hint(format!("kind is one of: {}", words.join(", ")));
        r.push(issue);
        return None;
    };
    let k = Ref::read(*input, r)?;
    if let Some(word) = words.iter().find(|w| **w == k) {
        return Some(word);
    }
    let issue = r
        .problem(format!("unknown action kind '{k}'"))
        .value(k.as_str())
        .hint(suggest(&k, "action kinds", &words));
    r.push(issue);
    None
}

impl ActionKindSettings for FaultAction {
    fn build(self, a: &mut Act<'_>) -> Option<ActionKind> {
        let faults = a.res.faults();
        let Some(fault) = faults
            .iter()
            .position(|n| n.as_ref().is_some_and(|(n, _)| *n == self.fault))
        else {
            let names: Vec<&str> = faults.iter().flatten().map(|(n, _)| n.as_str()).collect();
            let hint = suggest(&self.fault, "faults", &names);
            let issue = Issue::new(a.at("fault"), format!("no fault is named '{}'", self.fault))
                .value(self.fault.as_str())
                .hint(hint);
            a.push(issue);
            return None;
        };
        let fkind = faults[fault].as_ref().map_or("", |(_, k)| k.as_str());
        let name = &self.fault;
        let (message, hint) = match (a.kind, fkind) {
            ("rollback", "config_change") => return Some(ActionKind::Rollback { fault }),
            ("rollback", _) => {
                let changes: Vec<&str> = faults
                    .iter()
                    .flatten()
                    .filter(|(_, k)| k == "config_change")
                    .map(|(n, _)| n.as_str())
                    .collect();
                let others = if changes.is_empty() {
                    String::new()
                } else {
                    format!("; config_change faults: {}", list(&changes))
                };
                (
                    format!("'{name}' is a {fkind} fault, and rollback undoes a config_change"),
                    format!("to stop it early use kind = \"end_fault\"{others}"),
                )
            }
            (_, "partition" | "link_degradation") => (
                format!("'{name}' is a {fkind} fault: actions cannot end it"),
                "give a partition a duration; actions cannot reach a link".to_owned(),
            ),
            _ => return Some(ActionKind::EndFault { fault }),
        };
        let issue = Issue::new(a.at("fault"), message)
            .value(name.as_str())
            .hint(hint);
        a.push(issue);
        None
    }
}

impl ActionKindSettings for BlockAction {
    fn build(self, a: &mut Act<'_>) -> Option<ActionKind> {
        let firewall = a.group("firewall", &self.firewall, Role::Firewall);
        let source = a.group("source", &self.source, Role::Source);
        Some(ActionKind::Block {
            firewall: firewall?,
            source: source?,
        })
    }
}

impl ActionKindSettings for ShedLoadAction {
    fn build(self, a: &mut Act<'_>) -> Option<ActionKind> {
        let group = a.group("target", &self.target, Role::Serve);
        let mut r = Reader::new(a.at("fraction"), a.res.issues());
        let fraction = positive(self.fraction, &mut r)?;
        if fraction > 1.0 {
            let issue = r
                .problem(format!("must be at most 1, got {fraction}"))
                .value(fraction.to_string())
                .hint("1.0 refuses all work".to_owned());
            r.push(issue);
            return None;
        }
        Some(ActionKind::ShedLoad {
            group: group?,
            fraction,
        })
    }
}

impl ActionKindSettings for DnsFailoverAction {
    fn build(self, a: &mut Act<'_>) -> Option<ActionKind> {
        let dns = a.group("target", &self.target, Role::Dns)?;
        let records = a.res.records(dns);
        let Some(record) = records
            .iter()
            .position(|(n, _)| n.as_deref() == Some(self.record.as_str()))
        else {
            let served: Vec<&str> = records.iter().filter_map(|(n, _)| n.as_deref()).collect();
            let issue = Issue::new(
                a.at("record"),
                format!("'{}' serves no record named '{}'", self.target, self.record),
            )
            .value(self.record.as_str())
            .hint(suggest(&self.record, "records", &served));
            a.push(issue);
            return None;
        };
        let targets: Vec<&str> = records[record].1.iter().map(String::as_str).collect();
        if !targets.contains(&self.to.as_str()) {
            let rname = &self.record;
            let issue = Issue::new(
                a.at("to"),
                format!("'{}' is not a target of record '{rname}'", self.to),
            )
            .value(self.to.as_str())
            .hint(suggest(
                &self.to,
                &format!("targets of '{rname}'"),
                &targets,
            ));
            a.push(issue);
            return None;
        }
        let to = a.group("to", &self.to, Role::Serve)?;
        Some(ActionKind::DnsFailover { dns, record, to })
    }
}

impl ActionKindSettings for RestartAction {
    fn build(self, a: &mut Act<'_>) -> Option<ActionKind> {
        Some(ActionKind::Restart {
            group: a.group("target", &self.target, Role::Component)?,
            stagger: self.stagger,
            cold_start: self.cold_start,
        })
    }
}

impl ActionKindSettings for ClearGossipAction {
    fn build(self, a: &mut Act<'_>) -> Option<ActionKind> {
        let group = a.group("target", &self.target, Role::Component)?;
        let path = a.at("target");
        if !a.res.needs_gossip(path, group, "clear") {
            return None;
        }
        Some(ActionKind::ClearGossip {
            group,
            restart_time: self.restart_time,
            restart_batch: self.restart_batch,
        })
    }
}

impl ActionKindSettings for ScaleAction {
    fn build(self, a: &mut Act<'_>) -> Option<ActionKind> {
        let group = a.group("target", &self.target, Role::Component)?;
        // A group of unknown kind or bad size: reported already.
        let standby = a.res.standby(group)?;
        if standby == 0 {
            let issue = Issue::new(
                a.at("target"),
                format!("'{}' has no standby replicas to bring in", self.target),
            )
            .value(self.target.as_str())
            .hint(
                "add standby = N to the group: N replicas that wait for a scale action".to_owned(),
            );
            a.push(issue);
            return None;
        }
        let replicas = match self.replicas {
            None => standby,
            Some(n) => bounded(
                n.into(),
                1,
                standby,
                &mut Reader::new(a.at("replicas"), a.res.issues()),
            )?,
        };
        Some(ActionKind::Scale {
            group,
            replicas,
            provision: self.provision,
        })
    }
}

impl ActionKindSettings for RerouteAction {
    fn build(self, a: &mut Act<'_>) -> Option<ActionKind> {
        let group = a.group("target", &self.target, Role::Any);
        let from = a.group("from", &self.from, Role::Resolver);
        let to = a.group("to", &self.to, Role::Resolver);
        if from.is_some() && from == to {
            let issue = Issue::new(a.at("to"), format!("'{}' is also `from`", self.to))
                .value(self.to.as_str())
                .hint("name the resolver the lookups move to, another than `from`".to_owned());
            a.push(issue);
            return None;
        }
        Some(ActionKind::Reroute {
            group: group?,
            from: from?,
            to: to?,
        })
    }
}

/// What needs every group's settings: a `reroute` action's target must look names up through
/// `from`, and `to` must ask the same dns group (so every name resolves to the same record);
/// the target's traffic to `to` goes into the segment check. False if any is wrong.
pub(crate) fn check_actions(
    actions: &[ActionSpec],
    built: &[Option<KindSpec>],
    res: &mut dyn Resolve,
) -> bool {
    let mut ok = true;
    for (j, act) in actions.iter().enumerate() {
        let ActionKind::Reroute { group, from, to } = act.kind else {
            continue;
        };
        let at = |f: &str| vec!["actions".to_owned(), j.to_string(), f.to_owned()];
        let (Some(kind), Some(KindSpec::Resolver(rf)), Some(KindSpec::Resolver(rt))) =
            (&built[group], &built[from], &built[to])
        else {
            continue; // Reported where they are read.
        };
        let via: Vec<usize> = dns_resolvers(kind);
        let (gname, fname, tname) = (res.name(group), res.name(from), res.name(to));
        if !via.contains(&from) {
            let names: Vec<String> = via.iter().map(|&r| res.name(r)).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let hint = if names.is_empty() {
                format!(
                    "'{gname}' looks no DNS name up: give it a target that is a DNS name with a resolver"
                )
            } else {
                format!("'{gname}' looks names up through {}", list(&names))
            };
            let issue = Issue::new(
                at("from"),
                format!("'{gname}' looks no name up through '{fname}'"),
            )
            .value(fname.as_str())
            .hint(hint);
            res.issues().push(issue);
            ok = false;
            continue;
        }
        if rf.dns != rt.dns {
            let (df, dt) = (res.name(rf.dns), res.name(rt.dns));
            let issue = Issue::new(
                at("to"),
                format!("resolver '{tname}' asks '{dt}', and '{fname}' asks '{df}'"),
            )
            .value(tname.as_str())
            .hint(format!(
                "reroute to a resolver with dns = \"{df}\", so the names resolve the same"
            ));
            res.issues().push(issue);
            ok = false;
            continue;
        }
        res.traffic(group, to, at("to"));
    }
    ok
}

/// The resolvers a kind looks DNS names up through, each once.
fn dns_resolvers(kind: &KindSpec) -> Vec<usize> {
    let mut out = Vec::new();
    let mut add = |t: &crate::model::spec::Target| {
        if let crate::model::spec::Target::Dns { resolver, .. } = t
            && !out.contains(resolver)
        {
            out.push(*resolver);
        }
    };
    match kind {
        KindSpec::Client(c) => add(&c.target),
        KindSpec::Service(s) => s.calls.iter().for_each(|c| add(&c.target)),
        _ => {}
    }
    out
}

/// What actions and config changes leave on a replica.
#[derive(Clone, Debug, Default)]
pub(crate) struct OpsState {
    /// Faults ended by an action, and when.
    pub ended: Vec<(u16, u64)>,
    /// Faults whose start ran here and whose end has not.
    pub started: Vec<u16>,
    /// `shed_load`: fraction of work refused.
    pub shed: f64,
    /// `block`: sources denied besides the configured ones.
    pub blocked: Vec<u16>,
    /// `dns_failover`: (record index, target group) pairs.
    pub failover: Vec<(usize, usize)>,
    /// The config change whose settings this replica runs, if any.
    pub config: Option<u16>,
    /// `reroute`: (from, to) resolver groups its lookups go through instead.
    pub reroute: Vec<(u16, u16)>,
    /// It went down while in service and told the callers pooling to its group
    /// (`policy/conn.rs`): they are told again when it is back.
    pub conn_down: bool,
}

impl OpsState {
    /// The resolver group lookups meant for `resolver` go through (after `reroute` actions).
    #[inline]
    pub fn resolver(&self, resolver: usize) -> usize {
        self.reroute
            .iter()
            .find(|&&(f, _)| f as usize == resolver)
            .map_or(resolver, |&(_, t)| t as usize)
    }

    pub fn ended_at(&self, fault: usize) -> Option<u64> {
        self.ended
            .iter()
            .find(|(f, _)| *f as usize == fault)
            .map(|&(_, t)| t)
    }
}

/// Whether entity `e` is one action `a` acts on.
fn action_hits(w: &World, a: usize, e: EntityId) -> bool {
    let info = &w.entities[e as usize];
    let spec = &w.spec;
    match spec.actions[a].kind {
        ActionKind::Rollback { fault } | ActionKind::EndFault { fault } => {
            spec.faults[fault].hits(&spec.groups, info.group, info.replica)
        }
        ActionKind::Block { firewall: g, .. }
        | ActionKind::ShedLoad { group: g, .. }
        | ActionKind::Restart { group: g, .. }
        | ActionKind::ClearGossip { group: g, .. }
        | ActionKind::Reroute { group: g, .. }
        | ActionKind::DnsFailover { dns: g, .. } => info.group == g,
        ActionKind::Scale {
            group: g, replicas, ..
        } => {
            let first_standby = w.provisioned(g);
            (info.group == g
                && info.replica >= first_standby
                && info.replica < first_standby.saturating_add(replicas))
                || balances(w, info.group, g)
                || crate::model::policy::conn::pools_to(w, info.group, g)
        }
    }
}

/// The entities an action acts on, in id order: for a scale action, the standby replicas it
/// provisions and the load balancers that will register them.
fn action_targets(w: &World, a: usize) -> impl Iterator<Item = EntityId> + '_ {
    (0..w.entities.len() as EntityId).filter(move |&e| action_hits(w, a, e))
}

impl Node {
    /// The settings this replica runs: its group's, or a config change's.
    #[inline]
    pub(crate) fn kind<'w>(&self, w: &'w World) -> &'w KindSpec {
        if let Some(f) = self.ops.config {
            if let FaultKind::ConfigChange { after, .. } = &w.spec.faults[f as usize].kind {
                return after;
            }
        }
        &w.spec.groups[self.group].kind
    }

    /// Sets up reporting, monitoring and fixed-time actions at the start of a run.
    pub(crate) fn start_ops(&mut self, w: &World, cx: &mut Cx) {
        self.start_monitoring(w, cx);
        let spec = &w.spec;
        for (i, a) in spec.actions.iter().enumerate() {
            if let Trigger::At(t) = a.trigger {
                if action_hits(w, i, self.me) {
                    send_self(cx, t.0, Timer::Action { action: i as u16 });
                }
            }
        }
    }

    /// A monitor runs an alarm-triggered action: logs it and passes it to its targets.
    pub(crate) fn on_dispatch(&mut self, w: &World, cx: &mut Cx, a: usize) {
        let now = cx.now().0;
        let act = &w.spec.actions[a];
        let after = match &act.trigger {
            Trigger::Alarm { alarm, .. } => format!(", on alarm {}", w.spec.alarms[*alarm].name),
            Trigger::At(_) => String::new(),
        };
        self.log.push(LogEntry {
            time: now,
            kind: "action",
            target: action_target_name(w, a),
            detail: format!("{} ({}{after})", act.name, act.kind.name()),
        });
        for e in action_targets(w, a) {
            // Operators act out of band: the order takes the plain network latency.
            let d = if e == self.me {
                0
            } else {
                w.latency(self.me, e)
            };
            cx.send(
                e,
                SimTime(d),
                Msg::Timer(Timer::Action { action: a as u16 }),
            );
        }
    }

    /// A target replica carries out action `a`.
    pub(crate) fn on_action(&mut self, w: &World, cx: &mut Cx, a: usize) {
        let now = cx.now().0;
        let idx = w
            .members(self.group)
            .position(|e| e == self.me)
            .unwrap_or(0) as u64;
        match w.spec.actions[a].kind {
            ActionKind::Rollback { fault } => {
                let running = self.ops.ended_at(fault).is_none()
                    && self.ops.started.contains(&(fault as u16));
                self.config_back(w, cx, fault, now);
                if running {
                    // Rolled back: the fault ends here (its scheduled end will do nothing), and
                    // the replicas that switched revert from now on (config_reverted).
                    self.ops.started.retain(|&x| x as usize != fault);
                    let f = &w.spec.faults[fault];
                    self.log(
                        w,
                        now,
                        "fault_end",
                        format!("{} ({})", f.name, f.kind.name()),
                    );
                }
            }
            ActionKind::EndFault { fault } => {
                if self.ops.ended_at(fault).is_some() {
                    return;
                }
                let running = self.ops.started.contains(&(fault as u16));
                if running {
                    self.fault(w, cx, fault, false);
                }
                self.ops.ended.push((fault as u16, now));
            }
            ActionKind::Block { source, .. } => self.ops.blocked.push(source as u16),
            ActionKind::ShedLoad { fraction, .. } => self.ops.shed = fraction,
            ActionKind::DnsFailover { record, to, .. } => {
                self.ops.failover.retain(|&(r, _)| r != record);
                self.ops.failover.push((record, to));
            }
            ActionKind::Reroute { from, to, .. } => {
                // Lookups already rerouted to `from` follow it to `to` too.
                for r in &mut self.ops.reroute {
                    if r.1 as usize == from {
                        r.1 = to as u16;
                    }
                }
                self.ops
                    .reroute
                    .retain(|&(f, t)| f != t && f as usize != from);
                self.ops.reroute.push((from as u16, to as u16));
            }
            ActionKind::Restart { stagger, .. } => {
                let d = stagger.0.saturating_mul(idx);
                send_self(
                    cx,
                    d,
                    Timer::ActionStep {
                        action: a as u16,
                        up: false,
                    },
                );
            }
            ActionKind::ClearGossip {
                restart_time,
                restart_batch,
                ..
            } => {
                self.crash_step(w, cx, true);
                self.gossip_clear();
                self.log(w, now, "stopped", w.spec.actions[a].name.clone());
                // Restart capacity: batch k (from 0) is back after (k + 1) restarts.
                let batch = idx / restart_batch.map_or(u64::MAX, u64::from);
                let d = restart_time.0.saturating_mul(batch + 1);
                send_self(
                    cx,
                    d,
                    Timer::ActionStep {
                        action: a as u16,
                        up: true,
                    },
                );
            }
            ActionKind::Scale { provision, .. } => send_self(
                cx,
                provision.0,
                Timer::ActionStep {
                    action: a as u16,
                    up: true,
                },
            ),
        }
    }

    /// A later step of an action on this replica.
    pub(crate) fn on_action_step(&mut self, w: &World, cx: &mut Cx, a: usize, up: bool) {
        let now = cx.now().0;
        match w.spec.actions[a].kind {
            ActionKind::Restart { cold_start, .. } if !up => {
                // The process is killed: a hang ends with it.
                let hangs: Vec<u16> = self
                    .faults_on
                    .iter()
                    .copied()
                    .filter(|&f| matches!(w.spec.faults[f as usize].kind, FaultKind::Hang { .. }))
                    .collect();
                for f in hangs {
                    self.fault(w, cx, f as usize, false);
                    self.ops.ended.push((f, now));
                }
                self.crash_step(w, cx, true);
                self.log(w, now, "restart", w.spec.actions[a].name.clone());
                send_self(
                    cx,
                    cold_start.0,
                    Timer::ActionStep {
                        action: a as u16,
                        up: true,
                    },
                );
            }
            ActionKind::Restart { .. } | ActionKind::ClearGossip { .. } => {
                self.crash_step(w, cx, false);
                if !self.crashed {
                    self.log(w, now, "back", w.spec.actions[a].name.clone());
                }
            }
            ActionKind::Scale {
                group, replicas, ..
            } if balances(w, self.group, group) => {
                self.register_backends(w, now, a, group, replicas)
            }
            ActionKind::Scale {
                group, replicas, ..
            } if crate::model::policy::conn::pools_to(w, self.group, group) => {
                // A caller pooling connections to the group rebalances (`policy/conn.rs`).
                let members = w.provisioned(group).saturating_add(replicas);
                self.conn_rebalance(w, cx, group, members)
            }
            ActionKind::Scale { .. } => {
                self.in_service = true;
                self.crash_step(w, cx, false);
                self.log(w, now, "provisioned", w.spec.actions[a].name.clone());
            }
            _ => {}
        }
    }

    // ----- config changes ------------------------------------------------------------

    /// This replica's batch in a config change's rollout, the number of batches, and the
    /// time between batches.
    fn batch_of(&self, w: &World, fault: usize) -> (u64, u64, u64) {
        let f = &w.spec.faults[fault];
        let FaultKind::ConfigChange {
            replicas,
            rollout,
            batch,
            ..
        } = &f.kind
        else {
            return (0, 1, 0);
        };
        let hit: Vec<u32> = if replicas.is_empty() {
            (0..w.replicas(self.group)).collect()
        } else {
            let mut r = replicas.clone();
            r.sort_unstable();
            r
        };
        let pos = hit.iter().position(|&r| r == self.replica).unwrap_or(0) as u64;
        let batch = (*batch).max(1) as u64;
        let batches = (hit.len() as u64).div_ceil(batch).max(1);
        (pos / batch, batches, rollout.0 / batches)
    }

    /// A config change starts: this replica switches when its batch's turn comes.
    pub(crate) fn config_start(&mut self, w: &World, cx: &mut Cx, fault: usize) {
        let (b, _, pace) = self.batch_of(w, fault);
        send_self(
            cx,
            b.saturating_mul(pace),
            Timer::Config {
                fault: fault as u16,
                on: true,
            },
        );
    }

    /// A config change ends or is rolled back: replicas that switched go back, the last to
    /// switch first, at the rollout's pace.
    pub(crate) fn config_back(&mut self, w: &World, cx: &mut Cx, fault: usize, now: u64) {
        if self.ops.ended_at(fault).is_some() {
            return;
        }
        self.ops.ended.push((fault as u16, now));
        let f = &w.spec.faults[fault];
        let (b, batches, pace) = self.batch_of(w, fault);
        if now < f.at.0 {
            return; // never started
        }
        let done = (now - f.at.0)
            .checked_div(pace)
            .map_or(batches, |k| (k + 1).min(batches));
        if b >= done {
            return; // its turn had not come
        }
        send_self(
            cx,
            (done - 1 - b).saturating_mul(pace),
            Timer::Config {
                fault: fault as u16,
                on: false,
            },
        );
    }

    /// This replica switches to a config change's settings, or back.
    pub(crate) fn on_config(&mut self, w: &World, cx: &mut Cx, fault: usize, on: bool) {
        let now = cx.now().0;
        if on {
            if self.ops.ended_at(fault).is_some() || self.ops.config == Some(fault as u16) {
                return;
            }
            self.ops.config = Some(fault as u16);
        } else {
            if self.ops.config != Some(fault as u16) {
                return;
            }
            self.ops.config = None;
        }
        self.account(w, now);
        self.derive_state(w, cx);
        if !self.server_series.is_empty() {
            // Capacity may have changed (clients serve nothing).
            self.fill_workers(w, cx);
        }
        // A reload: callers pooling to the group reopen their connections to it
        // (`policy/conn.rs`).
        self.conn_notify(w, cx, crate::model::msg::ConnOp::Reload);
        let f = &w.spec.faults[fault];
        let detail = match &f.kind {
            FaultKind::ConfigChange { set, .. } => {
                let s: Vec<String> = set.iter().map(|(p, v)| format!("{p} = {v}")).collect();
                format!("{}: {}", f.name, s.join(", "))
            }
            _ => f.name.clone(),
        };
        let kind = if on {
            "config_applied"
        } else {
            "config_reverted"
        };
        self.log(w, now, kind, detail);
    }

    /// Rebuilds what a replica derives from its settings (health checker, per-backend counts,
    /// breakers) after they changed; a checker whose settings and targets did not change
    /// keeps its view.
    pub(crate) fn derive_state(&mut self, w: &World, cx: &mut Cx) {
        let kind = self.kind(w);
        match kind {
            KindSpec::LoadBalancer(lb) => {
                self.outstanding.resize(w.replicas(lb.backends) as usize, 0);
            }
            KindSpec::Service(s) => self.breakers.resize(s.calls.len(), Default::default()),
            KindSpec::Cache(c) => {
                // A new `keys` maps reads onto other items: the content starts empty.
                let k = c.keys.map_or(0, |k| k as usize);
                if self.cache_items.len() != k {
                    self.cache_items = vec![0; k];
                }
            }
            _ => {}
        }
        self.refresh_checker(w, cx);
    }
}

/// The display name of what an action acts on.
pub(crate) fn action_target_name(w: &World, a: usize) -> String {
    let spec = &w.spec;
    match spec.actions[a].kind {
        ActionKind::Rollback { fault } | ActionKind::EndFault { fault } => {
            spec.faults[fault].name.clone()
        }
        ActionKind::Block { firewall: g, .. }
        | ActionKind::ShedLoad { group: g, .. }
        | ActionKind::Restart { group: g, .. }
        | ActionKind::ClearGossip { group: g, .. }
        | ActionKind::DnsFailover { dns: g, .. }
        | ActionKind::Reroute { group: g, .. }
        | ActionKind::Scale { group: g, .. } => spec.groups[g].name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_fields_in_the_order_hints_list_them() {
        assert_eq!(
            action_fields(),
            [
                "name",
                "kind",
                "at",
                "on",
                "delay",
                "fault",
                "firewall",
                "source",
                "target",
                "fraction",
                "record",
                "to",
                "stagger",
                "cold_start",
                "restart_time",
                "restart_batch",
                "replicas",
                "provision",
                "from",
            ]
        );
    }
}
