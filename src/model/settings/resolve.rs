//! References by name: the one place that turns a component name written in a setting into a
//! group index, checking that the group can play the role the setting gives it.
//!
//! The model declares what each reference must be ([`Role`]); the scenario layer implements
//! [`Resolve`] over the whole file (it knows every name and kind, records dependency edges for
//! the cycle check, and places problems).

use super::Issue;
use crate::model::kinds::Kind;
use crate::model::spec::{KindSpec, Level, Target};

/// What a referenced component must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Something that serves requests: any kind but client, network and monitor.
    Serve,
    /// A `monitor` component.
    Monitor,
    /// A `firewall` component.
    Firewall,
    /// A group an alarm may watch: any kind but monitor.
    Watch,
    /// A group with replicas to act on: any kind but client.
    Component,
    /// A `dns` component.
    Dns,
    /// A `resolver` component.
    Resolver,
    /// A `client` component (a traffic source).
    Source,
    /// Any component.
    Any,
}

/// Resolves names written in settings; every problem is recorded, and `None` returned.
pub trait Resolve {
    /// Where problems go.
    fn issues(&mut self) -> &mut Vec<Issue>;

    /// The group named `name` (written at `path`), which must suit `role`. With `from`, the
    /// reference is also a dependency of group `from` (an edge of the dependency graph).
    fn group(
        &mut self,
        from: Option<usize>,
        path: Vec<String>,
        name: &str,
        role: Role,
    ) -> Option<usize>;

    /// A client's or a call's `target` (a component or a DNS name) with its `resolver`, both
    /// in the table at `base`; a dependency of group `from`.
    fn target(
        &mut self,
        from: usize,
        base: &[String],
        target: Option<&str>,
        resolver: Option<&str>,
    ) -> Option<Target>;

    /// The kind of group `i`, once read (None while it has problems).
    fn kind(&self, i: usize) -> Option<Kind>;

    /// Records traffic from group `from` to group `to` that is not a dependency (probes,
    /// reports), for the segment check.
    fn traffic(&mut self, from: usize, to: usize, path: Vec<String>);

    /// The names of the groups, in file order.
    fn names(&self) -> Vec<&str>;

    /// Whether group `i` gossips (None while its gossip has problems).
    fn gossips(&self, i: usize) -> Option<bool>;

    /// The `level` domains some group is placed in, in file order.
    fn domains(&self, level: Level) -> Vec<String>;

    /// Whether group `i` is a client with a `concurrency` (a closed loop).
    fn closed_loop(&self, i: usize) -> bool;

    /// Whether group `i` gossips; if not, reports it at `path` (`what` the fault or action
    /// would do to its gossip).
    fn needs_gossip(&mut self, path: Vec<String>, i: usize, what: &str) -> bool;

    /// Group `i`'s standby replicas (None while its kind or placement has problems).
    fn standby(&self, i: usize) -> Option<u32>;

    /// The records a dns group serves, in order: each one's name and targets as written.
    fn records(&self, i: usize) -> Vec<(Option<String>, Vec<String>)>;

    /// Per fault: its name and `kind` as written (None when it cannot be read).
    fn faults(&self) -> &[Option<(String, String)>];

    /// Per alarm: its name (None when it cannot be read).
    fn alarms(&self) -> &[Option<String>];

    /// Group `i`'s replicas, standby ones included, and how many of them are standby (None
    /// while its placement has problems).
    fn replicas(&self, i: usize) -> Option<(u32, u32)>;

    /// Group `i`'s name.
    fn name(&self, i: usize) -> String;

    /// Config change `fault`'s `set` applied to group `target`: the group's settings after it,
    /// read like the group itself, and the settings as written (`path`, `value`).
    fn config_change(
        &mut self,
        fault: usize,
        target: Option<usize>,
    ) -> Option<(KindSpec, Vec<(String, String)>)>;
}
