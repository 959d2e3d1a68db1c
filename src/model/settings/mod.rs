//! Settings declared once: the `settings!` tables, the validated value types they are made of,
//! and the reader that turns a format-free input tree into them, collecting every problem.
//!
//! A setting is declared in one place, in the module of the kind or policy it configures: its
//! name, doc line, value type (which carries parsing, bounds and unit) and default. Reading
//! with located problems, the reference documentation (`docs/reference.md`), `describe` and the
//! JSON Schema all derive from that declaration ([`Table::FIELDS`], [`Value`]).
//!
//! This module knows no file format: the scenario layer implements [`Input`] over its TOML
//! document, and maps the dotted paths of problems to lines and columns.

mod compound;
mod ops;
mod resolve;
mod text;
mod values;

pub use compound::*;
pub use ops::*;
pub use resolve::{Resolve, Role};
pub use text::*;
pub use values::*;

use std::fmt::Write as _;

use serde_json::{Map, Value as Json, json};

/// Which part of a `key = value` entry a problem points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// The key (unknown or misplaced fields).
    Key,
    /// The value (bad values); the key when there is no value.
    Value,
}

/// A problem before it is given its origin: reading works with dotted paths only.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    pub path: Vec<String>,
    pub message: String,
    pub value: Option<String>,
    pub hint: Option<String>,
    pub anchor: Anchor,
}

impl Issue {
    /// A problem with the value at `path`.
    pub fn new(path: Vec<String>, message: impl Into<String>) -> Issue {
        Issue {
            path,
            message: message.into(),
            value: None,
            hint: None,
            anchor: Anchor::Value,
        }
    }

    /// Sets the bad value.
    #[must_use]
    pub fn value(mut self, value: impl Into<String>) -> Issue {
        self.value = Some(value.into());
        self
    }

    /// Sets the hint (none if `None`).
    #[must_use]
    pub fn hint(mut self, hint: impl Into<Option<String>>) -> Issue {
        self.hint = hint.into();
        self
    }

    /// Points the problem at the key rather than the value.
    #[must_use]
    pub fn at_key(mut self) -> Issue {
        self.anchor = Anchor::Key;
        self
    }
}

/// What one node of the input tree is.
pub enum Shape<'a> {
    Str(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// The elements, in order.
    Array(Vec<&'a dyn Input>),
    /// The entries, in order.
    Table(Vec<(&'a str, &'a dyn Input)>),
    /// Something no setting takes (a date-time), by name ("a date-time").
    Other(&'static str),
}

/// One node of a settings document, whatever its format.
pub trait Input {
    fn shape(&self) -> Shape<'_>;
}

impl Shape<'_> {
    /// How a type problem names what was found: `integer 5`, `string "two"`, `a table`.
    pub fn found(&self) -> String {
        match self {
            Shape::Str(s) => format!("string {s:?}"),
            Shape::Int(n) => format!("integer {n}"),
            Shape::Float(x) => format!("floating point {x:?}"),
            Shape::Bool(b) => format!("boolean {b}"),
            Shape::Array(_) => "an array".to_owned(),
            Shape::Table(_) => "a table".to_owned(),
            Shape::Other(what) => (*what).to_owned(),
        }
    }

    /// The value as written, for scalars.
    pub fn written(&self) -> Option<String> {
        match self {
            Shape::Str(s) => Some((*s).to_owned()),
            Shape::Int(n) => Some(n.to_string()),
            Shape::Float(x) => Some(x.to_string()),
            Shape::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// Reads input into settings, collecting every problem with its dotted path.
pub struct Reader<'a> {
    path: Vec<String>,
    /// Every problem found so far.
    pub issues: &'a mut Vec<Issue>,
}

impl<'a> Reader<'a> {
    /// A reader whose problems are placed under `base`.
    pub fn new(base: Vec<String>, issues: &'a mut Vec<Issue>) -> Reader<'a> {
        Reader { path: base, issues }
    }

    /// The path of field `seg` below the one being read.
    pub fn at(&self, seg: &str) -> Vec<String> {
        let mut p = self.path.clone();
        p.push(seg.to_owned());
        p
    }

    /// Records a problem at the path being read.
    pub fn problem(&mut self, message: impl Into<String>) -> Issue {
        Issue::new(self.path.clone(), message)
    }

    /// Records an issue.
    pub fn push(&mut self, issue: Issue) {
        self.issues.push(issue);
    }

    /// Reads field `seg` with `f`, its problems placed below it.
    pub fn field<T>(&mut self, seg: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.path.push(seg.to_owned());
        let out = f(self);
        self.path.pop();
        out
    }

    /// A type problem: expected `what`, found this input.
    pub fn wrong_type<T>(&mut self, what: &str, input: &Shape<'_>) -> Option<T> {
        let mut issue = self.problem(format!("expected {what}, found {}", input.found()));
        issue.value = input.written();
        self.push(issue);
        None
    }

    /// Records a missing required field.
    pub fn missing(&mut self, field: &str, hint: impl Into<String>) {
        let issue = Issue::new(self.at(field), format!("missing required field '{field}'"))
            .hint(hint.into());
        self.push(issue);
    }
}

/// A validated value type: reading (with its checks), and how the documentation and the JSON
/// Schema describe it.
pub trait Value {
    /// What the model receives.
    type Out: Clone + std::fmt::Debug + PartialEq;
    /// Reads one input node; every problem is recorded in `r`, and `None` returned.
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Self::Out>;
    /// What it is, for messages and documentation: "a duration such as \"30s\"".
    fn what() -> String;
    /// Its JSON Schema.
    fn schema() -> Json;
    /// A value as it is written in a file (defaults in the documentation).
    fn show(v: &Self::Out) -> String;
}

/// One declared setting of a table.
pub struct Field {
    pub name: &'static str,
    /// One line.
    pub doc: &'static str,
    /// What the value is.
    pub what: fn() -> String,
    pub schema: fn() -> Json,
    /// The default as written in a file; `None` for a required field.
    pub default: Option<fn() -> String>,
}

/// A table of declared settings (see [`settings!`](crate::settings)).
pub trait Table: Sized {
    /// The table's name in documentation ("retry").
    const NAME: &'static str;
    /// What the table is for, one line.
    const DOC: &'static str;
    /// Its settings, in declaration order.
    fn fields() -> Vec<Field>;
    /// Reads the declared fields of a table's entries; unknown keys are left to the caller.
    fn read_fields(entries: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> Option<Self>;
    /// Checks between fields, after every field was read (`entries`: what was written).
    fn check(&self, _entries: &[(&str, &dyn Input)], _r: &mut Reader<'_>) -> bool {
        true
    }
    /// Every field at its default.
    ///
    /// # Panics
    /// If the table has a required field: a declaration bug.
    fn defaults() -> Self {
        let mut issues = Vec::new();
        Self::read_fields(&[], &mut Reader::new(Vec::new(), &mut issues))
            .expect("every field of this table has a default")
    }
}

/// Reads a whole table, then checks between its fields; unknown keys are problems with a
/// "did you mean".
pub fn read_table<T: Table>(input: &dyn Input, r: &mut Reader<'_>) -> Option<T> {
    let shape = input.shape();
    let Shape::Table(entries) = &shape else {
        return r.wrong_type("a table", &shape);
    };
    let names: Vec<&str> = T::fields().iter().map(|f| f.name).collect();
    // Unknown keys are reported; the rest is still read (the run stops on any problem).
    unknown_fields(entries, &names, r);
    let out = T::read_fields(entries, r)?;
    out.check(entries, r).then_some(out)
}

/// Reports every key of `entries` that is none of `names`, each with a "did you mean";
/// whether there was none.
pub fn unknown_fields(entries: &[(&str, &dyn Input)], names: &[&str], r: &mut Reader<'_>) -> bool {
    let mut none = true;
    for (key, _) in entries {
        if !names.contains(key) {
            let issue = unknown_field(r.at(key), key, names);
            r.push(issue);
            none = false;
        }
    }
    none
}

/// "field 'x' does not apply to <what>" (a field of another kind), with a "did you mean" over
/// `allowed`, the fields for `what`.
pub fn not_applicable(path: Vec<String>, field: &str, allowed: &[&str], what: &str) -> Issue {
    let hint = match closest(field, allowed.iter().copied()) {
        Some(c) => format!("did you mean '{c}'? (fields for {what}: {})", list(allowed)),
        None if allowed.is_empty() => format!("{what} takes no further fields"),
        None => format!("fields for {what}: {}", list(allowed)),
    };
    Issue::new(path, format!("field '{field}' does not apply to {what}"))
        .hint(hint)
        .at_key()
}

/// "unknown field 'x'" with a "did you mean" over `names`.
pub fn unknown_field(path: Vec<String>, key: &str, names: &[&str]) -> Issue {
    let hint = match closest(key, names.iter().copied()) {
        Some(c) => format!("did you mean '{c}'? (fields here: {})", list(names)),
        None if names.is_empty() => "this table takes no fields".to_owned(),
        None => format!("fields here: {}", list(names)),
    };
    Issue::new(path, format!("unknown field '{key}'"))
        .value(key)
        .hint(hint)
        .at_key()
}

/// The JSON Schema of a table: its fields, and no others.
pub fn table_schema<T: Table>() -> Json {
    object_schema(T::DOC, &T::fields())
}

/// The JSON Schema of a table with `fields` and no others; those without a default are
/// required.
pub fn object_schema(doc: &str, fields: &[Field]) -> Json {
    let mut props = Map::new();
    for f in fields {
        let mut s = (f.schema)();
        if let Json::Object(o) = &mut s {
            o.insert("description".into(), Json::String(f.doc.to_owned()));
        }
        props.insert(f.name.to_owned(), s);
    }
    let required: Vec<&str> = fields
        .iter()
        .filter(|f| f.default.is_none())
        .map(|f| f.name)
        .collect();
    let mut out = json!({
        "type": "object",
        "description": doc.trim(),
        "properties": props,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        out["required"] = json!(required);
    }
    out
}

/// The JSON Schema of a table whose fields depend on its `kind` (components, faults,
/// actions): `kind` is one of `kinds`, and each kind allows its own fields only.
pub fn by_kind_schema(doc: &str, kinds: &[(&str, Vec<Field>)]) -> Json {
    let words: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
    let branches: Vec<Json> = kinds
        .iter()
        .map(|(kind, fields)| {
            let mut then = object_schema(doc, fields);
            then["properties"]["kind"] = json!({ "const": kind });
            json!({
                "if": { "properties": { "kind": { "const": kind } }, "required": ["kind"] },
                "then": then,
            })
        })
        .collect();
    json!({
        "type": "object",
        "description": doc.trim(),
        "properties": { "kind": { "enum": words } },
        "required": ["kind"],
        "allOf": branches,
    })
}

/// The Markdown reference of a table: one row per setting.
pub fn table_reference<T: Table>(used_in: &str) -> String {
    fields_reference(
        &format!("`{}`", T::NAME),
        &format!("{} {used_in}", T::DOC.trim()),
        &T::fields(),
    )
}

/// The Markdown reference of `fields` under heading `title`: one row per setting.
pub fn fields_reference(title: &str, doc: &str, fields: &[Field]) -> String {
    let mut out = format!("### {title}\n\n{}\n\n", doc.trim());
    out.push_str("| setting | value | default | meaning |\n|---|---|---|---|\n");
    for f in fields {
        let default = f
            .default
            .map_or_else(|| "required".to_owned(), |d| format!("`{}`", d()));
        let _ = writeln!(
            out,
            "| `{}` | {} | {default} | {} |",
            f.name,
            (f.what)().replace('|', "\\|"),
            f.doc.replace('|', "\\|")
        );
    }
    out
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(usize, f64, &'a str)> = None;
    for c in candidates {
        let cl = c.to_lowercase();
        let lev = strsim::levenshtein(&lower, &cl);
        let jw = strsim::jaro_winkler(&lower, &cl);
        let prefix = lower.chars().count() >= 3 && cl.starts_with(&lower);
        let close = lev <= 2.max(word.chars().count() / 4) || jw >= 0.9 || prefix;
        if !close || lev >= word.chars().count().max(c.chars().count()) {
            continue;
        }
        let better = match best {
            None => true,
            Some((bl, bj, _)) => lev < bl || (lev == bl && jw > bj),
        };
        if better {
            best = Some((lev, jw, c));
        }
    }
    best.map(|(_, _, c)| c)
}

/// A list of names for a hint, shortened when long.
pub fn list(names: &[&str]) -> String {
    const MAX: usize = 16;
    if names.len() <= MAX {
        names.join(", ")
    } else {
        format!("{}, ... ({} in all)", names[..MAX].join(", "), names.len())
    }
}

/// "did you mean 'x'? (what: a, b, c)", or just the list when nothing is close.
pub fn suggest(word: &str, what: &str, names: &[&str]) -> String {
    match closest(word, names.iter().copied()) {
        Some(c) => format!("did you mean '{c}'? ({what}: {})", list(names)),
        None if names.is_empty() => format!("there are no {what}"),
        None => format!("{what}: {}", list(names)),
    }
}

/// A field's key as written in files: its name without a raw-identifier prefix (`r#match`).
pub fn key(field: &'static str) -> &'static str {
    field.strip_prefix("r#").unwrap_or(field)
}

/// Declares a table of settings once: a struct whose fields the model reads, and its
/// [`Table`] implementation (reading with located problems, documentation, schema).
///
/// ```ignore
/// settings! {
///     /// `health_check = { ... }`: how a balancer probes its backends.
///     pub struct HealthCheck "health_check" {
///         /// Seconds between probes.
///         interval: PosDuration = SimTime::from_secs(5),
///         /// The group to probe.
///         target: Name => "add target = \"<group>\"",
///     }
/// }
/// ```
///
/// Each field is `name: ValueType = default` or, when required, `name: ValueType => "hint"`;
/// the struct field's type is the value type's [`Value::Out`].
#[macro_export]
macro_rules! settings {
    (
        $(#[doc = $doc:literal])*
        $vis:vis struct $name:ident $table:literal $(check $check:path)? {
            $(
                #[doc = $fdoc:literal]
                $field:ident : $vt:ty $(= $default:expr)? $(=> $hint:literal)?
            ),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(Clone, Debug, PartialEq)]
        $vis struct $name {
            $(
                #[doc = $fdoc]
                pub $field: <$vt as $crate::model::settings::Value>::Out,
            )*
        }

        impl $crate::model::settings::Table for $name {
            const NAME: &'static str = $table;
            const DOC: &'static str = concat!($($doc),*);
            fn fields() -> Vec<$crate::model::settings::Field> {
                vec![$(
                    $crate::model::settings::Field {
                        name: $crate::model::settings::key(stringify!($field)),
                        doc: $fdoc.trim_ascii(),
                        what: <$vt as $crate::model::settings::Value>::what,
                        schema: <$vt as $crate::model::settings::Value>::schema,
                        default: $crate::settings!(@default $vt $(, $default)?),
                    },
                )*]
            }
            $(
                fn check(
                    &self,
                    entries: &[(&str, &dyn $crate::model::settings::Input)],
                    r: &mut $crate::model::settings::Reader<'_>,
                ) -> bool {
                    $check(self, entries, r)
                }
            )?
            fn read_fields(
                entries: &[(&str, &dyn $crate::model::settings::Input)],
                r: &mut $crate::model::settings::Reader<'_>,
            ) -> Option<Self> {
                let mut ok = true;
                $(
                    let $field = match entries.iter().find(|(k, _)| *k == $crate::model::settings::key(stringify!($field))) {
                        Some((_, input)) => r.field($crate::model::settings::key(stringify!($field)), |r| {
                            <$vt as $crate::model::settings::Value>::read(*input, r)
                        }),
                        None => $crate::settings!(@absent r, $field $(, $default)? $(; $hint)?),
                    };
                    ok &= $field.is_some();
                )*
                if !ok {
                    return None;
                }
                Some($name { $($field: $field?,)* })
            }
        }
    };
    (@default $vt:ty, $default:expr) => {
        Some(|| <$vt as $crate::model::settings::Value>::show(&$default))
    };
    (@default $vt:ty) => { None };
    (@absent $r:ident, $field:ident, $default:expr) => { Some($default) };
    (@absent $r:ident, $field:ident; $hint:literal) => {{
        $r.missing($crate::model::settings::key(stringify!($field)), $hint);
        None
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimTime;
    use crate::model::policy::retry::MAX_ATTEMPTS;
    use crate::model::spec::{GossipSpec, HealthCheckSpec, RetrySpec};

    /// A tiny in-memory input tree for the tests of this format-free layer.
    enum In {
        S(&'static str),
        I(i64),
        T(Vec<(&'static str, In)>),
    }

    impl Input for In {
        fn shape(&self) -> Shape<'_> {
            match self {
                In::S(s) => Shape::Str(s),
                In::I(n) => Shape::Int(*n),
                In::T(e) => Shape::Table(e.iter().map(|(k, v)| (*k, v as &dyn Input)).collect()),
            }
        }
    }

    fn read<T: Table>(input: &In) -> (Option<T>, Vec<Issue>) {
        let mut issues = Vec::new();
        let out = read_table::<T>(input, &mut Reader::new(vec!["x".into()], &mut issues));
        (out, issues)
    }

    #[test]
    fn defaults_come_from_the_declaration() {
        let r = RetrySpec::defaults();
        assert_eq!(r.attempts, 1);
        assert_eq!(r.base, SimTime::from_millis(100));
        assert_eq!(r.budget, None);
        let g = GossipSpec::defaults();
        assert_eq!((g.fanout, g.cost), (1, SimTime(2_000)));
    }

    #[test]
    fn every_problem_of_a_table_at_once() {
        let (out, issues) = read::<HealthCheckSpec>(&In::T(vec![
            ("kind", In::S("deeep")),
            ("interval", In::I(5)),
            ("unhealthy", In::I(0)),
            ("helthy", In::I(2)),
        ]));
        assert!(out.is_none());
        let got: Vec<(String, &str)> = issues
            .iter()
            .map(|i| (i.path.join("."), i.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("x.helthy".to_owned(), "unknown field 'helthy'"),
                ("x.kind".to_owned(), "unknown health check kind 'deeep'"),
                (
                    "x.interval".to_owned(),
                    r#"expected a duration such as "30s" or "250ms", found integer 5"#
                ),
                ("x.unhealthy".to_owned(), "must be at least 1, got 0"),
            ]
        );
        assert_eq!(
            issues[0].hint.as_deref(),
            Some(
                "did you mean 'healthy'? (fields here: kind, interval, timeout, unhealthy, healthy)"
            )
        );
        assert_eq!(
            issues[1].hint.as_deref(),
            Some("did you mean 'deep'? (health check kind: shallow, deep)")
        );
    }

    #[test]
    fn checks_between_fields_run_after_the_fields() {
        let (out, issues) = read::<RetrySpec>(&In::T(vec![
            ("backoff", In::S("exponential")),
            ("base", In::S("2s")),
            ("cap", In::S("1s")),
        ]));
        assert!(out.is_none());
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].message, "cap (1s) is less than base (2s)");
    }

    #[test]
    fn the_schema_names_every_field_and_refuses_others() {
        let s = table_schema::<RetrySpec>();
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["properties"]["attempts"]["maximum"], MAX_ATTEMPTS);
        assert_eq!(
            s["properties"]["backoff"]["enum"],
            json!(["none", "fixed", "exponential"])
        );
    }
}
