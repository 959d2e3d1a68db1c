//! `outagesim lint`: warnings with the file position, the path and a fix, exit 0; the same
//! warnings on stderr from `validate` and `run`, which still succeed.

use crate::common::{outagesim, scratch, text};

#[test]
fn lint_warns_and_exits_0_and_validate_and_run_repeat_it_on_stderr() {
    let o = outagesim(&["lint", "scenarios/mmc.toml"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with(
            "warning: scenarios/mmc.toml:28:1: components.api.replicas: single point of failure"
        ),
        "{out}"
    );
    assert!(out.contains("\n  fix: set replicas = 2"), "{out}");
    assert!(
        out.ends_with("1 warning (outagesim lint explains; they do not stop a run)\n"),
        "{out}"
    );

    let v = outagesim(&["validate", "scenarios/mmc.toml"]);
    assert_eq!(v.status.code(), Some(0));
    assert_eq!(text(&v.stderr), out);
    assert!(text(&v.stdout).contains(": ok"));

    let dir = scratch("lint-run");
    let r = outagesim(&[
        "run",
        "scenarios/mmc.toml",
        "--set",
        "scenario.duration=1m",
        "--no-plots",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(r.status.code(), Some(0));
    assert_eq!(text(&r.stderr), out);
}

#[test]
fn a_clean_scenario_has_no_warnings_and_bad_input_is_still_an_error() {
    let o = outagesim(&["lint", "scenarios/retry-storm-metastable.toml"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        text(&o.stdout),
        "scenarios/retry-storm-metastable.toml: no warnings\n"
    );
    let o = outagesim(&[
        "lint",
        "scenarios/mmc.toml",
        "--set",
        "components.api.workers=0",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("components.api.workers"));
}
