//! `kind = "cache"`: answers a `hit_ratio` share of reads itself while its content is fresh
//! (within `ttl` of the last right answer from its `backend`); misses, writes and stale hits go
//! to the backend, and with `serve_stale` a stale hit whose refresh fails is answered from the
//! stale copy (degraded). A restart leaves it cold: every read a miss until a right answer.
//!
//! That warming is all at once: one right answer makes the whole content fresh again. With
//! `keys = K`, the content is per item instead: a read's item is one of K (its key hash mapped
//! onto them), it hits only if that item was filled by a right backend answer within `ttl`,
//! and every right answer to a read fills its item. A restart empties every item, so the cache
//! warms by its misses: with uniform keys, after n reads the expected share of items filled is
//! 1 - (1 - 1/K)^n, and the hit ratio is `hit_ratio` times that. The run starts warm, each
//! item's expiry spread over the first `ttl` (a steady state, not a wave of expiries).

use crate::engine::SimTime;
use crate::engine::rng::unit_f64;
use crate::model::msg::{Req, Status};
use crate::model::node::{Cx, Node, Outcome};
use crate::model::settings::{Count, Fraction, Opt, PosDuration, Role, Switch, Text};
use crate::model::spec::{KindSpec, ServerSpec};
use crate::model::world::World;
use crate::settings;

use super::{Build, KindSettings};

settings! {
    /// `kind = "cache"`: answers a share of reads itself while its content is fresh.
    pub struct CacheSettings "cache" {
        /// The component behind the cache.
        backend: Text => "add backend = \"<the component behind the cache>\"",
        /// Share of reads answered from the cache.
        hit_ratio: Fraction => "add hit_ratio = <share of requests answered from the cache>, e.g. 0.9",
        /// Content stays fresh this long after the replica's last successful backend answer.
        ttl: PosDuration = SimTime::from_mins(5),
        /// Answer stale content (degraded) when the backend fails or the content is past its TTL.
        serve_stale: Switch = false,
        /// Timeout of each backend request.
        timeout: PosDuration = SimTime::from_secs(30),
        /// The items read, uniformly (at most 1000000): each is cached on its own, filled by a right backend answer and fresh for `ttl`, so a restarted cache warms by its misses; none: the content is one whole, warmed by any right answer.
        keys: Opt<Count<1, 1_000_000>> = None,
    }
}

impl KindSettings for CacheSettings {
    fn build(self, b: &mut Build<'_>, server: ServerSpec) -> Option<KindSpec> {
        Some(KindSpec::Cache(CacheSpec {
            server,
            backend: b.dep("backend", Role::Serve)?,
            hit_ratio: self.hit_ratio,
            ttl: self.ttl,
            serve_stale: self.serve_stale,
            timeout: self.timeout,
            keys: self.keys,
        }))
    }
}

/// Resolves the backend when the other settings have problems.
pub(super) fn refs(b: &mut Build<'_>) {
    b.dep("backend", Role::Serve);
}

/// `kind = "cache"`.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheSpec {
    pub server: ServerSpec,
    /// `backend`.
    pub backend: usize,
    /// `hit_ratio` (required).
    pub hit_ratio: f64,
    /// `ttl`: cached content stays fresh this long after the replica's last successful backend
    /// answer (default "5m"). Past it, a hit counts as stale.
    pub ttl: SimTime,
    /// `serve_stale`: answer stale content (a degraded success) when the backend fails or the
    /// content is past its TTL (default false).
    pub serve_stale: bool,
    /// `timeout` for the backend (default "30s").
    pub timeout: SimTime,
    /// `keys`: the number of items, each cached on its own (None: the content is one whole).
    pub keys: Option<u32>,
}

/// The item (0..k) a key hash maps onto.
#[inline]
fn item_of(key: u32, k: u32) -> usize {
    ((u64::from(key) * u64::from(k)) >> 32) as usize
}

impl Node {
    /// Per-item content for a cache with `keys`: warm, item i expiring at (i + 1) x ttl / K
    /// (at least 1 ns: 0 marks an empty item).
    pub(crate) fn init_cache(&mut self, c: &CacheSpec) {
        if let Some(k) = c.keys {
            let (k, ttl) = (u64::from(k), c.ttl.0);
            self.cache_items = (0..k)
                .map(|i| ((u128::from(ttl) * u128::from(i + 1) / u128::from(k)) as u64).max(1))
                .collect();
        }
    }

    /// A restart empties the cache: cold as a whole, or item by item.
    pub(crate) fn cache_restart(&mut self) {
        self.cache_last_ok = None;
        self.cache_items.iter_mut().for_each(|e| *e = 0);
    }

    /// A request, after its service time. Writes go to the backend; a hit on fresh content is
    /// answered here; a hit on content past its TTL asks the backend and falls back to the
    /// stale copy.
    pub(crate) fn cache_serve(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        c: &CacheSpec,
        req: &Req,
    ) {
        let now = cx.now().0;
        if !req.item.write && unit_f64(cx.rng()) < c.hit_ratio {
            // Fresh, stale, or (None) cold: per item with `keys` (its expiry, 0 while
            // empty), else the whole content's.
            let fresh = match c.keys {
                Some(k) => match self.cache_items.get(item_of(req.item.key, k)) {
                    Some(&e) if e > 0 => Some(now <= e),
                    _ => None,
                },
                None => self.cache_last_ok.map(|t| now.saturating_sub(t) <= c.ttl.0),
            };
            match fresh {
                Some(true) => {
                    return self.finish(w, cx, slot, gen_, Status::Ok, 0);
                }
                Some(false) => {
                    if let Some(job) = self.jobs.get_mut(slot, gen_) {
                        job.stale_hit = true;
                    }
                }
                None => {} // cold after a restart: a miss
            }
        }
        self.cache_forward(w, cx, slot, gen_, 1, c);
    }

    /// Asks the backend.
    pub(crate) fn cache_forward(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        attempt: u32,
        c: &CacheSpec,
    ) {
        self.forward(w, cx, slot, gen_, attempt, c.backend, c.timeout, None);
    }

    /// The backend answered (or not).
    pub(crate) fn cache_result(
        &mut self,
        w: &World,
        cx: &mut Cx,
        slot: u32,
        gen_: u32,
        c: &CacheSpec,
        out: Outcome,
    ) {
        let now = cx.now().0;
        let stale_hit = self.jobs.get_mut(slot, gen_).is_some_and(|j| j.stale_hit);
        if out == Outcome::Ok {
            // Only a right answer refreshes the cached content (with `keys`: a read's item).
            self.cache_last_ok = Some(now);
            if let Some(k) = c.keys {
                let read = self.jobs.get_mut(slot, gen_).and_then(|j| j.req);
                if let Some(req) = read.filter(|r| !r.item.write) {
                    if let Some(e) = self.cache_items.get_mut(item_of(req.item.key, k)) {
                        *e = now.saturating_add(c.ttl.0).max(1);
                    }
                }
            }
            self.finish(w, cx, slot, gen_, Status::Ok, 0);
        } else if out == Outcome::Wrong {
            // Wrong content passes through, and is not taken as a refresh.
            self.finish(w, cx, slot, gen_, Status::Wrong, 0);
        } else if out == Outcome::Degraded || (stale_hit && c.serve_stale) {
            // A degraded answer passes through; a failed refresh of a stale hit falls
            // back to the stale copy.
            self.finish(w, cx, slot, gen_, Status::Degraded, 0);
        } else {
            self.finish(w, cx, slot, gen_, Status::Error, 0);
        }
    }
}
