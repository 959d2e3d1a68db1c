//! `outagesim run`, `validate` and `describe` as a user meets them: the files written, their
//! pinned headers, byte-identical outputs for any thread count, and located errors.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{WEB_LIGHT, outagesim, scratch};

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn run_to(dir: &Path, scenario: &str, extra: &[&str]) -> Output {
    let mut args = vec!["run", scenario, "--quiet", "--out", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = outagesim(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// summary.json without its one non-deterministic value.
fn summary_without_wall(dir: &Path) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(&read(dir, "summary.json")).unwrap();
    v.as_object_mut().unwrap().remove("wall_seconds");
    v
}

#[test]
fn run_writes_every_output_with_pinned_headers() {
    let dir = scratch("run-outputs");
    let o = run_to(
        &dir,
        "scenarios/mmc.toml",
        &["--set", "scenario.duration=10m"],
    );
    assert!(o.stdout.is_empty(), "--quiet prints nothing");
    assert!(
        o.stderr.is_empty(),
        "no progress bar when stderr is not a terminal"
    );
    let first_line = |name: &str| {
        String::from_utf8(read(&dir, name))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        first_line("timeseries.csv"),
        "time_s,client,requests,attempts,successes,degraded,errors,timeouts,throttled,shed,availability,\
         goodput_per_s,latency_mean_s,latency_p50_s,latency_p90_s,latency_p99_s"
    );
    assert_eq!(
        first_line("components.csv"),
        "time_s,component,kind,replicas,up_replicas,arrivals,offered_per_s,rejected,dropped,\
         denied,throttled,served,errors,shed,utilization,mean_wait_s,max_queue,healthy_seen,gossip_messages,gossip_busy"
    );
    assert_eq!(
        first_line("blast_radius.csv"),
        "time_s,clients_impacted,clients_total,components_impacted,components_total"
    );
    assert_eq!(first_line("events.csv"), "time_s,kind,target,detail");
    // 10 one-minute buckets, one client: 10 rows after the header.
    let rows = String::from_utf8(read(&dir, "timeseries.csv"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(rows, 11);
    let s: serde_json::Value = serde_json::from_slice(&read(&dir, "summary.json")).unwrap();
    for key in [
        "scenario",
        "seed",
        "duration_s",
        "events",
        "wall_seconds",
        "clients",
        "components",
        "blast_radius",
    ] {
        assert!(s.get(key).is_some(), "summary.json lacks {key}");
    }
    let users = &s["clients"]["users"];
    for key in [
        "requests",
        "attempts",
        "successes",
        "degraded",
        "errors",
        "timeouts",
        "throttled",
        "hedged",
        "wasted",
        "availability",
        "downtime_s",
        "longest_outage_s",
    ] {
        assert!(users.get(key).is_some(), "clients.users lacks {key}");
    }
    for key in ["mean", "p50", "p90", "p99"] {
        assert!(
            users["latency_s"].get(key).is_some(),
            "latency_s lacks {key}"
        );
    }
    let api = &s["components"]["api"];
    for key in [
        "arrivals",
        "rejected",
        "served",
        "mean_wait_s",
        "mean_utilization",
        "max_queue",
    ] {
        assert!(api.get(key).is_some(), "components.api lacks {key}");
    }
    for key in ["clients", "components", "failed_request_fraction"] {
        assert!(
            s["blast_radius"].get(key).is_some(),
            "blast_radius lacks {key}"
        );
    }
    assert_eq!(s["scenario"], "mmc");
    assert_eq!(s["duration_s"], 600.0);
    assert!(!dir.join("summary.json.partial").exists());
}

/// The rows of a CSV file as maps from column to cell.
fn csv_rows(dir: &Path, name: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(dir.join(name)).unwrap();
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .zip(rec.iter())
                .map(|(h, c)| (h.to_owned(), c.to_owned()))
                .collect()
        })
        .collect()
}

#[test]
fn up_replicas_and_blast_radius_follow_a_zone_outage() {
    // multi-az-failover: a zone holding 2 of the 6 app replicas fails from 15m to 35m.
    let dir = scratch("up-replicas");
    run_to(&dir, "scenarios/multi-az-failover.toml", &[]);
    let up = |t: &str| -> f64 {
        let rows = csv_rows(&dir, "components.csv");
        let row = rows
            .iter()
            .find(|r| r["component"] == "app" && r["time_s"] == t)
            .unwrap();
        row["up_replicas"].parse().unwrap()
    };
    assert_eq!(up("0"), 6.0);
    assert_eq!(up("900"), 4.0);
    assert_eq!(up("2090"), 4.0);
    assert_eq!(up("2100"), 6.0);
    // The blast radius series peaks at the summary's peak share, when the summary says.
    let s: serde_json::Value = serde_json::from_slice(&read(&dir, "summary.json")).unwrap();
    let blast = csv_rows(&dir, "blast_radius.csv");
    let share = |r: &std::collections::HashMap<String, String>, k: &str| {
        r[&format!("{k}_impacted")].parse::<f64>().unwrap()
            / r[&format!("{k}_total")].parse::<f64>().unwrap()
    };
    for k in ["clients", "components"] {
        let peak = blast.iter().map(|r| share(r, k)).fold(0.0, f64::max);
        assert_eq!(
            peak,
            s["blast_radius"][k]["peak_fraction"].as_f64().unwrap()
        );
        let at = blast.iter().find(|r| share(r, k) == peak).unwrap();
        assert_eq!(
            at["time_s"].parse::<f64>().unwrap(),
            s["blast_radius"][k]["peak_at_s"].as_f64().unwrap()
        );
    }
    assert_eq!(share(&blast[0], "clients"), 0.0);
}

#[test]
fn same_seed_gives_the_same_bytes_on_any_thread_count() {
    // Two regions, a crash and health-check failover inside the shortened run.
    let scenario = "scenarios/web-three-tier.toml";
    let mut short = vec!["--set", "scenario.duration=24m"];
    short.extend(WEB_LIGHT);
    let mut dirs = Vec::new();
    // Its work is nearly all in one region, so on its own a run with several threads runs it
    // sequentially (the pilot's choice, below); --partitioned makes the regions run in
    // parallel regardless.
    for (threads, partitioned) in [("1", false), ("2", true), ("4", true), ("2", false)] {
        let dir = scratch(&format!("determinism-{}-{threads}", dirs.len()));
        let mut extra = short.to_vec();
        extra.extend(["--threads", threads]);
        if partitioned {
            extra.push("--partitioned");
        }
        run_to(&dir, scenario, &extra);
        dirs.push(dir);
    }
    for d in &dirs[1..] {
        for f in [
            "timeseries.csv",
            "components.csv",
            "blast_radius.csv",
            "events.csv",
        ] {
            assert!(
                read(&dirs[0], f) == read(d, f),
                "{f} differs in {}",
                d.display()
            );
        }
        assert_eq!(summary_without_wall(&dirs[0]), summary_without_wall(d));
    }
    // The run is not trivially empty: the crash shows in the events.
    let events = String::from_utf8(read(&dirs[0], "events.csv")).unwrap();
    assert!(events.contains("fault_start,lb-east[0]"), "{events}");
    assert!(events.contains("health_down"), "{events}");
    // A different seed gives different numbers.
    let other = scratch("determinism-seed");
    let mut extra = short.to_vec();
    extra.extend(["--seed", "99"]);
    run_to(&other, scenario, &extra);
    assert!(read(&dirs[0], "timeseries.csv") != read(&other, "timeseries.csv"));
}

#[test]
fn bad_scenarios_exit_2_with_every_problem_located() {
    let dir = scratch("bad-scenario");
    let path = dir.join("bad.toml");
    std::fs::write(
        &path,
        r#"[scenario]
name = "bad"
duration = "2x"

[components.users]
kind = "client"
rate = 8.0
target = "ap"

[components.api]
kind = "service"
workers = 0
"#,
    )
    .unwrap();
    let p = path.to_str().unwrap();
    for cmd in ["validate", "run", "describe"] {
        let o = outagesim(&[cmd, p]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {err}");
        assert!(o.stdout.is_empty(), "{cmd} printed output for a bad file");
        assert!(err.contains("bad.toml:3:12: scenario.duration"), "{err}");
        assert!(err.contains("invalid duration \"2x\""), "{err}");
        assert!(
            err.contains("bad.toml:8:10: components.users.target: unknown component 'ap'"),
            "{err}"
        );
        assert!(err.contains("did you mean 'api'?"), "{err}");
        assert!(
            err.contains("bad.toml:12:11: components.api.workers"),
            "{err}"
        );
        assert!(err.contains("3 problems in"), "{err}");
        // In full: each problem's line under it with the bad part underlined, no colours when
        // stderr is not a terminal.
        assert_eq!(
            err,
            format!(
                "error: {p}:3:12: scenario.duration: invalid duration \"2x\": unknown unit \"x\" (units: ns, us, ms, s, m, h, d)
  |
3 | duration = \"2x\"
  |            ^^^^
error: {p}:8:10: components.users.target: unknown component 'ap'
  |
8 | target = \"ap\"
  |          ^^^^
  hint: did you mean 'api'? (components: users, api)
error: {p}:12:11: components.api.workers: must be at least 1, got 0
   |
12 | workers = 0
   |           ^
3 problems in {p}
"
            ),
            "{cmd}"
        );
    }
    // A bad --set value points at the argument.
    let o = outagesim(&[
        "validate",
        "scenarios/mmc.toml",
        "--set",
        "components.api.replicas=0",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: --set components.api.replicas=0: components.api.replicas: must be at least 1, got 0
   |
   | --set components.api.replicas=0
   |                               ^
"
    );
    // Values that would stall or overflow simulated time are refused, not run.
    for (set, expect) in [
        (
            "components.users.rate=1e300",
            "1e300 user requests per second is more than one client group may send",
        ),
        (
            "components.users.timeout=50000d",
            "\"50000d\" is longer than the 100 years a scenario may use",
        ),
    ] {
        let o = outagesim(&["validate", "scenarios/mmc.toml", "--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}");
        assert!(stderr(&o).contains(expect), "{}", stderr(&o));
    }
    // A missing file.
    let o = outagesim(&["run", "scenarios/nope.toml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("cannot read scenario file scenarios/nope.toml"),
        "{}",
        stderr(&o)
    );
    // No half-written outputs were left behind by the refused run.
    assert!(
        !Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("output/bad")
            .exists()
    );
}

#[test]
fn validate_and_describe_show_the_topology() {
    let o = outagesim(&["validate", "scenarios/web-three-tier.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok"));
    let o = outagesim(&["describe", "scenarios/mmc.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("users") && text.contains("api") && text.contains("service"),
        "{text}"
    );
    let o = outagesim(&["describe", "scenarios/web-three-tier.toml", "--dot"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dot = String::from_utf8(o.stdout).unwrap();
    assert!(dot.starts_with("digraph"), "{dot}");
    assert!(dot.contains("->"), "{dot}");
}

#[test]
fn json_prints_the_summary_on_stdout() {
    let dir = scratch("run-json");
    let o = outagesim(&[
        "run",
        "scenarios/mmc.toml",
        "--json",
        "--set",
        "scenario.duration=5m",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["scenario"], "mmc");
    let on_disk: serde_json::Value = serde_json::from_slice(&read(&dir, "summary.json")).unwrap();
    assert_eq!(v, on_disk);
}

#[test]
fn table_shows_clients_components_and_blast_radius() {
    let dir = scratch("run-table");
    let o = outagesim(&[
        "run",
        "scenarios/mmc.toml",
        "--set",
        "scenario.duration=5m",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    for needle in [
        "scenario mmc",
        "client",
        "users",
        "component",
        "api",
        "blast radius",
        "outputs:",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn every_shipped_scenario_validates_and_runs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    for f in &files {
        let name = f.file_stem().unwrap().to_str().unwrap();
        let o = outagesim(&["validate", f.to_str().unwrap()]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let out = scratch(&format!("shipped-{name}"));
        run_to(
            &out,
            f.to_str().unwrap(),
            &[
                "--set",
                "scenario.duration=2m",
                "--set",
                "scenario.bucket=10s",
            ],
        );
        assert!(out.join("summary.json").exists(), "{name}");
    }
}

#[test]
fn dns_record_faults_are_checked_against_the_records_served() {
    let dir = scratch("dns-record-bad");
    let path = dir.join("dns.toml");
    let text = r#"[scenario]
name = "dns"
duration = "1h"

[components.users]
kind = "client"
rate = 1.0
target = "api.example.com"

[components.resolver]
kind = "resolver"
dns = "dns"

[components.dns]
kind = "dns"
records = [{ name = "api.example.com", targets = ["api"] }]

[components.api]
kind = "service"

[[faults]]
kind = "dns_record"
target = "dns"
record = "api.exmaple.com"
at = "5m"
answer = "wrong"
"#;
    std::fs::write(&path, text).unwrap();
    let o = outagesim(&["validate", path.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("faults.0.record: 'dns' serves no record named 'api.exmaple.com'"),
        "{err}"
    );
    assert!(err.contains("did you mean 'api.example.com'?"), "{err}");
    assert!(err.contains("faults.0.to"), "{err}");
}

/// A scenario name is a label, not a path: the default output folder is made of lower-case
/// letters, digits and dashes, so no name reaches outside `output/`.
#[test]
fn a_scenario_name_cannot_place_outputs_outside_the_output_folder() {
    let dir = scratch("name-is-a-label");
    let work = dir.join("a").join("b");
    std::fs::create_dir_all(&work).unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mmc.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_outagesim"))
        .args(["run", scenario.to_str().unwrap(), "--quiet", "--no-plots"])
        .args([
            "--set",
            "scenario.name=../../Escape Me",
            "--set",
            "scenario.duration=2m",
        ])
        .current_dir(&work)
        .output()
        .expect("the binary runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(work.join("output/escape-me/summary.json").is_file());
    assert!(!dir.join("Escape Me").exists() && !dir.join("a/Escape Me").exists());
}

/// Every shipped scenario's text, for the property test below.
fn shipped_texts() -> Vec<String> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

/// Runs `spec` with `threads` and returns its outputs' bytes (or the error's text).
fn outputs(spec: outagesim::model::spec::Spec, threads: usize) -> Result<Vec<Vec<u8>>, String> {
    use outagesim::report;
    let opts = outagesim::model::RunOptions::partitioned(threads);
    let r = outagesim::model::run(spec, &opts, &mut |_| {}).map_err(|e| e.to_string())?;
    Ok(vec![
        report::timeseries_csv(&r),
        report::components_csv(&r),
        report::blast_radius_csv(&r),
        report::events_csv(&r),
    ])
}

/// Scenarios nobody wrote by hand (two from each shipped one, with the values of two settings
/// swapped, shortened to a minute) give the same bytes on one thread and on two: what loads must run
/// the same on any thread count, or fail the same way on both. The swaps come from a fixed
/// sequence, so the test is the same on every run; it checks that enough of the edited
/// scenarios load to mean something.
#[test]
fn edited_scenarios_give_the_same_bytes_on_one_and_two_threads() {
    let mut state: u64 = 0x5eed;
    let mut next = |n: usize| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % n
    };
    let sets = [
        "scenario.duration=1m".to_owned(),
        "scenario.bucket=20s".to_owned(),
    ];
    let mut ran = 0;
    for text in shipped_texts() {
        let before = ran;
        for _ in 0..40 {
            if ran - before == 2 {
                break;
            }
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let kv: Vec<usize> = (0..lines.len())
                .filter(|&j| lines[j].contains(" = ") && !lines[j].starts_with('#'))
                .collect();
            let (i, j) = (kv[next(kv.len())], kv[next(kv.len())]);
            let split = |l: &str| {
                l.split_once(" = ")
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            };
            if let (Some((ki, vi)), Some((kj, vj))) = (split(&lines[i]), split(&lines[j])) {
                lines[i] = format!("{ki} = {vj}");
                lines[j] = format!("{kj} = {vi}");
            }
            let edited = lines.join("\n");
            if let Ok(spec) = outagesim::scenario::load(&edited, "p.toml", &sets) {
                let one = outputs(spec.clone(), 1);
                let two = outputs(spec, 2);
                assert!(one == two, "1 and 2 threads differ on:\n{edited}");
                ran += 1;
            }
        }
    }
    assert!(ran >= 20, "only {ran} edited scenarios loaded");
}

/// With several threads and regions, a pilot of the first 1% of the run decides whether the
/// regions run in parallel, and the run says which and why.
#[test]
fn the_run_says_whether_its_regions_ran_in_parallel() {
    let dir = scratch("thread-plan");
    let mut args = vec![
        "run",
        "scenarios/web-three-tier.toml",
        "--set",
        "scenario.duration=10m",
        "--threads",
        "2",
        "--no-plots",
        "--out",
        dir.to_str().unwrap(),
    ];
    args.extend(WEB_LIGHT);
    let o = outagesim(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    // us-east holds the application, its cache and database: 97% of the events.
    let err = stderr(&o);
    assert!(
        err.contains("threads: sequential: region us-east sent 9"),
        "{err}"
    );
    // A scenario whose regions share the work runs them in parallel.
    let o = outagesim(&[
        "run",
        "scenarios/bench-reference.toml",
        "--set",
        "scenario.duration=2m",
        "--threads",
        "2",
        "--no-plots",
        "--out",
        dir.join("bench").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("threads: regions in parallel: "), "{err}");
    // One thread: no pilot, nothing to say.
    let o = outagesim(&[
        "run",
        "scenarios/bench-reference.toml",
        "--set",
        "scenario.duration=1m",
        "--threads",
        "1",
        "--no-plots",
        "--out",
        dir.join("one").to_str().unwrap(),
    ]);
    assert!(!stderr(&o).contains("threads:"));
}
