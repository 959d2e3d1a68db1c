//! The command line as a user meets it: output shape, agreement with the baseline, and
//! clear refusals of bad input with exit code 2.

use std::process::{Command, Output};

fn outagesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_outagesim"))
        .args(args)
        .output()
        .expect("the outagesim binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SMALL: &[&str] = &[
    "bench",
    "phold",
    "--lps",
    "64",
    "--start-events",
    "4",
    "--events",
    "2e4",
];

#[test]
fn phold_json_prints_engine_and_baseline_with_the_same_checksum() {
    let mut args = SMALL.to_vec();
    args.extend(["--baseline", "--json", "--threads", "2"]);
    let o = outagesim(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["engine"], "outagesim");
    assert_eq!(rows[0]["executor"], "partitioned");
    assert_eq!(rows[0]["threads"], 2);
    assert_eq!(rows[0]["partitions"], 8);
    assert_eq!(rows[1]["engine"], "baseline");
    for key in [
        "events",
        "seconds",
        "events_per_sec",
        "threads",
        "partitions",
        "checksum",
    ] {
        assert!(
            rows[0].get(key).is_some() && rows[1].get(key).is_some(),
            "missing {key}"
        );
    }
    assert_eq!(rows[0]["checksum"], rows[1]["checksum"]);
    assert_eq!(rows[0]["events"], rows[1]["events"]);
    assert!(rows[0]["events"].as_u64().unwrap() >= 20_000);
}

#[test]
fn phold_output_is_the_same_for_any_thread_count() {
    let run = |threads: &str, parts: &str| {
        let mut args = SMALL.to_vec();
        args.extend(["--json", "--threads", threads, "--partitions", parts]);
        let o = outagesim(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (v["checksum"].clone(), v["events"].clone())
    };
    let one = run("1", "5");
    assert_eq!(one, run("2", "5"));
    assert_eq!(one, run("4", "5"));
    assert_eq!(one, run("3", "64"));
}

#[test]
fn phold_table_reports_speed_up_and_agreement() {
    let mut args = SMALL.to_vec();
    args.push("--baseline");
    let o = outagesim(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("events/s"), "{text}");
    assert!(text.contains("speed-up over baseline"), "{text}");
    assert!(text.contains("(same events and checksum)"), "{text}");
}

#[test]
fn bad_phold_parameters_exit_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--remote", "1.5"],
            "--remote must be within 0..=1, got 1.5",
        ),
        (&["--mean", "0.05"], "--mean must be >= --lookahead"),
        (&["--lps", "0"], "--lps must be at least 1"),
        (&["--threads", "0"], "--threads must be at least 1"),
        (&["--partitions", "0"], "--partitions must be at least 1"),
        (&["--events", "lots"], "invalid count \"lots\""),
        (&["--lookahead", "-1"], "--lookahead must be > 0"),
    ];
    for (extra, expect) in cases {
        let mut args = vec!["bench", "phold"];
        args.extend_from_slice(extra);
        let o = outagesim(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expect), "{extra:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "no half output on bad input");
    }
}

#[test]
fn unknown_flags_and_commands_exit_2() {
    let o = outagesim(&["bench", "phold", "--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--bogus"));
    let o = outagesim(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("frobnicate"));
    // A seed a scenario file cannot hold is refused by the flag parser, naming the range.
    let o = outagesim(&[
        "run",
        "scenarios/mmc.toml",
        "--seed",
        "18446744073709551615",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("0..=9223372036854775807"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_file_that_is_not_utf8_is_refused_at_its_first_bad_byte() {
    let dir = crate::common::scratch("not-utf8");
    let file = dir.join("latin1.toml");
    std::fs::write(&file, b"[scenario]\nname = \"caf\xe9\"\n").unwrap();
    let o = outagesim(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let want = format!(
        "error: {}:2:12: the file is not UTF-8 text (byte 0xe9)",
        file.display()
    );
    assert!(stderr(&o).contains(&want), "{}", stderr(&o));
}

#[test]
fn help_and_version_exit_0() {
    let o = outagesim(&["--help"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("bench"));
    let o = outagesim(&["--version"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn bench_topology_prints_both_scales_with_the_same_events() {
    let o = outagesim(&[
        "bench",
        "topology",
        "scenarios/mmc.toml",
        "--factor",
        "3",
        "--duration",
        "20s",
        "--repeat",
        "1",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["factor"], 1);
    assert_eq!(rows[1]["factor"], 3);
    assert_eq!(rows[0]["simulated_s"], 60.0);
    assert_eq!(rows[1]["simulated_s"], 20.0);
    assert_eq!(
        rows[1]["entities"],
        3 * rows[0]["entities"].as_u64().unwrap()
    );
    for r in &rows {
        for f in ["round", "entities", "events", "cpu_s", "ns_per_event"] {
            assert!(r[f].is_number(), "{f} in {r}");
        }
    }
    // Three copies for 20 s and one for 60 s: about the same events (Poisson counts).
    let (a, b) = (
        rows[0]["events"].as_f64().unwrap(),
        rows[1]["events"].as_f64().unwrap(),
    );
    assert!((b / a - 1.0).abs() < 0.1, "{a} and {b} events");
    // The table names the comparison.
    let o = outagesim(&[
        "bench",
        "topology",
        "scenarios/mmc.toml",
        "--factor",
        "2",
        "--duration",
        "10s",
        "--repeat",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = String::from_utf8(o.stdout).unwrap();
    assert!(t.contains("x1 for 20s against x2 for 10s"), "{t}");
    assert!(t.contains("cost per event at x2:"), "{t}");
}

#[test]
fn bench_topology_bad_options_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--factor", "1"], "--factor 1: must be from 2 to 256"),
        (&["--factor", "1000"], "--factor 1000"),
        (&["--repeat", "0"], "--repeat 0"),
        (&["--duration", "30"], "--duration \"30\""),
        (&["--duration", "0s"], "--duration 0s"),
        (&["no/such.toml"], "cannot read scenario file no/such.toml"),
    ];
    for (extra, expect) in cases {
        let mut args = vec!["bench", "topology"];
        args.extend_from_slice(extra);
        let o = outagesim(&args);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expect), "{extra:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "no half output on bad input");
    }
    // A scenario's own problem is located in its file.
    let dir = crate::common::scratch("bench-topology-bad");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[scenario]\nname = \"b\"\nduration = \"1m\"\n\n[components.api]\nkind = \"service\"\nworkers = -3\n",
    )
    .unwrap();
    let o = outagesim(&["bench", "topology", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad.toml:7:"), "{}", stderr(&o));
}
