//! Value types for names and lists: non-empty text, a pair of different names, lists of
//! strings and arrays of declared tables.

use serde_json::{Value as Json, json};

use super::{Input, Reader, Shape, Table, Value, read_table, table_schema};

/// A non-empty string (names, labels).
pub struct Text;

impl Value for Text {
    type Out = String;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<String> {
        match input.shape() {
            Shape::Str("") => {
                let issue = r.problem("must not be empty").value("");
                r.push(issue);
                None
            }
            Shape::Str(s) => Some(s.to_owned()),
            other => r.wrong_type("a string", &other),
        }
    }
    fn what() -> String {
        "a non-empty string".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "string", "minLength": 1 })
    }
    fn show(v: &String) -> String {
        format!("{v:?}")
    }
}

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
        let v = match input.shape() {
            Shape::Float(x) => x,
            Shape::Int(n) => n as f64,
            other => return r.wrong_type("a number", &other),
        };
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

/// A list of strings.
pub struct Strings;

impl Value for Strings {
    type Out = Vec<String>;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Vec<String>> {
        let shape = input.shape();
        let Shape::Array(elems) = shape else {
            return r.wrong_type("an array", &shape);
        };
        let mut out = Some(Vec::with_capacity(elems.len()));
        for (i, e) in elems.iter().enumerate() {
            let s = r.field(&i.to_string(), |r| match e.shape() {
                Shape::Str(s) => Some(s.to_owned()),
                other => r.wrong_type("a string", &other),
            });
            match (s, out.as_mut()) {
                (Some(s), Some(v)) => v.push(s),
                _ => out = None,
            }
        }
        out
    }
    fn what() -> String {
        "a list of strings".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "array", "items": { "type": "string" } })
    }
    fn show(v: &Vec<String>) -> String {
        format!("{v:?}")
    }
}

/// `between = ["a", "b"]`: two different names.
pub struct Pair;

impl Value for Pair {
    type Out = (String, String);
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<(String, String)> {
        let names = Strings::read(input, r)?;
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

/// An array of tables of type `T` (`[[links]]`, `network.regions`).
pub struct Tables<T>(std::marker::PhantomData<T>);

impl<T: Table + Clone + std::fmt::Debug + PartialEq> Value for Tables<T> {
    type Out = Vec<T>;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Vec<T>> {
        let shape = input.shape();
        let Shape::Array(elems) = shape else {
            return r.wrong_type("an array of tables", &shape);
        };
        read_tables(&elems, r)
    }
    fn what() -> String {
        format!("an array of `{}` tables", T::NAME)
    }
    fn schema() -> Json {
        json!({ "type": "array", "items": table_schema::<T>() })
    }
    fn show(v: &Vec<T>) -> String {
        if v.is_empty() {
            "[]".to_owned()
        } else {
            format!("{} entries", v.len())
        }
    }
}

/// Reads each element as a table `T`, its problems placed under its index; every element is
/// read even when an earlier one has problems.
pub fn read_tables<T: Table>(elems: &[&dyn Input], r: &mut Reader<'_>) -> Option<Vec<T>> {
    let mut out = Some(Vec::with_capacity(elems.len()));
    for (i, e) in elems.iter().enumerate() {
        let t = r.field(&i.to_string(), |r| read_table::<T>(*e, r));
        match (t, out.as_mut()) {
            (Some(t), Some(v)) => v.push(t),
            _ => out = None,
        }
    }
    out
}
