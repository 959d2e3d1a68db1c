//! Operators: alarms evaluated at monitors reached over the network, and runbook actions
//! triggered at fixed times or by alarms. Each action shows its effect.

use outagesim::model::node::LogEntry;
use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, RunResult, run};
use outagesim::scenario;

fn simulate(toml: &str) -> (Summary, RunResult) {
    let spec = scenario::load(toml, "test.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    (summarize(&r, 0.0), r)
}

fn first(log: &[LogEntry], kind: &str) -> Option<f64> {
    log.iter()
        .find(|e| e.kind == kind)
        .map(|e| e.time as f64 / 1e9)
}

fn rows<'a>(log: &'a [LogEntry], kind: &'a str) -> impl Iterator<Item = &'a LogEntry> {
    log.iter().filter(move |e| e.kind == kind)
}

/// Users in segment "main" call `app`; the monitor sits in segment "ops", behind the device
/// `ops-net` (1,000 messages/s); `app` crashes at 10m. `noise` is a batch job in "ops" that,
/// while `noisy` lasts, sends 3,000 requests/s to `app` through the same device.
fn blind(noise_from: &str) -> String {
    format!(
        r#"
[scenario]
name = "blind"
duration = "30m"
seed = 7
bucket = "1m"

[components.users]
kind = "client"
rate = 50.0
target = "app"
timeout = "2s"

[components.noise]
kind = "client"
rate = 3000.0
target = "app"
timeout = "2s"
segment = "ops"

[components.app]
kind = "service"
replicas = 2
workers = 200
service_time = "1ms"

[components.ops-net]
kind = "network"
joins = ["main", "ops"]
capacity = 200.0

[components.mon]
kind = "monitor"
segment = "ops"
period = "10s"

[[alarms]]
name = "users-down"
group = "users"
metric = "availability"
below = 0.9
for = "1m"

[[faults]]
name = "noisy"
kind = "new_source"
target = "noise"
at = "{noise_from}"

[[faults]]
name = "app down"
kind = "crash"
target = "app"
at = "10m"
"#
    )
}

#[test]
fn an_alarm_fires_after_its_hold_time_when_its_monitor_sees_clearly() {
    // The batch job starts after the end: the device is idle.
    let (s, r) = simulate(&blind("1h"));
    let fired = first(&r.log, "alarm").expect("the alarm fires");
    // Crash at 600 s; the first period with only failures ends within 10 s, reports arrive
    // within a period, and the condition must hold a minute.
    assert!((660.0..=690.0).contains(&fired), "fired at {fired}");
    let i = &s.incident;
    assert_eq!(i.alarms, 1);
    let detect = s.clients["users"].time_to_detect_s.unwrap();
    assert!((60.0..=90.0).contains(&detect), "{detect}");
}

#[test]
fn an_alarm_whose_monitor_sits_behind_a_congested_device_never_fires() {
    // From 5m the device is swamped: reports are dropped or queued behind the batch job's
    // traffic, so the monitor sees gaps, and a gap resets the hold time.
    let (s, r) = simulate(&blind("5m"));
    assert_eq!(first(&r.log, "alarm"), None, "blind monitoring");
    assert!(s.components["ops-net"].dropped > 100_000);
    assert!(s.clients["users"].downtime_s >= 19.0 * 60.0);
    assert_eq!(s.incident.time_to_detect_s, None);
    // Treating missing data as breaching makes it fire, late or early but not never.
    let (_, r) =
        simulate(&blind("5m").replace("for = \"1m\"", "for = \"1m\"\nmissing = \"breaching\""));
    assert!(first(&r.log, "alarm").is_some());
}

/// Four `app` replicas behind a round-robin balancer; at 10m a config change rolls out one
/// replica a minute, leaving each with one slow worker; an alarm on users' availability
/// triggers a rollback after a 2-minute response delay.
fn rollout(extra: &str) -> String {
    format!(
        r#"
[scenario]
name = "rollout"
duration = "30m"
seed = 3
bucket = "1m"

[components.users]
kind = "client"
rate = 100.0
target = "lb"
timeout = "1s"

[components.lb]
kind = "load_balancer"
backends = "app"

[components.app]
kind = "service"
replicas = 4
workers = 20
service_time = "10ms"

[components.mon]
kind = "monitor"

[[alarms]]
name = "availability"
group = "users"
metric = "availability"
below = 0.95
for = "30s"

[[faults]]
name = "bad push"
kind = "config_change"
target = "app"
at = "10m"
rollout = "4m"
set = {{ workers = 1, service_time = "100ms" }}
{extra}
"#
    )
}

#[test]
fn a_config_change_rolls_out_replica_by_replica_and_rolls_back_in_reverse() {
    let (s, r) = simulate(&rollout(
        "\n[[actions]]\nname = \"roll back\"\nkind = \"rollback\"\nfault = \"bad push\"\non = \"availability\"\ndelay = \"2m\"\n",
    ));
    let applied: Vec<(u64, String)> = rows(&r.log, "config_applied")
        .map(|e| (e.time / 1_000_000_000, e.target.clone()))
        .collect();
    let reverted: Vec<(u64, String)> = rows(&r.log, "config_reverted")
        .map(|e| (e.time / 1_000_000_000, e.target.clone()))
        .collect();
    let alarm = first(&r.log, "alarm").unwrap();
    let action = first(&r.log, "action").unwrap();
    assert!((action - alarm - 120.0).abs() < 1e-6, "the response delay");
    // Replica k switches at 10m + k minutes, until the rollback stops the rollout.
    for (k, (t, name)) in applied.iter().enumerate() {
        assert_eq!(*t, 600 + 60 * k as u64);
        assert_eq!(name, &format!("app[{k}]"));
    }
    assert!(applied.len() >= 2 && applied.len() <= 4, "{applied:?}");
    // Back in reverse order, a minute apart, the last to switch first.
    assert_eq!(reverted.len(), applied.len());
    for (k, (t, name)) in reverted.iter().enumerate() {
        assert_eq!(name, &applied[applied.len() - 1 - k].1);
        assert_eq!(*t, action as u64 + 60 * k as u64, "{reverted:?}");
    }
    let a = s.clients["users"].availability;
    // Without the rollback the damage stays to the end.
    let (s2, r2) = simulate(&rollout(""));
    assert_eq!(rows(&r2.log, "config_applied").count(), 4);
    assert!(
        s2.clients["users"].availability < a - 0.05,
        "{} vs {a}",
        s2.clients["users"].availability
    );
    assert!(s.clients["users"].time_to_mitigate_s.is_some());
    assert!(s.clients["users"].time_to_recover_s.is_some());
    assert_eq!(s2.clients["users"].time_to_recover_s, None);
}

/// Availability of `users` in the buckets [from, to) (one-minute buckets).
fn window(r: &RunResult, from: usize, to: usize) -> f64 {
    let s = r
        .client_series()
        .find(|(g, _)| g.name == "users")
        .unwrap()
        .1;
    let (mut good, mut done) = (0u64, 0u64);
    for b in &s[from..to] {
        good += b.successes + b.degraded;
        done += b.finished();
    }
    good as f64 / done.max(1) as f64
}

const APP: &str = r#"
[scenario]
name = "actions"
duration = "20m"
seed = 11
bucket = "1m"

[components.users]
kind = "client"
rate = 100.0
target = "app"
timeout = "1s"

[components.app]
kind = "service"
replicas = 2
workers = 4
queue = 2000
service_time = "10ms"
"#;

#[test]
fn end_fault_stops_a_surge_and_shed_load_keeps_part_of_an_overloaded_service_up() {
    // A tenfold surge overloads app (capacity 800/s) from 2m: its queues fill, and what
    // waits in them waits longer (5 s) than users do (1 s).
    let surge = "\n[[faults]]\nname = \"surge\"\nkind = \"traffic_surge\"\ntarget = \"users\"\nat = \"2m\"\nmultiplier = 10.0\n";
    let (_, base) = simulate(&format!("{APP}{surge}"));
    assert!(window(&base, 12, 20) < 0.2);
    let end = "\n[[actions]]\nname = \"stop it\"\nkind = \"end_fault\"\nfault = \"surge\"\nat = \"10m\"\n";
    let (_, ended) = simulate(&format!("{APP}{surge}{end}"));
    assert!(window(&ended, 12, 20) > 0.99);
    let requests: u64 = ended.client_series().next().unwrap().1[15].requests;
    assert!(
        (5_000..7_000).contains(&requests),
        "back to 100/s: {requests}"
    );
    // Shedding 30% of 1,000/s leaves 700/s: under capacity, so what is kept succeeds.
    let shed = "\n[[actions]]\nname = \"shed\"\nkind = \"shed_load\"\ntarget = \"app\"\nfraction = 0.3\nat = \"10m\"\n";
    let (_, shed) = simulate(&format!("{APP}{surge}{shed}"));
    let a = window(&shed, 12, 20);
    assert!((0.6..0.8).contains(&a), "{a}");
}

#[test]
fn restart_ends_a_hang_replica_by_replica() {
    let hang = "\n[[faults]]\nname = \"stuck\"\nkind = \"hang\"\ntarget = \"app\"\nat = \"2m\"\n";
    let restart = "\n[[actions]]\nname = \"bounce\"\nkind = \"restart\"\ntarget = \"app\"\nat = \"10m\"\nstagger = \"1m\"\ncold_start = \"30s\"\n";
    let (_, r) = simulate(&format!("{APP}{hang}{restart}"));
    assert!(window(&r, 3, 10) < 0.01);
    // Replica 0 is back at 10m30s, replica 1 at 11m30s.
    assert!(window(&r, 13, 20) > 0.99);
    let back: Vec<u64> = rows(&r.log, "back")
        .map(|e| e.time / 1_000_000_000)
        .collect();
    assert_eq!(back, vec![630, 690]);
}

#[test]
fn scale_brings_standby_replicas_in_after_provisioning() {
    // 600 req/s on two replicas of capacity 400/s each... is fine; 1,200 is not.
    let toml = APP
        .replace(
            "rate = 100.0\ntarget = \"app\"",
            "rate = 1200.0\ntarget = \"lb\"",
        )
        .replace("replicas = 2\n", "replicas = 2\nstandby = 2\n")
        + "\n[components.lb]\nkind = \"load_balancer\"\nbackends = \"app\"\nhealth_check = { interval = \"2s\" }\n\
           \n[[actions]]\nname = \"add two\"\nkind = \"scale\"\ntarget = \"app\"\nat = \"5m\"\nprovision = \"2m\"\n";
    let (s, r) = simulate(&toml);
    assert!(window(&r, 1, 5) < 0.9);
    assert!(window(&r, 9, 20) > 0.99, "{}", window(&r, 9, 20));
    assert_eq!(rows(&r.log, "provisioned").count(), 2);
    assert!(s.components["app"].arrivals > 0);
}

#[test]
fn block_denies_a_new_source_at_a_firewall() {
    let toml = r#"
[scenario]
name = "block"
duration = "20m"
seed = 5
bucket = "1m"

[components.users]
kind = "client"
rate = 100.0
target = "fw"
timeout = "1s"

[components.bots]
kind = "client"
rate = 2000.0
target = "fw"
timeout = "1s"

[components.fw]
kind = "firewall"
next = "app"
workers = 100

[components.app]
kind = "service"
replicas = 2
workers = 4
queue = 50
service_time = "10ms"

[[faults]]
name = "bots appear"
kind = "new_source"
target = "bots"
at = "2m"

[[actions]]
name = "block bots"
kind = "block"
firewall = "fw"
source = "bots"
at = "8m"
"#;
    let (s, r) = simulate(toml);
    assert!(window(&r, 3, 8) < 0.5);
    assert!(window(&r, 9, 20) > 0.99);
    assert!(s.components["fw"].denied > 100_000);
}

#[test]
fn dns_failover_moves_users_to_the_secondary_after_the_ttl() {
    let toml = r#"
[scenario]
name = "failover"
duration = "20m"
seed = 5
bucket = "1m"

[components.users]
kind = "client"
rate = 100.0
target = "www.example"
resolver = "resolver"
timeout = "1s"

[components.resolver]
kind = "resolver"
dns = "dns"

[components.dns]
kind = "dns"
[[components.dns.records]]
name = "www.example"
ttl = "60s"
policy = "failover"
targets = ["east", "west"]

[components.east]
kind = "service"
replicas = 2
[components.west]
kind = "service"
replicas = 2

[[faults]]
name = "east down"
kind = "crash"
target = "east"
at = "2m"

[[actions]]
name = "to west"
kind = "dns_failover"
target = "dns"
record = "www.example"
to = "west"
at = "8m"
"#;
    let (_, r) = simulate(toml);
    assert!(window(&r, 3, 8) < 0.01);
    assert!(window(&r, 10, 20) > 0.99);
}

/// Gossip, a monitor, an alarm-triggered action and a config change across three regions:
/// the sequential and the partitioned executors give the same results, events log included.
#[test]
fn operators_and_gossip_are_deterministic_across_executors() {
    let toml = r#"
[scenario]
name = "det"
duration = "20m"
seed = 9
bucket = "1m"

[components.users]
kind = "client"
rate = 200.0
target = "lb"
timeout = "2s"
region = "a"

[components.lb]
kind = "load_balancer"
backends = "store"
region = "a"
health_check = { interval = "2s" }

[components.store]
kind = "storage"
replicas = 9
region = "b"
zones = ["b-1", "b-2", "b-3"]
gossip = { interval = "1s", fanout = 2, fail_after = "10s", failed_fanout = 2, failed_rounds = 3 }

[components.mon]
kind = "monitor"
region = "c"

[[alarms]]
name = "low"
group = "users"
metric = "availability"
below = 0.99

[[actions]]
name = "clear"
kind = "clear_gossip"
target = "store"
on = "low"
delay = { dist = "exponential", mean = "1m" }
restart_time = "20s"
restart_batch = 3

[[faults]]
name = "bitflip"
kind = "gossip_corruption"
target = "store"
at = "3m"
"#;
    let spec = scenario::load(toml, "det.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    let one = run(spec.clone(), &RunOptions::threads(1), &mut |_| {}).unwrap();
    let two = run(spec, &RunOptions::partitioned(2), &mut |_| {}).unwrap();
    assert_eq!(two.partitions, 3);
    assert_eq!(one.events, two.events);
    assert_eq!(one.groups, two.groups);
    assert_eq!(one.log, two.log);
    assert!(one.log.iter().any(|e| e.kind == "action"));
    assert!(one.log.iter().any(|e| e.kind == "gossip_adopt"));
}

#[test]
fn the_blast_radius_counts_dependency_hops_from_the_faults_origins() {
    let text = std::fs::read_to_string("scenarios/web-three-tier.toml").unwrap();
    let spec = scenario::load(&text, "web.toml", &["scenario.duration=40m".into()])
        .unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    let s = summarize(&r, 0.0);
    let b = &s.blast_radius;
    // The east surge starts after 40m: only the load balancers' crash is an origin.
    assert_eq!(b.origins, vec!["lb-east".to_owned()]);
    assert_eq!(b.hops.get("lb-east"), Some(&0));
    assert_eq!(b.hops.get("fw-east"), Some(&1));
    // Users resolve www.example.com, whose record points at lb-east: one hop.
    assert_eq!(b.hops.get("users-east"), Some(&1));
    assert_eq!(b.hops.get("partners"), Some(&2));
    assert_eq!(b.max_hops, 2);
    // Scrapers are denied from the start: chronically down, not part of the incident.
    assert_eq!(s.clients["scrapers"].time_to_detect_s, None);
    let i = &s.incident;
    assert_eq!(i.start_s, Some(1200.0));
    assert_eq!(i.impact_s, Some(1200.0));
    // partners-down: a minute's hold after the first period with failures.
    let detect = i.time_to_detect_s.unwrap();
    assert!((60.0..=90.0).contains(&detect), "{detect}");
    assert_eq!(i.time_to_mitigate_s, None);
    assert_eq!(i.time_to_recover_s, Some(660.0));
    assert!(b.clients.peak_fraction >= 0.75 && b.clients.peak_at_s == Some(1200.0));
}

/// A client deployment: users on 1 attempt with a 1 s timeout get, at 5m, a build whose
/// timeout (3 ms) is shorter than the service's 5 ms and which retries 4 more times; the fault
/// ends at 10m and the old build comes back.
fn client_deploy(set: &str) -> String {
    format!(
        r#"
[scenario]
name = "client-deploy"
duration = "15m"
seed = 3
bucket = "1m"

[components.users]
kind = "client"
rate = 20.0
target = "api"
timeout = "1s"

[components.api]
kind = "service"
workers = 10
service_time = "5ms"

[[faults]]
name = "new client build"
kind = "config_change"
target = "users"
at = "5m"
duration = "5m"
set = {set}
"#
    )
}

#[test]
fn a_config_change_deploys_new_retry_and_timeout_settings_to_a_client_group() {
    let (s, r) = simulate(&client_deploy(
        r#"{ timeout = "3ms", retry = { attempts = 5 } }"#,
    ));
    let (_, series) = r.client_series().next().unwrap();
    for (b, bucket) in series.iter().enumerate() {
        let per_request = bucket.attempts as f64 / bucket.requests as f64;
        if (5..10).contains(&b) {
            // Every attempt times out: 5 per request, none succeeds.
            assert_eq!(bucket.successes, 0, "minute {b}");
            assert!(
                (per_request - 5.0).abs() < 0.01,
                "minute {b}: {per_request}"
            );
        } else {
            assert_eq!(bucket.successes, bucket.requests, "minute {b}");
            assert!(per_request < 1.001, "minute {b}: {per_request}");
        }
    }
    let u = &s.clients["users"];
    assert!((u.availability - 2.0 / 3.0).abs() < 0.01, "{u:?}");
    let applied: Vec<&LogEntry> = rows(&r.log, "config_applied").collect();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].time, 300_000_000_000);
}

#[test]
fn a_config_change_cannot_set_a_clients_traffic() {
    for (set, field) in [("{ rate = 80.0 }", "rate"), ("{ profile = [] }", "profile")] {
        let e = match scenario::load(&client_deploy(set), "deploy.toml", &[]) {
            Ok(_) => panic!("{set} is refused"),
            Err(e) => e.to_string(),
        };
        assert!(
            e.contains(&format!("a config change cannot set a client's '{field}'"))
                && e.contains("traffic_surge"),
            "{e}"
        );
    }
}
