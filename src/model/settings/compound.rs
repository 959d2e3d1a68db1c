//! Value types made of others: strings, names, lists, nested tables, weights.

use serde_json::{Value as Json, json};

use super::{Input, Issue, Reader, Shape, Table, Value, read_table, table_schema};

/// Any string: a component name or a DNS name that a kind resolves itself.
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

/// A non-empty string without control characters: a region, a zone, a segment, a name.
pub struct Name;

impl Value for Name {
    type Out = String;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<String> {
        let s = Text::read(input, r)?;
        if s.is_empty() {
            let issue = r.problem("must not be empty").value("");
            r.push(issue);
            return None;
        }
        if s.chars().any(char::is_control) {
            let issue = r
                .problem("must not contain control characters")
                .value(s.escape_debug().to_string())
                .hint("a name is one line of text: remove the newline or tab".to_owned());
            r.push(issue);
            return None;
        }
        Some(s)
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

/// An array of values of type `V`, each read (and its problems placed) at its index.
pub struct List<V>(std::marker::PhantomData<V>);

impl<V: Value> Value for List<V> {
    type Out = Vec<V::Out>;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Vec<V::Out>> {
        let shape = input.shape();
        let Shape::Array(elems) = shape else {
            return r.wrong_type("an array", &shape);
        };
        let read: Vec<Option<V::Out>> = elems
            .iter()
            .enumerate()
            .map(|(j, e)| r.field(&j.to_string(), |r| V::read(*e, r)))
            .collect();
        read.into_iter().collect()
    }
    fn what() -> String {
        format!("a list; each {}", V::what())
    }
    fn schema() -> Json {
        json!({ "type": "array", "items": V::schema() })
    }
    fn show(v: &Vec<V::Out>) -> String {
        let items: Vec<String> = v.iter().map(V::show).collect();
        format!("[{}]", items.join(", "))
    }
}

/// A nested table of declared settings, such as `retry = { ... }`.
pub struct Nested<T>(std::marker::PhantomData<T>);

impl<T: Table + Clone + std::fmt::Debug + PartialEq> Value for Nested<T> {
    type Out = T;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<T> {
        read_table(input, r)
    }
    fn what() -> String {
        format!("a `{}` table", T::NAME)
    }
    fn schema() -> Json {
        table_schema::<T>()
    }
    fn show(_: &T) -> String {
        "{}".to_owned()
    }
}

/// Weights: numbers, each 0 or more (checked with [`weights`]).
pub struct Weights;

impl Value for Weights {
    type Out = Vec<f64>;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Vec<f64>> {
        List::<super::Number>::read(input, r)
    }
    fn what() -> String {
        "a list of numbers, each 0 or more, not all 0".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "array", "items": { "type": "number", "minimum": 0 } })
    }
    fn show(v: &Vec<f64>) -> String {
        format!("{v:?}")
    }
}

/// Weights `w` read at the reader's path: `n` of them (when `n` > 0, one per `per`), each 0
/// or more, not all 0.
pub fn weights(w: &[f64], n: usize, per: &str, r: &mut Reader<'_>) -> Option<Vec<f64>> {
    if n > 0 && w.len() != n {
        let issue = r
            .problem(format!(
                "expected {n} weights (one per {per}), got {}",
                w.len()
            ))
            .value(format!("{w:?}"));
        r.push(issue);
        return None;
    }
    let mut ok = true;
    for (j, x) in w.iter().enumerate() {
        if !(x.is_finite() && *x >= 0.0) {
            let issue = Issue::new(
                r.at(&j.to_string()),
                format!("a weight must be 0 or more, got {x}"),
            )
            .value(x.to_string());
            r.push(issue);
            ok = false;
        }
    }
    if ok && !w.iter().any(|x| *x > 0.0) {
        let issue = r.problem("at least one weight must be greater than 0");
        r.push(issue);
        return None;
    }
    ok.then(|| w.to_vec())
}
