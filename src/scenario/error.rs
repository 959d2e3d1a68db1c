//! Problems found in a scenario: where they are (file position or `--set` argument), what is
//! wrong, the bad value and a hint, plus the path <-> position mapping and "did you mean" help.
//! Reports show the offending line under each problem with the bad part underlined, as rustc
//! does (drawn by `annotate-snippets`).

use std::fmt;
use std::ops::Range;

use annotate_snippets::renderer::{AnsiColor, Style};
use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};
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
    /// The source it points into, shown under the message: the file's line, or `--set ARG`.
    pub excerpt: Option<Excerpt>,
}

/// A line of source with the part a problem is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excerpt {
    /// One line of the scenario file (without its line break), or `--set ARG`.
    pub text: String,
    /// The bytes of `text` to underline; an empty range puts one caret at `start`.
    pub span: Range<usize>,
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
    /// The report without colours: [`ScenarioError::render`]`(false)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl ScenarioError {
    /// One block per problem, its first line grep-able on its own, then the line it points at
    /// (or the `--set` argument) with the bad part underlined, then the hint:
    ///
    /// ```text
    /// error: scenarios/mmc.toml:14:10: components.users.target: unknown component 'ap'
    ///    |
    /// 14 | target = "ap"
    ///    |          ^^^^
    ///   hint: did you mean 'api'? (components: api, users)
    /// ```
    ///
    /// then `N problems in FILE` when there is more than one. `styled` adds terminal colours
    /// (rustc's); the text is otherwise the same.
    pub fn render(&self, styled: bool) -> String {
        let renderer = if styled {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let paint = |style: Style, text: &str| {
            if styled {
                format!("{style}{text}{style:#}")
            } else {
                text.to_owned()
            }
        };
        let mut out = String::new();
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let mut head = String::new();
            match &p.origin {
                Origin::File { line, column } => {
                    head.push_str(&format!("{}:{line}:{column}: ", self.file));
                }
                Origin::Set(arg) => head.push_str(&format!("--set {arg}: ")),
            }
            if !p.path.is_empty() {
                head.push_str(&format!("{}: ", p.path));
            }
            head.push_str(&p.message);
            out.push_str(&paint(ERROR, "error"));
            out.push_str(&paint(BOLD, &format!(": {head}")));
            if let Some(ex) = &p.excerpt {
                out.push('\n');
                let line = match p.origin {
                    Origin::File { line, .. } => line,
                    Origin::Set(_) => 0,
                };
                out.push_str(&excerpt(&renderer, ex, line));
            }
            if let Some(hint) = &p.hint {
                out.push_str(&format!("\n  {}: {hint}", paint(HINT, "hint")));
            }
        }
        if self.problems.len() > 1 {
            out.push_str(&format!(
                "\n{} problems in {}",
                self.problems.len(),
                self.file
            ));
        }
        out
    }
}

/// rustc's colours, as `annotate-snippets` draws them.
const ERROR: Style = AnsiColor::BrightRed.on_default().bold();
const BOLD: Style = Style::new().bold();
const HINT: Style = AnsiColor::BrightCyan.on_default().bold();

/// The excerpt's line with its span underlined, numbered `line`; a `--set` argument (`line`
/// 0) has no line number.
fn excerpt(renderer: &Renderer, ex: &Excerpt, line: usize) -> String {
    let renderer = renderer.clone().anonymized_line_numbers(line == 0);
    let report = [Group::with_level(Level::ERROR).element(
        Snippet::source(ex.text.as_str())
            .line_start(line.max(1))
            .annotation(AnnotationKind::Primary.span(ex.span.clone())),
    )];
    let drawn = renderer.render(&report);
    if line > 0 {
        return drawn;
    }
    // Anonymised, the number is "LL", in the gutter before the first bar: blank it.
    drawn
        .lines()
        .map(|l| match l.split_once('|') {
            Some((gutter, rest)) => format!("{}|{rest}", gutter.replace("LL", "  ")),
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
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

/// A problem at `span` (bytes) of the file's `text`: its position and its excerpt, the line
/// where the span starts, underlined to the span's end or the line's.
pub(crate) fn in_file(text: &str, span: Range<usize>) -> (Origin, Option<Excerpt>) {
    let (line, column) = line_col(text, span.start);
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(span.start);
    let begin = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let source = text[begin..end]
        .strip_suffix('\r')
        .unwrap_or(&text[begin..end]);
    let from = (start - begin).min(source.len());
    let to = (floor(span.end.max(start)) - begin).clamp(from, source.len());
    let excerpt = Excerpt {
        text: source.to_owned(),
        span: from..to,
    };
    (Origin::File { line, column }, Some(excerpt))
}

/// A problem caused by `--set arg`: its origin and excerpt, the argument with its path
/// underlined (`Anchor::Key`) or its value (`Anchor::Value`; all of it if it has no `=`).
pub(crate) fn in_set(arg: &str, anchor: Anchor) -> (Origin, Option<Excerpt>) {
    const FLAG: &str = "--set ";
    let trimmed = |r: Range<usize>| {
        let part = &arg[r.clone()];
        let lead = part.len() - part.trim_start().len();
        r.start + lead..r.start + lead + part.trim().len()
    };
    let span = match arg.find('=') {
        None => 0..arg.len(),
        Some(eq) => match anchor {
            Anchor::Key => {
                let path = trimmed(0..eq);
                if path.is_empty() { eq..eq + 1 } else { path }
            }
            Anchor::Value => {
                let value = trimmed(eq + 1..arg.len());
                if value.is_empty() {
                    eq + 1..eq + 1
                } else {
                    value
                }
            }
        },
    };
    let excerpt = Excerpt {
        text: format!("{FLAG}{arg}"),
        span: span.start + FLAG.len()..span.end + FLAG.len(),
    };
    (Origin::Set(arg.to_owned()), Some(excerpt))
}

/// Finds `path` in a parsed document: the bytes to report, and whether the whole path exists
/// (if not, the span is that of the nearest existing parent, or empty at 0).
pub(crate) fn locate(root: &Item, path: &[String], anchor: Anchor) -> (Range<usize>, bool) {
    let mut best = 0..0;
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
            best = r;
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
        let text = "[a]\nb = 7\n";
        let (origin, excerpt) = in_file(text, 8..9);
        let (set, set_excerpt) = in_set("c=1", Anchor::Value);
        let e = ScenarioError {
            file: "x.toml".into(),
            problems: vec![
                Problem {
                    path: "a.b".into(),
                    message: "bad".into(),
                    value: None,
                    hint: Some("fix it".into()),
                    origin,
                    excerpt,
                },
                Problem {
                    path: "c".into(),
                    message: "worse".into(),
                    value: None,
                    hint: None,
                    origin: set,
                    excerpt: set_excerpt,
                },
                Problem {
                    path: String::new(),
                    message: "nowhere".into(),
                    value: None,
                    hint: None,
                    origin: Origin::File { line: 1, column: 1 },
                    excerpt: None,
                },
            ],
        };
        assert_eq!(
            e.to_string(),
            "error: x.toml:2:5: a.b: bad\n  \
             |\n\
             2 | b = 7\n  \
             |     ^\n  \
             hint: fix it\n\
             error: --set c=1: c: worse\n   \
             |\n   \
             | --set c=1\n   \
             |         ^\n\
             error: x.toml:1:1: nowhere\n\
             3 problems in x.toml"
        );
        // In colour: the same text with rustc's escape sequences.
        let styled = e.render(true);
        assert!(
            styled.starts_with("\x1b[1m\x1b[91merror\x1b[0m\x1b[1m: x.toml:2:5: a.b: bad\x1b[0m\n")
        );
        assert!(
            styled.contains("\x1b[1m\x1b[96mhint\x1b[0m: fix it\n"),
            "{styled:?}"
        );
    }

    #[test]
    fn excerpts_are_one_line_of_the_source() {
        // The line of the span's start, without "\r\n", the span cut at the line's end.
        let text = "a = 1\r\nçb = [\n  2]\n";
        let (origin, ex) = in_file(text, 13..19);
        assert_eq!(origin, Origin::File { line: 2, column: 6 });
        let ex = ex.expect("excerpt");
        assert_eq!((ex.text.as_str(), ex.span), ("çb = [", 6..7));
        // A span inside a character, and one past the end of the text.
        let (_, ex) = in_file(text, 8..9);
        assert_eq!(ex.map(|e| e.span), Some(0..2));
        let (origin, ex) = in_file(text, 100..120);
        assert_eq!(origin, Origin::File { line: 4, column: 1 });
        assert_eq!(ex.map(|e| (e.text, e.span)), Some((String::new(), 0..0)));
        // --set: the path or the value, trimmed; an empty one is a caret at its place.
        for (arg, anchor, underlined) in [
            ("a.b = 3 ", Anchor::Key, "a.b"),
            ("a.b = 3 ", Anchor::Value, "3"),
            ("nonsense", Anchor::Value, "nonsense"),
            ("=3", Anchor::Key, "="),
            ("a=", Anchor::Value, ""),
        ] {
            let (origin, ex) = in_set(arg, anchor);
            assert_eq!(origin, Origin::Set(arg.into()));
            let ex = ex.expect("excerpt");
            assert_eq!(ex.text, format!("--set {arg}"));
            assert_eq!(&ex.text[ex.span.clone()], underlined, "{arg:?}");
        }
        assert_eq!(in_set("a=", Anchor::Value).1.map(|e| e.span), Some(8..8));
    }
}
