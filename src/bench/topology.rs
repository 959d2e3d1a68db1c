//! Cost per event as the topology grows: a scenario's components copied `factor` times (each
//! copy with its own names, DNS records and clients, so `factor` times the entities and the
//! load), run on one thread for the same number of events as the original.
//!
//! Copy `k` of component `name` is `name-k`, and of DNS record `host` is `ck.host`; every string
//! in a component's settings (except its `kind`) that names a component or a record is renamed
//! to the copy's. Sections other than `[scenario]`, `[network]` and `[components]` (faults,
//! failures, what-ifs, published timelines) are left out: the measurement is of the steady
//! state, and they would name components of one copy only.

use crate::engine::SimTime;
use std::collections::BTreeSet;
use toml::{Table, Value};

/// The sections a scaled scenario keeps.
const KEPT: [&str; 3] = ["scenario", "network", "components"];

/// `text` with every component copied `factor` times, and the names of the top-level sections
/// left out. Errors are the TOML parser's message, or a missing `[components]` table.
pub fn scale_scenario(text: &str, factor: u32) -> Result<(String, Vec<String>), String> {
    if factor == 0 {
        return Err("the factor must be at least 1".into());
    }
    let mut doc: Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    let Some(Value::Table(components)) = doc.remove("components") else {
        return Err("the scenario has no [components] table".into());
    };
    let dropped: Vec<String> = doc
        .keys()
        .filter(|k| !KEPT.contains(&k.as_str()))
        .cloned()
        .collect();
    doc.retain(|k, _| KEPT.contains(&k));
    let names: BTreeSet<String> = components.keys().cloned().collect();
    let mut records = BTreeSet::new();
    for c in components.values() {
        if let Some(Value::Array(rs)) = c.get("records") {
            for r in rs {
                if let Some(Value::String(n)) = r.get("name") {
                    records.insert(n.clone());
                }
            }
        }
    }
    let mut out = Table::new();
    for k in 0..factor {
        for (name, c) in &components {
            let mut c = c.clone();
            if let Value::Table(t) = &mut c {
                for (key, v) in t.iter_mut() {
                    if key != "kind" {
                        rename(v, k, &names, &records);
                    }
                }
            }
            out.insert(format!("{name}-{k}"), c);
        }
    }
    doc.insert("components".into(), Value::Table(out));
    let text = toml::to_string(&doc).map_err(|e| e.to_string())?;
    Ok((text, dropped))
}

fn rename(v: &mut Value, k: u32, names: &BTreeSet<String>, records: &BTreeSet<String>) {
    match v {
        Value::String(s) => {
            if names.contains(s.as_str()) {
                *s = format!("{s}-{k}");
            } else if records.contains(s.as_str()) {
                *s = format!("c{k}.{s}");
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename(x, k, names, records)),
        Value::Table(t) => t.iter_mut().for_each(|(_, x)| rename(x, k, names, records)),
        _ => {}
    }
}

/// One measured run of a scaled scenario.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ScaledRun {
    pub factor: u32,
    /// Component replicas and client groups' entities (the engine's entities).
    pub entities: u64,
    pub simulated_s: f64,
    pub events: u64,
    /// CPU time of the process while the run went (one thread: the run's own).
    pub cpu_s: f64,
    pub ns_per_event: f64,
}

/// The process's CPU time in seconds (all threads, user and system).
pub fn process_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant Linux defines.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0.0;
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Why a scaled scenario could not be loaded.
#[derive(Debug)]
pub enum ScaleError {
    /// The file is not a TOML scenario with components, or the factor is 0.
    Text(String),
    /// The scaled scenario does not load (the original's own problems, located in the copy).
    Scenario(crate::scenario::ScenarioError),
}

/// `text` scaled by `factor`, loaded with its duration set to `duration` and its metrics
/// bucket to `bucket` (give both runs of a comparison the same bucket: each bucket costs
/// every entity the same bookkeeping). Factor 1 goes through the same copy (so both runs
/// leave out the same sections); problems are reported against `file (xN)`: check the
/// original with `scenario::load` first to locate its own problems in the file.
pub fn load_scaled(
    text: &str,
    file: &str,
    factor: u32,
    duration: SimTime,
    bucket: SimTime,
) -> Result<crate::model::spec::Spec, ScaleError> {
    let sets = [
        format!("scenario.duration={}ns", duration.0),
        format!("scenario.bucket={}ns", bucket.0),
    ];
    let (scaled, _) = scale_scenario(text, factor).map_err(ScaleError::Text)?;
    crate::scenario::load(&scaled, &format!("{file} (x{factor})"), &sets)
        .map_err(ScaleError::Scenario)
}

/// Runs `spec` (scaled by `factor`) on one thread and measures the CPU time of the run
/// alone (loading and summarising excluded).
pub fn measure(spec: crate::model::spec::Spec, factor: u32) -> anyhow::Result<ScaledRun> {
    let simulated_s = spec.duration.as_secs_f64();
    let before = process_cpu_s();
    let res = crate::model::run(spec, &crate::model::RunOptions::threads(1), &mut |_| {})?;
    let cpu_s = process_cpu_s() - before;
    let entities = res.groups.iter().map(|g| u64::from(g.replicas)).sum();
    Ok(ScaledRun {
        factor,
        entities,
        simulated_s,
        events: res.events,
        cpu_s,
        ns_per_event: cpu_s * 1e9 / res.events.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
[scenario]
name = "two"
duration = "1m"
seed = 3

[components.dns]
kind = "dns"
records = [{ name = "api.example.com", policy = "failover", ttl = "60s", targets = ["api", "api2"] }]

[components.users]
kind = "client"
rate = 50.0
target = "api.example.com"
resolver = "res"

[components.res]
kind = "resolver"
dns = "dns"

[components.api]
kind = "service"
workers = 4
service_time = { dist = "exponential", mean = "10ms" }

[components.api2]
kind = "service"
service_time = { dist = "exponential", mean = "10ms" }

[[faults]]
kind = "crash"
target = "api"
at = "10s"
"#;

    #[test]
    fn copies_rename_every_reference_and_keep_kinds() {
        let (text, dropped) = scale_scenario(SMALL, 3).unwrap();
        assert_eq!(dropped, vec!["faults".to_owned()]);
        let doc: Table = text.parse().unwrap();
        let comps = doc["components"].as_table().unwrap();
        assert_eq!(comps.len(), 15);
        assert_eq!(comps["dns-2"]["kind"].as_str(), Some("dns"));
        assert_eq!(
            comps["users-1"]["target"].as_str(),
            Some("c1.api.example.com")
        );
        assert_eq!(comps["users-1"]["resolver"].as_str(), Some("res-1"));
        assert_eq!(comps["res-0"]["dns"].as_str(), Some("dns-0"));
        let rec = &comps["dns-2"]["records"][0];
        assert_eq!(rec["name"].as_str(), Some("c2.api.example.com"));
        assert_eq!(rec["targets"][1].as_str(), Some("api2-2"));
        // The copy loads as a valid scenario.
        crate::scenario::load(&text, "two.toml", &[]).unwrap();
    }

    #[test]
    fn factor_times_the_load_gives_about_factor_times_the_events() {
        let d = SimTime::from_secs_f64(20.0);
        let run = |f| measure(load_scaled(SMALL, "two.toml", f, d, d).unwrap(), f).unwrap();
        let (one, four) = (run(1), run(4));
        assert_eq!(four.entities, 4 * one.entities);
        let ratio = four.events as f64 / one.events as f64;
        assert!(
            (3.6..4.4).contains(&ratio),
            "events {} and {}",
            one.events,
            four.events
        );
        assert!(one.cpu_s > 0.0 && one.ns_per_event > 0.0);
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(scale_scenario(SMALL, 0).unwrap_err().contains("at least 1"));
        assert!(
            scale_scenario("[scenario]\nname = \"x\"\n", 2)
                .unwrap_err()
                .contains("no [components]")
        );
        assert!(scale_scenario("[scenario\n", 2).is_err());
    }
}
