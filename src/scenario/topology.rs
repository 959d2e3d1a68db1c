//! Topology views of a validated scenario: the group dependency graph, a readable listing
//! (`describe`) and Graphviz DOT (`dot`). Output follows file order only, so it is the same
//! on every run.

use std::fmt::Write as _;

use petgraph::graph::DiGraph;

use crate::model::spec::{
    Backoff, Balance, CheckKind, Dist, FaultKind, FaultTarget, HealthCheckSpec, Jitter, KindSpec,
    NoneHealthy, RetrySpec, Routing, ServerSpec, Spec, Target,
};

/// The group dependency graph (edges from [`KindSpec::dependencies`]): node `i` holds group
/// index `i`, edges go from caller to callee in the order the dependencies are listed.
pub fn graph(spec: &Spec) -> DiGraph<usize, ()> {
    let mut g = DiGraph::with_capacity(spec.groups.len(), spec.groups.len());
    let nodes: Vec<_> = (0..spec.groups.len()).map(|i| g.add_node(i)).collect();
    for (i, grp) in spec.groups.iter().enumerate() {
        for d in grp.kind.dependencies() {
            if let Some(&to) = nodes.get(d) {
                g.add_edge(nodes[i], to, ());
            }
        }
    }
    g
}

/// Distinct values in first-seen order.
fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

fn dist(d: &Dist) -> String {
    match d {
        Dist::Constant(v) => format!("constant {v}"),
        Dist::Exponential { mean } => format!("exponential mean {mean}"),
        Dist::LogNormal { mean, sigma } => format!("lognormal mean {mean} sigma {sigma}"),
        Dist::Uniform { min, max } => format!("uniform {min}..{max}"),
        Dist::Weibull { mean, shape } => format!("weibull mean {mean} shape {shape}"),
    }
}

fn retry(r: &RetrySpec) -> String {
    if r.attempts == 1 {
        return "1 attempt".to_owned();
    }
    let mut s = format!("{} attempts", r.attempts);
    match r.backoff {
        Backoff::None => s.push_str(", no back-off"),
        Backoff::Fixed { base } => {
            let _ = write!(s, ", fixed back-off {base}");
        }
        Backoff::Exponential { base, cap } => {
            let _ = write!(s, ", exponential back-off {base}..{cap}");
        }
    }
    match r.jitter {
        Jitter::None => {}
        Jitter::Full => s.push_str(", full jitter"),
        Jitter::Equal => s.push_str(", equal jitter"),
    }
    if let Some(b) = r.budget {
        let _ = write!(s, ", budget {b}");
    }
    s
}

fn check(h: &HealthCheckSpec) -> String {
    let kind = match h.kind {
        CheckKind::Shallow => "shallow",
        CheckKind::Deep => "deep",
    };
    format!(
        "{kind} health check every {} (timeout {}, unhealthy after {}, healthy after {})",
        h.interval, h.timeout, h.unhealthy_threshold, h.healthy_threshold
    )
}

fn server(s: &ServerSpec) -> String {
    let queue = s
        .queue
        .map_or_else(|| "unbounded".to_owned(), |q| q.to_string());
    format!(
        "workers {}, queue {queue}, service time {}",
        s.workers,
        dist(&s.service_time)
    )
}

fn target(spec: &Spec, t: &Target) -> String {
    match t {
        Target::Group(g) => name(spec, *g).to_owned(),
        Target::Dns { name: n, resolver } => format!("{n} via {}", name(spec, *resolver)),
    }
}

fn name(spec: &Spec, g: usize) -> &str {
    spec.groups.get(g).map_or("?", |g| g.name.as_str())
}

fn names(spec: &Spec, gs: &[usize]) -> String {
    gs.iter()
        .map(|&g| name(spec, g))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The settings lines of one group.
fn settings(spec: &Spec, kind: &KindSpec) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(s) = kind.server()
        && !matches!(kind, KindSpec::Network(_))
    {
        lines.push(server(s));
    }
    match kind {
        KindSpec::Client(c) => {
            let load = match &c.population {
                Some(p) => format!("{} users thinking {}", p.users, dist(&p.think)),
                None => format!("rate {}/s", c.rate),
            };
            let mut l = format!(
                "{load}, target {}, timeout {}, {}",
                target(spec, &c.target),
                c.timeout,
                retry(&c.retry)
            );
            if c.write_fraction > 0.0 {
                let _ = write!(l, ", writes {}", c.write_fraction);
            }
            lines.push(l);
            if !c.profile.is_empty() {
                let pts: Vec<String> = c
                    .profile
                    .iter()
                    .map(|(t, f)| format!("x{f} from {t}"))
                    .collect();
                lines.push(format!("rate profile: {}", pts.join(", ")));
            }
        }
        KindSpec::Resolver(r) => {
            lines.push(format!("asks {}, timeout {}", name(spec, r.dns), r.timeout))
        }
        KindSpec::Monitor(m) => lines.push(format!("reports every {}", m.period)),
        KindSpec::Dns(d) => {
            for r in &d.records {
                let policy = match r.policy {
                    Routing::Simple => "simple",
                    Routing::Weighted => "weighted",
                    Routing::Failover => "failover",
                    Routing::Latency => "latency",
                };
                let mut l = format!(
                    "record {} ({policy}, ttl {}) -> {}",
                    r.name,
                    r.ttl,
                    names(spec, &r.targets)
                );
                if !r.weights.is_empty() {
                    let w: Vec<String> = r.weights.iter().map(f64::to_string).collect();
                    let _ = write!(l, " weights {}", w.join(", "));
                }
                lines.push(l);
            }
            if let Some(h) = &d.health_check {
                lines.push(check(h));
            }
        }
        KindSpec::Firewall(f) => {
            let mut l = format!("next {}, timeout {}", name(spec, f.next), f.timeout);
            if !f.deny.is_empty() {
                let _ = write!(l, ", denies {}", names(spec, &f.deny));
            }
            if let Some(m) = f.max_connections {
                let _ = write!(l, ", at most {m} connections");
            }
            lines.push(l);
        }
        KindSpec::Network(n) => {
            let per = n.server.service_time.mean_nanos();
            let cap = if per > 0.0 { 1e9 / per } else { f64::INFINITY };
            let queue = n
                .server
                .queue
                .map_or_else(|| "unbounded".to_owned(), |q| q.to_string());
            lines.push(format!(
                "capacity {cap:.0} messages/s per replica, queue {queue}, joins {}",
                n.joins.join(", ")
            ));
        }
        KindSpec::LoadBalancer(l) => {
            let policy = match l.policy {
                Balance::RoundRobin => "round_robin",
                Balance::LeastOutstanding => "least_outstanding",
                Balance::Random => "random",
                Balance::Weighted => "weighted",
            };
            let none = match l.when_none_healthy {
                NoneHealthy::FailOpen => "fail open",
                NoneHealthy::Apology => "apology page",
                NoneHealthy::Reject => "reject",
            };
            lines.push(format!(
                "backends {} ({policy}), timeout {}, {}, when none healthy: {none}",
                name(spec, l.backends),
                l.timeout,
                retry(&l.retry)
            ));
            if let Some(h) = &l.health_check {
                lines.push(check(h));
            }
        }
        KindSpec::Proxy(p, _) => lines.push(format!(
            "upstream {}, hit ratio {}, timeout {}, {}",
            name(spec, p.upstream),
            p.hit_ratio,
            p.timeout,
            retry(&p.retry)
        )),
        KindSpec::Cache(c) => lines.push(format!(
            "backend {}, hit ratio {}, ttl {}, {}, timeout {}",
            name(spec, c.backend),
            c.hit_ratio,
            c.ttl,
            if c.serve_stale {
                "serves stale"
            } else {
                "no stale answers"
            },
            c.timeout
        )),
        KindSpec::Service(s) => {
            if !s.calls.is_empty() {
                let calls: Vec<String> = s
                    .calls
                    .iter()
                    .map(|c| {
                        format!(
                            "{} (timeout {}, {})",
                            target(spec, &c.target),
                            c.timeout,
                            retry(&c.retry)
                        )
                    })
                    .collect();
                let how = if s.parallel {
                    "in parallel"
                } else {
                    "in sequence"
                };
                lines.push(format!("calls {how}: {}", calls.join("; ")));
            }
            if let Some(b) = &s.circuit_breaker {
                lines.push(format!(
                    "circuit breaker: opens after {} failures for {}",
                    b.failures, b.open_for
                ));
            }
        }
        KindSpec::Storage(s) => lines.push(format!(
            "replication factor {}, read quorum {}, write quorum {}, timeout {}",
            s.replication_factor, s.read_quorum, s.write_quorum, s.timeout
        )),
    }
    lines
}

/// A readable listing: the scenario line; per group its kind, replicas, placement, key
/// settings and dependencies; the faults; the network latencies and segment joins.
pub fn describe(spec: &Spec) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {}: duration {}, seed {}, bucket {}, slo {}",
        spec.name, spec.duration, spec.seed, spec.bucket, spec.slo
    );
    let _ = writeln!(out, "components ({}):", spec.groups.len());
    for g in &spec.groups {
        let regions = distinct(g.placement.iter().map(|p| p.region.as_str()));
        let zones = distinct(g.placement.iter().map(|p| p.zone.as_str()));
        let segments = distinct(g.placement.iter().map(|p| p.segment.as_str()));
        let _ = writeln!(
            out,
            "  {}: {} x{}, region {}, zones {}, segment {}",
            g.name,
            g.kind.name(),
            g.replicas(),
            regions.join(", "),
            zones.join(", "),
            segments.join(", ")
        );
        for l in settings(spec, &g.kind) {
            let _ = writeln!(out, "    {l}");
        }
        let deps = g.kind.dependencies();
        let deps = if deps.is_empty() {
            "nothing".to_owned()
        } else {
            names(spec, &deps)
        };
        let _ = writeln!(out, "    depends on: {deps}");
    }
    if spec.faults.is_empty() {
        let _ = writeln!(out, "faults: none");
    } else {
        let _ = writeln!(out, "faults ({}):", spec.faults.len());
    }
    for f in &spec.faults {
        let target = match &f.target {
            FaultTarget::Group(g) => name(spec, *g).to_owned(),
            FaultTarget::Zone(z) => format!("zone {z}"),
            FaultTarget::Region(r) => format!("region {r}"),
            FaultTarget::Link { level, a, b } => {
                let l = level.name();
                format!("the link between {l} {a} and {l} {b}")
            }
        };
        let what = match (&f.kind, f.kind.replicas(), f.group()) {
            (FaultKind::TrafficSurge { multiplier, ramp }, _, _) => {
                format!("traffic_surge of {target} x{multiplier} (ramp {ramp})")
            }
            (kind, None, _) | (kind, _, None) => format!("{} of {target}", kind.name()),
            (kind, Some(replicas), Some(g)) => {
                let n = spec.groups.get(g).map_or(0, |g| g.placement.len());
                let which = if replicas.len() == n {
                    "(every replica)".to_string()
                } else {
                    let r: Vec<String> = replicas.iter().map(u32::to_string).collect();
                    format!("replicas {}", r.join(", "))
                };
                let detail = match kind {
                    FaultKind::Slow { factor, .. } => format!(", service x{factor}"),
                    FaultKind::Error {
                        probability, wrong, ..
                    } => format!(
                        ", {} with probability {probability}",
                        if *wrong {
                            "wrong answers"
                        } else {
                            "fast errors"
                        }
                    ),
                    FaultKind::CapacityLoss { fraction, .. } => {
                        format!(", {fraction} of workers lost")
                    }
                    _ => String::new(),
                };
                format!("{} of {target} {which}{detail}", kind.name())
            }
        };
        let until = f
            .duration
            .map_or_else(|| "to the end".to_owned(), |d| format!("for {d}"));
        let _ = writeln!(out, "  {}: {what} at {} {until}", f.name, f.at);
    }
    let n = &spec.network;
    let _ = writeln!(
        out,
        "network: same zone {}, cross zone {}, cross region {}",
        n.same_zone, n.cross_zone, n.cross_region
    );
    for (a, b, l) in &n.region_latency {
        let _ = writeln!(out, "  {a} <-> {b}: {l}");
    }
    for l in &n.links {
        let _ = writeln!(
            out,
            "  link {} <-> {}: {}",
            name(spec, l.a),
            name(spec, l.b),
            l.latency
        );
    }
    let segments = distinct(
        spec.groups
            .iter()
            .flat_map(|g| g.placement.iter().map(|p| p.segment.as_str())),
    );
    let _ = writeln!(out, "  segments: {}", segments.join(", "));
    for g in &spec.groups {
        if let KindSpec::Network(d) = &g.kind {
            let _ = writeln!(out, "  {} joins {}", g.name, d.joins.join(", "));
        }
    }
    out
}

/// A DOT string literal.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Graphviz DOT: one node per group labelled "name\nkind xN" (clients as ellipses, network
/// groups as hexagons), a cluster per region, solid edges for dependencies, dashed edges for
/// DNS records (labelled with the name) and health checks.
pub fn dot(spec: &Spec) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", q(&spec.name));
    let _ = writeln!(out, "  rankdir=LR;");
    let _ = writeln!(out, "  node [shape=box];");
    let regions = distinct(
        spec.groups
            .iter()
            .filter_map(|g| g.placement.first().map(|p| p.region.as_str())),
    );
    for region in &regions {
        let _ = writeln!(out, "  subgraph {} {{", q(&format!("cluster_{region}")));
        let _ = writeln!(out, "    label={};", q(region));
        for g in spec
            .groups
            .iter()
            .filter(|g| g.placement.first().is_some_and(|p| p.region == *region))
        {
            let shape = match g.kind {
                KindSpec::Client(_) => ", shape=ellipse",
                KindSpec::Network(_) => ", shape=hexagon",
                _ => "",
            };
            let label = format!("{}\n{} x{}", g.name, g.kind.name(), g.replicas());
            let _ = writeln!(out, "    {} [label={}{shape}];", q(&g.name), q(&label));
        }
        let _ = writeln!(out, "  }}");
    }
    for g in &spec.groups {
        for d in g.kind.dependencies() {
            let _ = writeln!(out, "  {} -> {};", q(&g.name), q(name(spec, d)));
        }
    }
    for g in &spec.groups {
        match &g.kind {
            KindSpec::Dns(d) => {
                for r in &d.records {
                    for &t in &r.targets {
                        let _ = writeln!(
                            out,
                            "  {} -> {} [style=dashed, label={}];",
                            q(&g.name),
                            q(name(spec, t)),
                            q(&r.name)
                        );
                    }
                }
                if d.health_check.is_some() {
                    let targets = distinct(
                        d.records
                            .iter()
                            .flat_map(|r| r.targets.iter().map(|&t| name(spec, t))),
                    );
                    for t in targets {
                        let _ = writeln!(
                            out,
                            "  {} -> {} [style=dashed, label=\"health check\"];",
                            q(&g.name),
                            q(t)
                        );
                    }
                }
            }
            KindSpec::LoadBalancer(l) if l.health_check.is_some() => {
                let _ = writeln!(
                    out,
                    "  {} -> {} [style=dashed, label=\"health check\"];",
                    q(&g.name),
                    q(name(spec, l.backends))
                );
            }
            _ => {}
        }
    }
    let _ = writeln!(out, "}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    const MMC: &str = include_str!("../../scenarios/mmc.toml");
    const WEB: &str = include_str!("../../scenarios/web-three-tier.toml");

    #[test]
    fn describe_mmc() {
        let spec = parse(MMC, "mmc.toml").expect("valid");
        assert_eq!(
            describe(&spec),
            "scenario mmc: duration 2h, seed 1, bucket 1m, slo 0.99
components (2):
  users: client x1, region default, zones default-a, segment main
    rate 8/s, target api, timeout 1h, 1 attempt
    depends on: api
  api: service x1, region default, zones default-a, segment main
    workers 10, queue unbounded, service time exponential mean 1s
    depends on: nothing
faults: none
network: same zone 250us, cross zone 1ms, cross region 40ms
  segments: main
"
        );
    }

    #[test]
    fn dot_mmc() {
        let spec = parse(MMC, "mmc.toml").expect("valid");
        assert_eq!(
            dot(&spec),
            r#"digraph "mmc" {
  rankdir=LR;
  node [shape=box];
  subgraph "cluster_default" {
    label="default";
    "users" [label="users\nclient x1", shape=ellipse];
    "api" [label="api\nservice x1"];
  }
  "users" -> "api";
}
"#
        );
    }

    #[test]
    fn describe_web() {
        let spec = parse(WEB, "web.toml").expect("valid");
        let d = describe(&spec);
        for line in [
            "scenario web-three-tier: duration 2h, seed 7, bucket 1m, slo 0.999",
            "components (14):",
            "  users-east: client x1, region us-east, zones us-east-a, segment main",
            "    rate 200/s, target www.example.com via resolver, timeout 10s, 3 attempts, exponential back-off 200ms..5s, full jitter, budget 0.1",
            "    depends on: resolver",
            "  lb-east: load_balancer x2, region us-east, zones us-east-a, us-east-b, segment main",
            "    backends proxy (least_outstanding), timeout 5s, 2 attempts, no back-off, when none healthy: apology page",
            "    deep health check every 5s (timeout 2s, unhealthy after 2, healthy after 2)",
            "    record www.example.com (failover, ttl 1m) -> lb-east, lb-west",
            "    next lb-east, timeout 10s, denies scrapers, at most 5000 connections",
            "    depends on: cache, db",
            "  db: storage x5, region us-east, zones us-east-a, us-east-b, us-east-c, segment internal",
            "    replication factor 3, read quorum 2, write quorum 2, timeout 250ms",
            "    capacity 200000 messages/s per replica, queue 2000, joins internal, main",
            "faults (2):",
            "  lb-east down: crash of lb-east (every replica) at 20m for 10m",
            "  east surge: traffic_surge of users-east x3 (ramp 2m) at 1h15m for 15m",
            "network: same zone 250us, cross zone 1ms, cross region 40ms",
            "  us-east <-> us-west: 35ms",
            "  segments: main, internal",
            "  core-net joins internal, main",
        ] {
            assert!(
                d.lines().any(|l| l == line),
                "missing line {line:?} in:\n{d}"
            );
        }
    }

    #[test]
    fn dot_web() {
        let spec = parse(WEB, "web.toml").expect("valid");
        let d = dot(&spec);
        for line in [
            "digraph \"web-three-tier\" {",
            "  subgraph \"cluster_us-east\" {",
            "  subgraph \"cluster_us-west\" {",
            "    \"lb-west\" [label=\"lb-west\\nload_balancer x2\"];",
            "    \"core-net\" [label=\"core-net\\nnetwork x2\", shape=hexagon];",
            "  \"users-east\" -> \"resolver\";",
            "  \"app\" -> \"cache\";",
            "  \"app\" -> \"db\";",
            "  \"fw-east\" -> \"lb-east\";",
            "  \"dns\" -> \"lb-east\" [style=dashed, label=\"www.example.com\"];",
            "  \"dns\" -> \"lb-west\" [style=dashed, label=\"health check\"];",
            "  \"lb-east\" -> \"proxy\" [style=dashed, label=\"health check\"];",
        ] {
            assert!(
                d.lines().any(|l| l == line),
                "missing line {line:?} in:\n{d}"
            );
        }
        assert!(d.ends_with("}\n"));
        // Deterministic.
        assert_eq!(d, dot(&parse(WEB, "web.toml").expect("valid")));
    }

    #[test]
    fn graph_edges() {
        let spec = parse(WEB, "web.toml").expect("valid");
        let g = graph(&spec);
        assert_eq!(g.node_count(), 14);
        let idx = |n: &str| spec.groups.iter().position(|g| g.name == n).expect(n);
        let edges: Vec<(usize, usize)> = g
            .edge_indices()
            .filter_map(|e| g.edge_endpoints(e))
            .map(|(a, b)| (g[a], g[b]))
            .collect();
        assert!(edges.contains(&(idx("app"), idx("cache"))));
        assert!(edges.contains(&(idx("app"), idx("db"))));
        assert!(edges.contains(&(idx("resolver"), idx("dns"))));
        // DNS records are not dependencies.
        assert!(!edges.contains(&(idx("dns"), idx("lb-east"))));
        let total: usize = spec
            .groups
            .iter()
            .map(|g| g.kind.dependencies().len())
            .sum();
        assert_eq!(g.edge_count(), total);
        assert!(!petgraph::algo::is_cyclic_directed(&g));
    }
}
