//! Warnings about a valid scenario whose design invites an outage: single points of failure
//! (a group every path of a client needs, with one replica or all of them in one zone or
//! region), timeouts in the wrong order (a callee that keeps trying after its caller gave up),
//! retry amplification (attempts multiplied along a path) and health checks slower than the
//! DNS TTL they steer.
//!
//! Warnings never stop anything: `outagesim lint` prints them and exits 0, and `validate` and
//! `run` print the same ones on stderr. Each names the setting's dotted path (located in the
//! file when the scenario text is at hand) and a fix. Works on the built [`Spec`] only.

use std::collections::BTreeSet;

use crate::engine::SimTime;
use crate::model::spec::{GroupSpec, KindSpec, RetrySpec, Routing, Spec, Target};

/// Attempts multiplied along one path above this get a warning.
pub const AMPLIFICATION_LIMIT: f64 = 10.0;

/// One warning.
#[derive(Clone, Debug, PartialEq)]
pub struct Warning {
    /// Which check: `single-point-of-failure`, `timeout-order`, `retry-amplification`,
    /// `health-check-vs-ttl`.
    pub check: &'static str,
    /// Dotted path of the setting to change, e.g. `components.api.replicas`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

/// A call from one group to another, as far as timeouts and retries go.
struct Call {
    to: usize,
    timeout: SimTime,
    /// Attempts, and the retry budget that caps them.
    attempts: u32,
    budget: Option<f64>,
    /// The path of the call's settings (`components.api.calls.0`, `components.lb`).
    at: String,
}

impl Call {
    /// The most attempts one call makes on average: its attempts, or 1 + budget when a
    /// budget caps retries to a fraction of first attempts.
    fn factor(&self) -> f64 {
        let a = f64::from(self.attempts);
        self.budget.map_or(a, |b| a.min(1.0 + b))
    }
}

/// Every warning for `spec`, in a fixed order: single points of failure, timeout order,
/// retry amplification, health checks against TTLs.
pub fn lint(spec: &Spec) -> Vec<Warning> {
    let mut out = Vec::new();
    single_points_of_failure(spec, &mut out);
    timeout_order(spec, &mut out);
    retry_amplification(spec, &mut out);
    health_checks_vs_ttl(spec, &mut out);
    out
}

fn group_path(g: &GroupSpec) -> String {
    format!(
        "components.{}",
        crate::scenario::error::path_string(std::slice::from_ref(&g.name))
    )
}

/// The groups a DNS name's records point at (every `dns` group's records of that name).
fn record_targets(spec: &Spec, name: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for g in &spec.groups {
        if let KindSpec::Dns(d) = &g.kind {
            for r in d.records.iter().filter(|r| r.name == name) {
                for &t in &r.targets {
                    if !out.contains(&t) {
                        out.push(t);
                    }
                }
            }
        }
    }
    out
}

/// A call's settings: the group it reaches (DNS names: each record target), its timeout and
/// retries.
fn calls_of(spec: &Spec, g: usize) -> Vec<Call> {
    let group = &spec.groups[g];
    let base = group_path(group);
    let mut out = Vec::new();
    let mut push = |target: &Target, timeout: SimTime, retry: Option<&RetrySpec>, at: String| {
        let targets = match target {
            Target::Group(x) => vec![*x],
            Target::Dns { name, .. } => record_targets(spec, name),
        };
        for to in targets {
            out.push(Call {
                to,
                timeout,
                attempts: retry.map_or(1, |r| r.attempts),
                budget: retry.and_then(|r| r.budget),
                at: at.clone(),
            });
        }
    };
    match &group.kind {
        KindSpec::Client(c) => push(&c.target, c.timeout, Some(&c.retry), base),
        KindSpec::Service(s) => {
            for (i, c) in s.calls.iter().enumerate() {
                push(
                    &c.target,
                    c.timeout,
                    Some(&c.retry),
                    format!("{base}.calls.{i}"),
                );
            }
        }
        KindSpec::LoadBalancer(l) => {
            push(&Target::Group(l.backends), l.timeout, Some(&l.retry), base)
        }
        KindSpec::Proxy(p, _) => push(&Target::Group(p.upstream), p.timeout, Some(&p.retry), base),
        KindSpec::Cache(c) => push(&Target::Group(c.backend), c.timeout, None, base),
        KindSpec::Firewall(f) => push(&Target::Group(f.next), f.timeout, None, base),
        KindSpec::Resolver(r) => push(&Target::Group(r.dns), r.timeout, None, base),
        KindSpec::Dns(_) | KindSpec::Network(_) | KindSpec::Storage(_) | KindSpec::Monitor(_) => {}
    }
    out
}

/// What a group needs to answer: each element is a set of alternatives, one of which must
/// work (a DNS name's record targets are alternatives; everything else is a single group).
fn needs(spec: &Spec, g: usize) -> Vec<Vec<usize>> {
    let target = |t: &Target| -> Vec<Vec<usize>> {
        match t {
            Target::Group(x) => vec![vec![*x]],
            Target::Dns { name, resolver } => {
                vec![vec![*resolver], record_targets(spec, name)]
            }
        }
    };
    let mut out = match &spec.groups[g].kind {
        KindSpec::Client(c) => target(&c.target),
        KindSpec::Service(s) => s.calls.iter().flat_map(|c| target(&c.target)).collect(),
        kind => kind.dependencies().into_iter().map(|d| vec![d]).collect(),
    };
    // Traffic between segments crosses a network device group that joins them.
    let segment = |x: usize| spec.groups[x].placement.first().map(|p| p.segment.clone());
    let direct: Vec<usize> = out.iter().filter(|a| a.len() == 1).map(|a| a[0]).collect();
    for to in direct {
        let (a, b) = (segment(g), segment(to));
        if a == b {
            continue;
        }
        let devices: Vec<usize> = spec
            .groups
            .iter()
            .enumerate()
            .filter(|(_, d)| match &d.kind {
                KindSpec::Network(n) => {
                    a.as_ref().is_some_and(|a| n.joins.contains(a))
                        && b.as_ref().is_some_and(|b| n.joins.contains(b))
                }
                _ => false,
            })
            .map(|(i, _)| i)
            .collect();
        if !devices.is_empty() {
            out.push(devices);
        }
    }
    out.retain(|a| !a.is_empty());
    out
}

/// The groups every path from `g` passes through (`g` included): the union of what each
/// need requires, where a need with alternatives requires what all of them require.
fn required(
    spec: &Spec,
    g: usize,
    memo: &mut Vec<Option<BTreeSet<usize>>>,
    on: &mut Vec<bool>,
) -> BTreeSet<usize> {
    if let Some(r) = &memo[g] {
        return r.clone();
    }
    let mut out = BTreeSet::from([g]);
    if on[g] {
        return out; // a cycle: stop here
    }
    on[g] = true;
    for alts in needs(spec, g) {
        let mut common: Option<BTreeSet<usize>> = None;
        for a in alts {
            let r = required(spec, a, memo, on);
            common = Some(match common {
                None => r,
                Some(c) => c.intersection(&r).copied().collect(),
            });
        }
        out.extend(common.unwrap_or_default());
    }
    on[g] = false;
    memo[g] = Some(out.clone());
    out
}

fn single_points_of_failure(spec: &Spec, out: &mut Vec<Warning>) {
    let n = spec.groups.len();
    let mut memo = vec![None; n];
    let mut on = vec![false; n];
    // Group -> the client groups whose every path needs it.
    let mut needed_by: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (c, group) in spec.groups.iter().enumerate() {
        if !matches!(group.kind, KindSpec::Client(_)) {
            continue;
        }
        for g in required(spec, c, &mut memo, &mut on) {
            if g != c {
                needed_by[g].push(c);
            }
        }
    }
    fn live(g: &GroupSpec) -> &[crate::model::spec::Placement] {
        &g.placement[..g.placement.len() - g.standby as usize]
    }
    let zones: BTreeSet<&str> = spec
        .groups
        .iter()
        .flat_map(|g| live(g).iter().map(|p| p.zone.as_str()))
        .collect();
    for (g, group) in spec.groups.iter().enumerate() {
        let clients = &needed_by[g];
        if clients.is_empty() || matches!(group.kind, KindSpec::Client(_) | KindSpec::Monitor(_)) {
            continue;
        }
        let base = group_path(group);
        let names: Vec<&str> = clients
            .iter()
            .map(|&c| spec.groups[c].name.as_str())
            .collect();
        let who = format!(
            "every path of client group{} {} goes through {}",
            if clients.len() == 1 { "" } else { "s" },
            names.join(", "),
            group.name
        );
        let region_of = |c: usize| spec.groups[c].placement.first().map(|p| p.region.as_str());
        let placed = live(group);
        let gz: BTreeSet<&str> = placed.iter().map(|p| p.zone.as_str()).collect();
        let gr: BTreeSet<&str> = placed.iter().map(|p| p.region.as_str()).collect();
        let (path, message, fix) = if placed.len() <= 1 {
            (
                format!("{base}.replicas"),
                format!("single point of failure: {who}, which has one replica"),
                "set replicas = 2 or more, spread over zones (zones = [\"a\", \"b\"])".to_owned(),
            )
        } else if gz.len() == 1 && zones.len() > 1 {
            let z = gz.iter().next().copied().unwrap_or_default();
            (
                format!("{base}.zone"),
                format!(
                    "single point of failure by zone: {who}, whose {} replicas are all in zone {z}",
                    placed.len()
                ),
                format!("spread its replicas over zones: zones = [\"{z}\", \"<another zone>\"]"),
            )
        } else if let Some(r) = gr
            .iter()
            .next()
            .copied()
            .filter(|&r| gr.len() == 1 && clients.iter().any(|&c| region_of(c) != Some(r)))
        {
            // A region outage that takes the clients with it is not this group's fault: only
            // clients elsewhere make it a single point of failure.
            (
                format!("{base}.region"),
                format!(
                    "single point of failure by region: {who}, whose {} replicas are all in region {r}",
                    placed.len()
                ),
                "add a copy of it in another region behind a DNS failover record".to_owned(),
            )
        } else {
            continue;
        };
        out.push(Warning {
            check: "single-point-of-failure",
            path,
            message,
            fix,
        });
    }
}

fn timeout_order(spec: &Spec, out: &mut Vec<Warning>) {
    let all: Vec<Vec<Call>> = (0..spec.groups.len()).map(|g| calls_of(spec, g)).collect();
    // Each (callee call, caller) pair once, however many ways the caller reaches it.
    let mut seen = BTreeSet::new();
    for (a, calls) in all.iter().enumerate() {
        for outer in calls {
            let b = outer.to;
            for (k, inner) in all[b].iter().enumerate() {
                let total = inner.timeout.saturating_mul(u64::from(inner.attempts));
                if total <= outer.timeout || !seen.insert((a, b, k)) {
                    continue;
                }
                let (caller, callee) = (&spec.groups[a].name, &spec.groups[b].name);
                let tries = if inner.attempts == 1 {
                    format!("{}", inner.timeout)
                } else {
                    format!("{} x {} attempts = {total}", inner.timeout, inner.attempts)
                };
                out.push(Warning {
                    check: "timeout-order",
                    path: format!("{}.timeout", inner.at),
                    message: format!(
                        "timeouts out of order: {callee} may keep trying for {tries} after {caller} gave up at {} ({}.timeout)",
                        outer.timeout, outer.at
                    ),
                    fix: format!(
                        "make {callee}'s timeout x attempts shorter than {}, or raise {}.timeout above {total}",
                        outer.timeout, outer.at
                    ),
                });
            }
        }
    }
}

fn retry_amplification(spec: &Spec, out: &mut Vec<Warning>) {
    let all: Vec<Vec<Call>> = (0..spec.groups.len()).map(|g| calls_of(spec, g)).collect();
    // The largest product of attempts from `g` down, and the calls along it.
    fn deepest(all: &[Vec<Call>], g: usize, on: &mut Vec<bool>) -> (f64, Vec<(usize, usize)>) {
        if on[g] {
            return (1.0, Vec::new());
        }
        on[g] = true;
        let mut best = (1.0, Vec::new());
        for (k, c) in all[g].iter().enumerate() {
            let (p, mut path) = deepest(all, c.to, on);
            let p = p * c.factor();
            if p > best.0 {
                path.insert(0, (g, k));
                best = (p, path);
            }
        }
        on[g] = false;
        best
    }
    for (c, group) in spec.groups.iter().enumerate() {
        if !matches!(group.kind, KindSpec::Client(_)) {
            continue;
        }
        let (product, path) = deepest(&all, c, &mut vec![false; spec.groups.len()]);
        if product <= AMPLIFICATION_LIMIT {
            continue;
        }
        let mut chain = vec![group.name.clone()];
        let mut first_retry = None;
        for &(g, k) in &path {
            let call = &all[g][k];
            if call.attempts > 1 {
                first_retry.get_or_insert(format!("{}.retry.attempts", call.at));
                let last = chain.last_mut().expect("the chain starts with the client");
                *last = format!("{last} ({}x)", fmt_factor(call.factor()));
            }
            chain.push(spec.groups[call.to].name.clone());
        }
        out.push(Warning {
            check: "retry-amplification",
            path: first_retry.unwrap_or_else(|| group_path(group)),
            message: format!(
                "retry amplification: one request of {} may become {} attempts at {} ({})",
                group.name,
                fmt_factor(product),
                chain.last().map_or("", |s| s.as_str()),
                chain.join(" -> ")
            ),
            fix: format!(
                "retry at one layer only (attempts = 1 at the others) or cap retries with a budget (retry.budget = 0.1), to {} or fewer",
                AMPLIFICATION_LIMIT
            ),
        });
    }
}

fn fmt_factor(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn health_checks_vs_ttl(spec: &Spec, out: &mut Vec<Warning>) {
    for group in &spec.groups {
        let KindSpec::Dns(d) = &group.kind else {
            continue;
        };
        let Some(hc) = &d.health_check else { continue };
        let detect = hc.interval.saturating_mul(u64::from(hc.unhealthy));
        let base = group_path(group);
        for (i, r) in d.records.iter().enumerate() {
            // Steering needs a choice; weighted answers do not consult health.
            if r.targets.len() < 2 || r.policy == Routing::Weighted || detect <= r.ttl {
                continue;
            }
            out.push(Warning {
                check: "health-check-vs-ttl",
                path: format!("{base}.health_check.interval"),
                message: format!(
                    "health checks slower than the TTL they steer: {} notices a dead target of {} after {} (interval {} x unhealthy {}), but resolvers refresh it every {} ({base}.records.{i}.ttl)",
                    group.name, r.name, detect, hc.interval, hc.unhealthy, r.ttl
                ),
                fix: format!(
                    "probe more often (interval x unhealthy at most {}) or raise the record's ttl to {detect}",
                    r.ttl
                ),
            });
        }
    }
}

/// The warnings as text, one block each: `warning: FILE:LINE:COL: PATH: message` (the
/// position of the setting in `text`, or of the nearest table written when it is a default)
/// and `  fix: ...`.
pub fn render(warnings: &[Warning], text: &str, file: &str) -> String {
    use crate::model::settings::Anchor;
    use crate::scenario::error::{line_col, locate};
    let doc = toml_edit::Document::parse(text).ok();
    let mut out = String::new();
    for w in warnings {
        let at = doc.as_ref().map(|d| {
            let segs = split_path(&w.path);
            let (span, _) = locate(d.as_item(), &segs, Anchor::Key);
            line_col(text, span.start)
        });
        match at {
            Some((line, col)) => out.push_str(&format!("warning: {file}:{line}:{col}: ")),
            None => out.push_str(&format!("warning: {file}: ")),
        }
        out.push_str(&format!(
            "{}: {} [{}]\n  fix: {}\n",
            w.path, w.message, w.check, w.fix
        ));
    }
    out
}

/// A dotted path split into its segments (quoted segments kept whole, quotes removed).
fn split_path(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => cur.extend(chars.next()),
            '.' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[cfg(test)]
mod tests;
