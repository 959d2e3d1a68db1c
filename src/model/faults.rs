//! `[[faults]]` and `[[failures]]`: what they are ([`FaultSpec`], [`FailureSpec`]), the settings
//! of each fault kind (one table per kind, read according to `kind`), and how a fault's or a
//! failure's entry becomes its spec once its target is resolved.
//!
//! Every fault has `name` (default "<kind>-<target>"), `kind`, `at` (when it starts) and
//! `duration` (default: to the end), and a `target`: a group, a zone (`zone_outage`) or a
//! region (`region_outage`); link faults name `between` and `level` instead. The rest is its
//! kind's table. A fault at or after the end simply never happens: shortening a run with
//! `--set scenario.duration=...` must not break a file whose later faults fall outside.

use serde_json::{Value as Json, json};

use crate::engine::SimTime;
use crate::model::kinds::Kind;
use crate::model::settings::{
    Count, Distribution, Duration, Fraction, Input, Issue, Opt, PosDuration, Reader, Resolve, Role,
    Shape, Switch, Table, Value, Words, closest, list, positive, suggest,
};
use crate::model::spec::{Dist, GroupSpec, KindSpec};
use crate::{settings, words};

// ---- value types -----------------------------------------------------------------------------

/// A string.
pub struct Text;

impl Value for Text {
    type Out = String;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<String> {
        match input.shape() {
            Shape::Str(s) => Some(s.to_owned()),
            other => r.wrong_type("a string", &other),
        }
    }
    fn what() -> String {
        "a string".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "string" })
    }
    fn show(v: &String) -> String {
        format!("{v:?}")
    }
}

/// An array of `V`s; each element's problems are placed at its index.
pub struct List<V>(std::marker::PhantomData<V>);

impl<V: Value> Value for List<V> {
    type Out = Vec<V::Out>;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Vec<V::Out>> {
        let shape = input.shape();
        let Shape::Array(elems) = &shape else {
            return r.wrong_type("an array", &shape);
        };
        let out: Vec<Option<V::Out>> = (elems.iter().enumerate())
            .map(|(k, e)| r.field(&k.to_string(), |r| V::read(*e, r)))
            .collect();
        out.into_iter().collect()
    }
    fn what() -> String {
        format!("an array of {}", V::what())
    }
    fn schema() -> Json {
        json!({ "type": "array", "items": V::schema() })
    }
    fn show(v: &Vec<V::Out>) -> String {
        let items: Vec<String> = v.iter().map(V::show).collect();
        format!("[{}]", items.join(", "))
    }
}

/// A replica index as written (checked against its group once that is known).
pub struct Index;

impl Value for Index {
    type Out = i64;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<i64> {
        match input.shape() {
            Shape::Int(n) => Some(n),
            other => r.wrong_type("a whole number", &other),
        }
    }
    fn what() -> String {
        "a replica index (from 0)".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "integer", "minimum": 0 })
    }
    fn show(v: &i64) -> String {
        v.to_string()
    }
}

/// `between = ["a", "b"]`: two different domains.
pub struct Pair;

impl Value for Pair {
    type Out = (String, String);
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<(String, String)> {
        match List::<Text>::read(input, r)?.as_slice() {
            [a, b] if a != b => Some((a.clone(), b.clone())),
            other => {
                let issue = r
                    .problem("names two different domains")
                    .value(format!("{other:?}"))
                    .hint(r#"e.g. between = ["us-east-1a", "us-east-1b"]"#.to_owned());
                r.push(issue);
                None
            }
        }
    }
    fn what() -> String {
        "two different domains of `level`".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "array", "items": { "type": "string" }, "minItems": 2, "maxItems": 2 })
    }
    fn show(v: &(String, String)) -> String {
        format!("[{:?}, {:?}]", v.0, v.1)
    }
}

/// A number greater than 0.
pub struct PosNumber;

impl Value for PosNumber {
    type Out = f64;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<f64> {
        match input.shape() {
            Shape::Float(x) => positive(x, r),
            Shape::Int(n) => positive(n as f64, r),
            other => r.wrong_type("a number", &other),
        }
    }
    fn what() -> String {
        "a number greater than 0".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "number", "exclusiveMinimum": 0 })
    }
    fn show(v: &f64) -> String {
        format!("{v:?}")
    }
}

/// A share of the workers, in (0, 1].
pub struct Share;

impl Value for Share {
    type Out = f64;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<f64> {
        let x = PosNumber::read(input, r)?;
        if x > 1.0 {
            let issue = r
                .problem(format!("must be at most 1, got {x}"))
                .value(x.to_string())
                .hint("1.0 loses every worker".to_owned());
            r.push(issue);
            return None;
        }
        Some(x)
    }
    fn what() -> String {
        "a number greater than 0 and at most 1".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "number", "exclusiveMinimum": 0, "maximum": 1 })
    }
    fn show(v: &f64) -> String {
        format!("{v:?}")
    }
}

/// A config change's `set`: a table of settings (read with the target's table, by the
/// scenario layer, which knows where each one is written).
pub struct SetTable;

impl Value for SetTable {
    type Out = ();
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<()> {
        match input.shape() {
            Shape::Table(_) => Some(()),
            other => r.wrong_type(Self::what().as_str(), &other),
        }
    }
    fn what() -> String {
        r#"a table of settings such as { workers = 4, "health_check.kind" = "deep" }"#.to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "object" })
    }
    fn show((): &()) -> String {
        "{}".to_owned()
    }
}

/// A word of `W`; an unknown one is named with the plural in its hint ("levels: ...").
pub struct Plural<W>(std::marker::PhantomData<W>);

impl<W: Words> Value for Plural<W> {
    type Out = W;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<W> {
        let shape = input.shape();
        let Shape::Str(v) = shape else {
            return r.wrong_type("a string", &shape);
        };
        pick(v, W::WORDS, W::WHAT, r)
    }
    fn what() -> String {
        crate::model::settings::Word::<W>::what()
    }
    fn schema() -> Json {
        crate::model::settings::Word::<W>::schema()
    }
    fn show(v: &W) -> String {
        crate::model::settings::Word::<W>::show(v)
    }
}

/// The value of word `v` among `words`, or "unknown <what> 'v'" with a "did you mean".
fn pick<T: Copy>(v: &str, words: &[(&str, T)], what: &str, r: &mut Reader<'_>) -> Option<T> {
    if let Some((_, t)) = words.iter().find(|(n, _)| *n == v) {
        return Some(*t);
    }
    let names: Vec<&str> = words.iter().map(|(n, _)| *n).collect();
    let issue = r
        .problem(format!("unknown {what} '{v}'"))
        .value(v)
        .hint(suggest(v, &format!("{what}s"), &names));
    r.push(issue);
    None
}

words!(
    Level,
    "level",
    [
        ("zone", Level::Zone),
        ("region", Level::Region),
        ("segment", Level::Segment)
    ]
);

/// A wrong DNS answer, or an empty one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Empty,
    Wrong,
}

words!(
    Answer,
    "answer",
    [("empty", Answer::Empty), ("wrong", Answer::Wrong)]
);

/// `answer`: `"empty"` or `"wrong"`.
pub struct AnswerWord;

impl Value for AnswerWord {
    type Out = Answer;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Answer> {
        let shape = input.shape();
        let Shape::Str(v) = shape else {
            return r.wrong_type("a string", &shape);
        };
        match v {
            "empty" => Some(Answer::Empty),
            "wrong" => Some(Answer::Wrong),
            other => {
                let issue = r
                    .problem(format!("unknown answer '{other}'"))
                    .value(other)
                    .hint(r#"answer is "empty" or "wrong""#.to_owned());
                r.push(issue);
                None
            }
        }
    }
    fn what() -> String {
        crate::model::settings::Word::<Answer>::what()
    }
    fn schema() -> Json {
        crate::model::settings::Word::<Answer>::schema()
    }
    fn show(v: &Answer) -> String {
        crate::model::settings::Word::<Answer>::show(v)
    }
}

// ---- the settings of each fault kind ---------------------------------------------------------

settings! {
    /// Faults on replicas (every kind but traffic faults, outages and link faults): which ones it hits.
    pub struct ReplicaSettings "replicas" {
        /// The replicas it hits, in rollout order for a config change (default: every replica of the target; a gossip corruption: replica 0).
        replicas: Opt<List<Index>> = None,
    }
}

settings! {
    /// `kind = "slow"`: service times multiplied by `factor`.
    pub struct SlowSettings "slow" {
        /// How many times slower service gets.
        factor: PosNumber => "add factor = 10.0: how many times slower service gets",
    }
}

settings! {
    /// `kind = "error"`: requests answered with an error (or a wrong answer).
    pub struct ErrorSettings "error" {
        /// The share of answers that fail.
        probability: Fraction => "add probability = 0.5: the share of answers that fail",
        /// A wrong answer after normal service instead of an error at once.
        wrong: Switch = false,
    }
}

settings! {
    /// `kind = "capacity_loss"`: a share of each replica's workers is lost.
    pub struct CapacityLossSettings "capacity_loss" {
        /// The share of workers lost.
        fraction: Share => "add fraction = 0.5: the share of workers lost",
    }
}

settings! {
    /// `kind = "dns_record"` on a dns group: one of its records answers empty or wrong.
    pub struct DnsRecordSettings "dns_record" {
        /// The name of a record the dns group serves.
        record: Text => "add record = \"<a name this dns serves>\"",
        /// An empty answer (the name cannot be resolved), or a wrong one.
        answer: AnswerWord = Answer::Empty,
        /// Where a wrong answer points (with `answer = "wrong"`).
        to: Opt<Text> = None,
    }
}

settings! {
    /// `kind = "traffic_surge"` on a rate-based client: its rate multiplied, back to normal at the end.
    pub struct TrafficSurgeSettings "traffic_surge" {
        /// The factor the traffic rises by.
        multiplier: PosNumber => "add multiplier = 3.0: the factor the traffic rises by",
        /// How long the rise takes (linear), at most the fault's duration.
        ramp: Duration = SimTime::ZERO,
    }
}

settings! {
    /// `kind = "partition"` and `kind = "link_degradation"`: the link between two domains of one level.
    pub struct LinkSettings "link" {
        /// The level of both domains.
        level: Plural<Level> => "add level = \"zone\", \"region\" or \"segment\"",
        /// The two domains.
        between: Pair => "add between = [\"<one side>\", \"<the other>\"]",
    }
}

settings! {
    /// `kind = "link_degradation"`: messages over the link are delayed or lost (give latency or loss, or both).
    pub struct LinkDegradationSettings "link_degradation" {
        /// Added one-way latency.
        latency: Duration = SimTime::ZERO,
        /// The probability that a message is lost.
        loss: Fraction = 0.0,
    }
}

settings! {
    /// `kind = "config_change"`: a staged rollout of new settings to the target's replicas, rolled back at the end.
    pub struct ConfigChangeSettings "config_change" {
        /// The settings it rolls out: dotted paths into the component's table, as `--set` takes them.
        set: SetTable => "add set = { <path> = <value>, ... }: the settings it rolls out, e.g. set = { workers = 4 }",
        /// How long the rollout takes (batches spread evenly), at most the fault's duration.
        rollout: Duration = SimTime::ZERO,
        /// Replicas switched at once.
        batch: Count<1, { u32::MAX }> = 1,
    }
}

settings! {
    /// `[[failures]]`: random failures and repairs of replicas, a zone or a region, for the whole run; give exactly one of target, zone and region.
    pub struct FailureSettings "failures" {
        /// Default "failures-<target, zone or region>".
        name: Opt<Text> = None,
        /// A group: each replica fails and is repaired on its own.
        target: Opt<Text> = None,
        /// A zone: every component replica in it at once (clients are spared).
        zone: Opt<Text> = None,
        /// A region: every component replica in it at once.
        region: Opt<Text> = None,
    }
}

settings! {
    /// `[[failures]]`: how long a unit stays up, and down.
    pub struct FailureTimes "failure times" {
        /// Time between failures.
        mtbf: Distribution => "add mtbf = { dist = \"exponential\", mean = \"...\" }",
        /// Time to repair.
        mttr: Distribution => "add mttr = { dist = \"exponential\", mean = \"...\" }",
    }
}

// ---- reading ---------------------------------------------------------------------------------

/// The fault kinds, in the order hints list them.
pub const FAULT_KINDS: [&str; 14] = [
    "crash",
    "hang",
    "slow",
    "error",
    "capacity_loss",
    "dns_record",
    "traffic_surge",
    "new_source",
    "zone_outage",
    "region_outage",
    "partition",
    "link_degradation",
    "config_change",
    "gossip_corruption",
];

/// The settings of some fault kind, in the order problems with them are reported; `target`
/// belongs here only for link faults (the others all take it).
const KIND_FIELDS: [&str; 18] = [
    "replicas",
    "multiplier",
    "ramp",
    "factor",
    "probability",
    "wrong",
    "fraction",
    "record",
    "answer",
    "to",
    "target",
    "between",
    "level",
    "latency",
    "loss",
    "set",
    "rollout",
    "batch",
];

/// The settings fault kind `kind` takes beside `name`, `kind`, `target`, `at` and `duration`
/// (its tables'), in the order of [`KIND_FIELDS`].
fn own_fields(kind: &str) -> Vec<&'static str> {
    let mut fields = match kind {
        "traffic_surge" => TrafficSurgeSettings::fields(),
        "new_source" | "zone_outage" | "region_outage" => Vec::new(),
        "partition" | "link_degradation" => LinkSettings::fields(),
        _ => ReplicaSettings::fields(),
    };
    fields.extend(match kind {
        "slow" => SlowSettings::fields(),
        "error" => ErrorSettings::fields(),
        "capacity_loss" => CapacityLossSettings::fields(),
        "dns_record" => DnsRecordSettings::fields(),
        "config_change" => ConfigChangeSettings::fields(),
        "link_degradation" => LinkDegradationSettings::fields(),
        _ => Vec::new(),
    });
    let mut names: Vec<&str> = fields.iter().map(|f| f.name).collect();
    names.sort_by_key(|n| KIND_FIELDS.iter().position(|f| f == n));
    names
}

/// The type problems of `input` read as field `f` of the kinds that take it: a field written
/// for another kind is checked for its type, not its value.
fn type_problems(f: &str, input: &dyn Input, path: Vec<String>) -> Vec<Issue> {
    let mut issues = Vec::new();
    let r = &mut Reader::new(path, &mut issues);
    match f {
        "replicas" => {
            let _ = List::<Index>::read(input, r);
        }
        "multiplier" | "factor" | "probability" | "fraction" | "loss" => {
            let _ = PosNumber::read(input, r);
        }
        "ramp" | "latency" | "rollout" => {
            let _ = Duration::read(input, r);
        }
        "wrong" => {
            let _ = Switch::read(input, r);
        }
        "between" => {
            let _ = List::<Text>::read(input, r);
        }
        "set" => {
            let _ = SetTable::read(input, r);
        }
        "batch" => {
            let _ = Index::read(input, r);
        }
        _ => {
            let _ = Text::read(input, r);
        }
    }
    issues.retain(|i| i.message.starts_with("expected "));
    issues
}

/// Field `key` of a table's entries, if it is a string.
pub fn text<'a>(entries: &[(&str, &'a dyn Input)], key: &str) -> Option<&'a str> {
    let (_, input) = entries.iter().find(|(k, _)| *k == key)?;
    match (*input).shape() {
        Shape::Str(s) => Some(s),
        _ => None,
    }
}

/// The name of fault `entries` (written, or "<kind>-<target>") and its `kind` as written.
pub fn fault_name(entries: &[(&str, &dyn Input)]) -> (String, String) {
    let kind = text(entries, "kind").unwrap_or_default();
    let target = text(entries, "target").unwrap_or_default();
    let name = text(entries, "name").map_or_else(|| format!("{kind}-{target}"), str::to_owned);
    (name, kind.to_owned())
}

/// Reads fault `j` (`entries`: its table as written; unknown keys are the caller's).
pub fn read_fault(
    j: usize,
    entries: &[(&str, &dyn Input)],
    res: &mut dyn Resolve,
) -> Option<FaultSpec> {
    let base = vec!["faults".to_owned(), j.to_string()];
    Entry { base, entries, res }.fault(j)
}

/// Reads failure `j` (`entries`: its table as written).
pub fn read_failure(
    j: usize,
    entries: &[(&str, &dyn Input)],
    res: &mut dyn Resolve,
) -> Option<FailureSpec> {
    let base = vec!["failures".to_owned(), j.to_string()];
    Entry { base, entries, res }.failure()
}

/// A fault's or a failure's table while it is read.
struct Entry<'e, 'r> {
    base: Vec<String>,
    entries: &'e [(&'e str, &'e dyn Input)],
    res: &'r mut dyn Resolve,
}

impl<'e> Entry<'e, '_> {
    fn at(&self, seg: impl ToString) -> Vec<String> {
        let mut p = self.base.clone();
        p.push(seg.to_string());
        p
    }

    fn get(&self, key: &str) -> Option<&'e dyn Input> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    fn push(&mut self, issue: Issue) {
        self.res.issues().push(issue);
    }

    fn missing(&mut self, field: &str, hint: impl Into<String>) {
        Reader::new(self.base.clone(), self.res.issues()).missing(field, hint);
    }

    /// Field `key` as a `V`: `Some(None)` when absent, `None` when it has problems.
    fn value<V: Value>(&mut self, key: &str) -> Option<Option<V::Out>> {
        let Some(input) = self.get(key) else {
            return Some(None);
        };
        V::read(input, &mut Reader::new(self.at(key), self.res.issues())).map(Some)
    }

    /// The declared fields of table `T` (other keys are checked by the caller).
    fn table<T: Table>(&mut self) -> Option<T> {
        let mut r = Reader::new(self.base.clone(), self.res.issues());
        let t = T::read_fields(self.entries, &mut r)?;
        t.check(self.entries, &mut r).then_some(t)
    }

    /// The names of the groups whose kind passes `f`.
    fn names_of(&self, f: impl Fn(Kind) -> bool) -> Vec<String> {
        let names = self.res.names();
        (0..names.len())
            .filter(|&i| self.res.kind(i).is_some_and(&f))
            .map(|i| names[i].clone())
            .collect()
    }

    /// Whether some component is placed in the `level` domain `name`; if none is, reports it
    /// at `path`, suggesting the domains that do exist.
    fn domain(&mut self, path: Vec<String>, level: Level, name: &str) -> bool {
        let known = self.res.domains(level);
        if known.iter().any(|k| k == name) {
            return true;
        }
        let refs: Vec<&str> = known.iter().map(String::as_str).collect();
        let l = level.name();
        let hint = suggest(name, &format!("{l}s"), &refs);
        let issue = Issue::new(path, format!("no component is placed in {l} '{name}'"));
        self.push(issue.value(name).hint(hint));
        false
    }

    /// Whether field `key` is written with the type its kinds take (a field with a type
    /// problem counts as absent beyond that problem).
    fn typed(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|input| type_problems(key, input, Vec::new()).is_empty())
    }

    /// Field `key` as a `V` (its default when absent or of the wrong type), its problems left
    /// out: for checks between fields when its table has problems (reported already).
    fn again<V: Value>(&self, key: &str, default: V::Out) -> Option<V::Out> {
        match self.get(key).filter(|_| self.typed(key)) {
            None => Some(default),
            Some(input) => V::read(input, &mut Reader::new(Vec::new(), &mut Vec::new())),
        }
    }

    fn failure(&mut self) -> Option<FailureSpec> {
        // The values as far as they are strings; the table reports the others.
        let _ = self.table::<FailureSettings>();
        let given: Vec<&str> = ["target", "zone", "region"]
            .into_iter()
            .filter(|k| text(self.entries, k).is_some())
            .collect();
        if given.len() != 1 {
            let path = match given.get(1) {
                Some(second) => self.at(second),
                None => self.base.clone(),
            };
            self.push(
                Issue::new(path, "give exactly one of target, zone and region")
                    .hint("target = \"<group>\" fails each replica on its own; zone or region fails everything in it at once".to_owned()),
            );
            return None;
        }
        let (field, label) = (given[0], text(self.entries, given[0]).unwrap_or_default());
        let unit = match field {
            "target" => {
                let g = self.res.group(None, self.at("target"), label, Role::Any)?;
                if self.res.kind(g) == Some(Kind::Client) {
                    let issue = Issue::new(
                        self.at("target"),
                        format!("failures cannot hit '{label}': it is a client"),
                    );
                    self.push(issue.value(label));
                    return None;
                }
                FailureUnit::Replicas(g)
            }
            "zone" if self.domain(self.at("zone"), Level::Zone, label) => {
                FailureUnit::Zone(label.to_owned())
            }
            "region" if self.domain(self.at("region"), Level::Region, label) => {
                FailureUnit::Region(label.to_owned())
            }
            _ => return None,
        };
        let times = self.table::<FailureTimes>()?;
        let name = text(self.entries, "name").map(str::to_owned);
        Some(FailureSpec {
            name: name.unwrap_or_else(|| format!("failures-{label}")),
            unit,
            mtbf: times.mtbf,
            mttr: times.mttr,
        })
    }

    fn fault(&mut self, j: usize) -> Option<FaultSpec> {
        let written = self.value::<Text>("name").flatten();
        let kind = match self.get("kind") {
            None => {
                let hint = format!("kind is one of: {}", FAULT_KINDS.join(", "));
                self.missing("kind", hint);
                None
            }
            Some(input) => {
                let mut r = Reader::new(self.at("kind"), self.res.issues());
                match input.shape() {
                    Shape::Str(k) => pick(k, &FAULT_KINDS.map(|k| (k, k)), "fault kind", &mut r),
                    other => r.wrong_type("a string", &other),
                }
            }
        };
        let domain = match kind {
            Some("zone_outage") => Some(Level::Zone),
            Some("region_outage") => Some(Level::Region),
            _ => None,
        };
        let tname = text(self.entries, "target").unwrap_or_default().to_owned();
        let mut group = None;
        let target = match kind {
            Some("partition" | "link_degradation") => self.link(),
            _ => match self.value::<Text>("target") {
                None => None,
                Some(None) => {
                    let what = domain.map_or("component", Level::name);
                    self.missing("target", format!("add target = \"<the {what} it hits>\""));
                    None
                }
                Some(Some(t)) => match domain {
                    None => {
                        group = self.res.group(None, self.at("target"), &t, Role::Any);
                        group.map(FaultTarget::Group)
                    }
                    Some(level) => self.domain(self.at("target"), level, &t).then(|| {
                        if level == Level::Zone {
                            FaultTarget::Zone(t)
                        } else {
                            FaultTarget::Region(t)
                        }
                    }),
                },
            },
        };
        let at = match self.get("at") {
            None => {
                self.missing("at", "add at = \"20m\": when the fault starts");
                None
            }
            Some(_) => self.value::<Duration>("at").flatten(),
        };
        let duration = self.value::<PosDuration>("duration");
        let kind = kind?;
        self.not_applicable(kind);
        // A problem with the kind's own settings ends the reading here, except for the kinds
        // that only take `replicas` (and traffic surges, below): their name is checked too.
        let fault_kind = match kind {
            "partition" => Some(FaultKind::Partition),
            "link_degradation" => {
                let s = self.table::<LinkDegradationSettings>();
                if !self.typed("latency") && !self.typed("loss") {
                    self.push(
                        Issue::new(
                            self.base.clone(),
                            "a link_degradation needs latency or loss",
                        )
                        .hint("add latency = \"200ms\" and/or loss = 0.1".to_owned()),
                    );
                    return None;
                }
                let s = s?;
                Some(FaultKind::LinkDegradation {
                    latency: s.latency,
                    loss: s.loss,
                })
            }
            "zone_outage" => Some(FaultKind::ZoneOutage),
            "region_outage" => Some(FaultKind::RegionOutage),
            "traffic_surge" | "new_source" => {
                if !self.client_fault(kind, group, &tname) {
                    return None;
                }
                if kind == "new_source" {
                    return Some(FaultSpec {
                        name: written.unwrap_or_else(|| format!("{kind}-{tname}")),
                        target: target?,
                        at: at?,
                        duration: duration?,
                        kind: FaultKind::NewSource,
                    });
                }
                let s = self.table::<TrafficSurgeSettings>();
                let ramp = match &s {
                    Some(s) => Some(s.ramp),
                    None => self.again::<Duration>("ramp", SimTime::ZERO),
                };
                if let (Some(r), Some(Some(d))) = (ramp, duration)
                    && r > d
                {
                    let issue = Issue::new(
                        self.at("ramp"),
                        format!("the ramp ({r}) is longer than the fault ({d})"),
                    );
                    self.push(issue.value(r.to_string()));
                    return None;
                }
                s.map(|s| FaultKind::TrafficSurge {
                    multiplier: s.multiplier,
                    ramp: s.ramp,
                })
            }
            _ => {
                let k = self.replica_fault(j, kind, group, &tname, duration);
                if k.is_none() && !matches!(kind, "crash" | "hang" | "gossip_corruption") {
                    return None;
                }
                k
            }
        };
        let name = written.unwrap_or_else(|| format!("{kind}-{tname}"));
        if name.is_empty() {
            self.push(Issue::new(self.at("name"), "must not be empty").value(""));
            return None;
        }
        Some(FaultSpec {
            name,
            target: target?,
            at: at?,
            duration: duration?,
            kind: fault_kind?,
        })
    }

    /// Reports the settings written that fault kind `kind` does not take (those of the wrong
    /// type only for their type, as their own kind would).
    fn not_applicable(&mut self, kind: &str) {
        let link = matches!(kind, "partition" | "link_degradation");
        let allowed = own_fields(kind);
        let what = format!("fault kind '{kind}'");
        for f in KIND_FIELDS {
            let Some(input) = self.get(f) else { continue };
            if allowed.contains(&f) || (f == "target" && !link) {
                continue;
            }
            let problems = type_problems(f, input, self.at(f));
            if !problems.is_empty() {
                self.res.issues().extend(problems);
                continue;
            }
            let hint = match closest(f, allowed.iter().copied()) {
                Some(c) => format!(
                    "did you mean '{c}'? (fields for {what}: {})",
                    list(&allowed)
                ),
                None if allowed.is_empty() => format!("{what} takes no further fields"),
                None => format!("fields for {what}: {}", list(&allowed)),
            };
            let issue = Issue::new(self.at(f), format!("field '{f}' does not apply to {what}"));
            self.push(issue.hint(hint).at_key());
        }
    }

    /// A link fault's target: the link between two domains of one level.
    fn link(&mut self) -> Option<FaultTarget> {
        let LinkSettings {
            level,
            between: (a, b),
        } = self.table::<LinkSettings>()?;
        let mut ok = true;
        for (k, name) in [&a, &b].into_iter().enumerate() {
            let mut path = self.at("between");
            path.push(k.to_string());
            ok &= self.domain(path, level, name);
        }
        ok.then_some(FaultTarget::Link { level, a, b })
    }

    /// Whether a traffic fault may hit group `g` (a rate-based client); problems are reported.
    fn client_fault(&mut self, kind: &str, g: Option<usize>, tname: &str) -> bool {
        if let Some(k) = g.and_then(|g| self.res.kind(g))
            && k != Kind::Client
        {
            let clients = self.names_of(|k| k == Kind::Client);
            let clients: Vec<&str> = clients.iter().map(String::as_str).collect();
            let issue = Issue::new(
                self.at("target"),
                format!(
                    "{kind} applies to client components, and '{tname}' is {}",
                    k.a()
                ),
            );
            self.push(
                issue
                    .value(tname)
                    .hint(format!("clients: {}", list(&clients))),
            );
        }
        if g.is_some_and(|g| self.res.closed_loop(g)) {
            let issue = Issue::new(
                self.at("target"),
                format!("{kind} applies to rate-based clients, and '{tname}' has a concurrency"),
            );
            self.push(
                issue.value(tname).hint(
                    "change a closed-loop population with --set on its concurrency".to_owned(),
                ),
            );
            return false;
        }
        true
    }

    /// The kind of a fault on replicas of group `g`.
    fn replica_fault(
        &mut self,
        j: usize,
        kind: &str,
        g: Option<usize>,
        tname: &str,
        duration: Option<Option<SimTime>>,
    ) -> Option<FaultKind> {
        if g.and_then(|g| self.res.kind(g)) == Some(Kind::Client) {
            let issue = Issue::new(
                self.at("target"),
                format!("a {kind} fault cannot hit '{tname}': it is a client"),
            );
            self.push(
                issue
                    .value(tname)
                    .hint("use kind = \"traffic_surge\" to change a client's traffic".to_owned()),
            );
        }
        // A list of the wrong type is reported, and read as absent.
        let list = self.table::<ReplicaSettings>().and_then(|s| s.replicas);
        let replicas = self.replicas(list, g, tname, kind == "gossip_corruption");
        match kind {
            "crash" => replicas.map(|replicas| FaultKind::Crash { replicas }),
            "hang" => replicas.map(|replicas| FaultKind::Hang { replicas }),
            "gossip_corruption" => {
                if let Some(g) = g {
                    self.res.needs_gossip(self.at("target"), g, "corrupt");
                }
                replicas.map(|replicas| FaultKind::GossipCorruption { replicas })
            }
            "slow" => {
                let s = self.table::<SlowSettings>()?;
                Some(FaultKind::Slow {
                    replicas: replicas?,
                    factor: s.factor,
                })
            }
            "error" => {
                let s = self.table::<ErrorSettings>()?;
                Some(FaultKind::Error {
                    replicas: replicas?,
                    probability: s.probability,
                    wrong: s.wrong,
                })
            }
            "capacity_loss" => {
                let s = self.table::<CapacityLossSettings>()?;
                Some(FaultKind::CapacityLoss {
                    replicas: replicas?,
                    fraction: s.fraction,
                })
            }
            "dns_record" => {
                let (record, wrong_to) = self.dns_record(g, tname);
                Some(FaultKind::DnsRecord {
                    replicas: replicas?,
                    record: record?,
                    wrong_to: wrong_to?,
                })
            }
            _ => self.config_change(j, g, tname, duration, replicas),
        }
    }

    /// A dns_record fault's record (its index in the target's records) and where a wrong
    /// answer points.
    fn dns_record(
        &mut self,
        g: Option<usize>,
        tname: &str,
    ) -> (Option<usize>, Option<Option<usize>>) {
        if let Some(k) = g
            .and_then(|g| self.res.kind(g))
            .filter(|&k| k != Kind::Dns && k != Kind::Client)
        {
            let issue = Issue::new(
                self.at("target"),
                format!(
                    "dns_record applies to dns components, and '{tname}' is {}",
                    k.a()
                ),
            );
            self.push(issue.value(tname));
        }
        // The settings as far as they are strings: the table reports the rest.
        let s = self.table::<DnsRecordSettings>();
        let served = g.map_or_else(Vec::new, |g| self.res.records(g));
        let record = text(self.entries, "record").and_then(|r| {
            let i = served.iter().position(|x| x == r);
            if i.is_none() {
                let refs: Vec<&str> = served.iter().map(String::as_str).collect();
                let issue = Issue::new(
                    self.at("record"),
                    format!("'{tname}' serves no record named '{r}'"),
                );
                self.push(issue.value(r).hint(suggest(r, "records", &refs)));
            }
            i
        });
        let wrong_to = match (text(self.entries, "answer"), text(self.entries, "to")) {
            (None | Some("empty"), None) => Some(None),
            (Some("wrong"), Some(t)) => self
                .res
                .group(None, self.at("to"), t, Role::Serve)
                .map(Some),
            (Some("wrong"), None) => {
                self.missing("to", "add to = \"<the group the wrong answer points at>\"");
                None
            }
            (None | Some("empty"), Some(_)) => {
                let issue = Issue::new(self.at("to"), "'to' applies only with answer = \"wrong\"");
                self.push(issue.hint("an empty answer points nowhere".to_owned()));
                None
            }
            _ => None, // An unknown answer, reported by the table.
        };
        (record.filter(|_| s.is_some()), wrong_to)
    }

    fn config_change(
        &mut self,
        j: usize,
        g: Option<usize>,
        tname: &str,
        duration: Option<Option<SimTime>>,
        replicas: Option<Vec<u32>>,
    ) -> Option<FaultKind> {
        if g.and_then(|g| self.res.kind(g)) == Some(Kind::Monitor) {
            let servers = self.names_of(|k| !matches!(k, Kind::Client | Kind::Monitor));
            let servers: Vec<&str> = servers.iter().map(String::as_str).collect();
            let issue = Issue::new(
                self.at("target"),
                format!("a config_change fault cannot hit '{tname}': it is a monitor"),
            );
            self.push(issue.value(tname).hint(format!(
                "config changes roll out to server groups: {}",
                list(&servers)
            )));
        }
        let s = self.table::<ConfigChangeSettings>();
        let rollout = match &s {
            Some(s) => Some(s.rollout),
            None => self.again::<Duration>("rollout", SimTime::ZERO),
        };
        let mut late = false;
        if let (Some(r), Some(Some(d))) = (rollout, duration)
            && r > d
        {
            late = true;
            let issue = Issue::new(
                self.at("rollout"),
                format!("the rollout ({r}) is longer than the fault ({d})"),
            );
            self.push(issue.value(r.to_string()).hint("the change is rolled back when the fault ends; shorten the rollout or lengthen the fault".to_owned()));
        }
        // Without a `set` table the table reported it.
        let change = if self.typed("set") {
            self.res.config_change(j, g)
        } else {
            None
        };
        let ((after, set), s) = (change?, s?);
        Some(FaultKind::ConfigChange {
            replicas: replicas?,
            after: Box::new(after),
            set,
            rollout: Some(s.rollout).filter(|_| !late)?,
            batch: s.batch,
        })
    }

    /// The replicas a replica fault hits: `list`, or every replica of group `g` (with `one`,
    /// a gossip corruption: a single replica, 0 by default).
    fn replicas(
        &mut self,
        list: Option<Vec<i64>>,
        g: Option<usize>,
        tname: &str,
        one: bool,
    ) -> Option<Vec<u32>> {
        let n = g.and_then(|g| self.res.replicas(g));
        let list = match list {
            None if one => return n.map(|_| vec![0]),
            None => return n.map(|n| (0..n as u32).collect()),
            Some(list) => list,
        };
        if list.is_empty() {
            let hint = if one {
                "leave 'replicas' out to start from replica 0"
            } else {
                "leave 'replicas' out to hit every replica"
            };
            let issue = Issue::new(self.at("replicas"), "lists no replica");
            self.push(issue.hint(hint.to_owned()));
            return None;
        }
        if one && list.len() > 1 {
            let issue = Issue::new(
                self.at("replicas"),
                format!(
                    "a gossip corruption starts from one replica, got {}",
                    list.len()
                ),
            );
            self.push(
                issue
                    .value(format!("{list:?}"))
                    .hint("list one replica, e.g. replicas = [0]".to_owned()),
            );
            return None;
        }
        let mut out = Some(Vec::new());
        for (k, &r) in list.iter().enumerate() {
            let mut p = self.at("replicas");
            p.push(k.to_string());
            let problem = match n {
                None => {
                    out = None;
                    continue;
                }
                Some(n) if r < 0 || r >= n as i64 => format!(
                    "replica index {r} is out of range: '{tname}' has {n} replica(s), numbered 0 to {}",
                    n - 1
                ),
                Some(_) if list[..k].contains(&r) => format!("replica {r} is listed twice"),
                Some(_) => {
                    if let Some(v) = out.as_mut() {
                        v.push(r as u32);
                    }
                    continue;
                }
            };
            self.push(Issue::new(p, problem).value(r.to_string()));
            out = None;
        }
        out
    }
}

// ---- the specs ------------------------------------------------------------------------------

/// `[[failures]]`: random failures and repairs for the whole run. Each unit alternates between
/// up (for a time drawn from `mtbf`) and down (for a time drawn from `mttr`), starting up; a
/// down unit behaves as crashed.
#[derive(Clone, Debug, PartialEq)]
pub struct FailureSpec {
    /// `name` (default "failures-<target>").
    pub name: String,
    pub unit: FailureUnit,
    /// `mtbf`: time between failures, a distribution.
    pub mtbf: Dist,
    /// `mttr`: time to repair, a distribution.
    pub mttr: Dist,
}

/// What fails as one unit.
#[derive(Clone, Debug, PartialEq)]
pub enum FailureUnit {
    /// `target = "<group>"`: each replica fails and is repaired on its own.
    Replicas(usize),
    /// `zone = "<zone>"`: every component replica in the zone at once (clients are spared).
    Zone(String),
    /// `region = "<region>"`: every component replica in the region at once.
    Region(String),
}

/// `[[faults]]`: `name`, `kind`, `target`, `at`, optional `duration` (default: to the end).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    pub name: String,
    pub target: FaultTarget,
    pub at: SimTime,
    pub duration: Option<SimTime>,
    pub kind: FaultKind,
}

/// What a fault's `target` names: a group, or (zone and region outages) a failure domain, or
/// (partitions and link degradations) the link between two domains of one level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultTarget {
    Group(usize),
    Zone(String),
    Region(String),
    /// `between = ["a", "b"]` with `level = "zone" | "region" | "segment"`.
    Link {
        level: Level,
        a: String,
        b: String,
    },
}

/// A level of placement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Zone,
    Region,
    Segment,
}

impl Level {
    /// The word of the scenario file.
    pub fn name(self) -> &'static str {
        match self {
            Level::Zone => "zone",
            Level::Region => "region",
            Level::Segment => "segment",
        }
    }
}

impl FaultSpec {
    /// The group it targets, if it targets a group.
    pub fn group(&self) -> Option<usize> {
        match self.target {
            FaultTarget::Group(g) => Some(g),
            _ => None,
        }
    }

    /// Whether it hits replica `replica` of group `g`. Zone and region outages hit every
    /// component replica placed there, and spare clients.
    pub fn hits(&self, groups: &[GroupSpec], g: usize, replica: u32) -> bool {
        let group = &groups[g];
        match &self.target {
            FaultTarget::Group(t) => {
                *t == g
                    && self
                        .kind
                        .replicas()
                        .is_none_or(|r| r.is_empty() || r.contains(&replica))
            }
            FaultTarget::Zone(z) => {
                !matches!(group.kind, KindSpec::Client(_))
                    && group
                        .placement
                        .get(replica as usize)
                        .is_some_and(|p| &p.zone == z)
            }
            FaultTarget::Region(r) => {
                !matches!(group.kind, KindSpec::Client(_))
                    && group
                        .placement
                        .get(replica as usize)
                        .is_some_and(|p| &p.region == r)
            }
            FaultTarget::Link { .. } => false,
        }
    }
}

/// The fault kinds of this version. Replica faults take `replicas = [0, 2]` (default: every
/// replica of the target group).
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// `kind = "crash"`: the replicas stop answering anything, lose their in-flight work, and
    /// restart empty when the fault ends.
    Crash { replicas: Vec<u32> },
    /// `kind = "hang"`: the replicas accept connections (shallow health checks pass) but never
    /// answer a request; what they hold when it starts is never answered either.
    Hang { replicas: Vec<u32> },
    /// `kind = "slow"`: service times multiplied by `factor` (required, > 0).
    Slow { replicas: Vec<u32>, factor: f64 },
    /// `kind = "error"`: each request is answered with an error at once with `probability`
    /// (required, 0..=1); with `wrong = true`, instead with a wrong answer after normal service,
    /// which looks like success to a status-code check but fails users and deep checks.
    Error {
        replicas: Vec<u32>,
        probability: f64,
        wrong: bool,
    },
    /// `kind = "capacity_loss"`: a `fraction` (required, in (0, 1]) of each replica's workers
    /// is lost; work in progress finishes, but no new work starts beyond what is left.
    CapacityLoss { replicas: Vec<u32>, fraction: f64 },
    /// `kind = "dns_record"` on a `dns` group: its `record` (a name it serves) answers empty
    /// (`answer = "empty"`, the default: clients cannot resolve the name), or wrong
    /// (`answer = "wrong"` with `to = "<group>"`: clients are sent to that group instead).
    DnsRecord {
        replicas: Vec<u32>,
        /// The record's index within the dns group's records.
        record: usize,
        /// None: an empty answer; Some(group): a wrong one.
        wrong_to: Option<usize>,
    },
    /// `kind = "new_source"` on a client group: the group sends nothing except while this
    /// fault lasts, when it sends at its `rate` (an unknown source appearing: a new top talker).
    NewSource,
    /// `kind = "partition"`: nothing gets through between the two domains of `between`.
    Partition,
    /// `kind = "link_degradation"`: messages between the two domains take `latency` longer
    /// (default "0s") and are lost with probability `loss` (default 0).
    LinkDegradation { latency: SimTime, loss: f64 },
    /// `kind = "zone_outage"`, `target = "<zone>"`: every component replica in the zone
    /// crashes at once.
    ZoneOutage,
    /// `kind = "region_outage"`, `target = "<region>"`: every component replica in the region
    /// crashes at once.
    RegionOutage,
    /// `kind = "traffic_surge"` on a client group: `multiplier` (required, > 0) reached
    /// linearly over `ramp` (default "0s"), back to normal at the end.
    TrafficSurge { multiplier: f64, ramp: SimTime },
    /// `kind = "config_change"`: a staged rollout of new settings to the target group's
    /// replicas: `set = { "health_check.kind" = "shallow", workers = 4 }` (dotted paths into the
    /// component's table, as `--set` takes them, validated like the file itself). Replicas
    /// switch in order, in batches of `batch` (default 1), batches spread evenly over `rollout`
    /// (default "0s": all at once). At the fault's end, or on a `rollback` action, they switch
    /// back in reverse order at the same pace.
    ConfigChange {
        replicas: Vec<u32>,
        /// The group's settings after the change.
        after: Box<KindSpec>,
        /// The settings as written, for reports: `path = value`.
        set: Vec<(String, String)>,
        rollout: SimTime,
        batch: u32,
    },
    /// `kind = "gossip_corruption"` on a group with gossip: replica `replicas[0]` (default 0)
    /// emits a corrupted state entry in its gossip rounds while the fault lasts (without a
    /// `duration`: one round). The entry claims an impossible version, so it wins every merge;
    /// a node that adopts it judges every genuine heartbeat stale, so its peers drop out of its
    /// view after `fail_after`. Only clearing the group's gossip state removes it. With
    /// `checksums = true` receivers reject the corrupted messages.
    GossipCorruption { replicas: Vec<u32> },
}

impl FaultKind {
    /// The `kind` string of the scenario file.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Crash { .. } => "crash",
            FaultKind::Hang { .. } => "hang",
            FaultKind::Slow { .. } => "slow",
            FaultKind::Error { .. } => "error",
            FaultKind::CapacityLoss { .. } => "capacity_loss",
            FaultKind::DnsRecord { .. } => "dns_record",
            FaultKind::NewSource => "new_source",
            FaultKind::Partition => "partition",
            FaultKind::LinkDegradation { .. } => "link_degradation",
            FaultKind::ZoneOutage => "zone_outage",
            FaultKind::RegionOutage => "region_outage",
            FaultKind::TrafficSurge { .. } => "traffic_surge",
            FaultKind::ConfigChange { .. } => "config_change",
            FaultKind::GossipCorruption { .. } => "gossip_corruption",
        }
    }

    /// The replicas a replica fault hits (None for faults on a whole client group).
    pub fn replicas(&self) -> Option<&[u32]> {
        match self {
            FaultKind::Crash { replicas }
            | FaultKind::Hang { replicas }
            | FaultKind::Slow { replicas, .. }
            | FaultKind::Error { replicas, .. }
            | FaultKind::CapacityLoss { replicas, .. }
            | FaultKind::DnsRecord { replicas, .. }
            | FaultKind::ConfigChange { replicas, .. }
            | FaultKind::GossipCorruption { replicas } => Some(replicas),
            FaultKind::TrafficSurge { .. }
            | FaultKind::NewSource
            | FaultKind::ZoneOutage
            | FaultKind::RegionOutage
            | FaultKind::Partition
            | FaultKind::LinkDegradation { .. } => None,
        }
    }
}
