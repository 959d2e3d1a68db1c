//! Placement: how many replicas a group has and where they run (`replicas`, `standby`,
//! `region`, `zone` or `zones`, `segment`), and its membership `gossip`, declared once for
//! every kind.

use crate::model::kinds::Kind;
use crate::model::settings::{
    Count, Input, Issue, List, Name, Opt, Reader, Shape, Table, read_table,
};
use crate::model::spec::{GossipSpec, Placement};
use crate::settings;

/// At most this many replicas in one group (a guard against typos that would exhaust memory).
pub const MAX_REPLICAS: u32 = 100_000;

settings! {
    /// How many replicas a group has and where they run (a client: `region`, `zone`, `zones` and `segment` only; a monitor: exactly one replica, no standby).
    pub struct PlacementSettings "placement" check PlacementSettings::check_written {
        /// Replicas serving from the start.
        replicas: Count<1, MAX_REPLICAS> = 1,
        /// The region its replicas run in.
        region: Name = "default".to_owned(),
        /// The one zone of every replica (none: the region's name followed by "-a"); not with `zones`.
        zone: Opt<Name> = None,
        /// Zones the replicas are spread over, round-robin (standby replicas included).
        zones: Opt<List<Name>> = None,
        /// The network segment it is in; traffic between segments crosses a `network` group.
        segment: Name = "main".to_owned(),
        /// Extra replicas held in reserve for `scale` actions, placed after the others.
        standby: Count<0, MAX_REPLICAS> = 0,
    }
}

impl PlacementSettings {
    fn check_written(&self, _: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> bool {
        let mut ok = true;
        match &self.zones {
            Some(_) if self.zone.is_some() => {
                let issue = Issue::new(r.at("zones"), "set either 'zone' or 'zones', not both")
                    .hint("'zones' spreads replicas round-robin over a list; 'zone' puts them all in one".to_owned())
                    .at_key();
                r.push(issue);
                ok = false;
            }
            Some(zs) if zs.is_empty() => {
                let issue = Issue::new(r.at("zones"), "must list at least one zone").hint(
                    "e.g. zones = [\"us-east-a\", \"us-east-b\"], or leave it out".to_owned(),
                );
                r.push(issue);
                ok = false;
            }
            _ => {}
        }
        let (n, s) = (self.replicas, self.standby);
        if n + s > MAX_REPLICAS {
            let issue = Issue::new(
                r.at("standby"),
                format!(
                    "replicas and standby together must be at most {MAX_REPLICAS}, got {n} + {s}"
                ),
            )
            .value(s.to_string());
            r.push(issue);
            ok = false;
        }
        ok
    }

    /// One placement per replica, standby replicas last (zones round-robin over them all).
    fn placements(self) -> Vec<Placement> {
        let zones = match (self.zone, self.zones) {
            (Some(z), _) => vec![z],
            (None, Some(zs)) => zs,
            (None, None) => vec![format!("{}-a", self.region)],
        };
        (0..(self.replicas + self.standby) as usize)
            .map(|r| Placement {
                region: self.region.clone(),
                zone: zones[r % zones.len()].clone(),
                segment: self.segment.clone(),
            })
            .collect()
    }
}

/// The placement of a group of kind `kind` from its table's `entries` (other keys are left to
/// the caller): one placement per replica, and how many of them are standby.
pub fn read(
    kind: Kind,
    entries: &[(&str, &dyn Input)],
    r: &mut Reader<'_>,
) -> Option<(Vec<Placement>, u32)> {
    let mut ok = true;
    let mut kept = Vec::with_capacity(entries.len());
    for &(key, input) in entries {
        match (kind, key) {
            // Reported as fields that do not apply.
            (Kind::Client, "replicas" | "standby") | (Kind::Monitor, "standby") => {}
            (Kind::Monitor, "replicas") => ok &= r.field(key, |r| one_replica(input, r)),
            (Kind::Network, "standby") if matches!(input.shape(), Shape::Int(n) if n > 0) => {
                let issue = Issue::new(r.at(key), "network devices cannot be on standby")
                    .value(input.shape().written().unwrap_or_default())
                    .hint("senders spread their flows over the group's devices when they send; give the group more replicas instead".to_owned());
                r.push(issue);
                ok = false;
            }
            _ => kept.push((key, input)),
        }
    }
    let settings = PlacementSettings::read_fields(&kept, r)?;
    if !(settings.check(&kept, r) && ok) {
        return None;
    }
    let standby = settings.standby;
    Some((settings.placements(), standby))
}

/// A monitor's `replicas`: exactly 1.
fn one_replica(input: &dyn Input, r: &mut Reader<'_>) -> bool {
    match input.shape() {
        Shape::Int(1) => true,
        Shape::Int(n) => {
            let issue = r
                .problem(format!("a monitor has exactly one replica, got {n}"))
                .value(n.to_string())
                .hint("declare a second monitor group to make monitoring redundant".to_owned());
            r.push(issue);
            false
        }
        other => r.wrong_type::<()>("a whole number", &other).is_some(),
    }
}

/// `gossip` (`input` as written): on by default for storage, off for other kinds, never on
/// clients and monitors (reported as a field that does not apply).
pub fn gossip(
    kind: Kind,
    input: Option<&dyn Input>,
    r: &mut Reader<'_>,
) -> Option<Option<GossipSpec>> {
    if matches!(kind, Kind::Client | Kind::Monitor) {
        return Some(None);
    }
    let Some(input) = input else {
        return Some((kind == Kind::Storage).then(GossipSpec::defaults));
    };
    r.field("gossip", |r| match input.shape() {
        Shape::Bool(on) => Some(on.then(GossipSpec::defaults)),
        Shape::Table(_) => read_table::<GossipSpec>(input, r).map(Some),
        other => r.wrong_type(
            r#"true, false or a table such as { interval = "1s", fanout = 1 }"#,
            &other,
        ),
    })
}
