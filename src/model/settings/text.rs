//! Value types of the scenario-wide tables: a seed, an availability target, a pair of
//! different names.

use serde_json::{Value as Json, json};

use super::{Input, List, Reader, Shape, Text, Value};

/// A seed: a whole number, 0 or more.
pub struct Seed;

impl Value for Seed {
    type Out = u64;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<u64> {
        match input.shape() {
            Shape::Int(v) if v >= 0 => u64::try_from(v).ok(),
            Shape::Int(v) => {
                let issue = r
                    .problem(format!("must not be negative, got {v}"))
                    .value(v.to_string());
                r.push(issue);
                None
            }
            other => r.wrong_type("a whole number", &other),
        }
    }
    fn what() -> String {
        "a whole number, 0 or more".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "integer", "minimum": 0 })
    }
    fn show(v: &u64) -> String {
        v.to_string()
    }
}

/// An availability target: a number greater than 0 and at most 1.
pub struct Availability;

impl Value for Availability {
    type Out = f64;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<f64> {
        let v = super::number(input, r)?;
        if v > 0.0 && v <= 1.0 {
            return Some(v);
        }
        let issue = r
            .problem(format!("must be greater than 0 and at most 1, got {v}"))
            .value(v.to_string())
            .hint("an availability target such as 0.99 or 0.999".to_owned());
        r.push(issue);
        None
    }
    fn what() -> String {
        "a number greater than 0, at most 1".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "number", "exclusiveMinimum": 0, "maximum": 1 })
    }
    fn show(v: &f64) -> String {
        format!("{v:?}")
    }
}

/// `between = ["a", "b"]`: two different names.
pub struct Pair;

impl Value for Pair {
    type Out = (String, String);
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<(String, String)> {
        let names = List::<Text>::read(input, r)?;
        match names.as_slice() {
            [a, b] if a == b => {
                let issue = r
                    .field("1", |r| {
                        r.problem(format!("'{a}' is given twice; name two different ones"))
                    })
                    .value(b.clone());
                r.push(issue);
                None
            }
            [a, b] => Some((a.clone(), b.clone())),
            other => {
                let issue = r
                    .problem(format!("expected exactly 2 names, got {}", other.len()))
                    .value(format!("{other:?}"));
                r.push(issue);
                None
            }
        }
    }
    fn what() -> String {
        "two different names, `[\"a\", \"b\"]`".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "array", "items": { "type": "string" }, "minItems": 2, "maxItems": 2 })
    }
    fn show(v: &(String, String)) -> String {
        format!("[{:?}, {:?}]", v.0, v.1)
    }
}
