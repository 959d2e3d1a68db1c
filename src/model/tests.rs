//! Model sanity checks on hand-built specs (the validation suite against queueing theory
//! lives in the integration tests).

use super::spec::*;
use super::summary::summarize;
use super::{RunOptions, run};
use crate::engine::SimTime;

/// A client calling one service group directly: an M/M/c queue when the service time is
/// exponential and the queue unbounded.
pub(crate) fn mmc_spec(rate: f64, workers: u32, mean: SimTime, duration: SimTime) -> Spec {
    let place = || Placement {
        region: "r".into(),
        zone: "r-a".into(),
        segment: "main".into(),
    };
    Spec {
        name: "mmc".into(),
        duration,
        seed: 1,
        bucket: SimTime::from_mins(1),
        slo: 0.99,
        warmup: None,
        network: NetworkSpec {
            same_zone: SimTime::ZERO,
            cross_zone: SimTime::ZERO,
            cross_region: SimTime::from_millis(40),
            region_latency: vec![],
            links: vec![],
        },
        groups: vec![
            GroupSpec {
                gossip: None,
                standby: 0,
                name: "users".into(),
                placement: vec![place()],
                kind: KindSpec::Client(ClientSpec {
                    rate,
                    population: None,
                    profile: vec![],
                    target: Target::Group(1),
                    timeout: SimTime::from_hours(1),
                    retry: RetrySpec::once(),
                    write_fraction: 0.0,
                    concurrency_limit: None,
                    hedge: None,
                    priority: 0,
                    connections: None,
                }),
            },
            GroupSpec {
                gossip: None,
                standby: 0,
                name: "api".into(),
                placement: vec![place()],
                kind: KindSpec::Service(ServiceSpec {
                    server: ServerSpec {
                        workers,
                        queue: None,
                        service_time: Dist::Exponential { mean },
                        queueing: Default::default(),
                    },
                    calls: vec![],
                    parallel: false,
                    circuit_breaker: None,
                    rate_limit: None,
                    connections: None,
                }),
            },
        ],
        faults: vec![],
        failures: vec![],
        alarms: vec![],
        autoscalers: vec![],
        actions: vec![],
        replay: Default::default(),
    }
}

#[test]
fn mm10_mean_wait_is_near_erlang_c() {
    // lambda 8/s, mu 1/s, c = 10: rho = 0.8, Erlang C P(wait) = 0.4092, Wq = P/(c mu - lambda)
    // = 0.2046 s.
    let spec = mmc_spec(8.0, 10, SimTime::from_secs(1), SimTime::from_hours(20));
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    let s = summarize(&r, 0.0);
    let api = &s.components["api"];
    let users = &s.clients["users"];
    assert!(users.requests > 500_000);
    assert_eq!(users.errors + users.timeouts, 0);
    assert!(
        (api.mean_wait_s - 0.2046).abs() < 0.03,
        "Wq = {}",
        api.mean_wait_s
    );
    assert!(
        (api.mean_utilization - 0.8).abs() < 0.01,
        "rho = {}",
        api.mean_utilization
    );
}

#[test]
fn workers_busy_at_the_end_count_in_the_last_bucket() {
    // One request a minute that takes 10 hours: from the first arrival on, workers are busy
    // to the end, with no event to account their time. The last bucket must show them busy.
    let mut spec = mmc_spec(
        1.0 / 60.0,
        1000,
        SimTime::from_hours(10),
        SimTime::from_mins(30),
    );
    if let KindSpec::Service(s) = &mut spec.groups[1].kind {
        s.server.service_time = Dist::Constant(SimTime::from_hours(10));
    }
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    let api = r.server_series().next().unwrap().1;
    let last = api.last().unwrap();
    let started: u64 = api.iter().map(|b| b.started).sum();
    let before: u64 = api[..api.len() - 1].iter().map(|b| b.started).sum();
    // Jobs started before the last minute are busy through all of it; later ones for part.
    assert!(before > 10);
    assert!(
        last.busy_ns >= before as f64 * 60e9 && last.busy_ns <= started as f64 * 60e9,
        "{} busy ns; {before} jobs busy all minute, {started} in all",
        last.busy_ns
    );
}
