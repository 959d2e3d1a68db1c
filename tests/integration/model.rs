//! Model behaviour: each mechanism shows its effect, and its defence shows its benefit.

use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, run};
use outagesim::scenario;

fn simulate(toml: &str) -> Summary {
    let spec = scenario::load(toml, "test.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions { threads: 1 }, &mut |_| {}).unwrap();
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
