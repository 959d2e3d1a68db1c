//! Autoscaling by target tracking: a monitor tracks a group's utilization from its reports and
//! keeps n x utilization / target replicas in service, within min and max, after a cooldown;
//! new replicas come up after their provisioning time and the load balancer registers them.

use outagesim::model::node::LogEntry;
use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, RunResult, run};
use outagesim::scenario;

use crate::common::{outagesim, scratch, text};

/// 100 requests/s of 50 ms (5 busy workers) on replicas of 4 workers; a 3x surge from 10m to
/// 30m (15 busy workers). `scaler` is the autoscaler's extra settings.
fn scenario_text(scaler: &str) -> String {
    format!(
        r#"
[scenario]
name = "autoscale"
duration = "1h"
seed = 5
bucket = "1m"

[components.users]
kind = "client"
rate = 100.0
target = "lb"
timeout = "2s"

[components.lb]
kind = "load_balancer"
backends = "api"
health_check = {{ kind = "shallow", interval = "5s", timeout = "1s", unhealthy = 2, healthy = 2 }}
timeout = "2s"

[components.api]
kind = "service"
replicas = 2
standby = 8
workers = 4
queue = 50
service_time = {{ dist = "exponential", mean = "50ms" }}

[components.ops]
kind = "monitor"
period = "10s"

[[faults]]
name = "surge"
kind = "traffic_surge"
target = "users"
at = "10m"
duration = "20m"
multiplier = 3.0
{scaler}
"#
    )
}

fn with(extra: &str) -> String {
    scenario_text(&format!(
        "\n[[autoscalers]]\ngroup = \"api\"\nmetric = \"utilization\"\ntarget = 0.6\nmax = 10\nperiod = \"1m\"\ncooldown = \"3m\"\nprovision = \"2m\"\n{extra}"
    ))
}

fn simulate(text: &str) -> (Summary, RunResult) {
    let spec = scenario::load(text, "autoscale.toml", &[]).unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap();
    (summarize(&r, 0.0), r)
}

/// (time in s, replicas in service after) of every scaling activity.
fn scalings(log: &[LogEntry]) -> Vec<(f64, u32)> {
    log.iter()
        .filter(|e| e.kind == "scale_out" || e.kind == "scale_in")
        .map(|e| {
            let to = e.detail.split("-> ").nth(1).unwrap();
            let n: u32 = to.split(' ').next().unwrap().parse().unwrap();
            (e.time as f64 / 1e9, n)
        })
        .collect()
}

#[test]
fn target_tracking_settles_where_utilization_meets_the_target() {
    let (s, r) = simulate(&with(""));
    let steps = scalings(&r.log);
    // 5 busy workers want ceil(5 / (4 x 0.6)) = 3 replicas, 15 want ceil(15 / 2.4) = 7: the
    // count before the surge, at its height and after it.
    let at = |t: f64| steps.iter().rfind(|(x, _)| *x <= t).map_or(2, |(_, n)| *n);
    assert_eq!(at(9.0 * 60.0), 3, "{steps:?}");
    assert_eq!(at(29.0 * 60.0), 7, "{steps:?}");
    assert_eq!(at(3600.0), 3, "{steps:?}");
    // Never more than max, and a cooldown of 3 minutes between activities.
    assert!(steps.iter().all(|(_, n)| (1..=10).contains(n)));
    assert!(
        steps.windows(2).all(|p| p[1].0 - p[0].0 >= 180.0),
        "{steps:?}"
    );
    // Each new replica is provisioned 2 minutes after the order and registered with it.
    let first_out = steps[0].0;
    let up = r.log.iter().find(|e| e.kind == "provisioned").unwrap();
    assert!((up.time as f64 / 1e9 - first_out - 120.0).abs() < 0.01);
    assert!(r.log.iter().any(|e| e.kind == "deprovisioned"));
    // Against the same surge on the 2 replicas it starts with.
    let (fixed, _) = simulate(&scenario_text(""));
    let (a, b) = (
        s.clients["users"].availability,
        fixed.clients["users"].availability,
    );
    assert!(a > 0.95 && b < 0.8, "autoscaled {a} against fixed {b}");
}

#[test]
fn min_max_scale_in_and_delay_bound_what_it_does() {
    let (_, r) = simulate(&with("max = 5").replace("max = 10\n", ""));
    assert!(scalings(&r.log).iter().all(|(_, n)| *n <= 5));
    assert!(scalings(&r.log).iter().any(|(_, n)| *n == 5));
    let (_, r) = simulate(&with("min = 4"));
    let steps = scalings(&r.log);
    assert!(steps.iter().all(|(_, n)| *n >= 4), "{steps:?}");
    assert_eq!(steps.last().unwrap().1, 4, "{steps:?}");
    let (_, r) = simulate(&with("scale_in = false"));
    let steps = scalings(&r.log);
    assert!(steps.windows(2).all(|p| p[1].1 > p[0].1), "{steps:?}");
    // A 3-minute metric delay: it acts on the value of 3 evaluations earlier, against the
    // replicas it has now, so it reacts to the surge later and overshoots both ways: the
    // classic oscillation of a control loop with lag (measured: 17 activities against 4).
    let (_, plain) = simulate(&with(""));
    let (_, late) = simulate(&with("delay = \"3m\""));
    let into = |r: &RunResult| {
        scalings(&r.log)
            .into_iter()
            .find(|&(t, n)| t >= 600.0 && n >= 5)
            .unwrap()
            .0
    };
    assert!(into(&late) >= into(&plain) + 180.0);
    let (p, l) = (scalings(&plain.log), scalings(&late.log));
    assert!(l.len() >= 2 * p.len(), "{p:?} against {l:?}");
    let during = |v: &[(f64, u32)]| -> Vec<u32> {
        v.iter()
            .filter(|(t, _)| (600.0..1800.0).contains(t))
            .map(|x| x.1)
            .collect()
    };
    let d = during(&l);
    assert!(
        d.windows(2).any(|w| w[1] < w[0]) && d.windows(2).any(|w| w[1] > w[0]),
        "it scales in and out again during the surge: {d:?}"
    );
}

#[test]
fn it_can_track_the_latency_users_see() {
    // The users' p99 against a 250 ms target: the surge's queues push it to about 0.9 s, and
    // the rule (n x p99 / target) scales out hard; once the surge is over it scales back in.
    let text = with("watch = \"users\"")
        .replace("metric = \"utilization\"", "metric = \"latency_p99\"")
        .replace("target = 0.6", "target = 0.25");
    let (s, r) = simulate(&text);
    let steps = scalings(&r.log);
    let surge: Vec<u32> = steps
        .iter()
        .filter(|(t, _)| (600.0..1800.0).contains(t))
        .map(|x| x.1)
        .collect();
    assert!(surge.iter().any(|&n| n >= 7), "{steps:?}");
    assert!(r.log.iter().any(|e| e.detail.contains("(latency_p99 ")));
    assert!(s.clients["users"].availability > 0.95);
}

#[test]
fn autoscaled_runs_are_the_same_bytes_on_one_and_two_threads() {
    let dir = scratch("autoscale-threads");
    let file = dir.join("a.toml");
    std::fs::write(&file, with("")).unwrap();
    let mut outs = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.join(format!("out-{threads}"));
        let o = outagesim(&[
            "run",
            file.to_str().unwrap(),
            "--threads",
            threads,
            "--no-plots",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        outs.push(std::fs::read(out.join("events.csv")).unwrap());
    }
    assert_eq!(outs[0], outs[1]);
}

#[test]
fn autoscaler_settings_are_checked() {
    let problems = |text: &str| match scenario::load(text, "a.toml", &[]) {
        Ok(_) => panic!("expected problems in:\n{text}"),
        Err(e) => e.to_string(),
    };
    let e = problems(&with("min = 6").replace("max = 10", "max = 5"));
    assert!(e.contains("min 6 is more than max 5"), "{e}");
    let e = problems(&with("").replace("max = 10", "max = 12"));
    assert!(
        e.contains("max 12 is more than 'api' has: 2 replicas and 8 standby")
            && e.contains("add standby = 10"),
        "{e}"
    );
    let e = problems(&with("").replace("target = 0.6", "target = 60.0"));
    assert!(e.contains("a utilization target is at most 1"), "{e}");
    let e = problems(&with("").replace("target = 0.6", "target = 0.0"));
    assert!(e.contains("autoscalers.0.target"), "{e}");
    let e = problems(&with("").replace("metric = \"utilization\"", "metric = \"availability\""));
    assert!(e.contains("tracks utilization, queue or a latency"), "{e}");
    // A latency is a client group's: watching the service for one is refused.
    let e = problems(&with("").replace("metric = \"utilization\"", "metric = \"latency_p99\""));
    assert!(
        e.contains("metric 'latency_p99' applies to client groups"),
        "{e}"
    );
    // Without a load balancer over the group, new replicas would get no traffic.
    let e = problems(
        &with("")
            .replace("target = \"lb\"", "target = \"api\"")
            .replace("backends = \"api\"", "backends = \"ops2\"")
            .replace(
                "[components.ops]",
                "[components.ops2]\nkind = \"service\"\n\n[components.ops]",
            ),
    );
    assert!(
        e.contains("no load balancer balances 'api'") && e.contains("autoscalers.0.group"),
        "{e}"
    );
}
