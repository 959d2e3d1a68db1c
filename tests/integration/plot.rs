//! `outagesim plot`: a run's and a sweep's folders drawn as PNG and SVG with their titles, axis
//! titles and legends, the same bytes on a second run, and folders or names it cannot plot
//! refused as bad input.

use std::path::{Path, PathBuf};

use crate::common::{outagesim, scratch, text};

/// web-three-tier cut to 12 minutes (lb-east down from 4 to 8 min, lighter user traffic):
/// four client groups, a crash fault and an alarm.
fn run_folder(dir: &Path) -> PathBuf {
    let out = dir.join("run");
    let o = outagesim(&[
        "run",
        "scenarios/web-three-tier.toml",
        "--set",
        "scenario.duration=12m",
        "--set",
        "faults.0.at=4m",
        "--set",
        "faults.0.duration=4m",
        "--set",
        "components.users-east.rate=40",
        "--set",
        "components.users-west.rate=30",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    out
}

/// M/M/c for 10 minutes: workers 9, 10, 12 x queue unbounded, 20 (a parameter of names),
/// 3 replications.
fn sweep_folder(dir: &Path) -> PathBuf {
    let out = dir.join("sweep");
    let o = outagesim(&[
        "sweep",
        "scenarios/mmc.toml",
        "--param",
        "components.api.workers=9,10,12",
        "--param",
        "components.api.queue=unbounded,20",
        "--replications",
        "3",
        "--seed",
        "5",
        "--set",
        "scenario.duration=10m",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    out
}

/// Runs `outagesim plot` with `args` after the folder; returns the files it printed.
fn plot(dir: &Path, args: &[&str]) -> Vec<PathBuf> {
    let mut all = vec!["plot", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    let o = outagesim(&all);
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout).lines().map(PathBuf::from).collect()
}

/// Checks a PNG: its signature, an IHDR of `size` and at least `min_kb` KiB.
fn check_png(path: &Path, size: (u32, u32), min_kb: usize) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n", "{}", path.display());
    assert_eq!(&b[12..16], b"IHDR", "{}", path.display());
    let be = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    assert_eq!((be(16), be(20)), size, "{}", path.display());
    assert!(
        b.len() > min_kb * 1024,
        "{}: {} bytes",
        path.display(),
        b.len()
    );
}

/// Checks an SVG's size and returns its text.
fn check_svg(path: &Path, min_kb: usize) -> String {
    let s = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(s.starts_with("<svg"), "{}", path.display());
    assert!(
        s.len() > min_kb * 1024,
        "{}: {} bytes",
        path.display(),
        s.len()
    );
    s
}

fn contains_all(svg: &str, what: &str, texts: &[&str]) {
    for t in texts {
        assert!(svg.contains(t), "{what} lacks {t:?}");
    }
}

#[test]
fn a_run_folder_plots_its_availability_components_and_blast_radius() {
    let dir = scratch("plot-run");
    let run = run_folder(&dir);
    let files = plot(&run, &[]);
    let p = run.join("plots");
    let mut expect: Vec<PathBuf> = ["availability", "blast-radius", "components", "latency"]
        .iter()
        .flat_map(|n| [p.join(format!("{n}.png")), p.join(format!("{n}.svg"))])
        .collect();
    expect.sort();
    assert_eq!(files, expect);

    check_png(&p.join("availability.png"), (1200, 700), 15);
    let svg = check_svg(&p.join("availability.svg"), 8);
    contains_all(
        &svg,
        "availability.svg",
        &[
            "web-three-tier: availability by client group",
            "time since start (min)",
            "availability (fraction of requests)",
            "users-east",
            "users-west",
            "partners",
            "scrapers",
            "lb-east down (crash)",
            "alarm: partners-down",
        ],
    );

    // Two panels: utilisation, and replicas up.
    check_png(&p.join("components.png"), (1200, 960), 15);
    let svg = check_svg(&p.join("components.svg"), 8);
    contains_all(
        &svg,
        "components.svg",
        &[
            "web-three-tier: components",
            "utilisation (fraction of workers busy)",
            "lb-east (load_balancer)",
            "app (service)",
            "db (storage)",
            "replicas up (solid) and provisioned (dashed)",
            "lb-east down (crash)",
        ],
    );
    check_png(&p.join("blast-radius.png"), (1200, 700), 10);
    let svg = check_svg(&p.join("blast-radius.svg"), 5);
    contains_all(
        &svg,
        "blast-radius.svg",
        &[
            "web-three-tier: blast radius",
            "fraction of groups impacted",
            "client groups below the SLO (of 4)",
            "component groups failing (of 11)",
        ],
    );

    // Drawn again: the same bytes.
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    assert_eq!(plot(&run, &[]), files);
    for (f, b) in files.iter().zip(&before) {
        assert!(std::fs::read(f).unwrap() == *b, "{} changed", f.display());
    }
}

#[test]
fn a_sweep_folder_plots_a_metric_its_nines_and_the_downtime() {
    let dir = scratch("plot-sweep");
    let sweep = sweep_folder(&dir);
    let p = sweep.join("plots");
    let files = plot(&sweep, &[]);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&p).unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "availability-nines.png",
            "availability-nines.svg",
            "availability.png",
            "availability.svg",
            "bands.png",
            "bands.svg",
            "downtime.png",
            "downtime.svg"
        ]
    );
    for f in ["availability", "availability-nines", "downtime"] {
        check_png(&p.join(format!("{f}.png")), (1200, 700), 10);
    }
    let svg = check_svg(&p.join("availability.svg"), 5);
    // The x axis labels the measured workers (9, 10, 12) and not 11, which nobody ran.
    let texts: Vec<String> = svg
        .replace('\n', "")
        .split("<text")
        .skip(1)
        .filter_map(|t| {
            Some(
                t.split_once('>')?
                    .1
                    .split_once("</text>")?
                    .0
                    .trim()
                    .to_owned(),
            )
        })
        .collect();
    for w in ["9", "10", "12"] {
        assert!(texts.iter().any(|t| t == w), "no tick {w} in {texts:?}");
    }
    assert!(
        !texts.iter().any(|t| t == "11"),
        "a tick at 11 in {texts:?}"
    );
    contains_all(
        &svg,
        "availability.svg",
        &[
            "mmc: availability vs components.api.workers",
            "components.api.workers",
            "availability (fraction of requests)",
            "queue=unbounded",
            "queue=20",
        ],
    );
    let svg = check_svg(&p.join("availability-nines.svg"), 5);
    contains_all(
        &svg,
        "availability-nines.svg",
        &["nines (-log10(1 - availability))", "is drawn at 9 nines"],
    );
    let svg = check_svg(&p.join("downtime.svg"), 5);
    contains_all(
        &svg,
        "downtime.svg",
        &[
            "worst downtime per replication (3 runs per point)",
            "workers, queue",
            "9, unbounded",
            "12, 20",
        ],
    );

    // Flags pick the metric and the axes: the queue across, one line per worker count.
    let files = plot(
        &sweep,
        &[
            "--metric",
            "users.latency_p99_s",
            "--x",
            "components.api.queue",
            "--series",
            "components.api.workers",
        ],
    );
    assert!(files.contains(&p.join("users.latency_p99_s.png")));
    assert!(
        !files
            .iter()
            .any(|f| f.to_string_lossy().contains("p99_s-nines"))
    );
    let svg = check_svg(&p.join("users.latency_p99_s.svg"), 5);
    contains_all(
        &svg,
        "users.latency_p99_s.svg",
        &[
            "users.latency_p99_s vs components.api.queue",
            "users.latency_p99_s (s)",
            "workers=9",
            "workers=12",
            "unbounded",
        ],
    );

    // Drawn again: the same bytes.
    let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let again = plot(
        &sweep,
        &[
            "--metric",
            "users.latency_p99_s",
            "--x",
            "components.api.queue",
            "--series",
            "components.api.workers",
        ],
    );
    assert_eq!(again, files);
    for (f, b) in files.iter().zip(&before) {
        assert!(std::fs::read(f).unwrap() == *b, "{} changed", f.display());
    }
}

#[test]
fn folders_and_names_it_cannot_plot_are_bad_input() {
    let dir = scratch("plot-bad");
    let o = outagesim(&["plot", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("is not an output folder"), "{err}");
    assert!(
        err.contains(
            "expected summary.json + timeseries.csv (a run) or points.csv + runs.csv (a sweep)"
        ),
        "{err}"
    );
    assert!(!dir.join("plots").exists());

    // A sweep folder written by hand, so that no simulation runs.
    std::fs::write(
        dir.join("points.csv"),
        "point,a.n,runs,availability_mean,availability_sd,availability_ci95_low,availability_ci95_high,availability_n,\
         worst_downtime_s_mean,worst_downtime_s_sd,worst_downtime_s_ci95_low,worst_downtime_s_ci95_high,worst_downtime_s_n\n\
         0,1,2,0.99,0.01,0.9,1,2,30,42.4,0,411,2\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("runs.csv"),
        "point,replication,seed,a.n,availability,worst_downtime_s\n0,0,1,1,0.98,60\n0,1,2,1,1,0\n",
    )
    .unwrap();
    let bad = |args: &[&str], expect: &[&str]| {
        let mut all = vec!["plot", dir.to_str().unwrap()];
        all.extend_from_slice(args);
        let o = outagesim(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o.stderr));
        let err = text(&o.stderr);
        for e in expect {
            assert!(err.contains(e), "{args:?}: {err}");
        }
    };
    bad(
        &["--metric", "availabilty"],
        &[
            "unknown metric 'availabilty'",
            "did you mean 'availability'?",
        ],
    );
    bad(
        &["--x", "a.m"],
        &["unknown parameter 'a.m'", "did you mean 'a.n'?"],
    );
    bad(
        &["--metric", "worst_downtime_s", "--nines"],
        &["the nines scale is for an availability"],
    );
    // The same folder plots once the names are right.
    let files = plot(&dir, &["--metric", "worst_downtime_s"]);
    assert!(files.contains(&dir.join("plots/worst_downtime_s.svg")));

    // Sweep flags on a run's folder.
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(
        run.join("summary.json"),
        r#"{"scenario": "x", "duration_s": 60}"#,
    )
    .unwrap();
    std::fs::write(
        run.join("timeseries.csv"),
        "time_s,client,requests,attempts,successes,degraded,errors,timeouts,availability,goodput_per_s,latency_mean_s,latency_p50_s,latency_p90_s,latency_p99_s\n",
    )
    .unwrap();
    let o = outagesim(&["plot", run.to_str().unwrap(), "--metric", "availability"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("is a run's output folder"));
}

#[test]
fn the_components_plot_shows_gossip_work_when_a_group_gossips() {
    // The S3 2008 storm cut to its first 40 minutes (the storm is under way by 08:36): the
    // servers' gossip work (dashed) under their utilisation. web-three-tier's storage gossips
    // too, but under 1% of its workers: not drawn.
    let dir = scratch("plot-gossip");
    let out = dir.join("s3");
    let o = outagesim(&[
        "run",
        "scenarios/s3-2008-gossip.toml",
        "--set",
        "scenario.duration=40m",
        "--set",
        "components.customers.rate=5",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let svg = std::fs::read_to_string(out.join("plots/components.svg")).unwrap();
    assert!(svg.contains("of it, merging gossip (dashed)"));
    let quiet = run_folder(&dir);
    let svg = std::fs::read_to_string(quiet.join("plots/components.svg")).unwrap();
    assert!(!svg.contains("merging gossip"));
}
