//! Overload control against what it promises: token-bucket rate limits (the throttled share
//! under Poisson arrivals, the burst), concurrency limits (never more in flight than the cap;
//! AIMD falls under overload and recovers) and hedged requests (p99 and extra load against the
//! closed form for exponential service), plus their located errors.
//!
//! Seeds are fixed, so a pass is reproducible; each tolerance is stated with why it suffices.

use crate::common::{assert_refused, scratch};
use outagesim::model::metrics::ClientBucket;
use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, RunResult, Series, run};
use outagesim::scenario;

fn result(toml: &str) -> RunResult {
    let spec = scenario::load(toml, "test.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap()
}

fn simulate(toml: &str) -> Summary {
    summarize(&result(toml), 0.0)
}

fn client_series<'r>(r: &'r RunResult, name: &str) -> &'r [ClientBucket] {
    let g = r.groups.iter().find(|g| g.name == name).unwrap();
    match &g.series {
        Series::Client(s) => s,
        Series::Server(_) => panic!("{name} is not a client"),
    }
}

/// The start of every scenario here: no network latency, one-minute buckets; the duration
/// follows in `[scenario]`.
const HEAD: &str = r#"
[network]
same_zone = "0s"
cross_zone = "0s"

[scenario]
name = "limits"
seed = 11
"#;

/// Poisson arrivals at lambda = 200/s into a bucket of r = 50/s: the throttled share tends to
/// 1 - r/lambda = 0.75 (the bucket is almost never full at lambda = 4r, so few tokens are
/// lost). Over 30 minutes (360,000 requests) the share's standard error is about 0.001;
/// the tolerance of 0.005 is five of them.
#[test]
fn throttled_share_approaches_one_minus_rate_over_lambda() {
    let toml = format!(
        r#"{HEAD}duration = "30m"
bucket = "1m"
[components.users]
kind = "client"
rate = 200.0
target = "api"

[components.api]
kind = "service"
workers = 1000
service_time = "10ms"
rate_limit = {{ rate = 50.0, burst = 10 }}
"#
    );
    let s = simulate(&toml);
    let u = &s.clients["users"];
    let share = u.throttled as f64 / u.requests as f64;
    assert!((share - 0.75).abs() < 0.005, "throttled share {share}");
    assert_eq!(s.components["api"].throttled, u.throttled);
    assert!(u.errors == 0 && u.timeouts == 0);
}

/// Two tenants at 150/s each, per-tenant buckets of 50/s shared by a group of two replicas
/// (25/s each, each replica seeing half of each tenant's traffic): each tenant's share is
/// still 1 - 50/150 = 2/3, within the same 0.005.
#[test]
fn per_tenant_buckets_split_over_a_group_limit_each_tenant() {
    let toml = format!(
        r#"{HEAD}duration = "30m"
bucket = "1m"
[components.a]
kind = "client"
rate = 150.0
target = "api"

[components.b]
kind = "client"
rate = 150.0
target = "api"

[components.api]
kind = "service"
replicas = 2
zones = ["z1", "z2"]
region = "r"
workers = 1000
service_time = "10ms"
rate_limit = {{ rate = 50.0, burst = 10, per = "tenant", share = "group" }}
"#
    );
    let s = simulate(&toml);
    for name in ["a", "b"] {
        let c = &s.clients[name];
        let share = c.throttled as f64 / c.requests as f64;
        assert!((share - 2.0 / 3.0).abs() < 0.005, "{name}: {share}");
    }
}

/// About 1,000 requests arrive within the first millisecond into a full bucket of 25 that
/// refills one token a second: exactly 25 get through, the rest are throttled.
#[test]
fn the_burst_lets_exactly_burst_requests_through() {
    let toml = format!(
        r#"{HEAD}duration = "10s"
bucket = "1s"
[components.users]
kind = "client"
rate = 1000000.0
profile = [["0s", 1.0], ["1ms", 0.0]]
target = "api"

[components.api]
kind = "service"
workers = 10000
service_time = "1ms"
rate_limit = {{ rate = 1.0, burst = 25 }}
"#
    );
    let u = &simulate(&toml).clients["users"];
    assert!(u.requests > 900, "{}", u.requests);
    assert_eq!(u.successes, 25);
    assert_eq!(u.throttled, u.requests - 25);
}

/// Delay mode at lambda = 60/s into 50/s with a 2 s bound: the queue of held requests grows
/// at 10/s until waits reach the bound, then the excess is throttled; what passes is delayed,
/// never more than the bound (plus the service time), and the admitted rate is the limit.
#[test]
fn delay_mode_holds_requests_up_to_the_bound() {
    let toml = format!(
        r#"{HEAD}duration = "30m"
bucket = "1m"
[components.users]
kind = "client"
rate = 60.0
target = "api"

[components.api]
kind = "service"
workers = 1000
service_time = "1ms"
rate_limit = {{ rate = 50.0, burst = 5, mode = "delay", max_delay = "2s" }}
"#
    );
    let u = &simulate(&toml).clients["users"];
    let share = u.throttled as f64 / u.requests as f64;
    assert!((share - 1.0 / 6.0).abs() < 0.01, "throttled share {share}");
    let l = u.latency_s.as_ref().unwrap();
    // Held requests wait up to 2 s: the p99 is near the bound, never beyond it (+1 ms,
    // +3% histogram resolution).
    assert!(l.p99 > 1.5 && l.p99 < 2.001 * 1.04, "{l:?}");
}

/// A service of 5 workers with no waiting room rejects a sixth call at once. With zero
/// latency, a client capped at 5 calls in flight never makes it reject; capped at 6 it does
/// (so the check can fail).
#[test]
fn in_flight_calls_never_exceed_the_cap() {
    let scenario = |limit: u32, mode: &str| {
        format!(
            r#"{HEAD}duration = "10m"
bucket = "1m"
[components.users]
kind = "client"
rate = 100.0
target = "api"
timeout = "5s"
concurrency_limit = {{ limit = {limit}, mode = "{mode}" }}

[components.api]
kind = "service"
workers = 5
queue = 0
service_time = {{ dist = "exponential", mean = "50ms" }}
"#
        )
    };
    let r = result(&scenario(5, "reject"));
    let s = summarize(&r, 0.0);
    assert_eq!(s.components["api"].rejected, 0);
    assert!(s.clients["users"].throttled > 1000);
    let peak = client_series(&r, "users")
        .iter()
        .map(|b| b.peak_in_flight)
        .max();
    assert_eq!(peak, Some(5));
    // Waiting instead: nothing is throttled, the service still never rejects.
    let s = simulate(&scenario(5, "wait"));
    assert_eq!(s.components["api"].rejected, 0);
    assert_eq!(s.clients["users"].throttled, 0);
    assert!(s.clients["users"].successes > 50_000);
    // One more place than workers: the service rejects.
    let s = simulate(&scenario(6, "reject"));
    assert!(s.components["api"].rejected > 0);
}

/// AIMD under overload: the service (40 workers, 100 ms, at 25% load) slows down tenfold from
/// minute 5 to 10, to 40% of the load; answers over 1 s and timeouts cut the limit, which
/// climbs back once the service is fast again.
#[test]
fn aimd_limit_falls_under_overload_and_recovers() {
    let toml = format!(
        r#"{HEAD}duration = "20m"
bucket = "1m"
[components.users]
kind = "client"
rate = 100.0
target = "api"
timeout = "2s"
concurrency_limit = {{ limit = 50, algorithm = "aimd", min_limit = 2, max_limit = 100, decrease = 0.8, latency_bound = "1s" }}

[components.api]
kind = "service"
workers = 40
service_time = {{ dist = "exponential", mean = "100ms" }}

[[faults]]
name = "slow"
kind = "slow"
target = "api"
factor = 10.0
at = "5m"
duration = "5m"
"#
    );
    let r = result(&toml);
    let series = client_series(&r, "users");
    let low = |range: std::ops::Range<usize>| {
        series[range]
            .iter()
            .filter_map(|b| b.lowest_limit)
            .fold(f64::INFINITY, f64::min)
    };
    let before = low(0..5);
    let during = low(6..10);
    let after = low(17..20);
    // Before: a slow success (over 1 s: e^-10 of them) is rare, so the limit stays high.
    assert!(before > 30.0, "before {before}");
    assert!(during < 10.0, "during {during}");
    assert!(after > 50.0, "after {after}");
    // Throttled while overloaded, not after.
    let throttled =
        |range: std::ops::Range<usize>| -> u64 { series[range].iter().map(|b| b.throttled).sum() };
    assert!(throttled(6..10) > 1000);
    assert_eq!(throttled(15..20), 0);
}

/// Hedging exponential service (mean 1/mu = 100 ms, no queueing, no latency) after d = 100 ms:
/// T = min(X1, d + X2), P(T > t) = e^(-mu t) for t < d and e^(-mu t) e^(-mu (t - d)) after,
/// so the p99 solves e^(-mu (2t - d)) = 0.01: t = (ln 100 / mu + d) / 2 = 280.3 ms (460.5 ms
/// unhedged), and the extra load is P(X1 > d) = e^(-1) = 0.368. Tolerances: p99 within 4%
/// (the histogram reports within 3.1%; 360,000 requests make its sampling error far
/// smaller); the hedged share within 0.005 (five standard errors).
#[test]
fn hedging_matches_the_closed_form_for_exponential_service() {
    let scenario = |hedge: &str| {
        format!(
            r#"{HEAD}duration = "30m"
bucket = "1m"
[components.users]
kind = "client"
rate = 200.0
target = "api"
timeout = "10s"
{hedge}

[components.api]
kind = "service"
workers = 10000
service_time = {{ dist = "exponential", mean = "100ms" }}
"#
        )
    };
    let mu = 10.0f64;
    let plain = simulate(&scenario(""));
    let p99 = plain.clients["users"].latency_s.as_ref().unwrap().p99;
    let want = 100f64.ln() / mu;
    assert!(
        (p99 / want - 1.0).abs() < 0.04,
        "unhedged p99 {p99} vs {want}"
    );
    assert_eq!(plain.clients["users"].hedged, 0);

    let s = simulate(&scenario(r#"hedge = { after = "100ms" }"#));
    let u = &s.clients["users"];
    let p99 = u.latency_s.as_ref().unwrap().p99;
    let want = (100f64.ln() / mu + 0.1) / 2.0;
    assert!(
        (p99 / want - 1.0).abs() < 0.04,
        "hedged p99 {p99} vs {want}"
    );
    let extra = u.hedged as f64 / u.requests as f64;
    assert!((extra - (-1f64).exp()).abs() < 0.005, "extra load {extra}");
    // Every hedge leaves one copy abandoned (nothing fails here), but for the few still out
    // when the run stops.
    assert!(u.wasted <= u.hedged && u.hedged - u.wasted < 20, "{u:?}");
    assert_eq!(u.errors + u.timeouts + u.throttled, 0);
    // The service did the extra work: one job per request plus one per hedge (to a few
    // requests that straddle the summary's warm-up boundary).
    let api = &s.components["api"];
    let sent = (u.requests + u.hedged) as f64;
    assert!(
        (api.arrivals as f64 / sent - 1.0).abs() < 1e-3,
        "{} vs {sent}",
        api.arrivals
    );
}

/// A percentile delay: hedging after the p90 of recent latencies sends a hedge for about 10%
/// of requests (the window's percentile is as if nothing were hedged). Tolerance 0.01: the
/// p90 of a 1,000-sample window wanders by about 1% of its share.
#[test]
fn a_percentile_hedge_delay_hedges_that_share_of_requests() {
    let toml = format!(
        r#"{HEAD}duration = "30m"
bucket = "1m"
[components.users]
kind = "client"
rate = 200.0
target = "api"
timeout = "10s"
hedge = {{ after = "p90" }}

[components.api]
kind = "service"
workers = 10000
service_time = {{ dist = "exponential", mean = "100ms" }}
"#
    );
    let u = &simulate(&toml).clients["users"];
    let extra = u.hedged as f64 / u.requests as f64;
    assert!((extra - 0.10).abs() < 0.01, "extra load {extra}");
}

/// Limits and hedges are deterministic across executors: 1 and 4 threads give the same
/// summary.
#[test]
fn limits_and_hedges_give_the_same_results_on_any_thread_count() {
    let toml = format!(
        r#"{HEAD}duration = "5m"
bucket = "1m"
[components.users]
kind = "client"
rate = 300.0
target = "lb"
timeout = "2s"
hedge = {{ after = "p95" }}
concurrency_limit = {{ limit = 40, algorithm = "gradient" }}

[components.lb]
kind = "load_balancer"
replicas = 2
zones = ["z1", "z2"]
region = "r"
backends = "api"
rate_limit = {{ rate = 120.0, burst = 20, share = "group", mode = "delay", max_delay = "50ms" }}

[components.api]
kind = "service"
replicas = 2
zones = ["z1", "z2"]
region = "r"
workers = 8
service_time = {{ dist = "exponential", mean = "20ms" }}
calls = [{{ target = "db", timeout = "1s", concurrency_limit = {{ limit = 4, mode = "wait" }} }}]

[components.db]
kind = "service"
replicas = 2
zones = ["z1", "z2"]
region = "r"
workers = 4
service_time = {{ dist = "exponential", mean = "5ms" }}
"#
    );
    let spec = scenario::load(&toml, "t.toml", &[]).unwrap();
    let one = run(spec.clone(), &RunOptions::threads(1), &mut |_| {}).unwrap();
    let four = run(spec, &RunOptions::partitioned(4), &mut |_| {}).unwrap();
    let (a, b) = (summarize(&one, 0.0), summarize(&four, 0.0));
    assert_eq!(format!("{:?}", a.clients), format!("{:?}", b.clients));
    assert_eq!(format!("{:?}", a.components), format!("{:?}", b.components));
    assert!(a.clients["users"].hedged > 0);
    assert!(a.components["lb"].throttled > 0);
}

/// Bad settings: located errors with the value and a hint, exit code 2.
#[test]
fn bad_limits_and_hedges_are_located_errors() {
    let dir = scratch("limits-bad");
    let cases = [
        (
            "rate_limit = { rate = 0.0 }",
            "api",
            "rate_limit.rate: a rate limit must be greater than 0",
        ),
        ("rate_limit = { rate = -5.0 }", "api", "got -5"),
        (
            "rate_limit = { rate = 5.0, burst = 0 }",
            "api",
            "rate_limit.burst: must be at least 1, got 0",
        ),
        (
            "rate_limit = { rate = 5.0, burst = -3 }",
            "api",
            "rate_limit.burst: must be at least 1, got -3",
        ),
        (
            "concurrency_limit = { limit = 0 }",
            "users",
            "concurrency_limit.limit: must be at least 1, got 0",
        ),
        (
            "hedge = { after = \"1s\" }",
            "users",
            "hedge.after: the hedge delay (1s) is not below the timeout (1s)",
        ),
        (
            "hedge = { after = \"p0\" }",
            "users",
            "hedge.after: invalid percentile \"p0\"",
        ),
    ];
    for (i, (line, group, want)) in cases.iter().enumerate() {
        let (users, api) = if *group == "users" {
            (*line, "")
        } else {
            ("", *line)
        };
        let toml = format!(
            "[scenario]\nname = \"bad\"\nduration = \"1m\"\n\n[components.users]\nkind = \"client\"\nrate = 1.0\ntarget = \"api\"\ntimeout = \"1s\"\n{users}\n\n[components.api]\nkind = \"service\"\n{api}\n"
        );
        let row = if *group == "users" { 10 } else { 14 };
        assert_refused(&dir, &format!("bad{i}.toml"), &toml, row, want);
    }
}

/// The retry storm's what-if: a client concurrency limit of 20 attempts in flight ends the
/// storm when the slowdown ends (attempts over it fail fast instead of queueing past the 1 s
/// timeout; measured: 2 minutes down, 99.1% available); waiting in line instead of failing
/// fast moves the queue into the client, and the storm stays.
#[test]
fn a_concurrency_limit_ends_the_retry_storm_and_waiting_does_not() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/retry-storm-metastable.toml"
    ))
    .unwrap();
    let load = |set: &str| {
        let spec = scenario::load(&text, "retry-storm-metastable.toml", &[set.to_owned()])
            .unwrap_or_else(|e| panic!("{e}"));
        let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
        summarize(&r, 0.0)
    };
    let s = load("components.users.concurrency_limit={limit=20}");
    let u = &s.clients["users"];
    assert!(u.downtime_s <= 3.0 * 60.0, "{u:?}");
    assert!(u.throttled > 0 && u.timeouts == 0, "{u:?}");
    assert!(u.availability > 0.98, "{u:?}");
    let s = load(r#"components.users.concurrency_limit={limit=20, mode="wait"}"#);
    let u = &s.clients["users"];
    assert!(u.downtime_s >= 45.0 * 60.0, "{u:?}");
}

/// A load balancer's bulkhead: at most 3 calls in flight to its backends per replica; calls
/// over it fail fast, and the 429 travels back to the user as throttled (not as an error).
#[test]
fn a_load_balancer_bulkhead_fails_fast_and_passes_the_429_on() {
    let toml = format!(
        r#"{HEAD}duration = "10m"
bucket = "1m"
[components.users]
kind = "client"
rate = 50.0
target = "lb"
timeout = "5s"

[components.lb]
kind = "load_balancer"
backends = "api"
concurrency_limit = {{ limit = 3 }}

[components.api]
kind = "service"
replicas = 4
workers = 10
service_time = {{ dist = "exponential", mean = "100ms" }}
"#
    );
    let r = result(&toml);
    let s = summarize(&r, 0.0);
    let u = &s.clients["users"];
    let lb = &s.components["lb"];
    // 50/s x 100 ms = 5 in flight on average against 3 places: a good share is refused.
    assert!(u.throttled > 1000, "{u:?}");
    assert_eq!(u.errors, 0, "{u:?}");
    assert_eq!(lb.throttled, u.throttled);
    // The backends never see more than 3 at once from the one load balancer: no queueing.
    assert_eq!(s.components["api"].max_queue, 0);
}
