//! Policies shared by several component kinds, each with its settings types (re-exported by
//! `spec`) and its behaviour (an `impl Node` block or a small state type): retries and their
//! budget, health checks, circuit breakers, gossip membership, rate and concurrency limits,
//! hedged requests, connection pools and tables.

pub mod autoscale;
pub mod breaker;
pub mod concurrency;
pub mod conn;
pub mod gossip;
pub mod health_check;
pub mod hedge;
pub mod placement;
pub mod queue;
pub mod rate_limit;
pub mod retry;
pub mod server;
pub mod shard;
