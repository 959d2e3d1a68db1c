//! The JSON Schema of scenario files, derived from the settings declarations: editors use it
//! for completion and inline errors (`#:schema ../schema/scenario.schema.json` heads each
//! shipped scenario). Validation proper stays with the scenario layer, which also checks what
//! a schema cannot say (references, cycles, units); a file the layer accepts always passes
//! the schema, and the schema refuses unknown fields as the layer does.

use serde_json::{Value as Json, json};

use crate::model::faults::{FailureSettings, FailureTimes, fault_kinds};
use crate::model::head::{
    LinkSettings, NetworkSettings, PublishedSettings, ScenarioSettings, WhatIfSettings,
};
use crate::model::kinds::monitor::AlarmSettings;
use crate::model::kinds::{KINDS, component_fields};
use crate::model::node::ops::action_kinds;
use crate::model::settings::{Table, by_kind_schema, definitions, object_schema, table_schema};

/// The schema of a whole scenario file.
pub fn schema() -> Json {
    let components: Vec<(&str, _)> = KINDS
        .iter()
        .map(|(name, kind)| (*name, component_fields(*kind)))
        .collect();
    let mut failure_fields = FailureSettings::fields();
    failure_fields.extend(FailureTimes::fields());
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "outagesim scenario",
        "description": "A scenario file of outagesim. Generated from the settings declarations by `outagesim schema`; docs/reference.md describes every setting.",
        "type": "object",
        "additionalProperties": false,
        "definitions": definitions(),
        "properties": {
            "scenario": table_schema::<ScenarioSettings>(),
            "network": table_schema::<NetworkSettings>(),
            "components": {
                "type": "object",
                "description": "The component groups, by name.",
                "additionalProperties": by_kind_schema("A group of replicas of one kind.", &components),
            },
            "links": array::<LinkSettings>(),
            "faults": {
                "type": "array",
                "items": by_kind_schema("A fault injected at a fixed time.", &fault_kinds()),
            },
            "failures": {
                "type": "array",
                "items": object_schema(FailureSettings::DOC, &failure_fields),
            },
            "alarms": array::<AlarmSettings>(),
            "actions": {
                "type": "array",
                "items": by_kind_schema("An operator's action.", &action_kinds()),
            },
            "published": array::<PublishedSettings>(),
            "what_ifs": array::<WhatIfSettings>(),
        },
    })
}

/// The schema as the shipped file holds it: pretty-printed, with a final newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).expect("a JSON value prints");
    text.push('\n');
    text
}

fn array<T: Table>() -> Json {
    json!({ "type": "array", "description": T::DOC.trim(), "items": table_schema::<T>() })
}
