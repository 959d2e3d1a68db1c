//! `kind = "firewall"`: passes requests on to its `next` group, refusing the sources it denies
//! (by configuration or a `block` action: counted as denied, answered with an error) and, with
//! `max_connections`, new requests while that many are in flight through it. With
//! `connections = { table, setup, idle_timeout }` it also keeps a connection table of the
//! pooled connections callers open to it, the same one network devices keep
//! (`policy/conn.rs`): a handshake takes an entry and `setup` worker time, a full table drops
//! it, a close frees it, each request keeps it fresh.

use crate::engine::SimTime;
use crate::model::msg::{Req, Status};
use crate::model::node::{Cx, Node, Outcome};
use crate::model::policy::conn::TableSpec;
use crate::model::settings::{Count, List, Nested, Opt, PosDuration, Role, Text};
use crate::model::spec::{KindSpec, ServerSpec};
use crate::model::world::World;
use crate::settings;

use super::{Build, KindSettings};

settings! {
    /// `kind = "firewall"`: passes requests on, refusing denied sources.
    pub struct FirewallSettings "firewall" {
        /// The group traffic goes on to.
        next: Text => "add next = \"<the component traffic goes on to>\"",
        /// Client groups whose requests are refused.
        deny: List<Text> = Vec::new(),
        /// Requests in flight per replica; beyond it new requests are refused (none: unlimited). Unlike `connections`, it counts requests, not the callers' pooled connections.
        max_connections: Opt<Count<1, { u32::MAX }>> = None,
        /// A connection table per replica for the pooled connections callers open to it: handshakes take entries and setup work, a full table drops them (none: no table).
        connections: Opt<Nested<TableSpec>> = None,
        /// Timeout of the next hop.
        timeout: PosDuration = SimTime::from_secs(30),
    }
}

impl KindSettings for FirewallSettings {
    fn build(self, b: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec> {
        let next = b.dep("next", Role::Serve);
        let deny = deny(b, &self.deny);
        Some(KindSpec::Firewall(FirewallSpec {
            server,
            next: next?,
            deny: deny?,
            max_connections: self.max_connections,
            connections: self.connections,
            timeout: self.timeout,
        }))
    }
}

/// Resolves `next` and `deny` when the other settings have problems.
pub(super) fn refs(b: &mut Build<'_>) {
    b.dep("next", Role::Serve);
    let names = b.written::<List<Text>>("deny").unwrap_or_default();
    deny(b, &names);
}

/// The client groups `deny` names.
fn deny(b: &mut Build<'_>, names: &[String]) -> Option<Vec<usize>> {
    let mut out = Some(Vec::new());
    for (j, n) in names.iter().enumerate() {
        let mut path = b.at("deny");
        path.push(j.to_string());
        match (b.resolve.group(None, path, n, Role::Source), out.as_mut()) {
            (Some(d), Some(v)) => v.push(d),
            _ => out = None,
        }
    }
    out
}

/// `kind = "firewall"`.
#[derive(Clone, Debug, PartialEq)]
pub struct FirewallSpec {
    pub server: ServerSpec,
    /// `next`: the group traffic goes on to.
    pub next: usize,
    /// `deny = ["client-group", ...]`: sources whose requests are refused.
    pub deny: Vec<usize>,
    /// `max_connections`: connection-table size per replica (requests in flight through it);
    /// beyond it new requests are refused. None = unlimited.
    pub max_connections: Option<u32>,
    /// `connections`: the table of pooled connections callers open to it (`policy/conn.rs`).
    pub connections: Option<TableSpec>,
    /// `timeout` for the next hop (default "30s").
    pub timeout: SimTime,
}

impl Node {
    /// Admission: a firewall takes a connection-table entry for the request, or refuses it
    /// when the table is full (false). Every other kind admits.
    pub(crate) fn take_connection(&mut self, w: &World) -> bool {
        if let KindSpec::Firewall(f) = self.kind(w) {
            if let Some(max) = f.max_connections {
                if self.conns >= max {
                    return false;
                }
            }
            self.conns += 1;
        }
        true
    }

    /// A firewall's request is done (or was never queued): its entry is freed.
    pub(crate) fn release_connection(&mut self, w: &World) {
        if matches!(self.kind(w), KindSpec::Firewall(_)) {
            self.conns = self.conns.saturating_sub(1);
        }
    }

    /// A request, after its service time: denied, or passed on.
    pub(crate) fn firewall_serve(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        f: &FirewallSpec,
        req: &Req,
    ) {
        if let Some(t) = self.table.as_mut() {
            // A request keeps its connection's entry fresh.
            t.touch((req.from, self.me, req.conn), cx.now().0);
        }
        if f.deny.contains(&(req.source as usize)) || self.ops.blocked.contains(&req.source) {
            if let Some(job) = self.jobs.get_mut(slot, gen_) {
                job.denied = true;
            }
            self.finish(w, cx, slot, gen_, Status::Error, 0);
        } else {
            self.firewall_forward(w, cx, slot, gen_, 1, f);
        }
    }

    /// Passes a request on to the next group.
    pub(crate) fn firewall_forward(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        attempt: u32,
        f: &FirewallSpec,
    ) {
        self.forward(w, cx, slot, gen_, attempt, f.next, f.timeout, None);
    }

    /// The next group's answer goes back as it is (any failure as an error).
    pub(crate) fn firewall_result(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        out: Outcome,
    ) {
        self.finish(w, cx, slot, gen_, out.status(), 0);
    }
}
