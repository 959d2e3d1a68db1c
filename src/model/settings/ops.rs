//! Value types and helpers first needed by alarms and actions: references by name, plain
//! numbers, and the unknown keys of tables read by hand.

use serde_json::{Value as Json, json};

use super::{Input, Reader, Shape, Value, unknown_field};

/// Reports every key of `entries` that is none of `names`, with a "did you mean".
pub fn unknown_fields(entries: &[(&str, &dyn Input)], names: &[&str], r: &mut Reader<'_>) {
    for (k, _) in entries {
        if !names.contains(k) {
            let issue = unknown_field(r.at(k), k, names);
            r.push(issue);
        }
    }
}

/// A name that refers to something else: any string, checked where it is resolved.
pub type Ref = super::Text;

/// A number (whole numbers accepted), checked where its meaning is known.
pub struct Number;

impl Value for Number {
    type Out = f64;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<f64> {
        match input.shape() {
            Shape::Float(x) => Some(x),
            Shape::Int(n) => Some(n as f64),
            other => r.wrong_type("a number", &other),
        }
    }
    fn what() -> String {
        "a number".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "number" })
    }
    fn show(v: &f64) -> String {
        format!("{v:?}")
    }
}
