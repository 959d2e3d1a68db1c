//! Stage two of reading a scenario: raw structs to a validated [`Spec`], applying every default
//! of `model::spec`, checking every value, resolving names to indices and checking the
//! topology (dependency cycles, segments, DNS names). Every problem is collected, not just
//! the first.

use indexmap::IndexMap;
use toml_edit::Item;

use crate::engine::SimTime;
use crate::model::spec::{
    ActionSpec, AlarmSpec, AutoscalerSpec, Clock, EVENT_KINDS, FailureSpec, FaultSpec, GossipSpec,
    GroupSpec, KindSpec, LinkSpec, MILESTONES, Milestone, NetworkSpec, Placement, Published,
    Replay, ServerSpec, Spec, Warmup, WhatIf,
};

use super::error::{Issue, closest, list, path_string, suggest};
use super::raw::{FIXED_FIELDS, RawComponent, RawFile, RawSet, set_origin};
use crate::model::faults::{fault_name, read_failure, read_fault, text};
use crate::model::head::{
    LinkSettings, NetworkSettings, PublishedSettings, ScenarioSettings, WhatIfSettings,
};
use crate::model::kinds::monitor::read_alarm;
use crate::model::kinds::{Build, KINDS, Kind, component_fields, read_kind};
use crate::model::node::ops::read_action;
use crate::model::policy::autoscale::read_autoscaler;
use crate::model::policy::placement;
use crate::model::policy::server::{self};
use crate::model::settings::{
    Input, Reader, Resolve, Role, Shape, Table, not_applicable, read_table, unknown_field,
};

/// A client's settings that shape its traffic: a config change does not set them (its rate is
/// drawn by thinning from a peak fixed at the start).
const CLIENT_TRAFFIC: [&str; 4] = ["rate", "concurrency", "think_time", "profile"];

pub use crate::model::policy::placement::MAX_REPLICAS;

/// The most replicas a gossiping group may have: each of its views holds an entry per replica
/// (about 8 bytes), so views take 8 x N^2 bytes (2 GiB at this limit).
pub const MAX_GOSSIP_REPLICAS: usize = 16_384;

/// At most this many metrics buckets in one run: each group keeps counters per bucket, so a
/// tiny bucket over a long run would exhaust memory before the run starts.
pub const MAX_BUCKETS: u64 = 100_000;

mod resolve;

type Path = Vec<String>;

/// Reads entry `j` of an array of tables from its entries (alarms, actions).
type ReadEntry<T> = fn(usize, &[(&str, &dyn Input)], &mut dyn Resolve) -> Option<T>;

/// The input at `rel` below `item` (table keys and array indices).
fn field_of<'x>(item: Option<&'x Item>, rel: &[&str]) -> Option<&'x dyn Input> {
    field_in(item?, rel)
}

/// The input at `rel` below `cur` (table keys and array indices).
fn field_in<'x>(mut cur: &'x dyn Input, rel: &[&str]) -> Option<&'x dyn Input> {
    for seg in rel {
        cur = match cur.shape() {
            Shape::Table(entries) => entries.into_iter().find(|(k, _)| k == seg)?.1,
            Shape::Array(elems) => *elems.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The `name` written in an entry of an array of tables, if it is a string.
fn written_name(item: &Item) -> Option<&str> {
    match field_of(Some(item), &["name"])?.shape() {
        Shape::Str(s) => Some(s),
        _ => None,
    }
}

/// The name of each entry (`<what>-<index>` by default); None for an entry that is no table.
fn entry_names(items: &[Option<Item>], what: &str) -> Vec<Option<String>> {
    let name = |j: usize, item: &Item| {
        written_name(item).map_or_else(|| format!("{what}-{j}"), str::to_owned)
    };
    let named = items.iter().enumerate();
    named
        .map(|(j, item)| Some(name(j, item.as_ref()?)))
        .collect()
}

/// The text of field `key` of a table, as written (for problems about it).
fn field_text(item: &Item, key: &str) -> String {
    field_of(Some(item), &[key])
        .and_then(|v| v.shape().written())
        .unwrap_or_default()
}

/// The entries of a table's shape (none when it is not a table).
fn entries_of<'x>(table: &'x Option<Shape<'x>>) -> &'x [(&'x str, &'x dyn Input)] {
    match table {
        Some(Shape::Table(entries)) => entries,
        _ => &[],
    }
}

/// Every field of some component kind, each once, in the order of the kinds.
fn all_component_fields() -> Vec<&'static str> {
    let mut all: Vec<&str> = Vec::new();
    for (_, kind) in KINDS {
        for f in component_fields(kind) {
            if !all.contains(&f.name) {
                all.push(f.name);
            }
        }
    }
    all
}

fn join(base: &[String], seg: impl ToString) -> Path {
    let mut p = base.to_vec();
    p.push(seg.to_string());
    p
}

/// Validates a raw scenario into a [`Spec`], or returns every problem found.
/// The problems may be none when the raw stage reported why a piece could not be read.
pub(crate) fn validate(raw: &RawFile) -> Result<Spec, Vec<Issue>> {
    let mut v = Check::new(raw);
    match v.run() {
        Some(spec) if v.issues.is_empty() => Ok(spec),
        _ => Err(v.issues),
    }
}

struct Check<'a> {
    raw: &'a RawFile,
    issues: Vec<Issue>,
    names: Vec<&'a str>,
    index: IndexMap<&'a str, usize>,
    kinds: Vec<Option<Kind>>,
    placements: Vec<Option<Vec<Placement>>>,
    /// Dependency edges per group, each with the field that makes it.
    deps: Vec<Vec<(usize, Path)>>,
    /// Other traffic (probes, calls after a DNS answer), for the segment check.
    traffic: Vec<(usize, usize, Path)>,
    /// DNS-name targets to check once every dns group is read: (field, name, resolver, caller).
    dns_names: Vec<(Path, String, usize, usize)>,
    duration: Option<SimTime>,
    /// Per group: its gossip (None when it cannot be read).
    gossip: Vec<Option<Option<GossipSpec>>>,
    /// Per group: its standby replicas (the last ones of its placement).
    standby: Vec<u32>,
    /// Per fault: its name and `kind` as written (None when it cannot be read).
    fault_names: Vec<Option<(String, String)>>,
    /// Per alarm: its name (None when it cannot be read).
    alarm_names: Vec<Option<String>>,
}

impl<'a> Check<'a> {
    fn new(raw: &'a RawFile) -> Check<'a> {
        let names: Vec<&str> = raw.components.keys().map(String::as_str).collect();
        let index = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let n = names.len();
        Check {
            raw,
            issues: Vec::new(),
            names,
            index,
            kinds: vec![None; n],
            placements: vec![None; n],
            deps: vec![Vec::new(); n],
            traffic: Vec::new(),
            dns_names: Vec::new(),
            duration: None,
            gossip: vec![Some(None); n],
            standby: vec![0; n],
            fault_names: Vec::new(),
            alarm_names: Vec::new(),
        }
    }

    fn push(&mut self, issue: Issue) {
        self.issues.push(issue);
    }

    fn run(&mut self) -> Option<Spec> {
        let head = self.scenario();

        // Pass 1: kinds, fields that do not belong, placements.
        for i in 0..self.names.len() {
            self.kind_and_placement(i);
        }
        // Pass 2: each kind's settings and references.
        let mut built = Vec::with_capacity(self.names.len());
        for i in 0..self.names.len() {
            let kind = self.build_kind(i);
            built.push(kind);
        }
        // Faults (a config change builds its group's new settings, with their references),
        // failures, alarms (reports travel to the monitor) and actions.
        let faults = self.faults();
        let failures = self.failures();
        let alarms = self.alarms();
        let actions = self.actions();
        let actions = actions.filter(|a| crate::model::node::ops::check_actions(a, &built, self));
        let autoscalers = self.autoscalers(&built);
        let replay = self.replay(head.as_ref().map(|h| h.clock.clone()));
        // Pass 3: what needs every group.
        self.check_dns_names(&built);
        self.check_probes(&built);
        self.check_segments(&built);
        self.check_cycles();
        self.check_zones();
        let network = self.network();
        let links = self.links();
        if self.raw.components.is_empty() {
            self.push(
                Issue::new(vec!["components".into()], "the scenario has no components")
                    .hint("add [components.<name>] tables, e.g. a client and a service".to_owned()),
            );
        } else if !self.kinds.contains(&Some(Kind::Client))
            && self.kinds.iter().all(Option::is_some)
        {
            self.push(
                Issue::new(
                    vec!["components".into()],
                    "the scenario has no client component: nothing would send requests",
                )
                .hint(r#"add a component with kind = "client", a rate and a target"#.to_owned()),
            );
        }

        let ScenarioSettings {
            name,
            duration,
            seed,
            bucket,
            slo,
            warmup,
            ..
        } = head?;
        let mut network = network?;
        network.links = links?;
        let faults = faults?;
        let failures = failures?;
        let (alarms, actions, replay) = (alarms?, actions?, replay?);
        let autoscalers = autoscalers?;
        let mut groups = Vec::with_capacity(built.len());
        for (i, kind) in built.into_iter().enumerate() {
            groups.push(GroupSpec {
                name: self.names[i].to_owned(),
                placement: self.placements[i].clone()?,
                kind: kind?,
                gossip: self.gossip[i].clone()?,
                standby: self.standby[i],
            });
        }
        Some(Spec {
            name,
            duration,
            seed,
            bucket,
            slo,
            warmup,
            network,
            groups,
            faults,
            failures,
            alarms,
            actions,
            autoscalers,
            replay,
        })
    }

    fn failures(&mut self) -> Option<Vec<FailureSpec>> {
        let raw = self.raw;
        let mut out = Some(Vec::new());
        for (j, f) in raw.failures.iter().enumerate() {
            let shape = f.as_ref().map(Input::shape);
            let failure = match &shape {
                Some(Shape::Table(entries)) => read_failure(j, entries, self),
                _ => None,
            };
            match (failure, out.as_mut()) {
                (Some(f), Some(v)) => v.push(f),
                _ => out = None,
            }
        }
        out
    }

    // ---- scalar helpers -------------------------------------------------------------------

    /// Records a missing required field.
    fn missing(&mut self, path: Path, hint: impl Into<String>) {
        let field = path.last().cloned().unwrap_or_default();
        self.push(Issue::new(path, format!("missing required field '{field}'")).hint(hint.into()));
    }

    /// Reports fields that do not belong to a variant (`kind`, `dist`, `backoff`, ...).
    /// Reports the keys of component table `c` that are no setting of any kind (with a "did
    /// you mean" over its kind's fields) or, once its kind is known, that belong to other
    /// kinds; with `fixed`, the fields a config change may not set are left out.
    fn check_fields(&mut self, base: &[String], c: &RawComponent, kind: Option<Kind>, fixed: bool) {
        let all = all_component_fields();
        let own: Vec<&str> = match kind {
            Some(k) => component_fields(k).iter().map(|f| f.name).collect(),
            None => all.clone(),
        };
        let mut present = Vec::new();
        for (key, _) in c.entries() {
            if key == "kind" || (fixed && FIXED_FIELDS.contains(&key)) {
                continue;
            }
            match all.iter().find(|f| **f == key) {
                Some(f) => present.push(*f),
                None => {
                    let issue = unknown_field(join(base, key), key, &own);
                    self.push(issue);
                }
            }
        }
        let Some(kind) = kind else {
            return;
        };
        if matches!(kind, Kind::Client | Kind::Monitor) && present.contains(&"gossip") {
            present.retain(|f| *f != "gossip");
            let why = if kind == Kind::Client {
                "a client group has none"
            } else {
                "a monitor has a single one"
            };
            self.push(
                Issue::new(
                    join(base, "gossip"),
                    format!("field 'gossip' does not apply to kind '{}'", kind.name()),
                )
                .hint(format!("gossip runs among component replicas, and {why}"))
                .at_key(),
            );
        }
        self.not_applicable(base, &present, &own, &format!("kind '{}'", kind.name()));
    }

    fn not_applicable(&mut self, base: &[String], present: &[&str], allowed: &[&str], what: &str) {
        for f in present.iter().filter(|f| !allowed.contains(f)) {
            let issue = not_applicable(join(base, f), f, allowed, what);
            self.push(issue);
        }
    }
}

impl Check<'_> {
    // ---- scenario -------------------------------------------------------------------------

    /// `[scenario]`; the bucket must fit in the run.
    fn scenario(&mut self) -> Option<ScenarioSettings> {
        let head = self
            .declared::<ScenarioSettings>(vec!["scenario".to_owned()], self.raw.scenario.as_ref());
        self.duration = head.as_ref().map(|h| h.duration);
        let h = head?;
        let buckets = h.duration.0.div_ceil(h.bucket.0.max(1));
        let problem = if h.bucket > h.duration {
            (
                format!(
                    "the metrics bucket {} is longer than the run ({})",
                    h.bucket, h.duration
                ),
                format!("use a bucket of at most {}, e.g. a tenth of it", h.duration),
            )
        } else if buckets > MAX_BUCKETS {
            let least = SimTime(h.duration.0.div_ceil(MAX_BUCKETS));
            (
                format!(
                    "{buckets} metrics buckets of {} in a run of {}: at most {MAX_BUCKETS}",
                    h.bucket, h.duration
                ),
                format!("every group keeps counters per bucket; use a bucket of at least {least}"),
            )
        } else if let Some(Warmup::Fixed(w)) = h.warmup
            && w >= h.duration
        {
            let path = vec!["scenario".to_owned(), "warmup".to_owned()];
            let issue = Issue::new(
                path,
                format!(
                    "the warm-up {w} is not shorter than the run ({})",
                    h.duration
                ),
            )
            .value(w.to_string());
            self.push(issue.hint(format!(
                "use a warm-up well under {} (the summary covers the rest of the run), or \"auto\"",
                h.duration
            )));
            return None;
        } else {
            return Some(h);
        };
        let path = vec!["scenario".to_owned(), "bucket".to_owned()];
        let issue = Issue::new(path, problem.0).value(h.bucket.to_string());
        self.push(issue.hint(problem.1));
        None
    }

    /// A declared table at `path` from `item`; an absent table is read as empty (its
    /// defaults, or its missing required fields).
    fn declared<T: Table>(&mut self, path: Path, item: Option<&Item>) -> Option<T> {
        let mut r = Reader::new(path, &mut self.issues);
        match item {
            Some(item) => read_table(item, &mut r),
            None => T::read_fields(&[], &mut r),
        }
    }

    // ---- components, pass 1 ---------------------------------------------------------------

    fn base(&self, i: usize) -> Path {
        vec!["components".to_owned(), self.names[i].to_owned()]
    }

    fn kind_and_placement(&mut self, i: usize) {
        let raw = self.raw;
        let Some(c) = raw.components.get_index(i).map(|(_, c)| c) else {
            return;
        };
        let base = self.base(i);
        if c.item.is_none() {
            return;
        }
        if self.names[i].is_empty() {
            self.push(
                Issue::new(base.clone(), "a component name must not be empty")
                    .hint("name it, e.g. [components.api]".to_owned())
                    .at_key(),
            );
        } else if self.names[i].chars().any(char::is_control) {
            self.push(
                Issue::new(
                    base.clone(),
                    "a component name must not contain control characters",
                )
                .value(self.names[i].escape_debug().to_string())
                .hint("a name is one line of text: remove the newline or tab".to_owned())
                .at_key(),
            );
        }
        let kind_names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
        let kind = match c.get("kind") {
            None => {
                self.check_fields(&base, c, None, false);
                self.missing(
                    join(&base, "kind"),
                    format!("kind is one of: {}", list(&kind_names)),
                );
                return;
            }
            Some(k) => match k.as_str() {
                Some(k) => match KINDS.iter().find(|(n, _)| *n == k) {
                    Some((_, kind)) => *kind,
                    None => {
                        self.check_fields(&base, c, None, false);
                        self.push(
                            Issue::new(join(&base, "kind"), format!("unknown kind '{k}'"))
                                .value(k)
                                .hint(suggest(k, "kinds", &kind_names)),
                        );
                        return;
                    }
                },
                None => {
                    self.check_fields(&base, c, None, false);
                    let mut r = Reader::new(join(&base, "kind"), &mut self.issues);
                    r.wrong_type::<()>("a string", &k.shape());
                    return;
                }
            },
        };
        self.kinds[i] = Some(kind);
        self.check_fields(&base, c, Some(kind), false);
        let table = c.item.as_ref().map(Input::shape);
        let mut r = Reader::new(base, &mut self.issues);
        let placed = placement::read(kind, entries_of(&table), &mut r);
        self.gossip[i] = placement::gossip(kind, field_of(c.item.as_ref(), &["gossip"]), &mut r);
        let n = placed.as_ref().map_or(0, |(p, _)| p.len());
        if n > MAX_GOSSIP_REPLICAS && matches!(self.gossip[i], Some(Some(_))) {
            let views = (n as f64).powi(2) * 8.125 / f64::from(1u32 << 30);
            let issue = r
                .problem(format!(
                    "{n} replicas gossiping: every view holds every replica ({views:.1} GiB of views): at most {MAX_GOSSIP_REPLICAS}"
                ))
                .value(n.to_string())
                .hint("model a large fleet with fewer, larger replicas, or set gossip = false".to_owned());
            r.push(issue);
        }
        (self.placements[i], self.standby[i]) = placed.map_or((None, 0), |(p, s)| (Some(p), s));
    }

    // ---- components, pass 2 ---------------------------------------------------------------

    fn build_kind(&mut self, i: usize) -> Option<KindSpec> {
        let raw = self.raw;
        let c = raw.components.get_index(i).map(|(_, c)| c)?;
        let base = self.base(i);
        self.build_kind_from(i, &base, c)
    }

    /// Group `i`'s settings as `c` gives them (its own table, or a config change's).
    fn build_kind_from(&mut self, i: usize, base: &[String], c: &RawComponent) -> Option<KindSpec> {
        let kind = self.kinds[i]?;
        let base = base.to_vec();
        let table = c.item.as_ref().map(Input::shape);
        let entries = entries_of(&table);
        // Read the kind's own settings even when the server settings are bad, so that their
        // problems are reported too; the placeholder is never used (nor a client's).
        let server = match kind {
            Kind::Client | Kind::Network => Some(server::defaults(kind)),
            _ => self.server(&base, c, kind),
        };
        let ok = server.is_some();
        let server = server.unwrap_or_else(|| server::defaults(kind));
        let mut b = Build {
            group: i,
            base,
            entries,
            resolve: self,
        };
        read_kind(kind, &mut b, server).filter(|_| ok)
    }

    fn server(&mut self, base: &[String], c: &RawComponent, kind: Kind) -> Option<ServerSpec> {
        let table = c.item.as_ref().map(Input::shape);
        let entries = entries_of(&table);
        server::read(
            kind,
            entries,
            &mut Reader::new(base.to_vec(), &mut self.issues),
        )
    }

    // ---- network, links, faults -----------------------------------------------------------

    fn regions(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for p in self.placements.iter().flatten() {
            if let Some(first) = p.first()
                && !out.contains(&first.region.as_str())
            {
                out.push(first.region.as_str());
            }
        }
        out
    }

    fn network(&mut self) -> Option<NetworkSpec> {
        let base = vec!["network".to_owned()];
        let n = self.declared::<NetworkSettings>(base.clone(), self.raw.network.as_ref())?;
        let regions: Vec<String> = self.regions().into_iter().map(str::to_owned).collect();
        let regions: Vec<&str> = regions.iter().map(String::as_str).collect();
        let mut region_latency: Option<Vec<(String, String, SimTime)>> = Some(Vec::new());
        for (j, r) in n.regions.into_iter().enumerate() {
            let path = join(&join(&join(&base, "regions"), j), "between");
            let (a, b) = r.between;
            for (k, name) in [&a, &b].into_iter().enumerate() {
                if !regions.contains(&name.as_str()) {
                    self.push(
                        Issue::new(
                            join(&path, k),
                            format!("no component is placed in region '{name}'"),
                        )
                        .value(name.as_str())
                        .hint(suggest(name, "regions in use", &regions)),
                    );
                    region_latency = None;
                }
            }
            if let Some(v) = region_latency.as_mut() {
                if let Some(first) = v
                    .iter()
                    .position(|(x, y, _)| (*x == a && *y == b) || (*x == b && *y == a))
                {
                    self.push(Issue::new(
                        path,
                        format!("the latency between '{a}' and '{b}' is given twice (also network.regions.{first})"),
                    ));
                    region_latency = None;
                } else {
                    v.push((a, b, r.latency));
                }
            }
        }
        Some(NetworkSpec {
            same_zone: n.same_zone,
            cross_zone: n.cross_zone,
            cross_region: n.cross_region,
            region_latency: region_latency?,
            links: Vec::new(),
        })
    }

    fn links(&mut self) -> Option<Vec<LinkSpec>> {
        let raw = self.raw;
        let mut out = Some(Vec::new());
        for (j, item) in raw.links.iter().enumerate() {
            let path = vec!["links".to_owned(), j.to_string()];
            let Some(l) = self.declared::<LinkSettings>(path.clone(), Some(item)) else {
                out = None;
                continue;
            };
            let bpath = join(&path, "between");
            let a = self.group_ref(join(&bpath, 0), &l.between.0, Role::Any);
            let b = self.group_ref(join(&bpath, 1), &l.between.1, Role::Any);
            let (Some(a), Some(b)) = (a, b) else {
                out = None;
                continue;
            };
            let region = |g: usize| {
                self.placements[g]
                    .as_ref()
                    .and_then(|p| p.first())
                    .map(|p| p.region.clone())
            };
            if l.latency.is_zero() && region(a) != region(b) {
                self.push(
                    Issue::new(
                        join(&path, "latency"),
                        "must be greater than 0 between groups in different regions",
                    )
                    .value(l.latency.to_string()),
                );
                out = None;
            }
            if let Some(v) = out.as_mut() {
                v.push(LinkSpec {
                    a,
                    b,
                    latency: l.latency,
                });
            }
        }
        out
    }

    fn faults(&mut self) -> Option<Vec<FaultSpec>> {
        let raw = self.raw;
        let shapes: Vec<Option<Shape<'_>>> = raw
            .faults
            .iter()
            .map(|f| f.item.as_ref().map(Input::shape))
            .collect();
        // Names first: actions refer to faults by name.
        self.fault_names = shapes
            .iter()
            .map(|s| match s {
                Some(Shape::Table(entries)) => Some(fault_name(entries)),
                _ => None,
            })
            .collect();
        let names: Vec<Option<String>> = self
            .fault_names
            .iter()
            .map(|n| n.as_ref().map(|(n, _)| n.clone()))
            .collect();
        let mut out = Some(Vec::new());
        for (j, shape) in shapes.iter().enumerate() {
            let fault = match shape {
                Some(Shape::Table(entries)) => {
                    let unique = self.unique_name("faults", j, text(entries, "name"), &names);
                    read_fault(j, entries, self).filter(|_| unique)
                }
                _ => None,
            };
            match (fault, out.as_mut()) {
                (Some(f), Some(v)) => v.push(f),
                _ => out = None,
            }
        }
        out
    }

    /// Whether entry `j` of `list` (faults, alarms or actions) has a name no earlier entry has;
    /// if not, reports it. `names` holds every entry's name (written or default), `written`
    /// the one written, if any.
    fn unique_name(
        &mut self,
        list: &str,
        j: usize,
        written: Option<&str>,
        names: &[Option<String>],
    ) -> bool {
        let Some(Some(name)) = names.get(j) else {
            return true;
        };
        if name.is_empty() {
            return true; // Reported as empty.
        }
        let Some(first) = names[..j].iter().position(|n| n.as_ref() == Some(name)) else {
            return true;
        };
        let what = list.trim_end_matches('s');
        let base = vec![list.to_owned(), j.to_string()];
        let (path, hint) = match written {
            Some(_) => (
                join(&base, "name"),
                if list == "actions" {
                    "give each action its own name".to_owned()
                } else {
                    format!("actions refer to {list} by name, so each {what} needs its own")
                },
            ),
            None => (
                base,
                format!(
                    "'{name}' is this {what}'s default name: give it a name = \"...\" of its own"
                ),
            ),
        };
        self.push(
            Issue::new(
                path,
                format!("{what} name '{name}' is used twice (also {list}.{first})"),
            )
            .value(name.clone())
            .hint(hint),
        );
        false
    }

    /// Whether group `g` has gossip; if not, reports it at `path` (`what` the fault or action
    /// would do to it).
    fn needs_gossip(&mut self, path: Path, g: usize, what: &str) -> bool {
        let Some(kind) = self.kinds[g] else {
            return true;
        };
        if kind == Kind::Client || !matches!(self.gossip[g], Some(None)) {
            return true; // Clients are refused on their own; bad gossip is reported already.
        }
        let name = self.names[g];
        let hint = if kind == Kind::Monitor {
            let with: Vec<&str> = (0..self.names.len())
                .filter(|&k| matches!(self.gossip[k], Some(Some(_))))
                .map(|k| self.names[k])
                .collect();
            format!(
                "monitors do not gossip; {}",
                suggest(name, "groups with gossip", &with)
            )
        } else if self
            .raw
            .components
            .get(name)
            .and_then(|c| field_of(c.item.as_ref(), &["gossip"]))
            .is_some_and(|g| matches!(g.shape(), Shape::Bool(false)))
        {
            format!("'{name}' has gossip = false: remove it, or set gossip = {{ ... }}")
        } else {
            format!(
                "add gossip = {{ ... }} (or gossip = true) to '{name}', or use a storage group (storage gossips by default)"
            )
        };
        self.push(
            Issue::new(path, format!("'{name}' has no gossip to {what}"))
                .value(name)
                .hint(hint),
        );
        false
    }

    /// A config change's `set`: the group's settings after it, and the entries as written.
    fn config_set(
        &mut self,
        j: usize,
        target: Option<usize>,
    ) -> Option<(KindSpec, Vec<(String, String)>)> {
        let raw = self.raw;
        let f = &raw.faults[j];
        let spath = vec!["faults".to_owned(), j.to_string(), "set".to_owned()];
        let entries = &f.set_entries;
        if entries.is_empty() {
            self.push(
                Issue::new(spath, "sets nothing").hint(
                    "e.g. set = { workers = 4, \"health_check.kind\" = \"deep\" }".to_owned(),
                ),
            );
            return None;
        }
        // A client's settings may change (its retries, timeout, target), not its traffic.
        let client = target.is_some_and(|g| self.kinds[g] == Some(Kind::Client));
        let mut ok = true;
        for e in entries {
            let Some(first) = e.path.first() else {
                ok = false; // Not a path: reported already.
                continue;
            };
            let (message, hint) = if FIXED_FIELDS.contains(&first.as_str()) {
                (
                    format!("a config change cannot set '{first}'"),
                    "a config change alters settings, not the group's size or place (kind, replicas, standby, region, zone, zones, segment and gossip stay as they are)",
                )
            } else if client && CLIENT_TRAFFIC.contains(&first.as_str()) {
                (
                    format!("a config change cannot set a client's '{first}'"),
                    "a config change alters how a client calls (retry, timeout, target, resolver, write_fraction); change its traffic with a traffic_surge fault",
                )
            } else {
                continue;
            };
            let mut p = spath.clone();
            p.extend(e.key.iter().cloned());
            self.push(
                Issue::new(p, message)
                    .value(e.text.clone())
                    .hint(hint.to_owned())
                    .at_key(),
            );
            ok = false;
        }
        let g = target?;
        if matches!(self.kinds[g], None | Some(Kind::Monitor)) {
            return None; // Reported already.
        }
        // None: the changed table could not be read (reported at its settings).
        let after = f.after.as_deref()?;
        let after = self.build_after(j, g, after, entries);
        if !ok {
            return None;
        }
        let set = entries
            .iter()
            .map(|e| (path_string(&e.path), e.text.clone()))
            .collect();
        Some((after?, set))
    }

    /// Group `g`'s settings after config change `j` (`c`: its table with the change applied),
    /// validated like the group itself. Problems are placed at the setting that causes them,
    /// or at `set` when none does; problems the group has anyway are not repeated. New
    /// references (dependencies, DNS names) join the topology checks, placed likewise.
    fn build_after(
        &mut self,
        j: usize,
        g: usize,
        c: &RawComponent,
        entries: &[RawSet],
    ) -> Option<KindSpec> {
        let kind = self.kinds[g]?;
        let comp = self.base(g);
        let set_base = vec!["faults".to_owned(), j.to_string(), "set".to_owned()];
        let marks = (
            self.issues.len(),
            self.deps[g].len(),
            self.traffic.len(),
            self.dns_names.len(),
        );
        self.check_fields(&comp, c, Some(kind), true);
        let spec = self.build_kind_from(g, &comp, c);
        let remap = |path: &[String]| -> Option<Path> {
            let rel = path.strip_prefix(comp.as_slice())?;
            let key = set_origin(entries, rel)?;
            let mut p = set_base.clone();
            p.extend(key);
            Some(p)
        };
        for mut issue in self.issues.split_off(marks.0) {
            if self
                .issues
                .iter()
                .any(|o| o.path == issue.path && o.message == issue.message)
            {
                continue; // The group's own problem, reported at the group.
            }
            match remap(&issue.path) {
                Some(p) => issue.path = p,
                None => {
                    issue.message = format!(
                        "with these settings, {}: {}",
                        path_string(&issue.path),
                        issue.message
                    );
                    issue.path = set_base.clone();
                    issue.anchor = super::error::Anchor::Value;
                }
            }
            self.push(issue);
        }
        let place = |path: &[String]| remap(path).unwrap_or_else(|| set_base.clone());
        for (to, path) in self.deps[g].split_off(marks.1) {
            if !self.deps[g].iter().any(|(t, _)| *t == to) {
                self.deps[g].push((to, place(&path)));
            }
        }
        for t in &mut self.traffic[marks.2..] {
            t.2 = place(&t.2);
        }
        for d in &mut self.dns_names[marks.3..] {
            d.0 = place(&d.0);
        }
        spec
    }

    // ---- replay: clock, published timeline, what-ifs ---------------------------------------

    /// The replay material; `clock` is None when `[scenario]` could not be read.
    fn replay(&mut self, clock: Option<Option<Clock>>) -> Option<Replay> {
        let raw = self.raw;
        let mut ok = true;
        let mut published = Vec::new();
        for (j, item) in raw.published.iter().enumerate() {
            let base = vec!["published".to_owned(), j.to_string()];
            let Some(p) = self.declared::<PublishedSettings>(base.clone(), Some(item)) else {
                ok = false;
                continue;
            };
            let Some(Some(clock)) = &clock else {
                if clock.is_some() {
                    self.push(
                    Issue::new(join(&base, "at"), "a published time needs scenario.clock")
                        .value(field_text(item, "at"))
                        .hint("add clock = \"HH:MM\" under [scenario]: the wall-clock time of simulated time 0".to_owned()),
                    );
                }
                ok = false;
                continue;
            };
            let milestone = match &p.r#match {
                None => Some(None),
                Some(m) => self.milestone(join(&base, "match"), m).map(Some),
            };
            match milestone {
                Some(milestone) => published.push(Published {
                    at: clock.offset(p.at),
                    event: p.event,
                    milestone,
                }),
                None => ok = false,
            }
        }
        let mut what_ifs: Vec<WhatIf> = Vec::new();
        for (j, item) in raw.what_ifs.iter().enumerate() {
            let path = vec!["what_ifs".into(), j.to_string()];
            let Some(w) = self.declared::<WhatIfSettings>(path.clone(), Some(item)) else {
                ok = false;
                continue;
            };
            if let Some(first) = what_ifs.iter().position(|x| x.name == w.name) {
                self.push(
                    Issue::new(
                        join(&path, "name"),
                        format!(
                            "what-if name '{}' is used twice (also what_ifs.{first})",
                            w.name
                        ),
                    )
                    .value(w.name.clone())
                    .hint("give each what-if its own name: reports list them by name".to_owned()),
                );
                ok = false;
            }
            what_ifs.push(w.into_what_if());
        }
        ok.then_some(Replay {
            clock: clock.flatten(),
            published,
            what_ifs,
        })
    }

    fn milestone(&mut self, path: Path, text: &str) -> Option<Milestone> {
        let fixed = [
            Milestone::Fault,
            Milestone::Impact,
            Milestone::Detect,
            Milestone::Mitigate,
            Milestone::Recover,
        ];
        if let Some(i) = MILESTONES.iter().position(|m| *m == text) {
            return Some(fixed[i].clone());
        }
        let words = "\"fault\", \"impact\", \"detect\", \"mitigate\", \"recover\", \"fault:NAME\", \"alarm:NAME\", \"action:NAME\", \"recover:CLIENT\", \"first:EVENT\" or \"last:EVENT\"";
        let Some((what, name)) = text.split_once(':') else {
            let hint = match closest(text, MILESTONES.iter().copied()) {
                Some(c) => format!("did you mean '{c}'? (one of {words})"),
                None => format!("one of {words}"),
            };
            self.push(
                Issue::new(path, "not a moment of the run")
                    .value(text)
                    .hint(hint),
            );
            return None;
        };
        if what == "recover" {
            let clients: Vec<&str> = (0..self.names.len())
                .filter(|&i| self.kinds[i] == Some(Kind::Client))
                .map(|i| self.names[i])
                .collect();
            if clients.contains(&name) {
                return Some(Milestone::ClientRecovered(name.to_owned()));
            }
            let hint = suggest(name, "client groups", &clients);
            self.push(
                Issue::new(path, format!("no client group is named '{name}'"))
                    .value(text)
                    .hint(hint),
            );
            return None;
        }
        if matches!(what, "first" | "last") {
            if let Some(&k) = EVENT_KINDS.iter().find(|k| **k == name) {
                return Some(if what == "first" {
                    Milestone::FirstEvent(k)
                } else {
                    Milestone::LastEvent(k)
                });
            }
            let hint = suggest(name, "event kinds", EVENT_KINDS);
            self.push(
                Issue::new(path, format!("'{name}' is not a kind of event a run logs"))
                    .value(text)
                    .hint(hint),
            );
            return None;
        }
        let raw = self.raw;
        let names: Vec<String> = match what {
            "fault" => self
                .fault_names
                .iter()
                .map(|n| n.as_ref().map(|(n, _)| n.clone()).unwrap_or_default())
                .collect(),
            "alarm" => self
                .alarm_names
                .iter()
                .map(|n| n.clone().unwrap_or_default())
                .collect(),
            "action" => raw
                .actions
                .iter()
                .enumerate()
                .map(|(j, a)| {
                    let name = a.as_ref().and_then(written_name);
                    name.map_or_else(|| format!("action-{j}"), str::to_owned)
                })
                .collect(),
            _ => {
                self.push(
                    Issue::new(path, format!("'{what}' is not something a run can match"))
                        .value(text)
                        .hint(format!("one of {words}")),
                );
                return None;
            }
        };
        match names.iter().position(|n| n == name) {
            Some(i) => Some(match what {
                "fault" => Milestone::NamedFault(i),
                "alarm" => Milestone::Alarm(i),
                _ => Milestone::Action(i),
            }),
            None => {
                let list_name = format!("{what}s");
                let refs: Vec<&str> = names
                    .iter()
                    .map(String::as_str)
                    .filter(|n| !n.is_empty())
                    .collect();
                let hint = if refs.is_empty() {
                    format!("the scenario has no {list_name}")
                } else {
                    suggest(name, &list_name, &refs)
                };
                self.push(
                    Issue::new(path, format!("no {what} is named '{name}'"))
                        .value(text)
                        .hint(hint),
                );
                None
            }
        }
    }

    // ---- alarms and actions ---------------------------------------------------------------

    fn alarms(&mut self) -> Option<Vec<AlarmSpec>> {
        let raw = self.raw;
        self.alarm_names = entry_names(&raw.alarms, "alarm");
        let names = self.alarm_names.clone();
        self.named_entries("alarms", &raw.alarms, &names, read_alarm)
    }

    fn autoscalers(&mut self, built: &[Option<KindSpec>]) -> Option<Vec<AutoscalerSpec>> {
        let raw = self.raw;
        let names = entry_names(&raw.autoscalers, "autoscaler");
        let scalers =
            self.named_entries("autoscalers", &raw.autoscalers, &names, read_autoscaler)?;
        let mut ok = true;
        for (j, a) in scalers.iter().enumerate() {
            // Load balancers, or callers pooling connections to it, spread work over the
            // replicas it adds.
            let balanced = built.iter().any(|k| match k {
                Some(KindSpec::LoadBalancer(l)) => l.backends == a.group,
                Some(k) => crate::model::policy::conn::kind_pools_to(k, a.group),
                None => false,
            });
            // A kind that could not be built is reported already; it may be the balancer.
            if !balanced && built.iter().all(Option::is_some) {
                let name = self.names[a.group];
                self.push(
                    Issue::new(
                        vec!["autoscalers".into(), j.to_string(), "group".into()],
                        format!("no load balancer balances '{name}' and no caller pools connections to it: the replicas it adds would get no traffic"),
                    )
                    .value(name)
                    .hint(format!("put a load balancer with backends = \"{name}\" in front of it, or give its callers connection pools (connections = {{ pool = ... }})")),
                );
                ok = false;
            }
            for (k, b) in scalers[..j].iter().enumerate() {
                if b.group == a.group {
                    self.push(
                        Issue::new(
                            vec!["autoscalers".into(), j.to_string(), "group".into()],
                            format!(
                                "'{}' has an autoscaler already (autoscalers.{k})",
                                self.names[a.group]
                            ),
                        )
                        .value(self.names[a.group])
                        .hint("one autoscaler per group: two would fight over its size".to_owned()),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(scalers)
    }

    fn actions(&mut self) -> Option<Vec<ActionSpec>> {
        let raw = self.raw;
        let names = entry_names(&raw.actions, "action");
        self.named_entries("actions", &raw.actions, &names, read_action)
    }

    /// Reads each entry of `list` (alarms or actions) with `read`, checking that `names` are
    /// unique; None if any entry has a problem.
    fn named_entries<T>(
        &mut self,
        list: &str,
        items: &[Option<Item>],
        names: &[Option<String>],
        read: ReadEntry<T>,
    ) -> Option<Vec<T>> {
        let mut out = Some(Vec::new());
        for (j, item) in items.iter().enumerate() {
            let got = item.as_ref().and_then(|item| {
                let unique = self.unique_name(list, j, written_name(item), names);
                let Shape::Table(entries) = item.shape() else {
                    return None;
                };
                read(j, &entries, self).filter(|_| unique)
            });
            match (got, out.as_mut()) {
                (Some(x), Some(v)) => v.push(x),
                _ => out = None,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use crate::engine::SimTime;
    use crate::scenario::error::line_col;
    use crate::scenario::{Origin, Problem, parse};

    const HEAD: &str = "[scenario]\nname = \"t\"\nduration = \"1h\"\n\n";
    const USERS: &str = "[components.users]\nkind = \"client\"\nrate = 5.0\ntarget = \"api\"\n\n";
    const API: &str = "[components.api]\nkind = \"service\"\n\n";

    fn problems(text: &str) -> Vec<Problem> {
        match parse(text, "t.toml") {
            Ok(_) => panic!("expected problems in:\n{text}"),
            Err(e) => e.problems,
        }
    }

    /// The only problem of `text`.
    fn single(text: &str) -> Problem {
        let ps = problems(text);
        assert_eq!(
            ps.len(),
            1,
            "expected one problem, got {ps:#?}\nin:\n{text}"
        );
        ps.into_iter().next().unwrap_or_else(|| unreachable!())
    }

    /// The file position of the first occurrence of `needle`; a `|` in it marks the exact
    /// position within the match (e.g. `"workers = |0"`).
    fn at(text: &str, needle: &str) -> Origin {
        let (before, after) = needle.split_once('|').unwrap_or(("", needle));
        let whole = format!("{before}{after}");
        let offset = text
            .find(&whole)
            .map(|i| i + before.len())
            .unwrap_or_else(|| panic!("{whole:?} not in text"));
        let (line, column) = line_col(text, offset);
        Origin::File { line, column }
    }

    /// Asserts path, message and position (the first occurrence of `needle`).
    fn check(p: &Problem, text: &str, path: &str, message: &str, needle: &str) {
        assert_eq!(p.path, path, "{p:#?}");
        assert_eq!(p.message, message, "{p:#?}");
        assert_eq!(p.origin, at(text, needle), "{p:#?}");
    }

    fn hint(p: &Problem) -> &str {
        p.hint.as_deref().unwrap_or("")
    }

    fn base() -> String {
        format!("{HEAD}{USERS}{API}")
    }

    #[test]
    fn names_with_control_characters_are_refused() {
        let text = base().replace("name = \"t\"", "name = \"t\\nrm -rf /\"");
        assert_ne!(text, base(), "the base names its scenario \"t\"");
        let p = single(&text);
        assert_eq!(p.path, "scenario.name");
        assert_eq!(p.message, "must not contain control characters");
        let text = format!("{}\n[components.\"a\\tb\"]\nkind = \"service\"\n", base());
        let p = single(&text);
        assert_eq!(
            p.message,
            "a component name must not contain control characters"
        );
    }

    #[test]
    fn a_zone_name_in_two_regions_is_refused() {
        let text = format!(
            "{}\n[components.db]\nkind = \"storage\"\nregion = \"eu\"\nzone = \"default-a\"\n",
            base()
        );
        let p = single(&text);
        assert_eq!(p.path, "components.db.zone");
        assert_eq!(
            p.message,
            "zone 'default-a' is in region 'eu' here but in region 'default' for 'users'"
        );
    }

    #[test]
    fn too_many_metrics_buckets_are_refused_before_the_run() {
        let text = base().replace("duration = \"1h\"", "duration = \"1h\"\nbucket = \"1ns\"");
        assert_ne!(text, base());
        let p = single(&text);
        assert_eq!(p.path, "scenario.bucket");
        assert_eq!(
            p.message,
            "3600000000000 metrics buckets of 1ns in a run of 1h: at most 100000"
        );
        assert_eq!(
            hint(&p),
            "every group keeps counters per bucket; use a bucket of at least 36ms"
        );
    }

    /// Validation stays near-linear in the number of faults: 50,000 are read in about a
    /// second in release (quadratic work would take minutes and stand out in the suite's time;
    /// no speed is asserted).
    #[test]
    fn fifty_thousand_faults_validate() {
        let mut text = base();
        for i in 0..50_000 {
            let _ = write!(
                text,
                "\n[[faults]]\nname = \"f{i}\"\nkind = \"slow\"\ntarget = \"api\"\nat = \"{i}s\"\nduration = \"1s\"\nfactor = 2.0\n"
            );
        }
        let spec = parse(&text, "t.toml").expect("valid");
        assert_eq!(spec.faults.len(), 50_000);
    }

    #[test]
    fn a_component_that_is_no_table_is_one_located_problem() {
        let text = "[scenario]\nname = \"x\"\nduration = \"1h\"\n\n[components]\napi = 3\n";
        let p = single(text);
        assert_eq!(p.path, "components.api");
        assert_eq!(p.message, "expected a table, found an integer");
    }

    #[test]
    fn reads_every_bad_field_of_one_component() {
        let text = format!(
            "{}\n[components.api2]\nkind = \"service\"\nworkerz = 3\nreplicas = \"two\"\nregion = \"r\"\n",
            base()
        );
        let found = problems(&text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].message, "unknown field 'workerz'");
        assert!(hint(&found[0]).starts_with("did you mean 'workers'?"));
        assert_eq!(found[1].path, "components.api2.replicas");
        assert_eq!(
            found[1].message,
            r#"expected a whole number, found string "two""#
        );
    }

    #[test]
    fn a_kinds_fields_are_placement_gossip_server_and_its_own_in_that_order() {
        let names = |kind| -> Vec<&str> {
            crate::model::kinds::component_fields(kind)
                .iter()
                .map(|f| f.name)
                .collect()
        };
        assert_eq!(
            names(crate::model::kinds::Kind::LoadBalancer),
            [
                "replicas",
                "region",
                "zone",
                "zones",
                "segment",
                "standby",
                "gossip",
                "workers",
                "queue",
                "service_time",
                "discipline",
                "by_priority",
                "shed_after",
                "lifo_threshold",
                "lifo_age",
                "codel_target",
                "codel_interval",
                "drop_abandoned",
                "backends",
                "policy",
                "weights",
                "health_check",
                "when_none_healthy",
                "timeout",
                "retry",
                "fallback",
                "fallback_below",
                "cells",
                "shuffle_shard",
                "rate_limit",
                "concurrency_limit",
            ]
        );
        assert_eq!(
            names(crate::model::kinds::Kind::Client),
            [
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
                "concurrency_limit",
                "hedge",
                "priority",
                "connections",
            ]
        );
        assert_eq!(
            names(crate::model::kinds::Kind::Network),
            [
                "replicas",
                "region",
                "zone",
                "zones",
                "segment",
                "standby",
                "gossip",
                "capacity",
                "queue",
                "joins",
                "connections",
            ]
        );
        assert_eq!(
            names(crate::model::kinds::Kind::Monitor),
            [
                "replicas",
                "region",
                "zone",
                "zones",
                "segment",
                "workers",
                "queue",
                "service_time",
                "discipline",
                "by_priority",
                "shed_after",
                "lifo_threshold",
                "lifo_age",
                "codel_target",
                "codel_interval",
                "drop_abandoned",
                "period",
            ]
        );
    }

    #[test]
    fn the_base_is_valid() {
        let spec = parse(&base(), "t.toml").expect("valid");
        assert_eq!(spec.groups.len(), 2);
    }

    #[test]
    fn unknown_kind() {
        let text = base().replace("kind = \"service\"", "kind = \"servise\"");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.api.kind",
            "unknown kind 'servise'",
            "\"servise\"",
        );
        assert_eq!(p.value.as_deref(), Some("servise"));
        assert!(
            hint(&p).starts_with("did you mean 'service'? (kinds: client, resolver, dns,"),
            "{p:?}"
        );
    }

    #[test]
    fn missing_kind_points_at_the_table() {
        let text = base().replace("kind = \"service\"\n", "workers = 2\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.api.kind",
            "missing required field 'kind'",
            "[components.api]",
        );
        assert!(hint(&p).contains("load_balancer"));
    }

    #[test]
    fn unknown_component_reference() {
        let text = base().replace("target = \"api\"", "target = \"ap\"");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.users.target",
            "unknown component 'ap'",
            "\"ap\"",
        );
        assert_eq!(hint(&p), "did you mean 'api'? (components: users, api)");
        // The example of the brief, in full.
        let e = parse(&text, "scenarios/mmc.toml").expect_err("bad");
        assert_eq!(
            e.to_string(),
            "error: scenarios/mmc.toml:8:10: components.users.target: unknown component 'ap'\n  \
             |\n\
             8 | target = \"ap\"\n  \
             |          ^^^^\n  \
             hint: did you mean 'api'? (components: users, api)"
        );
    }

    #[test]
    fn zero_and_negative_numbers() {
        let text = base().replace("rate = 5.0", "rate = 0.0");
        check(
            &single(&text),
            &text,
            "components.users.rate",
            "must be greater than 0, got 0",
            "0.0",
        );

        let text = format!("{HEAD}{USERS}[components.api]\nkind = \"service\"\nworkers = 0\n");
        check(
            &single(&text),
            &text,
            "components.api.workers",
            "must be at least 1, got 0",
            "workers = |0",
        );

        let text = format!("{HEAD}{USERS}[components.api]\nkind = \"service\"\nreplicas = -2\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.api.replicas",
            "must be at least 1, got -2",
            "-2",
        );
        assert_eq!(p.value.as_deref(), Some("-2"));

        let text = format!(
            "{HEAD}{USERS}{API}[components.net]\nkind = \"network\"\ncapacity = -5.0\njoins = [\"main\", \"x\"]\n\n[components.x-svc]\nkind = \"service\"\nsegment = \"x\"\n"
        );
        check(
            &single(&text),
            &text,
            "components.net.capacity",
            "must be greater than 0, got -5",
            "-5.0",
        );

        let text = format!("{HEAD}{USERS}[components.api]\nkind = \"service\"\nqueue = -1\n");
        check(
            &single(&text),
            &text,
            "components.api.queue",
            "must be at least 0, got -1",
            "-1",
        );
    }

    #[test]
    fn bad_durations() {
        let text = base().replace("duration = \"1h\"", "duration = \"2x\"");
        let p = single(&text);
        check(
            &p,
            &text,
            "scenario.duration",
            "invalid duration \"2x\": unknown unit \"x\" (units: ns, us, ms, s, m, h, d)",
            "\"2x\"",
        );
        assert_eq!(p.value.as_deref(), Some("2x"));

        let text = base().replace(
            "target = \"api\"\n",
            "target = \"api\"\ntimeout = \"5 s\"\n",
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "components.users.timeout",
            "invalid duration \"5 s\": no spaces allowed inside a duration; write e.g. \"1h30m\"",
            "\"5 s\"",
        );

        // A number where a duration is expected: the hint says how to write it.
        let text = base().replace("target = \"api\"\n", "target = \"api\"\ntimeout = 5\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.users.timeout",
            "expected a duration such as \"30s\" or \"250ms\", found integer 5",
            "timeout = |5",
        );
        assert!(hint(&p).contains("\"5s\""));
    }

    #[test]
    fn duration_and_bucket() {
        let text = base().replace("duration = \"1h\"", "duration = \"0s\"");
        check(
            &single(&text),
            &text,
            "scenario.duration",
            "must be greater than 0, got \"0s\"",
            "\"0s\"",
        );

        let text = base().replace(
            "duration = \"1h\"\n",
            "duration = \"1h\"\nbucket = \"0s\"\n",
        );
        check(
            &single(&text),
            &text,
            "scenario.bucket",
            "must be greater than 0, got \"0s\"",
            "\"0s\"",
        );

        let text = base().replace(
            "duration = \"1h\"\n",
            "duration = \"1h\"\nbucket = \"2h\"\n",
        );
        check(
            &single(&text),
            &text,
            "scenario.bucket",
            "the metrics bucket 2h is longer than the run (1h)",
            "\"2h\"",
        );
    }

    #[test]
    fn ratios_out_of_range() {
        let text = base().replace(
            "target = \"api\"\n",
            "target = \"api\"\nwrite_fraction = 1.5\n",
        );
        check(
            &single(&text),
            &text,
            "components.users.write_fraction",
            "must be between 0 and 1, got 1.5",
            "1.5",
        );

        let text = base().replace(
            "target = \"api\"\n",
            "target = \"api\"\nretry = { attempts = 3, budget = -0.1 }\n",
        );
        check(
            &single(&text),
            &text,
            "components.users.retry.budget",
            "must be between 0 and 1, got -0.1",
            "-0.1",
        );

        for slo in ["0.0", "1.5"] {
            let text = base().replace(
                "duration = \"1h\"\n",
                &format!("duration = \"1h\"\nslo = {slo}\n"),
            );
            let p = single(&text);
            check(
                &p,
                &text,
                "scenario.slo",
                &format!(
                    "must be greater than 0 and at most 1, got {}",
                    slo.trim_end_matches(".0").replace("0.0", "0")
                ),
                slo,
            );
        }
        // 1 itself is a valid SLO.
        let text = base().replace("duration = \"1h\"\n", "duration = \"1h\"\nslo = 1.0\n");
        assert!(parse(&text, "t.toml").is_ok());

        let text = format!(
            "{HEAD}{USERS}[components.api]\nkind = \"cache\"\nbackend = \"db\"\nhit_ratio = 1.01\n\n[components.db]\nkind = \"storage\"\n"
        );
        check(
            &single(&text),
            &text,
            "components.api.hit_ratio",
            "must be between 0 and 1, got 1.01",
            "1.01",
        );
    }

    #[test]
    fn quorums_and_replication() {
        let db = |fields: &str| {
            format!(
                "{HEAD}{USERS}[components.api]\nkind = \"service\"\ncalls = [{{ target = \"db\" }}]\n\n[components.db]\nkind = \"storage\"\n{fields}"
            )
        };
        let text = db("replicas = 2\nreplication_factor = 3\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.db.replication_factor",
            "replication_factor 3 is more than replicas (2)",
            "replication_factor = |3",
        );
        assert!(hint(&p).contains("raise replicas to at least 3"));

        let text = db("replicas = 5\nreplication_factor = 3\nwrite_quorum = 4\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.db.write_quorum",
            "write_quorum 4 is more than replication_factor (3)",
            "write_quorum = |4",
        );

        let text = db("replicas = 5\nread_quorum = 0\n");
        check(
            &single(&text),
            &text,
            "components.db.read_quorum",
            "must be at least 1, got 0",
            "read_quorum = |0",
        );

        // Defaults: replication factor min(3, replicas), quorums a majority.
        let spec = parse(&db("replicas = 5\n"), "t.toml").expect("valid");
        let crate::model::spec::KindSpec::Storage(s) = &spec.groups[2].kind else {
            panic!()
        };
        assert_eq!(
            (s.replication_factor, s.read_quorum, s.write_quorum),
            (3, 2, 2)
        );
        let spec = parse(&db("replicas = 1\n"), "t.toml").expect("valid");
        let crate::model::spec::KindSpec::Storage(s) = &spec.groups[2].kind else {
            panic!()
        };
        assert_eq!(
            (s.replication_factor, s.read_quorum, s.write_quorum),
            (1, 1, 1)
        );
    }

    #[test]
    fn dependency_cycles() {
        let text = format!(
            "{HEAD}{USERS}[components.api]\nkind = \"service\"\ncalls = [{{ target = \"b\" }}]\n\n[components.b]\nkind = \"service\"\ncalls = [{{ target = \"c\" }}]\n\n[components.c]\nkind = \"proxy\"\nupstream = \"api\"\n"
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "components.api.calls.0.target",
            "dependency cycle: api -> b -> c -> api",
            "\"b\"",
        );

        let text = format!(
            "{HEAD}{USERS}[components.api]\nkind = \"load_balancer\"\nbackends = \"api\"\n"
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "components.api.backends",
            "dependency cycle: api -> api",
            "backends = |\"api\"",
        );
    }

    #[test]
    fn faults() {
        let fault = |body: &str| format!("{}[[faults]]\n{body}", base());
        let text = fault("kind = \"crash\"\ntarget = \"apj\"\nat = \"10m\"\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "faults.0.target",
            "unknown component 'apj'",
            "\"apj\"",
        );
        assert!(hint(&p).starts_with("did you mean 'api'?"));

        let text =
            fault("kind = \"traffic_surge\"\ntarget = \"api\"\nat = \"10m\"\nmultiplier = 2.0\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "faults.0.target",
            "traffic_surge applies to client components, and 'api' is a service",
            "\"api\"\nat",
        );
        assert_eq!(hint(&p), "clients: users");

        let text = fault("kind = \"crash\"\ntarget = \"api\"\nat = \"10m\"\nreplicas = [0, 1]\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "faults.0.replicas.1",
            "replica index 1 is out of range: 'api' has 1 replica(s), numbered 0 to 0",
            "1]",
        );

        let text = fault("kind = \"crash\"\ntarget = \"users\"\nat = \"10m\"\n");
        check(
            &single(&text),
            &text,
            "faults.0.target",
            "a crash fault cannot hit 'users': it is a client",
            "\"users\"\nat",
        );

        let text = fault("kind = \"crush\"\ntarget = \"api\"\nat = \"10m\"\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "faults.0.kind",
            "unknown fault kind 'crush'",
            "\"crush\"",
        );
        assert!(hint(&p).starts_with("did you mean 'crash'?"));

        // The replica faults and their parameters.
        let text = fault("kind = \"error\"\ntarget = \"api\"\nat = \"1m\"\nprobability = 1.5\n");
        check(
            &single(&text),
            &text,
            "faults.0.probability",
            "must be between 0 and 1, got 1.5",
            "1.5",
        );
        let text = fault("kind = \"slow\"\ntarget = \"api\"\nat = \"1m\"\n");
        let p = single(&text);
        assert_eq!(p.path, "faults.0.factor");
        assert!(p.message.contains("missing"), "{}", p.message);
        let text =
            fault("kind = \"capacity_loss\"\ntarget = \"api\"\nat = \"1m\"\nfraction = 2.0\n");
        check(
            &single(&text),
            &text,
            "faults.0.fraction",
            "must be at most 1, got 2",
            "2",
        );
        let text = fault("kind = \"hang\"\ntarget = \"users\"\nat = \"1m\"\n");
        check(
            &single(&text),
            &text,
            "faults.0.target",
            "a hang fault cannot hit 'users': it is a client",
            "\"users\"",
        );
        let text = fault(
            "kind = \"slow\"\ntarget = \"api\"\nat = \"1m\"\nfactor = 3.0\nprobability = 0.5\n",
        );
        check(
            &single(&text),
            &text,
            "faults.0.probability",
            "field 'probability' does not apply to fault kind 'slow'",
            "probability",
        );
        for ok in [
            "kind = \"hang\"\ntarget = \"api\"\nat = \"1m\"\n",
            "kind = \"slow\"\ntarget = \"api\"\nat = \"1m\"\nfactor = 3.0\n",
            "kind = \"error\"\ntarget = \"api\"\nat = \"1m\"\nprobability = 0.2\nwrong = true\n",
            "kind = \"capacity_loss\"\ntarget = \"api\"\nat = \"1m\"\nfraction = 0.5\n",
        ] {
            assert!(
                crate::scenario::load(&fault(ok), "t.toml", &[]).is_ok(),
                "{ok}"
            );
        }

        // Random failures: exactly one unit, known names, no clients.
        let failure = |body: &str| format!("{}\n[[failures]]\n{body}", base());
        let text = failure("target = \"api\"\nzone = \"z\"\nmtbf = \"1h\"\nmttr = \"1m\"\n");
        check(
            &single(&text),
            &text,
            "failures.0.zone",
            "give exactly one of target, zone and region",
            "zone = |\"z\"",
        );
        let text = failure("zone = \"nowhere\"\nmtbf = \"1h\"\nmttr = \"1m\"\n");
        let p = single(&text);
        assert_eq!(p.path, "failures.0.zone");
        assert_eq!(p.message, "no component is placed in zone 'nowhere'");
        let text = failure("target = \"users\"\nmtbf = \"1h\"\nmttr = \"1m\"\n");
        assert_eq!(
            single(&text).message,
            "failures cannot hit 'users': it is a client"
        );
        let text = failure(
            "target = \"api\"\nmtbf = { dist = \"weibull\", mean = \"1h\" }\nmttr = \"1m\"\n",
        );
        assert_eq!(single(&text).path, "failures.0.mtbf.shape");
        let ok = failure(
            "target = \"api\"\nmtbf = { dist = \"weibull\", mean = \"1h\", shape = 1.5 }\nmttr = { dist = \"lognormal\", mean = \"5m\", sigma = 0.5 }\n",
        );
        assert!(crate::scenario::load(&ok, "t.toml", &[]).is_ok());

        // Durations beyond 100 years are refused (they could overflow simulated time).
        let text =
            fault("kind = \"crash\"\ntarget = \"api\"\nat = \"10m\"\nduration = \"40000d\"\n");
        check(
            &single(&text),
            &text,
            "faults.0.duration",
            "\"40000d\" is longer than the 100 years a scenario may use",
            "\"40000d\"",
        );

        // A fault after the end is allowed (it never happens), so runs can be shortened.
        let text = fault("kind = \"crash\"\ntarget = \"api\"\nat = \"2h\"\n");
        assert!(crate::scenario::load(&text, "t.toml", &[]).is_ok());

        let text = fault("kind = \"crash\"\ntarget = \"api\"\nat = \"10m\"\nmultiplier = 2.0\n");
        check(
            &single(&text),
            &text,
            "faults.0.multiplier",
            "field 'multiplier' does not apply to fault kind 'crash'",
            "multiplier",
        );
    }

    const DNS: &str = "[components.resolver]\nkind = \"resolver\"\ndns = \"dns\"\n\n[components.dns]\nkind = \"dns\"\n\n[[components.dns.records]]\nname = \"www.example.com\"\ntargets = [\"api\"]\n\n";

    #[test]
    fn dns_names() {
        let ok = format!("{HEAD}{USERS}{API}{DNS}")
            .replace("target = \"api\"", "target = \"www.example.com\"");
        let spec = parse(&ok, "t.toml").expect("valid");
        let crate::model::spec::KindSpec::Client(c) = &spec.groups[0].kind else {
            panic!()
        };
        assert_eq!(
            c.target,
            crate::model::spec::Target::Dns {
                name: "www.example.com".into(),
                resolver: 2
            }
        );

        let text = ok.replace(
            "target = \"www.example.com\"",
            "target = \"www.exmple.com\"",
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "components.users.target",
            "no record of dns component 'dns' serves 'www.exmple.com'",
            "\"www.exmple.com\"",
        );
        assert!(
            hint(&p).starts_with("did you mean 'www.example.com'?"),
            "{p:?}"
        );

        // No resolver at all.
        let text = base().replace("target = \"api\"", "target = \"www.example.com\"");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.users.target",
            "'www.example.com' is not a component, and there is no resolver to look it up as a DNS name",
            "\"www.example.com\"",
        );

        // The resolver must be a resolver.
        let text = ok.replace(
            "target = \"www.example.com\"",
            "target = \"www.example.com\"\nresolver = \"dns\"",
        );
        check(
            &single(&text),
            &text,
            "components.users.resolver",
            "'dns' is a dns, not a resolver",
            "\"dns\"\n\n",
        );
    }

    #[test]
    fn client_target_of_kind_client() {
        let text = format!(
            "{HEAD}{USERS}{API}[components.bots]\nkind = \"client\"\nrate = 1.0\ntarget = \"users\"\n"
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "components.bots.target",
            "'users' is a client: clients send requests, they do not serve them",
            "\"users\"",
        );
        assert_eq!(hint(&p), "aim at a component that serves requests: api");
    }

    #[test]
    fn segments_and_network_groups() {
        let text = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\nsegment = \"internal\"\n",
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "components.users.target",
            "traffic from 'users' (segment 'main') to 'api' (segment 'internal') crosses segments, but no network component joins them",
            "\"api\"",
        );
        assert!(hint(&p).contains("joins = [\"main\", \"internal\"]"));

        // Joined: valid.
        let joined = format!(
            "{text}[components.net]\nkind = \"network\"\ncapacity = 1000.0\njoins = [\"internal\", \"main\"]\n"
        );
        assert!(
            parse(&joined, "t.toml").is_ok(),
            "{:?}",
            parse(&joined, "t.toml").err()
        );

        let text = format!(
            "{}[components.net]\nkind = \"network\"\ncapacity = 1000.0\njoins = [\"main\"]\n",
            base()
        );
        check(
            &single(&text),
            &text,
            "components.net.joins",
            "a network group must join at least 2 segments, got 1",
            "[\"main\"]",
        );

        let text = format!(
            "{}[components.net]\nkind = \"network\"\ncapacity = 1000.0\njoins = [\"main\", \"internl\"]\n",
            base()
        );
        check(
            &single(&text),
            &text,
            "components.net.joins.1",
            "no component is placed in segment 'internl'",
            "\"internl\"",
        );
    }

    #[test]
    fn missing_required_fields() {
        let text = base().replace("rate = 5.0\n", "");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.users.rate",
            "missing required field 'rate'",
            "[components.users]",
        );
        assert!(hint(&p).contains("rate = 10.0"));

        let text = base().replace("target = \"api\"\n", "");
        check(
            &single(&text),
            &text,
            "components.users.target",
            "missing required field 'target'",
            "[components.users]",
        );

        let text = format!(
            "{}[components.net]\nkind = \"network\"\njoins = [\"main\", \"x\"]\n",
            base()
        );
        let ps = problems(&text);
        check(
            &ps[0],
            &text,
            "components.net.capacity",
            "missing required field 'capacity'",
            "[components.net]",
        );

        let text = format!(
            "{HEAD}{USERS}[components.api]\nkind = \"cache\"\nbackend = \"db\"\n\n[components.db]\nkind = \"storage\"\n"
        );
        check(
            &single(&text),
            &text,
            "components.api.hit_ratio",
            "missing required field 'hit_ratio'",
            "[components.api]",
        );

        let text = base().replace("name = \"t\"\n", "");
        check(
            &single(&text),
            &text,
            "scenario.name",
            "missing required field 'name'",
            "[scenario]",
        );
        let text = base().replace("duration = \"1h\"\n", "");
        check(
            &single(&text),
            &text,
            "scenario.duration",
            "missing required field 'duration'",
            "[scenario]",
        );
        // No [scenario] at all: both, at the top of the file.
        let text = format!("{USERS}{API}");
        let ps = problems(&text);
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].origin, Origin::File { line: 1, column: 1 });
    }

    #[test]
    fn fields_that_do_not_belong() {
        let text = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\nbackends = \"users\"\n",
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "components.api.backends",
            "field 'backends' does not apply to kind 'service'",
            "backends",
        );
        assert!(hint(&p).starts_with("fields for kind 'service': replicas,"));

        let text = base().replace("kind = \"service\"\n", "kind = \"service\"\nworkerz = 3\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.api.workerz",
            "unknown field 'workerz'",
            "workerz",
        );
        assert!(hint(&p).starts_with("did you mean 'workers'?"));

        let text = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\nservice_time = { dist = \"exponential\", mean = \"1s\", sigma = 0.5 }\n",
        );
        check(
            &single(&text),
            &text,
            "components.api.service_time.sigma",
            "field 'sigma' does not apply to dist 'exponential'",
            "sigma",
        );

        let text = base().replace(
            "target = \"api\"\n",
            "target = \"api\"\nretry = { attempts = 2, base = \"1s\" }\n",
        );
        check(
            &single(&text),
            &text,
            "components.users.retry.base",
            "field 'base' does not apply to backoff 'none'",
            "base",
        );

        let text = base().replace("target = \"api\"\n", "target = \"api\"\nreplicas = 2\n");
        check(
            &single(&text),
            &text,
            "components.users.replicas",
            "field 'replicas' does not apply to kind 'client'",
            "replicas",
        );
    }

    #[test]
    fn other_value_checks() {
        let text = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\nzone = \"a\"\nzones = [\"a\", \"b\"]\n",
        );
        check(
            &single(&text),
            &text,
            "components.api.zones",
            "set either 'zone' or 'zones', not both",
            "zones",
        );

        let text = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\nservice_time = { dist = \"uniform\", min = \"3ms\", max = \"1ms\" }\n",
        );
        check(
            &single(&text),
            &text,
            "components.api.service_time.max",
            "max (1ms) is less than min (3ms)",
            "\"1ms\"",
        );

        let text = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\nqueue = \"infinite\"\n",
        );
        check(
            &single(&text),
            &text,
            "components.api.queue",
            "expected \"unbounded\" or a whole number, got \"infinite\"",
            "\"infinite\"",
        );

        let text = format!(
            "{HEAD}{USERS}[components.api]\nkind = \"load_balancer\"\nbackends = \"app\"\nhealth_check = {{ interval = \"1s\", timeout = \"2s\" }}\n\n[components.app]\nkind = \"service\"\n"
        );
        check(
            &single(&text),
            &text,
            "components.api.health_check.timeout",
            "the probe timeout (2s) is longer than the interval (1s)",
            "\"2s\"",
        );

        let text = format!(
            "{HEAD}{USERS}[components.api]\nkind = \"load_balancer\"\nbackends = \"app\"\npolicy = \"weighted\"\nweights = [1.0]\n\n[components.app]\nkind = \"service\"\nreplicas = 2\n"
        );
        check(
            &single(&text),
            &text,
            "components.api.weights",
            "expected 2 weights (one per backend replica), got 1",
            "[1.0]",
        );

        let text = base().replace(
            "target = \"api\"\n",
            "target = \"api\"\nretry = { attempts = 2, backoff = \"expo\" }\n",
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "components.users.retry.backoff",
            "unknown backoff 'expo'",
            "\"expo\"",
        );
        assert_eq!(
            hint(&p),
            "did you mean 'exponential'? (backoff: none, fixed, exponential)"
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let text = "[scenario]\nname = \"t\nduration = \"1h\"\n";
        let p = single(text);
        assert_eq!(p.path, "");
        assert!(p.message.starts_with("invalid TOML: "), "{p:?}");
        assert_eq!(
            p.origin,
            Origin::File {
                line: 2,
                column: 10
            }
        );

        let text = "[scenario]\nname = \"t\"\nname = \"u\"\n";
        let p = single(text);
        assert_eq!(
            p.message,
            "invalid TOML: duplicate key 'name': each key may appear once in a table"
        );
        assert_eq!(p.origin, Origin::File { line: 3, column: 1 });
    }

    #[test]
    fn many_problems_at_once() {
        let text = (
            "[scenario]\nname = \"t\"\nduration = \"2x\"\n\n[components.users]\nkind = \"client\"\nrate = -1.0\ntarget = \"ap\"\nretry = { attempts = 0 }\n\n[components.api]\nkind = \"servise\"\n\n[components.db]\nkind = \"storage\"\nwokers = 2\n"
        )
        .to_owned();
        let e = parse(&text, "x.toml").expect_err("bad");
        let summary: Vec<(String, String)> = e
            .problems
            .iter()
            .map(|p| (p.path.clone(), p.message.clone()))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "scenario.duration",
                    "invalid duration \"2x\": unknown unit \"x\" (units: ns, us, ms, s, m, h, d)"
                ),
                ("components.users.rate", "must be greater than 0, got -1"),
                ("components.users.target", "unknown component 'ap'"),
                (
                    "components.users.retry.attempts",
                    "must be at least 1, got 0"
                ),
                ("components.api.kind", "unknown kind 'servise'"),
                ("components.db.wokers", "unknown field 'wokers'"),
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        // In file order, with a count at the end.
        let lines: Vec<usize> = e
            .problems
            .iter()
            .map(|p| match p.origin {
                Origin::File { line, .. } => line,
                Origin::Set(_) => 0,
            })
            .collect();
        assert_eq!(lines, [3, 7, 8, 9, 12, 16]);
        assert!(e.to_string().ends_with("\n6 problems in x.toml"), "{e}");
        assert!(e.to_string().contains(
            "error: x.toml:16:1: components.db.wokers: unknown field 'wokers'\n   \
             |\n\
             16 | wokers = 2\n   \
             | ^^^^^^\n  \
             hint: did you mean 'workers'?"
        ));
    }

    #[test]
    fn bad_server_settings_do_not_hide_the_kind_settings() {
        let text = format!(
            "{HEAD}{USERS}[components.api]\nkind = \"load_balancer\"\nworkers = 0\nbackends = \"nope\"\n"
        );
        let ps = problems(&text);
        let paths: Vec<&str> = ps.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["components.api.workers", "components.api.backends"]);
    }

    #[test]
    fn no_components_or_no_client() {
        let text = HEAD.to_owned();
        let p = single(&text);
        assert_eq!(p.message, "the scenario has no components");
        let text = format!("{HEAD}{API}");
        let p = single(&text);
        assert_eq!(
            p.message,
            "the scenario has no client component: nothing would send requests"
        );
        assert_eq!(p.origin, at(&text, "components"));
    }

    #[test]
    fn regions_and_links() {
        let text = format!(
            "{}[[network.regions]]\nbetween = [\"default\", \"us-wst\"]\nlatency = \"30ms\"\n",
            base()
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "network.regions.0.between.1",
            "no component is placed in region 'us-wst'",
            "\"us-wst\"",
        );

        let text = format!(
            "{}[[links]]\nbetween = [\"users\", \"apo\"]\nlatency = \"1ms\"\n",
            base()
        );
        check(
            &single(&text),
            &text,
            "links.0.between.1",
            "unknown component 'apo'",
            "\"apo\"",
        );

        let text = format!(
            "{}[[links]]\nbetween = [\"users\", \"api\"]\nlatency = \"1ms\"\n",
            base()
        );
        let spec = parse(&text, "t.toml").expect("valid");
        assert_eq!(spec.network.links.len(), 1);
        assert_eq!((spec.network.links[0].a, spec.network.links[0].b), (0, 1));
    }

    // ---- operations: gossip, standby, monitors, config changes, alarms, actions -----------

    const STORE: &str = "[components.store]\nkind = \"storage\"\nreplicas = 100\n\n";
    const MON: &str = "[components.mon]\nkind = \"monitor\"\n\n";

    /// The base with a storage group and a monitor, then `extra`.
    fn ops(extra: &str) -> String {
        format!("{}{STORE}{MON}{extra}", base())
    }

    fn spec_of(text: &str) -> crate::model::spec::Spec {
        parse(text, "t.toml").unwrap_or_else(|e| panic!("{e}\nin:\n{text}"))
    }

    #[test]
    fn a_gossiping_group_too_large_for_its_views_is_refused() {
        let text = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\nreplicas = 20000\ngossip = true\n",
        );
        let p = single(&text);
        assert!(
            p.message.contains("20000 replicas gossiping"),
            "{}",
            p.message
        );
        assert!(p.message.contains("at most 16384"), "{}", p.message);
        // Without gossip the same group is fine.
        let quiet = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\nreplicas = 20000\n",
        );
        let _ = spec_of(&quiet);
    }

    #[test]
    fn gossip_forms() {
        use crate::model::spec::GossipSpec;
        // The exact inline form of the brief.
        let text = ops("").replace(
            "replicas = 100\n",
            "replicas = 100\ngossip = { interval = \"1s\", fanout = 1, fail_after = \"30s\", checksums = false }\n",
        );
        assert_eq!(spec_of(&text).groups[2].gossip, Some(GossipSpec::default()));
        // Storage gossips by default; false turns it off; true takes every default.
        assert_eq!(
            spec_of(&ops("")).groups[2].gossip,
            Some(GossipSpec::default())
        );
        let off = ops("").replace("replicas = 100\n", "replicas = 100\ngossip = false\n");
        assert_eq!(spec_of(&off).groups[2].gossip, None);
        assert_eq!(spec_of(&base()).groups[1].gossip, None);
        let on = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\ngossip = true\n",
        );
        assert_eq!(spec_of(&on).groups[1].gossip, Some(GossipSpec::default()));
        let full = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\ngossip = { interval = \"2s\", fanout = 3, fail_after = \"1m\", checksums = true, failed_fanout = 2, failed_rounds = 5, seeds = 1, cost = \"0s\" }\n",
        );
        assert_eq!(
            spec_of(&full).groups[1].gossip,
            Some(GossipSpec {
                interval: SimTime::from_secs(2),
                fanout: 3,
                fail_after: SimTime::MINUTE,
                checksums: true,
                failed_fanout: 2,
                failed_rounds: Some(5),
                seeds: 1,
                cost: SimTime::ZERO,
            })
        );

        // Never on clients or monitors.
        let text = base().replace("rate = 5.0\n", "rate = 5.0\ngossip = true\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.users.gossip",
            "field 'gossip' does not apply to kind 'client'",
            "gossip",
        );
        assert_eq!(
            hint(&p),
            "gossip runs among component replicas, and a client group has none"
        );
        let text = ops("").replace(
            "kind = \"monitor\"\n",
            "kind = \"monitor\"\ngossip = false\n",
        );
        let p = single(&text);
        assert_eq!(p.path, "components.mon.gossip");
        assert!(hint(&p).starts_with("gossip runs among component replicas"));

        // Bad values, all at once.
        let text = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\ngossip = { interval = \"0s\", fanout = 0, fail_after = \"0s\", checksum = true }\n",
        );
        let ps = problems(&text);
        let got: Vec<(&str, &str)> = ps
            .iter()
            .map(|p| (p.path.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "components.api.gossip.interval",
                    "must be greater than 0, got \"0s\""
                ),
                ("components.api.gossip.fanout", "must be at least 1, got 0"),
                (
                    "components.api.gossip.fail_after",
                    "must be greater than 0, got \"0s\""
                ),
                ("components.api.gossip.checksum", "unknown field 'checksum'"),
            ]
        );
        assert_eq!(ps[1].origin, at(&text, "fanout = |0"));
        let text = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\ngossip = \"on\"\n",
        );
        check(
            &single(&text),
            &text,
            "components.api.gossip",
            "expected true, false or a table such as { interval = \"1s\", fanout = 1 }, found string \"on\"",
            "\"on\"",
        );
    }

    #[test]
    fn standby_replicas() {
        let text = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\nreplicas = 3\nstandby = 2\nzones = [\"a\", \"b\"]\n",
        );
        let spec = spec_of(&text);
        let api = &spec.groups[1];
        assert_eq!((api.replicas(), api.standby), (5, 2));
        let zones: Vec<&str> = api.placement.iter().map(|p| p.zone.as_str()).collect();
        assert_eq!(zones, ["a", "b", "a", "b", "a"]);

        let text = base().replace("kind = \"service\"\n", "kind = \"service\"\nstandby = -1\n");
        check(
            &single(&text),
            &text,
            "components.api.standby",
            "must be at least 0, got -1",
            "-1",
        );
        let text = base().replace("rate = 5.0\n", "rate = 5.0\nstandby = 1\n");
        check(
            &single(&text),
            &text,
            "components.users.standby",
            "field 'standby' does not apply to kind 'client'",
            "standby",
        );
        let text = base().replace(
            "kind = \"service\"\n",
            "kind = \"service\"\nreplicas = 99999\nstandby = 2\n",
        );
        check(
            &single(&text),
            &text,
            "components.api.standby",
            "replicas and standby together must be at most 100000, got 99999 + 2",
            "standby = |2",
        );

        // Storage quorums count the replicas in service only.
        let text = format!(
            "{HEAD}{USERS}[components.api]\nkind = \"storage\"\nreplicas = 2\nstandby = 3\nreplication_factor = 3\n"
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "components.api.replication_factor",
            "replication_factor 3 is more than replicas (2)",
            "replication_factor = |3",
        );
        assert!(
            hint(&p)
                .ends_with("(standby replicas do not count: 3 of them wait for a scale action)")
        );
        let text = format!(
            "{HEAD}{USERS}[components.api]\nkind = \"storage\"\nreplicas = 2\nstandby = 3\n"
        );
        let spec = spec_of(&text);
        let crate::model::spec::KindSpec::Storage(st) = &spec.groups[1].kind else {
            panic!()
        };
        assert_eq!(st.replication_factor, 2);

        // Load balancer weights: one per backend replica, standby included.
        let lb = |weights: &str| {
            format!(
                "{HEAD}{USERS}[components.api]\nkind = \"load_balancer\"\nbackends = \"app\"\npolicy = \"weighted\"\nweights = {weights}\n\n[components.app]\nkind = \"service\"\nreplicas = 2\nstandby = 1\n"
            )
        };
        assert_eq!(spec_of(&lb("[1.0, 1.0, 0.5]")).groups.len(), 3);
        let text = lb("[1.0, 1.0]");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.api.weights",
            "expected 3 weights (one per backend replica), got 2",
            "[1.0, 1.0]",
        );
        assert_eq!(
            hint(&p),
            "'app' has 2 replicas and 1 standby: give one weight per replica, standby included (for when a scale action brings them in)"
        );
    }

    #[test]
    fn monitors() {
        use crate::model::spec::{KindSpec, MonitorSpec, ServerSpec};
        let spec = spec_of(&ops(""));
        assert_eq!(
            spec.groups[3].kind,
            KindSpec::Monitor(MonitorSpec {
                server: ServerSpec {
                    workers: 64,
                    queue: Some(1000),
                    service_time: crate::model::spec::Dist::Constant(SimTime::from_micros(100)),
                    queueing: Default::default(),
                },
                period: SimTime::from_secs(10),
            })
        );
        assert_eq!(spec.groups[3].gossip, None);

        let text = ops("").replace("kind = \"monitor\"\n", "kind = \"monitor\"\nreplicas = 2\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.mon.replicas",
            "a monitor has exactly one replica, got 2",
            "replicas = |2",
        );
        assert_eq!(
            hint(&p),
            "declare a second monitor group to make monitoring redundant"
        );
        let text = ops("").replace(
            "kind = \"monitor\"\n",
            "kind = \"monitor\"\nperiod = \"0s\"\n",
        );
        check(
            &single(&text),
            &text,
            "components.mon.period",
            "must be greater than 0, got \"0s\"",
            "\"0s\"",
        );
        let text = ops("").replace("kind = \"monitor\"\n", "kind = \"monitor\"\ncalls = []\n");
        assert_eq!(
            single(&text).message,
            "field 'calls' does not apply to kind 'monitor'"
        );

        // Nothing can call a monitor.
        let text = ops("").replace("target = \"api\"", "target = \"mon\"");
        let p = single(&text);
        check(
            &p,
            &text,
            "components.users.target",
            "'mon' is a monitor: it receives reports, it does not serve requests",
            "\"mon\"",
        );
        assert_eq!(
            hint(&p),
            "aim at a component that serves requests: api, store"
        );
        let text = ops("").replace(
            "kind = \"service\"\n",
            "kind = \"service\"\ncalls = [{ target = \"mon\" }]\n",
        );
        assert_eq!(single(&text).path, "components.api.calls.0.target");
    }

    /// A config change on `api` (a load balancer over `app`), with `set` and more fields.
    fn change(fields: &str) -> String {
        format!(
            "{HEAD}{USERS}[components.api]\nkind = \"load_balancer\"\nbackends = \"app\"\nhealth_check = {{ kind = \"shallow\" }}\n\n[components.app]\nkind = \"service\"\nreplicas = 3\n\n[[faults]]\nname = \"bad\"\nkind = \"config_change\"\ntarget = \"api\"\nat = \"10m\"\n{fields}"
        )
    }

    #[test]
    fn config_changes() {
        use crate::model::spec::{CheckKind, FaultKind, KindSpec};
        let spec = spec_of(&change(
            "set = { \"health_check.kind\" = \"deep\", workers = 4 }\nrollout = \"10m\"\nbatch = 2\nreplicas = [0]\n",
        ));
        let FaultKind::ConfigChange {
            replicas,
            after,
            set,
            rollout,
            batch,
        } = &spec.faults[0].kind
        else {
            panic!()
        };
        assert_eq!(
            (replicas.as_slice(), *rollout, *batch),
            (&[0][..], SimTime::from_mins(10), 2)
        );
        let KindSpec::LoadBalancer(l) = after.as_ref() else {
            panic!()
        };
        assert_eq!(l.server.workers, 4);
        assert_eq!(
            l.health_check.as_ref().map(|h| h.kind),
            Some(CheckKind::Deep)
        );
        assert_eq!(
            set,
            &[
                ("health_check.kind".to_owned(), "\"deep\"".to_owned()),
                ("workers".to_owned(), "4".to_owned())
            ]
        );
        // Dotted keys and a [faults.set] table mean the same; defaults: every replica, at once.
        for form in [
            "set = { health_check.kind = \"deep\", workers = 4 }\n",
            "[faults.set]\nhealth_check.kind = \"deep\"\nworkers = 4\n",
        ] {
            let spec = spec_of(&change(form));
            let FaultKind::ConfigChange {
                replicas,
                after: other,
                set: s2,
                rollout,
                batch,
            } = &spec.faults[0].kind
            else {
                panic!()
            };
            assert_eq!((replicas.len(), *rollout, *batch), (1, SimTime::ZERO, 1));
            assert_eq!((other, s2), (after, set), "{form}");
        }
        // A whole table replaces the one there.
        let spec = spec_of(&change(
            "set = { health_check = { kind = \"deep\", interval = \"1s\", timeout = \"1s\" } }\n",
        ));
        let FaultKind::ConfigChange { after, .. } = &spec.faults[0].kind else {
            panic!()
        };
        let KindSpec::LoadBalancer(l) = after.as_ref() else {
            panic!()
        };
        assert_eq!(
            l.health_check.as_ref().map(|h| h.interval),
            Some(SimTime::SECOND)
        );

        // Problems in `set` are placed at the setting's key, with the usual message.
        let text = change("set = { \"health_check.kind\" = \"deeep\", workers = 4 }\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "faults.0.set.\"health_check.kind\"",
            "unknown health check kind 'deeep'",
            "\"deeep\"",
        );
        assert_eq!(p.value.as_deref(), Some("deeep"));
        assert!(hint(&p).starts_with("did you mean 'deep'?"));
        let text = change("set = { workers = \"four\", wrkers = 2, calls = [] }\n");
        let ps = problems(&text);
        let got: Vec<(&str, &str)> = ps
            .iter()
            .map(|p| (p.path.as_str(), p.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "faults.0.set.workers",
                    "expected a whole number, found string \"four\""
                ),
                ("faults.0.set.wrkers", "unknown field 'wrkers'"),
                (
                    "faults.0.set.calls",
                    "field 'calls' does not apply to kind 'load_balancer'"
                ),
            ]
        );
        assert_eq!(ps[1].origin, at(&text, "wrkers"));
        assert!(hint(&ps[1]).starts_with("did you mean 'workers'?"));
        let text = change("set = { backends = \"ap\" }\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "faults.0.set.backends",
            "unknown component 'ap'",
            "\"ap\"",
        );
        assert!(hint(&p).starts_with("did you mean 'api'?"));
        // A problem no single setting holds is placed at `set`.
        let text = change("set = { policy = \"weighted\" }\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "faults.0.set",
            "with these settings, components.api.weights: missing required field 'weights'",
            "{ policy",
        );
        // A new dependency that closes a cycle.
        let text = change("set = { backends = \"api\" }\n");
        check(
            &single(&text),
            &text,
            "faults.0.set.backends",
            "dependency cycle: api -> api",
            "\"api\" }",
        );

        // Kind, size and place stay.
        let text = change("set = { replicas = 4, \"zone\" = \"b\" }\n");
        let ps = problems(&text);
        assert_eq!(ps.len(), 2, "{ps:#?}");
        check(
            &ps[0],
            &text,
            "faults.0.set.replicas",
            "a config change cannot set 'replicas'",
            "replicas = 4",
        );
        assert_eq!(
            hint(&ps[0]),
            "a config change alters settings, not the group's size or place (kind, replicas, standby, region, zone, zones, segment and gossip stay as they are)"
        );
        assert_eq!(ps[1].path, "faults.0.set.zone");
        let text = change("set = { kind = \"cache\" }\n");
        assert_eq!(single(&text).message, "a config change cannot set 'kind'");

        // The fields of the fault itself.
        let text = change("");
        check(
            &single(&text),
            &text,
            "faults.0.set",
            "missing required field 'set'",
            "[[faults]]",
        );
        let text = change("set = {}\n");
        check(&single(&text), &text, "faults.0.set", "sets nothing", "{}");
        let text = change("set = \"workers=4\"\n");
        check(
            &single(&text),
            &text,
            "faults.0.set",
            "expected a table of settings such as { workers = 4, \"health_check.kind\" = \"deep\" }, found string \"workers=4\"",
            "\"workers=4\"",
        );
        let text = change("set = { workers = 4 }\nbatch = 0\n");
        check(
            &single(&text),
            &text,
            "faults.0.batch",
            "must be at least 1, got 0",
            "batch = |0",
        );
        let text = change("set = { workers = 4 }\nduration = \"5m\"\nrollout = \"10m\"\n");
        check(
            &single(&text),
            &text,
            "faults.0.rollout",
            "the rollout (10m) is longer than the fault (5m)",
            "rollout = |\"10m\"",
        );
        let text = change("set = { workers = 4 }\nfactor = 2.0\n");
        let p = single(&text);
        assert_eq!(
            p.message,
            "field 'factor' does not apply to fault kind 'config_change'"
        );
        assert_eq!(
            hint(&p),
            "fields for fault kind 'config_change': replicas, set, rollout, batch"
        );
        let text = format!(
            "{}[[faults]]\nkind = \"crash\"\ntarget = \"api\"\nat = \"1m\"\nset = {{ workers = 1 }}\n",
            base()
        );
        assert_eq!(
            single(&text).message,
            "field 'set' does not apply to fault kind 'crash'"
        );
        let text = ops(
            "[[faults]]\nkind = \"config_change\"\ntarget = \"mon\"\nat = \"1m\"\nset = { workers = 2 }\n",
        );
        let p = single(&text);
        assert_eq!(
            p.message,
            "a config_change fault cannot hit 'mon': it is a monitor"
        );
        assert_eq!(
            hint(&p),
            "config changes roll out to component and client groups: users, api, store"
        );
    }

    #[test]
    fn a_flips_entry_and_bit_and_first_last_event_kinds_are_checked() {
        let text = ops(
            "[[faults]]\nname = \"bitflip\"\nkind = \"gossip_corruption\"\ntarget = \"store\"\nat = \"10m\"\n",
        );
        let p = single(&format!("{text}entry = 100\n"));
        assert_eq!(p.path, "faults.0.entry");
        assert_eq!(
            p.message,
            "entry 100 is not a replica of 'store' (it has 100)"
        );
        assert_eq!(hint(&p), "use a replica index from 0 to 99");
        let p = single(&format!("{text}bit = 32\n"));
        assert_eq!(p.path, "faults.0.bit");
        let p = single(&format!("{text}field = \"heartbeats\"\n"));
        assert!(hint(&p).contains("heartbeat"), "{}", hint(&p));
        let with_clock = text.replacen("[scenario]\n", "[scenario]\nclock = \"00:00 UTC\"\n", 1);
        let p = single(&format!(
            "{with_clock}\n[[published]]\nat = \"00:10\"\nevent = \"x\"\nmatch = \"last:gossip_completed\"\n"
        ));
        assert_eq!(
            p.message,
            "'gossip_completed' is not a kind of event a run logs"
        );
        assert!(
            hint(&p).starts_with("did you mean 'gossip_complete'?"),
            "{}",
            hint(&p)
        );
    }

    #[test]
    fn gossip_corruption() {
        use crate::model::spec::FaultKind;
        // The exact form of the brief, on a storage group of 100 replicas.
        let text = ops(
            "[[faults]]\nname = \"bitflip\"\nkind = \"gossip_corruption\"\ntarget = \"store\"\nat = \"10m\"\n",
        );
        let spec = spec_of(&text);
        assert_eq!(
            spec.faults[0].kind,
            FaultKind::GossipCorruption {
                replicas: vec![0],
                field: crate::model::policy::gossip::Field::Heartbeat,
                bit: 31,
                entry: None
            }
        );
        assert_eq!(spec.faults[0].name, "bitflip");
        let spec = spec_of(&format!("{text}replicas = [99]\n"));
        assert_eq!(
            spec.faults[0].kind,
            FaultKind::GossipCorruption {
                replicas: vec![99],
                field: crate::model::policy::gossip::Field::Heartbeat,
                bit: 31,
                entry: None
            }
        );

        let text =
            ops("[[faults]]\nkind = \"gossip_corruption\"\ntarget = \"api\"\nat = \"10m\"\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "faults.0.target",
            "'api' has no gossip to corrupt",
            "\"api\"\nat",
        );
        assert_eq!(
            hint(&p),
            "add gossip = { ... } (or gossip = true) to 'api', or use a storage group (storage gossips by default)"
        );
        let off = text
            .replace("target = \"api\"", "target = \"store\"")
            .replace("replicas = 100\n", "replicas = 100\ngossip = false\n");
        assert_eq!(
            hint(&single(&off)),
            "'store' has gossip = false: remove it, or set gossip = { ... }"
        );
        let text = ops(
            "[[faults]]\nkind = \"gossip_corruption\"\ntarget = \"store\"\nat = \"10m\"\nreplicas = [0, 1]\n",
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "faults.0.replicas",
            "a gossip corruption starts from one replica, got 2",
            "[0, 1]",
        );
        assert_eq!(hint(&p), "list one replica, e.g. replicas = [0]");
        let text = ops(
            "[[faults]]\nkind = \"gossip_corruption\"\ntarget = \"store\"\nat = \"10m\"\nreplicas = [100]\n",
        );
        assert_eq!(
            single(&text).message,
            "replica index 100 is out of range: 'store' has 100 replica(s), numbered 0 to 99"
        );
    }

    #[test]
    fn fault_names_are_unique() {
        let crash = "kind = \"crash\"\ntarget = \"api\"\nat = \"1m\"\n";
        let text = format!("{}[[faults]]\n{crash}\n[[faults]]\n{crash}", base());
        let p = single(&text);
        assert_eq!(p.path, "faults.1");
        assert_eq!(
            p.message,
            "fault name 'crash-api' is used twice (also faults.0)"
        );
        assert_eq!(
            hint(&p),
            "'crash-api' is this fault's default name: give it a name = \"...\" of its own"
        );
        let text = format!(
            "{}[[faults]]\nname = \"x\"\n{crash}\n[[faults]]\nname = \"x\"\n{crash}",
            base()
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "faults.1.name",
            "fault name 'x' is used twice (also faults.0)",
            "at = \"1m\"\n\n[[faults]]\nname = |\"x\"",
        );
        assert_eq!(
            hint(&p),
            "actions refer to faults by name, so each fault needs its own"
        );
        // Told apart by name, the same fault twice is fine.
        let text = format!(
            "{}[[faults]]\nname = \"x\"\n{crash}\n[[faults]]\n{crash}",
            base()
        );
        assert_eq!(spec_of(&text).faults.len(), 2);
    }

    /// An alarm on the ops scenario.
    fn alarm(fields: &str) -> String {
        ops(&format!("[[alarms]]\n{fields}"))
    }

    #[test]
    fn alarms() {
        use crate::model::spec::Metric;
        let spec = spec_of(&alarm(
            "group = \"store\"\nmetric = \"gossip_rate\"\nbelow = 0.5\n",
        ));
        let a = &spec.alarms[0];
        assert_eq!(a.name, "alarm-0");
        assert_eq!((a.monitor, a.group, a.metric), (3, 2, Metric::GossipRate));
        assert_eq!(
            (a.above, a.threshold, a.hold, a.missing_breaches),
            (false, 0.5, SimTime::ZERO, false)
        );
        // Every metric by name, on a group it fits.
        for (m, name) in Metric::ALL {
            let group = if m.for_clients() == Some(true) {
                "users"
            } else {
                "store"
            };
            let spec = spec_of(&alarm(&format!(
                "name = \"x\"\nmonitor = \"mon\"\ngroup = \"{group}\"\nmetric = \"{name}\"\nabove = 0.5\nfor = \"1m\"\nmissing = \"breaching\"\n"
            )));
            assert_eq!(spec.alarms[0].metric, m);
            assert!(spec.alarms[0].missing_breaches);
        }

        // The monitor: the only one by default; none, or several without a choice, is an error.
        let text = format!(
            "{}[[alarms]]\ngroup = \"api\"\nmetric = \"queue\"\nabove = 10.0\n",
            base()
        );
        let p = single(&text);
        check(
            &p,
            &text,
            "alarms.0.monitor",
            "there is no monitor to evaluate this alarm",
            "[[alarms]]",
        );
        assert!(
            hint(&p).starts_with("add a component with kind = \"monitor\""),
            "{p:?}"
        );
        let text = format!(
            "{}[components.mon2]\nkind = \"monitor\"\n\n[[alarms]]\ngroup = \"api\"\nmetric = \"queue\"\nabove = 10.0\n",
            ops("")
        );
        let p = single(&text);
        assert_eq!(
            (p.path.as_str(), p.message.as_str()),
            ("alarms.0.monitor", "missing required field 'monitor'")
        );
        assert_eq!(
            hint(&p),
            "there are several monitors: add monitor = one of: mon, mon2"
        );
        let text = alarm("monitor = \"api\"\ngroup = \"api\"\nmetric = \"queue\"\nabove = 10.0\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "alarms.0.monitor",
            "'api' is a service, not a monitor",
            "\"api\"\ngroup",
        );
        assert_eq!(hint(&p), "monitors: mon");
        let text = alarm("group = \"mon\"\nmetric = \"queue\"\nabove = 10.0\n");
        check(
            &single(&text),
            &text,
            "alarms.0.group",
            "'mon' is a monitor: alarms watch other groups",
            "\"mon\"",
        );

        // The metric must fit the group.
        let text = alarm("group = \"api\"\nmetric = \"availability\"\nbelow = 0.9\n");
        let p = single(&text);
        check(
            &p,
            &text,
            "alarms.0.metric",
            "metric 'availability' applies to client groups, and 'api' is a service",
            "\"availability\"",
        );
        assert_eq!(
            hint(&p),
            "metrics for component groups: error_rate, utilization, queue, dropped, gossip_rate"
        );
        let text = alarm("group = \"users\"\nmetric = \"utilization\"\nabove = 0.9\n");
        let p = single(&text);
        assert_eq!(
            p.message,
            "metric 'utilization' applies to component groups, and 'users' is a client"
        );
        assert_eq!(
            hint(&p),
            "metrics for client groups: availability, error_rate, latency_p50, latency_p90, latency_p99, requests"
        );
        let text = alarm("group = \"api\"\nmetric = \"gossip_rate\"\nbelow = 0.9\n");
        assert_eq!(
            single(&text).message,
            "'api' has no gossip: its gossip_rate is always 0"
        );
        let text = alarm("group = \"api\"\nmetric = \"utilisation\"\nabove = 0.9\n");
        let p = single(&text);
        assert_eq!(p.message, "unknown metric 'utilisation'");
        assert!(hint(&p).starts_with("did you mean 'utilization'?"));
        let text = alarm("group = \"api\"\nabove = 0.9\n");
        assert_eq!(single(&text).message, "missing required field 'metric'");

        // Exactly one threshold, in range.
        let text =
            alarm("group = \"users\"\nmetric = \"availability\"\nbelow = 0.9\nabove = 0.1\n");
        check(
            &single(&text),
            &text,
            "alarms.0.below",
            "give either above or below, not both",
            "below",
        );
        let text = alarm("group = \"users\"\nmetric = \"availability\"\n");
        check(
            &single(&text),
            &text,
            "alarms.0.above",
            "missing threshold: give above = x or below = x",
            "[[alarms]]",
        );
        let text = alarm("group = \"users\"\nmetric = \"error_rate\"\nabove = 1.5\n");
        check(
            &single(&text),
            &text,
            "alarms.0.above",
            "must be between 0 and 1, got 1.5",
            "1.5",
        );
        let text = alarm("group = \"users\"\nmetric = \"latency_p99\"\nabove = -1.0\n");
        check(
            &single(&text),
            &text,
            "alarms.0.above",
            "must be 0 or more, got -1",
            "-1.0",
        );
        let text =
            alarm("group = \"users\"\nmetric = \"requests\"\nabove = 1.0\nmissing = \"ignore\"\n");
        let p = single(&text);
        assert_eq!(p.message, "unknown missing-data rule 'ignore'");
        assert_eq!(hint(&p), "missing-data rule: not_breaching, breaching");
        let text = alarm("group = \"users\"\nmetric = \"requests\"\nabove = 1.0\nfor = \"1x\"\n");
        assert_eq!(single(&text).path, "alarms.0.for");

        // Names are unique.
        let one = "name = \"a\"\ngroup = \"users\"\nmetric = \"requests\"\nabove = 1.0\n";
        let text = alarm(&format!("{one}\n[[alarms]]\n{one}"));
        let p = single(&text);
        assert_eq!(p.path, "alarms.1.name");
        assert_eq!(p.message, "alarm name 'a' is used twice (also alarms.0)");
    }

    /// An action on the ops scenario (with an alarm named "busy", a firewall "fw" in front of
    /// `api`, a dns group and a second backend), given its fields.
    fn action(fields: &str) -> String {
        let text = format!(
            "{HEAD}{USERS}[components.bots]\nkind = \"client\"\nrate = 1.0\ntarget = \"fw\"\n\n[components.fw]\nkind = \"firewall\"\nnext = \"api\"\n\n{API}replicas = 2\nstandby = 2\n\n[components.api2]\nkind = \"service\"\n\n{STORE}{MON}[components.dns]\nkind = \"dns\"\n\n[[components.dns.records]]\nname = \"www.example.com\"\ntargets = [\"api\", \"api2\"]\n\n[[faults]]\nname = \"change\"\nkind = \"config_change\"\ntarget = \"api\"\nat = \"10m\"\nset = {{ workers = 2 }}\n\n[[faults]]\nname = \"cut\"\nkind = \"partition\"\nlevel = \"zone\"\nbetween = [\"default-a\", \"other\"]\nat = \"10m\"\n\n[components.far]\nkind = \"service\"\nzone = \"other\"\n\n[[alarms]]\nname = \"busy\"\ngroup = \"api\"\nmetric = \"utilization\"\nabove = 0.9\n\n[[actions]]\n{fields}"
        );
        text
    }

    #[test]
    fn actions_of_each_kind() {
        use crate::model::spec::{ActionKind, Dist, Trigger};
        let accepted = [
            (
                "kind = \"rollback\"\non = \"busy\"\nfault = \"change\"\n",
                ActionKind::Rollback { fault: 0 },
            ),
            (
                "kind = \"end_fault\"\nat = \"20m\"\nfault = \"change\"\n",
                ActionKind::EndFault { fault: 0 },
            ),
            (
                "kind = \"block\"\nat = \"1m\"\nfirewall = \"fw\"\nsource = \"bots\"\n",
                ActionKind::Block {
                    firewall: 2,
                    source: 1,
                },
            ),
            (
                "kind = \"shed_load\"\non = \"busy\"\ntarget = \"api\"\nfraction = 0.5\n",
                ActionKind::ShedLoad {
                    group: 3,
                    fraction: 0.5,
                },
            ),
            (
                "kind = \"dns_failover\"\non = \"busy\"\ntarget = \"dns\"\nrecord = \"www.example.com\"\nto = \"api2\"\n",
                ActionKind::DnsFailover {
                    dns: 7,
                    record: 0,
                    to: 4,
                },
            ),
            (
                "kind = \"restart\"\non = \"busy\"\ntarget = \"api\"\n",
                ActionKind::Restart {
                    group: 3,
                    stagger: SimTime::ZERO,
                    cold_start: SimTime::from_secs(30),
                },
            ),
            (
                "kind = \"clear_gossip\"\non = \"busy\"\ntarget = \"store\"\n",
                ActionKind::ClearGossip {
                    group: 5,
                    restart_time: SimTime::ZERO,
                    restart_batch: None,
                },
            ),
            (
                "kind = \"scale\"\non = \"busy\"\ntarget = \"api\"\n",
                ActionKind::Scale {
                    group: 3,
                    replicas: 2,
                    provision: SimTime::from_mins(5),
                },
            ),
        ];
        for (fields, kind) in accepted {
            let spec = spec_of(&action(fields));
            assert_eq!(spec.actions[0].kind, kind, "{fields}");
            assert_eq!(spec.actions[0].name, "action-0");
        }
        let spec = spec_of(&action(
            "name = \"more\"\nkind = \"scale\"\non = \"busy\"\ndelay = { dist = \"uniform\", min = \"1m\", max = \"3m\" }\ntarget = \"api\"\nreplicas = 1\nprovision = \"2m\"\n",
        ));
        let a = &spec.actions[0];
        assert_eq!(a.name, "more");
        assert_eq!(
            a.kind,
            ActionKind::Scale {
                group: 3,
                replicas: 1,
                provision: SimTime::from_mins(2)
            }
        );
        assert_eq!(
            a.trigger,
            Trigger::Alarm {
                alarm: 0,
                delay: Dist::Uniform {
                    min: SimTime::MINUTE,
                    max: SimTime::from_mins(3)
                }
            }
        );
        let spec = spec_of(&action(
            "kind = \"restart\"\nat = \"1h\"\ntarget = \"api\"\nstagger = \"5s\"\ncold_start = \"1m\"\n",
        ));
        assert_eq!(spec.actions[0].trigger, Trigger::At(SimTime::HOUR));
        assert_eq!(
            spec.actions[0].kind,
            ActionKind::Restart {
                group: 3,
                stagger: SimTime::from_secs(5),
                cold_start: SimTime::MINUTE
            }
        );
        let spec = spec_of(&action(
            "kind = \"clear_gossip\"\nat = \"1h\"\ntarget = \"store\"\nrestart_time = \"1m\"\nrestart_batch = 2\n",
        ));
        assert_eq!(
            spec.actions[0].kind,
            ActionKind::ClearGossip {
                group: 5,
                restart_time: SimTime::MINUTE,
                restart_batch: Some(2)
            }
        );
    }

    #[test]
    fn action_errors() {
        let one = |fields: &str| {
            let text = action(fields);
            (single(&text), text)
        };
        // Triggers.
        let (p, text) = one("kind = \"restart\"\nat = \"1m\"\non = \"busy\"\ntarget = \"api\"\n");
        check(
            &p,
            &text,
            "actions.0.on",
            "give either at or on, not both",
            "on = \"busy\"\ntarget",
        );
        let (p, text) = one("kind = \"restart\"\ntarget = \"api\"\n");
        check(
            &p,
            &text,
            "actions.0.on",
            "missing trigger: give at = \"<time>\" or on = \"<alarm>\"",
            "[[actions]]",
        );
        let (p, text) = one("kind = \"restart\"\nat = \"1m\"\ndelay = \"1m\"\ntarget = \"api\"\n");
        check(
            &p,
            &text,
            "actions.0.delay",
            "'delay' applies only with on = \"<alarm>\"",
            "delay",
        );
        assert_eq!(hint(&p), "with at, put the delay into the time itself");
        let (p, text) = one("kind = \"restart\"\non = \"bussy\"\ntarget = \"api\"\n");
        check(
            &p,
            &text,
            "actions.0.on",
            "no alarm is named 'bussy'",
            "\"bussy\"",
        );
        assert_eq!(hint(&p), "did you mean 'busy'? (alarms: busy)");
        let (p, _) = one("kind = \"restrat\"\non = \"busy\"\n");
        assert_eq!(p.message, "unknown action kind 'restrat'");
        assert!(hint(&p).starts_with("did you mean 'restart'?"));
        let (p, _) = one("kind = \"restart\"\non = \"busy\"\ntarget = \"api\"\nfraction = 0.5\n");
        assert_eq!(
            p.message,
            "field 'fraction' does not apply to action kind 'restart'"
        );
        assert_eq!(
            hint(&p),
            "fields for action kind 'restart': target, stagger, cold_start"
        );

        // Faults named by rollback and end_fault.
        let (p, text) = one("kind = \"rollback\"\non = \"busy\"\nfault = \"cut\"\n");
        check(
            &p,
            &text,
            "actions.0.fault",
            "'cut' is a partition fault, and rollback undoes a config_change",
            "fault = |\"cut\"",
        );
        assert_eq!(
            hint(&p),
            "to stop it early use kind = \"end_fault\"; config_change faults: change"
        );
        let (p, _) = one("kind = \"end_fault\"\non = \"busy\"\nfault = \"cut\"\n");
        assert_eq!(
            p.message,
            "'cut' is a partition fault: actions cannot end it"
        );
        assert_eq!(
            hint(&p),
            "give a partition a duration; actions cannot reach a link"
        );
        let (p, _) = one("kind = \"end_fault\"\non = \"busy\"\nfault = \"chang\"\n");
        assert_eq!(p.message, "no fault is named 'chang'");
        assert_eq!(hint(&p), "did you mean 'change'? (faults: change, cut)");
        let (p, _) = one("kind = \"end_fault\"\non = \"busy\"\n");
        assert_eq!(p.message, "missing required field 'fault'");

        // Groups of the right kind.
        let (p, _) =
            one("kind = \"block\"\non = \"busy\"\nfirewall = \"api\"\nsource = \"bots\"\n");
        assert_eq!(p.message, "'api' is a service, not a firewall");
        assert_eq!(hint(&p), "firewalls: fw");
        let (p, _) = one("kind = \"block\"\non = \"busy\"\nfirewall = \"fw\"\nsource = \"api\"\n");
        assert_eq!(p.message, "'api' is a service, not a client");
        let (p, _) =
            one("kind = \"shed_load\"\non = \"busy\"\ntarget = \"users\"\nfraction = 0.5\n");
        assert_eq!(
            p.message,
            "'users' is a client: clients send requests, they do not serve them"
        );
        for bad in ["0.0", "1.5"] {
            let (p, _) = one(&format!(
                "kind = \"shed_load\"\non = \"busy\"\ntarget = \"api\"\nfraction = {bad}\n"
            ));
            assert_eq!(p.path, "actions.0.fraction");
        }
        let (p, _) = one("kind = \"restart\"\non = \"busy\"\ntarget = \"users\"\n");
        assert_eq!(
            p.message,
            "'users' is a client: it has no replicas to act on"
        );

        // DNS failover: a record the group serves, and one of its targets.
        let (p, _) = one(
            "kind = \"dns_failover\"\non = \"busy\"\ntarget = \"api\"\nrecord = \"www.example.com\"\nto = \"api2\"\n",
        );
        assert_eq!(p.message, "'api' is a service, not a dns component");
        let (p, _) = one(
            "kind = \"dns_failover\"\non = \"busy\"\ntarget = \"dns\"\nrecord = \"www.exmple.com\"\nto = \"api2\"\n",
        );
        assert_eq!(p.message, "'dns' serves no record named 'www.exmple.com'");
        let (p, text) = one(
            "kind = \"dns_failover\"\non = \"busy\"\ntarget = \"dns\"\nrecord = \"www.example.com\"\nto = \"store\"\n",
        );
        check(
            &p,
            &text,
            "actions.0.to",
            "'store' is not a target of record 'www.example.com'",
            "\"store\"\n",
        );
        assert_eq!(hint(&p), "targets of 'www.example.com': api, api2");

        // Gossip and standby.
        let (p, text) = one("kind = \"clear_gossip\"\non = \"busy\"\ntarget = \"api\"\n");
        check(
            &p,
            &text,
            "actions.0.target",
            "'api' has no gossip to clear",
            "on = \"busy\"\ntarget = |\"api\"",
        );
        let (p, text) = one("kind = \"scale\"\non = \"busy\"\ntarget = \"store\"\n");
        check(
            &p,
            &text,
            "actions.0.target",
            "'store' has no standby replicas to bring in",
            "target = |\"store\"",
        );
        assert_eq!(
            hint(&p),
            "add standby = N to the group: N replicas that wait for a scale action"
        );
        let (p, _) = one("kind = \"scale\"\non = \"busy\"\ntarget = \"api\"\nreplicas = 3\n");
        assert_eq!(p.message, "must be at most 2, got 3");
        let (p, _) = one("kind = \"scale\"\non = \"busy\"\ntarget = \"api\"\nreplicas = 0\n");
        assert_eq!(p.message, "must be at least 1, got 0");

        // Names are unique.
        let text = format!(
            "{}\n[[actions]]\nname = \"action-0\"\nkind = \"restart\"\nat = \"1m\"\ntarget = \"api\"\n",
            action("kind = \"restart\"\nat = \"1m\"\ntarget = \"api\"\n")
        );
        let p = single(&text);
        assert_eq!(
            p.message,
            "action name 'action-0' is used twice (also actions.0)"
        );
    }

    #[test]
    fn reports_must_reach_the_monitor() {
        let text = alarm("group = \"store\"\nmetric = \"queue\"\nabove = 1.0\n").replace(
            "kind = \"monitor\"\n",
            "kind = \"monitor\"\nsegment = \"ops\"\n",
        );
        let p = single(&text);
        assert_eq!(p.path, "alarms.0.monitor");
        assert_eq!(
            p.message,
            "traffic from 'store' (segment 'main') to 'mon' (segment 'ops') crosses segments, but no network component joins them"
        );
    }
}
