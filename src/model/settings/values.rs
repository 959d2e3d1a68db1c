//! The validated value types settings are made of: whole numbers in bounds, durations,
//! fractions, switches, words from a fixed set, distributions. Each carries its own parsing,
//! checks, documentation and schema, so no table repeats them.

use serde_json::{Value as Json, json};

use super::{Input, Reader, Shape, Value, suggest};
use crate::engine::{SimTime, parse_duration};
use crate::model::spec::Dist;

/// The longest duration a scenario may state: 100 years. Any time plus any delay then stays
/// far inside the engine's 584-year range, so no valid scenario can overflow simulated time.
pub const MAX_DURATION: SimTime = SimTime(36_500 * 86_400 * 1_000_000_000);

/// A whole number in `[MIN, MAX]`.
pub struct Count<const MIN: u32, const MAX: u32>;

impl<const MIN: u32, const MAX: u32> Value for Count<MIN, MAX> {
    type Out = u32;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<u32> {
        let shape = input.shape();
        let Shape::Int(v) = shape else {
            return r.wrong_type("a whole number", &shape);
        };
        bounded(v, MIN, MAX, r)
    }
    fn what() -> String {
        match (MIN, MAX) {
            (0, u32::MAX) => "a whole number".to_owned(),
            (m, u32::MAX) => format!("a whole number, at least {m}"),
            (m, n) => format!("a whole number from {m} to {n}"),
        }
    }
    fn schema() -> Json {
        json!({ "type": "integer", "minimum": MIN, "maximum": MAX })
    }
    fn show(v: &u32) -> String {
        v.to_string()
    }
}

/// `v` if it is in `[min, max]`; else a problem.
pub fn bounded(v: i64, min: u32, max: u32, r: &mut Reader<'_>) -> Option<u32> {
    let message = if v < i64::from(min) {
        format!("must be at least {min}, got {v}")
    } else if v > i64::from(max) {
        format!("must be at most {max}, got {v}")
    } else {
        return u32::try_from(v).ok();
    };
    let issue = r.problem(message).value(v.to_string());
    r.push(issue);
    None
}

/// A number, integers accepted.
pub fn number(input: &dyn Input, r: &mut Reader<'_>) -> Option<f64> {
    match input.shape() {
        Shape::Float(x) => Some(x),
        Shape::Int(n) => Some(n as f64),
        other => r.wrong_type("a number", &other),
    }
}

/// A number in `[0, 1]`.
pub struct Fraction;

impl Value for Fraction {
    type Out = f64;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<f64> {
        let v = number(input, r)?;
        if (0.0..=1.0).contains(&v) {
            return Some(v);
        }
        let issue = r
            .problem(format!("must be between 0 and 1, got {v}"))
            .value(v.to_string());
        r.push(issue);
        None
    }
    fn what() -> String {
        "a number from 0 to 1".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "number", "minimum": 0, "maximum": 1 })
    }
    fn show(v: &f64) -> String {
        format!("{v:?}")
    }
}

/// `v` if it is finite and greater than zero; else a problem.
pub fn positive(v: f64, r: &mut Reader<'_>) -> Option<f64> {
    if v.is_finite() && v > 0.0 {
        return Some(v);
    }
    let issue = r
        .problem(format!("must be greater than 0, got {v}"))
        .value(v.to_string());
    r.push(issue);
    None
}

/// `true` or `false`.
pub struct Switch;

impl Value for Switch {
    type Out = bool;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<bool> {
        match input.shape() {
            Shape::Bool(b) => Some(b),
            other => r.wrong_type("a boolean", &other),
        }
    }
    fn what() -> String {
        "`true` or `false`".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "boolean" })
    }
    fn show(v: &bool) -> String {
        v.to_string()
    }
}

const DURATION_WHAT: &str = r#"a duration such as "30s" or "250ms""#;

/// A duration such as `"250ms"`, at most 100 years.
pub struct Duration;

impl Value for Duration {
    type Out = SimTime;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<SimTime> {
        let text = duration_text(input, r)?;
        duration(&text, r)
    }
    fn what() -> String {
        DURATION_WHAT.to_owned()
    }
    fn schema() -> Json {
        duration_schema()
    }
    fn show(v: &SimTime) -> String {
        format!("\"{v}\"")
    }
}

/// A duration greater than zero.
pub struct PosDuration;

impl Value for PosDuration {
    type Out = SimTime;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<SimTime> {
        let text = duration_text(input, r)?;
        let t = duration(&text, r)?;
        if t.is_zero() {
            let issue = r
                .problem(format!("must be greater than 0, got \"{text}\""))
                .value(text);
            r.push(issue);
            return None;
        }
        Some(t)
    }
    fn what() -> String {
        format!("{DURATION_WHAT}, greater than 0")
    }
    fn schema() -> Json {
        duration_schema()
    }
    fn show(v: &SimTime) -> String {
        format!("\"{v}\"")
    }
}

/// Where schemas point for a duration: the definitions of the whole schema
/// ([`definitions`]), so it is written once.
fn duration_schema() -> Json {
    json!({ "$ref": "#/definitions/duration" })
}

/// The value types' schemas that tables refer to (`#/definitions/<name>`), for the schema of a
/// whole file.
pub fn definitions() -> Json {
    json!({
        "duration": duration_definition(),
        "distribution": distribution_definition(),
    })
}

fn duration_definition() -> Json {
    json!({
        "type": "string",
        "pattern": r"^\s*([0-9][0-9_]*(\.[0-9]+)?\s*(ns|us|µs|ms|s|m|h|d)\s*)+$",
        "examples": ["30s", "250ms", "1h30m"],
    })
}

/// The text of a duration; an integer gets a hint to add a unit.
fn duration_text(input: &dyn Input, r: &mut Reader<'_>) -> Option<String> {
    match input.shape() {
        Shape::Str(s) => Some(s.to_owned()),
        Shape::Int(n) => {
            let issue = r
                .problem(format!("expected {DURATION_WHAT}, found integer {n}"))
                .value(n.to_string())
                .hint(format!(
                    r#"durations are strings with a unit: write "{n}s" or "{n}ms" (units: ns, us, ms, s, m, h, d)"#
                ));
            r.push(issue);
            None
        }
        other => r.wrong_type(DURATION_WHAT, &other),
    }
}

/// Parses a duration written as `text`, at most [`MAX_DURATION`].
pub fn duration(text: &str, r: &mut Reader<'_>) -> Option<SimTime> {
    match parse_duration(text) {
        Ok(t) if t > MAX_DURATION => {
            let issue = r
                .problem(format!(
                    "\"{text}\" is longer than the 100 years a scenario may use"
                ))
                .value(text)
                .hint("durations, timeouts and waits must be at most 36500d".to_owned());
            r.push(issue);
            None
        }
        Ok(t) => Some(t),
        Err(e) => {
            let issue = r.problem(e.to_string()).value(text);
            r.push(issue);
            None
        }
    }
}

/// An optional value: absent is `None`.
pub struct Opt<V>(std::marker::PhantomData<V>);

impl<V: Value> Value for Opt<V> {
    type Out = Option<V::Out>;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Option<V::Out>> {
        V::read(input, r).map(Some)
    }
    fn what() -> String {
        V::what()
    }
    fn schema() -> Json {
        V::schema()
    }
    fn show(v: &Option<V::Out>) -> String {
        v.as_ref().map_or_else(|| "none".to_owned(), V::show)
    }
}

/// A word from a fixed set, each naming a value of `Self`.
pub trait Words: Copy + std::fmt::Debug + PartialEq + 'static {
    /// What the word names, for messages: "balancing policy".
    const WHAT: &'static str;
    /// The words and their values, the first the usual one.
    const WORDS: &'static [(&'static str, Self)];
}

/// Declares the words of an enum: `words!(Jitter, "jitter", [("none", Jitter::None), ...])`.
#[macro_export]
macro_rules! words {
    ($ty:ty, $what:literal, [$(($word:literal, $val:expr)),* $(,)?]) => {
        impl $crate::model::settings::Words for $ty {
            const WHAT: &'static str = $what;
            const WORDS: &'static [(&'static str, Self)] = &[$(($word, $val)),*];
        }
    };
}

/// One of the words of `W`.
pub struct Word<W>(std::marker::PhantomData<W>);

impl<W: Words> Value for Word<W> {
    type Out = W;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<W> {
        let shape = input.shape();
        let Shape::Str(v) = shape else {
            return r.wrong_type("a string", &shape);
        };
        word::<W>(v, r)
    }
    fn what() -> String {
        let words: Vec<String> = W::WORDS.iter().map(|(w, _)| format!("`\"{w}\"`")).collect();
        format!("one of {}", words.join(", "))
    }
    fn schema() -> Json {
        let words: Vec<&str> = W::WORDS.iter().map(|(w, _)| *w).collect();
        json!({ "type": "string", "enum": words })
    }
    fn show(v: &W) -> String {
        W::WORDS
            .iter()
            .find(|(_, x)| x == v)
            .map_or_else(String::new, |(w, _)| format!("\"{w}\""))
    }
}

/// The value of word `v` of `W`, or a problem with a "did you mean".
pub fn word<W: Words>(v: &str, r: &mut Reader<'_>) -> Option<W> {
    if let Some((_, t)) = W::WORDS.iter().find(|(n, _)| *n == v) {
        return Some(*t);
    }
    let names: Vec<&str> = W::WORDS.iter().map(|(n, _)| *n).collect();
    let issue = r
        .problem(format!("unknown {} '{v}'", W::WHAT))
        .value(v)
        .hint(suggest(v, W::WHAT, &names));
    r.push(issue);
    None
}

/// A distribution of durations: a duration (a constant) or `{ dist = "...", ... }`.
pub struct Distribution;

/// The fields each `dist` takes.
const DISTS: [(&str, &[&str]); 5] = [
    ("constant", &["value"]),
    ("exponential", &["mean"]),
    ("lognormal", &["mean", "sigma"]),
    ("uniform", &["min", "max"]),
    ("weibull", &["mean", "shape"]),
];

impl Value for Distribution {
    type Out = Dist;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Dist> {
        let shape = input.shape();
        let entries = match &shape {
            Shape::Str(s) => return duration(s, r).map(Dist::Constant),
            Shape::Table(entries) => entries,
            _ => {
                return r.wrong_type(
                    r#"a duration such as "5ms" or a table such as { dist = "exponential", mean = "10ms" }"#,
                    &shape,
                );
            }
        };
        dist(entries, r)
    }
    fn what() -> String {
        r#"a duration (a constant), or `{ dist = "exponential", mean = "10ms" }`; dists: constant (value), exponential (mean), lognormal (mean, sigma), uniform (min, max), weibull (mean, shape)"#.to_owned()
    }
    fn schema() -> Json {
        json!({ "$ref": "#/definitions/distribution" })
    }
    fn show(v: &Dist) -> String {
        match v {
            Dist::Constant(t) => format!("\"{t}\""),
            Dist::Exponential { mean } => format!(r#"{{ dist = "exponential", mean = "{mean}" }}"#),
            Dist::LogNormal { mean, sigma } => {
                format!(r#"{{ dist = "lognormal", mean = "{mean}", sigma = {sigma:?} }}"#)
            }
            Dist::Uniform { min, max } => {
                format!(r#"{{ dist = "uniform", min = "{min}", max = "{max}" }}"#)
            }
            Dist::Weibull { mean, shape } => {
                format!(r#"{{ dist = "weibull", mean = "{mean}", shape = {shape:?} }}"#)
            }
        }
    }
}

/// The table form of a distribution.
fn dist(entries: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> Option<Dist> {
    let names: Vec<&str> = DISTS.iter().map(|(n, _)| *n).collect();
    let get = |f: &str| entries.iter().find(|(k, _)| *k == f).map(|(_, v)| *v);
    // Fields that are no dist's at all are unknown whatever the dist.
    let known = ["dist", "value", "mean", "sigma", "shape", "min", "max"];
    let mut ok = super::unknown_fields(entries, &known, r);
    let Some(kind_input) = get("dist") else {
        r.missing("dist", format!("dist is one of: {}", names.join(", ")));
        return None;
    };
    let kind = r.field("dist", |r| {
        let shape = kind_input.shape();
        let Shape::Str(k) = shape else {
            return r.wrong_type("a string", &shape);
        };
        match DISTS.iter().find(|(n, _)| *n == k) {
            Some(d) => Some(*d),
            None => {
                let issue = r
                    .problem(format!("unknown dist '{k}'"))
                    .value(k)
                    .hint(suggest(k, "dists", &names));
                r.push(issue);
                None
            }
        }
    })?;
    let (name, allowed) = kind;
    for (k, _) in entries {
        if *k != "dist" && known.contains(k) && !allowed.contains(k) {
            ok = false;
            let issue = super::not_applicable(r.at(k), k, allowed, &format!("dist '{name}'"));
            r.push(issue);
        }
    }
    let need = |r: &mut Reader<'_>, f: &str| -> Option<SimTime> {
        match get(f) {
            None => {
                r.missing(f, format!("dist '{name}' needs {}", allowed.join(" and ")));
                None
            }
            Some(v) => r.field(f, |r| Duration::read(v, r)),
        }
    };
    let number_field = |r: &mut Reader<'_>, f: &str, hint: &str| -> Option<f64> {
        match get(f) {
            None => {
                r.missing(f, hint);
                None
            }
            Some(v) => r.field(f, |r| number(v, r)),
        }
    };
    let out = match name {
        "constant" => need(r, "value").map(Dist::Constant),
        "exponential" => {
            let mean = need(r, "mean")?;
            nonzero_mean(mean, r)?;
            Some(Dist::Exponential { mean })
        }
        "lognormal" => {
            let mean = need(r, "mean");
            let sigma = number_field(
                r,
                "sigma",
                "add e.g. sigma = 0.5 (the standard deviation of the log)",
            )
            .and_then(|s| r.field("sigma", |r| positive(s, r)));
            let mean = mean?;
            nonzero_mean(mean, r)?;
            Some(Dist::LogNormal {
                mean,
                sigma: sigma?,
            })
        }
        "weibull" => {
            let mean = need(r, "mean");
            let shape = number_field(
                r,
                "shape",
                "add e.g. shape = 1.5 (1 is exponential; above 1, wear-out)",
            )
            .and_then(|k| {
                if k.is_finite() && (0.1..=20.0).contains(&k) {
                    return Some(k);
                }
                let issue = super::Issue::new(
                    r.at("shape"),
                    format!("must be between 0.1 and 20, got {k}"),
                )
                .value(k.to_string());
                r.push(issue);
                None
            });
            let mean = mean?;
            nonzero_mean(mean, r)?;
            Some(Dist::Weibull {
                mean,
                shape: shape?,
            })
        }
        _ => {
            let min = need(r, "min");
            let max = need(r, "max");
            let (min, max) = (min?, max?);
            if min > max {
                let issue =
                    super::Issue::new(r.at("max"), format!("max ({max}) is less than min ({min})"))
                        .value(max.to_string());
                r.push(issue);
                return None;
            }
            Some(Dist::Uniform { min, max })
        }
    };
    out.filter(|_| ok)
}

fn nonzero_mean(mean: SimTime, r: &mut Reader<'_>) -> Option<()> {
    if mean.is_zero() {
        let issue = super::Issue::new(r.at("mean"), "must be greater than 0, got \"0s\"")
            .value("0s")
            .hint("for no delay at all use service_time = \"0s\" (a constant)".to_owned());
        r.push(issue);
        return None;
    }
    Some(())
}

/// The schema of a distribution: a duration (a constant) or one of the `dist` tables.
fn distribution_definition() -> Json {
    let tables: Vec<Json> = DISTS
        .iter()
        .map(|(name, fields)| {
            let mut props = serde_json::Map::new();
            props.insert("dist".into(), json!({ "const": name }));
            for f in *fields {
                let s = if matches!(*f, "sigma" | "shape") {
                    json!({ "type": "number" })
                } else {
                    duration_schema()
                };
                props.insert((*f).into(), s);
            }
            let mut required = vec!["dist"];
            required.extend_from_slice(fields);
            json!({
                "type": "object",
                "properties": props,
                "required": required,
                "additionalProperties": false,
            })
        })
        .collect();
    let mut any = vec![duration_schema()];
    any.extend(tables);
    json!({ "anyOf": any })
}
