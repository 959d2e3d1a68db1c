//! The TOML document as the settings reader's format-free [`Input`] tree.

use toml_edit::{Item, Table, Value};

use crate::model::settings::{Input, Shape};

impl Input for Item {
    fn shape(&self) -> Shape<'_> {
        match self {
            Item::Value(v) => v.shape(),
            Item::Table(t) => t.shape(),
            Item::ArrayOfTables(a) => Shape::Array(a.iter().map(|t| t as &dyn Input).collect()),
            Item::None => Shape::Other("nothing"),
        }
    }
}

impl Input for Table {
    fn shape(&self) -> Shape<'_> {
        Shape::Table(
            self.iter()
                .filter(|(_, v)| !v.is_none())
                .map(|(k, v)| (k, v as &dyn Input))
                .collect(),
        )
    }
}

impl Input for Value {
    fn shape(&self) -> Shape<'_> {
        match self {
            Value::String(s) => Shape::Str(s.value()),
            Value::Integer(n) => Shape::Int(*n.value()),
            Value::Float(x) => Shape::Float(*x.value()),
            Value::Boolean(b) => Shape::Bool(*b.value()),
            Value::Datetime(_) => Shape::Other("a date-time"),
            Value::Array(a) => Shape::Array(a.iter().map(|v| v as &dyn Input).collect()),
            Value::InlineTable(t) => {
                Shape::Table(t.iter().map(|(k, v)| (k, v as &dyn Input)).collect())
            }
        }
    }
}
