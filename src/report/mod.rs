//! Exporters: summary JSON, time-series CSVs, the events log and the terminal table, each
//! produced as bytes from a run's results (never from the engine). Writing them to disk is the
//! CLI's job.

pub mod page;
pub mod replay;

use crate::model::metrics::{gossip_share, utilization};
use crate::model::summary::Summary;
use crate::model::{RunResult, Series};

/// Column headers of `timeseries.csv` (one row per bucket and client group).
pub const TIMESERIES_HEADER: &[&str] = &[
    "time_s",
    "client",
    "requests",
    "attempts",
    "successes",
    "degraded",
    "errors",
    "timeouts",
    "throttled",
    "shed",
    "availability",
    "goodput_per_s",
    "latency_mean_s",
    "latency_p50_s",
    "latency_p90_s",
    "latency_p99_s",
];

/// Column headers of `components.csv` (one row per bucket and component group).
pub const COMPONENTS_HEADER: &[&str] = &[
    "time_s",
    "component",
    "kind",
    "replicas",
    "up_replicas",
    "arrivals",
    "offered_per_s",
    "rejected",
    "dropped",
    "denied",
    "throttled",
    "served",
    "errors",
    "shed",
    "utilization",
    "mean_wait_s",
    "max_queue",
    "healthy_seen",
    "gossip_messages",
    "gossip_busy",
];

/// Column headers of `blast_radius.csv` (one row per bucket).
pub const BLAST_RADIUS_HEADER: &[&str] = &[
    "time_s",
    "clients_impacted",
    "clients_total",
    "components_impacted",
    "components_total",
];

/// Column headers of `events.csv`.
pub const EVENTS_HEADER: &[&str] = &["time_s", "kind", "target", "detail"];

/// The start of bucket `b`, in seconds.
fn bucket_start(r: &RunResult, b: usize) -> String {
    r.bucket.saturating_mul(b as u64).to_secs_string()
}

fn f6(x: f64) -> String {
    format!("{x:.6}")
}

fn csv_bytes(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(header).expect("writing to memory");
    for r in rows {
        w.write_record(&r).expect("writing to memory");
    }
    w.into_inner().expect("flushing to memory")
}

/// `timeseries.csv`: per bucket and client group. `availability` is empty for a bucket in
/// which no user request finished.
pub fn timeseries_csv(r: &RunResult) -> Vec<u8> {
    let mut rows = Vec::new();
    let clients: Vec<_> = r.client_series().collect();
    for b in 0..r.buckets() {
        let bucket_s = r.bucket_width(b).as_secs_f64();
        for (g, s) in &clients {
            let x = &s[b];
            rows.push(vec![
                bucket_start(r, b),
                g.name.clone(),
                x.requests.to_string(),
                x.attempts.to_string(),
                x.successes.to_string(),
                x.degraded.to_string(),
                x.errors.to_string(),
                x.timeouts.to_string(),
                x.throttled.to_string(),
                x.shed.to_string(),
                x.availability().map(f6).unwrap_or_default(),
                f6((x.successes + x.degraded) as f64 / bucket_s),
                f6(x.latency.mean_s()),
                f6(x.latency.quantile_s(0.5)),
                f6(x.latency.quantile_s(0.9)),
                f6(x.latency.quantile_s(0.99)),
            ]);
        }
    }
    csv_bytes(TIMESERIES_HEADER, rows.into_iter())
}

/// `components.csv`: per bucket and component group. `healthy_seen` is, for health-checking
/// groups, the fewest targets any of its replicas saw healthy in the bucket, summed over its
/// replicas; empty otherwise.
pub fn components_csv(r: &RunResult) -> Vec<u8> {
    let mut rows = Vec::new();
    let servers: Vec<_> = r
        .groups
        .iter()
        .enumerate()
        .filter_map(|(i, g)| match &g.series {
            Series::Server(s) => Some((i, g, s.as_slice())),
            Series::Client(_) => None,
        })
        .collect();
    for b in 0..r.buckets() {
        let bucket_s = r.bucket_width(b).as_secs_f64();
        let from = r.bucket.0.saturating_mul(b as u64);
        let to = from + r.bucket_width(b).0;
        for &(_, g, s) in &servers {
            let x = &s[b];
            rows.push(vec![
                bucket_start(r, b),
                g.name.clone(),
                g.kind.to_string(),
                g.replicas.to_string(),
                f6(x.up_ns / (to - from) as f64),
                x.arrivals.to_string(),
                f6(x.arrivals as f64 / bucket_s),
                x.rejected.to_string(),
                x.dropped.to_string(),
                x.denied.to_string(),
                x.throttled.to_string(),
                x.served.to_string(),
                x.errors.to_string(),
                x.shed.to_string(),
                f6(utilization(x)),
                f6(if x.started == 0 {
                    0.0
                } else {
                    x.wait_ns / x.started as f64 / 1e9
                }),
                x.max_queue.to_string(),
                x.min_healthy.map(|h| h.to_string()).unwrap_or_default(),
                x.gossip.to_string(),
                f6(gossip_share(x)),
            ]);
        }
    }
    csv_bytes(COMPONENTS_HEADER, rows.into_iter())
}

/// `blast_radius.csv`: per bucket, the client groups below the SLO and the component groups
/// failing (the counts whose peak share is the summary's `peak_fraction`).
pub fn blast_radius_csv(r: &RunResult) -> Vec<u8> {
    let (clients, components) = crate::model::summary::impacted_per_bucket(r);
    let (nc, ns) = (r.client_series().count(), r.server_series().count());
    let rows = (0..r.buckets()).map(|b| {
        vec![
            bucket_start(r, b),
            clients[b].to_string(),
            nc.to_string(),
            components[b].to_string(),
            ns.to_string(),
        ]
    });
    csv_bytes(BLAST_RADIUS_HEADER, rows)
}

/// `events.csv`: faults, health changes, breaker trips, in time order.
pub fn events_csv(r: &RunResult) -> Vec<u8> {
    let rows = r.log.iter().map(|e| {
        vec![
            crate::engine::SimTime(e.time).to_secs_string(),
            e.kind.to_string(),
            e.target.clone(),
            e.detail.clone(),
        ]
    });
    csv_bytes(EVENTS_HEADER, rows)
}

/// `summary.json`, pretty-printed, ending with a newline.
pub fn summary_json(s: &Summary) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(s).expect("a summary always serialises");
    v.push(b'\n');
    v
}

/// A share as a percentage with three decimals.
pub(crate) fn pct(x: f64) -> String {
    format!("{:.3}%", x * 100.0)
}

/// Seconds for a table: milliseconds below one second.
pub(crate) fn secs(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x < 1.0 {
        format!("{:.1}ms", x * 1e3)
    } else {
        format!("{x:.2}s")
    }
}

/// The terminal summary table. Name columns are as wide as the longest name.
pub fn table(s: &Summary) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "scenario {}  seed {}  simulated {}  events {}  ({:.2}s wall)",
        s.scenario,
        s.seed,
        crate::engine::SimTime::from_secs_f64(s.duration_s),
        s.events,
        s.wall_seconds
    );
    let _ = writeln!(o);
    let cw = s
        .clients
        .keys()
        .map(|n| n.chars().count())
        .chain(std::iter::once("client".len()))
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        o,
        "{:<cw$} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9}",
        "client",
        "requests",
        "avail",
        "degraded",
        "errors",
        "timeouts",
        "downtime",
        "longest",
        "p50",
        "p99"
    );
    for (name, c) in &s.clients {
        let (p50, p99) = c
            .latency_s
            .as_ref()
            .map_or(("-".to_owned(), "-".to_owned()), |l| {
                (secs(l.p50), secs(l.p99))
            });
        let _ = writeln!(
            o,
            "{:<cw$} {:>10} {:>10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9}",
            name,
            c.requests,
            pct(c.availability),
            c.degraded,
            c.errors,
            c.timeouts,
            secs(c.downtime_s),
            secs(c.longest_outage_s),
            p50,
            p99
        );
    }
    // Overload control, only where it acted (so runs without it print as before).
    for (name, c) in &s.clients {
        if c.throttled > 0 || c.hedged > 0 {
            let _ = writeln!(
                o,
                "  {name}: {} throttled (429), {} hedged, {} copies abandoned (wasted work)",
                c.throttled, c.hedged, c.wasted
            );
        }
    }
    let _ = writeln!(o);
    let nw = s
        .components
        .keys()
        .map(|n| n.chars().count())
        .chain(std::iter::once("component".len()))
        .max()
        .unwrap_or(0);
    let kw = s
        .components
        .values()
        .map(|c| c.kind.len())
        .chain(std::iter::once("kind".len()))
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        o,
        "{:<nw$} {:<kw$} {:>4} {:>10} {:>9} {:>9} {:>7} {:>9} {:>8}",
        "component", "kind", "n", "arrivals", "rejected", "dropped", "util", "wait", "maxq"
    );
    for (name, c) in &s.components {
        let _ = writeln!(
            o,
            "{:<nw$} {:<kw$} {:>4} {:>10} {:>9} {:>9} {:>7} {:>9} {:>8}",
            name,
            c.kind,
            c.replicas,
            c.arrivals,
            c.rejected,
            c.dropped,
            format!("{:.1}%", c.mean_utilization * 100.0),
            secs(c.mean_wait_s),
            c.max_queue
        );
    }
    for (name, c) in &s.components {
        if c.throttled > 0 {
            let _ = writeln!(
                o,
                "  {name}: {} throttled (429 or failed fast)",
                c.throttled
            );
        }
    }
    if let Some(line) = shed_line(s) {
        let _ = writeln!(o, "{line}");
    }
    let b = &s.blast_radius;
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "blast radius: clients {}/{} impacted{}, components {} impacted{}, {} of user requests failed",
        b.clients.impacted.len(),
        s.clients.len(),
        list(&b.clients.impacted),
        b.components.impacted.len(),
        list(&b.components.impacted),
        pct(b.failed_request_fraction)
    );
    if !b.chronically_down.is_empty() {
        let _ = writeln!(
            o,
            "  chronically down (below the SLO before any fault, not counted above): {}",
            b.chronically_down.join(", ")
        );
    }
    if !b.origins.is_empty() {
        let _ = writeln!(
            o,
            "  from {}: travelled {} dependency hop{}, peak {} of clients at once",
            b.origins.join(", "),
            b.max_hops,
            if b.max_hops == 1 { "" } else { "s" },
            pct(b.clients.peak_fraction)
        );
    }
    if let Some(line) = incident_line(&s.incident) {
        let _ = writeln!(o, "incident: {line}");
    }
    o
}

/// What overload control shed, in one line ("shed: 812 waiting requests (api 812); users got
/// 640 overload answers (users 640)"), or None when nothing was shed.
pub fn shed_line(s: &Summary) -> Option<String> {
    let at = |it: &mut dyn Iterator<Item = (&String, u64)>| {
        let mut total = 0;
        let mut parts = Vec::new();
        for (name, n) in it.filter(|(_, n)| *n > 0) {
            total += n;
            parts.push(format!("{name} {n}"));
        }
        (total, parts.join(", "))
    };
    let (servers, where_) = at(&mut s.components.iter().map(|(k, c)| (k, c.shed)));
    let (users, who) = at(&mut s.clients.iter().map(|(k, c)| (k, c.shed)));
    if servers == 0 && users == 0 {
        return None;
    }
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    let mut line = format!(
        "shed: {servers} waiting request{}{}",
        plural(servers),
        if where_.is_empty() {
            String::new()
        } else {
            format!(" ({where_})")
        }
    );
    if users > 0 {
        line.push_str(&format!(
            "; users got {users} overload answer{} ({who})",
            plural(users)
        ));
    }
    Some(line)
}

/// The incident in one line ("impact from 35m, detected after 1m, ... (8 alarms, 1 action)"),
/// or None when no client group went below the SLO.
pub fn incident_line(i: &crate::model::summary::Incident) -> Option<String> {
    let t0 = i.impact_s?;
    let after = |x: Option<f64>, done: &str, not: &str| {
        x.map_or(not.to_owned(), |x| format!("{done} after {}", duration(x)))
    };
    let plural = |n: u64| if n == 1 { "" } else { "s" };
    Some(format!(
        "impact from {}, {}, {}, {} ({} alarm{}, {} action{})",
        duration(t0),
        after(i.time_to_detect_s, "detected", "no alarm fired"),
        after(i.time_to_mitigate_s, "mitigated", "no action taken"),
        after(i.time_to_recover_s, "recovered", "not recovered by the end"),
        i.alarms,
        plural(i.alarms),
        i.actions,
        plural(i.actions),
    ))
}

/// A time in seconds as a human duration ("12m30s").
pub(crate) fn duration(s: f64) -> String {
    crate::engine::SimTime::from_secs_f64(s).to_string()
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(" ({})", names.join(", "))
    }
}
