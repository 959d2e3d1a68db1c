//! Safe and bounded: output folders (one writer, a run replaced whole, no planted link
//! followed, checksummed rows, one sweep per folder), the run guards (exit 3), the input size
//! limit, and a closed stdout pipe.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::common::{WEB_LIGHT, outagesim, scratch, text};

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn run_mmc(out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "scenarios/mmc.toml",
        "--set",
        "scenario.duration=10m",
        "--quiet",
        "--no-plots",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    outagesim(&args)
}

/// Holds `out`'s lock as another outagesim process would.
fn hold_lock(out: &Path) -> std::fs::File {
    let name = out.file_name().unwrap().to_string_lossy().into_owned();
    let path = out.parent().unwrap().join(format!(".{name}.lock"));
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .unwrap();
    use std::os::unix::io::AsRawFd as _;
    // SAFETY: flock on the descriptor of a file kept open by the returned value.
    assert_eq!(
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    f
}

#[test]
fn a_run_replaces_its_folder_whole_and_never_follows_a_planted_link() {
    let dir = scratch("safety-run-folder");
    let out = dir.join("run");
    assert!(run_mmc(&out, &[]).status.success());
    let fresh = listing(&out);
    // Stale files of an earlier run, and a link planted where partial files used to go.
    std::fs::write(out.join("stale.csv"), "old").unwrap();
    std::fs::create_dir_all(out.join("what-ifs/gone")).unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("summary.json.partial")).unwrap();
    let o = run_mmc(&out, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(listing(&out), fresh);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    // Beside the folder: the victim, the folder and its lock file; no staging left over.
    assert_eq!(listing(&dir), [".run.lock", "run", "victim"]);
    // A folder that is not a run's is left alone.
    let mine = dir.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("notes.txt"), "mine").unwrap();
    let o = run_mmc(&mine, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("is not a run's output folder"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(listing(&mine), ["notes.txt"]);
}

#[test]
fn a_second_writer_is_refused_and_a_dead_one_blocks_nothing() {
    let dir = scratch("safety-lock");
    let out = dir.join("run");
    let held = hold_lock(&out);
    let o = run_mmc(&out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("is being written by another outagesim process"),
        "{}",
        text(&o.stderr)
    );
    assert!(text(&o.stderr).contains("hint:"));
    assert!(!out.exists());
    let sweep_out = dir.join("sweep");
    let _held_sweep = hold_lock(&sweep_out);
    let o = outagesim(&[
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        "components.api.workers=9,10",
        "--replications",
        "2",
        "--set",
        "scenario.duration=5m",
        "--out",
        sweep_out.to_str().unwrap(),
        "--no-plots",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    // The lock dies with its holder: a lock file left behind blocks nothing.
    drop(held);
    assert!(dir.join(".run.lock").exists());
    let o = run_mmc(&out, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

fn small_sweep(out: &Path, workers: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        workers,
        "--replications",
        "3",
        "--seed",
        "5",
        "--set",
        "scenario.duration=10m",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
        "--no-plots",
    ];
    args.extend_from_slice(extra);
    outagesim(&args)
}

#[test]
fn sweeps_checksum_their_rows_and_keep_to_one_sweep_a_folder() {
    let dir = scratch("safety-sweep");
    let (full, cut) = (dir.join("full"), dir.join("cut"));
    let w = "components.api.workers=9,10,12";
    assert!(small_sweep(&full, w, &[]).status.success());
    let runs = std::fs::read_to_string(full.join("runs.csv")).unwrap();
    let sums = std::fs::read_to_string(full.join("runs.csv.sums")).unwrap();
    assert_eq!(sums.lines().count() + 1, runs.lines().count());
    assert!(sums.lines().all(|l| l.len() == 8));

    // Resume: rows 1..5 kept, row 6 edited after its checksum was written: it and what
    // follows run again, and the files end the same as an uninterrupted sweep's.
    std::fs::create_dir_all(&cut).unwrap();
    let lines: Vec<&str> = runs.lines().collect();
    let mut partial = lines[..6].join("\n") + "\n";
    partial.push_str(lines[6]);
    partial.push('7');
    partial.push('\n');
    std::fs::write(cut.join("runs.csv.partial"), partial).unwrap();
    let sum_lines: Vec<&str> = sums.lines().collect();
    std::fs::write(
        cut.join("runs.csv.sums.partial"),
        sum_lines[..6].join("\n") + "\n",
    )
    .unwrap();
    let o = small_sweep(&cut, w, &["--resume"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for f in ["runs.csv", "runs.csv.sums", "points.csv", "sweep.json"] {
        assert_eq!(
            std::fs::read(full.join(f)).unwrap(),
            std::fs::read(cut.join(f)).unwrap(),
            "{f}"
        );
    }

    // A link planted at the partial file's path is replaced, not written through.
    let victim = dir.join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, cut.join("runs.csv.partial")).unwrap();
    let o = small_sweep(&cut, w, &[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(
        std::fs::read(full.join("runs.csv")).unwrap(),
        std::fs::read(cut.join("runs.csv")).unwrap()
    );

    // Another sweep into the same folder is refused, and --force replaces the folder.
    let other = "components.api.workers=9,11";
    let o = small_sweep(&cut, other, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("holds another sweep"), "{err}");
    assert!(err.contains("--force"), "{err}");
    std::fs::write(cut.join("points.csv.bak"), "x").unwrap();
    let o = small_sweep(&cut, other, &["--force"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("also holds points.csv.bak"));
    std::fs::remove_file(cut.join("points.csv.bak")).unwrap();
    std::fs::create_dir_all(cut.join("plots")).unwrap();
    std::fs::write(cut.join("plots/old.png"), "x").unwrap();
    let o = small_sweep(&cut, other, &["--force"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        listing(&cut),
        [
            "bands.csv",
            "points.csv",
            "runs.csv",
            "runs.csv.sums",
            "sweep.json"
        ]
    );
}

#[test]
fn merge_refuses_a_cut_or_edited_shard_row_with_its_line() {
    let dir = scratch("safety-merge");
    let w = "components.api.workers=9,10";
    for s in ["1/2", "2/2"] {
        let o = small_sweep(&dir, w, &["--shard", s]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let merged = dir.join("merged");
    let o = outagesim(&[
        "merge",
        dir.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
        "--quiet",
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let shard = dir.join("shard-2-of-2").join("runs.csv");
    let good = std::fs::read_to_string(&shard).unwrap();
    // The last row cut short (as by a full disk), then one cell of it edited.
    let cut = &good[..good.len() - 4];
    let last = good.trim_end().lines().count();
    let edited = {
        let mut lines: Vec<String> = good.lines().map(str::to_owned).collect();
        let l = lines.last_mut().unwrap();
        let at = l.rfind(',').unwrap();
        l.replace_range(at + 1.., "0.5");
        lines.join("\n") + "\n"
    };
    for bad in [cut.to_owned(), edited] {
        std::fs::write(&shard, &bad).unwrap();
        let o = outagesim(&[
            "merge",
            dir.to_str().unwrap(),
            "--out",
            merged.to_str().unwrap(),
            "--no-plots",
        ]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(
            err.contains(&format!("{}:{last}:", shard.display())),
            "{err}"
        );
        assert!(err.contains("does not match its checksum"), "{err}");
    }
}

#[test]
fn a_runaway_run_stops_with_exit_3_naming_who_sent_the_events() {
    let dir = scratch("safety-guard");
    // A million requests a second into one replica for two hours.
    let o = outagesim(&[
        "run",
        "scenarios/mmc.toml",
        "--set",
        "components.users.rate=1000000",
        "--max-events",
        "300000",
        "--quiet",
        "--out",
        dir.join("runaway").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("events committed, over --max-events 300000"),
        "{err}"
    );
    assert!(err.contains("largest event producers"), "{err}");
    assert!(err.contains("users (client)"), "{err}");
    assert!(!dir.join("runaway").exists(), "nothing is written");
    // The memory guard: every waiting request holds a pending timeout.
    let o = outagesim(&[
        "run",
        "scenarios/mmc.toml",
        "--set",
        "components.users.rate=1000000",
        "--max-pending",
        "100000",
        "--quiet",
        "--out",
        dir.join("runaway").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("events pending at once, over --max-pending 100000"));
    // In a sweep, the run that goes past the limit stops the sweep the same way.
    let o = outagesim(&[
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        "components.users.rate=1,1000000",
        "--replications",
        "1",
        "--max-events",
        "300000",
        "--quiet",
        "--out",
        dir.join("sweep").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("run 1"), "{}", text(&o.stderr));
}

#[test]
fn both_executors_stop_at_the_same_event_and_a_generous_limit_changes_nothing() {
    let dir = scratch("safety-guard-exec");
    let stop = |threads: &str| {
        outagesim(&[
            "run",
            "scenarios/web-three-tier.toml",
            "--max-events",
            "200000",
            "--threads",
            threads,
            "--partitioned",
            "--quiet",
            "--out",
            dir.join("x").to_str().unwrap(),
        ])
    };
    let (one, two) = (stop("1"), stop("2"));
    assert_eq!(one.status.code(), Some(3), "{}", text(&one.stderr));
    assert_eq!(two.status.code(), Some(3));
    assert_eq!(text(&one.stderr), text(&two.stderr));
    // Outputs with and without generous limits, on one thread and on two, are the same bytes.
    let run = |name: &str, extra: &[&str]| {
        let out = dir.join(name);
        let mut args = vec![
            "run",
            "scenarios/web-three-tier.toml",
            "--set",
            "scenario.duration=30m",
            WEB_LIGHT[0],
            WEB_LIGHT[1],
            WEB_LIGHT[2],
            WEB_LIGHT[3],
            "--quiet",
            "--no-plots",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = outagesim(&args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let mut files = Vec::new();
        for f in listing(&out) {
            if f != "summary.json" {
                files.push((f.clone(), std::fs::read(out.join(&f)).unwrap()));
            }
        }
        files
    };
    let plain = run("plain", &[]);
    let limited = run(
        "limited",
        &[
            "--max-events",
            "1e10",
            "--max-pending",
            "1e8",
            "--threads",
            "2",
            "--partitioned",
        ],
    );
    assert!(!plain.is_empty());
    assert_eq!(plain, limited);
}

#[test]
fn an_input_over_the_size_limit_is_refused_before_anything_runs() {
    let dir = scratch("safety-size");
    let big = dir.join("big.toml");
    let mut text_ = std::fs::read_to_string("scenarios/mmc.toml").unwrap();
    let filler = format!("# {}\n", "x".repeat(1000));
    while text_.len() <= 16 * 1024 * 1024 {
        text_.push_str(&filler);
    }
    std::fs::write(&big, text_).unwrap();
    for cmd in [
        vec!["run", big.to_str().unwrap()],
        vec!["validate", big.to_str().unwrap()],
        vec![
            "sweep",
            big.to_str().unwrap(),
            "--param",
            "scenario.seed=1,2",
        ],
    ] {
        let o = outagesim(&cmd);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        assert!(err.contains("larger than 16 MiB"), "{err}");
        assert!(err.contains("hint:"), "{err}");
    }
}

#[test]
fn a_closed_stdout_pipe_is_not_a_crash() {
    for args in [
        vec!["describe", "scenarios/web-three-tier.toml", "--settings"],
        vec!["schema"],
        vec!["validate", "scenarios/mmc.toml"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_outagesim"))
            .args(&args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the program writes (as `| head -1` does after a line).
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = text(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            !matches!(o.status.code(), Some(1 | 101 | 134)),
            "{args:?}: {:?} {err}",
            o.status
        );
    }
}

#[test]
fn an_output_folder_that_cannot_be_one_is_bad_input() {
    let dir = scratch("safety-out-file");
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = run_mmc(&file, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("is not a folder"));
    let o = small_sweep(&file, "components.api.workers=9,10", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = run_mmc(&file.join("below"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let o = outagesim(&["run", "scenarios/mmc.toml", "--out", "."]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("name a folder"));
    let o = outagesim(&[
        "merge",
        dir.to_str().unwrap(),
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}
