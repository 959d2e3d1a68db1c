//! Validation against closed-form results: M/M/1 and M/M/c waiting times (Erlang C), M/M/c/K
//! blocking, Erlang B, Little's law on the service stage, and retry amplification.
//!
//! Each test states its tolerance and why it is enough. Seeds are fixed, so a pass is
//! reproducible; the tolerances are several standard errors wide, so a correct model passes
//! for any seed, and a wrong formula (an off-by-one in servers, a wrong rate) fails.

use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, run};
use outagesim::scenario;

fn simulate(toml: &str, sets: &[&str]) -> Summary {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let spec = scenario::load(toml, "test.toml", &sets).unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    summarize(&r, 0.0)
}

/// One client calling one service group directly, with no network latency. Parameters are
/// filled in per test.
fn queue_scenario(rate: f64, workers: u32, queue: &str, mean: &str, duration: &str) -> String {
    format!(
        r#"
[scenario]
name = "queue"
duration = "{duration}"
seed = 7
bucket = "1m"

[network]
same_zone = "0s"

[components.users]
kind = "client"
rate = {rate}
target = "api"
timeout = "1h"

[components.api]
kind = "service"
workers = {workers}
queue = {queue}
service_time = {{ dist = "exponential", mean = "{mean}" }}
"#
    )
}

/// Erlang C: probability that an arrival waits in an M/M/c queue with offered load a = λ/μ.
fn erlang_c(c: u32, a: f64) -> f64 {
    let mut term = 1.0;
    let mut sum = 1.0;
    for k in 1..c {
        term *= a / k as f64;
        sum += term;
    }
    let last = term * a / c as f64 * c as f64 / (c as f64 - a);
    last / (sum + last)
}

/// Erlang B: blocking probability of M/M/c/c, by the stable recursion.
fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (k as f64 + a * b))
}

/// Blocking probability of M/M/c/K (K places in all, c of them servers).
fn mmck_blocking(c: u32, k: u32, a: f64) -> f64 {
    let mut p = vec![1.0f64];
    for n in 1..=k {
        let servers = n.min(c) as f64;
        let prev = p[n as usize - 1];
        p.push(prev * a / servers);
    }
    let total: f64 = p.iter().sum();
    p[k as usize] / total
}

#[test]
fn mm1_mean_wait_matches_theory() {
    // λ = 800/s, μ = 1000/s: ρ = 0.8, Wq = ρ/(μ - λ) = 4 ms. 30 simulated minutes give about
    // 1.44 M customers; the standard error of the mean wait at ρ = 0.8 is then about 0.9% of
    // Wq (asymptotic variance of M/M/1 waiting-time averages), so ±5% is over 5 sigma.
    let s = simulate(
        &queue_scenario(800.0, 1, "\"unbounded\"", "1ms", "30m"),
        &[],
    );
    let api = &s.components["api"];
    let wq = api.mean_wait_s;
    assert!(
        (wq - 0.004).abs() / 0.004 < 0.05,
        "Wq = {wq}, expected 0.004"
    );
    // Utilisation is ρ within 1% (it averages 1.44 M service times).
    assert!(
        (api.mean_utilization - 0.8).abs() < 0.008,
        "ρ = {}",
        api.mean_utilization
    );
}

#[test]
fn mmc_mean_wait_matches_erlang_c() {
    // c = 10, λ = 800/s, μ = 100/s: a = 8, P(wait) = 0.4092, Wq = P/(cμ - λ) = 2.046 ms. With
    // 1.44 M customers the relative standard error is about 1%; ±5% is 5 sigma.
    let pw = erlang_c(10, 8.0);
    assert!((pw - 0.4092).abs() < 1e-3, "Erlang C formula itself: {pw}");
    let expect = pw / (10.0 * 100.0 - 800.0);
    let s = simulate(
        &queue_scenario(800.0, 10, "\"unbounded\"", "10ms", "30m"),
        &[],
    );
    let wq = s.components["api"].mean_wait_s;
    assert!(
        (wq - expect).abs() / expect < 0.05,
        "Wq = {wq}, expected {expect}"
    );
}

#[test]
fn the_minimal_mmc_file_runs_as_an_m_m_10_queue() {
    // The shipped scenarios/mmc.toml: λ = 8/s, μ = 1/s, c = 10, so Wq = 0.2046 s. Two hours
    // give only 57,600 customers, so it is run for 40 hours here (1.15 M customers, relative
    // standard error about 1%); ±6% is 6 sigma.
    let text = include_str!("../../scenarios/mmc.toml");
    let s = simulate(text, &["scenario.duration=40h"]);
    let expect = erlang_c(10, 8.0) / 2.0;
    let wq = s.components["api"].mean_wait_s;
    assert!(
        (wq - expect).abs() / expect < 0.06,
        "Wq = {wq}, expected {expect}"
    );
    assert_eq!(s.clients["users"].errors, 0);
}

#[test]
fn mmck_blocking_matches_theory() {
    // c = 2 servers, 3 waiting places (K = 5), a = λ/μ = 1.5: P_block = 0.1052. 20 minutes at
    // 1500/s is 1.8 M arrivals; the binomial standard error of the blocked share is under
    // 0.3% of it, and correlation in time costs a few times that; ±4% relative is enough.
    let expect = mmck_blocking(2, 5, 1.5);
    let s = simulate(&queue_scenario(1500.0, 2, "3", "1ms", "20m"), &[]);
    let api = &s.components["api"];
    let blocked = api.rejected as f64 / api.arrivals as f64;
    assert!(
        (blocked - expect).abs() / expect < 0.04,
        "blocked {blocked}, expected {expect}"
    );
    // The client sees each rejection as an error (one attempt, no retry).
    let users = &s.clients["users"];
    assert_eq!(users.errors, api.rejected);
}

#[test]
fn erlang_b_blocking_matches_theory() {
    // M/M/5/5 with a = 3: B = 0.1101. 20 minutes at 3000/s is 3.6 M arrivals; ±3% relative is
    // over 10 binomial standard errors and covers the time correlation.
    let expect = erlang_b(5, 3.0);
    assert!(
        (expect - 0.1101).abs() < 1e-3,
        "Erlang B formula itself: {expect}"
    );
    let s = simulate(&queue_scenario(3000.0, 5, "0", "1ms", "20m"), &[]);
    let api = &s.components["api"];
    let blocked = api.rejected as f64 / api.arrivals as f64;
    assert!(
        (blocked - expect).abs() / expect < 0.03,
        "blocked {blocked}, expected {expect}"
    );
}

#[test]
fn littles_law_holds_for_the_service_stage() {
    // L = λW on the workers: mean busy workers = λ × E[S]. With λ = 600/s and E[S] = 10 ms,
    // L = 6 of 10 workers, utilisation 0.6. The time average over 20 minutes (720 k service
    // times) is within 1% of it at better than 5 sigma.
    let s = simulate(
        &queue_scenario(600.0, 10, "\"unbounded\"", "10ms", "20m"),
        &[],
    );
    let api = &s.components["api"];
    let busy = api.mean_utilization * 10.0;
    let lambda = api.arrivals as f64 / (20.0 * 60.0);
    let expect = lambda * 0.010;
    assert!(
        (busy - expect).abs() / expect < 0.01,
        "L = {busy}, λW = {expect}"
    );
    // And the measured arrival rate is the configured one (Poisson count: ±1% is 8 sigma).
    assert!((lambda - 600.0).abs() / 600.0 < 0.01, "λ = {lambda}");
}

#[test]
fn retries_amplify_attempts_as_theory_says() {
    // Each attempt fails independently with p = 0.3: a cache answers 70% of requests from
    // fresh content, and sends the rest to a backend that is down from the start, which
    // times out. With r = 3 retries, E[attempts] = (1 - p^4)/(1 - p) = 1.417. 40,000 user
    // requests give a standard error of about 0.004 on the mean; ±2% (0.028) is 7 sigma.
    let toml = r#"
[scenario]
name = "retries"
duration = "20m"
seed = 3

[network]
same_zone = "0s"

[components.users]
kind = "client"
rate = 40.0
target = "front"
timeout = "10s"
retry = { attempts = 4 }

[components.front]
kind = "cache"
hit_ratio = 0.7
ttl = "100h"
backend = "origin"
timeout = "20ms"

[components.origin]
kind = "service"

[[faults]]
name = "origin-down"
kind = "crash"
target = "origin"
at = "0s"
"#;
    let s = simulate(toml, &[]);
    let u = &s.clients["users"];
    let per_request = u.attempts as f64 / u.requests as f64;
    let p: f64 = 0.3;
    let expect = (1.0 - p.powi(4)) / (1.0 - p);
    assert!(
        (per_request - expect).abs() / expect < 0.02,
        "attempts/request {per_request}, expected {expect}"
    );
    // A user request fails only when all four attempts fail: p^4 = 0.81%.
    let failed = (u.errors + u.timeouts) as f64 / (u.requests as f64);
    assert!((failed - 0.0081).abs() < 0.003, "failed share {failed}");
}

/// n replicas behind a load balancer with fast shallow checks, each failing and being repaired
/// at random (exponential MTBF and MTTR); the service is up while any one replica is.
fn redundancy(n: u32, hours: u32) -> f64 {
    let toml = format!(
        r#"
[scenario]
name = "redundancy"
duration = "{hours}h"
seed = 11
bucket = "1h"

[components.users]
kind = "client"
rate = 0.5
target = "lb"
timeout = "5s"

[components.lb]
kind = "load_balancer"
backends = "app"
timeout = "1s"
when_none_healthy = "reject"
health_check = {{ kind = "shallow", interval = "1s", timeout = "500ms", unhealthy = 1, healthy = 1 }}

[components.app]
kind = "service"
replicas = {n}
workers = 10
service_time = "1ms"

[[failures]]
target = "app"
mtbf = {{ dist = "exponential", mean = "10m" }}
mttr = {{ dist = "exponential", mean = "10m" }}
"#
    );
    simulate(&toml, &[]).clients["users"].availability
}

#[test]
fn random_failures_match_the_availability_of_redundant_replicas() {
    // Each replica is up with A = MTBF / (MTBF + MTTR) = 0.5, independently; with one of n
    // needed, availability is 1 - (1 - A)^n: 0.75 for n = 2, 0.875 for n = 3.
    //
    // Tolerance: 1,000 simulated hours hold about 3,000 down periods per replica, so the
    // share of time with every replica down is known to about ±2% of its value (it is a
    // renewal-reward average over thousands of cycles): ±0.005 absolute for n = 2, ±0.0025
    // for n = 3. Requests sample it 1.8 M times (binomial error 0.04%). Detection takes up
    // to a second per failure, about 0.1% of the time: a small bias. All inside ±0.01
    // absolute.
    for (n, hours) in [(2u32, 1000u32), (3, 1000)] {
        let expect = 1.0 - 0.5f64.powi(n as i32);
        let got = redundancy(n, hours);
        assert!(
            (got - expect).abs() < 0.01,
            "n = {n}: availability {got}, expected {expect}"
        );
    }
}
