//! `sweep --precision`: replications added per point in fixed batches until the 95% interval
//! is narrow enough (or a cap), the same bytes on any thread count, the first batch the plain
//! sweep's runs, a resumed sweep that replays the rounds, refusals of bad targets; and
//! `bands.csv`, each point's per-bucket bands over its replications, checked against the runs
//! themselves.

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use crate::common::{outagesim, scratch, text};

/// M/M/c at 80% load for 5 minutes, 9 or 12 workers, a first batch of 3 replications.
fn sweep(out: &Path, extra: &[&str]) -> Output {
    sweep_reps(out, "3", extra)
}

/// [`sweep`] with another first batch.
fn sweep_reps(out: &Path, reps: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        "components.api.workers=9,12",
        "--replications",
        reps,
        "--seed",
        "11",
        "--set",
        "scenario.duration=5m",
        "--no-plots",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    outagesim(&args)
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

/// `points.csv` as rows of named cells.
fn points(dir: &Path) -> Vec<HashMap<String, String>> {
    let text = read(dir, "points.csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect()
}

fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col}: {:?}", row[col]))
}

#[test]
fn precision_sweeps_are_the_same_bytes_on_any_thread_count_and_extend_the_first_batch() {
    let dir = scratch("precision-det");
    let (a, b, plain) = (dir.join("a"), dir.join("b"), dir.join("plain"));
    let target = [
        "--precision",
        "users.latency_mean_s=2%",
        "--max-replications",
        "12",
    ];
    let o = sweep(&a, &[&target[..], &["--threads", "1"]].concat());
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("(precision users.latency_mean_s=2%: met at"),
        "{out}"
    );
    let o = sweep(&b, &[&target[..], &["--threads", "2", "--quiet"]].concat());
    assert!(o.status.success(), "{}", text(&o.stderr));
    for f in ["runs.csv", "points.csv", "bands.csv", "sweep.json"] {
        assert_eq!(
            read(&a, f),
            read(&b, f),
            "{f} differs between 1 and 2 threads"
        );
    }
    // The manifest records the target.
    let manifest: serde_json::Value = serde_json::from_str(&read(&a, "sweep.json")).unwrap();
    let p = &manifest["precision"];
    assert_eq!(p["metric"], "users.latency_mean_s");
    assert_eq!(
        (p["half_width"].as_f64(), p["relative"].as_bool()),
        (Some(0.02), Some(true))
    );
    assert_eq!(
        (p["batch"].as_u64(), p["max_replications"].as_u64()),
        (Some(3), Some(12))
    );
    // The first batch is the plain sweep's runs, row for row; the rest are later replications
    // with their own seeds.
    let o = sweep(&plain, &["--quiet"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let plain_rows: Vec<String> = read(&plain, "runs.csv")
        .lines()
        .map(str::to_owned)
        .collect();
    let rows: Vec<String> = read(&a, "runs.csv").lines().map(str::to_owned).collect();
    assert_eq!(rows[..7], plain_rows[..]);
    assert!(rows.len() > 7);
    let mut keys: Vec<(String, String)> = rows[1..]
        .iter()
        .map(|r| {
            let c: Vec<&str> = r.split(',').collect();
            (c[0].to_owned(), c[1].to_owned())
        })
        .collect();
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "a replication ran twice");
    // points.csv: each point's runs, its half-width, the target and whether it was met.
    for row in points(&a) {
        let runs = num(&row, "runs");
        let rows_of_point = rows[1..]
            .iter()
            .filter(|r| r.split(',').next() == Some(row["point"].as_str()))
            .count();
        assert_eq!(runs as usize, rows_of_point);
        assert_eq!((runs as u64 - 3) % 3, 0, "batches of 3: {runs}");
        let (h, t) = (
            num(&row, "precision_half_width"),
            num(&row, "precision_target"),
        );
        let mean = num(&row, "users.latency_mean_s_mean");
        assert!((t - 0.02 * mean).abs() < 1e-12);
        match row["precision_met"].as_str() {
            "true" => assert!(h <= t, "{row:?}"),
            "false" => assert!(h > t && runs == 12.0, "{row:?}"),
            m => panic!("precision_met {m}"),
        }
    }
}

#[test]
fn a_tighter_target_runs_more_replications_and_reaches_it_or_the_cap() {
    let dir = scratch("precision-tight");
    let (loose, tight) = (dir.join("loose"), dir.join("tight"));
    let run = |out: &Path, target: &str| {
        let o = sweep(
            out,
            &["--precision", target, "--max-replications", "30", "--quiet"],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        points(out)
    };
    let l = run(&loose, "users.latency_mean_s=0.05");
    let t = run(&tight, "users.latency_mean_s=0.01");
    let runs = |rows: &[HashMap<String, String>]| -> Vec<f64> {
        rows.iter().map(|r| num(r, "runs")).collect()
    };
    let (rl, rt) = (runs(&l), runs(&t));
    assert!(rl.iter().zip(&rt).all(|(a, b)| a <= b), "{rl:?} {rt:?}");
    assert!(
        rl.iter().sum::<f64>() < rt.iter().sum::<f64>(),
        "{rl:?} {rt:?}"
    );
    for rows in [&l, &t] {
        for r in rows {
            let h = num(r, "precision_half_width");
            let target = num(r, "precision_target");
            if r["precision_met"] == "true" {
                assert!(h <= target, "{r:?}");
            } else {
                assert_eq!(num(r, "runs"), 30.0, "{r:?}");
            }
        }
    }
    // Absolute targets: the target column is the target itself.
    assert!(t.iter().all(|r| num(r, "precision_target") == 0.01));
}

#[test]
fn an_interrupted_precision_sweep_resumes_into_the_same_rounds() {
    let dir = scratch("precision-resume");
    let (full, cut) = (dir.join("full"), dir.join("cut"));
    let target = [
        "--precision",
        "users.latency_mean_s=2%",
        "--max-replications",
        "12",
    ];
    let o = sweep(&full, &[&target[..], &["--quiet"]].concat());
    assert!(o.status.success(), "{}", text(&o.stderr));
    let runs = read(&full, "runs.csv");
    let lines: Vec<&str> = runs.lines().collect();
    assert!(lines.len() > 12, "{runs}");
    // Interrupted in the second round: the first batch (6 runs) and 4 runs of the second.
    std::fs::create_dir_all(&cut).unwrap();
    std::fs::write(cut.join("runs.csv.partial"), lines[..11].join("\n") + "\n").unwrap();
    let o = sweep(
        &cut,
        &[&target[..], &["--resume", "--threads", "2"]].concat(),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("10 resumed"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(read(&full, "runs.csv"), read(&cut, "runs.csv"));
    assert_eq!(read(&full, "points.csv"), read(&cut, "points.csv"));
    // The series of the runs before the interruption are gone: no bands for a resumed sweep.
    assert!(!cut.join("bands.csv").exists());
    assert!(text(&o.stdout).contains("(runs.csv, points.csv, sweep.json)"));
    // A partial file that ran more than the schedule allows is not this sweep's.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("runs.csv.partial"), lines.join("\n") + "\n").unwrap();
    let o = sweep(
        &other,
        &["--precision", "users.latency_mean_s=100", "--resume"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("does not belong to this sweep"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn bad_precision_targets_are_refused_before_anything_runs() {
    let dir = scratch("precision-bad");
    let out = dir.join("out");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--precision", "users.latency_mean_s=0"],
            "is not a positive number",
        ),
        (
            &["--precision", "availability=-1%"],
            "is not a positive number",
        ),
        (
            &["--precision", "availability=abc"],
            "'abc' is not a positive number",
        ),
        (
            &["--precision", "availability"],
            "expected METRIC=HALF_WIDTH",
        ),
        (
            &["--precision", "user.availability=1%"],
            "unknown metric 'user.availability'\n  hint: did you mean 'users.availability'?",
        ),
        (
            &["--precision", "availability=1%", "--max-replications", "2"],
            "--max-replications 2 is below the first batch (--replications 3)",
        ),
        (
            &["--precision", "availability=1%", "--shard", "1/2"],
            "--precision availability=1% does not go with --shard",
        ),
        (&["--max-replications", "20"], "--precision"),
    ];
    for (extra, want) in cases {
        let o = sweep(&out, extra);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(want), "{extra:?}: {err}");
        assert!(!out.join("runs.csv.partial").exists(), "{extra:?} ran");
    }
    let o = sweep_reps(&out, "1", &["--precision", "availability=1%"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("at least 2 replications"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.join("runs.csv.partial").exists());
}

/// The 95% interval of `xs` with Student t (the test's own arithmetic).
fn interval(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    // t(0.975) with 2 degrees of freedom.
    assert_eq!(xs.len(), 3);
    (mean, 4.302_652_73 * (var / n).sqrt())
}

#[test]
fn bands_at_sweep_points_are_the_mean_and_interval_of_the_points_runs() {
    let dir = scratch("precision-bands");
    let out = dir.join("sweep");
    let o = sweep(&out, &["--quiet", "--threads", "2"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let bands = read(&out, "bands.csv");
    let mut lines = bands.lines();
    assert_eq!(
        lines.next(),
        Some(
            "point,time_s,client,replications,availability_mean,availability_low,availability_high,latency_mean_s,latency_low_s,latency_high_s"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // 2 points x 5 one-minute buckets x 1 client group, in point order.
    assert_eq!(rows.len(), 10);
    assert!(rows[..5].iter().all(|r| r[0] == "0") && rows[5..].iter().all(|r| r[0] == "1"));
    // Point 1 (12 workers) again, run by run with `run --seed`: its bands are these runs'.
    let runs = read(&out, "runs.csv");
    let seeds: Vec<&str> = runs
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("1,"))
        .map(|l| l.split(',').nth(2).unwrap())
        .collect();
    assert_eq!(seeds.len(), 3);
    let mut series: Vec<Vec<(f64, f64)>> = Vec::new();
    for (i, seed) in seeds.iter().enumerate() {
        let run_out = dir.join(format!("run-{i}"));
        let o = outagesim(&[
            "run",
            "scenarios/mmc.toml",
            "--seed",
            seed,
            "--set",
            "scenario.duration=5m",
            "--set",
            "components.api.workers=12",
            "--out",
            run_out.to_str().unwrap(),
            "--no-plots",
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let ts = read(&run_out, "timeseries.csv");
        let head: Vec<&str> = ts.lines().next().unwrap().split(',').collect();
        let col = |name: &str| head.iter().position(|h| *h == name).unwrap();
        let (avail, latency) = (col("availability"), col("latency_mean_s"));
        series.push(
            ts.lines()
                .skip(1)
                .map(|l| {
                    let c: Vec<&str> = l.split(',').collect();
                    (c[avail].parse().unwrap(), c[latency].parse().unwrap())
                })
                .collect(),
        );
    }
    for (b, row) in rows[5..].iter().enumerate() {
        assert_eq!(row[1], (b * 60).to_string());
        assert_eq!(row[3], "3");
        for (col, pick) in [(4, 0), (7, 1)] {
            let xs: Vec<f64> = series
                .iter()
                .map(|s| if pick == 0 { s[b].0 } else { s[b].1 })
                .collect();
            let (mean, h) = interval(&xs);
            let got: Vec<f64> = row[col..col + 3]
                .iter()
                .map(|c| c.parse().unwrap())
                .collect();
            // timeseries.csv rounds to 6 decimals.
            assert!(
                (got[0] - mean).abs() < 2e-6,
                "bucket {b}: {got:?} vs {mean}"
            );
            assert!(
                (got[1] - (mean - h)).abs() < 1e-5,
                "bucket {b}: {got:?} vs {mean} +- {h}"
            );
            assert!(
                (got[2] - (mean + h)).abs() < 1e-5,
                "bucket {b}: {got:?} vs {mean} +- {h}"
            );
        }
    }
}

/// The number of filled polygons in an SVG (bands and shaded windows).
fn polygons(svg: &str) -> usize {
    svg.matches("<polygon").count()
}

#[test]
fn availability_plots_shade_the_band_of_replications() {
    let dir = scratch("precision-plots");
    let (one, reps) = (dir.join("one"), dir.join("reps"));
    for (out, extra) in [(&one, &[][..]), (&reps, &["--replications", "4"][..])] {
        let mut args = vec![
            "run",
            "scenarios/mmc.toml",
            "--set",
            "scenario.duration=5m",
            "--set",
            "components.api.workers=9",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = outagesim(&args);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let plain = read(&one, "plots/availability.svg");
    let banded = read(&reps, "plots/availability.svg");
    assert!(!plain.contains("95% band"));
    assert!(banded.contains("95% band") && banded.contains("4 replications"));
    assert!(polygons(&banded) > polygons(&plain), "no band drawn");
    // A sweep draws each point's band over its replications.
    let out = dir.join("sweep");
    let o = sweep(&out, &["--quiet", "--precision", "users.latency_mean_s=2%"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = outagesim(&["plot", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(out.join("plots/bands.png").is_file());
    let svg = read(&out, "plots/bands.svg");
    assert!(
        svg.contains("users availability, mean and 95% band"),
        "{svg}"
    );
    assert!(svg.contains("workers=9") && svg.contains("workers=12"));
    assert!(polygons(&svg) >= 2);
}

#[test]
fn merge_refuses_a_manifest_with_a_precision_target() {
    // Precision sweeps are never sharded; a shard whose manifest claims one is not merged.
    let dir = scratch("precision-merge");
    let out = dir.join("sw");
    let o = sweep(&out, &["--shard", "1/1", "--quiet"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let manifest = out.join("shard-1-of-1/sweep.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    m["precision"] = serde_json::json!({
        "metric": "availability", "half_width": 0.001, "relative": true,
        "batch": 3, "max_replications": 30
    });
    std::fs::write(&manifest, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    let o = outagesim(&["merge", out.to_str().unwrap(), "--no-plots"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("run to a precision (availability=0.1%) is never sharded"),
        "{}",
        text(&o.stderr)
    );
}
