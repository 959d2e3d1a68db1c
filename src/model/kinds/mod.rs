//! The component kinds, one module each. A kind's module is the only place that knows its
//! settings types (re-exported by `spec`) and its behaviour: an `impl Node` block whose methods
//! the pipeline in `node.rs` calls when a request of that kind has been served, when one of its
//! calls ends, or when one of its timers fires.

pub mod cache;
pub mod client;
pub mod dns;
pub mod firewall;
pub mod load_balancer;
pub mod monitor;
pub mod network;
pub mod proxy;
pub mod resolver;
pub mod service;
pub mod storage;

use crate::model::policy::placement::PlacementSettings;
use crate::model::policy::server::ServerSettings;
use crate::model::settings::{
    Field, Input, Reader, Resolve, Role, Shape, Table, Value, table_schema,
};
use crate::model::spec::GossipSpec;
use crate::model::spec::{KindSpec, ServerSpec};

/// What a kind's settings need while they become its spec: where they were written, and the
/// names of the other groups.
pub struct Build<'a> {
    /// The group being read.
    pub group: usize,
    /// The path of its table (`components.<name>`, or where a config change's `set` lands).
    pub base: Vec<String>,
    /// The table's entries as written.
    pub entries: &'a [(&'a str, &'a dyn Input)],
    /// Resolves the names its settings refer to.
    pub resolve: &'a mut dyn Resolve,
}

impl Build<'_> {
    /// The path of field `seg` of the table.
    pub fn at(&self, seg: &str) -> Vec<String> {
        let mut p = self.base.clone();
        p.push(seg.to_owned());
        p
    }

    /// The group named by field `field` of the table (see [`dep`]).
    pub fn dep(&mut self, field: &str, role: Role) -> Option<usize> {
        let (base, entries) = (self.base.clone(), self.entries);
        dep(self, &base, entries, field, role)
    }

    /// Field `field` read as `V` without reporting (the declaration reports its problems): the
    /// names to resolve whether or not the other settings could be read. None when it is
    /// absent or cannot be read.
    pub fn written<V: Value>(&self, field: &str) -> Option<V::Out> {
        quiet::<V>(self.entries.iter().find(|(k, _)| *k == field)?.1)
    }
}

/// `input` read as `V` without reporting its problems.
pub fn quiet<V: Value>(input: &dyn Input) -> Option<V::Out> {
    V::read(input, &mut Reader::new(Vec::new(), &mut Vec::new()))
}

/// A kind's declared settings (the fields of its own, beside placement and server settings),
/// and how they become the kind's spec once names are resolved.
pub trait KindSettings: Table {
    /// The kind's spec; `server` is its server settings (every kind but client and network).
    fn build(self, b: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec>;
}

/// Reads kind `T`'s own settings from the table's entries (other keys are left to the
/// caller), checks them, and builds the spec.
fn read<T: KindSettings>(b: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec> {
    read_refs::<T>(b, server, |_| {})
}

/// Like [`read`] for a kind that refers to other groups: when its settings have problems,
/// `refs` still resolves the references written (so their problems are reported too and the
/// dependency graph is whole).
fn read_refs<T: KindSettings>(
    b: &mut Build<'_>,
    server: ServerSpec,
    refs: fn(&mut Build<'_>),
) -> Option<KindSpec> {
    let entries = b.entries;
    let mut r = Reader::new(b.base.clone(), b.resolve.issues());
    match T::read_fields(entries, &mut r) {
        Some(settings) if settings.check(entries, &mut r) => settings.build(b, server),
        _ => {
            refs(b);
            None
        }
    }
}

/// The group named by field `field` of the table at `base` (`entries`), a dependency of the
/// group being read, when it is written as a string (its absence and type are the
/// declaration's to report).
pub fn dep(
    b: &mut Build<'_>,
    base: &[String],
    entries: &[(&str, &dyn Input)],
    field: &str,
    role: Role,
) -> Option<usize> {
    let input = entries.iter().find(|(k, _)| *k == field)?.1;
    let Shape::Str(name) = input.shape() else {
        return None;
    };
    let mut path = base.to_vec();
    path.push(field.to_owned());
    b.resolve.group(Some(b.group), path, name, role)
}

/// Every field a component table of kind `kind` may hold besides `kind`, in the order hints
/// list them: placement (a client's without `replicas` and `standby`, a monitor's without
/// `standby`), `gossip` (not on clients and monitors), server settings (not on clients and
/// networks), then the kind's own.
pub fn component_fields(kind: Kind) -> Vec<Field> {
    let mut fields = PlacementSettings::fields();
    match kind {
        Kind::Client => fields.retain(|f| !matches!(f.name, "replicas" | "standby")),
        Kind::Monitor => fields.retain(|f| f.name != "standby"),
        _ => fields.push(gossip_field()),
    }
    if !matches!(kind, Kind::Client | Kind::Network) {
        fields.extend(ServerSettings::fields());
    }
    fields.extend(match kind {
        Kind::Client => client::ClientSettings::fields(),
        Kind::Resolver => resolver::ResolverSettings::fields(),
        Kind::Dns => dns::DnsSettings::fields(),
        Kind::Firewall => firewall::FirewallSettings::fields(),
        Kind::Network => network::NetworkSettings::fields(),
        Kind::LoadBalancer => load_balancer::LbSettings::fields(),
        Kind::Proxy | Kind::Cdn => proxy::ProxySettings::fields(),
        Kind::Cache => cache::CacheSettings::fields(),
        Kind::Service => service::ServiceSettings::fields(),
        Kind::Storage => storage::StorageSettings::fields(),
        Kind::Monitor => monitor::MonitorSettings::fields(),
    });
    fields
}

/// `gossip`: `true`, `false` or a `gossip` table.
fn gossip_field() -> Field {
    Field {
        name: "gossip",
        doc: "Membership gossip among the replicas: true, false or a `gossip` table (storage gossips by default).",
        what: || "`true`, `false` or a `gossip` table".to_owned(),
        schema: || serde_json::json!({ "oneOf": [{ "type": "boolean" }, table_schema::<GossipSpec>()] }),
        default: Some(|| "false (storage: true)".to_owned()),
    }
}

/// Reads the own settings of a group of kind `kind` (see [`KindSettings`]).
pub fn read_kind(kind: Kind, b: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec> {
    match kind {
        Kind::Monitor => read::<monitor::MonitorSettings>(b, server),
        Kind::LoadBalancer => {
            read_refs::<load_balancer::LbSettings>(b, server, load_balancer::refs)
        }
        Kind::Proxy | Kind::Cdn => read_refs::<proxy::ProxySettings>(b, server, proxy::refs),
        Kind::Cache => read_refs::<cache::CacheSettings>(b, server, cache::refs),
        Kind::Service => read_refs::<service::ServiceSettings>(b, server, service::refs),
        Kind::Storage => read::<storage::StorageSettings>(b, server),
        Kind::Client => read_refs::<client::ClientSettings>(b, server, client::refs),
        Kind::Resolver => read_refs::<resolver::ResolverSettings>(b, server, resolver::refs),
        Kind::Dns => read_refs::<dns::DnsSettings>(b, server, dns::refs),
        Kind::Firewall => read_refs::<firewall::FirewallSettings>(b, server, firewall::refs),
        Kind::Network => read::<network::NetworkSettings>(b, server),
    }
}

/// A component kind (the `kind` of a component table), before its settings are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Client,
    Resolver,
    Dns,
    Firewall,
    Network,
    LoadBalancer,
    Proxy,
    Cdn,
    Cache,
    Service,
    Storage,
    Monitor,
}

/// The kinds in the order hints list them.
pub const KINDS: [(&str, Kind); 12] = [
    ("client", Kind::Client),
    ("resolver", Kind::Resolver),
    ("dns", Kind::Dns),
    ("firewall", Kind::Firewall),
    ("network", Kind::Network),
    ("load_balancer", Kind::LoadBalancer),
    ("proxy", Kind::Proxy),
    ("cdn", Kind::Cdn),
    ("cache", Kind::Cache),
    ("service", Kind::Service),
    ("storage", Kind::Storage),
    ("monitor", Kind::Monitor),
];

impl Kind {
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }

    /// "a client", "an authoritative dns", ... for messages.
    pub fn a(self) -> String {
        let n = self.name();
        if n.starts_with(['a', 'e', 'i', 'o', 'u']) {
            format!("an {n}")
        } else {
            format!("a {n}")
        }
    }
}
