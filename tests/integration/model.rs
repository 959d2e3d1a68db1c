//! Model behaviour: each mechanism shows its effect, and its defence shows its benefit.

use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, run};
use outagesim::scenario;

fn simulate(toml: &str) -> Summary {
    let spec = scenario::load(toml, "test.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    summarize(&r, 0.0)
}

const LB_BASE: &str = r#"
[scenario]
name = "lb"
duration = "30m"
seed = 5
bucket = "1m"

[components.users]
kind = "client"
rate = 200.0
target = "lb"
timeout = "2s"

[components.app]
kind = "service"
replicas = 3
workers = 50
service_time = "10ms"
"#;

fn lb(extra: &str, fault_replicas: &str) -> String {
    format!(
        r#"{LB_BASE}
[components.lb]
kind = "load_balancer"
backends = "app"
timeout = "1s"
{extra}

[[faults]]
name = "app-crash"
kind = "crash"
target = "app"
at = "10m"
duration = "10m"
{fault_replicas}
"#
    )
}

#[test]
fn health_checks_remove_a_crashed_backend() {
    // Without health checks, round robin keeps sending a third of the traffic to the crashed
    // replica for the whole 10 minutes.
    let blind = simulate(&lb("", "replicas = [0]"));
    let u = &blind.clients["users"];
    assert!(
        (540.0..=660.0).contains(&u.downtime_s),
        "downtime {}",
        u.downtime_s
    );
    let failed = blind.blast_radius.failed_request_fraction;
    // 1/3 of requests for 10 of 30 minutes: 11.1%.
    assert!((failed - 0.111).abs() < 0.01, "failed {failed}");

    // Shallow checks every 2 s, two failures to mark down: the replica leaves within seconds.
    let checked = simulate(&lb(
        r#"health_check = { kind = "shallow", interval = "2s", timeout = "1s", unhealthy = 2, healthy = 2 }"#,
        "replicas = [0]",
    ));
    let u = &checked.clients["users"];
    assert!(u.downtime_s <= 60.0, "downtime {}", u.downtime_s);
    assert!(checked.blast_radius.failed_request_fraction < 0.002);
}

#[test]
fn an_apology_page_turns_errors_into_degraded_successes() {
    let hc = r#"health_check = { kind = "shallow", interval = "2s", timeout = "1s" }"#;
    let reject = simulate(&lb(&format!("{hc}\nwhen_none_healthy = \"reject\""), ""));
    let apology = simulate(&lb(&format!("{hc}\nwhen_none_healthy = \"apology\""), ""));
    let (r, a) = (&reject.clients["users"], &apology.clients["users"]);
    // Every backend is down for 10 of 30 minutes.
    assert_eq!(r.degraded, 0);
    assert!(r.errors > 100_000, "errors {}", r.errors);
    assert!(a.degraded > 100_000, "degraded {}", a.degraded);
    assert!(
        a.errors + a.timeouts < 3_000,
        "failures {} + {}",
        a.errors,
        a.timeouts
    );
    assert!(a.availability > 0.99 && r.availability < 0.7);
}

fn gslb(health_check: &str) -> String {
    format!(
        r#"
[scenario]
name = "gslb"
duration = "40m"
seed = 2

[components.users]
kind = "client"
rate = 100.0
target = "www.example.com"
resolver = "resolver"
timeout = "2s"

[components.resolver]
kind = "resolver"
dns = "dns"

[components.dns]
kind = "dns"
records = [{{ name = "www.example.com", policy = "failover", ttl = "30s", targets = ["site-a", "site-b"] }}]
{health_check}

[components.site-a]
kind = "service"
replicas = 2

[components.site-b]
kind = "service"
replicas = 2

[[faults]]
name = "site-a down"
kind = "crash"
target = "site-a"
at = "10m"
duration = "15m"
"#
    )
}

#[test]
fn gslb_health_checks_fail_over_after_detection_and_ttl() {
    let blind = simulate(&gslb(""));
    assert!(
        blind.clients["users"].downtime_s >= 840.0,
        "{:?}",
        blind.clients["users"]
    );
    let steered = simulate(&gslb(
        r#"health_check = { kind = "shallow", interval = "5s", timeout = "1s" }"#,
    ));
    let u = &steered.clients["users"];
    // Detection (2 failed checks, about 10 s) plus the 30 s TTL: at most two buckets.
    assert!(u.downtime_s <= 120.0, "downtime {}", u.downtime_s);
    assert!(
        u.errors + u.timeouts > 0,
        "the failover is not instantaneous"
    );
    assert!(steered.components["site-b"].arrivals > 50_000);
}

#[test]
fn a_callee_keeps_working_after_its_caller_gave_up() {
    let s = simulate(
        r#"
[scenario]
name = "wasted"
duration = "10m"

[components.users]
kind = "client"
rate = 20.0
target = "slow"
timeout = "1s"

[components.slow]
kind = "service"
workers = 200
service_time = "3s"
"#,
    );
    let u = &s.clients["users"];
    let slow = &s.components["slow"];
    assert_eq!(u.successes, 0);
    assert!(u.timeouts + 25 >= u.requests, "{u:?}");
    // Every request was still served in full: all of it wasted work.
    assert!(slow.served + 80 >= slow.arrivals, "{slow:?}");
    assert!(
        (slow.mean_utilization - 0.3).abs() < 0.02,
        "20/s x 3 s over 200 workers"
    );
}

#[test]
fn a_traffic_surge_multiplies_the_request_rate() {
    let s = simulate(
        r#"
[scenario]
name = "surge"
duration = "30m"

[components.users]
kind = "client"
rate = 50.0
target = "api"

[components.api]
kind = "service"
workers = 100
service_time = "1ms"

[[faults]]
name = "surge"
kind = "traffic_surge"
target = "users"
at = "10m"
duration = "10m"
multiplier = 3.0
"#,
    );
    // 50/s for 20 minutes plus 150/s for 10: 150,000 requests; the Poisson standard
    // deviation is 387 (0.26%), so ±1.5% is over 5 sigma.
    let n = s.clients["users"].requests as f64;
    assert!((n - 150_000.0).abs() / 150_000.0 < 0.015, "requests {n}");
}

/// A client calling `front`, with the given components and faults appended.
fn with_client(rate: f64, timeout: &str, rest: &str) -> String {
    format!(
        r#"
[scenario]
name = "t"
duration = "10m"
seed = 4

[components.users]
kind = "client"
rate = {rate}
target = "front"
timeout = "{timeout}"
{rest}"#
    )
}

#[test]
fn a_default_firewall_forwards_without_holding_its_worker() {
    // One worker and 50 us per packet: 20,000 packets/s of capacity, whatever the round trip.
    let s = simulate(&with_client(
        200.0,
        "5s",
        r#"
[components.front]
kind = "firewall"
next = "app"

[components.app]
kind = "service"
workers = 100
service_time = "10ms"
"#,
    ));
    assert!(
        s.clients["users"].availability > 0.999,
        "{:?}",
        s.clients["users"]
    );
    assert!(s.components["front"].mean_utilization < 0.05);
}

#[test]
fn firewall_denials_are_counted_as_denied_not_as_failures() {
    let s = simulate(&with_client(
        50.0,
        "5s",
        r#"
[components.bots]
kind = "client"
rate = 10.0
target = "front"

[components.front]
kind = "firewall"
next = "app"
deny = ["bots"]

[components.app]
kind = "service"
workers = 10
service_time = "1ms"
"#,
    ));
    let fw = &s.components["front"];
    assert_eq!(fw.errors, 0);
    assert!(fw.denied > 5_000, "{fw:?}");
    assert_eq!(s.clients["bots"].errors, fw.denied);
    assert!(
        !s.blast_radius
            .components
            .impacted
            .contains(&"front".to_string())
    );
}

#[test]
fn retry_budgets_on_calls_earn_tokens_and_still_cap_retries() {
    // Half the backend is down. Retrying up to 3 attempts would need 0.75 retries per request;
    // a budget of 0.5 allows about 0.5, so availability lands near 1 - 0.5 x 0.5 = 0.75
    // (0.875 unbudgeted; 0.5 if the budget never refilled).
    let s = simulate(&with_client(
        100.0,
        "10s",
        r#"
[components.front]
kind = "service"
workers = 1000
service_time = "1ms"
calls = [{ target = "back", timeout = "100ms", retry = { attempts = 3, budget = 0.5 } }]

[components.back]
kind = "service"
replicas = 2
workers = 100
service_time = "1ms"

[[faults]]
name = "half down"
kind = "crash"
target = "back"
at = "0s"
replicas = [0]
"#,
    ));
    let a = s.clients["users"].availability;
    assert!((0.70..0.80).contains(&a), "availability {a}");
}

#[test]
fn overlapping_crashes_end_with_the_last_one() {
    let s = simulate(&with_client(
        20.0,
        "1s",
        r#"
[components.front]
kind = "service"
workers = 10
service_time = "1ms"

[[faults]]
name = "long"
kind = "crash"
target = "front"
at = "1m"
duration = "8m"

[[faults]]
name = "short"
kind = "crash"
target = "front"
at = "2m"
duration = "1m"
"#,
    ));
    let u = &s.clients["users"];
    assert!(
        (470.0..=540.0).contains(&u.downtime_s),
        "downtime {}",
        u.downtime_s
    );
}

fn cache_case(hit_ratio: f64, backend_fault: &str, extra: &str) -> Summary {
    simulate(&with_client(
        50.0,
        "2s",
        &format!(
            r#"
[components.front]
kind = "cache"
hit_ratio = {hit_ratio}
ttl = "1m"
serve_stale = true
backend = "origin"
timeout = "100ms"
{extra}

[components.origin]
kind = "service"
workers = 50
service_time = "1ms"
{backend_fault}
"#
        ),
    ))
}

#[test]
fn a_cache_serves_stale_only_on_hits_and_refreshes_stale_content() {
    let down = "\n[[faults]]\nname = \"origin down\"\nkind = \"crash\"\ntarget = \"origin\"\nat = \"0s\"\n";
    // Misses have nothing stale to serve.
    let s = cache_case(0.0, down, "");
    assert!(
        s.clients["users"].availability < 0.01,
        "{:?}",
        s.clients["users"]
    );
    // Hits past the TTL ask a healthy backend and come back fresh.
    let s = cache_case(1.0, "", "");
    assert_eq!(s.clients["users"].degraded, 0, "{:?}", s.clients["users"]);
    // With the backend down, hits are fresh for one TTL, then served stale.
    let s = cache_case(1.0, down, "");
    let u = &s.clients["users"];
    assert!(u.degraded > 20_000 && u.successes > 2_000, "{u:?}");
    assert!(u.availability > 0.999);
}

#[test]
fn writes_go_through_caches() {
    let s = simulate(&with_client(
        50.0,
        "2s",
        r#"write_fraction = 1.0

[components.front]
kind = "cache"
hit_ratio = 1.0
backend = "origin"

[components.origin]
kind = "service"
workers = 50
service_time = "1ms"
"#,
    ));
    assert_eq!(
        s.components["origin"].arrivals,
        s.components["front"].arrivals
    );
}

#[test]
fn an_open_breaker_lets_one_trial_call_through() {
    // 500 calls/s to a dead backend, 1 s call timeout, open for 10 s. About 500 calls leave
    // before the first timeouts open the breaker; after that, one trial per 11 s cycle.
    let s = simulate(&with_client(
        500.0,
        "5s",
        r#"
[components.front]
kind = "service"
workers = 2000
service_time = "1ms"
calls = [{ target = "back", timeout = "1s" }]
circuit_breaker = { failures = 5, open_for = "10s" }

[components.back]
kind = "service"

[[faults]]
name = "back down"
kind = "crash"
target = "back"
at = "0s"
"#,
    ));
    let calls = s.components["back"].arrivals;
    assert!(
        (400..700).contains(&calls),
        "{calls} calls reached the dead backend"
    );
}

#[test]
fn load_balancer_retries_avoid_the_backend_that_failed() {
    let s = simulate(&with_client(
        50.0,
        "5s",
        r#"
[components.front]
kind = "load_balancer"
backends = "app"
policy = "random"
timeout = "1s"
retry = { attempts = 2, backoff = "fixed", base = "500ms" }

[components.app]
kind = "service"
replicas = 2
workers = 50
service_time = "1ms"

[[faults]]
name = "one down"
kind = "crash"
target = "app"
at = "0s"
replicas = [0]
"#,
    ));
    let u = &s.clients["users"];
    assert!(u.availability > 0.999, "{u:?}");
    // Half the requests waited for a timeout and the back-off before succeeding.
    assert!(u.latency_s.as_ref().unwrap().p90 > 1.4, "{u:?}");
}

#[test]
fn a_short_last_bucket_counts_for_its_own_width() {
    let s = simulate(
        r#"
[scenario]
name = "short"
duration = "90s"
bucket = "1m"

[components.users]
kind = "client"
rate = 20.0
target = "front"
timeout = "1s"

[components.front]
kind = "service"

[[faults]]
name = "down"
kind = "crash"
target = "front"
at = "0s"
"#,
    );
    assert_eq!(s.clients["users"].downtime_s, 90.0);
}

/// Users -> load balancer (health-checked as given, with the given policy when nothing is
/// healthy) -> 3 proxy replicas -> app; `fault` hits the proxies from 5m for 10m.
fn proxies(health_check: &str, none_healthy: &str, fault: &str) -> Summary {
    simulate(&format!(
        r#"
[scenario]
name = "proxies"
duration = "20m"
seed = 8

[components.users]
kind = "client"
rate = 100.0
target = "lb"
timeout = "2s"

[components.lb]
kind = "load_balancer"
backends = "proxy"
timeout = "1s"
when_none_healthy = "{none_healthy}"
health_check = {health_check}

[components.proxy]
kind = "proxy"
replicas = 3
upstream = "app"

[components.app]
kind = "service"
workers = 100
service_time = "2ms"

[[faults]]
name = "proxy fault"
target = "proxy"
at = "5m"
duration = "10m"
{fault}
"#
    ))
}

const SHALLOW: &str = r#"{ kind = "shallow", interval = "2s", timeout = "1s" }"#;
const DEEP: &str = r#"{ kind = "deep", interval = "2s", timeout = "1s" }"#;

#[test]
fn shallow_checks_keep_routing_to_a_hanging_proxy_and_deep_checks_remove_it() {
    let hang_one = "kind = \"hang\"\nreplicas = [0]";
    let shallow = proxies(SHALLOW, "reject", hang_one);
    // The hung replica still answers port checks: for 10 minutes a third of requests wait
    // there until the balancer's 1 s timeout, and users get its error.
    let s = &shallow.clients["users"];
    assert!((540.0..=660.0).contains(&s.downtime_s), "{s:?}");
    assert!(s.errors > 15_000, "{s:?}");
    let deep = proxies(DEEP, "reject", hang_one);
    let d = &deep.clients["users"];
    assert!(d.downtime_s <= 60.0, "{d:?}");
    assert!(d.errors < 1_000, "{d:?}");
}

#[test]
fn with_every_proxy_hung_an_apology_page_turns_errors_into_degraded_successes() {
    let hang_all = "kind = \"hang\"";
    let reject = proxies(DEEP, "reject", hang_all);
    let apology = proxies(DEEP, "apology", hang_all);
    let (r, a) = (&reject.clients["users"], &apology.clients["users"]);
    assert!(r.errors > 50_000, "{r:?}");
    assert!(a.degraded > 50_000 && a.errors < 500, "{a:?}");
    assert!(a.downtime_s <= 60.0 && r.downtime_s >= 540.0);
}

#[test]
fn wrong_answers_pass_shallow_checks_but_fail_users_and_deep_checks() {
    let wrong = "kind = \"error\"\nprobability = 1.0\nwrong = true\nreplicas = [1]";
    let shallow = proxies(SHALLOW, "reject", wrong);
    let s = &shallow.clients["users"];
    // A third of answers are wrong pages for 10 minutes, and no retry or check notices.
    let share = s.errors as f64 / s.requests as f64;
    assert!((share - 1.0 / 6.0).abs() < 0.02, "{s:?}");
    assert_eq!(s.timeouts, 0);
    let deep = proxies(DEEP, "reject", wrong);
    assert!(
        deep.clients["users"].errors < 800,
        "{:?}",
        deep.clients["users"]
    );
}

#[test]
fn the_error_fault_form_of_the_issue_is_accepted_and_fails_half_the_answers() {
    let s = simulate(
        r#"
[scenario]
name = "flaky"
duration = "10m"

[components.users]
kind = "client"
rate = 50.0
target = "api"

[components.api]
kind = "service"

[[faults]]
name = "flaky"
kind = "error"
target = "api"
at = "0s"
probability = 0.5      # each answer is an error with this probability
"#,
    );
    let u = &s.clients["users"];
    // 30,000 requests: the binomial standard error of the share is 0.003; ±0.02 is 6 sigma.
    let share = u.errors as f64 / u.requests as f64;
    assert!((share - 0.5).abs() < 0.02, "{u:?}");
}

#[test]
fn slow_and_capacity_loss_show_in_waits_and_utilisation() {
    let run = |fault: &str| {
        simulate(&format!(
            r#"
[scenario]
name = "slowcap"
duration = "20m"

[components.users]
kind = "client"
rate = 50.0
target = "api"
timeout = "1h"

[components.api]
kind = "service"
workers = 10
service_time = {{ dist = "exponential", mean = "20ms" }}

[[faults]]
name = "f"
target = "api"
at = "0s"
{fault}
"#
        ))
    };
    // Baseline: a = 1 erlang on 10 workers, utilisation 0.1.
    let slow = run("kind = \"slow\"\nfactor = 5.0");
    // Five times the service time: a = 5, utilisation 0.5 (±0.02 over 60,000 services).
    let u = slow.components["api"].mean_utilization;
    assert!((u - 0.5).abs() < 0.02, "utilisation {u}");
    // Losing 80% of 10 workers leaves 2 for a = 1: utilisation over the 2 live workers is
    // 0.5 (not 0.1 of the configured 10), and requests now queue (M/M/2 at rho 0.5: Wq =
    // 6.7 ms against 0.0 ms).
    let lost = run("kind = \"capacity_loss\"\nfraction = 0.8");
    let wq = lost.components["api"].mean_wait_s;
    assert!((wq - 0.00667).abs() < 0.0015, "Wq {wq}");
    let u = lost.components["api"].mean_utilization;
    assert!((u - 0.5).abs() < 0.02, "utilisation {u}");
}

/// Per bucket utilisation of `group` as written in `components.csv`.
fn csv_utilisation(r: &outagesim::model::RunResult, group: &str) -> Vec<f64> {
    let csv = String::from_utf8(outagesim::report::components_csv(r)).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let (gi, ui) = (
        header.iter().position(|h| *h == "component").unwrap(),
        header.iter().position(|h| *h == "utilization").unwrap(),
    );
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|c| c[gi] == group)
        .map(|c| c[ui].parse().unwrap())
        .collect()
}

#[test]
fn utilisation_is_over_the_workers_live_at_the_time() {
    // 4 replicas of 10 workers at a = 4 erlangs: utilisation 0.1. From minute 10 a config
    // change cuts every replica to 1 worker (a = 4 on 4 workers: 1.0, saturated); in the
    // second scenario 3 of the 4 replicas crash instead (a = 4 offered to 10 live workers;
    // the crashed ones drop their share, the live one runs at 1/4 of a = 4 over 10: 0.1).
    let scenario = |fault: &str| {
        format!(
            r#"
[scenario]
name = "live"
duration = "20m"
seed = 2
bucket = "1m"

[components.users]
kind = "client"
rate = 400.0
target = "api"
timeout = "1h"

[components.api]
kind = "service"
replicas = 4
workers = 10
service_time = "10ms"

[[faults]]
name = "f"
target = "api"
at = "10m"
{fault}
"#
        )
    };
    let run_csv = |fault: &str| {
        let spec =
            scenario::load(&scenario(fault), "test.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
        let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
        csv_utilisation(&r, "api")
    };
    let cut = run_csv("kind = \"config_change\"\nset = { workers = 1 }");
    for (b, u) in cut.iter().enumerate() {
        let expect = if b < 10 { 0.1 } else { 1.0 };
        assert!((u - expect).abs() < 0.03, "bucket {b}: {u} (all {cut:?})");
    }
    let crashed = run_csv("kind = \"crash\"\nreplicas = [0, 1, 2]");
    for (b, u) in crashed.iter().enumerate() {
        assert!((u - 0.1).abs() < 0.03, "bucket {b}: {u} (all {crashed:?})");
    }
}

#[test]
fn capacity_loss_cuts_exactly_the_fraction_asked() {
    // One replica of 5 workers, constant 10 ms service, offered 1,000 requests/s: it serves
    // at its capacity. A 78% cut leaves 1.1 workers' worth (110/s), an 80% cut 1.0 (100/s):
    // the cut is exact (2 workers at 1.1/2 speed), not rounded to whole workers. 20 minutes
    // of saturated service give the rate within a fraction of a percent; the check allows 2%.
    let served = |fraction: &str| {
        let s = simulate(&format!(
            r#"
[scenario]
name = "cut"
duration = "20m"

[components.users]
kind = "client"
rate = 1000.0
target = "api"
timeout = "1h"

[components.api]
kind = "service"
workers = 5
queue = 100
service_time = "10ms"

[[faults]]
name = "cut"
kind = "capacity_loss"
target = "api"
at = "0s"
fraction = {fraction}
"#
        ));
        s.components["api"].served as f64 / 1200.0
    };
    for (fraction, rate) in [("0.78", 110.0), ("0.8", 100.0), ("0.5", 250.0)] {
        let got = served(fraction);
        assert!(
            (got / rate - 1.0).abs() < 0.02,
            "{fraction}: {got}/s against {rate}/s"
        );
    }
}

#[test]
fn a_zone_fails_as_one_unit() {
    let spec = scenario::load(
        r#"
[scenario]
name = "zones"
duration = "2h"

[components.users]
kind = "client"
rate = 5.0
target = "app"
zone = "z1"

[components.app]
kind = "service"
replicas = 4
zones = ["z1", "z2"]

[[failures]]
name = "z1 power"
zone = "z1"
mtbf = { dist = "exponential", mean = "20m" }
mttr = "5m"
"#,
        "zones.toml",
        &[],
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    let starts: Vec<_> = r.log.iter().filter(|e| e.kind == "failure_start").collect();
    assert!(!starts.is_empty());
    // Replicas 0 and 2 live in z1 and go down together; 1 and 3 (z2) and the client never do.
    for e in &starts {
        assert!(e.target == "app[0]" || e.target == "app[2]", "{e:?}");
        assert!(
            starts
                .iter()
                .any(|o| o.time == e.time && o.target != e.target),
            "{e:?} failed alone"
        );
    }
    // Each outage lasts the constant 5 minutes.
    let ends: Vec<_> = r.log.iter().filter(|e| e.kind == "failure_end").collect();
    for (s, e) in starts.iter().zip(&ends) {
        assert_eq!(e.time - s.time, 300_000_000_000);
    }
}

#[test]
fn a_region_outage_takes_every_replica_down_and_gslb_fails_over() {
    let text = r#"
[scenario]
name = "region"
duration = "40m"
seed = 6

[components.users]
kind = "client"
region = "east"
rate = 50.0
target = "www.example.com"
resolver = "resolver"
timeout = "2s"

[components.resolver]
kind = "resolver"
region = "global"
dns = "dns"

[components.dns]
kind = "dns"
region = "global"
records = [{ name = "www.example.com", policy = "failover", ttl = "30s", targets = ["site-east", "site-west"] }]
health_check = { kind = "shallow", interval = "5s", timeout = "1s" }

[components.site-east]
kind = "service"
region = "east"
replicas = 3
zones = ["east-a", "east-b", "east-c"]

[components.site-west]
kind = "service"
region = "west"
replicas = 3

[[faults]]
name = "east down"
kind = "region_outage"
target = "east"
at = "10m"
duration = "15m"
"#;
    let spec = scenario::load(text, "region.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec.clone(), &RunOptions::threads(1), &mut |_| {}).unwrap();
    let starts: Vec<_> = r.log.iter().filter(|e| e.kind == "fault_start").collect();
    let hit: Vec<&str> = starts.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(
        hit,
        ["site-east[0]", "site-east[1]", "site-east[2]"],
        "clients are spared"
    );
    let s = summarize(&r, 0.0);
    let u = &s.clients["users"];
    assert!(u.downtime_s <= 120.0, "{u:?}");
    assert!(s.components["site-west"].arrivals > 40_000);
    assert!(
        s.blast_radius
            .components
            .impacted
            .contains(&"site-east".to_string())
    );
    // A typo in the region is refused with a suggestion.
    let bad = text.replace("target = \"east\"", "target = \"eats\"");
    let e = scenario::load(&bad, "region.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no component is placed in region 'eats'") && e.contains("did you mean 'east'?"),
        "{e}"
    );
}

fn dns_fault(fault: &str) -> Summary {
    simulate(&format!(
        r#"
[scenario]
name = "dnsrec"
duration = "30m"
seed = 9

[components.users]
kind = "client"
rate = 20.0
target = "api.example.com"
resolver = "resolver"
timeout = "2s"

[components.resolver]
kind = "resolver"
dns = "dns"

[components.dns]
kind = "dns"
records = [{{ name = "api.example.com", ttl = "1m", targets = ["api"] }}]

[components.api]
kind = "service"
replicas = 2

[components.old-api]
kind = "service"

[[faults]]
name = "record"
kind = "dns_record"
target = "dns"
record = "api.example.com"
at = "10m"
duration = "10m"
{fault}

[[faults]]
name = "old api retired"
kind = "crash"
target = "old-api"
at = "0s"
"#
    ))
}

#[test]
fn an_emptied_dns_record_fails_users_until_caches_expire() {
    let s = dns_fault("");
    let u = &s.clients["users"];
    // Ten minutes of empty answers, plus up to one TTL of cached empty answers after the fix.
    assert!((600.0..=720.0).contains(&u.downtime_s), "{u:?}");
    assert!(u.errors > 10_000, "{u:?}");
    assert_eq!(
        s.components["api"].arrivals + u.errors,
        u.requests,
        "no request reached api"
    );
}

#[test]
fn a_wrong_dns_record_sends_users_to_the_wrong_place() {
    let s = dns_fault("answer = \"wrong\"\nto = \"old-api\"");
    let u = &s.clients["users"];
    assert!((600.0..=720.0).contains(&u.downtime_s), "{u:?}");
    assert!(u.timeouts > 10_000, "{u:?}");
    assert!(s.components["old-api"].dropped > 10_000);
}

fn two_zones(fault: &str) -> (Summary, Vec<outagesim::model::node::LogEntry>) {
    let text = format!(
        r#"
[scenario]
name = "links"
duration = "30m"
seed = 12

[components.users]
kind = "client"
rate = 50.0
target = "api"
zone = "a"
timeout = "2s"

[components.api]
kind = "service"
zone = "b"
workers = 50
service_time = "1ms"

[[faults]]
name = "link"
between = ["a", "b"]
level = "zone"
at = "10m"
duration = "10m"
{fault}
"#
    );
    let spec = scenario::load(&text, "links.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    (summarize(&r, 0.0), r.log)
}

#[test]
fn a_partition_cuts_a_link_for_its_duration() {
    let (s, log) = two_zones("kind = \"partition\"");
    let u = &s.clients["users"];
    assert!((600.0..=660.0).contains(&u.downtime_s), "{u:?}");
    assert!(u.timeouts > 25_000, "{u:?}");
    let kinds: Vec<_> = log
        .iter()
        .map(|e| (e.time / 1_000_000_000, e.kind, e.target.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (600, "fault_start", "zone a <-> zone b"),
            (1200, "fault_end", "zone a <-> zone b")
        ]
    );
}

#[test]
fn link_degradation_adds_latency_and_loses_messages() {
    let (s, _) = two_zones("kind = \"link_degradation\"\nlatency = \"300ms\"\nloss = 0.1");
    let u = &s.clients["users"];
    // For a third of the run, a request and its answer each cross the link: 600 ms more,
    // and a 1 - 0.9^2 = 19% chance to be lost, so about 6.3% of all requests time out.
    let lost = u.timeouts as f64 / u.requests as f64;
    assert!((lost - 0.19 / 3.0).abs() < 0.01, "{u:?}");
    // The slowed third sits above the 90th percentile: about 603 ms (histogram bins are ~4%
    // wide), against 3 ms without the fault.
    assert!(u.latency_s.as_ref().unwrap().p90 > 0.55, "{u:?}");
}

#[test]
fn link_faults_name_known_domains_of_one_level() {
    let base = r#"
[scenario]
name = "links"
duration = "30m"

[components.users]
kind = "client"
rate = 1.0
target = "api"
zone = "a"

[components.api]
kind = "service"
zone = "b"
"#;
    let bad = format!(
        "{base}\n[[faults]]\nkind = \"partition\"\nbetween = [\"a\", \"c\"]\nlevel = \"zone\"\nat = \"1m\"\n"
    );
    let e = scenario::load(&bad, "l.toml", &[]).unwrap_err().to_string();
    assert!(
        e.contains("faults.0.between.1: no component is placed in zone 'c'"),
        "{e}"
    );
    let bad = format!(
        "{base}\n[[faults]]\nkind = \"link_degradation\"\nbetween = [\"a\", \"b\"]\nlevel = \"rack\"\nat = \"1m\"\nloss = 0.5\n"
    );
    let e = scenario::load(&bad, "l.toml", &[]).unwrap_err().to_string();
    assert!(e.contains("faults.0.level: unknown level 'rack'"), "{e}");
    let bad = format!(
        "{base}\n[[faults]]\nkind = \"link_degradation\"\nbetween = [\"a\", \"b\"]\nlevel = \"zone\"\nat = \"1m\"\n"
    );
    let e = scenario::load(&bad, "l.toml", &[]).unwrap_err().to_string();
    assert!(
        e.contains("a link_degradation needs latency or loss"),
        "{e}"
    );
}

#[test]
fn a_new_source_appears_only_for_its_fault_and_crowds_out_users() {
    let s = simulate(
        r#"
[scenario]
name = "newsource"
duration = "30m"

[components.users]
kind = "client"
rate = 50.0
target = "api"
timeout = "2s"

[components.scraper]
kind = "client"
rate = 1500.0
target = "api"
timeout = "2s"

[components.api]
kind = "service"
workers = 10
queue = 20
service_time = "10ms"

[[faults]]
name = "scraper appears"
kind = "new_source"
target = "scraper"
at = "10m"
duration = "5m"
"#,
    );
    let scraper = &s.clients["scraper"];
    // 1,500/s for 5 minutes only: 450,000 (Poisson sd 671, so ±1% is 6 sigma).
    let n = scraper.requests as f64;
    assert!((n - 450_000.0).abs() / 450_000.0 < 0.01, "{scraper:?}");
    // 15 erlangs of work on 10 workers with 20 waiting places: while the source is there,
    // about a third of everyone's requests are rejected, users' included; before and after,
    // users are alone and fine.
    let users = &s.clients["users"];
    assert!((240.0..=360.0).contains(&users.downtime_s), "{users:?}");
    assert!(users.errors > 1_000, "{users:?}");
}

/// A service at 80% load, a two-minute surge to twice the traffic, clients that retry up to
/// five times; the queue is unbounded and the service finishes work its callers abandoned.
fn retry_storm(retry: &str) -> Summary {
    simulate(&format!(
        r#"
[scenario]
name = "storm"
duration = "40m"
seed = 3

[components.users]
kind = "client"
rate = 80.0
target = "api"
timeout = "1s"
retry = {retry}

[components.api]
kind = "service"
workers = 10
service_time = "100ms"

[[faults]]
name = "surge"
kind = "traffic_surge"
target = "users"
at = "5m"
duration = "2m"
multiplier = 2.0
"#
    ))
}

#[test]
fn a_retry_storm_outlives_its_trigger_and_a_retry_budget_ends_it() {
    // Without a budget, every timed-out attempt is retried at once: 80 requests/s become
    // about 4.5 attempts each, far beyond the 100/s the service can do, so it stays down to
    // the end although the surge stopped at 7 minutes: a metastable failure.
    let storm = retry_storm("{ attempts = 5 }");
    let u = &storm.clients["users"];
    assert!(u.downtime_s >= 33.0 * 60.0, "{u:?}");
    assert!(u.attempts as f64 / (u.requests as f64) > 4.0, "{u:?}");
    // A 10% retry budget caps attempts near 1.1 per request: the backlog drains and the
    // service comes back.
    let budget = retry_storm("{ attempts = 5, budget = 0.1 }");
    let b = &budget.clients["users"];
    assert!(b.downtime_s <= 20.0 * 60.0, "{b:?}");
    assert_eq!(
        b.longest_outage_s, b.downtime_s,
        "one outage, then recovery"
    );
    assert!(b.attempts as f64 / (b.requests as f64) < 1.2, "{b:?}");
}

/// 400 users who think for 4.9 s (on average) between requests: 80 requests/s on a service
/// that can do 100/s. A two-minute slowdown (x3) overloads it; attempts time out after 1 s.
fn closed_loop_storm(retry: &str) -> Summary {
    simulate(&format!(
        r#"
[scenario]
name = "cstorm"
duration = "40m"
seed = 3

[components.users]
kind = "client"
concurrency = 400
think_time = {{ dist = "exponential", mean = "4.9s" }}
target = "api"
timeout = "1s"
retry = {retry}

[components.api]
kind = "service"
workers = 10
service_time = "100ms"

[[faults]]
name = "slowdown"
kind = "slow"
target = "api"
at = "5m"
duration = "2m"
factor = 3.0
"#
    ))
}

#[test]
fn with_waiting_users_back_off_and_jitter_end_a_retry_storm() {
    // Immediate retries: every user hammers five attempts a second while failing, over twice
    // the capacity, so the service never recovers after the slowdown ends at 7 minutes.
    let none = closed_loop_storm("{ attempts = 5 }");
    assert!(
        none.clients["users"].downtime_s >= 33.0 * 60.0,
        "{:?}",
        none.clients["users"]
    );
    // Exponential back-off with full jitter spaces the attempts out; users who wait send less;
    // the backlog drains and the service is back within minutes of the trigger's end.
    let backoff = closed_loop_storm(
        r#"{ attempts = 5, backoff = "exponential", base = "2s", cap = "30s", jitter = "full" }"#,
    );
    let b = &backoff.clients["users"];
    assert!(b.downtime_s <= 10.0 * 60.0, "{b:?}");
    assert_eq!(
        b.longest_outage_s, b.downtime_s,
        "one outage, then recovery"
    );
    // A retry budget ends it too.
    let budget = closed_loop_storm("{ attempts = 5, budget = 0.1 }");
    assert!(budget.clients["users"].downtime_s <= 10.0 * 60.0);
}

#[test]
fn rate_and_concurrency_are_exclusive_and_profiles_need_a_rate() {
    let base = "[scenario]\nname = \"c\"\nduration = \"1h\"\n\n[components.api]\nkind = \"service\"\n\n[components.users]\nkind = \"client\"\ntarget = \"api\"\n";
    let both = format!("{base}rate = 5.0\nconcurrency = 10\n");
    let e = scenario::load(&both, "c.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("give either rate or concurrency, not both"),
        "{e}"
    );
    let profile = format!("{base}concurrency = 10\nprofile = [[\"0s\", 2.0]]\n");
    let e = scenario::load(&profile, "c.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("a profile applies to rate-based clients"), "{e}");
    let think = format!("{base}rate = 5.0\nthink_time = \"1s\"\n");
    let e = scenario::load(&think, "c.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("think_time applies with concurrency"), "{e}");
    assert!(scenario::load(&format!("{base}concurrency = 10\n"), "c.toml", &[]).is_ok());
    // A surge scales a population's users; a new source (a rate that appears) does not apply.
    let surge = format!(
        "{base}concurrency = 10\n\n[[faults]]\nkind = \"traffic_surge\"\ntarget = \"users\"\nat = \"1m\"\nmultiplier = 2.0\n"
    );
    assert!(scenario::load(&surge, "c.toml", &[]).is_ok());
    let source = format!(
        "{base}concurrency = 10\n\n[[faults]]\nkind = \"new_source\"\ntarget = \"users\"\nat = \"1m\"\n"
    );
    let e = scenario::load(&source, "c.toml", &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("new_source applies to rate-based clients"),
        "{e}"
    );
}

/// A traffic surge on a closed-loop population scales its users: 100 users thinking 1 s
/// (about 100 requests a second against a fast service) cut to 10 at 2m and back at 4m give
/// about 10 requests a second in between and 100 again after (users leave as they finish a
/// request and come back thinking, so the first minute of each change is a transition).
/// Poisson counts of 600 and 6,000 a minute: the bounds are over 5 standard deviations.
#[test]
fn a_surge_scales_a_closed_loop_population() {
    let text = r#"
[scenario]
name = "population"
duration = "6m"
seed = 4
bucket = "1m"

[components.users]
kind = "client"
target = "api"
concurrency = 100
think_time = { dist = "exponential", mean = "1s" }

[components.api]
kind = "service"
workers = 200
service_time = "1ms"

[[faults]]
name = "sources off"
kind = "traffic_surge"
target = "users"
at = "2m"
duration = "2m"
multiplier = 0.1
"#;
    let spec = scenario::load(text, "p.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    let series = r.client_series().next().unwrap().1;
    let per_min: Vec<u64> = series.iter().map(|b| b.requests).collect();
    for m in [1, 5] {
        assert!(
            (5600..6400).contains(&per_min[m]),
            "minute {m}: {per_min:?}"
        );
    }
    assert!((480..720).contains(&per_min[3]), "minute 3: {per_min:?}");
}

/// Closed-loop users start as if they had been running for a long time: 400 exponential
/// thinkers at 80% load with 5 immediate retries and no fault stay healthy on every seed.
/// (Starting each user at a uniform point within one drawn think time put 28% of them in the
/// first half second: a burst that, with immediate retries, started a storm on its own.)
#[test]
fn closed_loop_users_start_without_a_burst() {
    const USERS: &str = r#"
[scenario]
name = "start"
duration = "5m"
seed = 1

[components.users]
kind = "client"
concurrency = 400
think_time = { dist = "exponential", mean = "4.9s" }
target = "api"
timeout = "1s"
retry = { attempts = 5 }

[components.api]
kind = "service"
replicas = 2
workers = 5
service_time = { dist = "exponential", mean = "100ms" }
"#;
    for seed in 1..=5 {
        let s = simulate(&USERS.replace("seed = 1", &format!("seed = {seed}")));
        let users = &s.clients["users"];
        assert!(
            users.availability > 0.99,
            "seed {seed}: {}",
            users.availability
        );
        // About 400 / (4.9 s + ~0.2 s) = 78 requests/s over 300 s.
        let rate = users.requests as f64 / 300.0;
        assert!((70.0..86.0).contains(&rate), "seed {seed}: {rate}/s");
    }
}

/// Utilisation is busy time over provisioned capacity: standby replicas count only once
/// provisioned, and a load balancer sends nothing to them before (even without health checks).
/// One request a second of one second's work is 1 Erlang of offered load: 50% of 2
/// single-worker replicas; with 2 more provisioned at 30m, 1 Erlang over 2 workers for 30m and
/// 4 for 30m is 1/3. 3,600 requests give a standard error of about 1.7 points: ±6 is safe.
#[test]
fn utilization_counts_provisioned_replicas_only() {
    const UTIL: &str = r#"
[scenario]
name = "util"
duration = "1h"
seed = 4

[components.users]
kind = "client"
rate = 1.0
target = "lb"
timeout = "1h"

[components.lb]
kind = "load_balancer"
backends = "api"

[components.api]
kind = "service"
replicas = 2
standby = 2
workers = 1
queue = "unbounded"
service_time = { dist = "exponential", mean = "1s" }
"#;
    let s = simulate(UTIL);
    assert!(s.clients["users"].availability > 0.999);
    let u = s.components["api"].mean_utilization;
    assert!((0.44..0.56).contains(&u), "{u}");
    let scaled = format!(
        "{UTIL}\n[[actions]]\nname = \"scale out\"\nkind = \"scale\"\ntarget = \"api\"\nreplicas = 2\nat = \"30m\"\nprovision = \"0s\"\n"
    );
    let s = simulate(&scaled);
    assert!(s.clients["users"].availability > 0.999);
    let u = s.components["api"].mean_utilization;
    assert!((0.27..0.39).contains(&u), "{u}");
}

/// A resolver asks the dns group it names, even when another group serves the same name.
#[test]
fn a_resolver_asks_its_own_dns_group() {
    let s = simulate(
        r#"
[scenario]
name = "two-dns"
duration = "5m"

[components.users]
kind = "client"
rate = 10.0
target = "a.example"
resolver = "res"

[components.res]
kind = "resolver"
dns = "dnsb"

[components.dnsa]
kind = "dns"
records = [{ name = "a.example", targets = ["app"] }]

[components.dnsb]
kind = "dns"
records = [{ name = "b.example", targets = ["app"] }, { name = "a.example", targets = ["app"] }]

[components.app]
kind = "service"
"#,
    );
    assert_eq!(s.components["dnsa"].arrivals, 0);
    assert!(s.components["dnsb"].arrivals > 0);
    assert!(s.clients["users"].availability > 0.999);
}
