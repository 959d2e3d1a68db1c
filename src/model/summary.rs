//! Run summaries: what users saw per client group, how each component group fared, and how far
//! the impact reached (blast radius). Plain data with serde derives; the report layer writes it.

use super::metrics::{
    ClientBucket, Histogram, ServerBucket, gossip_share, outage_time, total_client, total_server,
    utilization,
};
use super::spec::{FailureUnit, FaultTarget, KindSpec, Level, Target, Warmup};
use super::{RunResult, Series};
use indexmap::IndexMap;
use serde::Serialize;

/// Latency of successful (and degraded) user requests, in seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
}

impl Latency {
    /// None when nothing succeeded: a latency of 0 would read as instant answers.
    fn of(h: &Histogram) -> Option<Latency> {
        (h.count() > 0).then(|| Latency {
            mean: h.mean_s(),
            p50: h.quantile_s(0.5),
            p90: h.quantile_s(0.9),
            p99: h.quantile_s(0.99),
        })
    }
}

/// The step a duration measured from a bucket's start is reported to: the largest power of
/// ten of seconds (1 ms at least) not over a tenth of the bucket. The impact is only known to
/// the bucket, so finer digits (a detection after "4m47.808341992s") are noise.
pub fn resolution_s(bucket_s: f64) -> f64 {
    let tenth = (bucket_s / 10.0).max(1e-3);
    10f64.powf(tenth.log10().floor())
}

/// `x` rounded to the nearest multiple of `step` (kept exact for whole steps).
fn round_to(x: f64, step: f64) -> f64 {
    let k = (x / step).round();
    if step >= 1.0 {
        k * step
    } else {
        k / (1.0 / step).round()
    }
}

/// What one client group saw.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientSummary {
    pub requests: u64,
    pub attempts: u64,
    pub successes: u64,
    pub degraded: u64,
    pub errors: u64,
    pub timeouts: u64,
    /// Refused by a rate or concurrency limit (429) on their last attempt.
    pub throttled: u64,
    /// Hedges sent (second copies of slow attempts), and copies abandoned because the
    /// other answered first (their callees' work wasted).
    pub hedged: u64,
    pub wasted: u64,
    /// Finished with an overload answer: shed by a queue's overload control.
    pub shed: u64,
    /// (successes + degraded) / finished user requests.
    pub availability: f64,
    /// Time in buckets whose availability was below the SLO.
    pub downtime_s: f64,
    /// Longest run of consecutive such buckets.
    pub longest_outage_s: f64,
    /// Null when no request succeeded.
    pub latency_s: Option<Latency>,
    /// From the start of its first bucket below the SLO (its impact) to the first alarm
    /// since the incident began (0 if an alarm came first); null without impact or alarm.
    pub time_to_detect_s: Option<f64>,
    /// From its impact to the first action since the incident began (0 if one came first).
    pub time_to_mitigate_s: Option<f64>,
    /// From its impact to the end of its last bucket below the SLO (null if it was still
    /// below in the last bucket: not recovered by the end). A group already below the SLO
    /// before the first fault is chronically down, not part of the incident: all three null.
    pub time_to_recover_s: Option<f64>,
}

/// How one component group fared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ComponentSummary {
    pub kind: &'static str,
    pub replicas: u32,
    pub arrivals: u64,
    pub rejected: u64,
    pub dropped: u64,
    /// Refused by a firewall's deny rule.
    pub denied: u64,
    /// Refused by its rate limit, or its own calls failed fast at a concurrency limit.
    pub throttled: u64,
    pub served: u64,
    pub errors: u64,
    /// Shed while waiting (priority displacement, `shed_after`, CoDel, abandoned requests).
    pub shed: u64,
    /// Mean time queued before a worker.
    pub mean_wait_s: f64,
    /// Busy worker time over live worker time: the workers up at the time (a replica that
    /// crashed, a standby not yet provisioned, workers removed by a config change or lost to
    /// a capacity loss offer none).
    pub mean_utilization: f64,
    pub max_queue: u64,
    /// Gossip messages received (groups that gossip).
    pub gossip_messages: u64,
    /// Worker time spent merging gossip over available worker time (null without gossip).
    pub gossip_work: Option<f64>,
    /// The load that comes back when the faults are over (null without a fault that ended, or
    /// without a bucket before the first fault).
    pub return_peak: Option<ReturnPeak>,
}

/// How many buckets after the last fault's end [`ReturnPeak`] looks at.
pub const RETURN_WINDOW: usize = 10;

/// The returning load at a component (the herd): its busiest bucket among the first
/// [`RETURN_WINDOW`] that start at or after the end of the last fault, against its mean rate
/// before the first fault. Retries pending, work queued upstream and callers that come back at
/// once show as a ratio above 1.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReturnPeak {
    /// When that bucket starts.
    pub at_s: f64,
    /// Its arrivals per second.
    pub per_s: f64,
    /// Mean arrivals per second before the first fault's bucket (after any warmup).
    pub baseline_per_s: f64,
    /// `per_s` over `baseline_per_s` (null when the baseline is 0).
    pub ratio: Option<f64>,
}

/// The returning load of one server series (see [`ReturnPeak`]), given the first bucket of
/// the window and the buckets of the baseline.
fn return_peak(
    r: &RunResult,
    s: &[ServerBucket],
    base: std::ops::Range<usize>,
    from: usize,
) -> Option<ReturnPeak> {
    if base.is_empty() || from >= s.len() {
        return None;
    }
    let secs = |b: usize| r.bucket_width(b).as_secs_f64();
    let base_time: f64 = base.clone().map(secs).sum();
    let base_arrivals: u64 = s[base].iter().map(|b| b.arrivals).sum();
    let baseline_per_s = base_arrivals as f64 / base_time;
    let to = (from + RETURN_WINDOW).min(s.len());
    // The first busiest bucket.
    let (b, per_s) = (from..to)
        .map(|b| (b, s[b].arrivals as f64 / secs(b)))
        .fold((from, f64::NEG_INFINITY), |best, x| {
            if x.1 > best.1 { x } else { best }
        });
    Some(ReturnPeak {
        at_s: r.bucket.as_secs_f64() * b as f64,
        per_s,
        baseline_per_s,
        ratio: (baseline_per_s > 0.0).then(|| per_s / baseline_per_s),
    })
}

/// The first bucket that starts at or after the last fault's end, if a fault ended.
fn after_last_fault(r: &RunResult) -> Option<usize> {
    let end = r
        .log
        .iter()
        .filter(|e| matches!(e.kind, "fault_end" | "failure_end"))
        .map(|e| e.time)
        .filter(|&t| t < r.spec.duration.0)
        .max()?;
    Some(end.div_ceil(r.bucket.0.max(1)) as usize)
}

/// Impacted groups of one sort, by name, and their share.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Impact {
    pub impacted: Vec<String>,
    pub fraction: f64,
    /// The largest share impacted at once (in one metric bucket), and when that bucket
    /// started (null when none was).
    pub peak_fraction: f64,
    pub peak_at_s: Option<f64>,
}

/// The incident as a whole: when it began and how long detection, mitigation and recovery
/// took, measured from the first impact on any client group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incident {
    /// The first fault or random failure (null: none happened).
    pub start_s: Option<f64>,
    /// The start of the first bucket in which a client group was below the SLO.
    pub impact_s: Option<f64>,
    pub time_to_detect_s: Option<f64>,
    pub time_to_mitigate_s: Option<f64>,
    pub time_to_recover_s: Option<f64>,
    /// Alarm firings and actions run.
    pub alarms: u64,
    pub actions: u64,
}

/// How far the impact reached.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlastRadius {
    /// Client groups with downtime during the incident (chronically down ones left out).
    pub clients: Impact,
    /// Client groups already below the SLO before any fault began (without faults: from the
    /// first bucket on), say one a firewall denies by design: a standing condition, not the
    /// incident's reach. Left out of `clients` and of its peak.
    pub chronically_down: Vec<String>,
    /// Component groups hit by a fault during the run, or failing (rejected, dropped or errored) more than
    /// 1 - SLO of their arrivals in some bucket.
    pub components: Impact,
    /// Failed (errors + timeouts + throttled + shed) over finished user requests, all client
    /// groups together.
    pub failed_request_fraction: f64,
    /// The faults' origins: groups with a replica hit by a fault, a random failure, or a link
    /// fault's domains.
    pub origins: Vec<String>,
    /// Per impacted group, the dependency hops from it down to the nearest origin (0: an
    /// origin itself); groups with no dependency path to an origin are left out.
    pub hops: IndexMap<String, u32>,
    /// The most hops the impact travelled.
    pub max_hops: u32,
}

/// A scenario's wall clock, as `summary.json` carries it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClockSummary {
    pub start_s: u32,
    pub zone: String,
}

/// The whole summary (the content of `summary.json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub duration_s: f64,
    /// `scenario.slo`: availability below it counts as downtime (plots draw it).
    pub slo: f64,
    /// `scenario.clock`: the wall-clock time of simulated time zero, in seconds after
    /// midnight, and its zone label (plots put clock times on their x axis); null without.
    pub clock: Option<ClockSummary>,
    pub events: u64,
    /// Wall-clock seconds of the run: the one value that is not deterministic.
    pub wall_seconds: f64,
    /// With `scenario.warmup`: the start of the run left out of every client and component
    /// metric, in seconds (whole buckets; under "auto", MSER-5's choice for this run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<f64>,
    pub clients: IndexMap<String, ClientSummary>,
    pub components: IndexMap<String, ComponentSummary>,
    pub incident: Incident,
    pub blast_radius: BlastRadius,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Whether a client group's bucket is below the SLO.
fn client_below_slo(x: &ClientBucket, slo: f64) -> bool {
    x.availability().is_some_and(|a| a < slo)
}

/// Whether a component group's bucket is failing: more of its arrivals rejected, dropped,
/// shed or answered with errors than the SLO allows.
fn component_failing(x: &ServerBucket, slo: f64) -> bool {
    let bad = x.rejected + x.dropped + x.errors + x.shed;
    bad > 0 && ratio(bad, x.arrivals) > 1.0 - slo
}

/// Per bucket: how many client groups were below the SLO, and how many component groups were
/// failing.
pub fn impacted_per_bucket(r: &RunResult) -> (Vec<u64>, Vec<u64>) {
    let slo = r.spec.slo;
    let nb = r.buckets();
    let (mut clients, mut components) = (vec![0u64; nb], vec![0u64; nb]);
    let chronic = chronically_down(r);
    for (g, s) in r.client_series() {
        if chronic.contains(&g.name) {
            continue;
        }
        for (b, x) in s.iter().enumerate() {
            clients[b] += u64::from(client_below_slo(x, slo));
        }
    }
    for (_, s) in r.server_series() {
        for (b, x) in s.iter().enumerate() {
            components[b] += u64::from(component_failing(x, slo));
        }
    }
    (clients, components)
}

/// The first fault or random failure, in nanoseconds (None: nothing happened).
fn first_fault_ns(r: &RunResult) -> Option<u64> {
    r.spec
        .faults
        .iter()
        .map(|f| f.at.0)
        .chain(
            r.log
                .iter()
                .filter(|e| e.kind == "failure_start")
                .map(|e| e.time),
        )
        .filter(|&t| t < r.spec.duration.0)
        .min()
}

/// Client groups below the SLO before the first fault's bucket (without faults: in the first
/// bucket), in file order.
pub fn chronically_down(r: &RunResult) -> Vec<String> {
    let slo = r.spec.slo;
    let first = first_fault_ns(r);
    let from_bucket = first.map(|t| (t / r.bucket.0.max(1)) as usize);
    r.client_series()
        .filter(|(_, s)| {
            let bad = s.iter().position(|x| client_below_slo(x, slo));
            match (bad, from_bucket) {
                (Some(b), Some(f)) => b < f,
                (Some(b), None) => b == 0,
                (None, _) => false,
            }
        })
        .map(|(g, _)| g.name.clone())
        .collect()
}

/// Summarises a run.
/// The buckets `scenario.warmup` leaves out of the summary: none without it; a fixed warm-up
/// rounded up to whole buckets; "auto" the longer of MSER-5's truncations of the availability
/// series (all client groups together) and of the mean latency series. At least one bucket
/// is always kept.
pub fn warmup_buckets(r: &RunResult) -> Option<usize> {
    let nb = r.buckets();
    let w = match r.spec.warmup? {
        Warmup::Fixed(t) => t.0.div_ceil(r.bucket.0.max(1)) as usize,
        Warmup::Auto => {
            let clients: Vec<&[ClientBucket]> = r.client_series().map(|(_, s)| s).collect();
            let (mut avail, mut latency) = (Vec::with_capacity(nb), Vec::with_capacity(nb));
            for b in 0..nb {
                let (mut ok, mut finished, mut lat_sum, mut answered) = (0u64, 0u64, 0.0, 0u64);
                for s in &clients {
                    let x = &s[b];
                    ok += x.successes + x.degraded;
                    finished += x.finished();
                    lat_sum += x.latency.mean_s() * (x.successes + x.degraded) as f64;
                    answered += x.successes + x.degraded;
                }
                // A bucket without a value repeats the one before (1 and 0 at the start).
                let a = if finished > 0 {
                    ok as f64 / finished as f64
                } else {
                    avail.last().copied().unwrap_or(1.0)
                };
                let l = if answered > 0 {
                    lat_sum / answered as f64
                } else {
                    latency.last().copied().unwrap_or(0.0)
                };
                avail.push(a);
                latency.push(l);
            }
            crate::stats::mser5(&avail).max(crate::stats::mser5(&latency))
        }
    };
    Some(w.min(nb.saturating_sub(1)))
}

pub fn summarize(r: &RunResult, wall_seconds: f64) -> Summary {
    let slo = r.spec.slo;
    let width = |b: usize| r.bucket_width(b).as_secs_f64();
    let duration_s = r.spec.duration.as_secs_f64();
    let mut clients = IndexMap::new();
    let mut components = IndexMap::new();
    let (mut finished, mut failed) = (0u64, 0u64);
    let mut impacted_clients = Vec::new();
    let mut impacted_components = Vec::new();
    let mut n_components = 0;
    let chronic = chronically_down(r);
    let warmup = warmup_buckets(r);
    let w = warmup.unwrap_or(0);
    let before_faults = w..first_fault_ns(r).map_or(w, |t| (t / r.bucket.0.max(1)) as usize);
    let returned = after_last_fault(r);
    for (g, group) in r.groups.iter().enumerate() {
        match &group.series {
            Series::Client(s) => {
                let t = total_client(&s[w..]);
                let (down, longest) = outage_time(&s[w..], slo, |b| width(b + w));
                finished += t.finished();
                failed += t.errors + t.timeouts + t.throttled + t.shed;
                if down > 0.0 && !chronic.contains(&group.name) {
                    impacted_clients.push(group.name.clone());
                }
                clients.insert(
                    group.name.clone(),
                    ClientSummary {
                        requests: t.requests,
                        attempts: t.attempts,
                        successes: t.successes,
                        degraded: t.degraded,
                        errors: t.errors,
                        timeouts: t.timeouts,
                        throttled: t.throttled,
                        hedged: t.hedged,
                        wasted: t.wasted,
                        shed: t.shed,
                        availability: t.availability().unwrap_or(1.0),
                        downtime_s: down,
                        longest_outage_s: longest,
                        latency_s: Latency::of(&t.latency),
                        time_to_detect_s: None,
                        time_to_mitigate_s: None,
                        time_to_recover_s: None,
                    },
                );
            }
            Series::Server(s) => {
                n_components += 1;
                let t = total_server(&s[w..]);
                let faulted = r.spec.faults.iter().any(|f| {
                    f.at < r.spec.duration
                        && (0..group.replicas).any(|k| f.hits(&r.spec.groups, g, k))
                });
                let failing = s.iter().any(|b| component_failing(b, slo));
                if faulted || failing {
                    impacted_components.push(group.name.clone());
                }
                components.insert(
                    group.name.clone(),
                    ComponentSummary {
                        kind: group.kind,
                        replicas: group.replicas,
                        arrivals: t.arrivals,
                        rejected: t.rejected,
                        dropped: t.dropped,
                        denied: t.denied,
                        throttled: t.throttled,
                        served: t.served,
                        errors: t.errors,
                        shed: t.shed,
                        mean_wait_s: if t.started == 0 {
                            0.0
                        } else {
                            t.wait_ns / t.started as f64 / 1e9
                        },
                        mean_utilization: utilization(&t),
                        max_queue: t.max_queue,
                        gossip_messages: t.gossip,
                        gossip_work: r.spec.groups[g].gossip.is_some().then(|| gossip_share(&t)),
                        return_peak: returned
                            .and_then(|from| return_peak(r, s, before_faults.clone(), from)),
                    },
                );
            }
        }
    }
    let n_clients = clients.len();
    let bucket_s = r.bucket.as_secs_f64();
    // The incident's clock: its first fault or random failure.
    let first_fault = first_fault_ns(r);
    let from = first_fault.unwrap_or(0);
    // Per bucket: client groups below the SLO, component groups failing.
    let nb = r.buckets();
    let (bad_clients, bad_components) = impacted_per_bucket(r);
    let mut impact: IndexMap<String, (usize, usize)> = IndexMap::new();
    for (g, s) in r.client_series() {
        let mut first_last = None;
        for (b, x) in s.iter().enumerate() {
            if client_below_slo(x, slo) {
                first_last = Some(first_last.map_or((b, b), |(f, _)| (f, b)));
            }
        }
        // A group already below the SLO before the incident began (say, one a firewall
        // denies by design) is chronically down, not part of the incident.
        if let Some(fl) = first_last.filter(|_| !chronic.contains(&g.name)) {
            impact.insert(g.name.clone(), fl);
        }
    }
    let peak = |v: &[u64], n: usize| -> (f64, Option<f64>) {
        let (mut best, mut at) = (0u64, None);
        for (b, &k) in v.iter().enumerate() {
            if k > best {
                best = k;
                at = Some(b as f64 * bucket_s);
            }
        }
        (ratio(best, n as u64), at)
    };
    let (client_peak, client_peak_at) = peak(&bad_clients, n_clients);
    let (comp_peak, comp_peak_at) = peak(&bad_components, n_components);
    let first_of = |kind: &str| {
        r.log
            .iter()
            .find(|e| e.kind == kind && e.time >= from)
            .map(|e| e.time as f64 / 1e9)
    };
    let (alarm, action) = (first_of("alarm"), first_of("action"));
    let step = resolution_s(bucket_s);
    let since = |t: Option<f64>, t0: f64| t.map(|t| round_to((t - t0).max(0.0), step));
    for (name, &(first, last)) in &impact {
        let t0 = first as f64 * bucket_s;
        if let Some(c) = clients.get_mut(name) {
            c.time_to_detect_s = since(alarm, t0);
            c.time_to_mitigate_s = since(action, t0);
            // Still below the SLO in the last bucket: not recovered by the end (null).
            c.time_to_recover_s = (last + 1 < nb).then(|| (last + 1) as f64 * bucket_s - t0);
        }
    }
    let impact_start = impact.values().map(|&(f, _)| f).min();
    let impact_end = impact.values().map(|&(_, l)| l).max();
    let incident = match impact_start {
        Some(f) => {
            let t0 = f as f64 * bucket_s;
            Incident {
                start_s: first_fault.map(|t| t as f64 / 1e9),
                impact_s: Some(t0),
                time_to_detect_s: since(alarm, t0),
                time_to_mitigate_s: since(action, t0),
                time_to_recover_s: impact_end
                    .filter(|&l| l + 1 < nb)
                    .map(|l| (l + 1) as f64 * bucket_s - t0),
                alarms: 0,
                actions: 0,
            }
        }
        None => Incident {
            start_s: first_fault.map(|t| t as f64 / 1e9),
            impact_s: None,
            time_to_detect_s: None,
            time_to_mitigate_s: None,
            time_to_recover_s: None,
            alarms: 0,
            actions: 0,
        },
    };
    let incident = Incident {
        alarms: r.log.iter().filter(|e| e.kind == "alarm").count() as u64,
        actions: r.log.iter().filter(|e| e.kind == "action").count() as u64,
        ..incident
    };
    let origins = fault_origins(r);
    let mut impacted_all: Vec<String> = impacted_clients.clone();
    impacted_all.extend(impacted_components.iter().cloned());
    let hops = dependency_hops(r, &origins, &impacted_all);
    let max_hops = hops.values().copied().max().unwrap_or(0);
    Summary {
        scenario: r.spec.name.clone(),
        seed: r.spec.seed,
        duration_s,
        slo,
        clock: r.spec.replay.clock.as_ref().map(|c| ClockSummary {
            start_s: c.start,
            zone: c.zone.clone(),
        }),
        events: r.events,
        wall_seconds,
        warmup_s: warmup.map(|w| w as f64 * bucket_s),
        incident,
        blast_radius: BlastRadius {
            clients: Impact {
                fraction: ratio(impacted_clients.len() as u64, n_clients as u64),
                impacted: impacted_clients,
                peak_fraction: client_peak,
                peak_at_s: client_peak_at,
            },
            components: Impact {
                fraction: ratio(impacted_components.len() as u64, n_components as u64),
                impacted: impacted_components,
                peak_fraction: comp_peak,
                peak_at_s: comp_peak_at,
            },
            chronically_down: chronic,
            failed_request_fraction: ratio(failed, finished),
            origins: origins
                .iter()
                .map(|&g| r.spec.groups[g].name.clone())
                .collect(),
            hops,
            max_hops,
        },
        clients,
        components,
    }
}

/// The groups where the run's faults start: any group with a replica hit by a fault or a
/// random failure, and for link faults, every group with a replica in one of the two domains.
fn fault_origins(r: &RunResult) -> Vec<usize> {
    let spec = &r.spec;
    let mut out = Vec::new();
    for (g, group) in spec.groups.iter().enumerate() {
        let hit = spec
            .faults
            .iter()
            .filter(|f| f.at < spec.duration)
            .any(|f| {
                if let FaultTarget::Link { level, a, b } = &f.target {
                    group.placement.iter().any(|p| {
                        let d = match level {
                            Level::Zone => &p.zone,
                            Level::Region => &p.region,
                            Level::Segment => &p.segment,
                        };
                        d == a || d == b
                    })
                } else {
                    (0..group.replicas()).any(|k| f.hits(&spec.groups, g, k))
                }
            });
        let failed = spec.failures.iter().any(|f| match &f.unit {
            FailureUnit::Replicas(x) => *x == g,
            FailureUnit::Zone(z) => group.placement.iter().any(|p| &p.zone == z),
            FailureUnit::Region(z) => group.placement.iter().any(|p| &p.region == z),
        }) && !matches!(group.kind, KindSpec::Client(_));
        if hit || failed {
            out.push(g);
        }
    }
    out
}

/// Breadth-first search down dependency edges (a caller to what it calls, including the
/// targets of the DNS records it resolves) from each impacted group to the nearest origin.
fn dependency_hops(r: &RunResult, origins: &[usize], impacted: &[String]) -> IndexMap<String, u32> {
    let spec = &r.spec;
    let n = spec.groups.len();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    let record_targets = |name: &str| -> Vec<usize> {
        spec.groups
            .iter()
            .filter_map(|g| match &g.kind {
                KindSpec::Dns(d) => Some(d.records.iter()),
                _ => None,
            })
            .flatten()
            .filter(|rec| rec.name == name)
            .flat_map(|rec| rec.targets.iter().copied())
            .collect()
    };
    for (g, group) in spec.groups.iter().enumerate() {
        edges[g] = group.kind.dependencies();
        let mut dns_targets = |t: &Target| {
            if let Target::Dns { name, .. } = t {
                edges[g].extend(record_targets(name));
            }
        };
        match &group.kind {
            KindSpec::Client(c) => dns_targets(&c.target),
            KindSpec::Service(s) => s.calls.iter().for_each(|c| dns_targets(&c.target)),
            _ => {}
        }
    }
    let mut out = IndexMap::new();
    for name in impacted {
        let Some(start) = spec.groups.iter().position(|g| &g.name == name) else {
            continue;
        };
        let mut dist = vec![u32::MAX; n];
        dist[start] = 0;
        let mut queue = std::collections::VecDeque::from([start]);
        let mut found = None;
        while let Some(g) = queue.pop_front() {
            if origins.contains(&g) {
                found = Some(dist[g]);
                break;
            }
            for &next in &edges[g] {
                if dist[next] == u32::MAX {
                    dist[next] = dist[g] + 1;
                    queue.push_back(next);
                }
            }
        }
        if let Some(h) = found {
            out.insert(name.clone(), h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{resolution_s, round_to};

    #[test]
    fn durations_are_reported_to_a_tenth_of_the_bucket_in_powers_of_ten() {
        assert_eq!(resolution_s(60.0), 1.0);
        assert_eq!(resolution_s(10.0), 1.0);
        assert_eq!(resolution_s(1.0), 0.1);
        assert_eq!(resolution_s(600.0), 10.0);
        assert_eq!(resolution_s(0.001), 0.001);
        assert_eq!(round_to(287.808341992, 1.0), 288.0);
        assert_eq!(round_to(1.2345, 0.1), 1.2);
        assert_eq!(round_to(0.0, 0.001), 0.0);
    }
}
