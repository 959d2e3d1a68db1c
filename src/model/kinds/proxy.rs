//! `kind = "proxy"` and `kind = "cdn"` (alike but for the name in reports): a forwarding tier
//! that answers a `hit_ratio` share of reads from its own cache and passes the rest on to its
//! `upstream`, retrying failures within its retry policy and budget.

use crate::engine::SimTime;
use crate::engine::rng::unit_f64;
use crate::model::msg::{Req, Status};
use crate::model::node::{Cx, Node};
use crate::model::policy::concurrency::ConcurrencySpec;
use crate::model::policy::rate_limit::RateLimitSpec;
use crate::model::settings::{Fraction, Nested, Opt, PosDuration, Role, Text};
use crate::model::spec::{KindSpec, RetrySpec, ServerSpec};
use crate::model::world::World;
use crate::settings;

use super::{Build, Kind, KindSettings};

settings! {
    /// `kind = "proxy"` or `kind = "cdn"`: a forwarding tier, optionally caching.
    pub struct ProxySettings "proxy" {
        /// The component it forwards to.
        upstream: Text => "add upstream = \"<the component it forwards to>\"",
        /// Share of reads answered from its own cache.
        hit_ratio: Fraction = 0.0,
        /// Timeout of each upstream attempt.
        timeout: PosDuration = SimTime::from_secs(30),
        /// How failed upstream attempts are retried.
        retry: Nested<RetrySpec> = RetrySpec::once(),
        /// A token-bucket limit on the work it admits (none: no limit).
        rate_limit: Opt<Nested<RateLimitSpec>> = None,
        /// A cap on each replica's calls in flight to its upstream, fixed or adaptive (none: no cap).
        concurrency_limit: Opt<Nested<ConcurrencySpec>> = None,
    }
}

impl KindSettings for ProxySettings {
    fn build(self, b: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec> {
        let cdn = b.resolve.kind(b.group) == Some(Kind::Cdn);
        let spec = ProxySpec {
            server,
            upstream: b.dep("upstream", Role::Serve)?,
            hit_ratio: self.hit_ratio,
            timeout: self.timeout,
            retry: self.retry,
            rate_limit: self.rate_limit,
            concurrency_limit: self.concurrency_limit,
        };
        Some(KindSpec::Proxy(spec, cdn))
    }
}

/// Resolves the upstream when the other settings have problems.
pub(super) fn refs(b: &mut Build<'_>) {
    b.dep("upstream", Role::Serve);
}

/// `kind = "proxy"` or `kind = "cdn"`: a forwarding tier, optionally caching.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxySpec {
    pub server: ServerSpec,
    /// `upstream`.
    pub upstream: usize,
    /// `hit_ratio`: share of requests answered from the proxy's cache (default 0).
    pub hit_ratio: f64,
    /// `timeout` for the upstream (default "30s").
    pub timeout: SimTime,
    pub retry: RetrySpec,
    /// `rate_limit` (`policy/rate_limit.rs`).
    pub rate_limit: Option<RateLimitSpec>,
    /// `concurrency_limit` (`policy/concurrency.rs`).
    pub concurrency_limit: Option<ConcurrencySpec>,
}

impl Node {
    /// A request, after its service time: a cache hit is answered here, the rest go upstream.
    pub(crate) fn proxy_serve(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        p: &ProxySpec,
        req: &Req,
    ) {
        if !req.item.write && p.hit_ratio > 0.0 && unit_f64(cx.rng()) < p.hit_ratio {
            self.finish(w, cx, slot, gen_, Status::Ok, 0);
        } else {
            self.proxy_forward(w, cx, slot, gen_, 1, p);
        }
    }

    /// Attempt `attempt` at the upstream.
    pub(crate) fn proxy_forward(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        attempt: u32,
        p: &ProxySpec,
    ) {
        self.forward(
            w,
            cx,
            slot,
            gen_,
            attempt,
            p.upstream,
            p.timeout,
            Some(&p.retry),
        );
    }
}
