//! The JSON Schema of scenario files (`outagesim schema`, shipped as
//! schema/scenario.schema.json): current, accepting every shipped scenario, refusing what the
//! scenario layer refuses structurally (unknown fields, unknown kinds, fields of another kind).

use std::path::Path;

use serde_json::Value as Json;

use crate::common::{outagesim, text};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn validator() -> jsonschema::Validator {
    let schema: Json = serde_json::from_str(&outagesim::scenario::schema_text()).unwrap();
    jsonschema::validator_for(&schema).expect("the schema is a valid draft-07 schema")
}

fn as_json(toml_text: &str) -> Json {
    toml::from_str(toml_text).expect("the scenario is TOML")
}

/// The problems the schema finds in a scenario text, as "path: message" lines.
fn problems(v: &jsonschema::Validator, toml_text: &str) -> Vec<String> {
    let doc = as_json(toml_text);
    v.iter_errors(&doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn shipped() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(Path::new(ROOT).join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path.display().to_string(), text));
        }
    }
    out.sort();
    assert!(out.len() >= 5, "the shipped scenarios are found");
    out
}

#[test]
fn the_shipped_schema_file_is_current_and_printed_by_the_cli() {
    let generated = outagesim::scenario::schema_text();
    let file = Path::new(ROOT).join("schema/scenario.schema.json");
    let shipped = std::fs::read_to_string(&file).unwrap_or_default();
    if shipped != generated {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &generated).unwrap();
        panic!(
            "{} was stale and has been rewritten from the declarations; commit it",
            file.display()
        );
    }
    let out = outagesim(&["schema"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), generated);
}

#[test]
fn every_shipped_scenario_names_the_schema_and_passes_it() {
    let v = validator();
    for (path, body) in shipped() {
        assert_eq!(
            body.lines().next(),
            Some("#:schema ../schema/scenario.schema.json"),
            "{path} starts with the schema line editors read"
        );
        let found = problems(&v, &body);
        assert!(
            found.is_empty(),
            "{path} fails the schema:\n{}",
            found.join("\n")
        );
    }
}

#[test]
fn the_schema_refuses_unknown_fields_kinds_and_fields_of_another_kind() {
    let v = validator();
    let mmc = std::fs::read_to_string(Path::new(ROOT).join("scenarios/mmc.toml")).unwrap();
    assert!(problems(&v, &mmc).is_empty());
    for (change, field) in [
        // An unknown field of a component.
        ("workers = 10", "workerz = 10"),
        // An unknown top-level table.
        ("[scenario]", "[scenarioo]"),
        // A field of another kind (a client's rate on a service).
        ("workers = 10", "workers = 10\nrate = 5.0"),
        // An unknown kind.
        ("kind = \"service\"", "kind = \"servise\""),
    ] {
        assert!(mmc.contains(change), "mmc.toml has '{change}'");
        let bad = mmc.replacen(change, field, 1);
        let found = problems(&v, &bad);
        assert!(
            !found.is_empty(),
            "the schema accepts '{field}' in place of '{change}'"
        );
        // The scenario layer refuses the same file.
        assert!(outagesim::scenario::parse(&bad, "mmc.toml").is_err());
    }
}

#[test]
fn describe_settings_lists_every_declared_setting_with_its_value_or_default() {
    let out = outagesim(&[
        "describe",
        "--settings",
        "scenarios/mmc.toml",
        "--set",
        "components.api.replicas=3",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let view = text(&out.stdout);
    // The order is the declarations' (placement, gossip, server, then the kind's own).
    let api = &view[view.find("api: service").expect("the service group")..];
    let lines: Vec<&str> = api.lines().skip(1).map(str::trim).collect();
    assert_eq!(lines[0], "replicas = 3", "--set applies: {view}");
    assert!(
        lines.contains(&"workers = 10"),
        "written, without its comment: {view}"
    );
    assert!(lines.contains(&"segment = \"main\"  (default)"), "{view}");
    assert!(lines.contains(&"gossip = false  (default)"), "{view}");
    assert!(lines.contains(&"parallel = false  (default)"), "{view}");
    // A bad file is refused like everywhere else.
    let out = outagesim(&[
        "describe",
        "--settings",
        "scenarios/mmc.toml",
        "--set",
        "components.api.workerz=3",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown field 'workerz'"));
}
