//! Stage one of reading a scenario: serde structs that mirror the file as written, with no
//! defaults applied and every field optional, read piece by piece so that one bad component
//! does not hide the problems of the others.
//!
//! Every struct denies unknown fields. Components are one union struct ([`RawComponent`]) with
//! the fields of every kind; [`validate`](super::validate) rejects fields that do not belong
//! to the component's kind, which gives clearer messages than a tagged enum would.

use std::fmt;

use indexmap::IndexMap;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::{Deserialize, Deserializer};
use toml_edit::{DocumentMut, Item, Key, TableLike, Value};

use super::error::{Issue, SpanIndex, closest, list};

/// A duration as written, e.g. `"250ms"`; parsed by validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dur(pub String);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a duration such as "30s" or "250ms""#)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                Ok(Dur(s.to_owned()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A field read by the settings layer from the document itself (the raw stage only notes
/// that it is there).
pub type Any = de::IgnoredAny;

/// One entry of a `config_change` fault's `set`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSet {
    /// Where it is written, below `set`: `["health_check.kind"]` for a quoted key,
    /// `["health_check", "kind"]` for a dotted one.
    pub key: Vec<String>,
    /// What it sets, inside the component's table: `["health_check", "kind"]`. Empty when the
    /// key is not a valid path (reported already).
    pub path: Vec<String>,
    /// The value as written, e.g. `"deep"` or `4`.
    pub text: String,
}

/// The component fields a `config_change` may not set: its kind, size and place.
pub const FIXED_FIELDS: &[&str] = &[
    "kind", "replicas", "standby", "region", "zone", "zones", "segment", "gossip",
];

/// The path in the file (below `set`) of the entry that wrote `rel`, a path inside the
/// component, followed by the rest of `rel`: the last entry whose path holds `rel`, or else
/// the last one whose path lies below `rel`.
pub fn set_origin(entries: &[RawSet], rel: &[String]) -> Option<Vec<String>> {
    let valid = || entries.iter().rev().filter(|e| !e.path.is_empty());
    if let Some(e) = valid().find(|e| rel.starts_with(&e.path)) {
        let mut out = e.key.clone();
        out.extend(rel[e.path.len()..].iter().cloned());
        return Some(out);
    }
    valid()
        .find(|e| !rel.is_empty() && e.path.starts_with(rel))
        .map(|e| e.key.clone())
}

/// `[[components.<dns>.records]]`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawRecord {
    pub name: Option<String>,
    pub ttl: Option<Dur>,
    pub policy: Option<String>,
    pub targets: Option<Vec<String>>,
    pub weights: Option<Vec<f64>>,
}

/// `[components.<name>]`: the union of every kind's fields.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawComponent {
    pub kind: Option<String>,
    // Placement.
    pub replicas: Option<i64>,
    pub region: Option<String>,
    pub zone: Option<Any>,
    pub zones: Option<Any>,
    pub segment: Option<Any>,
    /// Extra replicas held in reserve for `scale` actions.
    pub standby: Option<Any>,
    /// Membership gossip among the replicas.
    pub gossip: Option<Any>,
    // Server.
    pub workers: Option<Any>,
    pub queue: Option<Any>,
    pub service_time: Option<Any>,
    // Client.
    pub rate: Option<Any>,
    /// Client: a closed-loop population instead of a rate.
    pub concurrency: Option<Any>,
    pub think_time: Option<Any>,
    pub profile: Option<Any>,
    pub target: Option<Any>,
    pub resolver: Option<Any>,
    pub write_fraction: Option<Any>,
    // Shared by several kinds.
    pub timeout: Option<Dur>,
    pub retry: Option<Any>,
    pub health_check: Option<Any>,
    pub policy: Option<Any>,
    pub weights: Option<Any>,
    pub hit_ratio: Option<Any>,
    // Resolver.
    pub dns: Option<Any>,
    // DNS.
    pub records: Option<Vec<RawRecord>>,
    // Firewall.
    pub next: Option<Any>,
    pub deny: Option<Any>,
    pub max_connections: Option<Any>,
    // Network.
    pub capacity: Option<Any>,
    pub joins: Option<Any>,
    // Load balancer.
    pub backends: Option<Any>,
    pub when_none_healthy: Option<Any>,
    // Proxy / CDN.
    pub upstream: Option<Any>,
    // Cache.
    pub backend: Option<Any>,
    pub ttl: Option<Any>,
    pub serve_stale: Option<Any>,
    // Service.
    pub calls: Option<Any>,
    pub parallel: Option<Any>,
    pub circuit_breaker: Option<Any>,
    // Storage.
    pub replication_factor: Option<Any>,
    pub read_quorum: Option<Any>,
    pub write_quorum: Option<Any>,
    // Monitor.
    pub period: Option<Dur>,
    /// The table as written (or as a config change leaves it), for the settings layer.
    #[serde(skip)]
    pub item: Option<Item>,
    /// Set when the table could not be read at all (its problems are reported already).
    #[serde(skip)]
    pub unreadable: bool,
}

impl RawComponent {
    /// The names of the fields that are set, in declaration order (`kind` excluded).
    pub fn present_fields(&self) -> Vec<&'static str> {
        let c = self;
        let all = [
            ("replicas", c.replicas.is_some()),
            ("region", c.region.is_some()),
            ("zone", c.zone.is_some()),
            ("zones", c.zones.is_some()),
            ("segment", c.segment.is_some()),
            ("standby", c.standby.is_some()),
            ("gossip", c.gossip.is_some()),
            ("workers", c.workers.is_some()),
            ("queue", c.queue.is_some()),
            ("service_time", c.service_time.is_some()),
            ("rate", c.rate.is_some()),
            ("concurrency", c.concurrency.is_some()),
            ("think_time", c.think_time.is_some()),
            ("profile", c.profile.is_some()),
            ("target", c.target.is_some()),
            ("resolver", c.resolver.is_some()),
            ("write_fraction", c.write_fraction.is_some()),
            ("timeout", c.timeout.is_some()),
            ("retry", c.retry.is_some()),
            ("health_check", c.health_check.is_some()),
            ("policy", c.policy.is_some()),
            ("weights", c.weights.is_some()),
            ("hit_ratio", c.hit_ratio.is_some()),
            ("dns", c.dns.is_some()),
            ("records", c.records.is_some()),
            ("next", c.next.is_some()),
            ("deny", c.deny.is_some()),
            ("max_connections", c.max_connections.is_some()),
            ("capacity", c.capacity.is_some()),
            ("joins", c.joins.is_some()),
            ("backends", c.backends.is_some()),
            ("when_none_healthy", c.when_none_healthy.is_some()),
            ("upstream", c.upstream.is_some()),
            ("backend", c.backend.is_some()),
            ("ttl", c.ttl.is_some()),
            ("serve_stale", c.serve_stale.is_some()),
            ("calls", c.calls.is_some()),
            ("parallel", c.parallel.is_some()),
            ("circuit_breaker", c.circuit_breaker.is_some()),
            ("replication_factor", c.replication_factor.is_some()),
            ("read_quorum", c.read_quorum.is_some()),
            ("write_quorum", c.write_quorum.is_some()),
            ("period", c.period.is_some()),
        ];
        all.iter()
            .filter(|(_, set)| *set)
            .map(|(n, _)| *n)
            .collect()
    }
}

/// `[[failures]]`: random failures and repairs of replicas, a zone or a region. Its fields
/// are read from `item` by the settings layer (`model::faults`); serde only checks that they
/// are known.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[allow(dead_code)]
pub struct RawFailure {
    pub name: Option<Any>,
    pub target: Option<Any>,
    pub zone: Option<Any>,
    pub region: Option<Any>,
    pub mtbf: Option<Any>,
    pub mttr: Option<Any>,
    /// The table as written, for the settings layer.
    #[serde(skip)]
    pub item: Option<Item>,
    /// Set when the table could not be read at all.
    #[serde(skip)]
    pub unreadable: bool,
}

/// `[[faults]]`. Its fields are read from `item` by the settings layer (`model::faults`, one
/// table per fault kind); serde only checks that they are known.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[allow(dead_code)]
pub struct RawFault {
    pub name: Option<Any>,
    pub kind: Option<Any>,
    pub target: Option<Any>,
    pub at: Option<Any>,
    pub duration: Option<Any>,
    pub replicas: Option<Any>,
    pub multiplier: Option<Any>,
    pub ramp: Option<Any>,
    pub factor: Option<Any>,
    pub probability: Option<Any>,
    pub wrong: Option<Any>,
    pub fraction: Option<Any>,
    pub record: Option<Any>,
    pub answer: Option<Any>,
    pub to: Option<Any>,
    pub between: Option<Any>,
    pub level: Option<Any>,
    pub latency: Option<Any>,
    pub loss: Option<Any>,
    pub set: Option<Any>,
    pub rollout: Option<Any>,
    pub batch: Option<Any>,
    /// The table as written, for the settings layer.
    #[serde(skip)]
    pub item: Option<Item>,
    /// Config change: the entries of `set`, in file order.
    #[serde(skip)]
    pub set_entries: Vec<RawSet>,
    /// Config change: the target's table with `set` applied, read as a component (None when
    /// there is no such table or it cannot be read; its problems are reported already).
    #[serde(skip)]
    pub after: Option<Box<RawComponent>>,
    /// Set when the table could not be read at all.
    #[serde(skip)]
    pub unreadable: bool,
}

/// A whole scenario file, as written.
#[derive(Clone, Debug, Default)]
pub struct RawFile {
    /// `[scenario]`, if present.
    pub scenario: Option<Item>,
    /// `[network]`, if present.
    pub network: Option<Item>,
    /// `[components.<name>]`, in file order.
    pub components: IndexMap<String, RawComponent>,
    /// `[[faults]]`, in file order (unreadable entries keep their place).
    pub faults: Vec<RawFault>,
    /// `[[failures]]`, in file order (unreadable entries keep their place).
    pub failures: Vec<RawFailure>,
    /// `[[links]]`, in file order.
    pub links: Vec<Item>,
    /// `[[alarms]]` as written, in file order (None for an entry that is no table).
    pub alarms: Vec<Option<Item>>,
    /// `[[actions]]` as written, in file order (None for an entry that is no table).
    pub actions: Vec<Option<Item>>,
    /// `[[published]]`, in file order (unreadable entries keep their place).
    pub published: Vec<Item>,
    /// `[[what_ifs]]`, in file order (unreadable entries keep their place).
    pub what_ifs: Vec<Item>,
}

/// The top-level tables and arrays of a scenario file.
pub const TOP_FIELDS: &[&str] = &[
    "scenario",
    "network",
    "components",
    "faults",
    "failures",
    "links",
    "alarms",
    "actions",
    "published",
    "what_ifs",
];

/// Which fields each component kind accepts (besides `kind`); used for "does not apply"
/// problems and for "did you mean" hints.
pub fn kind_fields(kind: &str) -> Option<&'static [&'static str]> {
    const PLACE: [&str; 5] = ["replicas", "region", "zone", "zones", "segment"];
    // Every server kind but the monitor: placement, standby replicas and gossip.
    macro_rules! fields {
        ($($f:literal),* $(,)?) => {{
            const F: &[&str] = &[
                PLACE[0], PLACE[1], PLACE[2], PLACE[3], PLACE[4], "standby", "gossip", $($f),*
            ];
            F
        }};
    }
    Some(match kind {
        "client" => &[
            "region",
            "zone",
            "zones",
            "segment",
            "rate",
            "concurrency",
            "think_time",
            "profile",
            "target",
            "resolver",
            "timeout",
            "retry",
            "write_fraction",
        ],
        "resolver" => fields!["workers", "queue", "service_time", "dns", "timeout"],
        "dns" => fields![
            "workers",
            "queue",
            "service_time",
            "records",
            "health_check"
        ],
        "firewall" => fields![
            "workers",
            "queue",
            "service_time",
            "next",
            "deny",
            "max_connections",
            "timeout",
        ],
        "network" => fields!["capacity", "queue", "joins"],
        "load_balancer" => fields![
            "workers",
            "queue",
            "service_time",
            "backends",
            "policy",
            "weights",
            "health_check",
            "when_none_healthy",
            "timeout",
            "retry",
        ],
        "proxy" | "cdn" => fields![
            "workers",
            "queue",
            "service_time",
            "upstream",
            "hit_ratio",
            "timeout",
            "retry",
        ],
        "cache" => fields![
            "workers",
            "queue",
            "service_time",
            "backend",
            "hit_ratio",
            "ttl",
            "serve_stale",
            "timeout",
        ],
        "service" => fields![
            "workers",
            "queue",
            "service_time",
            "calls",
            "parallel",
            "circuit_breaker",
        ],
        "storage" => fields![
            "workers",
            "queue",
            "service_time",
            "replication_factor",
            "read_quorum",
            "write_quorum",
            "timeout",
        ],
        "monitor" => &[
            "replicas",
            "region",
            "zone",
            "zones",
            "segment",
            "workers",
            "queue",
            "service_time",
            "period",
        ],
        _ => return None,
    })
}

/// Reads a parsed document into raw structs. Each top-level piece, component, fault and link
/// is read on its own; a field that cannot be read is reported and dropped, and reading goes
/// on without it, so every structural problem is found in one pass.
///
/// `text` is the document's text (for `config_change` faults, see [`read_config_changes`]).
pub(crate) fn read(root: &Item, spans: &SpanIndex, text: &str) -> (RawFile, Vec<Issue>) {
    let mut issues = Vec::new();
    let mut raw = RawFile::default();
    let Some(top) = root.as_table_like() else {
        return (raw, issues);
    };
    for (key, item) in top.iter() {
        let path = vec![key.to_owned()];
        match key {
            "scenario" => raw.scenario = Some(item.clone()),
            "network" => raw.network = Some(item.clone()),
            "components" => match item.as_table_like() {
                Some(t) => {
                    for (name, item) in t.iter() {
                        let mut p = path.clone();
                        p.push(name.to_owned());
                        let kind = item
                            .as_table_like()
                            .and_then(|t| t.get("kind"))
                            .and_then(|k| k.as_str())
                            .and_then(kind_fields);
                        let c = read_piece::<RawComponent>(item, &p, spans, &mut issues, kind)
                            .map_or_else(
                                || RawComponent {
                                    unreadable: true,
                                    ..RawComponent::default()
                                },
                                |c| RawComponent {
                                    item: Some(item.clone()),
                                    ..c
                                },
                            );
                        raw.components.insert(name.to_owned(), c);
                    }
                }
                None => issues.push(not_table(path, item, "[components.<name>] tables")),
            },
            "faults" | "failures" | "links" | "alarms" | "actions" | "published" | "what_ifs" => {
                let elems: Vec<Item> = match item {
                    Item::ArrayOfTables(a) => a.iter().map(|t| Item::Table(t.clone())).collect(),
                    Item::Value(Value::Array(a)) => {
                        a.iter().map(|v| Item::Value(v.clone())).collect()
                    }
                    _ => {
                        issues.push(not_table(path, item, &format!("[[{key}]] tables")));
                        continue;
                    }
                };
                for (i, e) in elems.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(i.to_string());
                    let is = &mut issues;
                    match key {
                        "faults" => {
                            let mut f =
                                entry(e, &p, spans, is, |f: &mut RawFault| f.unreadable = true);
                            f.item = Some(e.clone());
                            raw.faults.push(f);
                        }
                        "failures" => {
                            let mut f =
                                entry(e, &p, spans, is, |f: &mut RawFailure| f.unreadable = true);
                            f.item = Some(e.clone());
                            raw.failures.push(f);
                        }
                        "alarms" => raw.alarms.push(table(e, &p, is)),
                        "actions" => raw.actions.push(table(e, &p, is)),
                        "published" => raw.published.push(e.clone()),
                        "what_ifs" => raw.what_ifs.push(e.clone()),
                        _ => raw.links.push(e.clone()),
                    }
                }
            }
            other => {
                let hint = match closest(other, TOP_FIELDS.iter().copied()) {
                    Some(c) => format!(
                        "did you mean '{c}'? (top-level tables: {})",
                        list(TOP_FIELDS)
                    ),
                    None => format!("top-level tables: {}", list(TOP_FIELDS)),
                };
                let what = if item.is_table_like() || item.is_array_of_tables() {
                    "table"
                } else {
                    "top-level key"
                };
                issues.push(
                    Issue::new(path, format!("unknown {what} '{other}'"))
                        .hint(hint)
                        .at_key(),
                );
            }
        }
    }
    read_config_changes(&mut raw, text, &mut issues);
    (raw, issues)
}

/// One entry of an array of tables; an entry that cannot be read keeps its place, marked by
/// `unreadable`.
fn entry<T: DeserializeOwned + Default>(
    item: &Item,
    path: &[String],
    spans: &SpanIndex,
    issues: &mut Vec<Issue>,
    unreadable: impl FnOnce(&mut T),
) -> T {
    read_piece(item, path, spans, issues, None).unwrap_or_else(|| {
        let mut t = T::default();
        unreadable(&mut t);
        t
    })
}

/// An entry read by the settings layer: the table as written, or None (reported) when it is
/// no table.
fn table(item: &Item, path: &[String], issues: &mut Vec<Issue>) -> Option<Item> {
    if item.is_table_like() {
        return Some(item.clone());
    }
    issues.push(not_table(path.to_vec(), item, "a table"));
    None
}

/// Reads the `set` of every `config_change` fault: its entries, and the target component's
/// table with them applied (as `--set components.<target>.<path>=<value>` would apply them),
/// read like a component. Problems of the new settings are reported at their key in `set`;
/// the component's own problems are not repeated, and fields a config change may not set
/// ([`FIXED_FIELDS`]) are left out (validation reports them).
fn read_config_changes(raw: &mut RawFile, text: &str, issues: &mut Vec<Issue>) {
    let wanted: Vec<usize> = (0..raw.faults.len())
        .filter(|&j| {
            let f = &raw.faults[j];
            let field = |k| f.item.as_ref().and_then(|t| t.as_table_like()?.get(k));
            !f.unreadable
                && field("set").is_some_and(Item::is_table_like)
                && field("kind").and_then(Item::as_str) == Some("config_change")
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    // A document whose values carry their text (a parsed `Document` only has spans).
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return;
    };
    let root = doc.as_item();
    for j in wanted {
        let base = vec!["faults".to_owned(), j.to_string(), "set".to_owned()];
        let Some(set) = fault_table(root, j)
            .and_then(|t| t.get("set"))
            .and_then(Item::as_table_like)
        else {
            continue;
        };
        let mut values = Vec::new();
        flatten(set, &mut Vec::new(), &mut values);
        let mut entries = Vec::new();
        let mut settings = Vec::new();
        for (key, value) in values {
            let mut path = Vec::new();
            for seg in &key {
                match Key::parse(seg) {
                    Ok(keys) if !keys.is_empty() => {
                        path.extend(keys.iter().map(|k| k.get().to_owned()));
                    }
                    _ => {
                        let mut p = base.clone();
                        p.extend(key.iter().cloned());
                        issues.push(
                            Issue::new(p, format!("'{seg}' is not a path into the component"))
                                .value(seg.clone())
                                .hint(r#"a setting is a dotted path as --set takes it, e.g. workers = 4 or "health_check.kind" = "deep""#.to_owned())
                                .at_key(),
                        );
                        path.clear();
                        break;
                    }
                }
            }
            let text = value.to_string().trim().to_owned();
            entries.push(RawSet { key, path, text });
            settings.push(value);
        }
        let after = fault_table(root, j)
            .and_then(|t| t.get("target")?.as_str())
            .and_then(|t| Some((t, raw.components.get(t)?)))
            .filter(|(_, c)| !c.unreadable)
            .and_then(|(t, c)| {
                let item = root
                    .as_table_like()?
                    .get("components")?
                    .as_table_like()?
                    .get(t)?;
                let kind = c.kind.as_deref().and_then(kind_fields);
                changed_component(item, kind, &entries, settings, &base, issues)
            });
        let f = &mut raw.faults[j];
        f.set_entries = entries;
        f.after = after.map(Box::new);
    }
}

/// Fault `j`'s table in a document.
fn fault_table(root: &Item, j: usize) -> Option<&dyn TableLike> {
    match root.as_table_like()?.get("faults")? {
        Item::ArrayOfTables(a) => a.get(j).map(|t| t as &dyn TableLike),
        Item::Value(Value::Array(a)) => a.get(j)?.as_inline_table().map(|t| t as &dyn TableLike),
        _ => None,
    }
}

/// The leaves of a `set` table with their key paths; dotted keys and sub-tables are walked
/// into, inline tables `{ ... }` are values.
fn flatten(t: &dyn TableLike, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    for (k, item) in t.iter() {
        prefix.push(k.to_owned());
        match item {
            Item::Value(Value::InlineTable(it)) if it.is_dotted() => flatten(it, prefix, out),
            Item::Table(tb) => flatten(tb, prefix, out),
            Item::None => {}
            other => {
                if let Ok(v) = other.clone().into_value() {
                    out.push((prefix.clone(), v));
                }
            }
        }
        prefix.pop();
    }
}

/// A component's table with the settings applied, read as a component; its problems that
/// come from a setting are reported at the setting's key below `base`.
fn changed_component(
    item: &Item,
    own_fields: Option<&[&str]>,
    entries: &[RawSet],
    settings: Vec<Value>,
    base: &[String],
    issues: &mut Vec<Issue>,
) -> Option<RawComponent> {
    let mut sub = DocumentMut::new();
    sub.insert("c", item.clone());
    let at = |key: &[String]| {
        let mut p = base.to_vec();
        p.extend(key.iter().cloned());
        p
    };
    for (e, value) in entries.iter().zip(settings) {
        if e.path.is_empty() || FIXED_FIELDS.contains(&e.path[0].as_str()) {
            continue;
        }
        let target = sub.get_mut("c")?;
        let mut walked = Vec::new();
        if let Err(msg) = super::overrides::set_item(target, &e.path, value, &mut walked) {
            issues.push(Issue::new(at(&e.key), msg).value(e.text.clone()));
        }
    }
    let parsed = toml_edit::Document::parse(sub.to_string()).ok()?;
    let spans = SpanIndex::new(parsed.as_item());
    let item = parsed.as_item().as_table_like()?.get("c")?;
    let mut found = Vec::new();
    let c = read_piece::<RawComponent>(item, &["c".to_owned()], &spans, &mut found, own_fields)
        .map(|c| RawComponent {
            item: Some(item.clone()),
            ..c
        });
    for mut issue in found {
        if let Some(key) = set_origin(entries, &issue.path[1..]) {
            issue.path = at(&key);
            issues.push(issue);
        }
    }
    c
}

fn not_table(path: Vec<String>, item: &Item, want: &str) -> Issue {
    Issue::new(path, format!("expected {want}, found {}", type_name(item)))
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "a table",
        },
    }
}

/// Most errors one piece may report before reading gives up on it.
const MAX_ERRORS_PER_PIECE: usize = 32;

/// Deserializes one piece; on an error, reports it, removes the offending field and tries
/// again. `None` when the piece cannot be read even so.
fn read_piece<T: DeserializeOwned>(
    item: &Item,
    base: &[String],
    spans: &SpanIndex,
    issues: &mut Vec<Issue>,
    own_fields: Option<&[&str]>,
) -> Option<T> {
    if !item.is_table_like() {
        issues.push(not_table(base.to_vec(), item, "a table"));
        return None;
    }
    let mut value = match item.clone().into_value() {
        Ok(v) => v,
        Err(other) => {
            issues.push(not_table(base.to_vec(), &other, "a table"));
            return None;
        }
    };
    for _ in 0..MAX_ERRORS_PER_PIECE {
        let err = match T::deserialize(value.clone().into_deserializer()) {
            Ok(t) => return Some(t),
            Err(e) => e,
        };
        let path = err
            .span()
            .and_then(|s| spans.path_at(s.start))
            .filter(|p| p.starts_with(base))
            .unwrap_or_else(|| base.to_vec());
        let fields = if path.len() == base.len() + 1 {
            own_fields
        } else {
            None
        };
        issues.push(humanize(err.message(), path.clone(), fields));
        // Drop the field (or the array holding the bad element) and read the rest.
        let rel = &path[base.len()..];
        if rel.is_empty() || !remove(&mut value, rel) {
            return None;
        }
    }
    None
}

/// Removes the field at `rel` (or, when `rel` ends inside an array, the field holding the
/// array) from `value`. False if nothing was removed.
fn remove(value: &mut Value, rel: &[String]) -> bool {
    // The last segment that names a key of a table (not an index of an array).
    let mut cut = None;
    let mut cur = Some(&*value);
    for (i, seg) in rel.iter().enumerate() {
        let Some(v) = cur else { break };
        if v.is_inline_table() {
            cut = Some(i);
        }
        cur = child(v, seg);
    }
    let Some(cut) = cut else { return false };
    let mut cur = value;
    for seg in &rel[..cut] {
        match child_mut(cur, seg) {
            Some(next) => cur = next,
            None => return false,
        }
    }
    match cur {
        Value::InlineTable(t) => t.remove(&rel[cut]).is_some(),
        _ => false,
    }
}

/// The field or element `seg` of a table or array value.
fn child<'a>(v: &'a Value, seg: &str) -> Option<&'a Value> {
    match v {
        Value::InlineTable(t) => t.get(seg),
        Value::Array(a) => a.get(seg.parse::<usize>().ok()?),
        _ => None,
    }
}

/// [`child`], mutably.
fn child_mut<'a>(v: &'a mut Value, seg: &str) -> Option<&'a mut Value> {
    match v {
        Value::InlineTable(t) => t.get_mut(seg),
        Value::Array(a) => a.get_mut(seg.parse::<usize>().ok()?),
        _ => None,
    }
}

/// Turns a serde message into a problem: plain words instead of Rust types, quotes instead of
/// backticks, and "did you mean" for unknown fields. `own_fields` replaces the field list of
/// the message (a component's fields for its kind).
pub(crate) fn humanize(msg: &str, path: Vec<String>, own_fields: Option<&[&str]>) -> Issue {
    let quoted: Vec<&str> = msg.split('`').skip(1).step_by(2).collect();
    if msg.starts_with("unknown field `")
        && let Some((name, listed)) = quoted.split_first()
    {
        let fields: Vec<&str> = own_fields.map_or_else(|| listed.to_vec(), <[&str]>::to_vec);
        let hint = match closest(name, fields.iter().copied()) {
            Some(c) => format!("did you mean '{c}'? (fields here: {})", list(&fields)),
            None if fields.is_empty() => "this table takes no fields".to_owned(),
            None => format!("fields here: {}", list(&fields)),
        };
        return Issue::new(path, format!("unknown field '{name}'"))
            .value(*name)
            .hint(hint)
            .at_key();
    }
    if let Some(rest) = msg.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        return Issue::new(path, format!("missing field '{name}'"));
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some((found, expected)) = rest.split_once(", expected ")
        {
            let found_text = plain_found(found);
            let expected = plain_expected(expected);
            let mut issue = Issue::new(path, format!("expected {expected}, found {found_text}"));
            if let Some(v) = quoted.first() {
                issue = issue.value(*v);
            } else if let Some(s) = found.strip_prefix("string ") {
                issue = issue.value(s.trim_matches('"'));
            }
            if expected.contains("duration")
                && let Some(n) = found
                    .strip_prefix("integer `")
                    .and_then(|s| s.strip_suffix('`'))
            {
                issue = issue.hint(format!(
                    r#"durations are strings with a unit: write "{n}s" or "{n}ms" (units: ns, us, ms, s, m, h, d)"#
                ));
            }
            return issue;
        }
    }
    if let Some(rest) = msg.strip_prefix("invalid length ")
        && let Some((n, expected)) = rest.split_once(", expected ")
    {
        return Issue::new(
            path,
            format!(
                "expected {}, found {n} element(s)",
                plain_expected(expected)
            ),
        );
    }
    Issue::new(path, msg.replace('`', "'").replace('\n', "; "))
}

fn plain_found(found: &str) -> String {
    match found {
        "map" => "a table".to_owned(),
        "sequence" => "an array".to_owned(),
        other => other.replace('`', ""),
    }
}

fn plain_expected(expected: &str) -> String {
    match expected {
        "i64" | "u64" | "u32" | "i32" => "a whole number".to_owned(),
        "f64" | "f32" => "a number".to_owned(),
        "a sequence" => "an array".to_owned(),
        "a map" => "a table".to_owned(),
        other => other.replace('`', "'"),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn component_fields_come_from_the_declarations_in_the_order_hints_list_them() {
        for (name, kind) in crate::model::kinds::KINDS {
            let declared: Vec<&str> = crate::model::kinds::component_fields(kind)
                .iter()
                .map(|f| f.name)
                .collect();
            assert_eq!(declared, kind_fields(name).unwrap(), "{name}");
        }
    }
    use super::*;

    fn read_text(text: &str) -> (RawFile, Vec<Issue>) {
        let doc = toml_edit::Document::parse(text).expect("valid TOML");
        let spans = SpanIndex::new(doc.as_item());
        read(doc.as_item(), &spans, text)
    }

    #[test]
    fn component_union_fields_match_kind_lists() {
        // Every field of the union belongs to some kind, and every kind field exists.
        let err = toml_edit::de::from_str::<RawComponent>("zzz = 1").expect_err("unknown");
        let mut union: Vec<&str> = err
            .message()
            .split('`')
            .skip(3)
            .step_by(2)
            .filter(|f| *f != "kind")
            .collect();
        union.sort_unstable();
        let mut from_kinds: Vec<&str> = [
            "client",
            "resolver",
            "dns",
            "firewall",
            "network",
            "load_balancer",
            "proxy",
            "cdn",
            "cache",
            "service",
            "storage",
            "monitor",
        ]
        .iter()
        .flat_map(|k| kind_fields(k).unwrap_or_default().iter().copied())
        .collect();
        from_kinds.sort_unstable();
        from_kinds.dedup();
        assert_eq!(union, from_kinds);
        let all = RawComponent {
            replicas: Some(1),
            ..RawComponent::default()
        };
        assert_eq!(all.present_fields(), vec!["replicas"]);
    }

    #[test]
    fn reads_every_bad_field_of_one_component() {
        let (raw, issues) = read_text(
            "[components.api]\nkind = \"service\"\nworkerz = 3\nreplicas = \"two\"\nregion = \"r\"\n",
        );
        assert_eq!(issues.len(), 2, "{issues:?}");
        assert_eq!(issues[0].message, "unknown field 'workerz'");
        assert!(
            issues[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.starts_with("did you mean 'workers'?"))
        );
        assert_eq!(issues[1].path, ["components", "api", "replicas"]);
        assert_eq!(
            issues[1].message,
            r#"expected a whole number, found string "two""#
        );
        // The rest was still read.
        assert_eq!(raw.components["api"].region.as_deref(), Some("r"));
    }

    #[test]
    fn nested_errors_keep_their_path() {
        use crate::model::kinds::service::ServiceSettings;
        use crate::model::settings::{Input, Reader, Shape, Table};
        // The raw stage only notes `calls`; the service's declared settings read it.
        let (raw, mut issues) = read_text(
            "[components.s]\nkind = \"service\"\ncalls = [{ target = \"a\", timeout = 5 }]\n",
        );
        let item = raw.components["s"].item.as_ref().expect("the table");
        let Shape::Table(entries) = item.shape() else {
            panic!("a table")
        };
        let base = vec!["components".to_owned(), "s".to_owned()];
        ServiceSettings::read_fields(&entries, &mut Reader::new(base, &mut issues));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path, ["components", "s", "calls", "0", "timeout"]);
        assert!(
            issues[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.contains(r#""5s""#))
        );
    }

    #[test]
    fn unknown_top_level_table() {
        let (_, issues) = read_text("[scenaro]\nname = \"x\"\n");
        assert_eq!(issues[0].message, "unknown table 'scenaro'");
        assert!(
            issues[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.starts_with("did you mean 'scenario'"))
        );
    }
}
