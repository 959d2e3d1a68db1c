//! Run summaries: what users saw per client group, how each component group fared, and how far
//! the impact reached (blast radius). Plain data with serde derives; the report layer writes it.

use super::metrics::{Histogram, outage_time, total_client, total_server};
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
    fn of(h: &Histogram) -> Latency {
        Latency {
            mean: h.mean_s(),
            p50: h.quantile_s(0.5),
            p90: h.quantile_s(0.9),
            p99: h.quantile_s(0.99),
        }
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
    /// (successes + degraded) / finished user requests.
    pub availability: f64,
    /// Time in buckets whose availability was below the SLO.
    pub downtime_s: f64,
    /// Longest run of consecutive such buckets.
    pub longest_outage_s: f64,
    pub latency_s: Latency,
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
    pub served: u64,
    pub errors: u64,
    /// Mean time queued before a worker.
    pub mean_wait_s: f64,
    /// Busy worker time over available worker time.
    pub mean_utilization: f64,
    pub max_queue: u64,
    /// Gossip messages received (groups that gossip).
    pub gossip_messages: u64,
}

/// Impacted groups of one sort, by name, and their share.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Impact {
    pub impacted: Vec<String>,
    pub fraction: f64,
}

/// How far the impact reached.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlastRadius {
    /// Client groups with any downtime.
    pub clients: Impact,
    /// Component groups hit by a fault during the run, or failing (rejected, dropped or errored) more than
    /// 1 - SLO of their arrivals in some bucket.
    pub components: Impact,
    /// Failed (errors + timeouts) over finished user requests, all client groups together.
    pub failed_request_fraction: f64,
}

/// The whole summary (the content of `summary.json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub duration_s: f64,
    pub events: u64,
    /// Wall-clock seconds of the run: the one value that is not deterministic.
    pub wall_seconds: f64,
    pub clients: IndexMap<String, ClientSummary>,
    pub components: IndexMap<String, ComponentSummary>,
    pub blast_radius: BlastRadius,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Summarises a run.
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
    for (g, group) in r.groups.iter().enumerate() {
        match &group.series {
            Series::Client(s) => {
                let t = total_client(s);
                let (down, longest) = outage_time(s, slo, width);
                finished += t.finished();
                failed += t.errors + t.timeouts;
                if down > 0.0 {
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
                        availability: t.availability().unwrap_or(1.0),
                        downtime_s: down,
                        longest_outage_s: longest,
                        latency_s: Latency::of(&t.latency),
                    },
                );
            }
            Series::Server(s) => {
                n_components += 1;
                let t = total_server(s);
                let faulted = r.spec.faults.iter().any(|f| {
                    f.at < r.spec.duration
                        && (0..group.replicas).any(|k| f.hits(&r.spec.groups, g, k))
                });
                let failing = s.iter().any(|b| {
                    let bad = b.rejected + b.dropped + b.errors;
                    bad > 0 && ratio(bad, b.arrivals) > 1.0 - slo
                });
                if faulted || failing {
                    impacted_components.push(group.name.clone());
                }
                let capacity = group.workers as f64 * group.replicas as f64 * duration_s * 1e9;
                components.insert(
                    group.name.clone(),
                    ComponentSummary {
                        kind: group.kind,
                        replicas: group.replicas,
                        arrivals: t.arrivals,
                        rejected: t.rejected,
                        dropped: t.dropped,
                        denied: t.denied,
                        served: t.served,
                        errors: t.errors,
                        mean_wait_s: if t.started == 0 {
                            0.0
                        } else {
                            t.wait_ns / t.started as f64 / 1e9
                        },
                        mean_utilization: if capacity > 0.0 {
                            t.busy_ns / capacity
                        } else {
                            0.0
                        },
                        max_queue: t.max_queue,
                        gossip_messages: t.gossip,
                    },
                );
            }
        }
    }
    let n_clients = clients.len();
    Summary {
        scenario: r.spec.name.clone(),
        seed: r.spec.seed,
        duration_s,
        events: r.events,
        wall_seconds,
        blast_radius: BlastRadius {
            clients: Impact {
                fraction: ratio(impacted_clients.len() as u64, n_clients as u64),
                impacted: impacted_clients,
            },
            components: Impact {
                fraction: ratio(impacted_components.len() as u64, n_components as u64),
                impacted: impacted_components,
            },
            failed_request_fraction: ratio(failed, finished),
        },
        clients,
        components,
    }
}
