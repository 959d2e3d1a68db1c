//! References and the checks that need every group: the one place that resolves a name
//! written in a setting to a group in a role ([`Check::group_ref`], reached by the model
//! through [`Resolve`](crate::model::settings::Resolve)), the dependency edges it records,
//! and, once every group is read, DNS names, probes, segments and dependency cycles.

use petgraph::graph::{DiGraph, NodeIndex};

use super::{Check, Path, field_in, field_of, join};
use crate::model::kinds::Kind;
use crate::model::settings::{Input, Resolve, Role, Shape, list, suggest};
use crate::model::spec::{KindSpec, Level, Target};
use crate::scenario::error::Issue;

impl<'a> Check<'a> {
    // ---- references -----------------------------------------------------------------------

    pub(super) fn names_of(&self, f: impl Fn(Kind) -> bool) -> Vec<&'a str> {
        self.names
            .iter()
            .zip(&self.kinds)
            .filter(|(_, k)| k.is_some_and(&f))
            .map(|(n, _)| *n)
            .collect()
    }

    /// Resolves a component name for a field, checking the kind it must have.
    pub(super) fn group_ref(&mut self, path: Path, name: &str, role: Role) -> Option<usize> {
        let Some(&i) = self.index.get(name) else {
            let names = self.names.clone();
            self.push(
                Issue::new(path, format!("unknown component '{name}'"))
                    .value(name)
                    .hint(suggest(name, "components", &names)),
            );
            return None;
        };
        let Some(kind) = self.kinds[i] else {
            return Some(i); // Its own problem is reported already.
        };
        let problem = match role {
            Role::Any => None,
            Role::Serve => match kind {
                Kind::Client => Some((
                    format!("'{name}' is a client: clients send requests, they do not serve them"),
                    format!(
                        "aim at a component that serves requests: {}",
                        list(&self.names_of(|k| !matches!(k, Kind::Client | Kind::Network | Kind::Monitor)))
                    ),
                )),
                Kind::Monitor => Some((
                    format!("'{name}' is a monitor: it receives reports, it does not serve requests"),
                    format!(
                        "aim at a component that serves requests: {}",
                        list(&self.names_of(|k| !matches!(k, Kind::Client | Kind::Network | Kind::Monitor)))
                    ),
                )),
                Kind::Network => Some((
                    format!("'{name}' is a network group: requests cross it on their own between segments"),
                    "aim at the component behind it; traffic between segments goes through a network group that joins them".to_owned(),
                )),
                _ => None,
            },
            Role::Dns | Role::Resolver | Role::Source | Role::Monitor | Role::Firewall => {
                let (want, noun, plural) = match role {
                    Role::Dns => (Kind::Dns, "a dns component", "dns components"),
                    Role::Resolver => (Kind::Resolver, "a resolver", "resolvers"),
                    Role::Source => (Kind::Client, "a client", "clients"),
                    Role::Monitor => (Kind::Monitor, "a monitor", "monitors"),
                    _ => (Kind::Firewall, "a firewall", "firewalls"),
                };
                (kind != want).then(|| {
                    (
                        format!("'{name}' is {}, not {noun}", kind.a()),
                        suggest(name, plural, &self.names_of(|k| k == want)),
                    )
                })
            }
            Role::Watch => (kind == Kind::Monitor).then(|| {
                (
                    format!("'{name}' is a monitor: alarms watch other groups"),
                    format!(
                        "watch a client or component group: {}",
                        list(&self.names_of(|k| k != Kind::Monitor))
                    ),
                )
            }),
            Role::Component => (kind == Kind::Client).then(|| {
                (
                    format!("'{name}' is a client: it has no replicas to act on"),
                    format!(
                        "name a component group: {}",
                        list(&self.names_of(|k| k != Kind::Client))
                    ),
                )
            }),
        };
        match problem {
            None => Some(i),
            Some((msg, hint)) => {
                self.push(Issue::new(path, msg).value(name).hint(hint));
                None
            }
        }
    }

    /// A dependency: a reference that also makes an edge of the dependency graph.
    pub(super) fn dep(&mut self, from: usize, path: Path, name: &str, role: Role) -> Option<usize> {
        let to = match self.index.get(name) {
            Some(&to) => to,
            None => return self.group_ref(path, name, role),
        };
        self.deps[from].push((to, path.clone()));
        self.group_ref(path, name, role)
    }

    // ---- pass 3 ---------------------------------------------------------------------------

    pub(super) fn check_dns_names(&mut self, built: &[Option<KindSpec>]) {
        let checks = std::mem::take(&mut self.dns_names);
        for (path, name, resolver, from) in checks {
            let Some(KindSpec::Resolver(r)) = &built[resolver] else {
                continue;
            };
            let Some(KindSpec::Dns(d)) = &built[r.dns] else {
                continue;
            };
            if let Some(rec) = d.records.iter().find(|rec| rec.name == name) {
                for &t in &rec.targets {
                    self.traffic.push((from, t, path.clone()));
                }
                continue;
            }
            let elsewhere: Vec<&str> = built
                .iter()
                .enumerate()
                .filter(|(_, k)| matches!(k, Some(KindSpec::Dns(o)) if o.records.iter().any(|rec| rec.name == name)))
                .map(|(j, _)| self.names[j])
                .collect();
            let (dns_name, res_name) = (self.names[r.dns], self.names[resolver]);
            let hint = if let Some(other) = elsewhere.first() {
                format!("'{other}' serves it, but resolver '{res_name}' asks '{dns_name}'")
            } else {
                let served: Vec<&str> = d.records.iter().map(|rec| rec.name.as_str()).collect();
                suggest(&name, &format!("names served by '{dns_name}'"), &served)
            };
            self.push(
                Issue::new(
                    path,
                    format!("no record of dns component '{dns_name}' serves '{name}'"),
                )
                .value(name.clone())
                .hint(hint),
            );
        }
    }

    pub(super) fn check_probes(&mut self, built: &[Option<KindSpec>]) {
        for (i, k) in built.iter().enumerate() {
            if let Some(KindSpec::Dns(d)) = k {
                for (j, rec) in d.records.iter().enumerate() {
                    let path = join(&join(&join(&self.base(i), "records"), j), "targets");
                    if d.health_check.is_some() {
                        for &t in &rec.targets {
                            self.traffic.push((i, t, path.clone()));
                        }
                    }
                }
            }
        }
    }

    /// A zone belongs to one region: the same zone name placed in two regions is refused
    /// (latencies are by zone and region, and regions run as parallel partitions).
    pub(super) fn check_zones(&mut self) {
        let mut seen: Vec<(String, String, usize)> = Vec::new();
        for i in 0..self.names.len() {
            let Some(placed) = self.placements[i].clone() else {
                continue;
            };
            for p in placed {
                match seen.iter().find(|(z, _, _)| *z == p.zone) {
                    Some((_, region, _)) if *region == p.region => {}
                    Some((zone, region, first)) => {
                        let issue = Issue::new(
                            self.zone_path(i),
                            format!(
                                "zone '{zone}' is in region '{}' here but in region '{region}' for '{}'",
                                p.region, self.names[*first]
                            ),
                        )
                        .value(zone.clone())
                        .hint("a zone belongs to one region: name the zones of each region apart, e.g. us-east-a and eu-west-a".to_owned());
                        self.push(issue);
                        return;
                    }
                    None => seen.push((p.zone.clone(), p.region.clone(), i)),
                }
            }
        }
    }

    /// Where group `i` names its zone(s): `zone` or `zones` as written, else its region.
    fn zone_path(&self, i: usize) -> Path {
        let c = &self.raw.components[i];
        let key = ["zone", "zones"]
            .into_iter()
            .find(|k| c.get(k).is_some())
            .unwrap_or("region");
        join(&self.base(i), key)
    }

    pub(super) fn check_segments(&mut self, built: &[Option<KindSpec>]) {
        let segment = |i: usize, s: &Self| -> Option<String> {
            s.placements[i]
                .as_ref()
                .and_then(|p| p.first())
                .map(|p| p.segment.clone())
        };
        let joiners: Vec<(usize, &Vec<String>)> = built
            .iter()
            .enumerate()
            .filter_map(|(i, k)| match k {
                Some(KindSpec::Network(n)) => Some((i, &n.joins)),
                _ => None,
            })
            .collect();
        // Segments where something other than a network group lives.
        let mut used: Vec<String> = Vec::new();
        for i in 0..self.names.len() {
            if self.kinds[i] != Some(Kind::Network)
                && let Some(s) = segment(i, self)
                && !used.contains(&s)
            {
                used.push(s);
            }
        }
        for &(i, joins) in &joiners {
            for (j, s) in joins.iter().enumerate() {
                if !used.contains(s) {
                    let known: Vec<&str> = used.iter().map(String::as_str).collect();
                    self.push(
                        Issue::new(
                            join(&join(&self.base(i), "joins"), j),
                            format!("no component is placed in segment '{s}'"),
                        )
                        .value(s.clone())
                        .hint(suggest(s, "segments in use", &known)),
                    );
                }
            }
        }
        let mut edges: Vec<(usize, usize, Path)> = Vec::new();
        for (from, deps) in self.deps.iter().enumerate() {
            for (to, path) in deps {
                edges.push((from, *to, path.clone()));
            }
        }
        edges.extend(self.traffic.iter().cloned());
        let mut seen: Vec<(usize, usize)> = Vec::new();
        for (a, b, path) in edges {
            if seen.contains(&(a, b))
                || self.kinds[a] == Some(Kind::Network)
                || self.kinds[b] == Some(Kind::Network)
            {
                continue;
            }
            seen.push((a, b));
            let (Some(sa), Some(sb)) = (segment(a, self), segment(b, self)) else {
                continue;
            };
            if sa == sb
                || joiners
                    .iter()
                    .any(|(_, j)| j.contains(&sa) && j.contains(&sb))
            {
                continue;
            }
            self.push(
                Issue::new(
                    path,
                    format!(
                        "traffic from '{}' (segment '{sa}') to '{}' (segment '{sb}') crosses segments, but no network component joins them",
                        self.names[a], self.names[b]
                    ),
                )
                .hint(format!("add a component with kind = \"network\" and joins = [\"{sa}\", \"{sb}\"], or place both in one segment")),
            );
        }
    }

    pub(super) fn check_cycles(&mut self) {
        let n = self.names.len();
        let mut g: DiGraph<usize, ()> = DiGraph::with_capacity(n, 0);
        for i in 0..n {
            g.add_node(i);
        }
        for (from, deps) in self.deps.iter().enumerate() {
            for (to, _) in deps {
                g.add_edge(NodeIndex::new(from), NodeIndex::new(*to), ());
            }
        }
        let mut sccs: Vec<Vec<usize>> = petgraph::algo::tarjan_scc(&g)
            .into_iter()
            .map(|c| {
                let mut c: Vec<usize> = c.into_iter().map(NodeIndex::index).collect();
                c.sort_unstable();
                c
            })
            .filter(|c| c.len() > 1 || self.deps[c[0]].iter().any(|(t, _)| *t == c[0]))
            .collect();
        sccs.sort();
        for scc in sccs {
            let start = scc[0];
            let Some(cycle) = self.find_cycle(start, &scc) else {
                continue;
            };
            let names: Vec<&str> = cycle.iter().map(|&i| self.names[i]).collect();
            let Some(path) = self.deps[start]
                .iter()
                .find(|(t, _)| Some(t) == cycle.get(1))
                .map(|(_, p)| p.clone())
            else {
                continue;
            };
            self.push(
                Issue::new(path, format!("dependency cycle: {}", names.join(" -> "))).hint(
                    "requests would go round forever; remove one of these dependencies".to_owned(),
                ),
            );
        }
    }

    /// A cycle `start -> ... -> start` inside `scc`, following dependencies in order.
    pub(super) fn find_cycle(&self, start: usize, scc: &[usize]) -> Option<Vec<usize>> {
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        let mut visited = vec![false; self.names.len()];
        visited[start] = true;
        while let Some(&(node, next)) = stack.last() {
            let Some((to, _)) = self.deps[node].get(next) else {
                stack.pop();
                continue;
            };
            let to = *to;
            if let Some(top) = stack.last_mut() {
                top.1 += 1;
            }
            if to == start {
                let mut cycle: Vec<usize> = stack.iter().map(|(n, _)| *n).collect();
                cycle.push(start);
                return Some(cycle);
            }
            if scc.contains(&to) && !visited[to] {
                visited[to] = true;
                stack.push((to, 0));
            }
        }
        None
    }
}

impl Resolve for Check<'_> {
    fn issues(&mut self) -> &mut Vec<Issue> {
        &mut self.issues
    }

    fn group(&mut self, from: Option<usize>, path: Path, name: &str, role: Role) -> Option<usize> {
        match from {
            Some(from) => self.dep(from, path, name, role),
            None => self.group_ref(path, name, role),
        }
    }

    fn target(
        &mut self,
        from: usize,
        base: &[String],
        target: Option<&str>,
        resolver: Option<&str>,
    ) -> Option<Target> {
        let tpath = join(base, "target");
        let Some(name) = target else {
            self.missing(
                tpath,
                "add target = \"<component>\" or a DNS name with resolver = \"<resolver>\"",
            );
            return None;
        };
        if self.index.contains_key(name) {
            if resolver.is_some() {
                self.push(
                    Issue::new(
                        join(base, "resolver"),
                        format!("'resolver' is only used with a DNS name target, and '{name}' is a component"),
                    )
                    .hint("remove 'resolver', or aim at a DNS name served by a dns component".to_owned())
                    .at_key(),
                );
            }
            return self.dep(from, tpath, name, Role::Serve).map(Target::Group);
        }
        if resolver.is_none() && !name.contains('.') {
            // Not a DNS name: a misspelt component.
            let names = self.names.clone();
            self.push(
                Issue::new(tpath, format!("unknown component '{name}'"))
                    .value(name)
                    .hint(suggest(name, "components", &names)),
            );
            return None;
        }
        let resolver = match resolver {
            Some(r) => self.dep(from, join(base, "resolver"), r, Role::Resolver)?,
            None => {
                let resolvers: Vec<usize> = (0..self.names.len())
                    .filter(|&i| self.kinds[i] == Some(Kind::Resolver))
                    .collect();
                match resolvers.as_slice() {
                    [r] => {
                        self.deps[from].push((*r, tpath.clone()));
                        *r
                    }
                    [] => {
                        let names = self.names.clone();
                        self.push(
                            Issue::new(
                                tpath,
                                format!("'{name}' is not a component, and there is no resolver to look it up as a DNS name"),
                            )
                            .value(name)
                            .hint(format!(
                                "aim at a component ({}), or add a resolver and a dns component serving '{name}'",
                                list(&names)
                            )),
                        );
                        return None;
                    }
                    several => {
                        let names: Vec<&str> = several.iter().map(|&r| self.names[r]).collect();
                        self.push(
                            Issue::new(
                                join(base, "resolver"),
                                format!(
                                    "DNS name '{name}' needs a resolver, and there are several"
                                ),
                            )
                            .hint(format!("add resolver = one of: {}", list(&names))),
                        );
                        return None;
                    }
                }
            }
        };
        self.dns_names
            .push((tpath, name.to_owned(), resolver, from));
        Some(Target::Dns {
            name: name.to_owned(),
            resolver,
        })
    }

    fn kind(&self, i: usize) -> Option<Kind> {
        self.kinds.get(i).copied().flatten()
    }

    fn traffic(&mut self, from: usize, to: usize, path: Path) {
        self.traffic.push((from, to, path));
    }

    fn names(&self) -> Vec<&str> {
        self.names.clone()
    }

    fn gossips(&self, i: usize) -> Option<bool> {
        self.gossip[i].as_ref().map(Option::is_some)
    }

    fn needs_gossip(&mut self, path: Path, i: usize, what: &str) -> bool {
        Check::needs_gossip(self, path, i, what)
    }

    fn standby(&self, i: usize) -> Option<u32> {
        self.kinds[i]?;
        self.placements[i].as_ref()?;
        Some(self.standby[i])
    }

    fn records(&self, i: usize) -> Vec<(Option<String>, Vec<String>)> {
        let text = |v: &dyn Input| match v.shape() {
            Shape::Str(s) => Some(s.to_owned()),
            _ => None,
        };
        let records = field_of(self.raw.components[i].item.as_ref(), &["records"]);
        let Some(Shape::Array(records)) = records.map(Input::shape) else {
            return Vec::new();
        };
        let record = |r: &dyn Input| {
            let name = field_in(r, &["name"]).and_then(text);
            let targets = match field_in(r, &["targets"]).map(Input::shape) {
                Some(Shape::Array(t)) => t.into_iter().filter_map(text).collect(),
                _ => Vec::new(),
            };
            (name, targets)
        };
        records.into_iter().map(record).collect()
    }

    fn faults(&self) -> &[Option<(String, String)>] {
        &self.fault_names
    }

    fn alarms(&self) -> &[Option<String>] {
        &self.alarm_names
    }

    fn replicas(&self, i: usize) -> Option<(u32, u32)> {
        let placed = self.placements.get(i)?.as_ref()?;
        Some((placed.len() as u32, self.standby[i]))
    }

    fn name(&self, i: usize) -> String {
        self.names[i].to_owned()
    }

    fn domains(&self, level: Level) -> Vec<String> {
        let mut known: Vec<String> = Vec::new();
        for p in self.placements.iter().flatten().flatten() {
            let x = match level {
                Level::Zone => &p.zone,
                Level::Region => &p.region,
                Level::Segment => &p.segment,
            };
            if !known.contains(x) {
                known.push(x.clone());
            }
        }
        known
    }

    fn closed_loop(&self, i: usize) -> bool {
        let c = self.raw.components.get_index(i).map(|(_, c)| c);
        c.is_some_and(|c| c.get("concurrency").is_some())
    }

    fn config_change(
        &mut self,
        fault: usize,
        target: Option<usize>,
    ) -> Option<(KindSpec, Vec<(String, String)>)> {
        self.config_set(fault, target)
    }
}
