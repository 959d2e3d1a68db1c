//! Defaults a user gets without flags: `--threads` is the cores available for `run` (and its
//! what-ifs) and `sweep`, and the outputs do not depend on it.

use crate::common::{outagesim, scratch, text};

fn threads_default(help: &str) -> String {
    let line = help
        .split("--threads")
        .nth(1)
        .unwrap_or_else(|| panic!("no --threads in {help}"));
    let d = line.split("[default: ").nth(1).unwrap();
    d.split(']').next().unwrap().to_owned()
}

#[test]
fn threads_default_to_the_available_cores() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for cmd in ["run", "sweep"] {
        let o = outagesim(&[cmd, "--help"]);
        assert!(o.status.success());
        assert_eq!(
            threads_default(&text(&o.stdout)),
            cores.to_string(),
            "{cmd}"
        );
    }
}

#[test]
fn a_run_without_threads_writes_what_one_thread_writes() {
    let dir = scratch("defaults-threads");
    let run = |name: &str, extra: &[&str]| {
        let out = dir.join(name);
        let mut args = vec![
            "run",
            "scenarios/web-three-tier.toml",
            "--set",
            "scenario.duration=5m",
            "--quiet",
            "--no-plots",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = outagesim(&args);
        assert!(o.status.success(), "{}", text(&o.stderr));
        out
    };
    let (a, b) = (run("default", &[]), run("one", &["--threads", "1"]));
    for f in [
        "timeseries.csv",
        "components.csv",
        "events.csv",
        "blast_radius.csv",
    ] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
}
