//! `kind = "dns"`: authoritative DNS, optionally health-steered (GSLB). Its answer to a lookup
//! is a set of the record's targets chosen by the record's routing policy among those its
//! health checker sees healthy (all of them when none is); `dns_record` faults make a record
//! answer empty or wrong, and a `dns_failover` action pins it to one target. A caller that
//! resolved a name picks one answered target at random (`answer_target`).

use crate::engine::rng::{below, unit_f64};
use crate::engine::{EntityId, SimTime};
use crate::model::msg::Status;
use crate::model::node::{Cx, Node};
use crate::model::settings::{
    Duration, Input, Issue, List, Name, Nested, Opt, Reader, Role, Shape, Text, Value, Weights,
    Word, weights,
};
use crate::model::spec::{FaultKind, HealthCheckSpec, KindSpec, ServerSpec};
use crate::model::world::World;
use crate::{settings, words};

use super::{Build, KindSettings, quiet};

/// DNS routing policy. `policy = "simple" | "weighted" | "failover" | "latency"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// Every (healthy) target; the client picks one at random.
    Simple,
    /// One target drawn by weight per answer.
    Weighted,
    /// The first healthy target in the listed order (primary, then secondaries).
    Failover,
    /// The healthy target nearest the resolver (same region, then same zone... by latency).
    Latency,
}

words!(
    Routing,
    "routing policy",
    [
        ("simple", Routing::Simple),
        ("weighted", Routing::Weighted),
        ("failover", Routing::Failover),
        ("latency", Routing::Latency),
    ]
);

settings! {
    /// `[[components.<dns>.records]]`: a name a dns serves, and the components it points at.
    pub struct RecordSettings "record" check RecordSettings::check_targets {
        /// The DNS name, e.g. "www.example.com".
        name: Name => "add name = \"www.example.com\"",
        /// How long resolvers may cache an answer.
        ttl: Duration = SimTime::from_secs(60),
        /// How answers are chosen among the healthy targets.
        policy: Word<Routing> = Routing::Simple,
        /// The components the name points at.
        targets: List<Text> => "add targets = [\"<component>\", ...]: the components this name points at",
        /// One weight per target (policy "weighted" only).
        weights: Opt<Weights> = None,
    }
}

impl RecordSettings {
    /// Some target, and weights for the weighted policy only.
    fn check_targets(&self, _: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> bool {
        let mut ok = true;
        if self.targets.is_empty() {
            r.missing(
                "targets",
                "add targets = [\"<component>\", ...]: the components this name points at",
            );
            ok = false;
        }
        ok & match (self.policy, &self.weights) {
            (Routing::Weighted, None) => {
                r.missing(
                    "weights",
                    "policy 'weighted' needs weights = [...], one per target",
                );
                false
            }
            (Routing::Weighted, Some(w)) => r
                .field("weights", |r| weights(w, self.targets.len(), "target", r))
                .is_some(),
            (p, Some(_)) => {
                let p = <Word<Routing> as Value>::show(&p);
                let issue = Issue::new(
                    r.at("weights"),
                    format!(
                        "field 'weights' does not apply to policy '{}'",
                        p.trim_matches('"')
                    ),
                )
                .hint("set policy = \"weighted\" to use weights".to_owned())
                .at_key();
                r.push(issue);
                false
            }
            (_, None) => true,
        }
    }
}

settings! {
    /// `kind = "dns"`: authoritative DNS, optionally health-steered (GSLB).
    pub struct DnsSettings "dns" {
        /// The names it serves (`[[components.<name>.records]]`), at least one.
        records: List<Nested<RecordSettings>> = Vec::new(),
        /// Probes every record target group; none: every target is always answered.
        health_check: Opt<Nested<HealthCheckSpec>> = None,
    }
}

impl KindSettings for DnsSettings {
    fn build(self, b: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec> {
        Some(KindSpec::Dns(DnsSpec {
            server,
            records: records(b)?,
            health_check: self.health_check,
        }))
    }
}

/// Resolves the records' targets when the other settings have problems.
pub(super) fn refs(b: &mut Build<'_>) {
    records(b);
}

/// The records with their targets resolved: a dns without records, and a name defined twice,
/// are problems too.
fn records(b: &mut Build<'_>) -> Option<Vec<RecordSpec>> {
    let entries = b.entries;
    let shape = entries
        .iter()
        .find(|(k, _)| *k == "records")
        .map(|(_, v)| v.shape());
    let list = match shape {
        None => Vec::new(),
        Some(Shape::Array(list)) => list,
        Some(_) => return None, // Reported by the declaration.
    };
    if list.is_empty() {
        let name = b.base.last().cloned().unwrap_or_default();
        let issue = Issue::new(b.at("records"), "missing required field 'records'").hint(format!(
            "add a record: [[components.{name}.records]] with name = \"www.example.com\" and targets = [\"<component>\"]"
        ));
        b.resolve.issues().push(issue);
        return None;
    }
    let mut out = Some(Vec::new());
    let mut seen: Vec<(String, usize)> = Vec::new();
    for (j, input) in list.iter().enumerate() {
        let mut path = b.at("records");
        path.push(j.to_string());
        let names = match input.shape() {
            Shape::Table(fields) => fields
                .iter()
                .find(|(k, _)| *k == "targets")
                .and_then(|(_, v)| quiet::<List<Text>>(*v)),
            _ => None,
        };
        let targets = names.and_then(|names| targets(b, &path, &names));
        let Some((rec, targets)) = quiet::<Nested<RecordSettings>>(*input).zip(targets) else {
            out = None;
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(n, _)| *n == rec.name) {
            path.push("name".to_owned());
            let issue = Issue::new(
                path,
                format!(
                    "record '{}' is defined twice (also records.{first})",
                    rec.name
                ),
            )
            .value(rec.name.clone());
            b.resolve.issues().push(issue);
        }
        seen.push((rec.name.clone(), j));
        if let Some(v) = out.as_mut() {
            v.push(RecordSpec {
                name: rec.name,
                ttl: rec.ttl,
                policy: rec.policy,
                targets,
                weights: rec.weights.unwrap_or_default(),
            });
        }
    }
    out
}

/// The groups a record's `targets` name (at `path`), each once.
fn targets(b: &mut Build<'_>, path: &[String], names: &[String]) -> Option<Vec<usize>> {
    let mut out = Some(Vec::new());
    for (j, n) in names.iter().enumerate() {
        let mut p = path.to_vec();
        p.extend(["targets".to_owned(), j.to_string()]);
        let t = b.resolve.group(None, p.clone(), n, Role::Serve);
        if let Some(t) = t
            && out.as_ref().is_some_and(|v: &Vec<usize>| v.contains(&t))
        {
            let issue = Issue::new(p, format!("'{n}' is listed twice")).value(n.clone());
            b.resolve.issues().push(issue);
            out = None;
        }
        match (t, out.as_mut()) {
            (Some(t), Some(v)) => v.push(t),
            _ => out = None,
        }
    }
    out
}

/// `[[components.<dns>.records]]`: `name`, `ttl` (default "60s"), `policy` (default
/// "simple"), `targets = ["lb-east", "lb-west"]`, `weights = [3, 1]` (weighted only).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordSpec {
    pub name: String,
    pub ttl: SimTime,
    pub policy: Routing,
    pub targets: Vec<usize>,
    pub weights: Vec<f64>,
}

/// `kind = "dns"`: authoritative DNS, optionally health-steered (GSLB).
#[derive(Clone, Debug, PartialEq)]
pub struct DnsSpec {
    pub server: ServerSpec,
    pub records: Vec<RecordSpec>,
    /// `health_check`: probe every record target group; a target is healthy while any of its
    /// replicas passes. None: every target is always answered.
    pub health_check: Option<HealthCheckSpec>,
}

impl DnsSpec {
    /// What its health checker probes: every replica of every record target group, each group
    /// once, in the order the records name them.
    pub(crate) fn checker_plan(&self, w: &World) -> Option<(HealthCheckSpec, Vec<EntityId>)> {
        self.health_check.clone().map(|spec| {
            let mut groups: Vec<usize> = Vec::new();
            for r in &self.records {
                for &g in &r.targets {
                    if !groups.contains(&g) {
                        groups.push(g);
                    }
                }
            }
            (spec, groups.iter().flat_map(|&g| w.members(g)).collect())
        })
    }
}

/// Marks a DNS answer that names a group directly (a wrong record), in its low bits, instead
/// of a set of the record's own targets.
pub(crate) const WRONG_ANSWER: u32 = 1 << 31;

impl Node {
    /// A lookup, after its service time: answered with the record's answer.
    pub(crate) fn dns_lookup(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        record: u32,
        asker: EntityId,
    ) {
        let mask = self.dns_answer(w, cx, record, asker);
        self.finish(w, cx, slot, gen_, Status::Ok, mask);
    }

    pub(crate) fn group_healthy(&self, w: &World, g: usize) -> bool {
        match &self.checker {
            None => true,
            Some(c) => {
                let range = w.members(g);
                c.targets
                    .iter()
                    .any(|t| range.contains(&t.entity) && t.healthy)
            }
        }
    }

    /// The answer of an authoritative DNS for a record: a bit set of record targets.
    pub(crate) fn dns_answer(&self, w: &World, cx: &mut Cx, record: u32, asker: EntityId) -> u32 {
        let (_, idx) = w.records[record as usize];
        let KindSpec::Dns(d) = self.kind(w) else {
            return 0;
        };
        if let Some(&(_, to)) = self.ops.failover.iter().find(|&&(r, _)| r == idx) {
            // Failed over by an operator: only that target, whatever its health.
            if let Some(i) = d
                .records
                .get(idx)
                .and_then(|r| r.targets.iter().position(|&t| t == to))
            {
                return 1 << i.min(30);
            }
        }
        for &i in &self.faults_on {
            if let FaultKind::DnsRecord {
                record: r,
                wrong_to,
                ..
            } = w.spec.faults[i as usize].kind
            {
                if r == idx {
                    return wrong_to.map_or(0, |t| WRONG_ANSWER | t as u32);
                }
            }
        }
        let Some(rec) = d.records.get(idx) else {
            return 0;
        };
        // Bit 31 is WRONG_ANSWER's: a record answers with up to 31 targets.
        let n = rec.targets.len().min(31);
        let mut healthy: u32 = 0;
        for (i, &t) in rec.targets.iter().take(n).enumerate() {
            if self.group_healthy(w, t) {
                healthy |= 1 << i;
            }
        }
        // Like public GSLBs: with no healthy target, answer as if all were healthy.
        let all = (1u32 << n) - 1;
        let pool = if healthy == 0 { all } else { healthy };
        match rec.policy {
            Routing::Simple => pool,
            Routing::Failover => 1 << pool.trailing_zeros(),
            Routing::Weighted => {
                let total: f64 = (0..n)
                    .filter(|i| pool >> i & 1 == 1)
                    .map(|i| rec.weights[i])
                    .sum();
                let mut x = unit_f64(cx.rng()) * total;
                let mut chosen = pool.trailing_zeros();
                for i in (0..n as u32).filter(|i| pool >> i & 1 == 1) {
                    chosen = i;
                    x -= rec.weights[i as usize];
                    if x < 0.0 {
                        break;
                    }
                }
                1 << chosen
            }
            Routing::Latency => {
                let best = (0..n as u32)
                    .filter(|i| pool >> i & 1 == 1)
                    .min_by_key(|&i| w.latency(asker, w.first[rec.targets[i as usize]]))
                    .unwrap_or(0);
                1 << best
            }
        }
    }
}

impl Node {
    /// The answer this caller keeps for `record` (`client_cache` of the resolver it came
    /// from), if it is still fresh at `now`.
    #[inline]
    pub(crate) fn kept_answer(&self, record: u32, now: u64) -> Option<u32> {
        match self.dns_answers.get(record as usize) {
            Some(&Some((data, expires))) if expires > now => Some(data),
            _ => None,
        }
    }

    /// A lookup of `record` through resolver replica `resolver` answered `data` (non-empty):
    /// kept until the record's TTL (or the resolver's `client_ttl`) has passed, if the
    /// resolver's group has `client_cache`.
    pub(crate) fn keep_answer(
        &mut self,
        w: &World,
        resolver: EntityId,
        record: u32,
        data: u32,
        now: u64,
    ) {
        let g = w.entities[resolver as usize].group;
        let KindSpec::Resolver(r) = &w.spec.groups[g].kind else {
            return;
        };
        let Some(ttl) = r.client_cache else {
            return;
        };
        let ttl = ttl.map_or_else(|| record_ttl(w, record), |t| t.0);
        if self.dns_answers.is_empty() {
            self.dns_answers = vec![None; w.records.len()];
        }
        self.dns_answers[record as usize] = Some((data, now.saturating_add(ttl)));
    }
}

/// The TTL of global record `record`.
pub(crate) fn record_ttl(w: &World, record: u32) -> u64 {
    let (g, idx) = w.records[record as usize];
    match &w.spec.groups[g].kind {
        KindSpec::Dns(d) => d.records[idx].ttl.0,
        _ => 0,
    }
}

/// The group a caller calls after a DNS answer `data` for record `record` (a global record
/// index): one of the answered targets at random, or the group a wrong record names. None if
/// the record is not a `dns` group's.
pub(crate) fn answer_target(w: &World, cx: &mut Cx, record: u32, data: u32) -> Option<usize> {
    let (dns_group, idx) = w.records[record as usize];
    let KindSpec::Dns(d) = &w.spec.groups[dns_group].kind else {
        return None;
    };
    let rec = &d.records[idx];
    let group = if data & WRONG_ANSWER != 0 {
        // A wrong record: it points at a group that is not one of its targets.
        (data & !WRONG_ANSWER) as usize
    } else {
        let choices = data.count_ones() as u64;
        let k = if choices > 1 {
            below(cx.rng(), choices)
        } else {
            0
        };
        let bit = nth_set_bit(data, k as u32);
        rec.targets[(bit as usize).min(rec.targets.len() - 1)]
    };
    Some(group)
}

pub(crate) fn nth_set_bit(mask: u32, k: u32) -> u32 {
    let mut m = mask;
    for _ in 0..k {
        m &= m - 1;
    }
    m.trailing_zeros()
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    const HEAD: &str = "[scenario]\nname = \"t\"\nduration = \"1h\"\n\n[components.users]\nkind = \"client\"\nrate = 5.0\ntarget = \"www.example.com\"\n\n[components.resolver]\nkind = \"resolver\"\ndns = \"dns\"\n\n[components.api]\nkind = \"service\"\n\n[components.api2]\nkind = \"service\"\n\n[components.dns]\nkind = \"dns\"\n";

    fn problems(records: &str) -> Vec<(String, String)> {
        match parse(&format!("{HEAD}{records}"), "t.toml") {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems
                .into_iter()
                .map(|p| (p.path, p.message))
                .collect(),
        }
    }

    fn record(fields: &str) -> String {
        format!("\n[[components.dns.records]]\n{fields}\n")
    }

    #[test]
    fn records_are_declared_and_checked() {
        let www = "name = \"www.example.com\"\ntargets = [\"api\"]";
        let ok = record(
            "name = \"www.example.com\"\npolicy = \"weighted\"\ntargets = [\"api\", \"api2\"]\nweights = [1, 3]",
        );
        assert_eq!(problems(&ok), []);
        assert_eq!(
            problems(""),
            [(
                "components.dns.records".to_owned(),
                "missing required field 'records'".to_owned()
            )]
        );
        let text = [
            record(www),
            record("name = \"www.example.com\"\npolicy = \"failover\"\ntargets = [\"api\", \"api\"]"),
            record("name = \"x.example.com\"\npolicy = \"latency\"\ntargets = [\"api\"]\nweights = [1]"),
            record("name = \"y.example.com\"\npolicy = \"weighted\"\ntargets = [\"api\", \"api2\"]"),
            record("name = \"\"\nttl = \"1x\"\ntargets = [\"apii\"]"),
            record("nmae = \"z.example.com\"\ntargets = []"),
            record("name = \"www.example.com\"\ntargets = [\"api2\"]"),
        ]
        .concat();
        let got = problems(&text);
        let want = [
            ("records.1.targets.1", "'api' is listed twice"),
            (
                "records.2.weights",
                "field 'weights' does not apply to policy 'latency'",
            ),
            ("records.3.weights", "missing required field 'weights'"),
            ("records.4.name", "must not be empty"),
            (
                "records.4.ttl",
                "invalid duration \"1x\": unknown unit \"x\" (units: ns, us, ms, s, m, h, d)",
            ),
            ("records.4.targets.0", "unknown component 'apii'"),
            ("records.5.name", "missing required field 'name'"),
            ("records.5.nmae", "unknown field 'nmae'"),
            (
                "records.6.name",
                "record 'www.example.com' is defined twice (also records.0)",
            ),
        ]
        .map(|(p, m)| (format!("components.dns.{p}"), m.to_owned()));
        assert_eq!(got, want);
    }
}
