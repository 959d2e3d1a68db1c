//! The component kinds, one module each. A kind's module is the only place that knows its
//! settings types (re-exported by `spec`) and its behaviour: an `impl Node` block whose methods
//! the pipeline in `node.rs` calls when a request of that kind has been served, when one of its
//! calls ends, or when one of its timers fires.

pub mod cache;
pub mod client;
pub mod dns;
pub mod firewall;
pub mod load_balancer;
pub mod monitor;
pub mod network;
pub mod proxy;
pub mod resolver;
pub mod service;
pub mod storage;
