//! Fault windows as events.csv records them: a rolled-back config change ends at its
//! rollback, a one-round gossip corruption ends where it starts; the plots read these ends.

use std::path::Path;

use crate::common::{outagesim, scratch, text};

/// A config change pushed to 4 replicas at 10m (a minute apart), rolled back 2 minutes after
/// an alarm, in a 30-minute run.
const ROLLOUT: &str = r#"
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
set = { workers = 1, service_time = "100ms" }

[[actions]]
name = "roll back"
kind = "rollback"
fault = "bad push"
on = "availability"
delay = "2m"
"#;

/// (time, kind, target, detail) rows of events.csv.
fn events(dir: &Path) -> Vec<(f64, String, String, String)> {
    let mut r = csv::Reader::from_path(dir.join("events.csv")).unwrap();
    r.records()
        .map(|x| {
            let x = x.unwrap();
            (
                x[0].parse().unwrap(),
                x[1].to_owned(),
                x[2].to_owned(),
                x[3].to_owned(),
            )
        })
        .collect()
}

fn run(name: &str, scenario: &str, extra: &[&str]) -> std::path::PathBuf {
    let dir = scratch(name);
    let file = dir.join("s.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = dir.join("out");
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = outagesim(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    out
}

#[test]
fn a_rolled_back_config_change_ends_at_its_rollback() {
    let out = run("fault-window-rollback", ROLLOUT, &[]);
    let ev = events(&out);
    let action = ev
        .iter()
        .find(|e| e.1 == "action")
        .map(|e| e.0)
        .expect("the rollback ran");
    let starts: Vec<_> = ev.iter().filter(|e| e.1 == "fault_start").collect();
    let ends: Vec<_> = ev.iter().filter(|e| e.1 == "fault_end").collect();
    assert_eq!(starts.len(), 4, "{ev:?}");
    // Every replica the fault started on gets its end, at the rollback, not at the run's end.
    for s in &starts {
        let end = ends
            .iter()
            .find(|e| e.2 == s.2 && e.3 == s.3)
            .unwrap_or_else(|| panic!("no fault_end for {s:?} in {ev:?}"));
        // The action reaches the replicas over the network: within a millisecond.
        assert!(
            end.0 >= action && end.0 - action < 1e-3,
            "{end:?} vs action at {action}"
        );
        assert_eq!(end.3, "bad push (config_change)");
    }
    assert_eq!(ends.len(), 4);
    // The plot of the run shades the window up to there: drawn, it reads the same file.
    assert!(out.join("plots").join("availability.svg").exists());
    let svg = std::fs::read_to_string(out.join("plots").join("availability.svg")).unwrap();
    assert!(svg.contains("bad push (config_change)"));
    // The SLO (the default 0.99) is drawn as a line, with its legend entry.
    assert!(svg.contains("SLO 99%"));
}

#[test]
fn a_one_round_gossip_corruption_ends_where_it_starts() {
    let text = std::fs::read_to_string("scenarios/s3-2008-gossip.toml").unwrap();
    let out = run(
        "fault-window-gossip",
        &text,
        &["--set", "scenario.duration=40m", "--no-plots"],
    );
    let ev = events(&out);
    let start = ev
        .iter()
        .find(|e| e.1 == "fault_start" && e.3.starts_with("bit flip"))
        .expect("the corruption started");
    let end = ev
        .iter()
        .find(|e| e.1 == "fault_end" && e.3 == start.3 && e.2 == start.2)
        .unwrap_or_else(|| panic!("no fault_end in {ev:?}"));
    assert_eq!(end.0, start.0);
    assert_eq!(start.0, 2100.0);
}
