//! `outagesim sweep`: byte-identical files for any thread count, a sweep file equal to the
//! same sweep on the command line, `--resume` after an interruption, aggregates that match the
//! runs, and bad grids refused before anything runs.

use std::path::Path;
use std::process::Output;

use crate::common::{outagesim, scratch, text};

/// M/M/c at 80% load (8 requests/s, 1 s work) for 20 minutes, workers 9, 10, 12, 5 runs each.
fn sweep(out: &Path, extra: &[&str]) -> Output {
    let args = sweep_args(out, extra);
    outagesim(&args)
}

/// The arguments of [`sweep`].
fn sweep_args<'a>(out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        "components.api.workers=9,10,12",
        "--replications",
        "5",
        "--seed",
        "11",
        "--set",
        "scenario.duration=20m",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args
}

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

#[test]
fn sweeps_are_the_same_bytes_on_any_thread_count_and_from_a_sweep_file() {
    let dir = scratch("sweep-det");
    let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
    let o = sweep(&a, &["--threads", "1"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Not a terminal: one line per finished point on stderr.
    let err = text(&o.stderr);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("point ")).count(),
        3,
        "{err}"
    );
    assert!(
        err.contains("point 2/3 components.api.workers=10: 5 runs, availability"),
        "{err}"
    );
    assert!(text(&o.stdout).contains("3 points x 5 replications = 15 runs"));
    let o = sweep(&b, &["--threads", "2", "--quiet"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stderr.is_empty() && o.stdout.is_empty());
    // The same sweep as a file (base relative to it).
    let file = dir.join("mmc-sweep.toml");
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mmc.toml");
    std::fs::write(
        &file,
        format!(
            "base = {:?}\nreplications = 5\nseed = 11\nset = [\"scenario.duration=20m\"]\n\n[grid]\n\"components.api.workers\" = [9, 10, 12]\n",
            base.to_str().unwrap()
        ),
    )
    .unwrap();
    let o = outagesim(&[
        "sweep",
        file.to_str().unwrap(),
        "--quiet",
        "--threads",
        "2",
        "--out",
        c.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for f in ["runs.csv", "points.csv"] {
        assert_eq!(read(&a, f), read(&b, f), "{f}");
        assert_eq!(read(&a, f), read(&c, f), "{f}");
    }
    let runs = read(&a, "runs.csv");
    assert_eq!(runs.lines().count(), 16);
    assert!(runs.starts_with("point,replication,seed,components.api.workers,availability,"));
    assert!(!a.join("runs.csv.partial").exists());
}

#[test]
fn resume_runs_only_what_is_missing_and_ends_with_the_same_files() {
    let dir = scratch("sweep-resume");
    let (full, cut) = (dir.join("full"), dir.join("cut"));
    assert!(sweep(&full, &["--quiet"]).status.success());
    let runs = read(&full, "runs.csv");
    // An interrupted sweep: the header, 7 finished runs and a torn eighth line.
    let lines: Vec<&str> = runs.lines().collect();
    let mut partial = lines[..8].join("\n") + "\n";
    partial.push_str(&lines[8][..lines[8].len() / 2]);
    std::fs::create_dir_all(&cut).unwrap();
    std::fs::write(cut.join("runs.csv.partial"), &partial).unwrap();
    let o = sweep(&cut, &["--resume", "--threads", "2"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("(8 run now, 7 resumed)"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(read(&full, "runs.csv"), read(&cut, "runs.csv"));
    assert_eq!(read(&full, "points.csv"), read(&cut, "points.csv"));
    // A finished sweep has nothing to resume; a partial file of another sweep is refused.
    let o = sweep(&cut, &["--resume"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("runs.csv.partial"), lines[..4].join("\n") + "\n").unwrap();
    let o = outagesim(&[
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        "components.api.workers=9,10,12",
        "--replications",
        "5",
        "--seed",
        "12",
        "--set",
        "scenario.duration=20m",
        "--out",
        other.to_str().unwrap(),
        "--resume",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("does not belong to this sweep (row 1 is not run 0"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn points_aggregate_the_runs_with_student_t_intervals() {
    let dir = scratch("sweep-agg");
    assert!(sweep(&dir, &["--quiet", "--threads", "2"]).status.success());
    let mut runs = csv::Reader::from_path(dir.join("runs.csv")).unwrap();
    let h = runs.headers().unwrap().clone();
    let col = h.iter().position(|c| c == "users.latency_mean_s").unwrap();
    let mut by_point: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for r in runs.records() {
        let r = r.unwrap();
        by_point[r[0].parse::<usize>().unwrap()].push(r[col].parse().unwrap());
    }
    let mut points = csv::Reader::from_path(dir.join("points.csv")).unwrap();
    let h = points.headers().unwrap().clone();
    let at = |name: &str| h.iter().position(|c| c == name).unwrap();
    let mut means = Vec::new();
    for (p, r) in points.records().enumerate() {
        let r = r.unwrap();
        let xs = &by_point[p];
        assert_eq!(xs.len(), 5);
        let mean = xs.iter().sum::<f64>() / 5.0;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 4.0).sqrt();
        let get = |c: &str| r[at(c)].parse::<f64>().unwrap();
        assert!((get("users.latency_mean_s_mean") - mean).abs() < 1e-12);
        assert!((get("users.latency_mean_s_sd") - sd).abs() < 1e-12);
        // t(0.975, 4 degrees of freedom) = 2.776445.
        let half = 2.776_445_105_2 * sd / 5f64.sqrt();
        assert!((get("users.latency_mean_s_ci95_high") - (mean + half)).abs() < 1e-9);
        assert!((get("users.latency_mean_s_ci95_low") - (mean - half)).abs() < 1e-9);
        assert_eq!(&r[at("runs")], "5");
        means.push(mean);
    }
    // More workers, shorter waits: Erlang C at 8 Erlangs gives a mean response of 1.653 s
    // with 9 workers, 1.205 s with 10 and 1.035 s with 12. Five 20-minute runs at 89% load
    // are noisy (waits are correlated over minutes), so only loose bounds: the validation
    // tests check queueing theory closely.
    assert!(means[0] > means[1] && means[1] > means[2], "{means:?}");
    assert!(
        (1.3..2.0).contains(&means[0]) && (0.98..1.1).contains(&means[2]),
        "{means:?}"
    );
}

#[test]
fn bad_grids_are_refused_before_anything_runs() {
    let dir = scratch("sweep-bad");
    let out = dir.join("o");
    let o = outagesim(&[
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        "components.api.workers=4,0",
        "--replications",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("--set components.api.workers=0: components.api.workers: must be at least 1"),
        "{err}"
    );
    assert!(
        err.contains("(sweep point 1: components.api.workers=0)"),
        "{err}"
    );
    assert!(!out.exists(), "nothing is written");
    let o = outagesim(&[
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        "components.api.wrokers=4",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("did you mean 'workers'"),
        "{}",
        text(&o.stderr)
    );
    let o = outagesim(&[
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        "components.api.workers",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("expected PATH=V1,V2"),
        "{}",
        text(&o.stderr)
    );
    let bad = dir.join("bad-sweep.toml");
    std::fs::write(&bad, "base = \"x.toml\"\nreplicatons = 3\n").unwrap();
    let o = outagesim(&["sweep", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("replicatons"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn shipped_sweep_files_run() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/sweeps");
    for f in std::fs::read_dir(dir).unwrap() {
        let f = f.unwrap().path();
        let out = scratch(&format!(
            "sweep-shipped-{}",
            f.file_stem().unwrap().to_str().unwrap()
        ));
        let o = outagesim(&[
            "sweep",
            f.to_str().unwrap(),
            "--replications",
            "2",
            "--set",
            "scenario.duration=3m",
            "--set",
            "scenario.bucket=10s",
            "--quiet",
            "--threads",
            "2",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}: {}", f.display(), text(&o.stderr));
        assert!(out.join("points.csv").is_file());
    }
}

#[test]
fn shards_merge_into_the_unsharded_files_and_missing_ones_are_named() {
    let dir = scratch("sweep-shards");
    let (whole, sharded) = (dir.join("whole"), dir.join("sharded"));
    assert!(
        sweep(&whole, &["--quiet", "--threads", "2"])
            .status
            .success()
    );
    let sharded_s = sharded.to_str().unwrap().to_owned();
    // Shards in any order; 15 runs round-robin over 4 shards: 4, 4, 4, 3 runs.
    for i in ["3", "1", "4"] {
        let o = sweep(&sharded, &["--shard", &format!("{i}/4")]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    assert_eq!(
        read(&sharded.join("shard-4-of-4"), "runs.csv")
            .lines()
            .count(),
        4
    );
    // Shard 2 is missing: merge names it and the command that runs only it.
    let o = outagesim(&["merge", &sharded_s]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("1 of 4 shards missing: 2/4"), "{err}");
    let rerun = err
        .lines()
        .find(|l| l.trim_start().starts_with("outagesim sweep"))
        .unwrap_or_else(|| panic!("{err}"))
        .trim()
        .to_owned();
    assert!(rerun.ends_with("--shard 2/4 --resume"), "{rerun}");
    assert!(!sharded.join("runs.csv").exists(), "nothing merged");
    // A shard's command holding a NUL byte (a hand-edited sweep.json) cannot be printed as a
    // shell command: refused as bad input, naming it.
    let manifest = sharded.join("shard-1-of-4").join("sweep.json");
    let good = std::fs::read_to_string(&manifest).unwrap();
    let mut edited: serde_json::Value = serde_json::from_str(&good).unwrap();
    assert_eq!(edited["shard"]["command"][0], "sweep");
    edited["shard"]["command"][0] = "sw\0eep".into();
    std::fs::write(&manifest, serde_json::to_string(&edited).unwrap()).unwrap();
    let o = outagesim(&["merge", &sharded_s]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        text(&o.stderr),
        "error: \"sw\\0eep\" cannot be written as a shell word: it contains a NUL byte\n"
    );
    std::fs::write(&manifest, good).unwrap();
    // Running that command, as a shell splits it, completes the study (from the crate root,
    // as the shards ran).
    let words = shlex::split(&rerun).unwrap_or_else(|| panic!("not shell words: {rerun}"));
    let args: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
    let o = outagesim(&args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = outagesim(&["merge", &sharded_s]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("merged 4 shards"));
    for f in ["runs.csv", "points.csv", "sweep.json"] {
        assert_eq!(read(&whole, f), read(&sharded, f), "{f}");
    }
    // A finished shard run again is left alone; one of another sweep is refused.
    let o = sweep(&sharded, &["--shard", "1/4"]);
    assert!(
        text(&o.stdout).contains("already complete"),
        "{}",
        text(&o.stdout)
    );
    let o = sweep(
        &sharded,
        &["--shard", "1/4", "--set", "components.users.rate=7"],
    );
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains("holds another sweep"), "{err}");
    assert!(err.contains("sets [\"scenario.duration=20m\"] vs"), "{err}");
    // Shards of different sweeps do not merge.
    let other = dir.join("other");
    let o = sweep(
        &other,
        &[
            "--shard",
            "1/4",
            "--set",
            "components.users.rate=7",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = outagesim(&[
        "merge",
        other.join("shard-1-of-4").to_str().unwrap(),
        sharded.join("shard-2-of-4").to_str().unwrap(),
        "--out",
        dir.join("mixed").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("shards of different sweeps (sets"),
        "{}",
        text(&o.stderr)
    );
    // An interrupted shard: only its .partial folder exists until it completes.
    let cut = dir.join("cut");
    std::fs::create_dir_all(cut.join(".shard-1-of-2.partial")).unwrap();
    let o = outagesim(&["merge", cut.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("no complete shard yet; unfinished: 1/2"),
        "{}",
        text(&o.stderr)
    );
    let o = outagesim(&["merge", dir.join("nowhere").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("no such folder"));
}

#[test]
fn an_interrupted_shard_resumes_and_a_scheduler_task_finds_its_shard() {
    let dir = scratch("sweep-shard-resume");
    let (a, b) = (dir.join("a"), dir.join("b"));
    assert!(sweep(&a, &["--shard", "2/2", "--quiet"]).status.success());
    let done = read(&a.join("shard-2-of-2"), "runs.csv");
    // Interrupted after 3 of its 7 runs, with a torn line.
    let work = b.join(".shard-2-of-2.partial");
    std::fs::create_dir_all(&work).unwrap();
    let lines: Vec<&str> = done.lines().collect();
    let partial = lines[..4].join("\n") + "\n" + &lines[4][..10];
    std::fs::write(work.join("runs.csv.partial"), partial).unwrap();
    // A Slurm array of two tasks (IDs 1 and 2): task 2 is the second shard.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_outagesim"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(sweep_args(&b, &["--shard", "auto", "--resume"]))
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_MAX", "2")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("shard 2/2: 7 of 15 runs (4 run now, 3 resumed)"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(read(&b.join("shard-2-of-2"), "runs.csv"), done);
    assert!(!work.exists());
    // Outside a scheduler, auto says what it looked for.
    let o = sweep(&b, &["--shard", "auto"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("SLURM_ARRAY_TASK_ID"));
}

#[test]
fn latin_hypercube_samples_cover_each_range_and_combine_with_the_grid() {
    let dir = scratch("sweep-sample");
    let file = dir.join("lhs.toml");
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mmc.toml");
    std::fs::write(
        &file,
        format!(
            r#"base = {:?}
replications = 2
seed = 5
set = ["scenario.duration=5m"]
metrics = ["availability", "users.latency_mean_s"]

[grid]
"components.api.queue" = ["unbounded", 50]

[sample]
points = 8
"components.users.rate" = {{ uniform = [2.0, 8.0] }}
"components.api.service_time.mean" = {{ log_uniform = ["100ms", "1s"] }}
"components.api.workers" = {{ uniform = [10, 17] }}
"#,
            base.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = dir.join("o");
    let run = |out: &Path| {
        outagesim(&[
            "sweep",
            file.to_str().unwrap(),
            "--quiet",
            "--threads",
            "2",
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let o = run(&out);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut points = csv::Reader::from_path(out.join("points.csv")).unwrap();
    let h: Vec<String> = points
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        h[..6],
        [
            "point",
            "components.api.queue",
            "components.users.rate",
            "components.api.service_time.mean",
            "components.api.workers",
            "runs"
        ]
    );
    // Only the metrics asked for.
    assert_eq!(h.len(), 6 + 2 * 5);
    let rows: Vec<csv::StringRecord> = points.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 16);
    // The 8 sampled points repeat under each grid value; each range's 8 strata are hit once.
    let first: Vec<Vec<String>> = rows[..8]
        .iter()
        .map(|r| r.iter().skip(2).take(3).map(str::to_owned).collect())
        .collect();
    let second: Vec<Vec<String>> = rows[8..]
        .iter()
        .map(|r| r.iter().skip(2).take(3).map(str::to_owned).collect())
        .collect();
    assert_eq!(first, second);
    let mut strata = vec![[0; 3]; 8];
    for v in &first {
        let rate: f64 = v[0].parse().unwrap();
        strata[((rate - 2.0) / 6.0 * 8.0) as usize][0] += 1;
        let mean = v[1]
            .strip_suffix("ms")
            .map(|m| m.parse::<f64>().unwrap() / 1e3);
        let mean = mean.unwrap_or_else(|| v[1].trim_end_matches('s').parse().unwrap());
        strata[((mean / 0.1).log10() * 8.0) as usize][1] += 1;
        let workers: usize = v[2].parse().unwrap();
        strata[workers - 10][2] += 1;
    }
    assert!(strata.iter().all(|s| *s == [1, 1, 1]), "{strata:?}");
    // The same file again: the same bytes.
    let again = dir.join("again");
    assert!(run(&again).status.success());
    for f in ["runs.csv", "points.csv", "sweep.json"] {
        assert_eq!(read(&out, f), read(&again, f), "{f}");
    }
}

#[test]
fn sweep_file_errors_are_located() {
    let dir = scratch("sweep-file-errors");
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/mmc.toml");
    let cases: &[(&str, &str)] = &[
        (
            "[sample]\npoints = 4\n\"components.users.rate\" = { uniform = [9, 2] }\n",
            ":4:39: sample.\"components.users.rate\".uniform: low 9 is above high 2",
        ),
        (
            "[sample]\npoints = 4\n\"components.users.rate\" = { gaussian = [1, 2] }\n",
            ":4:29: sample.\"components.users.rate\": unknown range kind 'gaussian'",
        ),
        (
            "[sample]\n\"components.users.rate\" = { uniform = [1, 2] }\n",
            "sample: points missing",
        ),
        (
            "[sample]\npoints = 4\n\"x\" = { log_uniform = [0, 2] }\n",
            "needs a low bound above 0, found 0",
        ),
        (
            "metrics = [\"availabilty\"]\n",
            ":2:12: metrics: unknown metric 'availabilty'\n  hint: did you mean 'availability'?",
        ),
        (
            "[grid]\n\"a\" = 3\n",
            ":3:7: grid.\"a\": expected a list of values, found 3",
        ),
        (
            "[plot]\nmetric = \"availabilty\"\n",
            ":2:1: plot: metric: 'availabilty' is not a metric of this sweep\n  hint: did you mean 'availability'?",
        ),
        ("[plot]\nxx = 1\n", ":2:1: plot: unknown field `xx`"),
    ];
    for (i, (body, want)) in cases.iter().enumerate() {
        let f = dir.join(format!("bad-{i}.toml"));
        std::fs::write(&f, format!("base = {:?}\n{body}", base.to_str().unwrap())).unwrap();
        let o = outagesim(&[
            "sweep",
            f.to_str().unwrap(),
            "--out",
            dir.join("o").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "case {i}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains(want), "case {i}: want {want:?}\n got {err}");
        assert!(err.contains(&format!("bad-{i}.toml")), "{err}");
    }
    assert!(!dir.join("o").exists(), "nothing is written");
}

/// The peak memory a non-quiet sweep reports on its last line, in MiB.
fn peak_mib(o: &Output) -> Option<f64> {
    let out = text(&o.stdout);
    let tail = out.split("peak memory ").nth(1)?;
    tail.split_whitespace().next()?.parse().ok()
}

#[test]
fn memory_stays_flat_as_a_sweep_grows() {
    // Runs stream to disk in chunks and points aggregate as they go: 20x the runs must not
    // need more memory. Memory (unlike speed) does not depend on the machine's load; the
    // 4 MiB margin covers allocator and thread-stack noise. A million runs: see the README.
    let dir = scratch("sweep-memory");
    let run = |n: &str| {
        outagesim(&[
            "sweep",
            "scenarios/mmc.toml",
            "--replications",
            n,
            "--set",
            "scenario.duration=10s",
            "--set",
            "scenario.bucket=10s",
            "--set",
            "components.users.rate=1",
            "--threads",
            "2",
            "--out",
            dir.join(n).to_str().unwrap(),
        ])
    };
    let small = run("2000");
    let large = run("40000");
    assert!(large.status.success(), "{}", text(&large.stderr));
    let (Some(a), Some(b)) = (peak_mib(&small), peak_mib(&large)) else {
        eprintln!("no peak memory reported on this platform; skipped");
        return;
    };
    assert!(b <= a + 4.0, "2000 runs: {a} MiB, 40000 runs: {b} MiB");
    assert_eq!(read(&dir.join("40000"), "runs.csv").lines().count(), 40_001);
}

#[test]
fn a_runaway_grid_is_refused_before_anything_runs() {
    let values: Vec<String> = (1..=400).map(|n| n.to_string()).collect();
    let values = values.join(",");
    let workers = format!("components.api.workers={values}");
    let replicas = format!("components.api.replicas={values}");
    let dir = crate::common::scratch("runaway-grid");
    let out = dir.join("out");
    let o = crate::common::outagesim(&[
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        &workers,
        "--param",
        &replicas,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let said = crate::common::text(&o.stderr);
    assert!(
        said.contains(
            "the sweep has more than 100000 points: components.api.workers (400 values) x components.api.replicas (400 values)"
        ),
        "{said}"
    );
    assert!(!out.join("runs.csv").exists());
}
