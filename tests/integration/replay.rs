//! The replay report: `scenario.clock`, `[[published]]` and `[[what_ifs]]`, printed by `run`,
//! run beside the baseline by `run --what-ifs`, and refused with located errors when wrong.

use std::path::Path;

use crate::common::{outagesim, scratch, text};

/// Two replicas behind a load balancer with shallow checks; one hangs at 10m (so half the
/// requests time out until an operator restarts it, 5m after the alarm).
const INCIDENT: &str = r#"# tiny: a hung replica behind shallow health checks.
#
# More text that is not the intro.

[scenario]
name = "tiny"
duration = "40m"
seed = 3
clock = "23:50 UTC"

[components.users]
kind = "client"
rate = 20.0
target = "lb"
timeout = "2s"

[components.lb]
kind = "load_balancer"
backends = "app"
health_check = { kind = "shallow" }

[components.app]
kind = "service"
replicas = 2
workers = 8
service_time = { dist = "exponential", mean = "50ms" }

[components.ops]
kind = "monitor"
period = "30s"

[[alarms]]
name = "errors"
group = "users"
metric = "error_rate"
above = 0.2
for = "1m"

[[actions]]
name = "restart app"
kind = "restart"
target = "app"
on = "errors"
delay = "5m"

[[faults]]
name = "hang"
kind = "hang"
target = "app"
replicas = [0]
at = "10m"

[[published]]
at = "00:00"
event = "errors reported"
match = "impact"

[[published]]
at = "00:05"
event = "operators paged"

[[published]]
at = "00:10"
event = "app restarted"
match = "action:restart app"

[[what_ifs]]
name = "deep health checks"
set = ["components.lb.health_check.kind=deep"]

[[what_ifs]]
name = "no fault"
set = ["faults.0.at=2h"]
"#;

fn write(dir: &Path, body: &str) -> String {
    let p = dir.join("tiny.toml");
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_owned()
}

#[test]
fn run_prints_the_timeline_and_what_ifs_beside_the_baseline() {
    let dir = scratch("replay-run");
    let file = write(&dir, INCIDENT);
    let out = dir.join("out");
    let o = outagesim(&[
        "run",
        &file,
        "--what-ifs",
        "--threads",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    // Published rows in order, with the simulated moment they were matched to.
    let line = |needle: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(needle))
            .unwrap_or_else(|| panic!("no line '{needle}' in\n{stdout}"))
            .to_owned()
    };
    assert!(stdout.contains("timeline (UTC)"), "{stdout}");
    let impact = line("errors reported");
    // The impact shows in the bucket of the fault: both at midnight, the day after the clock.
    assert!(
        impact.contains("00:00 +1d   00:00 +1d") && impact.contains(" 0s "),
        "{impact}"
    );
    assert!(impact.ends_with("impact"), "{impact}");
    let restart = line("app restarted");
    assert!(restart.ends_with("action 'restart app'"), "{restart}");
    // Fault at 23:50 + 10m = 00:00; the alarm fires 1-2 minutes later, the restart 5m after.
    let fault = line("fault 'hang' starts");
    assert!(fault.contains("00:00 +1d"), "{fault}");
    assert!(line("operators paged").ends_with("00:05 +1d"));
    let order: Vec<usize> = [
        "fault 'hang'",
        "errors reported",
        "alarm 'errors'",
        "operators paged",
        "app restarted",
    ]
    .iter()
    .map(|n| stdout.find(n).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{stdout}");
    // What-ifs beside the baseline.
    let base = line("baseline");
    assert!(base.contains("1/1 (users)"), "{base}");
    let deep = line("deep health checks");
    let none = line("no fault");
    assert!(
        none.contains("100.000%") && none.contains("no impact"),
        "{none}"
    );
    assert!(deep.contains("0/1") || deep.contains("1/1"), "{deep}");
    // Outputs: the baseline, each what-if in its folder, the Markdown report.
    for d in ["", "what-ifs/deep-health-checks", "what-ifs/no-fault"] {
        assert!(out.join(d).join("summary.json").is_file(), "{d}");
    }
    let md = std::fs::read_to_string(out.join("replay.md")).unwrap();
    assert!(
        md.starts_with("## tiny\n\ntiny: a hung replica behind shallow health checks.\n"),
        "{md}"
    );
    assert!(
        md.contains("| errors reported | 00:00 +1d | 00:00 +1d | 0s | impact |"),
        "{md}"
    );
    // The baseline's alarm detects the impact after 2 minutes; with deep health checks the
    // impact is too short for it.
    assert!(md.contains("| detected after |"), "{md}");
    assert!(md.contains("| 90.006% | 8m | 2m | 8m |"), "{md}");
    assert!(
        md.contains(
            "| no fault | `faults.0.at=2h` | 100.000% | 0s | no impact | no impact | 0/1 |"
        ),
        "{md}"
    );

    // The what-ifs' outputs are the same bytes whatever the thread count.
    let out1 = dir.join("out1");
    let o = outagesim(&[
        "run",
        &file,
        "--what-ifs",
        "--quiet",
        "--out",
        out1.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for f in ["timeseries.csv", "events.csv", "components.csv"] {
        let p = Path::new("what-ifs/deep-health-checks").join(f);
        assert_eq!(
            std::fs::read(out.join(&p)).unwrap(),
            std::fs::read(out1.join(&p)).unwrap()
        );
    }
    assert_eq!(md, std::fs::read_to_string(out1.join("replay.md")).unwrap());
}

#[test]
fn deep_checks_mask_the_hung_replica() {
    // The what-if changes the outcome it claims to: measured through the library.
    use outagesim::model::summary::summarize;
    use outagesim::model::{RunOptions, run};
    let spec = outagesim::scenario::parse(INCIDENT, "tiny.toml").unwrap();
    let deep = outagesim::scenario::load_what_if(INCIDENT, "tiny.toml", &[], &spec, 0).unwrap();
    let a = summarize(
        &run(spec, &RunOptions::threads(1), &mut |_| {}).unwrap(),
        0.0,
    );
    let b = summarize(
        &run(deep, &RunOptions::threads(1), &mut |_| {}).unwrap(),
        0.0,
    );
    // Half the requests fail from 10m until the restart (about 17m): about 10% of the run.
    assert!(
        a.clients["users"].availability < 0.95,
        "{}",
        a.clients["users"].availability
    );
    assert!(
        b.clients["users"].availability > 0.99,
        "{}",
        b.clients["users"].availability
    );
}

#[test]
fn bad_replay_material_exits_2_located() {
    let dir = scratch("replay-bad");
    let cases: &[(&str, &str, &str)] = &[
        (
            "clock = \"23:50 UTC\"",
            "clock = \"25:00\"",
            "scenario.clock: not a wall-clock time",
        ),
        (
            "at = \"00:05\"",
            "at = \"5m\"",
            "published.1.at: not a wall-clock time",
        ),
        (
            "match = \"impact\"",
            "match = \"impakt\"",
            "did you mean 'impact'?",
        ),
        (
            "match = \"action:restart app\"",
            "match = \"alarm:eror\"",
            "no alarm is named 'eror'",
        ),
        (
            "set = [\"faults.0.at=2h\"]",
            "set = [\"fault.0.at=2h\"]",
            "what-if 'no fault' sets fault.0.at=2h",
        ),
        (
            "set = [\"faults.0.at=2h\"]",
            "set = [\"faults.0.at\"]",
            "what_ifs.1.set.0: not an override",
        ),
        (
            "name = \"no fault\"",
            "name = \"deep health checks\"",
            "what-if name 'deep health checks' is used twice",
        ),
    ];
    for (from, to, expect) in cases {
        assert!(INCIDENT.contains(from), "{from}");
        let body = INCIDENT.replacen(from, to, 1);
        let file = write(&dir, &body);
        let o = outagesim(&["validate", &file]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{to}: {err}");
        assert!(err.contains(expect), "{to}: {err}");
        // Located in the file: "tiny.toml:LINE:COL:".
        let line = body
            .lines()
            .collect::<Vec<_>>()
            .iter()
            .rposition(|l| l.contains(to))
            .unwrap()
            + 1;
        assert!(err.contains(&format!("tiny.toml:{line}:")), "{to}: {err}");
    }
    // A published time needs the clock.
    let file = write(&dir, &INCIDENT.replacen("clock = \"23:50 UTC\"\n", "", 1));
    let err = text(&outagesim(&["validate", &file]).stderr);
    assert!(
        err.contains("a published time needs scenario.clock"),
        "{err}"
    );
    // --what-ifs on a scenario without any.
    let o = outagesim(&[
        "run",
        "scenarios/mmc.toml",
        "--what-ifs",
        "--quiet",
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("has no [[what_ifs]]"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn recover_client_milestones_name_a_client_group() {
    let text = std::fs::read_to_string("scenarios/dynamodb-2025-dns.toml")
        .unwrap()
        .replace(
            "match = \"recover:dynamodb-customers\"",
            "match = \"recover:dynamodb-customer\"",
        );
    let Err(e) = outagesim::scenario::load(&text, "ddb.toml", &[]) else {
        panic!("expected a problem");
    };
    let e = e.to_string();
    assert!(
        e.contains("no client group is named 'dynamodb-customer'"),
        "{e}"
    );
    assert!(e.contains("did you mean 'dynamodb-customers'?"), "{e}");
}
