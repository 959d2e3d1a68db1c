//! Helpers shared by the tests that drive the `outagesim` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the binary from the crate root.
pub fn outagesim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_outagesim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the outagesim binary runs")
}

/// Bytes as text, for messages.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh, empty directory under the target directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `--set` arguments that run `scenarios/web-three-tier.toml` with a fifth of its users (40 and
/// 24 requests per second in the two regions instead of 200 and 120): the same topology, faults,
/// health checks and failover at a fifth of the events, for tests about bytes and pages rather
/// than figures.
pub const WEB_LIGHT: [&str; 4] = [
    "--set",
    "components.users-east.rate=40",
    "--set",
    "components.users-west.rate=24",
];

/// Writes `toml` to `dir/name` and runs it: it must be refused with exit code 2, the problem
/// located at `name:row:` and its message containing `want`.
pub fn assert_refused(dir: &Path, name: &str, toml: &str, row: u32, want: &str) {
    let file = dir.join(name);
    std::fs::write(&file, toml).unwrap();
    let o = outagesim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{toml}\n{err}");
    let at = format!("{name}:{row}:");
    assert!(err.contains(&at), "want {at} in {err}");
    assert!(err.contains(want), "want {want} in {err}");
}
