//! Cells and shuffle sharding against a poison pill: the blast radius of one tenant's bad
//! requests is every tenant without sharding, one cell with cells, and only the tenants that
//! drew the very same backends with shuffle shards.

use outagesim::model::policy::shard;
use outagesim::model::summary::{Summary, summarize};
use outagesim::model::{RunOptions, run};
use outagesim::scenario;

use crate::common::{outagesim, text};

const FILE: &str = "scenarios/shuffle-sharding.toml";
const TENANTS: [&str; 8] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
];

/// The shipped study, shortened to 20 minutes with the poison from 5m to 15m, plus `sets`.
fn simulate(sets: &[&str]) -> Summary {
    let file = std::fs::read_to_string(FILE).unwrap();
    let mut all = vec![
        "scenario.duration=20m".to_owned(),
        "faults.0.at=5m".to_owned(),
        "faults.0.duration=10m".to_owned(),
    ];
    all.extend(sets.iter().map(|s| (*s).to_owned()));
    let spec = scenario::load(&file, FILE, &all).unwrap_or_else(|e| panic!("{e}"));
    summarize(
        &run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap(),
        0.0,
    )
}

fn impacted(s: &Summary) -> Vec<&str> {
    s.blast_radius
        .clients
        .impacted
        .iter()
        .map(String::as_str)
        .collect()
}

#[test]
fn without_sharding_a_poison_pill_takes_down_every_tenant() {
    // The load balancer's round robin and retries carry delta's requests to every backend.
    let s = simulate(&[]);
    assert_eq!(impacted(&s), TENANTS.to_vec());
    assert_eq!(s.components["fleet"].kind, "service");
    for t in TENANTS {
        // Down for the 10 minutes of the poison (and a few seconds): about half of 20 minutes.
        let a = s.clients[t].availability;
        assert!((0.45..0.55).contains(&a), "{t}: {a}");
    }
}

#[test]
fn cells_keep_the_poison_in_its_cell() {
    // Four cells of two backends; tenants take cells in file order: delta (the 4th) shares
    // cell 3 with hotel (the 8th), and nobody else reaches backends 6 and 7.
    let s = simulate(&["components.front.cells=4"]);
    assert_eq!(impacted(&s), ["delta", "hotel"]);
    for t in ["alpha", "bravo", "charlie", "echo", "foxtrot", "golf"] {
        assert_eq!(s.clients[t].availability, 1.0, "{t}");
    }
}

#[test]
fn shuffle_shards_lose_only_the_tenants_that_drew_the_same_backends() {
    let s = simulate(&["components.front.shuffle_shard=2"]);
    let of = |t: &str| shard::shuffle("front", t, 8, 2);
    let poisoned = of("delta");
    // Predicted from the assignment alone: the tenants whose shard is delta's.
    let same: Vec<&str> = TENANTS.into_iter().filter(|t| of(t) == poisoned).collect();
    assert_eq!(impacted(&s), same);
    // This deal has one collision (charlie drew delta's two backends: each tenant does with
    // probability 1/28), so the test covers both cases.
    assert_eq!(same, ["charlie", "delta"]);
    // A tenant that shares one backend with delta loses at most the requests sent there before
    // the health checks take it out, and its retries go to the other backend of its shard.
    let partial: Vec<&str> = TENANTS
        .into_iter()
        .filter(|t| !same.contains(t) && of(t).iter().any(|b| poisoned.contains(b)))
        .collect();
    assert!(!partial.is_empty());
    for t in partial {
        let a = s.clients[t].availability;
        assert!(a > 0.999, "{t} shares a backend with delta: {a}");
    }
}

#[test]
fn sharding_and_poison_settings_are_checked() {
    let problem = |sets: &[&str]| {
        let mut args = vec!["validate", FILE];
        for s in sets {
            args.extend(["--set", s]);
        }
        let out = outagesim(&args);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
        text(&out.stderr)
    };
    let e = problem(&["components.front.shuffle_shard=9"]);
    assert!(
        e.contains("9 backends in a shuffle shard, but 'fleet' has 8 replicas")
            && e.contains("use at most 8"),
        "{e}"
    );
    let e = problem(&["components.front.cells=9"]);
    assert!(e.contains("9 cells, but 'fleet' has 8 replicas"), "{e}");
    let e = problem(&[
        "components.front.cells=2",
        "components.front.shuffle_shard=2",
    ]);
    assert!(e.contains("cells or shuffle_shard, not both"), "{e}");
    let e = problem(&["components.front.shuffle_shard=0"]);
    assert!(e.contains("shuffle_shard"), "{e}");
    let e = problem(&["faults.0.source=fleet"]);
    assert!(e.contains("faults.0.source") && e.contains("fleet"), "{e}");
    let e = problem(&["faults.0.source=zulu"]);
    assert!(e.contains("unknown component 'zulu'"), "{e}");
}

#[test]
fn describe_lists_each_tenants_backends() {
    let out = outagesim(&[
        "describe",
        FILE,
        "--set",
        "components.front.shuffle_shard=2",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let d = text(&out.stdout);
    let shards: Vec<String> = TENANTS
        .iter()
        .map(|t| {
            let b: Vec<String> = shard::shuffle("front", t, 8, 2)
                .iter()
                .map(u32::to_string)
                .collect();
            format!("{t} [{}]", b.join(", "))
        })
        .collect();
    let line = format!(
        "    shuffle shards of 2 of 8 fleet replicas: {}",
        shards.join(", ")
    );
    assert!(d.lines().any(|l| l == line), "missing {line:?} in:\n{d}");
    let out = outagesim(&["describe", FILE, "--set", "components.front.cells=4"]);
    assert!(
        text(&out.stdout).contains("    4 cells of fleet: alpha [0, 1], bravo [2, 3], charlie [4, 5], delta [6, 7], echo [0, 1]"),
        "{}",
        text(&out.stdout)
    );
}
