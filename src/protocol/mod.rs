//! The ZooKeeper client wire protocol (Jute), mirroring `zookeeper.jute`.
pub mod jute;
pub mod types;
pub use types::*;
