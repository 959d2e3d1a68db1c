//! What users read after a run: the summary table and summary.json (latency of groups without
//! a success, rounded durations, incident wording, column widths, chronically down groups).

use std::path::Path;

use crate::common::{outagesim, scratch, text};

/// A client with a name longer than 20 characters, a client a firewall denies from the first
/// second (no success: no latency), a crash at an odd time and a monitor whose alarm fires
/// some seconds into the impact; no action.
const SCENARIO: &str = r#"
[scenario]
name = "summary-text"
duration = "30m"
seed = 4
bucket = "1m"

[components.a-client-with-a-rather-long-name]
kind = "client"
rate = 50.0
target = "fw"
timeout = "1s"

[components.scrapers]
kind = "client"
rate = 5.0
target = "fw"
timeout = "1s"

[components.fw]
kind = "firewall"
next = "api"
deny = ["scrapers"]

[components.api]
kind = "service"
replicas = 1
workers = 20
service_time = "10ms"

[components.noc]
kind = "monitor"
period = "7310ms"

[[alarms]]
name = "down"
group = "a-client-with-a-rather-long-name"
metric = "availability"
below = 0.9
for = "27s"

[[faults]]
name = "api-crash"
kind = "crash"
target = "api"
at = "617300ms"
duration = "5m"
"#;

fn run_scenario(name: &str) -> (std::path::PathBuf, String) {
    let dir = scratch(name);
    let file = dir.join("s.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out = dir.join("out");
    let o = outagesim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-plots",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    (out, text(&o.stdout))
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn summary_json_has_null_latency_rounded_times_and_chronic_groups_apart() {
    let (dir, _) = run_scenario("summary-json");
    let s = summary(&dir);
    // The denied group never succeeded: its latency is null, not 0.
    assert!(s["clients"]["scrapers"]["latency_s"].is_null(), "{s:#}");
    let long = &s["clients"]["a-client-with-a-rather-long-name"];
    assert!(long["latency_s"]["p50"].as_f64().unwrap() > 0.0);
    // Detection is measured from the impact's bucket: reported to the second (a tenth of the
    // one-minute bucket, rounded down to a power of ten), never to the nanosecond.
    let detect = s["incident"]["time_to_detect_s"].as_f64().unwrap();
    assert!(detect > 0.0 && detect.fract() == 0.0, "{detect}");
    assert_eq!(long["time_to_detect_s"].as_f64(), Some(detect));
    // The scrapers were down before any fault: apart, not among the impacted.
    let b = &s["blast_radius"];
    assert_eq!(b["chronically_down"], serde_json::json!(["scrapers"]));
    assert_eq!(
        b["clients"]["impacted"],
        serde_json::json!(["a-client-with-a-rather-long-name"])
    );
    assert_eq!(b["clients"]["fraction"].as_f64(), Some(0.5));
    assert_eq!(b["clients"]["peak_fraction"].as_f64(), Some(0.5));
    assert!(s["clients"]["scrapers"]["time_to_detect_s"].is_null());
}

#[test]
fn the_table_aligns_long_names_and_says_what_did_not_happen() {
    let (_, out) = run_scenario("summary-table");
    let lines: Vec<&str> = out.lines().collect();
    let header = lines.iter().position(|l| l.starts_with("client ")).unwrap();
    // Every row of the client table is as long as its header, and the columns line up.
    let width = lines[header].len();
    let rows = &lines[header + 1..header + 3];
    for row in rows {
        assert_eq!(row.len(), width, "{out}");
        assert_eq!(
            row.find(char::is_whitespace)
                .map(|i| i <= "a-client-with-a-rather-long-name".len()),
            Some(true)
        );
    }
    let requests_end = lines[header].find("requests").unwrap() + "requests".len();
    for row in rows {
        assert_ne!(row.as_bytes()[requests_end - 1], b' ', "{out}");
        assert_eq!(row.as_bytes()[requests_end], b' ', "{out}");
    }
    // The denied group has no latency to show: dashes, not 0.
    let scrapers = rows.iter().find(|r| r.starts_with("scrapers ")).unwrap();
    assert!(scrapers.trim_end().ends_with("-         -"), "{scrapers}");
    let comp = lines
        .iter()
        .position(|l| l.starts_with("component "))
        .unwrap();
    for row in &lines[comp + 1..comp + 3] {
        assert_eq!(row.len(), lines[comp].len(), "{out}");
    }
    // The incident line: no "never", no nanoseconds.
    let incident = lines.iter().find(|l| l.starts_with("incident:")).unwrap();
    assert!(!incident.contains("never"), "{incident}");
    assert!(incident.contains("no action taken"), "{incident}");
    assert!(incident.contains("detected after "), "{incident}");
    let detected = incident.split("detected after ").nth(1).unwrap();
    let detected = detected.split(',').next().unwrap();
    assert!(!detected.contains('.'), "{incident}");
    assert!(out.contains("chronically down"), "{out}");
    assert!(
        out.contains("clients 1/2 impacted (a-client-with-a-rather-long-name)"),
        "{out}"
    );
}
