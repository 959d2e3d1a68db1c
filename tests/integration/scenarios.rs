//! The shipped incident scenarios reproduce their defining behaviour (shortened or thinned
//! with `--set` where that keeps the suite fast).

use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, RunResult, run};
use outagesim::scenario;

fn shipped(file: &str, sets: &[&str]) -> (Summary, RunResult) {
    let path = format!("scenarios/{file}");
    let text = std::fs::read_to_string(&path).unwrap();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let spec = scenario::load(&text, &path, &sets).unwrap_or_else(|e| panic!("{e}"));
    let r = run(spec, &RunOptions { threads: 1 }, &mut |_| {}).unwrap();
    (summarize(&r, 0.0), r)
}

/// Availability of a client group over [from, to) in minutes since the start.
fn availability(r: &RunResult, group: &str, from: u64, to: u64) -> f64 {
    let s = r.client_series().find(|(g, _)| g.name == group).unwrap().1;
    let bucket = r.bucket.0 / 60_000_000_000;
    let (mut good, mut done) = (0, 0);
    for b in &s[(from / bucket) as usize..(to / bucket) as usize] {
        good += b.successes + b.degraded;
        done += b.finished();
    }
    good as f64 / done.max(1) as f64
}

fn first(r: &RunResult, kind: &str) -> f64 {
    r.log.iter().find(|e| e.kind == kind).unwrap().time as f64 / 1e9
}

const THIN: &[&str] = &[
    "components.customers.rate=20",
    "components.cached-site.rate=5",
];

#[test]
fn s3_2008_the_corrupted_state_takes_the_whole_fleet_down_until_it_is_cleared() {
    let (s, r) = shipped("s3-2008-gossip.toml", THIN);
    let adopted = r
        .log
        .iter()
        .filter(|e| e.kind == "gossip_adopt" && e.detail.starts_with("corrupted"))
        .count();
    assert_eq!(adopted, 60, "every server takes in the corrupted state");
    // 09:00 .. 10:32: nothing served; from 14:30 back to normal.
    let down = availability(&r, "customers", 60, 152);
    assert!(down < 0.02, "{down}");
    let after = availability(&r, "customers", 390, 570);
    assert!(after > 0.99, "{after}");
    // Recovered around 14:00-14:20 (the published restart of request processing: 14:20).
    let recover = s.incident.time_to_recover_s.unwrap() / 3600.0;
    assert!((5.0..=6.0).contains(&recover), "{recover} h");
    assert!((9110.0..9130.0).contains(&first(&r, "action")), "10:32");
    // The customer with a local cache rode it out.
    let cached = availability(&r, "cached-site", 60, 152);
    assert!(cached > 0.8, "{cached}");
}

#[test]
fn s3_2008_with_checksums_nothing_happens() {
    let mut sets = THIN.to_vec();
    sets.push("components.s3.gossip.checksums=true");
    let (s, r) = shipped("s3-2008-gossip.toml", &sets);
    assert!(r.log.iter().all(|e| !e.detail.starts_with("corrupted")));
    assert!(s.clients["customers"].availability > 0.999);
    // No alarm, so no one takes the fleet offline.
    assert_eq!(s.incident.impact_s, None);
    assert_eq!(s.incident.actions, 0);
}
