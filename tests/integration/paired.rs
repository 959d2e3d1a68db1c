//! Paired what-ifs: `run --what-ifs --replications R` runs the baseline and every what-if R
//! times on common seeds, writes `what-ifs.csv` and the paired table, and refuses too few
//! replications.

use std::path::Path;

use crate::common::{outagesim, scratch, text};

/// A busy service whose replica hangs at 10m until an operator restarts it; three what-ifs,
/// one of which changes nothing that matters (so its interval is [0, 0] and includes 0).
const SCENARIO: &str = r#"# paired: a hung replica behind shallow health checks.
[scenario]
name = "paired"
duration = "30m"
seed = 5

[components.users]
kind = "client"
rate = 60.0
target = "lb"
timeout = "1s"

[components.lb]
kind = "load_balancer"
backends = "app"
health_check = { kind = "shallow" }

[components.app]
kind = "service"
replicas = 3
workers = 4
service_time = { dist = "exponential", mean = "40ms" }

[components.ops]
kind = "monitor"
period = "30s"

[[alarms]]
name = "errors"
group = "users"
metric = "error_rate"
above = 0.1
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

[[what_ifs]]
name = "deep health checks"
set = ["components.lb.health_check.kind=deep"]

[[what_ifs]]
name = "a faster restart"
set = ["actions.0.delay=3m"]

[[what_ifs]]
name = "a fifth worker"
set = ["components.app.workers=5"]
"#;

fn write(dir: &Path) -> String {
    let p = dir.join("paired.toml");
    std::fs::write(&p, SCENARIO).unwrap();
    p.to_str().unwrap().to_owned()
}

fn run(file: &str, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["run", file, "--what-ifs", "--no-plots", "--out"];
    args.push(out.to_str().unwrap());
    args.extend_from_slice(extra);
    let o = outagesim(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout)
}

/// `what-ifs.csv` as rows of (what-if, replication, seed, availability, availability diff).
fn rows(out: &Path) -> Vec<(String, u32, u64, f64, Option<f64>)> {
    let csv = std::fs::read_to_string(out.join("what-ifs.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "what_if,replication,seed,availability,worst_downtime_s,peak_impacted_fraction,\
         availability_diff,worst_downtime_s_diff,peak_impacted_fraction_diff"
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 9, "{l}");
            (
                f[0].to_owned(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                (!f[6].is_empty()).then(|| f[6].parse().unwrap()),
            )
        })
        .collect()
}

#[test]
fn replications_pair_every_what_if_with_the_baseline() {
    let dir = scratch("paired-run");
    let file = write(&dir);
    let out = dir.join("out");
    let stdout = run(&file, &out, &["--replications", "6", "--threads", "2"]);
    let rows = rows(&out);
    assert_eq!(rows.len(), 4 * 6);
    let names = [
        "baseline",
        "deep health checks",
        "a faster restart",
        "a fifth worker",
    ];
    for (k, name) in names.iter().enumerate() {
        for r in 0..6 {
            let row = &rows[k * 6 + r];
            assert_eq!((row.0.as_str(), row.1), (*name, r as u32));
            // Replication r of every variant has the same seed; replication 0 the run's own.
            assert_eq!(row.2, rows[r].2);
            let base = rows[r].3;
            match row.4 {
                None => assert_eq!(k, 0),
                Some(d) => assert!((d - (row.3 - base)).abs() < 1e-12, "{row:?}"),
            }
        }
    }
    assert_eq!(rows[0].2, 5);
    // Replication 0 is the run written in full: its availability is summary.json's.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let failed = summary["blast_radius"]["failed_request_fraction"]
        .as_f64()
        .unwrap();
    assert!((rows[0].3 - (1.0 - failed)).abs() < 1e-12);
    // The single-seed what-if folders are still written, and no others.
    assert!(
        out.join("what-ifs/deep-health-checks/summary.json")
            .exists()
    );
    assert!(
        !out.join("what-ifs/deep-health-checks/replications")
            .exists()
    );
    // The table: both means, the difference with its interval, the unpaired half-width.
    assert!(
        stdout.contains("paired what-ifs: 6 replications"),
        "{stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("deep health checks") && l.contains("availability"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains(" pp [+") && line.contains("±"), "{line}");
    let same = stdout
        .lines()
        .find(|l| l.starts_with("a fifth worker") && l.contains("availability"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(same.contains("0 pp [0, 0] includes 0"), "{same}");
    let md = std::fs::read_to_string(out.join("replay.md")).unwrap();
    assert!(md.contains("### Paired over 6 replications"), "{md}");
    assert!(md.contains("--what-ifs --replications 6"), "{md}");
    assert!(md.contains("| deep health checks | availability |"), "{md}");
}

#[test]
fn the_paired_interval_is_narrower_than_the_unpaired_one() {
    let dir = scratch("paired-narrower");
    let file = write(&dir);
    let out = dir.join("out");
    run(&file, &out, &["--replications", "8", "--quiet"]);
    let rows = rows(&out);
    let of =
        |name: &str| -> Vec<f64> { rows.iter().filter(|r| r.0 == name).map(|r| r.3).collect() };
    let base = of("baseline");
    // Both share the baseline's path up to the restart (the fifth worker never matters:
    // its differences are all 0); a different health check changes the path from the start
    // and gains little from pairing, so it is not held to this.
    for name in ["a faster restart", "a fifth worker"] {
        let alt = of(name);
        let p = outagesim::stats::paired(&base, &alt).unwrap();
        let u = outagesim::stats::unpaired(&base, &alt).unwrap();
        assert!((p.mean - u.mean).abs() < 1e-12);
        assert!(
            p.half_width < u.half_width,
            "{name}: paired {p:?}, unpaired {u:?}"
        );
    }
}

#[test]
fn replications_are_the_same_bytes_for_any_thread_count() {
    let dir = scratch("paired-threads");
    let file = write(&dir);
    let (a, b) = (dir.join("a"), dir.join("b"));
    run(
        &file,
        &a,
        &["--replications", "3", "--threads", "1", "--quiet"],
    );
    run(
        &file,
        &b,
        &["--replications", "3", "--threads", "3", "--quiet"],
    );
    for f in [
        "what-ifs.csv",
        "replay.md",
        "timeseries_bands.csv",
        "what-ifs/a-faster-restart/timeseries_bands.csv",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    // Without --replications there is no paired output.
    let c = dir.join("c");
    run(&file, &c, &["--quiet"]);
    assert!(!c.join("what-ifs.csv").exists());
    let md = std::fs::read_to_string(c.join("replay.md")).unwrap();
    assert!(!md.contains("Paired"), "{md}");
}

#[test]
fn too_few_replications_exit_2() {
    let dir = scratch("paired-bad");
    let file = write(&dir);
    for r in ["0", "1"] {
        for what_ifs in [true, false] {
            let mut args = vec!["run", file.as_str(), "--replications", r];
            if what_ifs {
                args.push("--what-ifs");
            }
            let o = outagesim(&args);
            assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
            let want = format!("--replications {r}: a 95% interval needs at least 2 replications");
            assert!(text(&o.stderr).contains(&want), "{}", text(&o.stderr));
        }
    }
}

/// `timeseries_bands.csv` as (time, client, replications, availability mean, low, high).
fn bands(path: &Path) -> Vec<(String, String, usize, f64, f64, f64)> {
    let csv = std::fs::read_to_string(path).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with(
        "time_s,client,replications,availability_mean,availability_low,availability_high,"
    ));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 9, "{l}");
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                f[4].parse().unwrap(),
                f[5].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn replicated_runs_write_bands_over_time() {
    let dir = scratch("paired-bands");
    let file = write(&dir);
    // Without what-ifs: the bands only.
    let solo = dir.join("solo");
    let o = outagesim(&[
        "run",
        &file,
        "--replications",
        "4",
        "--quiet",
        "--no-plots",
        "--out",
        solo.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!solo.join("what-ifs.csv").exists());
    let b = bands(&solo.join("timeseries_bands.csv"));
    // 30 one-minute buckets, one client group.
    assert_eq!(b.len(), 30);
    assert_eq!(b[0].0, "0");
    assert_eq!(b[29].0, "1740");
    assert!(b.iter().all(|r| r.1 == "users" && r.2 == 4));
    assert!(b.iter().all(|r| r.4 <= r.3 && r.3 <= r.5));
    // Before the hang every request is answered; after it the band is below 1 and wide.
    assert_eq!((b[5].3, b[5].4, b[5].5), (1.0, 1.0, 1.0));
    assert!(b[12].3 < 0.95 && b[12].5 > b[12].4, "{:?}", b[12]);
    // With what-ifs: the baseline's bands are the same; each what-if has its own.
    let paired = dir.join("paired");
    run(&file, &paired, &["--replications", "4", "--quiet"]);
    assert_eq!(
        std::fs::read(solo.join("timeseries_bands.csv")).unwrap(),
        std::fs::read(paired.join("timeseries_bands.csv")).unwrap()
    );
    let deep = bands(&paired.join("what-ifs/deep-health-checks/timeseries_bands.csv"));
    assert_eq!(deep.len(), 30);
    assert!(deep[12].3 > b[12].3, "{:?} {:?}", deep[12], b[12]);
}
