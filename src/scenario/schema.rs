//! What derives from the settings declarations besides reading: the reference documentation
//! (`docs/reference.md`) and the JSON Schema of scenario files. The schema is for editors: editors use it
//! for completion and inline errors (`#:schema ../schema/scenario.schema.json` heads each
//! shipped scenario). Validation proper stays with the scenario layer, which also checks what
//! a schema cannot say (references, cycles, units); a file the layer accepts always passes
//! the schema, and the schema refuses unknown fields as the layer does.

use std::fmt::Write as _;

use serde_json::{Value as Json, json};

use crate::model::faults::{FailureSettings, FailureTimes, fault_kinds};
use crate::model::head::{
    LinkSettings, NetworkSettings, PublishedSettings, RegionLatency, ScenarioSettings,
    WhatIfSettings,
};
use crate::model::kinds::Kind;
use crate::model::kinds::dns::RecordSettings;
use crate::model::kinds::monitor::AlarmSettings;
use crate::model::kinds::service::CallSettings;
use crate::model::kinds::{KINDS, component_fields};
use crate::model::node::ops::action_kinds;
use crate::model::policy::autoscale::AutoscalerSettings;
use crate::model::policy::server::{self, Queue};
use crate::model::settings::{Distribution, Duration, Value, fields_reference, table_reference};
use crate::model::settings::{Table, by_kind_schema, definitions, object_schema, table_schema};
use crate::model::spec::{BreakerSpec, GossipSpec, HealthCheckSpec, RetrySpec};
use crate::scenario::ScenarioError;

/// Every component's settings as the run uses them, one line per declared field in the order
/// hints list them: the value as written (after `--set`), or the declared default (for server
/// settings, the kind's). The scenario must be valid (its problems are returned otherwise).
///
/// # Errors
/// The scenario's problems, as for [`load`](super::load).
pub fn settings_view(text: &str, file: &str, sets: &[String]) -> Result<String, ScenarioError> {
    let spec = super::load(text, file, sets)?;
    let mut doc: toml_edit::DocumentMut = text.parse().expect("a valid scenario parses");
    for arg in sets {
        let _ = super::overrides::apply(&mut doc, arg);
    }
    let tables = doc
        .get("components")
        .and_then(toml_edit::Item::as_table_like);
    let mut out = String::new();
    for group in &spec.groups {
        let written = tables
            .and_then(|t| t.get(&group.name))
            .and_then(toml_edit::Item::as_table_like);
        let name = group.kind.name();
        let _ = writeln!(out, "{}: {name}", group.name);
        let Some((_, kind)) = KINDS.iter().find(|(n, _)| *n == name) else {
            continue;
        };
        let server = server::defaults(*kind);
        for f in component_fields(*kind) {
            let value = written.and_then(|t| t.get(f.name)).map(|v| {
                // One line, without the file's comments and layout.
                match v.clone().into_value() {
                    Ok(mut v) => {
                        one_line(&mut v);
                        v.to_string()
                    }
                    Err(_) => v.to_string().trim().to_owned(),
                }
            });
            let shown = match (value, f.name) {
                (Some(v), _) => v,
                (None, "gossip") => format!("{}  (default)", *kind == Kind::Storage),
                (None, "workers") => format!("{}  (default)", server.workers),
                (None, "queue") if *kind != Kind::Network => {
                    format!("{}  (default)", Queue::show(&server.queue))
                }
                (None, "service_time") => {
                    format!("{}  (default)", Distribution::show(&server.service_time))
                }
                (None, _) => match f.default {
                    Some(d) => format!("{}  (default)", d()),
                    None => "none".to_owned(),
                },
            };
            let _ = writeln!(out, "  {} = {shown}", f.name);
        }
    }
    Ok(out)
}

/// Lays out a value on one line, without comments.
fn one_line(v: &mut toml_edit::Value) {
    match v {
        toml_edit::Value::Array(a) => {
            a.iter_mut().for_each(one_line);
            a.fmt();
            a.set_trailing("");
            a.set_trailing_comma(false);
        }
        toml_edit::Value::InlineTable(t) => {
            t.iter_mut().for_each(|(_, e)| one_line(e));
            t.fmt();
        }
        _ => {}
    }
    v.decor_mut().clear();
}

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
            "autoscalers": array::<AutoscalerSettings>(),
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

/// The reference documentation of every setting, as Markdown (`docs/reference.md`), from the
/// same declarations.
pub fn reference() -> String {
    let mut out = String::from(
        "# Scenario settings reference\n\n\
         <!-- Generated from the settings declarations (src/model/); `cargo test` regenerates \
         it and fails while it is stale. Do not edit by hand. -->\n\n\
         Each setting below is declared once, in the module of the kind, policy, fault or \
         action it configures, with its type, bounds, default and meaning; reading scenario \
         files, this page and the JSON Schema (`outagesim schema`, \
         `schema/scenario.schema.json`) all come from that declaration.\n\n## Value types\n\n",
    );
    for (name, what) in [
        ("duration", Duration::what()),
        ("distribution", Distribution::what()),
    ] {
        let _ = writeln!(out, "- **{name}**: {what}");
    }
    let mut section = |title: &str, parts: Vec<String>| {
        let _ = write!(out, "\n## {title}\n\n");
        for p in parts {
            out.push_str(&p);
            out.push('\n');
        }
    };
    section(
        "The run",
        vec![
            table_reference::<ScenarioSettings>(""),
            table_reference::<NetworkSettings>(""),
            table_reference::<RegionLatency>(""),
            table_reference::<LinkSettings>(""),
        ],
    );
    section(
        "Components",
        KINDS
            .iter()
            .map(|(name, kind)| {
                let s = server::defaults(*kind);
                let server = if matches!(kind, Kind::Client | Kind::Network) {
                    String::new()
                } else {
                    format!(
                        " Server defaults for this kind: `workers = {}`, `queue = {}`, `service_time = {}`.",
                        s.workers,
                        Queue::show(&s.queue),
                        Distribution::show(&s.service_time)
                    )
                };
                let doc = format!(
                    "`[components.<name>]` with `kind = \"{name}\"`: placement, then its own settings.{server}"
                );
                fields_reference(&format!("`kind = \"{name}\"`"), &doc, &component_fields(*kind))
            })
            .collect(),
    );
    section(
        "Parts of components and policies",
        vec![
            table_reference::<RecordSettings>("Each `[[components.<dns>.records]]` entry."),
            table_reference::<CallSettings>("Each entry of a service's `calls`."),
            table_reference::<RetrySpec>(
                "Used by clients, load balancers, proxies and CDNs, and each entry of a service's `calls`.",
            ),
            table_reference::<HealthCheckSpec>(
                "Used by load balancers and authoritative DNS (GSLB).",
            ),
            table_reference::<BreakerSpec>("Used by services, per dependency."),
            table_reference::<crate::model::policy::rate_limit::RateLimitSpec>(
                "Used by services, load balancers, proxies and CDNs (`rate_limit`).",
            ),
            table_reference::<crate::model::policy::concurrency::ConcurrencySpec>(
                "Used by clients, load balancers, proxies and CDNs, and each entry of a service's `calls` (`concurrency_limit`).",
            ),
            table_reference::<crate::model::policy::hedge::HedgeSpec>("Used by clients (`hedge`)."),
            table_reference::<crate::model::policy::conn::ConnSpec>(
                "Used by clients and services (`connections`): pooled connections per target group.",
            ),
            table_reference::<crate::model::policy::conn::TableSpec>(
                "Used by network devices and firewalls (`connections`): a connection table per replica.",
            ),
            table_reference::<GossipSpec>(
                "Any server kind; storage gossips by default, and `gossip = false` turns it off.",
            ),
        ],
    );
    section(
        "Faults and failures",
        fault_kinds()
            .iter()
            .map(|(kind, fields)| {
                let doc = format!("Each `[[faults]]` entry with `kind = \"{kind}\"`.");
                fields_reference(&format!("fault `kind = \"{kind}\"`"), &doc, fields)
            })
            .chain([
                table_reference::<FailureSettings>(""),
                table_reference::<FailureTimes>(""),
            ])
            .collect(),
    );
    section(
        "Alarms, actions and autoscalers",
        std::iter::once(table_reference::<AlarmSettings>(""))
            .chain(action_kinds().iter().map(|(kind, fields)| {
                let doc = format!("Each `[[actions]]` entry with `kind = \"{kind}\"`.");
                fields_reference(&format!("action `kind = \"{kind}\"`"), &doc, fields)
            }))
            .chain([table_reference::<AutoscalerSettings>("")])
            .collect(),
    );
    section(
        "Replays",
        vec![
            table_reference::<PublishedSettings>(""),
            table_reference::<WhatIfSettings>(""),
        ],
    );
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::reference;

    /// `docs/reference.md` is generated from the declarations: this test rewrites it and fails
    /// when it was stale, so a changed setting cannot leave its documentation behind.
    #[test]
    fn the_reference_documentation_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reference.md");
        let want = reference();
        let have = std::fs::read_to_string(path).unwrap_or_default();
        if have != want {
            std::fs::write(path, &want).expect("write docs/reference.md");
            panic!("docs/reference.md was stale; it has been regenerated: review and commit it");
        }
    }
}
