//! paddock: a ZooKeeper-compatible coordination service.
//!
//! Pure modules (`protocol`, `data_tree`, `sessions`, `txn`, `storage`'s
//! formats, `config`) do no network I/O and know nothing of glommio;
//! `server` is the only place that touches sockets and cores.
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod admin_server;
pub mod auth;
mod civil_date;
pub mod client;
pub mod config;
pub mod data_tree;
pub mod metrics;
pub mod ops;
pub mod protocol;
pub mod server;
pub mod sessions;
/// The deterministic simulator that runs the real `zab` state machine over a
/// simulated network and disk; never used by the server.
pub mod sim;
pub mod storage;
pub mod txn;
pub mod zab;
