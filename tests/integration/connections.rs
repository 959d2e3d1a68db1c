//! Connections (`policy/conn.rs`): a device's and a firewall's connection table against
//! Erlang B, the pools' reuse, waiting, idle close and connect timeout, the reconnect waves a
//! scale action, an autoscaler, a restarted target replica, a config change of the target and
//! a changed DNS answer set off, and the located errors for bad pool and table settings.
//!
//! Seeds are fixed, so a pass is reproducible; each tolerance is stated with why it suffices.

use crate::common::{assert_refused, scratch};
use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, RunResult, Series, run};
use outagesim::scenario;

fn result(toml: &str, sets: &[&str]) -> RunResult {
    let sets: Vec<String> = sets.iter().map(|s| (*s).to_owned()).collect();
    let spec = scenario::load(toml, "test.toml", &sets).unwrap_or_else(|e| panic!("{e}"));
    run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap()
}

fn simulate(toml: &str, sets: &[&str]) -> Summary {
    summarize(&result(toml, sets), 0.0)
}

/// Messages a group's replicas received over the run.
fn arrivals(r: &RunResult, name: &str) -> u64 {
    let g = r.groups.iter().find(|g| g.name == name).unwrap();
    match &g.series {
        Series::Server(s) => s.iter().map(|b| b.arrivals).sum(),
        Series::Client(_) => panic!("{name} is a client"),
    }
}

/// A client in segment "a" calling `api` in segment "b" through one device `dev`, with no
/// network latency; the rest of each scenario follows.
const HEAD: &str = r#"
[network]
same_zone = "0s"
cross_zone = "0s"

[scenario]
name = "connections"
seed = 7
"#;

/// Ten front replicas pooling connections to `api` (4 replicas and 4 standby, in another
/// segment, across a device with a connection table) for `duration`; `api` is the last table
/// opened, for `rest` to finish (its workers and service time) and add to.
fn wave_scenario(duration: &str, rest: &str) -> String {
    format!(
        r#"{HEAD}duration = "{duration}"
bucket = "1m"
[components.users]
kind = "client"
segment = "a"
rate = 200.0
target = "front"
timeout = "10s"

[components.front]
kind = "service"
segment = "a"
replicas = 10
workers = 100
service_time = "1ms"
calls = [{{ target = "api", timeout = "5s" }}]
connections = {{ pool = 8, idle_timeout = "10m" }}

[components.dev]
kind = "network"
capacity = 100000.0
joins = ["a", "b"]
connections = {{ table = 10000, setup = "1ms" }}

[components.api]
kind = "service"
segment = "b"
replicas = 4
standby = 4
{rest}"#
    )
}

/// Erlang B by its recurrence: B(0) = 1, B(k) = A B(k-1) / (k + A B(k-1)).
fn erlang_b(c: u32, a: f64) -> f64 {
    (1..=c).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

/// The users' timed-out share is Erlang B(c, A) within 0.015 (their connects refused by a full
/// table of `c` entries at `device`, which counts each refusal as dropped), over more than
/// `min_requests` requests.
fn assert_erlang_b(s: &Summary, device: &str, c: u32, a: f64, min_requests: u64) {
    let u = &s.clients["users"];
    let blocked = u.timeouts as f64 / u.requests as f64;
    let want = erlang_b(c, a);
    assert!(u.requests > min_requests, "{} requests", u.requests);
    assert_eq!(u.errors, 0);
    assert!(
        (blocked - want).abs() < 0.015,
        "c = {c}, A = {a}: blocked {blocked:.4}, Erlang B {want:.4}"
    );
    let dropped = s.components[device].dropped;
    assert!(
        dropped >= u.timeouts && dropped <= u.timeouts + 5,
        "{dropped} drops, {} timeouts",
        u.timeouts
    );
}

/// Connections arriving as a Poisson stream (each user request opens its own: a one-use
/// connection, `max_lifetime = "1ns"`, so none is reused or handed to another call), held for
/// the request's exponential service time (mean 1 s) and closed, through a device whose table
/// holds c entries: a refused handshake is dropped, its connect times out and the request
/// fails, so the failed share is the table's blocking probability, Erlang B(c, A) with
/// A = lambda x 1 s. Over two hours (72,000 connections) the estimate's standard error is
/// about 0.003 (runs of three seeds gave 0.2140, 0.2154 and 0.2156 against 0.2146 for c = 10,
/// A = 10); the tolerance of 0.015 is five of them, and far below the gap to a wrong model
/// (a table that freed entries only at idle expiry, or counted requests, would block at once).
#[test]
fn a_connection_table_blocks_as_erlang_b() {
    for (c, a) in [(10u32, 10.0f64), (5, 3.0)] {
        let toml = format!(
            r#"{HEAD}duration = "2h"
bucket = "10m"
[components.users]
kind = "client"
segment = "a"
rate = {a:?}
target = "api"
timeout = "1h"
connections = {{ pool = 1000, idle_timeout = "1ns", max_lifetime = "1ns", connect_timeout = "1s" }}

[components.dev]
kind = "network"
capacity = 1000000.0
queue = "unbounded"
joins = ["a", "b"]
connections = {{ table = {c} }}

[components.api]
kind = "service"
segment = "b"
workers = 1000
service_time = {{ dist = "exponential", mean = "1s" }}
"#
        );
        let s = simulate(&toml, &[]);
        // Every refusal is a dropped handshake at the device.
        assert_erlang_b(&s, "dev", c, a, 20_000);
    }
}

/// The pooled client of the tests below: `rate` requests a second, a 100 ms service.
fn pooled(rate: f64, conns: &str, extra: &str) -> String {
    format!(
        r#"{HEAD}duration = "30m"
bucket = "1m"
[components.users]
kind = "client"
segment = "a"
rate = {rate:?}
target = "api"
timeout = "1h"
connections = {conns}

[components.dev]
kind = "network"
capacity = 100000.0
joins = ["a", "b"]
connections = {{ table = 1000, setup = "1ms" }}

[components.api]
kind = "service"
segment = "b"
workers = 100
service_time = "100ms"
{extra}"#
    )
}

/// Reuse and idle close: a request crosses the device twice (request and answer); a new
/// connection adds its handshake (two messages) and its close (one). At 1 request every 10 s
/// (exponential gaps) a pool that keeps connections 60 s open reuses them for almost every
/// request (at most a handful of handshakes: 2.0x messages); closing them after 1 s of idleness
/// makes almost every request open one (5.0x: 1 - e^-0.1 = 90% of gaps exceed 1 s, so about
/// 4.7x).
#[test]
fn pooled_connections_are_reused_and_idle_ones_close() {
    let keep = result(
        &pooled(0.1, r#"{ pool = 4, idle_timeout = "60s" }"#, ""),
        &[],
    );
    let short = result(
        &pooled(0.1, r#"{ pool = 4, idle_timeout = "1s" }"#, ""),
        &[],
    );
    let requests = |r: &RunResult| summarize(r, 0.0).clients["users"].requests as f64;
    let (k, s) = (
        arrivals(&keep, "dev") as f64 / requests(&keep),
        arrivals(&short, "dev") as f64 / requests(&short),
    );
    assert!(requests(&keep) > 100.0);
    assert!(k < 2.2, "kept open: {k:.2} device messages a request");
    assert!(
        s > 4.3 && s < 5.0,
        "closed after 1 s idle: {s:.2} a request"
    );
    for r in [&keep, &short] {
        let u = &summarize(r, 0.0).clients["users"];
        assert_eq!(u.successes, u.requests, "every request succeeds");
    }
}

/// Waiting: one connection for 5 requests a second of a 100 ms service: requests take turns
/// on it, FIFO, so the client is an M/D/1 queue (rho = 0.5): mean latency 100 ms + rho /
/// (2 mu (1 - rho)) = 150 ms, where an unpooled client sees 100 ms. Over 30 minutes (9,000
/// requests) the mean is within a few ms of it; the tolerance (10 ms) is far below the 50 ms
/// the waiting adds.
#[test]
fn calls_wait_in_line_for_a_full_pool() {
    let s = simulate(
        &pooled(5.0, r#"{ pool = 1, idle_timeout = "60s" }"#, ""),
        &[],
    );
    let u = &s.clients["users"];
    assert_eq!(u.successes, u.requests);
    assert!(
        (u.latency_s.as_ref().unwrap().mean - 0.150).abs() < 0.010,
        "mean latency {}",
        u.latency_s.as_ref().unwrap().mean
    );
    let free = simulate(
        &pooled(5.0, r#"{ pool = 50, idle_timeout = "60s" }"#, ""),
        &[],
    );
    assert!(
        (free.clients["users"].latency_s.as_ref().unwrap().mean - 0.100).abs() < 0.005,
        "with room: {}",
        free.clients["users"].latency_s.as_ref().unwrap().mean
    );
}

/// A connect nobody answers (the service is down all along) fails its call at
/// `connect_timeout`, long before the call's own one-hour timeout: every request of the run
/// but those of its last second has failed as a timeout by the end.
#[test]
fn an_unanswered_connect_fails_its_call_at_the_connect_timeout() {
    let down = r#"
[[faults]]
name = "down"
kind = "crash"
target = "api"
at = "0s"
"#;
    let s = simulate(
        &pooled(
            1.0,
            r#"{ pool = 4, idle_timeout = "60s", connect_timeout = "1s" }"#,
            down,
        ),
        &[],
    );
    let u = &s.clients["users"];
    assert!(u.requests > 1000);
    assert_eq!(u.successes, 0);
    assert!(
        u.timeouts + 10 >= u.requests,
        "{} of {} failed",
        u.timeouts,
        u.requests
    );
}

/// A handshake answered after its caller gave up is reset by the caller, which frees the
/// entry it took at the device: with every connect timing out (the handshake takes 1 ms of
/// setup, the connect timeout is 0.5 ms) and a table of 3 entries, the table never fills; left
/// stale until their 350 s expiry, 5 abandoned handshakes a second would fill it at once.
#[test]
fn a_handshake_answered_too_late_is_reset_and_frees_its_table_entry() {
    let r = result(
        &pooled(
            5.0,
            r#"{ pool = 4, idle_timeout = "60s", connect_timeout = "500us" }"#,
            "",
        ),
        &["scenario.duration=2m", "components.dev.connections.table=3"],
    );
    let s = summarize(&r, 0.0);
    let u = &s.clients["users"];
    assert!(u.requests > 400);
    assert_eq!(u.successes, 0, "every connect times out");
    assert!(
        r.log.iter().all(|e| e.kind != "conn_table_full"),
        "the resets keep the table clear"
    );
    // Each attempt crosses the device three times: the handshake, its late answer, the reset.
    let per = arrivals(&r, "dev") as f64 / u.requests as f64;
    assert!(
        (2.9..3.1).contains(&per),
        "{per:.2} device messages a request"
    );
}

/// The reconnect wave: a scale action doubling the service's replicas reaches the replicas
/// of `front`, which pool connections to it: when the new replicas are in service each closes
/// its connections and reopens as many over all eight replicas at once, so the device relays
/// a burst of handshakes and closes in that minute, and the events log says so.
#[test]
fn a_scale_action_sets_off_a_reconnect_wave() {
    let toml = wave_scenario(
        "10m",
        r#"workers = 100
service_time = "200ms"

[[actions]]
name = "scale out"
kind = "scale"
target = "api"
replicas = 4
provision = "30s"
at = "5m"
"#,
    );
    let r = result(&toml, &[]);
    let waves: Vec<_> = r.log.iter().filter(|e| e.kind == "rebalance").collect();
    assert_eq!(waves.len(), 10, "one rebalance per front replica");
    assert!(waves.iter().all(|e| e.time == 330_000_000_000));
    assert!(
        waves[0].detail.contains("reopened over 8 replicas"),
        "{}",
        waves[0].detail
    );
    let reopened: u64 = waves
        .iter()
        .map(|e| {
            e.detail
                .split_once(": ")
                .unwrap()
                .1
                .split(' ')
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert!(reopened >= 50, "{reopened} connections reopened");
    let g = r.groups.iter().find(|g| g.name == "dev").unwrap();
    let Series::Server(dev) = &g.series else {
        panic!()
    };
    // Minute 4 (before) against minute 5 (the wave at 5m30s): each connection closed and
    // reopened adds three messages (close, handshake and its answer).
    let extra = dev[5].arrivals as i64 - dev[4].arrivals as i64;
    assert!(
        extra >= 3 * reopened as i64 / 2,
        "the wave added {extra} messages for {reopened} connections"
    );
    // The new replicas take work after the wave: the group's busy time grows with none lost.
    let s = summarize(&r, 0.0);
    assert_eq!(s.clients["users"].errors + s.clients["users"].timeouts, 0);
}

/// An autoscaler's scale-out sets off the same wave as a scale action: the callers pooling to
/// the group get its order and rebalance when the new replicas are in service.
#[test]
fn an_autoscaler_scale_out_sets_off_a_reconnect_wave() {
    let toml = wave_scenario(
        "4m",
        r#"workers = 20
service_time = "200ms"

[components.ops]
kind = "monitor"
segment = "b"
period = "10s"

[[autoscalers]]
group = "api"
metric = "utilization"
target = 0.3
max = 8
period = "1m"
cooldown = "10m"
provision = "30s"
"#,
    );
    let r = result(&toml, &[]);
    // 40 busy workers of 80 (50%) against a 30% target: 4 -> 7 replicas at the first
    // evaluation, in service 30 s later.
    let out: Vec<_> = r.log.iter().filter(|e| e.kind == "scale_out").collect();
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].detail.contains("4 -> 7"), "{}", out[0].detail);
    let provisioned = r
        .log
        .iter()
        .find(|e| e.kind == "provisioned")
        .expect("new replicas in service")
        .time;
    let waves: Vec<_> = r.log.iter().filter(|e| e.kind == "rebalance").collect();
    assert_eq!(
        waves.len(),
        10,
        "one rebalance per front replica: {waves:?}"
    );
    assert!(
        waves.iter().all(|e| e.time == provisioned),
        "the callers rebalance when the replicas come into service"
    );
    assert!(
        waves[0].detail.contains("reopened over 7 replicas"),
        "{}",
        waves[0].detail
    );
    let s = summarize(&r, 0.0);
    assert_eq!(s.clients["users"].errors + s.clients["users"].timeouts, 0);
}

/// A kept-open (`min_idle`) connection lost to a call that timed out on it is reopened after
/// the client's retry back-off, not at once: one client (one call a minute, a 250 ms timeout,
/// a fixed 20 s back-off) against a hung `api` (it accepts connections and never answers).
/// Each call times out and closes its connection; the reopening handshake crosses the device
/// 20 s later, in a second when no call starts or ends (before, it crossed in the second of
/// the timeout, and no device second was that far from a call).
#[test]
fn a_kept_connection_lost_to_a_timeout_is_reopened_after_the_back_off() {
    let toml = format!(
        r#"{HEAD}duration = "10m"
bucket = "1s"
[components.users]
kind = "client"
segment = "a"
concurrency = 1
think_time = "60s"
target = "api"
timeout = "250ms"
retry = {{ attempts = 1, backoff = "fixed", base = "20s" }}
connections = {{ pool = 1, min_idle = 1, idle_timeout = "1h", connect_timeout = "1s" }}

[components.dev]
kind = "network"
capacity = 100000.0
joins = ["a", "b"]

[components.api]
kind = "service"
segment = "b"

[[faults]]
name = "api hangs"
kind = "hang"
target = "api"
at = "0s"
"#
    );
    let r = result(&toml, &[]);
    let g = r.groups.iter().find(|g| g.name == "users").unwrap();
    let Series::Client(users) = &g.series else {
        panic!()
    };
    let calls: Vec<usize> = users
        .iter()
        .enumerate()
        .filter(|(_, b)| b.attempts + b.timeouts > 0)
        .map(|(i, _)| i)
        .collect();
    assert!(calls.len() >= 9, "{calls:?}");
    let dev = r.groups.iter().find(|g| g.name == "dev").unwrap();
    let Series::Server(dev) = &dev.series else {
        panic!()
    };
    let lone: Vec<usize> = dev
        .iter()
        .enumerate()
        .filter(|(i, b)| b.arrivals > 0 && calls.iter().all(|c| c.abs_diff(*i) >= 5))
        .map(|(i, _)| i)
        .collect();
    // The first connection opens at a random time at the start; each of the 9 later calls'
    // losses is followed by a lone reopening 20 s later.
    assert!(lone.len() >= 8, "reopened at {lone:?}, calls at {calls:?}");
    for &t in &lone[1..] {
        assert!(
            calls
                .iter()
                .any(|&c| (19..=22).contains(&t.saturating_sub(c))),
            "a reopening at {t} s, 20 s after no call: calls at {calls:?}"
        );
    }
}

/// The `rebalance` log entries of a run whose detail contains `what`, and the connections
/// each acted on (the detail's first number).
fn waves(r: &RunResult, what: &str) -> (usize, u64) {
    let w: Vec<_> = r
        .log
        .iter()
        .filter(|e| e.kind == "rebalance" && e.detail.contains(what))
        .collect();
    let n = w
        .iter()
        .map(|e| {
            let after = e.detail.split_once(": ").unwrap().1;
            after.split(' ').next().unwrap().parse::<u64>().unwrap()
        })
        .sum();
    (w.len(), n)
}

/// Device messages in minute `m`.
fn minute(r: &RunResult, name: &str, m: usize) -> i64 {
    let g = r.groups.iter().find(|g| g.name == name).unwrap();
    let Series::Server(s) = &g.series else {
        panic!("{name} is a client")
    };
    s[m].arrivals as i64
}

/// A crashed target replica (a crash fault on replica 0 of `api` for a minute): the callers
/// pooling to it are told at once, lose their connections to it (idle ones closed) and open
/// new ones to the other replicas only, so hardly a request reaches it while it is down
/// (without the notice the ~40 requests a second its pooled connections carry would be
/// dropped there for a minute); when it is back each caller moves its fair share of
/// connections to it (probability `rebalance` / 4): a reconnect wave of a close, a handshake
/// and its answer per connection moved, visible at the device against the same run with
/// `rebalance = 0` (the users' arrivals are the same in both: an open loop with its own
/// random stream).
#[test]
fn a_restarted_target_replica_loses_its_connections_and_gets_its_share_back() {
    let toml = wave_scenario(
        "8m",
        r#"workers = 100
service_time = "200ms"

[[faults]]
name = "api 0 down"
kind = "crash"
target = "api"
replicas = [0]
at = "5m"
duration = "1m"
"#,
    );
    let r = result(&toml, &[]);
    let (downs, lost) = waves(&r, "lost (replica down)");
    assert_eq!(downs, 10, "one notice per front replica");
    assert!(lost >= 5, "{lost} connections lost");
    let s = summarize(&r, 0.0);
    assert!(
        s.components["api"].dropped <= 10,
        "{} requests reached the down replica",
        s.components["api"].dropped
    );
    let (ups, moved) = waves(&r, "moved to the replica back in service");
    assert_eq!(ups, 10);
    assert!(moved >= 5, "{moved} connections moved back");
    let back = r
        .log
        .iter()
        .find(|e| e.detail.contains("back in service"))
        .unwrap();
    assert_eq!(back.time, 360_000_000_000, "told when it is back, at 6m");
    let none = result(&toml, &["components.front.connections.rebalance=0.0"]);
    assert_eq!(waves(&none, "back in service"), (10, 0));
    let extra = minute(&r, "dev", 6) - minute(&none, "dev", 6);
    assert!(
        extra >= 2 * moved as i64,
        "the wave added {extra} messages for {moved} connections moved"
    );
}

/// A config change rolled out to the target group (all 4 replicas at 5m, reverted at 7m) is
/// a reload: each caller closes and reopens its `rebalance` share of the connections to each
/// switched replica (all of them with 1.0, none with 0.0), a wave of three messages per
/// connection at the device.
#[test]
fn a_config_change_of_the_target_sets_off_a_reconnect_wave() {
    let toml = wave_scenario(
        "8m",
        r#"workers = 100
service_time = "200ms"

[[faults]]
name = "api reload"
kind = "config_change"
target = "api"
at = "5m"
duration = "2m"
set = { service_time = "100ms" }
"#,
    );
    let r = result(&toml, &[]);
    let (n, reopened) = waves(&r, "config change at the replica");
    assert_eq!(n, 80, "10 callers told by 4 replicas, applied and reverted");
    assert!(reopened >= 50, "{reopened} connections reopened");
    let none = result(&toml, &["components.front.connections.rebalance=0.0"]);
    assert_eq!(waves(&none, "config change at the replica"), (80, 0));
    // Minute 5 holds the first wave (about half of all reopened connections).
    let extra = minute(&r, "dev", 5) - minute(&none, "dev", 5);
    assert!(
        extra >= reopened as i64,
        "the wave added {extra} messages for {reopened} connections reopened"
    );
}

/// A DNS answer change for a name pooled callers reach a group through (a `dns_record` fault
/// points `api.internal` at `api-b` from 5m to 15m; TTL 30 s): at the first changed answer the
/// caller closes its `rebalance` share of the connections to `api-a` and opens as many to
/// `api-b`, and back when the record is fixed; with `rebalance = 0` the old connections stay
/// open (idle, as a client that does not watch DNS keeps them).
#[test]
fn a_changed_dns_answer_moves_pooled_connections() {
    let toml = format!(
        r#"{HEAD}duration = "20m"
bucket = "1m"
[components.users]
kind = "client"
segment = "a"
rate = 40.0
target = "api.internal"
resolver = "res"
timeout = "5s"
connections = {{ pool = 8, idle_timeout = "1h" }}

[components.res]
kind = "resolver"
segment = "a"
dns = "dns"

[components.dns]
kind = "dns"
segment = "a"
records = [{{ name = "api.internal", ttl = "30s", targets = ["api-a"] }}]

[components.dev]
kind = "network"
capacity = 100000.0
joins = ["a", "b"]
connections = {{ table = 1000 }}

[components.api-a]
kind = "service"
segment = "b"
workers = 100
service_time = "100ms"

[components.api-b]
kind = "service"
segment = "b"
workers = 100
service_time = "100ms"

[[faults]]
name = "record moved"
kind = "dns_record"
target = "dns"
record = "api.internal"
at = "5m"
duration = "10m"
answer = "wrong"
to = "api-b"
"#
    );
    let r = result(&toml, &[]);
    let moves: Vec<_> = r
        .log
        .iter()
        .filter(|e| e.kind == "rebalance" && e.detail.contains("DNS answer changed"))
        .collect();
    assert_eq!(moves.len(), 2, "{moves:?}");
    assert!(
        moves[0].detail.starts_with("api-a: ") && moves[0].detail.contains("opened to api-b"),
        "{}",
        moves[0].detail
    );
    assert!(
        moves[1].detail.starts_with("api-b: ") && moves[1].detail.contains("opened to api-a"),
        "{}",
        moves[1].detail
    );
    let t = moves[0].time;
    assert!((300_000_000_000..=330_000_000_000).contains(&t), "{t}");
    let (_, closed) = waves(&r, "DNS answer changed");
    assert!(closed >= 4, "{closed} connections moved");
    let none = result(&toml, &["components.users.connections.rebalance=0.0"]);
    assert_eq!(waves(&none, "DNS answer changed"), (2, 0));
    // Each moved connection is a close and a handshake (and its answer) at the device.
    let total = |r: &RunResult| arrivals(r, "dev") as i64;
    assert!(
        total(&r) - total(&none) >= 2 * closed as i64,
        "{} against {} messages for {closed} moved",
        total(&r),
        total(&none)
    );
    let s = summarize(&r, 0.0);
    assert_eq!(s.clients["users"].errors + s.clients["users"].timeouts, 0);
}

/// A firewall's connection table (`connections` on `kind = "firewall"`, the network
/// devices' table): one-use connections arriving as a Poisson stream and held an exponential
/// time (as in `a_connection_table_blocks_as_erlang_b`, the firewall terminating them and
/// passing each request on to `api`) are refused as Erlang B predicts: c = 8, A = 6,
/// B = 0.1219; over an hour (21,600 connections) the standard error is about 0.003, the
/// tolerance 0.015 as there. Every refused handshake is a drop at the firewall, and its
/// `max_connections` (requests in flight, far above) refuses none.
#[test]
fn a_firewall_connection_table_blocks_as_erlang_b() {
    let (c, a) = (8u32, 6.0f64);
    let toml = format!(
        r#"{HEAD}duration = "1h"
bucket = "10m"
[components.users]
kind = "client"
rate = {a:?}
target = "fw"
timeout = "1h"
connections = {{ pool = 1000, idle_timeout = "1ns", max_lifetime = "1ns", connect_timeout = "1s" }}

[components.fw]
kind = "firewall"
next = "api"
workers = 1000
service_time = "1us"
max_connections = 100000
timeout = "1h"
connections = {{ table = {c}, setup = "1us" }}

[components.api]
kind = "service"
workers = 1000
service_time = {{ dist = "exponential", mean = "1s" }}
"#
    );
    let s = simulate(&toml, &[]);
    assert_erlang_b(&s, "fw", c, a, 18_000);
    // Without the table nothing is refused.
    let open = simulate(&toml, &["components.fw.connections.table=100000"]);
    assert_eq!(open.clients["users"].timeouts, 0);
}

/// The same bytes on one thread and on two, with pools and tables across two regions.
#[test]
fn pools_and_tables_give_the_same_bytes_on_any_thread_count() {
    let toml = format!(
        r#"{HEAD}duration = "5m"
bucket = "1m"
[components.users]
kind = "client"
region = "east"
segment = "a"
rate = 120.0
target = "api"
timeout = "300ms"
retry = {{ attempts = 3 }}
connections = {{ pool = 4, idle_timeout = "5s", max_lifetime = "20s", connect_timeout = "100ms" }}

[components.dev]
kind = "network"
region = "west"
replicas = 2
capacity = 2000.0
queue = 50
joins = ["a", "b"]
connections = {{ table = 1, setup = "2ms", idle_timeout = "30s" }}

[components.api]
kind = "service"
region = "west"
segment = "b"
replicas = 3
workers = 8
service_time = {{ dist = "exponential", mean = "20ms" }}
connections = {{ pool = 2 }}
calls = [{{ target = "db", timeout = "200ms" }}]

[components.db]
kind = "service"
region = "west"
segment = "b"
workers = 16
service_time = "5ms"

[[faults]]
name = "api crash"
kind = "crash"
target = "api"
replicas = [0]
at = "1m"
duration = "1m"

[[faults]]
name = "api reload"
kind = "config_change"
target = "api"
at = "3m"
set = {{ workers = 10 }}
"#
    );
    let spec = scenario::load(&toml, "t.toml", &[]).unwrap();
    let bytes = |threads| {
        let r = run(spec.clone(), &RunOptions::partitioned(threads), &mut |_| {}).unwrap();
        [
            outagesim::report::timeseries_csv(&r),
            outagesim::report::components_csv(&r),
            outagesim::report::events_csv(&r),
        ]
    };
    let one = bytes(1);
    assert_eq!(one, bytes(2));
    // The small table fills: refusals are logged.
    let events = String::from_utf8(one[2].clone()).unwrap();
    assert!(events.contains("conn_table_full"), "{events}");
    // The crash, the return and the reload reach the pooled users across the regions.
    for what in [
        "lost (replica down)",
        "back in service",
        "config change at the replica",
    ] {
        assert!(events.contains(what), "{what}: {events}");
    }
}

/// Bad pool and table settings: located errors with the value, exit code 2.
#[test]
fn bad_pool_and_table_settings_are_located_errors() {
    let dir = scratch("connections-bad");
    let cases = [
        (
            "connections = { pool = 0 }",
            "users",
            "connections.pool: must be at least 1, got 0",
        ),
        (
            "connections = { idle_timeout = \"0s\" }",
            "users",
            "connections.idle_timeout",
        ),
        (
            "connections = { connect_timeout = \"-1s\" }",
            "users",
            "connections.connect_timeout",
        ),
        (
            "connections = { table = 0 }",
            "dev",
            "connections.table: must be at least 1, got 0",
        ),
        ("connections = { setup = \"1ms\" }", "dev", "table"),
    ];
    for (i, (line, group, want)) in cases.iter().enumerate() {
        let (users, dev) = if *group == "users" {
            (*line, "")
        } else {
            ("", *line)
        };
        let toml = format!(
            "[scenario]\nname = \"bad\"\nduration = \"1m\"\n\n[components.users]\nkind = \"client\"\nsegment = \"a\"\nrate = 1.0\ntarget = \"api\"\n{users}\n\n[components.dev]\nkind = \"network\"\ncapacity = 100.0\njoins = [\"a\", \"b\"]\n{dev}\n\n[components.api]\nkind = \"service\"\nsegment = \"b\"\n"
        );
        let row = if *group == "users" { 10 } else { 16 };
        assert_refused(&dir, &format!("bad{i}.toml"), &toml, row, want);
    }
}
