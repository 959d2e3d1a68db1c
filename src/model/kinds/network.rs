//! `kind = "network"`: devices joining network segments. A message between entities of
//! different segments is relayed by a replica of the group joining them (chosen by a hash of
//! sender and receiver, so one flow always takes the same device); relaying takes the device's
//! worker time, so a congested device delays or drops what crosses it.

use crate::engine::rng::splitmix64;
use crate::engine::{EntityId, SimTime};
use crate::model::msg::{Msg, Status};
use crate::model::node::{Cx, Node, link_check};
use crate::model::spec::{KindSpec, ServerSpec};
use crate::model::world::World;

/// `kind = "network"`: a group of devices joining segments.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkDeviceSpec {
    /// From `capacity` (messages per second per replica, required) and `queue` (default
    /// 1000): one worker whose constant service time is 1/capacity.
    pub server: ServerSpec,
    /// `joins = ["internal", "main"]`: the segments this group connects.
    pub joins: Vec<String>,
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
    let device = if is_device(me) || is_device(dst) {
        None
    } else {
        w.device_between(me, dst)
    };
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
        // The relay's second hop crosses links too.
        if let Some(extra) = link_check(w, cx, to) {
            cx.send(to, SimTime(w.latency(self.me, to) + extra), inner);
        }
        self.finish(w, cx, slot, gen_, Status::Ok, 0);
    }
}
