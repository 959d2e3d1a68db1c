//! `--set PATH=VALUE` overrides, and [`load`]: the whole way from scenario text (plus
//! overrides) to a validated [`Spec`] or every problem, each placed at its file position or at
//! the `--set` argument that caused it.

use toml_edit::{Document, InlineTable, Item, Key, Table, Value};

use crate::model::spec::Spec;

use super::error::{
    Anchor, Issue, Origin, Problem, ScenarioError, in_file, in_set, line_col, locate, path_string,
};
use super::{raw, validate};

/// Reads a scenario from its text, applies `--set` overrides in order, and validates it.
///
/// `file` is only used in messages. Each `sets` entry is `PATH=VALUE`: PATH is dotted
/// (`components.api.replicas`; numbers index arrays, `faults.0.at`; missing tables are
/// created), VALUE is a TOML value (`3`, `"10h"`, `{attempts=3}`, `[1, 2]`, `true`) or, when it
/// does not parse as one, a plain string (so `scenario.duration=10h` works).
///
/// # Errors
/// A [`ScenarioError`] with every problem found: TOML syntax, unknown fields, wrong types,
/// bad values, broken references, topology problems and malformed `--set` arguments.
pub fn load(text: &str, file: &str, sets: &[String]) -> Result<Spec, ScenarioError> {
    let fail = |problems: Vec<Problem>| ScenarioError {
        file: file.to_owned(),
        problems,
    };
    let orig = match Document::parse(text) {
        Ok(d) => d,
        Err(e) => return Err(fail(vec![syntax_problem(text, e.message(), e.span())])),
    };
    let mut problems = Vec::new();
    let mut applied: Vec<(Vec<String>, &str)> = Vec::new();
    let effective: Document<String> = if sets.is_empty() {
        match Document::parse(text.to_owned()) {
            Ok(d) => d,
            Err(e) => return Err(fail(vec![syntax_problem(text, e.message(), e.span())])),
        }
    } else {
        let mut doc = orig.clone().into_mut();
        for arg in sets {
            match apply(&mut doc, arg) {
                Ok(path) => applied.push((path, arg)),
                Err(p) => problems.push(*p),
            }
        }
        // Re-parse the edited document so that everything has a span again; spans point into
        // this text, and problems are then placed by path in the original.
        match Document::parse(doc.to_string()) {
            Ok(d) => d,
            Err(e) => {
                let (origin, excerpt) =
                    in_set(sets.last().map_or("", String::as_str), Anchor::Value);
                problems.push(Problem {
                    path: String::new(),
                    message: format!(
                        "the overrides make the scenario unreadable: {}",
                        one_line(e.message())
                    ),
                    value: None,
                    hint: None,
                    origin,
                    excerpt,
                });
                return Err(fail(problems));
            }
        }
    };
    let (raw, mut issues) = raw::read(effective.as_item(), effective.raw());
    let structural: Vec<Vec<String>> = issues.iter().map(|i| i.path.clone()).collect();
    match validate::validate(&raw) {
        Ok(spec) if issues.is_empty() && problems.is_empty() => return Ok(spec),
        Ok(_) => {}
        Err(found) => issues.extend(
            found
                .into_iter()
                // A field that could not be read is reported once, not again as missing.
                .filter(|i| !structural.iter().any(|s| i.path.starts_with(s))),
        ),
    }
    if issues.is_empty() && problems.is_empty() {
        // Every refusal comes with a problem, from one stage or the other; a safety net.
        issues.push(Issue::new(
            vec![],
            "the scenario could not be validated (internal error: no problem recorded)",
        ));
    }
    let mut placed: Vec<((usize, usize), Problem)> = issues
        .into_iter()
        .map(|i| place(i, &orig, text, &applied))
        .collect();
    placed.sort_by_key(|(pos, _)| *pos);
    for (_, p) in placed {
        if !problems.contains(&p) {
            problems.push(p);
        }
    }
    Err(fail(problems))
}

/// Loads what-if `index` of `base` (the scenario as [`load`] read it from `text` with `sets`):
/// the file with `sets` and then the what-if's own overrides.
///
/// # Errors
/// Every problem, as for [`load`]; a problem caused by one of the what-if's overrides is
/// placed at that entry of the file (`what_ifs.<index>.set.<k>`) and names the what-if.
///
/// # Panics
/// If `index` is not a what-if of `base`.
pub fn load_what_if(
    text: &str,
    file: &str,
    sets: &[String],
    base: &Spec,
    index: usize,
) -> Result<Spec, ScenarioError> {
    let w = &base.replay.what_ifs[index];
    let all: Vec<String> = sets.iter().chain(&w.sets).cloned().collect();
    load(text, file, &all).map_err(|mut e| {
        let doc = Document::parse(text).ok();
        for p in &mut e.problems {
            let Origin::Set(arg) = p.origin.clone() else {
                continue;
            };
            let Some(k) = w.sets.iter().position(|s| *s == arg) else {
                continue;
            };
            if sets.contains(&arg) {
                continue;
            }
            let path: Vec<String> = ["what_ifs", &index.to_string(), "set", &k.to_string()]
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            if let Some(doc) = &doc {
                let (span, _) = locate(doc.as_item(), &path, Anchor::Value);
                (p.origin, p.excerpt) = in_file(text, span);
            }
            p.message = format!("what-if '{}' sets {arg}: {}", w.name, p.message);
        }
        e
    })
}

fn one_line(msg: &str) -> String {
    msg.trim().replace('\n', "; ").replace('`', "'")
}

fn syntax_problem(text: &str, message: &str, span: Option<std::ops::Range<usize>>) -> Problem {
    let (origin, excerpt) = in_file(text, span.clone().unwrap_or(0..0));
    let mut message = one_line(message);
    // Name the key of a duplicate.
    if let Some(key) = span.and_then(|s| text.get(s))
        && message == "duplicate key"
        && !key.is_empty()
        && key.len() <= 100
    {
        let key = if key.starts_with(['"', '\'']) {
            key.to_owned()
        } else {
            format!("'{key}'")
        };
        message = format!("duplicate key {key}: each key may appear once in a table");
    }
    Problem {
        path: String::new(),
        message: format!("invalid TOML: {message}"),
        value: None,
        hint: None,
        origin,
        excerpt,
    }
}

/// Gives an issue its origin: the last `--set` that wrote at or above its path, or else its
/// position in the original file (the nearest existing parent when the path is not there;
/// the `--set` that created it if one did). The sort key puts `--set` problems first.
fn place(
    issue: Issue,
    orig: &Document<&str>,
    text: &str,
    applied: &[(Vec<String>, &str)],
) -> ((usize, usize), Problem) {
    let set_above = applied
        .iter()
        .rev()
        .find(|(p, _)| issue.path.starts_with(p));
    let (key, (origin, excerpt)) = match set_above {
        // A problem inside the value the argument set points at that value.
        Some((p, arg)) if p.len() < issue.path.len() => ((0, 0), in_set(arg, Anchor::Value)),
        Some((_, arg)) => ((0, 0), in_set(arg, issue.anchor)),
        None => {
            let (span, found) = locate(orig.as_item(), &issue.path, issue.anchor);
            // The argument that created the path, or the table holding it (`--set
            // faults.0.at=5m` creates a fault whose missing `kind` is that argument's doing).
            let created = applied
                .iter()
                .rev()
                .find(|(p, _)| p.starts_with(&issue.path))
                .or_else(|| {
                    applied.iter().rev().find(|(p, _)| {
                        let shared = p.iter().zip(&issue.path).take_while(|(a, b)| a == b);
                        let shared = shared.count();
                        shared > 0 && !locate(orig.as_item(), &issue.path[..shared], issue.anchor).1
                    })
                });
            match created {
                Some((_, arg)) if !found => ((0, 0), in_set(arg, issue.anchor)),
                _ => (line_col(text, span.start), in_file(text, span)),
            }
        }
    };
    let problem = Problem {
        path: path_string(&issue.path),
        message: issue.message,
        value: issue.value,
        hint: issue.hint,
        origin,
        excerpt,
    };
    (key, problem)
}

/// Applies one `PATH=VALUE` to the document; the path's segments on success.
pub(crate) fn apply(
    doc: &mut toml_edit::DocumentMut,
    arg: &str,
) -> Result<Vec<String>, Box<Problem>> {
    let problem = |path: String, message: String, hint: Option<String>| {
        let (origin, excerpt) = in_set(arg, Anchor::Key);
        Box::new(Problem {
            path,
            message,
            value: None,
            hint,
            origin,
            excerpt,
        })
    };
    let example = "e.g. --set components.api.replicas=3 or --set scenario.duration=10h".to_owned();
    let Some((path, value)) = arg.split_once('=') else {
        return Err(problem(
            String::new(),
            "expected PATH=VALUE".to_owned(),
            Some(example),
        ));
    };
    let path = path.trim();
    if path.is_empty() {
        return Err(problem(
            String::new(),
            "the path before '=' is empty".to_owned(),
            Some(example),
        ));
    }
    let segs: Vec<String> = match Key::parse(path) {
        Ok(keys) => keys.iter().map(|k| k.get().to_owned()).collect(),
        Err(e) => {
            return Err(problem(
                String::new(),
                format!("invalid path '{path}': {}", one_line(e.message())),
                Some(
                    "a path is dotted keys, e.g. components.api.replicas or faults.0.at".to_owned(),
                ),
            ));
        }
    };
    let value = parse_value(value.trim());
    let mut walked = Vec::new();
    set_item(doc.as_item_mut(), &segs, value, &mut walked)
        .map_err(|msg| problem(path_string(&segs), msg, None))?;
    Ok(segs)
}

/// A `--set` value: TOML if it parses as a value, else the text as a string.
fn parse_value(text: &str) -> Value {
    text.parse::<Value>()
        .unwrap_or_else(|_| Value::from(text.to_owned()))
}

fn implicit_table() -> Item {
    let mut t = Table::new();
    t.set_implicit(true);
    Item::Table(t)
}

/// The index `seg` into an array of `len` entries (`len` itself appends).
fn index(seg: &str, len: usize, walked: &[String]) -> Result<usize, String> {
    let here = path_string(walked);
    let i = seg.parse::<usize>().map_err(|_| {
        format!("'{here}' is an array: the next part of the path must be an index, e.g. {here}.0")
    })?;
    if i > len {
        return Err(format!(
            "index {i} is out of range: '{here}' has {len} entries (index {len} adds one)"
        ));
    }
    Ok(i)
}

/// Sets the value at `segs` below `item`, creating missing tables (and arrays of tables when
/// an index follows); `walked` collects the segments passed, for messages.
pub(super) fn set_item(
    item: &mut Item,
    segs: &[String],
    value: Value,
    walked: &mut Vec<String>,
) -> Result<(), String> {
    if segs.is_empty() {
        *item = Item::Value(value);
        return Ok(());
    }
    match item {
        Item::None => {
            *item = implicit_table();
            set_item(item, segs, value, walked)
        }
        Item::Table(t) => set_table(t, segs, value, walked),
        Item::ArrayOfTables(a) => {
            let (first, rest) = (&segs[0], &segs[1..]);
            let i = index(first, a.len(), walked)?;
            if i == a.len() {
                a.push(Table::new());
            }
            walked.push(first.clone());
            let Some(t) = a.get_mut(i) else {
                return Err(format!("'{}' does not exist", path_string(walked)));
            };
            if rest.is_empty() {
                return match value {
                    Value::InlineTable(it) => {
                        *t = it.into_table();
                        Ok(())
                    }
                    _ => Err(format!(
                        "each entry of '{}' is a table: give a table such as {{ kind = \"crash\" }}, or set one of its fields",
                        path_string(&walked[..walked.len() - 1])
                    )),
                };
            }
            set_table(t, rest, value, walked)
        }
        Item::Value(v) => set_value(v, segs, value, walked),
    }
}

fn set_table(
    t: &mut Table,
    segs: &[String],
    value: Value,
    walked: &mut Vec<String>,
) -> Result<(), String> {
    let Some((first, rest)) = segs.split_first() else {
        return Ok(());
    };
    walked.push(first.clone());
    if rest.is_empty() {
        t.insert(first, Item::Value(value));
        return Ok(());
    }
    // A missing parent followed by an index is an array of tables (`faults.0.kind=crash`).
    let numeric = rest.first().is_some_and(|r| r.parse::<usize>().is_ok());
    let child = t.entry(first).or_insert_with(|| {
        if numeric {
            Item::ArrayOfTables(toml_edit::ArrayOfTables::new())
        } else {
            implicit_table()
        }
    });
    set_item(child, rest, value, walked)
}

fn set_value(
    v: &mut Value,
    segs: &[String],
    value: Value,
    walked: &mut Vec<String>,
) -> Result<(), String> {
    let Some((first, rest)) = segs.split_first() else {
        *v = value;
        return Ok(());
    };
    match v {
        Value::InlineTable(t) => {
            walked.push(first.clone());
            if rest.is_empty() {
                t.insert(first.as_str(), value);
                return Ok(());
            }
            if t.get(first).is_none() {
                let numeric = rest.first().is_some_and(|r| r.parse::<usize>().is_ok());
                let empty = if numeric {
                    Value::Array(toml_edit::Array::new())
                } else {
                    Value::InlineTable(InlineTable::new())
                };
                t.insert(first.as_str(), empty);
            }
            match t.get_mut(first) {
                Some(child) => set_value(child, rest, value, walked),
                None => Err(format!("'{}' does not exist", path_string(walked))),
            }
        }
        Value::Array(a) => {
            let i = index(first, a.len(), walked)?;
            walked.push(first.clone());
            if rest.is_empty() {
                if i == a.len() {
                    a.push(value);
                } else {
                    a.replace(i, value);
                }
                return Ok(());
            }
            if i == a.len() {
                a.push(Value::InlineTable(InlineTable::new()));
            }
            match a.get_mut(i) {
                Some(child) => set_value(child, rest, value, walked),
                None => Err(format!("'{}' does not exist", path_string(walked))),
            }
        }
        other => {
            let what = match other {
                Value::String(_) => "a string",
                Value::Integer(_) => "an integer",
                Value::Float(_) => "a float",
                Value::Boolean(_) => "a boolean",
                Value::Datetime(_) => "a date-time",
                Value::Array(_) | Value::InlineTable(_) => "a container",
            };
            Err(format!(
                "'{}' is {what}, not a table: it has no field '{first}'",
                path_string(walked)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimTime;
    use crate::model::spec::KindSpec;

    const MMC: &str = include_str!("../../scenarios/mmc.toml");
    const WEB: &str = include_str!("../../scenarios/web-three-tier.toml");

    fn sets(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| (*s).to_owned()).collect()
    }

    fn ok(text: &str, s: &[&str]) -> Spec {
        load(text, "x.toml", &sets(s)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(text: &str, s: &[&str]) -> ScenarioError {
        load(text, "x.toml", &sets(s)).expect_err("should fail")
    }

    #[test]
    fn set_replicas() {
        let spec = ok(MMC, &["components.api.replicas=3"]);
        assert_eq!(spec.groups[1].replicas(), 3);
    }

    #[test]
    fn set_a_duration_without_quotes() {
        let spec = ok(MMC, &["scenario.duration=10h"]);
        assert_eq!(spec.duration, SimTime::from_hours(10));
        let spec = ok(MMC, &["scenario.duration=\"1h30m\""]);
        assert_eq!(spec.duration, SimTime::from_mins(90));
    }

    #[test]
    fn set_an_inline_table() {
        let spec = ok(MMC, &["components.users.retry={attempts=3}"]);
        let KindSpec::Client(c) = &spec.groups[0].kind else {
            panic!()
        };
        assert_eq!(c.retry.attempts, 3);
        // A field inside an inline table, and a plain-string target.
        let spec = ok(
            MMC,
            &[
                "components.users.retry.attempts=4",
                "components.users.target=api",
            ],
        );
        let KindSpec::Client(c) = &spec.groups[0].kind else {
            panic!()
        };
        assert_eq!(c.retry.attempts, 4);
    }

    #[test]
    fn set_through_array_indices() {
        let spec = ok(
            WEB,
            &[
                "faults.0.at=25m",
                "components.app.calls.1.timeout=1s",
                "components.lb-east.zones.1=us-east-c",
            ],
        );
        assert_eq!(spec.faults[0].at, SimTime::from_mins(25));
        let app = spec.groups.iter().find(|g| g.name == "app").expect("app");
        let KindSpec::Service(s) = &app.kind else {
            panic!()
        };
        assert_eq!(s.calls[1].timeout, SimTime::SECOND);
        let lb = spec
            .groups
            .iter()
            .find(|g| g.name == "lb-east")
            .expect("lb");
        assert_eq!(lb.placement[1].zone, "us-east-c");
        // Index == length appends; a missing array is created.
        let spec = ok(
            WEB,
            &["faults.2={kind=\"crash\", target=\"db\", at=\"1h\", replicas=[0]}"],
        );
        assert_eq!(spec.faults.len(), 3);
        let spec = ok(
            MMC,
            &[
                "faults.0.kind=crash",
                "faults.0.target=api",
                "faults.0.at=5m",
            ],
        );
        assert_eq!(spec.faults.len(), 1);
        assert_eq!(spec.faults[0].name, "crash-api");
    }

    #[test]
    fn a_table_created_by_a_set_has_its_problems_at_that_set() {
        let err = load(MMC, "mmc.toml", &["faults.0.at=5m".into()]).expect_err("no kind");
        let paths: Vec<&str> = err.problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["faults.0.kind", "faults.0.target"]);
        for p in &err.problems {
            assert_eq!(p.origin, Origin::Set("faults.0.at=5m".into()), "{p:?}");
        }
    }

    #[test]
    fn a_bad_value_points_at_the_set_argument() {
        let e = err(MMC, &["components.api.replicas=0"]);
        assert_eq!(e.problems.len(), 1);
        assert_eq!(
            e.problems[0].origin,
            Origin::Set("components.api.replicas=0".into())
        );
        assert_eq!(
            e.to_string(),
            "error: --set components.api.replicas=0: components.api.replicas: must be at least 1, got 0\n   \
             |\n   \
             | --set components.api.replicas=0\n   \
             |                               ^"
        );
        // An inline table set: problems inside it point at the argument too.
        let e = err(
            MMC,
            &["components.users.retry={attempts=0, backof=\"none\"}"],
        );
        assert_eq!(e.problems.len(), 2, "{e}");
        assert!(e.problems.iter().all(|p| p.origin
            == Origin::Set("components.users.retry={attempts=0, backof=\"none\"}".into())));
        // A set that creates a field the kind does not have.
        let e = err(MMC, &["components.api.wrkers=3"]);
        assert_eq!(e.problems[0].message, "unknown field 'wrkers'");
        assert_eq!(
            e.problems[0].origin,
            Origin::Set("components.api.wrkers=3".into())
        );
        // A value of the wrong type.
        let e = err(MMC, &["scenario.duration=10"]);
        assert_eq!(
            e.to_string(),
            "error: --set scenario.duration=10: scenario.duration: expected a duration such as \"30s\" or \"250ms\", found integer 10\n   \
             |\n   \
             | --set scenario.duration=10\n   \
             |                         ^^\n  \
             hint: durations are strings with a unit: write \"10s\" or \"10ms\" (units: ns, us, ms, s, m, h, d)"
        );
    }

    #[test]
    fn file_problems_keep_their_position_next_to_sets() {
        let text = MMC.replace("target = \"api\"", "target = \"ap\"");
        let e = err(
            &text,
            &["components.api.replicas=0", "components.api.workers=4"],
        );
        assert_eq!(e.problems.len(), 2, "{e}");
        assert_eq!(
            e.problems[0].origin,
            Origin::Set("components.api.replicas=0".into())
        );
        let line = text
            .lines()
            .position(|l| l.contains("\"ap\""))
            .expect("line")
            + 1;
        assert_eq!(e.problems[1].origin, Origin::File { line, column: 10 });
        // A later set fixes what the file got wrong.
        let spec = ok(&text, &["components.users.target=api"]);
        assert_eq!(spec.groups.len(), 2);
    }

    #[test]
    fn set_the_operations_arrays_and_gossip() {
        use crate::model::spec::GossipSpec;
        use crate::scenario::fixtures::OPS;
        let spec = ok(OPS, &["alarms.0.below=0.5"]);
        assert_eq!(
            (spec.alarms[0].above, spec.alarms[0].threshold),
            (false, 0.5)
        );
        let spec = ok(OPS, &["components.store.gossip.checksums=true"]);
        let store = spec
            .groups
            .iter()
            .find(|g| g.name == "store")
            .expect("store");
        assert_eq!(
            store.gossip,
            Some(GossipSpec {
                checksums: true,
                ..GossipSpec::default()
            })
        );
        // A storage group with no gossip table gets one (defaults but for the field set).
        let spec = ok(WEB, &["components.db.gossip.fanout=3"]);
        let db = spec.groups.iter().find(|g| g.name == "db").expect("db");
        assert_eq!(db.gossip.as_ref().map(|g| g.fanout), Some(3));
        // Actions, and the settings of a config change, by index and key.
        let spec = ok(
            OPS,
            &[
                "actions.1.at=45m",
                "faults.0.set.workers=8",
                "actions.8={kind=\"restart\", target=\"lb\", at=\"1h\"}",
            ],
        );
        assert_eq!(spec.actions.len(), 9);
        assert_eq!(
            spec.actions[1].trigger,
            crate::model::spec::Trigger::At(SimTime::from_mins(45))
        );
        let crate::model::spec::FaultKind::ConfigChange { after, set, .. } = &spec.faults[0].kind
        else {
            panic!()
        };
        let Some(server) = after.server() else {
            panic!()
        };
        assert_eq!(server.workers, 8);
        assert_eq!(set[1], ("workers".to_owned(), "8".to_owned()));
        // Problems point at the argument.
        let e = err(OPS, &["alarms.0.below=5", "faults.0.set.workers=0"]);
        assert_eq!(
            e.to_string(),
            "error: --set faults.0.set.workers=0: faults.0.set.workers: must be at least 1, got 0\n   \
             |\n   \
             | --set faults.0.set.workers=0\n   \
             |                            ^\n\
             error: --set alarms.0.below=5: alarms.0.below: must be between 0 and 1, got 5\n   \
             |\n   \
             | --set alarms.0.below=5\n   \
             |                      ^\n\
             2 problems in x.toml"
        );
    }

    #[test]
    fn malformed_sets() {
        for (arg, message) in [
            ("nonsense", "expected PATH=VALUE"),
            ("=3", "the path before '=' is empty"),
            (" =3", "the path before '=' is empty"),
        ] {
            let e = err(MMC, &[arg]);
            assert_eq!(e.problems.len(), 1);
            assert_eq!(e.problems[0].message, message);
            assert_eq!(e.problems[0].origin, Origin::Set(arg.into()));
        }
        let e = err(MMC, &["a..b=1"]);
        assert!(
            e.problems[0].message.starts_with("invalid path 'a..b': "),
            "{e}"
        );
        let e = err(MMC, &["scenario.name.x=1"]);
        assert_eq!(
            e.problems[0].message,
            "'scenario.name' is a string, not a table: it has no field 'x'"
        );
        let e = err(WEB, &["faults.5.at=1m"]);
        assert_eq!(
            e.problems[0].message,
            "index 5 is out of range: 'faults' has 2 entries (index 2 adds one)"
        );
        let e = err(WEB, &["faults.x.at=1m"]);
        assert!(
            e.problems[0].message.starts_with("'faults' is an array"),
            "{e}"
        );
        // Every problem is reported, the malformed set's and the others'.
        let e = err(MMC, &["nonsense", "components.api.replicas=0"]);
        assert_eq!(e.problems.len(), 2);
        assert!(e.to_string().ends_with("2 problems in x.toml"));
    }
}
