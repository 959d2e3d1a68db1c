//! `kind = "network"`: devices joining network segments. A message between entities of
//! different segments is relayed by a replica of the group joining them (chosen by a hash of
//! sender and receiver, so one flow always takes the same device); relaying takes the device's
//! worker time, so a congested device delays or drops what crosses it.

use serde_json::{Value as Json, json};

use crate::engine::rng::splitmix64;
use crate::engine::{EntityId, SimTime};
use crate::model::msg::{Msg, Status};
use crate::model::node::{Cx, Node, link_check};
use crate::model::policy::conn::{TableSpec, table_of};
use crate::model::policy::server::Queue;
use crate::model::settings::{
    Input, Issue, List, Nested, Opt, Reader, Text, Value, number, positive,
};
use crate::model::spec::{Dist, KindSpec, ServerSpec};
use crate::model::world::World;
use crate::settings;

use super::{Build, KindSettings};

settings! {
    /// `kind = "network"`: devices joining network segments.
    pub struct NetworkSettings "network" {
        /// Messages per second each replica relays (its one worker takes 1/capacity per message).
        capacity: Capacity => "add capacity = <messages per second per replica>, e.g. capacity = 100000.0",
        /// Messages waiting per replica, or "unbounded".
        queue: Queue = Some(1000),
        /// The segments this group connects, at least 2.
        joins: Segments => "add joins = [\"<segment>\", \"<segment>\"]: the segments this group connects",
        /// A connection table per replica: handshakes take entries and setup work (none: stateless).
        connections: Opt<Nested<TableSpec>> = None,
    }
}

impl KindSettings for NetworkSettings {
    fn build(self, _: &mut Build<'_>, _: ServerSpec) -> Option<KindSpec> {
        Some(KindSpec::Network(NetworkDeviceSpec {
            server: ServerSpec {
                workers: 1,
                queue: self.queue,
                service_time: Dist::Constant(self.capacity),
                queueing: Default::default(),
            },
            joins: self.joins,
            connections: self.connections,
        }))
    }
}

/// A capacity in messages per second, read as the time one message takes (at least 1ns).
pub struct Capacity;

impl Value for Capacity {
    type Out = SimTime;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<SimTime> {
        let cap = positive(number(input, r)?, r)?;
        let t = SimTime::from_secs_f64(1.0 / cap);
        if t.is_zero() {
            let issue = r
                .problem(format!(
                    "capacity {cap} is too large: one message would take less than 1ns"
                ))
                .value(cap.to_string());
            r.push(issue);
            return None;
        }
        Some(t)
    }
    fn what() -> String {
        "a number of messages per second, greater than 0".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "number", "exclusiveMinimum": 0 })
    }
    fn show(v: &SimTime) -> String {
        format!("{:?}", 1.0 / v.as_secs_f64())
    }
}

/// Segment names: none empty, none twice, at least 2.
pub struct Segments;

impl Value for Segments {
    type Out = Vec<String>;
    fn read(input: &dyn Input, r: &mut Reader<'_>) -> Option<Vec<String>> {
        let js = List::<Text>::read(input, r)?;
        let mut out: Vec<String> = Vec::new();
        let mut ok = true;
        for (j, s) in js.iter().enumerate() {
            let issue = if s.is_empty() {
                Issue::new(r.at(&j.to_string()), "must not be empty")
            } else if out.contains(s) {
                Issue::new(
                    r.at(&j.to_string()),
                    format!("segment '{s}' is listed twice"),
                )
            } else {
                out.push(s.clone());
                continue;
            };
            r.push(issue.value(s.clone()));
            ok = false;
        }
        if ok && out.len() < 2 {
            let issue = r
                .problem(format!(
                    "a network group must join at least 2 segments, got {}",
                    out.len()
                ))
                .value(format!("{js:?}"))
                .hint("e.g. joins = [\"internal\", \"main\"]".to_owned());
            r.push(issue);
            ok = false;
        }
        ok.then_some(out)
    }
    fn what() -> String {
        "a list of at least 2 segment names".to_owned()
    }
    fn schema() -> Json {
        json!({ "type": "array", "items": { "type": "string", "minLength": 1 }, "minItems": 2, "uniqueItems": true })
    }
    fn show(v: &Vec<String>) -> String {
        format!("{v:?}")
    }
}

/// `kind = "network"`: a group of devices joining segments.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkDeviceSpec {
    /// From `capacity` (messages per second per replica, required) and `queue` (default
    /// 1000): one worker whose constant service time is 1/capacity.
    pub server: ServerSpec,
    /// `joins = ["internal", "main"]`: the segments this group connects.
    pub joins: Vec<String>,
    /// `connections = { table = 20000, setup = "200us", idle_timeout = "350s" }`: a connection
    /// table per replica (`policy/conn.rs`).
    pub connections: Option<TableSpec>,
}

/// The device replica that relays a message from `me` to `dst`: None when they share a
/// segment, or when either is a device itself.
pub(crate) fn relay_device(w: &World, me: EntityId, dst: EntityId) -> Option<EntityId> {
    let is_device = |e: EntityId| {
        matches!(
            w.spec.groups[w.entities[e as usize].group].kind,
            KindSpec::Network(_)
        )
    };
    // Most messages stay in their segment: the device check only when they leave it.
    let device = w
        .device_between(me, dst)
        .filter(|_| !is_device(me) && !is_device(dst));
    device.map(|g| {
        let n = w.replicas(g) as u64;
        let r = splitmix64(((me as u64) << 32) | dst as u64) % n;
        w.first[g] + r as u32
    })
}

impl Node {
    /// A relayed message, after its worker time: sent on to `to`.
    pub(crate) fn relay_on(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        to: EntityId,
        inner: Msg,
    ) {
        // A device with a connection table looks at handshakes, closes and requests.
        let pass = match &inner {
            Msg::Conn(_) | Msg::Req(_) if table_of(self.kind(w)).is_some() => {
                self.table_relay(w, cx, to, &inner)
            }
            _ => true,
        };
        if to == self.me {
            // A firewall's own table passed a connection message (`policy/conn.rs`).
            if let (true, Msg::Conn(m)) = (pass, inner) {
                self.conn_accept(w, cx, m);
            }
            self.finish(w, cx, slot, gen_, Status::Ok, 0);
            return;
        }
        // The relay's second hop crosses links too.
        if let Some(extra) = link_check(w, cx, to).filter(|_| pass) {
            cx.send(to, SimTime(w.latency(self.me, to) + extra), inner);
        }
        self.finish(w, cx, slot, gen_, Status::Ok, 0);
    }
}
