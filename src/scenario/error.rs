//! Problems found in a scenario: where they are (file position or `--set` argument), what is
//! wrong, the bad value and a hint, plus the path <-> position mapping and "did you mean" help.

use std::fmt;
use std::ops::Range;

use toml_edit::{Item, Value};

/// Where a problem comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A position in the scenario file, both 1-based; `column` counts characters.
    File { line: usize, column: usize },
    /// A `--set` argument, as given (e.g. `components.api.replicas=0`).
    Set(String),
}

/// One thing wrong with a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path of the offending field, e.g. `components.users.target` (array elements by
    /// index: `faults.0.at`). Empty for syntax errors.
    pub path: String,
    /// What is wrong (the bad value is quoted in it where that helps).
    pub message: String,
    /// The bad value as written, when there is one.
    pub value: Option<String>,
    /// How to fix it.
    pub hint: Option<String>,
    /// Where it comes from.
    pub origin: Origin,
}

/// A scenario that cannot be used: every problem found in it, in file order (problems from
/// `--set` arguments first).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ScenarioError {
    /// The file name as given to [`load`](super::load), used in messages.
    pub file: String,
    /// At least one problem.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ScenarioError {
    /// One block per problem:
    ///
    /// ```text
    /// error: scenarios/mmc.toml:14:10: components.users.target: unknown component 'ap'
    ///   hint: did you mean 'api'? (components: api, users)
    /// ```
    ///
    /// then `N problems in FILE` when there is more than one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: ")?;
            match &p.origin {
                Origin::File { line, column } => write!(f, "{}:{line}:{column}: ", self.file)?,
                Origin::Set(arg) => write!(f, "--set {arg}: ")?,
            }
            if !p.path.is_empty() {
                write!(f, "{}: ", p.path)?;
            }
            write!(f, "{}", p.message)?;
            if let Some(hint) = &p.hint {
                write!(f, "\n  hint: {hint}")?;
            }
        }
        if self.problems.len() > 1 {
            write!(f, "\n{} problems in {}", self.problems.len(), self.file)?;
        }
        Ok(())
    }
}

pub(crate) use crate::model::settings::{Anchor, Issue};

/// Writes a path as dotted text, quoting segments that are not bare TOML keys.
pub(crate) fn path_string(path: &[String]) -> String {
    let mut out = String::new();
    for (i, seg) in path.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        let bare = !seg.is_empty()
            && seg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if bare {
            out.push_str(seg);
        } else {
            out.push('"');
            for c in seg.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
    }
    out
}

/// 1-based line and character column of a byte offset in `text` (clamped to the text).
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Every key and value of a parsed document with its path and span, to find which field a
/// serde error's byte span belongs to.
pub(crate) struct SpanIndex {
    entries: Vec<(Vec<String>, Range<usize>)>,
}

impl SpanIndex {
    /// Indexes everything under `root` that has a span.
    pub fn new(root: &Item) -> SpanIndex {
        let mut entries = Vec::new();
        let mut path = Vec::new();
        index_item(root, &mut path, &mut entries, 0);
        SpanIndex { entries }
    }

    /// The path of the innermost key or value whose span holds `offset`.
    pub fn path_at(&self, offset: usize) -> Option<Vec<String>> {
        self.entries
            .iter()
            .filter(|(_, r)| r.start <= offset && (offset < r.end || r.start == offset))
            .min_by_key(|(p, r)| (r.end - r.start, usize::MAX - p.len()))
            .map(|(p, _)| p.clone())
    }
}

/// Nesting deeper than this is not indexed or searched (the parser limits it anyway).
const MAX_DEPTH: usize = 128;

fn index_item(
    item: &Item,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Range<usize>)>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(span) = item.span() {
        out.push((path.clone(), span));
    }
    match item {
        Item::Table(t) => {
            for (k, v) in t.iter() {
                push_key(t.key(k).and_then(|k| k.span()), k, path, out);
                path.push(k.to_owned());
                index_item(v, path, out, depth + 1);
                path.pop();
            }
        }
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                path.push(i.to_string());
                if let Some(span) = t.span() {
                    out.push((path.clone(), span));
                }
                for (k, v) in t.iter() {
                    push_key(t.key(k).and_then(|k| k.span()), k, path, out);
                    path.push(k.to_owned());
                    index_item(v, path, out, depth + 1);
                    path.pop();
                }
                path.pop();
            }
        }
        Item::Value(v) => index_value_children(v, path, out, depth),
        Item::None => {}
    }
}

fn push_key(
    span: Option<Range<usize>>,
    key: &str,
    path: &[String],
    out: &mut Vec<(Vec<String>, Range<usize>)>,
) {
    if let Some(span) = span {
        let mut p = path.to_vec();
        p.push(key.to_owned());
        out.push((p, span));
    }
}

fn index_value_children(
    v: &Value,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Range<usize>)>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Array(a) => {
            for (i, e) in a.iter().enumerate() {
                path.push(i.to_string());
                if let Some(span) = e.span() {
                    out.push((path.clone(), span));
                }
                index_value_children(e, path, out, depth + 1);
                path.pop();
            }
        }
        Value::InlineTable(t) => {
            for (k, e) in t.iter() {
                push_key(t.key(k).and_then(|k| k.span()), k, path, out);
                path.push(k.to_owned());
                if let Some(span) = e.span() {
                    out.push((path.clone(), span));
                }
                index_value_children(e, path, out, depth + 1);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Finds `path` in a parsed document: the byte offset to report, and whether the whole path
/// exists (if not, the offset is that of the nearest existing parent, or 0).
pub(crate) fn locate(root: &Item, path: &[String], anchor: Anchor) -> (usize, bool) {
    let mut best = 0;
    let mut cur = Node::Item(root);
    for (depth, seg) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        let found: Found<'_> = match cur {
            Node::Item(Item::Table(t)) => t
                .get_key_value(seg)
                .map(|(k, v)| (k.span(), v.span(), Node::Item(v))),
            Node::Item(Item::ArrayOfTables(a)) => seg
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get(i))
                .map(|t| (None, t.span(), Node::Table(t))),
            Node::Table(t) => t
                .get_key_value(seg)
                .map(|(k, v)| (k.span(), v.span(), Node::Item(v))),
            Node::Item(Item::Value(v)) | Node::Value(v) => match v {
                Value::InlineTable(t) => t.get_key_value(seg).and_then(|(k, v)| {
                    let v = v.as_value()?;
                    Some((k.span(), v.span(), Node::Value(v)))
                }),
                Value::Array(a) => seg
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| a.get(i))
                    .map(|e| (None, e.span(), Node::Value(e))),
                _ => None,
            },
            Node::Item(Item::None) => None,
        };
        let Some((key_span, value_span, next)) = found else {
            return (best, false);
        };
        let pick = if last && anchor == Anchor::Key {
            key_span.or(value_span)
        } else {
            value_span.or(key_span)
        };
        if let Some(r) = pick {
            best = r.start;
        }
        cur = next;
    }
    (best, true)
}

/// A step found by [`locate`]: the key's span, the value's span and the node.
type Found<'a> = Option<(Option<Range<usize>>, Option<Range<usize>>, Node<'a>)>;

#[derive(Clone, Copy)]
enum Node<'a> {
    Item(&'a Item),
    Table(&'a toml_edit::Table),
    Value(&'a Value),
}

pub use crate::model::settings::suggest;
pub(crate) use crate::model::settings::{closest, list};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let t = "ab\nçd = 1\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 1));
        // "ç" is two bytes; the "d" after it is column 2.
        assert_eq!(line_col(t, 5), (2, 2));
        assert_eq!(line_col(t, 4), (2, 1));
        assert_eq!(line_col(t, 1000), (3, 1));
    }

    #[test]
    fn paths_quote_odd_keys() {
        let p = vec!["components".to_owned(), "a.b".to_owned(), "0".to_owned()];
        assert_eq!(path_string(&p), "components.\"a.b\".0");
    }

    #[test]
    fn suggestions() {
        assert_eq!(closest("ap", ["api", "users"]), Some("api"));
        assert_eq!(closest("backend", ["backends", "policy"]), Some("backends"));
        assert_eq!(closest("zzzz", ["api", "users"]), None);
        assert_eq!(
            suggest("ap", "components", &["api", "users"]),
            "did you mean 'api'? (components: api, users)"
        );
    }

    #[test]
    fn display_blocks_and_count() {
        let e = ScenarioError {
            file: "x.toml".into(),
            problems: vec![
                Problem {
                    path: "a.b".into(),
                    message: "bad".into(),
                    value: None,
                    hint: Some("fix it".into()),
                    origin: Origin::File { line: 2, column: 5 },
                },
                Problem {
                    path: "c".into(),
                    message: "worse".into(),
                    value: None,
                    hint: None,
                    origin: Origin::Set("c=1".into()),
                },
            ],
        };
        assert_eq!(
            e.to_string(),
            "error: x.toml:2:5: a.b: bad\n  hint: fix it\nerror: --set c=1: c: worse\n2 problems in x.toml"
        );
    }
}
