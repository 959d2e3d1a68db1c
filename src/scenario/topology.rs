//! Topology views of a validated scenario: the group dependency graph, a readable listing
//! (`describe`) and Graphviz DOT (`dot`). Output follows file order only, so it is the same
//! on every run.

use std::fmt::Write as _;

use petgraph::graph::DiGraph;

use crate::model::spec::{
    ActionKind, Backoff, Balance, CheckKind, Dist, FaultKind, FaultTarget, GossipSpec,
    HealthCheckSpec, Jitter, KindSpec, NoneHealthy, RetrySpec, Routing, ServerSpec, Spec, Target,
    Trigger,
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
        Backoff::Fixed => {
            let _ = write!(s, ", fixed back-off {}", r.base);
        }
        Backoff::Exponential => {
            let _ = write!(s, ", exponential back-off {}..{}", r.base, r.cap);
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
        h.interval, h.timeout, h.unhealthy, h.healthy
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

fn gossip(g: &GossipSpec) -> String {
    let mut s = format!(
        "gossip every {} to {} peer(s), failed after lagging {}, {} per entry merged",
        g.interval, g.fanout, g.fail_after, g.cost
    );
    if g.checksums {
        s.push_str(", checksums");
    }
    if g.failed_fanout > 0 {
        let how_long = g.failed_rounds.map_or_else(
            || "while they stay failed".to_owned(),
            |r| format!("for {r} rounds"),
        );
        s.push_str(&format!(
            ", failed peers told to {} peer(s) a round {how_long}",
            g.failed_fanout
        ));
    }
    s
}

/// The groups whose alarms monitor `m` evaluates, in alarm order.
fn watched(spec: &Spec, m: usize) -> Vec<&str> {
    distinct(
        spec.alarms
            .iter()
            .filter(|a| a.monitor == m)
            .map(|a| name(spec, a.group)),
    )
}

/// The settings lines of group `g`.
fn settings(spec: &Spec, g: usize) -> Vec<String> {
    let Some(kind) = spec.groups.get(g).map(|g| &g.kind) else {
        return Vec::new();
    };
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
        KindSpec::Monitor(m) => {
            let from = watched(spec, g);
            if from.is_empty() {
                lines.push(format!(
                    "collects reports every {} (no alarm uses it)",
                    m.period
                ));
            } else {
                lines.push(format!(
                    "collects reports from {} every {}",
                    from.join(", "),
                    m.period
                ));
            }
        }
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
            lines.extend(tenants(spec, g, l));
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
    for (i, g) in spec.groups.iter().enumerate() {
        let regions = distinct(g.placement.iter().map(|p| p.region.as_str()));
        let zones = distinct(g.placement.iter().map(|p| p.zone.as_str()));
        let segments = distinct(g.placement.iter().map(|p| p.segment.as_str()));
        let standby = match g.standby {
            0 => String::new(),
            n => format!(" + {n} standby"),
        };
        let _ = writeln!(
            out,
            "  {}: {} x{}{standby}, region {}, zones {}, segment {}",
            g.name,
            g.kind.name(),
            g.replicas() - g.standby,
            regions.join(", "),
            zones.join(", "),
            segments.join(", ")
        );
        for l in settings(spec, i) {
            let _ = writeln!(out, "    {l}");
        }
        if let Some(gs) = &g.gossip {
            let _ = writeln!(out, "    {}", gossip(gs));
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
            (
                FaultKind::GossipCorruption {
                    replicas,
                    field,
                    bit,
                    entry,
                },
                _,
                _,
            ) => {
                let r: Vec<String> = replicas.iter().map(u32::to_string).collect();
                let whose =
                    entry.map_or_else(|| "its own".to_owned(), |e| format!("replica {e}'s"));
                format!(
                    "gossip_corruption of {target} from replica {}: bit {bit} of {whose} {} flipped",
                    r.join(", "),
                    field.word()
                )
            }
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
                    FaultKind::ConfigChange {
                        set,
                        rollout,
                        batch,
                        ..
                    } => {
                        let set: Vec<String> =
                            set.iter().map(|(p, v)| format!("{p} = {v}")).collect();
                        let pace = if rollout.is_zero() {
                            "all at once".to_owned()
                        } else {
                            format!("rollout {rollout}, batches of {batch}")
                        };
                        format!(", set {} ({pace})", set.join(", "))
                    }
                    FaultKind::Poison { source, .. } => {
                        let tenant = spec.groups.get(*source).map_or("?", |g| g.name.as_str());
                        format!(", crashed by requests from {tenant}")
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
    if !spec.alarms.is_empty() {
        let _ = writeln!(out, "alarms ({}):", spec.alarms.len());
    }
    for a in &spec.alarms {
        let hold = if a.hold.is_zero() {
            String::new()
        } else {
            format!(" for {}", a.hold)
        };
        let _ = writeln!(
            out,
            "  {}: {} of {} {} {}{hold}, on {}{}",
            a.name,
            a.metric.name(),
            name(spec, a.group),
            if a.above { "above" } else { "below" },
            a.threshold,
            name(spec, a.monitor),
            if a.missing_breaches {
                ", missing data breaches"
            } else {
                ""
            }
        );
    }
    if !spec.actions.is_empty() {
        let _ = writeln!(out, "actions ({}):", spec.actions.len());
    }
    for a in &spec.actions {
        let fault = |f: usize| spec.faults.get(f).map_or("?", |f| f.name.as_str());
        let what = match &a.kind {
            ActionKind::Rollback { fault: f } => format!("rollback of {}", fault(*f)),
            ActionKind::EndFault { fault: f } => format!("end fault {}", fault(*f)),
            ActionKind::Block { firewall, source } => {
                format!(
                    "block {} at firewall {}",
                    name(spec, *source),
                    name(spec, *firewall)
                )
            }
            ActionKind::ShedLoad { group, fraction } => {
                format!("shed {fraction} of work at {}", name(spec, *group))
            }
            ActionKind::DnsFailover { dns, record, to } => {
                let record = match spec.groups.get(*dns).map(|g| &g.kind) {
                    Some(KindSpec::Dns(d)) => d.records.get(*record).map_or("?", |r| &r.name),
                    _ => "?",
                };
                format!(
                    "dns_failover of {record} at {} to {}",
                    name(spec, *dns),
                    name(spec, *to)
                )
            }
            ActionKind::Restart {
                group,
                stagger,
                cold_start,
            } => format!(
                "restart of {} (stagger {stagger}, cold start {cold_start})",
                name(spec, *group)
            ),
            ActionKind::ClearGossip {
                group,
                restart_time,
                restart_batch,
            } => format!(
                "clear_gossip of {} (restarts of {restart_time}, {} at a time)",
                name(spec, *group),
                restart_batch.map_or_else(|| "all".to_owned(), |b| b.to_string())
            ),
            ActionKind::Scale {
                group,
                replicas,
                provision,
            } => format!(
                "scale of {} by {replicas} standby replica(s) (in service {provision} later)",
                name(spec, *group)
            ),
            ActionKind::Reroute { group, from, to } => format!(
                "reroute of {}'s lookups from {} to {}",
                name(spec, *group),
                name(spec, *from),
                name(spec, *to)
            ),
        };
        let when = match &a.trigger {
            Trigger::At(t) => format!("at {t}"),
            Trigger::Alarm { alarm, delay } => {
                let alarm = spec.alarms.get(*alarm).map_or("?", |a| a.name.as_str());
                match delay {
                    Dist::Constant(d) if d.is_zero() => format!("when {alarm} fires"),
                    Dist::Constant(d) => format!("{d} after {alarm} fires"),
                    d => format!("after {alarm} fires, delay {}", dist(d)),
                }
            }
        };
        let _ = writeln!(out, "  {}: {what} {when}", a.name);
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
/// groups as hexagons, monitors as notes), a cluster per region, solid edges for dependencies,
/// dashed edges for DNS records (labelled with the name) and health checks, dotted edges for
/// the reports alarms need (watched group to monitor).
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
                KindSpec::Monitor(_) => ", shape=note",
                _ => "",
            };
            let standby = match g.standby {
                0 => String::new(),
                n => format!(" + {n} standby"),
            };
            let label = format!(
                "{}\n{} x{}{standby}",
                g.name,
                g.kind.name(),
                g.replicas() - g.standby
            );
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
    let mut reports: Vec<(usize, usize)> = Vec::new();
    for a in &spec.alarms {
        if !reports.contains(&(a.group, a.monitor)) {
            reports.push((a.group, a.monitor));
            let _ = writeln!(
                out,
                "  {} -> {} [style=dotted, label=\"reports\"];",
                q(name(spec, a.group)),
                q(name(spec, a.monitor))
            );
        }
    }
    let _ = writeln!(out, "}}");
    out
}

/// A load balancer's cells or shuffle shards: which backends serve which client group.
fn tenants(spec: &Spec, lb: usize, l: &crate::model::spec::LbSpec) -> Vec<String> {
    use crate::model::policy::shard::Sharding;
    let n = spec.groups[l.backends].placement.len() as u32;
    let head = match l.sharding {
        Sharding::None => return Vec::new(),
        Sharding::Cells(m) => format!("{m} cells of {}", name(spec, l.backends)),
        Sharding::Shuffle(k) => format!(
            "shuffle shards of {k} of {n} {} replicas",
            name(spec, l.backends)
        ),
    };
    let clients = spec
        .groups
        .iter()
        .filter(|g| matches!(g.kind, KindSpec::Client(_)));
    let shards: Vec<String> = (0u32..)
        .zip(clients)
        .filter_map(|(rank, g)| {
            let b = l
                .sharding
                .backends(&spec.groups[lb].name, &g.name, rank, n)?;
            let b: Vec<String> = b.iter().map(u32::to_string).collect();
            Some(format!("{} [{}]", g.name, b.join(", ")))
        })
        .collect();
    vec![format!("{head}: {}", shards.join(", "))]
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
            "components (15):",
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
        assert_eq!(g.node_count(), 15);
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

    #[test]
    fn describe_and_dot_ops() {
        let spec = parse(crate::scenario::fixtures::OPS, "ops.toml").expect("valid");
        let d = describe(&spec);
        for line in [
            "  app: service x3 + 2 standby, region default, zones a, b, segment main",
            "  store: storage x100, region default, zones default-a, segment main",
            "    gossip every 1s to 1 peer(s), failed after lagging 30s, 2us per entry merged",
            "  mon: monitor x1, region default, zones default-a, segment main",
            "    workers 64, queue 1000, service time constant 100us",
            "    collects reports from users, store every 15s",
            "faults (3):",
            "  bad-config: config_change of lb (every replica), set health_check.kind = \"deep\", workers = 4 (rollout 5m, batches of 1) at 10m to the end",
            "  bitflip: gossip_corruption of store from replica 0: bit 31 of its own heartbeat flipped at 10m to the end",
            "alarms (2):",
            "  users-down: availability of users below 0.99 for 1m, on mon",
            "  store-busy: utilization of store above 0.8, on mon, missing data breaches",
            "actions (8):",
            "  undo: rollback of bad-config after users-down fires, delay exponential mean 5m",
            "  action-1: end fault surge at 40m",
            "  action-2: block scrapers at firewall fw at 20m",
            "  action-3: shed 0.2 of work at app when store-busy fires",
            "  action-4: dns_failover of www.example.com at dns to lb-b when users-down fires",
            "  action-5: restart of app (stagger 10s, cold start 30s) at 50m",
            "  action-6: clear_gossip of store (restarts of 1m, 5 at a time) when store-busy fires",
            "  action-7: scale of app by 1 standby replica(s) (in service 3m later) 2m after store-busy fires",
        ] {
            assert!(
                d.lines().any(|l| l == line),
                "missing line {line:?} in:\n{d}"
            );
        }
        // Gossip is shown only where it runs.
        assert_eq!(d.matches("gossip every").count(), 1, "{d}");
        let d = dot(&spec);
        for line in [
            "    \"mon\" [label=\"mon\\nmonitor x1\", shape=note];",
            "    \"app\" [label=\"app\\nservice x3 + 2 standby\"];",
            "  \"users\" -> \"mon\" [style=dotted, label=\"reports\"];",
            "  \"store\" -> \"mon\" [style=dotted, label=\"reports\"];",
        ] {
            assert!(
                d.lines().any(|l| l == line),
                "missing line {line:?} in:\n{d}"
            );
        }
        // A monitor no alarm uses says so.
        let spec = parse(
            &format!("{MMC}\n[components.mon]\nkind = \"monitor\"\n"),
            "mmc.toml",
        )
        .expect("valid");
        assert!(
            describe(&spec).contains("\n    collects reports every 10s (no alarm uses it)\n"),
            "{}",
            describe(&spec)
        );
    }
}
