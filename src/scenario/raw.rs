//! Stage one of reading a scenario: the document split into its pieces as written (the
//! `[scenario]` and `[network]` tables, each component's table, each entry of the arrays of
//! tables), each kept as a `toml_edit` item for the settings layer to read. What this stage
//! checks itself is the document's shape: unknown top-level tables, entries that are no
//! tables, unknown keys of faults and failures, and what a config change's `set` does to its
//! target's table. Settings are not listed here (but for those a config change may not set):
//! the declarations in `model` are the only list.

use indexmap::IndexMap;
use toml_edit::{DocumentMut, Item, Key, TableLike, Value};

use crate::model::faults::{all_fault_fields, failure_fields};
use crate::model::settings::{Input, Reader, Shape, unknown_fields};

use super::error::{Issue, closest, list};

/// One entry of a `config_change` fault's `set`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawSet {
    /// Where it is written, below `set`: `["health_check.kind"]` for a quoted key,
    /// `["health_check", "kind"]` for a dotted one.
    pub key: Vec<String>,
    /// What it sets, inside the component's table: `["health_check", "kind"]`. Empty when the
    /// key is not a valid path (reported already).
    pub path: Vec<String>,
    /// The value as written, e.g. `"deep"` or `4`.
    pub text: String,
}

/// The component fields a `config_change` may not set: its kind, size and place.
pub const FIXED_FIELDS: &[&str] = &[
    "kind", "replicas", "standby", "region", "zone", "zones", "segment", "gossip",
];

/// The path in the file (below `set`) of the entry that wrote `rel`, a path inside the
/// component, followed by the rest of `rel`: the last entry whose path holds `rel`, or else
/// the last one whose path lies below `rel`.
pub fn set_origin(entries: &[RawSet], rel: &[String]) -> Option<Vec<String>> {
    let valid = || entries.iter().rev().filter(|e| !e.path.is_empty());
    if let Some(e) = valid().find(|e| rel.starts_with(&e.path)) {
        let mut out = e.key.clone();
        out.extend(rel[e.path.len()..].iter().cloned());
        return Some(out);
    }
    valid()
        .find(|e| !rel.is_empty() && e.path.starts_with(rel))
        .map(|e| e.key.clone())
}

/// `[components.<name>]`: its table as written (or as a config change leaves it). The
/// component's kind and settings are read from it by validation, through the declarations of
/// `model::kinds` and `model::policy`.
#[derive(Clone, Debug, Default)]
pub struct RawComponent {
    /// The table (None when it is no table: reported already).
    pub item: Option<Item>,
}

impl RawComponent {
    /// The table's entries, in file order.
    pub fn entries(&self) -> Vec<(&str, &Item)> {
        self.item
            .as_ref()
            .and_then(Item::as_table_like)
            .map(|t| t.iter().collect())
            .unwrap_or_default()
    }

    /// Field `key`, if written.
    pub fn get(&self, key: &str) -> Option<&Item> {
        self.item.as_ref()?.as_table_like()?.get(key)
    }
}

/// `[[faults]]`: the table as written (its fields are read by `model::faults`, one table per
/// fault kind), and for a config change what its `set` does to the target's table.
#[derive(Clone, Debug, Default)]
pub struct RawFault {
    /// The table (None when it is no table: reported already).
    pub item: Option<Item>,
    /// Config change: the entries of `set`, in file order.
    pub set_entries: Vec<RawSet>,
    /// Config change: the target's table with `set` applied (None when there is no such
    /// table or the change cannot be applied; its problems are reported already).
    pub after: Option<Box<RawComponent>>,
}

/// A whole scenario file, as written.
#[derive(Clone, Debug, Default)]
pub struct RawFile {
    /// `[scenario]`, if present.
    pub scenario: Option<Item>,
    /// `[network]`, if present.
    pub network: Option<Item>,
    /// `[components.<name>]`, in file order.
    pub components: IndexMap<String, RawComponent>,
    /// `[[faults]]`, in file order (unreadable entries keep their place).
    pub faults: Vec<RawFault>,
    /// `[[failures]]`, in file order (unreadable entries keep their place).
    pub failures: Vec<Option<Item>>,
    /// `[[links]]`, in file order.
    pub links: Vec<Item>,
    /// `[[alarms]]` as written, in file order (None for an entry that is no table).
    pub alarms: Vec<Option<Item>>,
    /// `[[autoscalers]]` as written, in file order.
    pub autoscalers: Vec<Option<Item>>,
    /// `[[actions]]` as written, in file order (None for an entry that is no table).
    pub actions: Vec<Option<Item>>,
    /// `[[published]]`, in file order (unreadable entries keep their place).
    pub published: Vec<Item>,
    /// `[[what_ifs]]`, in file order (unreadable entries keep their place).
    pub what_ifs: Vec<Item>,
}

/// The top-level tables and arrays of a scenario file.
pub const TOP_FIELDS: &[&str] = &[
    "scenario",
    "network",
    "components",
    "faults",
    "failures",
    "links",
    "alarms",
    "actions",
    "autoscalers",
    "published",
    "what_ifs",
];

/// Reads a parsed document into raw structs. Each top-level piece, component, fault and link
/// is read on its own; a field that cannot be read is reported and dropped, and reading goes
/// on without it, so every structural problem is found in one pass.
///
/// `text` is the document's text (for `config_change` faults, see [`read_config_changes`]).
pub(crate) fn read(root: &Item, text: &str) -> (RawFile, Vec<Issue>) {
    let mut issues = Vec::new();
    let mut raw = RawFile::default();
    let Some(top) = root.as_table_like() else {
        return (raw, issues);
    };
    for (key, item) in top.iter() {
        let path = vec![key.to_owned()];
        match key {
            "scenario" => raw.scenario = Some(item.clone()),
            "network" => raw.network = Some(item.clone()),
            "components" => match item.as_table_like() {
                Some(t) => {
                    for (name, item) in t.iter() {
                        let mut p = path.clone();
                        p.push(name.to_owned());
                        let c = if item.is_table_like() {
                            RawComponent {
                                item: Some(item.clone()),
                            }
                        } else {
                            issues.push(not_table(p, item, "a table"));
                            RawComponent::default()
                        };
                        raw.components.insert(name.to_owned(), c);
                    }
                }
                None => issues.push(not_table(path, item, "[components.<name>] tables")),
            },
            "faults" | "failures" | "links" | "alarms" | "actions" | "autoscalers"
            | "published" | "what_ifs" => {
                let elems: Vec<Item> = match item {
                    Item::ArrayOfTables(a) => a.iter().map(|t| Item::Table(t.clone())).collect(),
                    Item::Value(Value::Array(a)) => {
                        a.iter().map(|v| Item::Value(v.clone())).collect()
                    }
                    _ => {
                        issues.push(not_table(path, item, &format!("[[{key}]] tables")));
                        continue;
                    }
                };
                for (i, e) in elems.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(i.to_string());
                    let is = &mut issues;
                    match key {
                        "faults" => raw.faults.push(RawFault {
                            item: known(e, &p, &all_fault_fields(), is),
                            ..RawFault::default()
                        }),
                        "failures" => raw.failures.push(known(e, &p, &failure_fields(), is)),
                        "alarms" => raw.alarms.push(table(e, &p, is)),
                        "autoscalers" => raw.autoscalers.push(table(e, &p, is)),
                        "actions" => raw.actions.push(table(e, &p, is)),
                        "published" => raw.published.push(e.clone()),
                        "what_ifs" => raw.what_ifs.push(e.clone()),
                        _ => raw.links.push(e.clone()),
                    }
                }
            }
            other => {
                let hint = match closest(other, TOP_FIELDS.iter().copied()) {
                    Some(c) => format!(
                        "did you mean '{c}'? (top-level tables: {})",
                        list(TOP_FIELDS)
                    ),
                    None => format!("top-level tables: {}", list(TOP_FIELDS)),
                };
                let what = if item.is_table_like() || item.is_array_of_tables() {
                    "table"
                } else {
                    "top-level key"
                };
                issues.push(
                    Issue::new(path, format!("unknown {what} '{other}'"))
                        .hint(hint)
                        .at_key(),
                );
            }
        }
    }
    read_config_changes(&mut raw, text, &mut issues);
    (raw, issues)
}

/// An entry whose keys must be among `names`: the table as written, its unknown keys reported
/// (with a "did you mean"), or None (reported) when it is no table.
fn known(item: &Item, path: &[String], names: &[&str], issues: &mut Vec<Issue>) -> Option<Item> {
    let t = table(item, path, issues)?;
    if let Shape::Table(entries) = t.shape() {
        unknown_fields(&entries, names, &mut Reader::new(path.to_vec(), issues));
    }
    Some(t)
}

/// An entry read by the settings layer: the table as written, or None (reported) when it is
/// no table.
fn table(item: &Item, path: &[String], issues: &mut Vec<Issue>) -> Option<Item> {
    if item.is_table_like() {
        return Some(item.clone());
    }
    issues.push(not_table(path.to_vec(), item, "a table"));
    None
}

/// Reads the `set` of every `config_change` fault: its entries, and the target component's
/// table with them applied (as `--set components.<target>.<path>=<value>` would apply them),
/// read like a component. Problems of the new settings are reported at their key in `set`;
/// the component's own problems are not repeated, and fields a config change may not set
/// ([`FIXED_FIELDS`]) are left out (validation reports them).
fn read_config_changes(raw: &mut RawFile, text: &str, issues: &mut Vec<Issue>) {
    let wanted: Vec<usize> = (0..raw.faults.len())
        .filter(|&j| {
            let f = &raw.faults[j];
            let field = |k| f.item.as_ref().and_then(|t| t.as_table_like()?.get(k));
            field("set").is_some_and(Item::is_table_like)
                && field("kind").and_then(Item::as_str) == Some("config_change")
        })
        .collect();
    if wanted.is_empty() {
        return;
    }
    // A document whose values carry their text (a parsed `Document` only has spans).
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return;
    };
    let root = doc.as_item();
    for j in wanted {
        let base = vec!["faults".to_owned(), j.to_string(), "set".to_owned()];
        let Some(set) = fault_table(root, j)
            .and_then(|t| t.get("set"))
            .and_then(Item::as_table_like)
        else {
            continue;
        };
        let mut values = Vec::new();
        flatten(set, &mut Vec::new(), &mut values);
        let mut entries = Vec::new();
        let mut settings = Vec::new();
        for (key, value) in values {
            let mut path = Vec::new();
            for seg in &key {
                match Key::parse(seg) {
                    Ok(keys) if !keys.is_empty() => {
                        path.extend(keys.iter().map(|k| k.get().to_owned()));
                    }
                    _ => {
                        let mut p = base.clone();
                        p.extend(key.iter().cloned());
                        issues.push(
                            Issue::new(p, format!("'{seg}' is not a path into the component"))
                                .value(seg.clone())
                                .hint(r#"a setting is a dotted path as --set takes it, e.g. workers = 4 or "health_check.kind" = "deep""#.to_owned())
                                .at_key(),
                        );
                        path.clear();
                        break;
                    }
                }
            }
            let text = value.to_string().trim().to_owned();
            entries.push(RawSet { key, path, text });
            settings.push(value);
        }
        let after = fault_table(root, j)
            .and_then(|t| t.get("target")?.as_str())
            .filter(|t| raw.components.get(*t).is_some_and(|c| c.item.is_some()))
            .and_then(|t| {
                let item = root
                    .as_table_like()?
                    .get("components")?
                    .as_table_like()?
                    .get(t)?;
                changed_component(item, &entries, settings, &base, issues)
            });
        let f = &mut raw.faults[j];
        f.set_entries = entries;
        f.after = after.map(Box::new);
    }
}

/// Fault `j`'s table in a document.
fn fault_table(root: &Item, j: usize) -> Option<&dyn TableLike> {
    match root.as_table_like()?.get("faults")? {
        Item::ArrayOfTables(a) => a.get(j).map(|t| t as &dyn TableLike),
        Item::Value(Value::Array(a)) => a.get(j)?.as_inline_table().map(|t| t as &dyn TableLike),
        _ => None,
    }
}

/// The leaves of a `set` table with their key paths; dotted keys and sub-tables are walked
/// into, inline tables `{ ... }` are values.
fn flatten(t: &dyn TableLike, prefix: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    for (k, item) in t.iter() {
        prefix.push(k.to_owned());
        match item {
            Item::Value(Value::InlineTable(it)) if it.is_dotted() => flatten(it, prefix, out),
            Item::Table(tb) => flatten(tb, prefix, out),
            Item::None => {}
            other => {
                if let Ok(v) = other.clone().into_value() {
                    out.push((prefix.clone(), v));
                }
            }
        }
        prefix.pop();
    }
}

/// A component's table with the settings applied (validation reads it as the component's, and
/// reports its problems at the setting's key below `base`); a setting that cannot be applied
/// is reported here.
fn changed_component(
    item: &Item,
    entries: &[RawSet],
    settings: Vec<Value>,
    base: &[String],
    issues: &mut Vec<Issue>,
) -> Option<RawComponent> {
    let mut sub = DocumentMut::new();
    sub.insert("c", item.clone());
    let at = |key: &[String]| {
        let mut p = base.to_vec();
        p.extend(key.iter().cloned());
        p
    };
    for (e, value) in entries.iter().zip(settings) {
        if e.path.is_empty() || FIXED_FIELDS.contains(&e.path[0].as_str()) {
            continue;
        }
        let target = sub.get_mut("c")?;
        let mut walked = Vec::new();
        if let Err(msg) = super::overrides::set_item(target, &e.path, value, &mut walked) {
            issues.push(Issue::new(at(&e.key), msg).value(e.text.clone()));
        }
    }
    let item = sub.remove("c")?;
    Some(RawComponent { item: Some(item) })
}

fn not_table(path: Vec<String>, item: &Item, want: &str) -> Issue {
    Issue::new(path, format!("expected {want}, found {}", type_name(item)))
}

fn type_name(item: &Item) -> &'static str {
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(v) => match v {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Boolean(_) => "a boolean",
            Value::Datetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::InlineTable(_) => "a table",
        },
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    fn read_text(text: &str) -> (RawFile, Vec<Issue>) {
        let doc = toml_edit::Document::parse(text).expect("valid TOML");
        read(doc.as_item(), text)
    }

    #[test]
    fn nested_errors_keep_their_path() {
        use crate::model::kinds::service::ServiceSettings;
        use crate::model::settings::{Input, Reader, Shape, Table};
        // The raw stage only notes `calls`; the service's declared settings read it.
        let (raw, mut issues) = read_text(
            "[components.s]\nkind = \"service\"\ncalls = [{ target = \"a\", timeout = 5 }]\n",
        );
        let item = raw.components["s"].item.as_ref().expect("the table");
        let Shape::Table(entries) = item.shape() else {
            panic!("a table")
        };
        let base = vec!["components".to_owned(), "s".to_owned()];
        ServiceSettings::read_fields(&entries, &mut Reader::new(base, &mut issues));
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].path, ["components", "s", "calls", "0", "timeout"]);
        assert!(
            issues[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.contains(r#""5s""#))
        );
    }

    #[test]
    fn unknown_top_level_table() {
        let (_, issues) = read_text("[scenaro]\nname = \"x\"\n");
        assert_eq!(issues[0].message, "unknown table 'scenaro'");
        assert!(
            issues[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.starts_with("did you mean 'scenario'"))
        );
    }
}
