//! outagesim: a deterministic discrete-event simulator of outages in distributed systems.
//!
//! Layers depend in one direction: `engine` (time, events, executors) is the base; `bench`
//! holds the engine benchmarks' models (PHOLD and its plain-heap baseline).

pub mod bench;
pub mod engine;
pub mod model;
pub mod report;
pub mod scenario;
