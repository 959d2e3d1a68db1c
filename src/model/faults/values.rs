//! The value types of fault settings: replica indices, pairs of domains,
//! positive numbers, shares, `set` tables and words named with their plural.

use serde_json::{Value as Json, json};

use crate::model::settings::{
    Input, List, Reader, Shape, Text, Value, Word, Words, number, positive, suggest,
};
use crate::model::spec::Level;
use crate::words;

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
pub struct Domains;

impl Value for Domains {
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
        positive(number(input, r)?, r)
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
        Word::<W>::what()
    }
    fn schema() -> Json {
        Word::<W>::schema()
    }
    fn show(v: &W) -> String {
        Word::<W>::show(v)
    }
}

/// The value of word `v` among `words`, or "unknown <what> 'v'" with a "did you mean".
pub(super) fn pick<T: Copy>(
    v: &str,
    words: &[(&str, T)],
    what: &str,
    r: &mut Reader<'_>,
) -> Option<T> {
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
