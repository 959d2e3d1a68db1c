//! The scenario-wide tables: `[scenario]`, `[network]` with its region pairs, `[[links]]`, and
//! the replay material (`scenario.clock`, `[[published]]`, `[[what_ifs]]`), declared once.
//! Names in them (regions, groups, milestones) are resolved by the scenario layer once every
//! component is read.

use serde_json::{Value as Json, json};

use crate::engine::SimTime;
use crate::model::settings::{
    Availability, Duration, Input, List, Name, Nested, Opt, Pair, PosDuration, Reader, Seed, Shape,
    Text, Value,
};
use crate::model::spec::{Clock, Warmup, WhatIf};
use crate::settings;

settings! {
    /// `[scenario]`: what the run is.
    pub struct ScenarioSettings "scenario" {
        /// A short name, shown in reports.
        name: Name => "add name = \"<a short name>\" under [scenario]",
        /// Simulated time the run covers.
        duration: PosDuration => "add duration = \"2h\" under [scenario]",
        /// The seed of every random draw (`--seed` overrides it).
        seed: Seed = 1,
        /// The width of a metrics time bucket; at most the run's duration.
        bucket: PosDuration = SimTime::MINUTE,
        /// The availability target: a bucket below it counts as downtime.
        slo: Availability = 0.99,
        /// Wall-clock time of simulated time zero, with an optional zone label (replays).
        clock: Opt<WallClock> = None,
        /// The start of the run left out of every client and component metric of the summary (rounded up to whole buckets): a duration shorter than the run, or "auto" to estimate it per run with MSER-5 on the availability and latency series; none by default.
        warmup: Opt<WarmupValue> = None,
    }
}

settings! {
    /// `[network]`: one-way latencies between replicas, by how far apart they are.
    pub struct NetworkSettings "network" {
        /// Between replicas in one zone.
        same_zone: Duration = SimTime::from_micros(250),
        /// Between zones of one region.
        cross_zone: Duration = SimTime::from_millis(1),
        /// Between regions, unless `regions` gives the pair its own.
        cross_region: PosDuration = SimTime::from_millis(40),
        /// Latencies of particular region pairs.
        regions: List<Nested<RegionLatency>> = Vec::new(),
    }
}

settings! {
    /// `[[network.regions]]`: the one-way latency between two regions, either direction.
    pub struct RegionLatency "network.regions" {
        /// The two regions.
        between: Pair => "add between = [\"<a>\", \"<b>\"]",
        /// Their one-way latency.
        latency: PosDuration => "add latency = \"30ms\": the one-way latency between these regions",
    }
}

settings! {
    /// `[[links]]`: the one-way latency between any replicas of two groups, either direction.
    pub struct LinkSettings "links" {
        /// The two groups.
        between: Pair => "add between = [\"<a>\", \"<b>\"]",
        /// Their one-way latency (0 only within a region).
        latency: Duration => "add latency = \"2ms\": the one-way latency between these groups",
    }
}

settings! {
    /// `[[published]]`: one moment of the published timeline, to set beside the run's.
    pub struct PublishedSettings "published" {
        /// When, in wall-clock time in the zone of `scenario.clock`.
        at: WallTime => "add at = \"HH:MM\" (wall-clock time)",
        /// What happened.
        event: Name => "add event = \"<what happened>\"",
        /// The moment of the run it corresponds to: fault, impact, detect, mitigate, recover, fault:NAME, alarm:NAME, action:NAME, first:EVENT or last:EVENT (the first or last event of that kind in events.csv from the incident start).
        r#match: Opt<Name> = None,
    }
}

settings! {
    /// `[[what_ifs]]`: a named set of overrides, run beside the scenario with `--what-ifs`.
    pub struct WhatIfSettings "what_ifs" {
        /// What changes, shown in reports.
        name: Name => "add name = \"<what changes>\"",
        /// The overrides, as `--set` takes them.
        set: Overrides => "add set = [\"path=value\", ...]: the overrides of this what-if, as --set takes them",
    }
}

impl WhatIfSettings {
    /// The what-if the model and reports use.
    pub fn into_what_if(self) -> WhatIf {
        WhatIf {
            name: self.name,
            sets: self.set,
        }
    }
}

/// `"HH:MM"` or `"HH:MM:SS"` in 24-hour time: seconds after midnight.
pub struct WallTime;

impl Value for WallTime {
    type Out = u32;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<u32> {
        let text = Name::read(input, r)?;
        Clock::parse_time(&text).or_else(|| {
            let issue = r
                .problem("not a wall-clock time")
                .value(text)
                .hint("write \"HH:MM\" in 24-hour time, in the zone of scenario.clock".to_owned());
            r.push(issue);
            None
        })
    }
    fn what() -> String {
        "a wall-clock time, `\"HH:MM\"` or `\"HH:MM:SS\"`".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "string", "pattern": "^[0-9]{2}:[0-9]{2}(:[0-9]{2})?$" })
    }
    fn show(v: &u32) -> String {
        format!("\"{:02}:{:02}\"", v / 3600, v / 60 % 60)
    }
}

/// `"08:00 PDT"`: a wall-clock time and an optional zone label.
pub struct WallClock;

impl Value for WallClock {
    type Out = Clock;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Clock> {
        let shape = input.shape();
        let Shape::Str(text) = shape else {
            return r.wrong_type("a string", &shape);
        };
        let (time, zone) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
        match Clock::parse_time(time) {
            Some(start) => Some(Clock {
                start,
                zone: zone.trim().to_owned(),
            }),
            None => {
                let issue = r.problem("not a wall-clock time").value(text).hint(
                    "write \"HH:MM\" in 24-hour time, optionally followed by a zone label: clock = \"08:00 PDT\"".to_owned(),
                );
                r.push(issue);
                None
            }
        }
    }
    fn what() -> String {
        "a wall-clock time and an optional zone label, `\"08:00 PDT\"`".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "string", "pattern": "^[0-9]{2}:[0-9]{2}(:[0-9]{2})?( .*)?$" })
    }
    fn show(v: &Clock) -> String {
        format!(
            "\"{:02}:{:02} {}\"",
            v.start / 3600,
            v.start / 60 % 60,
            v.zone
        )
    }
}

/// `["path=value", ...]`: overrides as `--set` takes them.
pub struct Overrides;

impl Value for Overrides {
    type Out = Vec<String>;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Vec<String>> {
        let sets = List::<Text>::read(input, r)?;
        let mut ok = true;
        for (k, arg) in sets.iter().enumerate() {
            if !arg.contains('=') {
                let issue = r
                    .field(&k.to_string(), |r| r.problem("not an override"))
                    .value(arg.clone())
                    .hint("write \"path=value\", e.g. \"components.api.replicas=3\"".to_owned());
                r.push(issue);
                ok = false;
            }
        }
        ok.then_some(sets)
    }
    fn what() -> String {
        "a list of `\"path=value\"` overrides".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "array", "items": { "type": "string", "pattern": "=" } })
    }
    fn show(v: &Vec<String>) -> String {
        format!("{v:?}")
    }
}

/// `"auto"` or a duration: `scenario.warmup`.
pub struct WarmupValue;

impl Value for WarmupValue {
    type Out = Warmup;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Warmup> {
        if let Shape::Str(text) = input.shape()
            && text.trim() == "auto"
        {
            return Some(Warmup::Auto);
        }
        Duration::read(input, r).map(Warmup::Fixed)
    }
    fn what() -> String {
        format!("{}, or `\"auto\"`", Duration::what())
    }
    fn schema() -> Json {
        json!({ "anyOf": [{ "const": "auto" }, Duration::schema()] })
    }
    fn show(v: &Warmup) -> String {
        match v {
            Warmup::Auto => "\"auto\"".to_owned(),
            Warmup::Fixed(t) => Duration::show(t),
        }
    }
}
