//! Priorities, queue disciplines and shedding (`policy/queue.rs`): per-class mean waits
//! against the non-preemptive priority M/M/1 formula (Cobham), LIFO's mean wait against M/M/1's
//! and its longer tail, adaptive LIFO, CoDel and dropping abandoned requests under overload,
//! priority displacement and `shed_after`, the `shed` outputs, and the refusals of bad values.
//!
//! Seeds are fixed; each tolerance is stated with why it is enough.

use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, run};
use outagesim::scenario;

use crate::common::{outagesim, scratch, text};

fn simulate(toml: &str, sets: &[&str]) -> Summary {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let spec = scenario::load(toml, "test.toml", &sets).unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    summarize(&r, 0.0)
}

/// One client at `rate`/s calling a single-worker service (1 ms exponential service times)
/// directly, with no network latency: an M/M/1 queue; `api` holds extra settings.
fn mm1(rate: f64, timeout: &str, api: &str) -> String {
    format!(
        r#"
[scenario]
name = "mm1"
duration = "30m"
seed = 7
bucket = "1m"

[network]
same_zone = "0s"

[components.users]
kind = "client"
rate = {rate}
target = "api"
timeout = "{timeout}"

[components.api]
kind = "service"
workers = 1
queue = "unbounded"
service_time = {{ dist = "exponential", mean = "1ms" }}
{api}
"#
    )
}

/// Two client groups of priority 0 (`gold`, 300/s) and 1 (`bronze`, 500/s) through a load
/// balancer (50 µs, no queueing) to a single-worker service that serves by priority.
fn two_classes(api: &str) -> String {
    format!(
        r#"
[scenario]
name = "priorities"
duration = "30m"
seed = 7
bucket = "1m"

[network]
same_zone = "0s"

[components.gold]
kind = "client"
rate = 300
target = "lb"
timeout = "1h"
priority = 0

[components.bronze]
kind = "client"
rate = 500
target = "lb"
timeout = "1h"
priority = 1

[components.lb]
kind = "load_balancer"
backends = "api"

[components.api]
kind = "service"
workers = 1
by_priority = true
service_time = {{ dist = "exponential", mean = "1ms" }}
{api}
"#
    )
}

#[test]
fn priority_classes_wait_as_cobhams_formula_says() {
    // Non-preemptive priority M/M/1: W_k = W0 / ((1 - s_{k-1})(1 - s_k)), W0 = sum λ_i E[S_i²]/2.
    // λ1 = 300/s, λ2 = 500/s, E[S] = 1 ms, E[S²] = 2 ms²: W0 = 0.8 ms, s1 = 0.3, s2 = 0.8, so
    // W1 = 0.8/0.7 = 1.143 ms and W2 = 0.8/(0.7 x 0.2) = 5.714 ms. The class travels through
    // the load balancer (its source group's priority): the service sees it on the balancer's
    // calls. A user's latency is its wait plus 1 ms of service plus the balancer's 50 µs.
    //
    // 30 minutes give 540 k gold and 900 k bronze requests. The standard error of a class's
    // mean wait at this load is about 1% for bronze and under 1% for gold (batch means of the
    // per-minute series spread by about 5% for bronze: 5%/sqrt(30)); ±4% is 4 sigma, while
    // serving FIFO (both 4 ms) or the wrong order misses by 70% or more.
    let s = simulate(&two_classes("queue = \"unbounded\""), &[]);
    let w0: f64 = 800.0 * 2e-6 / 2.0;
    let expect = [w0 / 0.7, w0 / (0.7 * 0.2)];
    for (name, want) in ["gold", "bronze"].iter().zip(expect) {
        let c = &s.clients[*name];
        let got = c.latency_s.as_ref().unwrap().mean - 1e-3 - 50e-6;
        assert!(
            (got - want).abs() / want < 0.04,
            "{name}: W = {got}, Cobham's {want}"
        );
        assert_eq!((c.errors, c.timeouts, c.shed), (0, 0, 0), "{name}");
    }
    // Conservation: the mean wait over both classes is M/M/1's FIFO 4 ms (within 4%).
    let wq = s.components["api"].mean_wait_s;
    assert!((wq - 0.004).abs() / 0.004 < 0.04, "Wq = {wq}");
}

#[test]
fn a_full_queue_sheds_the_less_important_class_first() {
    // 1200/s offered to 1000/s of service with 20 waiting places: the overload falls on
    // bronze. An arriving gold request displaces the newest bronze one, which gets an overload
    // answer at once (shed), so gold is never refused while bronze is waiting.
    let s = simulate(
        &two_classes("queue = 20"),
        &["components.gold.rate=500", "components.bronze.rate=700"],
    );
    let (gold, bronze, api) = (
        &s.clients["gold"],
        &s.clients["bronze"],
        &s.components["api"],
    );
    assert!(gold.availability > 0.999, "gold {}", gold.availability);
    assert!(bronze.shed > 10_000, "bronze shed {}", bronze.shed);
    // About a sixth of all requests cannot be served (200 of 1200/s), nearly all bronze.
    assert!(bronze.availability < 0.8, "bronze {}", bronze.availability);
    // Displaced requests count as shed at the service and reach bronze's users as shed; the
    // ones refused on arrival (bronze meeting a queue full of gold... or of bronze) as errors.
    assert_eq!(api.shed, bronze.shed + gold.shed);
    assert_eq!(gold.shed, 0);
}

#[test]
fn lifo_keeps_the_fifo_mean_wait_and_lengthens_the_tail() {
    // M/M/1 at ρ = 0.8: the mean queue wait ρ/(μ - λ) = 4 ms does not depend on the order of
    // service (any work-conserving order that ignores service times), but the spread does:
    // FIFO's p99 response time is ln(100)/(μ - λ) = 23 ms; LIFO's is much longer (its wait's
    // variance is FIFO's divided by 1 - ρ). Tolerance ±5% on the mean: 1.44 M customers give
    // a standard error near 1%.
    let fifo = simulate(&mm1(800.0, "1h", ""), &[]);
    let lifo = simulate(&mm1(800.0, "1h", "discipline = \"lifo\""), &[]);
    for s in [&fifo, &lifo] {
        let wq = s.components["api"].mean_wait_s;
        assert!((wq - 0.004).abs() / 0.004 < 0.05, "Wq = {wq}");
    }
    let p99 = |s: &Summary| s.clients["users"].latency_s.as_ref().unwrap().p99;
    // FIFO's p99 within the histogram's 3% bin and 5% of sampling.
    assert!(
        (p99(&fifo) - 0.0240).abs() / 0.0240 < 0.08,
        "{}",
        p99(&fifo)
    );
    assert!(
        p99(&lifo) > 2.0 * p99(&fifo),
        "LIFO p99 {} vs FIFO {}",
        p99(&lifo),
        p99(&fifo)
    );
}

#[test]
fn under_overload_lifo_codel_and_dropping_abandoned_requests_keep_serving() {
    // 1100/s offered to 1000/s with users giving up after 100 ms: under FIFO the queue grows
    // without bound and almost every request is served after its user left. Adaptive LIFO
    // serves the newest first once 10 wait: about 1000 of 1100/s get a fresh answer. CoDel
    // sheds about the excess and keeps the wait bounded; dropping abandoned requests spends no
    // work on them.
    let base = |api: &str| simulate(&mm1(1100.0, "100ms", api), &[]);
    let fifo = base("");
    let adaptive = base("discipline = \"adaptive_lifo\"\nlifo_threshold = 10");
    let codel = base("discipline = \"codel\"\ncodel_target = \"5ms\"\ncodel_interval = \"100ms\"");
    let abandoned = base("drop_abandoned = true");
    let avail = |s: &Summary| s.clients["users"].availability;
    assert!(avail(&fifo) < 0.05, "fifo {}", avail(&fifo));
    assert!(
        avail(&adaptive) > 0.85,
        "adaptive LIFO {}",
        avail(&adaptive)
    );
    assert!(avail(&codel) > 0.6, "CoDel {}", avail(&codel));
    assert!(
        avail(&abandoned) > 0.8,
        "drop_abandoned {}",
        avail(&abandoned)
    );
    // CoDel sheds with overload answers, about the excess (100 of 1100/s), and its mean wait
    // stays under the users' patience while FIFO's grows to many seconds.
    let c = &codel.components["api"];
    let share = c.shed as f64 / c.arrivals as f64;
    assert!((0.07..0.15).contains(&share), "CoDel shed share {share}");
    assert!(c.mean_wait_s < 0.1, "CoDel wait {}", c.mean_wait_s);
    assert!(fifo.components["api"].mean_wait_s > 10.0);
    assert!(codel.clients["users"].shed > 0);
    // Abandoned requests are dropped unanswered: shed at the service, timeouts for users.
    let a = &abandoned.components["api"];
    assert!(a.shed > 100_000, "{}", a.shed);
    assert_eq!(abandoned.clients["users"].shed, 0);
    assert_eq!(fifo.components["api"].shed, 0);
}

#[test]
fn shed_after_bounds_the_wait_with_fast_overload_answers() {
    // At 1200/s against 1000/s, nobody waits past 20 ms: the excess gets overload answers
    // (shed), fast, and the rest is served; every served request waited under 20 ms.
    let s = simulate(&mm1(1200.0, "1h", "shed_after = \"20ms\""), &[]);
    let (u, api) = (&s.clients["users"], &s.components["api"]);
    assert!(u.shed > 100_000, "shed {}", u.shed);
    assert_eq!(u.shed, api.shed);
    assert_eq!(u.timeouts, 0);
    assert!(api.mean_wait_s < 0.020, "wait {}", api.mean_wait_s);
    // Served requests' latency: wait under 20 ms plus service; p99 well under 40 ms.
    assert!(u.latency_s.as_ref().unwrap().p99 < 0.04);
    let share = u.shed as f64 / u.requests as f64;
    assert!((0.12..0.25).contains(&share), "shed share {share}");
}

#[test]
fn shed_requests_are_a_column_and_a_line_of_their_own() {
    let dir = scratch("queueing-shed-outputs");
    let file = dir.join("shed.toml");
    std::fs::write(&file, mm1(1200.0, "1h", "shed_after = \"20ms\"")).unwrap();
    let out = outagesim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
        "--threads",
        "1",
        "--no-plots",
        "--set",
        "scenario.duration=2m",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("shed: ")
            && stdout.contains("waiting requests (api ")
            && stdout.contains("overload answers (users "),
        "{stdout}"
    );
    for (csv, col) in [("timeseries.csv", "shed"), ("components.csv", "shed")] {
        let body = std::fs::read_to_string(dir.join("out").join(csv)).unwrap();
        let mut lines = body.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let i = header.iter().position(|h| *h == col).expect(csv);
        let total: u64 = lines
            .map(|l| l.split(',').nth(i).unwrap().parse::<u64>().unwrap())
            .sum();
        assert!(total > 1000, "{csv}: {total}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/summary.json")).unwrap())
            .unwrap();
    assert!(summary["clients"]["users"]["shed"].as_u64().unwrap() > 1000);
    assert!(summary["components"]["api"]["shed"].as_u64().unwrap() > 1000);
}

#[test]
fn the_same_seed_gives_the_same_bytes_on_one_and_two_threads() {
    let toml = two_classes("queue = 20\ndiscipline = \"codel\"\nshed_after = \"30ms\"");
    let sets = ["components.bronze.rate=800", "scenario.duration=2m"];
    let a = simulate(&toml, &sets);
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let spec = scenario::load(&toml, "test.toml", &sets).unwrap();
    let r = run(spec, &RunOptions::partitioned(2), &mut |_| {}).unwrap();
    let b = summarize(&r, 0.0);
    assert_eq!(
        serde_json::to_string(&a.clients).unwrap(),
        serde_json::to_string(&b.clients).unwrap()
    );
    assert_eq!(
        serde_json::to_string(&a.components).unwrap(),
        serde_json::to_string(&b.components).unwrap()
    );
    assert!(a.components["api"].shed > 0);
}

#[test]
fn bad_queue_settings_are_located_errors_with_exit_code_2() {
    let dir = scratch("queueing-bad-input");
    for (name, api, client, line, bad, hint) in [
        (
            "codel-target",
            "discipline = \"codel\"\ncodel_target = \"0s\"",
            "",
            "components.api.codel_target",
            "\"0s\"",
            "CoDel needs a target delay and an interval greater than 0",
        ),
        (
            "codel-interval",
            "discipline = \"codel\"\ncodel_interval = \"0ms\"",
            "",
            "components.api.codel_interval",
            "\"0ms\"",
            "CoDel needs",
        ),
        (
            "lifo-threshold",
            "discipline = \"adaptive_lifo\"\nlifo_threshold = 0",
            "",
            "components.api.lifo_threshold",
            "must be at least 1, got 0",
            "a threshold of 0 would be plain LIFO",
        ),
        (
            "priority",
            "",
            "priority = 8",
            "components.users.priority",
            "must be at most 7, got 8",
            "priority classes go from 0 (the most important, the default) to 7",
        ),
        (
            "discipline",
            "discipline = \"lifi\"",
            "",
            "components.api.discipline",
            "unknown queue discipline 'lifi'",
            "did you mean 'lifo'?",
        ),
    ] {
        let toml = mm1(100.0, "1s", api).replace(
            "timeout = \"1s\"\n",
            &format!("timeout = \"1s\"\n{client}\n"),
        );
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, &toml).unwrap();
        let out = outagesim(&["validate", file.to_str().unwrap()]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        // Located: file:line:col of the bad value.
        let key = line.rsplit('.').next().unwrap();
        let row = toml.lines().position(|l| l.starts_with(key)).unwrap() + 1;
        assert!(
            err.contains(&format!("{name}.toml:{row}:")),
            "{name}: expected line {row}: {err}"
        );
        assert!(err.contains(line), "{name}: {err}");
        assert!(err.contains(bad), "{name}: {err}");
        assert!(err.contains(hint), "{name}: {err}");
    }
}

#[test]
fn adaptive_lifo_or_codel_at_the_service_end_the_retry_storm() {
    // The shipped metastable retry storm (immediate retries, 5 attempts, down from minute 10
    // to the end) with its what-ifs: the retries unchanged, only the service's discipline.
    // Measured: adaptive LIFO 60 s below the SLO, CoDel 120 s; the baseline 3000 s.
    let text = include_str!("../../scenarios/retry-storm-metastable.toml");
    let base = simulate(text, &[]);
    assert!(base.clients["users"].downtime_s >= 49.0 * 60.0);
    for (discipline, most) in [("adaptive_lifo", 3.0), ("codel", 4.0)] {
        let set = format!("components.api.discipline=\"{discipline}\"");
        let s = simulate(text, &[&set]);
        let u = &s.clients["users"];
        assert!(u.downtime_s <= most * 60.0, "{discipline}: {u:?}");
        assert!(u.time_to_recover_s.is_some(), "{discipline}: {u:?}");
        assert!(u.availability > 0.99, "{discipline}: {u:?}");
    }
}
