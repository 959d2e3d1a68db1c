//! Value types first needed by alarms and actions: references by name and plain numbers.

use serde_json::{Value as Json, json};

use super::{Input, Reader, Value};

/// A name that refers to something else: any string, checked where it is resolved.
pub type Ref = super::Text;

/// A number (whole numbers accepted), checked where its meaning is known.
pub struct Number;

impl Value for Number {
    type Out = f64;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<f64> {
        super::number(input, r)
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
