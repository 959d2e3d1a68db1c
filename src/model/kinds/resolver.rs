//! `kind = "resolver"`: a caching DNS resolver. A lookup is answered from the cache while the
//! record's TTL lasts, else asked of the authoritative `dns` group; a right answer is cached
//! for the record's TTL, an empty one for `negative_ttl` (negative caching; none: the record's
//! TTL). A restart empties the cache.
//!
//! With `client_cache`, its callers keep each non-empty answer they get from it for the
//! record's TTL (or `client_ttl`), like a stub resolver's or a runtime's DNS cache: a call
//! whose name has a kept answer skips the lookup (`kinds/dns.rs`, `kept_answer`). The answer
//! is kept for the whole TTL from when the caller got it (the remaining TTL of a resolver's
//! cached copy is not passed on).

use crate::engine::SimTime;
use crate::model::msg::{Req, ReqKind, Status};
use crate::model::node::{Cx, Node, Outcome, Owner};
use crate::model::settings::{
    Duration, Input, Issue, Opt, PosDuration, Reader, Role, Switch, Text,
};
use crate::model::spec::{KindSpec, ServerSpec, Target};
use crate::model::world::World;
use crate::settings;

use super::{Build, KindSettings};

settings! {
    /// `kind = "resolver"`: a caching DNS resolver.
    pub struct ResolverSettings "resolver" check ResolverSettings::check_client {
        /// The authoritative `dns` group it asks.
        dns: Text => "add dns = \"<the dns component it asks>\"",
        /// Timeout of a query to the authoritative DNS.
        timeout: PosDuration = SimTime::from_secs(2),
        /// How long an empty answer is cached (negative caching; none: the record's TTL).
        negative_ttl: Opt<Duration> = None,
        /// Its callers keep each non-empty answer for the record's TTL (or `client_ttl`) and skip the lookup meanwhile; off: every call looks its name up.
        client_cache: Switch = false,
        /// With `client_cache`: how long callers keep an answer (none: the record's TTL).
        client_ttl: Opt<PosDuration> = None,
    }
}

impl ResolverSettings {
    /// `client_ttl` only with `client_cache`.
    fn check_client(&self, _: &[(&str, &dyn Input)], r: &mut Reader<'_>) -> bool {
        if self.client_ttl.is_none() || self.client_cache {
            return true;
        }
        let issue = Issue::new(
            r.at("client_ttl"),
            "'client_ttl' applies only with client_cache = true",
        )
        .hint("add client_cache = true to let callers keep answers".to_owned())
        .at_key();
        r.push(issue);
        false
    }
}

impl KindSettings for ResolverSettings {
    fn build(self, b: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec> {
        Some(KindSpec::Resolver(ResolverSpec {
            server,
            dns: b.dep("dns", Role::Dns)?,
            timeout: self.timeout,
            negative_ttl: self.negative_ttl,
            client_cache: self.client_cache.then_some(self.client_ttl),
        }))
    }
}

/// Resolves the dns group when the other settings have problems.
pub(super) fn refs(b: &mut Build<'_>) {
    b.dep("dns", Role::Dns);
}

/// `kind = "resolver"`: a caching DNS resolver.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolverSpec {
    pub server: ServerSpec,
    /// `dns`: the authoritative `dns` group it queries.
    pub dns: usize,
    /// `timeout` for a query to the authoritative DNS (default "2s").
    pub timeout: SimTime,
    /// `negative_ttl`: how long an empty answer is cached (None: the record's TTL).
    pub negative_ttl: Option<SimTime>,
    /// `client_cache` with `client_ttl`: None, callers keep no answers; Some(None), they keep
    /// each for the record's TTL; Some(Some(t)), for t.
    pub client_cache: Option<Option<SimTime>>,
}

impl Node {
    /// An empty cache, one entry per record of the scenario.
    pub(crate) fn init_resolver(&mut self, w: &World) {
        self.resolver_cache = vec![None; w.records.len()];
    }

    /// A lookup, after its service time: answered from the cache, or asked of the
    /// authoritative DNS (the worker is freed while it waits).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn resolver_lookup(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        r: &ResolverSpec,
        req: &Req,
        record: u32,
    ) {
        let now = cx.now().0;
        if let Some((answer, _)) =
            self.resolver_cache[record as usize].filter(|&(_, expires)| expires > now)
        {
            self.finish(w, cx, slot, gen_, Status::Ok, answer);
        } else {
            let (dns_group, _) = w.records[record as usize];
            self.detach(w, cx, slot, gen_);
            let owner = Owner::Job {
                slot,
                gen_,
                call: 0,
            };
            let t = Target::Group(dns_group);
            self.call_out(
                w,
                cx,
                owner,
                &t,
                req.kind,
                req.source,
                req.item,
                r.timeout.0,
                1,
            );
        }
    }

    /// The authoritative DNS answered (or not): a right answer is cached and passed on.
    pub(crate) fn resolver_result(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        out: Outcome,
        data: u32,
    ) {
        let now = cx.now().0;
        let record = match self.jobs.get_mut(slot, gen_).and_then(|j| j.req) {
            Some(Req {
                kind: ReqKind::Lookup { record },
                ..
            }) => record,
            _ => return self.finish(w, cx, slot, gen_, Status::Error, 0),
        };
        if out == Outcome::Ok {
            let (g, idx) = w.records[record as usize];
            let ttl = match (&w.spec.groups[g].kind, data, self.kind(w)) {
                (
                    _,
                    0,
                    KindSpec::Resolver(ResolverSpec {
                        negative_ttl: Some(n),
                        ..
                    }),
                ) => n.0,
                (KindSpec::Dns(d), _, _) => d.records[idx].ttl.0,
                _ => 0,
            };
            self.resolver_cache[record as usize] = Some((data, now.saturating_add(ttl)));
            self.finish(w, cx, slot, gen_, Status::Ok, data);
        } else {
            self.finish(w, cx, slot, gen_, Status::Error, 0);
        }
    }
}
