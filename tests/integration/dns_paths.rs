//! DNS paths and caches, and returning load: the `reroute` action (a group's lookups move to
//! another resolver fleet, on another network path), callers' answer caches (`client_cache`
//! on a resolver), and caches that come back cold after a restart and warm by their misses
//! (`keys` on a cache), each against what it must do or a closed form.

use crate::common::{outagesim, scratch, text};
use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, RunResult, Series, run};
use outagesim::scenario;

fn run_text(toml: &str, sets: &[&str]) -> RunResult {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let spec = scenario::load(toml, "test.toml", &sets).unwrap_or_else(|e| panic!("{e}"));
    run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap()
}

fn simulate(toml: &str, sets: &[&str]) -> Summary {
    summarize(&run_text(toml, sets), 0.0)
}

/// Per-bucket arrivals of a server group.
fn arrivals(r: &RunResult, group: &str) -> Vec<u64> {
    let g = r.groups.iter().find(|g| g.name == group).expect("group");
    match &g.series {
        Series::Server(s) => s.iter().map(|b| b.arrivals).collect(),
        Series::Client(_) => panic!("{group} is a client"),
    }
}

/// Per-bucket availability of a client group (successes over finished requests).
fn availability(r: &RunResult, group: &str) -> Vec<f64> {
    let g = r.groups.iter().find(|g| g.name == group).expect("group");
    match &g.series {
        Series::Client(s) => s
            .iter()
            .map(|b| {
                let done = b.successes + b.degraded + b.errors + b.timeouts + b.throttled;
                (b.successes + b.degraded) as f64 / done.max(1) as f64
            })
            .collect(),
        Series::Server(_) => panic!("{group} is a server"),
    }
}

/// Checks `ok` on each value of a per-minute series slice that starts at minute `from`.
fn each(v: &[f64], from: usize, ok: impl Fn(f64) -> bool, what: &str) {
    for (i, &x) in v.iter().enumerate() {
        assert!(ok(x), "{what}: minute {}: {x}", from + i);
    }
}

/// Users look `api.internal` up through `res-a`, which sits behind the network device `link`
/// (segment "inner"); `res-b`, in the users' own segment, asks the same dns.
const PATHS: &str = r#"
[scenario]
name = "dns-paths"
duration = "30m"
seed = 5
bucket = "1m"

[components.users]
kind = "client"
segment = "edge"
rate = 20.0
target = "api.internal"
resolver = "res-a"
timeout = "2s"

[components.res-a]
kind = "resolver"
segment = "inner"
dns = "dns"

[components.res-b]
kind = "resolver"
segment = "edge"
dns = "dns"

[components.dns]
kind = "dns"
segment = "edge"
records = [{ name = "api.internal", ttl = "30s", targets = ["api"] }]

[components.api]
kind = "service"
segment = "edge"

[components.link]
kind = "network"
joins = ["edge", "inner"]
capacity = 100000.0

[[faults]]
name = "link down"
kind = "crash"
target = "link"
at = "5m"
"#;

const REROUTE: &str = r#"
[[actions]]
name = "dns moved"
kind = "reroute"
target = "users"
from = "res-a"
to = "res-b"
at = "10m"
"#;

#[test]
fn a_reroute_moves_lookups_onto_another_path() {
    let stuck = run_text(PATHS, &[]);
    let moved = run_text(&format!("{PATHS}{REROUTE}"), &[]);
    // Without the action the users stay down from the link's crash to the end; with it they
    // are back from the bucket after 10m.
    let (a, b) = (availability(&stuck, "users"), availability(&moved, "users"));
    each(&a[..5], 0, |x| x > 0.99, "stuck, before the crash");
    each(&b[..5], 0, |x| x > 0.99, "moved, before the crash");
    each(&a[6..30], 6, |x| x < 0.01, "stuck");
    each(&b[6..10], 6, |x| x < 0.01, "before the move");
    each(&b[11..30], 11, |x| x > 0.99, "after the move");
    // The lookups went to res-a before 10m and to res-b after, never the other way.
    let (ra, rb) = (arrivals(&moved, "res-a"), arrivals(&moved, "res-b"));
    assert!(ra[..5].iter().all(|&n| n > 1000), "{ra:?}");
    assert!(ra[10..].iter().all(|&n| n == 0), "{ra:?}");
    assert!(rb[..10].iter().all(|&n| n == 0), "{rb:?}");
    assert!(rb[11..].iter().all(|&n| n > 1000), "{rb:?}");
    let act: Vec<_> = moved.log.iter().filter(|e| e.kind == "action").collect();
    assert_eq!(act.len(), 1);
    assert_eq!(act[0].time, 600_000_000_000);
    assert!(act[0].detail.contains("reroute"), "{:?}", act[0]);
    // The same run on two threads is the same run.
    let spec = scenario::load(&format!("{PATHS}{REROUTE}"), "t.toml", &[]).unwrap();
    let two = run(spec, &RunOptions::partitioned(2), &mut |_| {}).unwrap();
    assert_eq!(two.groups, moved.groups);
}

#[test]
fn a_reroute_on_an_alarm_follows_the_operators_response() {
    let alarm = r#"
[components.noc]
kind = "monitor"
segment = "edge"

[[alarms]]
name = "users-down"
group = "users"
metric = "availability"
below = 0.9
for = "1m"

[[actions]]
name = "dns moved"
kind = "reroute"
target = "users"
from = "res-a"
to = "res-b"
on = "users-down"
delay = "3m"
"#;
    let r = run_text(&format!("{PATHS}{alarm}"), &[]);
    let fired = r
        .log
        .iter()
        .find(|e| e.kind == "alarm")
        .expect("the alarm fires");
    let acted = r
        .log
        .iter()
        .find(|e| e.kind == "action")
        .expect("the action runs");
    assert_eq!(acted.time - fired.time, 180_000_000_000);
    let b = availability(&r, "users");
    let back = (acted.time / 60_000_000_000) as usize + 1;
    assert!(back < 15, "acted at {}", acted.time);
    for (m, v) in b.iter().enumerate().skip(back) {
        assert!(*v > 0.99, "minute {m}: {v}");
    }
}

#[test]
fn bad_reroutes_are_located_errors() {
    let dir = scratch("dns-paths-bad");
    let cases = [
        // from names a group of the wrong kind.
        (
            "target = \"users\"\nfrom = \"dns\"\nto = \"res-b\"",
            "actions.0.from",
            "'dns' is a dns, not a resolver",
            "resolvers: res-a, res-b, res-x",
        ),
        // to names a path that does not exist.
        (
            "target = \"users\"\nfrom = \"res-a\"\nto = \"res-c\"",
            "actions.0.to",
            "unknown component 'res-c'",
            "did you mean 'res-a'",
        ),
        // to asks another dns: the names would not resolve the same.
        (
            "target = \"users\"\nfrom = \"res-a\"\nto = \"res-x\"",
            "actions.0.to",
            "resolver 'res-x' asks 'dns-x', and 'res-a' asks 'dns'",
            "dns = \"dns\"",
        ),
        // the target looks nothing up through from.
        (
            "target = \"users\"\nfrom = \"res-b\"\nto = \"res-a\"",
            "actions.0.from",
            "'users' looks no name up through 'res-b'",
            "'users' looks names up through res-a",
        ),
        (
            "target = \"users\"\nfrom = \"res-a\"\nto = \"res-a\"",
            "actions.0.to",
            "'res-a' is also `from`",
            "",
        ),
        // res-b cannot be reached from the users' segment without a device.
        (
            "target = \"users\"\nfrom = \"res-a\"\nto = \"res-b\"",
            "actions.0.to",
            "traffic from 'users' (segment 'edge') to 'res-b' (segment 'island') crosses segments, but no network component joins them",
            "joins = [\"edge\", \"island\"]",
        ),
    ];
    let extra = "\n[components.res-x]\nkind = \"resolver\"\nsegment = \"edge\"\ndns = \"dns-x\"\n\n[components.dns-x]\nkind = \"dns\"\nsegment = \"edge\"\nrecords = [{ name = \"api.internal\", targets = [\"api\"] }]\n";
    for (i, (fields, path, message, hint)) in cases.iter().enumerate() {
        let mut body = format!(
            "{}{extra}\n[[actions]]\nkind = \"reroute\"\n{fields}\nat = \"10m\"\n",
            PATHS
        );
        if i == 5 {
            // res-b moves to a segment no device joins to the users'.
            body = body.replacen(
                "[components.res-b]\nkind = \"resolver\"\nsegment = \"edge\"",
                "[components.res-b]\nkind = \"resolver\"\nsegment = \"island\"",
                1,
            );
        }
        let file = dir.join(format!("bad-{i}.toml"));
        std::fs::write(&file, &body).unwrap();
        let o = outagesim(&["validate", file.to_str().unwrap()]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "case {i}: {err}");
        let line = body
            .lines()
            .position(|l| l.starts_with(path.rsplit('.').next().unwrap()))
            .map(|n| n + 1);
        let want = format!("{}:{}:", file.display(), line.unwrap());
        assert!(err.contains(&want), "case {i}: wants {want} in {err}");
        assert!(err.contains(path), "case {i}: {err}");
        assert!(err.contains(message), "case {i}: {err}");
        assert!(err.contains(hint), "case {i}: {err}");
        assert!(!err.contains("panicked"), "case {i}: {err}");
    }
}

/// One user group calling `api.internal` through `res`, without network latency, and with
/// fixed service times, so a lookup's round trip is known.
fn cached(rate: f64, client: &str) -> String {
    format!(
        r#"
[scenario]
name = "client-cache"
duration = "1h"
seed = 11
bucket = "1m"

[network]
same_zone = "0s"

[components.users]
kind = "client"
rate = {rate}
target = "api.internal"
resolver = "res"
timeout = "2s"

[components.res]
kind = "resolver"
dns = "dns"
service_time = {{ dist = "constant", value = "1ms" }}
{client}

[components.dns]
kind = "dns"
service_time = {{ dist = "constant", value = "1ms" }}
records = [{{ name = "api.internal", ttl = "30s", targets = ["api"] }}]

[components.api]
kind = "service"
"#
    )
}

#[test]
fn a_client_cache_looks_up_once_a_ttl() {
    // Without a cache every call is a lookup.
    let s = simulate(&cached(20.0, ""), &[]);
    let calls = s.clients["users"].attempts;
    assert_eq!(s.components["res"].arrivals, calls);
    // With one: a call after the kept answer expired looks the name up (the next call comes
    // Exp(λ) after the expiry, 1/λ = 50 ms on average), the answer is back a round trip R
    // later (1 to 2 ms: the resolver's service time, and the dns's when the resolver's copy
    // has expired too), and calls in that round trip look up too: each cycle of
    // TTL + 1/λ + R makes 1 + λR lookups. Over T = 3600 s with TTL = 30 s that is
    // 3600 / 30.05 x (1.02..1.04) = 122..125 lookups; the cycles' count barely varies (the
    // TTL is fixed), so 3% plus a few is several standard deviations.
    let expect =
        |ttl: f64, lambda: f64, r: f64| 3600.0 / (ttl + 1.0 / lambda + r) * (1.0 + lambda * r);
    for (client, ttl) in [
        ("client_cache = true", 30.0),
        ("client_cache = true\nclient_ttl = \"10s\"", 10.0),
    ] {
        let s = simulate(&cached(20.0, client), &[]);
        let looked = s.components["res"].arrivals as f64;
        let (lo, hi) = (expect(ttl, 20.0, 0.001), expect(ttl, 20.0, 0.002));
        assert!(
            looked >= lo * 0.97 - 3.0 && looked <= hi * 1.03 + 3.0,
            "{client}: {looked} lookups, expected {lo:.1}..{hi:.1}"
        );
        // Every call still succeeds, and the service gets them all.
        assert_eq!(s.clients["users"].successes, s.clients["users"].requests);
    }
}

#[test]
fn kept_answers_carry_calls_through_a_dns_outage_until_they_expire() {
    let outage = r#"
[[faults]]
name = "dns down"
kind = "crash"
target = "dns"
at = "10m"
duration = "15m"
"#;
    // The resolver keeps answers 30 s; callers keep them 5 minutes.
    let plain = run_text(&format!("{}{outage}", cached(20.0, "")), &[]);
    let kept = run_text(
        &format!(
            "{}{outage}",
            cached(20.0, "client_cache = true\nclient_ttl = \"5m\"")
        ),
        &[],
    );
    let (p, k) = (availability(&plain, "users"), availability(&kept, "users"));
    // Without caching at the callers, calls fail from the minute after the resolver's copy
    // expires until the dns is back at 25m.
    each(&p[11..25], 11, |x| x < 0.01, "plain");
    // With it, the answer kept before 10m carries every call to somewhere in (10m, 15m]...
    each(&k[0..10], 0, |x| x > 0.999, "kept");
    // ...then calls fail: the kept answer expired during the outage.
    each(&k[15..25], 15, |x| x < 0.01, "kept");
    let failing = k
        .iter()
        .position(|&v| v < 0.99)
        .expect("it fails at some point");
    assert!(
        (10..15).contains(&failing),
        "first failing minute {failing}: {k:?}"
    );
    each(&p[26..], 26, |x| x > 0.99, "plain, after the outage");
    each(&k[26..], 26, |x| x > 0.99, "kept, after the outage");
}

/// A cache over `keys` items read uniformly at 200 reads/s, restarted at 10m (back at 10m1s),
/// with a bucket of one second.
fn warming(keys: u32) -> String {
    format!(
        r#"
[scenario]
name = "warming"
duration = "12m"
seed = 3
bucket = "1s"

[network]
same_zone = "0s"

[components.users]
kind = "client"
rate = 200.0
target = "cache"
timeout = "5s"

[components.cache]
kind = "cache"
backend = "db"
hit_ratio = 1.0
ttl = "1000h"
keys = {keys}
service_time = {{ dist = "constant", value = "100us" }}
workers = 64

[components.db]
kind = "service"
workers = 64
service_time = {{ dist = "constant", value = "2ms" }}

[[actions]]
name = "restart the cache"
kind = "restart"
target = "cache"
cold_start = "1s"
at = "10m"
"#
    )
}

#[test]
fn a_restarted_cache_warms_by_its_misses_as_the_closed_form_says() {
    let k = 2000u32;
    let r = run_text(&warming(k), &[]);
    let (reads, misses) = (arrivals(&r, "cache"), arrivals(&r, "db"));
    // Warm before the restart: every item started filled, and stays fresh (expiries are
    // spread over the 1000 h ttl, so about 0.02% of the items expire in the first 10 m).
    let before: u64 = misses[..600].iter().sum();
    assert!(before <= 5, "{before}");
    // From 10m1s the cache is back empty. With reads uniform over K items, after n reads
    // the expected share of items filled is 1 - q^n (q = 1 - 1/K), so the expected misses
    // among reads n1..n2 are K (q^n1 - q^n2). Compared over windows of 10 s (2,000 reads):
    // the misses in a window are a sum of nearly independent Bernoulli draws, so their
    // standard deviation is under sqrt(expected) ~ 40 at most; the tolerance is 4 standard
    // deviations plus 1% of the reads for misses of an item already in flight (a 2 ms fetch
    // at 200 reads/s over 2,000 items: 0.02%).
    let q = 1.0 - 1.0 / f64::from(k);
    let start = 601; // the bucket in which the cache is back
    let mut n = 0.0f64;
    let mut checked = 0;
    for w in 0..9 {
        let (b0, b1) = (start + 1 + 10 * w, start + 11 + 10 * w);
        // Reads that reached the cache before the window, counted from the restart.
        if w == 0 {
            n = reads[start] as f64;
        }
        let got: u64 = misses[b0..b1].iter().sum();
        let read: u64 = reads[b0..b1].iter().sum();
        let want = f64::from(k) * (q.powf(n) - q.powf(n + read as f64));
        let tol = 4.0 * want.sqrt().max(1.0) + 0.01 * read as f64;
        assert!(
            (got as f64 - want).abs() <= tol,
            "window {w}: {got} misses of {read} reads, expected {want:.1} +- {tol:.1}"
        );
        // The hit ratio rises with the share of the items fetched.
        n += read as f64;
        checked += 1;
    }
    assert_eq!(checked, 9);
    // 90 s after the restart (about 18,000 reads, 9 K), nearly every item is in again.
    let late: u64 = misses[start + 90..start + 100].iter().sum();
    assert!(late < 20, "{late}");
    // Without `keys`, the first right answer warms the whole cache at once: no warming curve.
    let whole = run_text(&warming(k).replace("keys = 2000\n", ""), &[]);
    let m = arrivals(&whole, "db");
    let after: u64 = m[start + 1..start + 100].iter().sum();
    assert!(after < 10, "{after}");
}

#[test]
fn keys_are_checked() {
    let dir = scratch("dns-paths-keys");
    for (value, message) in [("0", "must be at least 1"), ("2000000", "at most 1000000")] {
        let body = warming(10).replace("keys = 10", &format!("keys = {value}"));
        let file = dir.join(format!("keys-{value}.toml"));
        std::fs::write(&file, &body).unwrap();
        let o = outagesim(&["validate", file.to_str().unwrap()]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("components.cache.keys"), "{err}");
        assert!(err.contains(message), "{err}");
    }
}

#[test]
fn dynamodb_2025_caches_clear_when_the_negative_ttl_says() {
    // The shipped replay's "resolver caches have expired" milestone (published 02:40) is
    // matched to when DynamoDB's customers are back above the SLO: the run derives it from
    // the resolvers' negative caching (15 minutes), not from a typed time. Thinned as in the
    // scenario tests (DWFM plays no part in it).
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/dynamodb-2025-dns.toml"
    ))
    .unwrap();
    let thin = [
        "components.dynamodb-customers.rate=2",
        "components.aws-service-users.rate=1",
        "components.droplet-leases.rate=2",
        "components.ec2-launches.rate=4.5",
        "components.dwfm.replicas=2",
    ];
    let back = |extra: &[&str]| {
        let mut sets = thin.to_vec();
        sets.extend_from_slice(extra);
        let s = simulate(&text, &sets);
        s.incident.impact_s.unwrap() + s.clients["dynamodb-customers"].time_to_recover_s.unwrap()
    };
    let repair = 10_500.0; // 02:25
    // Each resolver cached the empty answer first at about 23:49 (when its right answer's
    // 60 s ran out) and asked again every 15 minutes: the last empty answer expires at
    // 23:49 + 11 x 15 m = 02:34, as the file's header says.
    let negative = back(&[]);
    assert!(
        (repair + 480.0..=repair + 600.0).contains(&negative),
        "{negative}"
    );
    // With empty answers cached like right ones (60 s), the customers are back within two
    // minutes of the repair: the 02:34 comes from negative caching.
    let plain = back(&["components.resolver.negative_ttl=\"60s\""]);
    assert!((repair..=repair + 120.0).contains(&plain), "{plain}");
}

#[test]
fn the_returning_load_is_reported_as_a_peak_against_the_baseline() {
    // No herd: users without retries, a service down 5 minutes. After it is back the load is
    // the users' Poisson 100/s: the busiest of 10 one-minute buckets (6,000 arrivals each,
    // a standard deviation of 1.3%) stays within 5% of the baseline.
    let calm = r#"
[scenario]
name = "calm"
duration = "30m"
seed = 9
bucket = "1m"

[components.users]
kind = "client"
rate = 100.0
target = "api"
timeout = "1s"

[components.api]
kind = "service"
replicas = 2

[[faults]]
name = "api down"
kind = "crash"
target = "api"
at = "10m"
duration = "5m"
"#;
    let s = simulate(calm, &[]);
    let p = s.components["api"]
        .return_peak
        .as_ref()
        .expect("a fault ended");
    assert!((900.0..=1440.0).contains(&p.at_s), "{p:?}");
    assert!((p.baseline_per_s - 100.0).abs() < 2.0, "{p:?}");
    assert!((1.0..1.05).contains(&p.ratio.unwrap()), "{p:?}");
    // The same numbers are the series': the busiest bucket in the window, over the mean
    // before the fault.
    let r = run_text(calm, &[]);
    let a = arrivals(&r, "api");
    let peak = *a[15..25].iter().max().unwrap() as f64 / 60.0;
    let base = a[..10].iter().sum::<u64>() as f64 / 600.0;
    assert_eq!((p.per_s, p.baseline_per_s), (peak, base));
    // Without a fault that ended there is no return to report.
    let s = simulate(&calm.replace("duration = \"5m\"\n", ""), &[]);
    assert_eq!(s.components["api"].return_peak, None);

    // A herd: in the DynamoDB replay, DynamoDB's callers come back together when the
    // resolvers' cached empty answers expire (02:34), after the record's repair at 02:25:
    // the queued and retried work of the customers, the AWS services and DWFM.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/dynamodb-2025-dns.toml"
    ))
    .unwrap();
    let s = simulate(&text, &[]);
    let p = s.components["dynamodb"].return_peak.as_ref().unwrap();
    assert!((10_500.0..=11_400.0).contains(&p.at_s), "{p:?}");
    assert!(p.ratio.unwrap() > 1.3, "{p:?}");
    let p = s.components["resolver"].return_peak.as_ref().unwrap();
    assert!(p.ratio.unwrap() > 2.0, "{p:?}");
}
