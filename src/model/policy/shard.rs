//! Cells and shuffle sharding: which backends of a load balancer serve which tenant.
//!
//! A tenant is a client group: every request carries the group it originates from. With
//! `cells = m`, a load balancer's backends are split into m cells of consecutive replicas (as
//! even as the count allows) and client groups take cells in file order, round robin. With
//! `shuffle_shard = k`, each client group gets its own k backends, drawn once, without
//! replacement, from a hash of the load balancer's and the client group's names: the
//! assignment is part of the deployment, not of the run, so it does not change with the seed,
//! and adding a client group does not move the others.
//!
//! What this buys is the blast radius of a tenant's bad traffic. Requests that crash the
//! replicas serving them (a `poison` fault) take down every backend without sharding, one cell
//! with cells, and only the tenant's own k backends with shuffle sharding. Another tenant then
//! loses everything only if its shard is the same k backends: a share 1 / C(n, k) of tenants.

use crate::engine::rng::splitmix64;

/// How a load balancer divides its backends among tenants (`cells`, `shuffle_shard`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Sharding {
    /// Every backend serves every tenant.
    #[default]
    None,
    /// `cells = m`: m cells of consecutive replicas; tenants take cells round robin.
    Cells(u32),
    /// `shuffle_shard = k`: each tenant has its own k backends.
    Shuffle(u32),
}

/// 64-bit FNV-1a of a name (stable across platforms and releases).
fn fnv(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The backends (replica indices, ascending) of cell `cell` of `cells` over `n` backends:
/// replicas `[cell n / cells, (cell + 1) n / cells)`.
pub fn cell(cell: u32, cells: u32, n: u32) -> Vec<u32> {
    let (lo, hi) = (
        (u64::from(cell) * u64::from(n) / u64::from(cells)) as u32,
        (u64::from(cell + 1) * u64::from(n) / u64::from(cells)) as u32,
    );
    (lo..hi).collect()
}

/// The shuffle shard of client group `tenant` on load balancer `lb`: `k` distinct replica
/// indices out of `n`, ascending, every k-subset equally likely (Floyd's sampling driven by
/// SplitMix64 from the two names).
pub fn shuffle(lb: &str, tenant: &str, n: u32, k: u32) -> Vec<u32> {
    let k = k.min(n);
    let mut state = splitmix64(fnv(lb) ^ fnv(tenant).rotate_left(29));
    let mut out: Vec<u32> = Vec::with_capacity(k as usize);
    for j in n - k..n {
        state = splitmix64(state);
        // Uniform in [0, j] without modulo bias worth the name (j < 2^32, 64 random bits).
        let t = ((u128::from(state) * (u128::from(j) + 1)) >> 64) as u32;
        let pick = if out.contains(&t) { j } else { t };
        out.push(pick);
    }
    out.sort_unstable();
    out
}

impl Sharding {
    /// The backends (of `n`) that serve client group `tenant`, the `rank`-th client group in
    /// file order, on load balancer `lb`; `None` when every backend does.
    pub fn backends(self, lb: &str, tenant: &str, rank: u32, n: u32) -> Option<Vec<u32>> {
        match self {
            Sharding::None => None,
            Sharding::Cells(m) => Some(cell(rank % m, m, n)),
            Sharding::Shuffle(k) => Some(shuffle(lb, tenant, n, k)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choose(n: u64, k: u64) -> u64 {
        (0..k).fold(1, |c, i| c * (n - i) / (i + 1))
    }

    #[test]
    fn cells_split_the_backends_evenly_and_completely() {
        for (m, n) in [(1, 5), (2, 6), (3, 10), (4, 4), (7, 20)] {
            let all: Vec<u32> = (0..m).flat_map(|c| cell(c, m, n)).collect();
            assert_eq!(all, (0..n).collect::<Vec<_>>(), "cells {m} of {n}");
            for c in 0..m {
                let len = cell(c, m, n).len() as u32;
                assert!(len == n / m || len == n / m + 1, "cell {c} of {m} over {n}");
            }
        }
    }

    #[test]
    fn a_shuffle_shard_is_k_distinct_backends_and_stable() {
        for (n, k) in [(8, 2), (8, 8), (100, 5), (3, 1)] {
            for t in 0..200 {
                let s = shuffle("lb", &format!("tenant-{t}"), n, k);
                assert_eq!(s.len(), k as usize);
                assert!(s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
                assert!(s.iter().all(|&i| i < n));
                assert_eq!(s, shuffle("lb", &format!("tenant-{t}"), n, k));
            }
        }
        assert_ne!(
            (0..20)
                .map(|t| shuffle("a", &t.to_string(), 8, 2))
                .collect::<Vec<_>>(),
            (0..20)
                .map(|t| shuffle("b", &t.to_string(), 8, 2))
                .collect::<Vec<_>>(),
            "another load balancer deals other shards"
        );
    }

    /// The combinatorics of shuffle sharding. With shards drawn uniformly among the C(n, k)
    /// k-subsets, another tenant shares all k backends of a given tenant with probability
    /// 1 / C(n, k), and at least one with 1 - C(n - k, k) / C(n, k). Over T = 4,000 tenants
    /// there are T (T - 1) / 2 = 8.0 M pairs; counted over all of them, the shares have a
    /// standard error under 0.5% of their value (the rarest case, identical shards of n = 10,
    /// k = 3, expects 67 k pairs: about 0.4%), so a 3% tolerance is over six standard errors
    /// yet catches a biased draw (a modulo-biased or repeating sampler is off by far more).
    #[test]
    fn shuffle_shards_overlap_as_the_combinatorial_formulas_say() {
        const T: usize = 4_000;
        for (n, k) in [(8u32, 2u32), (10, 3), (12, 2)] {
            let shards: Vec<Vec<u32>> = (0..T)
                .map(|t| shuffle("front", &format!("customer-{t}"), n, k))
                .collect();
            let (mut same, mut some) = (0u64, 0u64);
            for i in 0..T {
                for j in i + 1..T {
                    let shared = shards[i].iter().filter(|x| shards[j].contains(x)).count();
                    same += u64::from(shared == k as usize);
                    some += u64::from(shared > 0);
                }
            }
            let pairs = (T * (T - 1) / 2) as f64;
            let c = choose(u64::from(n), u64::from(k)) as f64;
            let p_same = 1.0 / c;
            let p_some = 1.0 - choose(u64::from(n - k), u64::from(k)) as f64 / c;
            let (m_same, m_some) = (same as f64 / pairs, some as f64 / pairs);
            assert!(
                (m_same / p_same - 1.0).abs() < 0.03,
                "n {n} k {k}: identical shards {m_same:.5} against 1/C(n,k) = {p_same:.5}"
            );
            assert!(
                (m_some / p_some - 1.0).abs() < 0.03,
                "n {n} k {k}: overlapping shards {m_some:.5} against {p_some:.5}"
            );
        }
    }
}
