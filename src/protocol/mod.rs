//! The ZooKeeper client wire protocol (Jute), mirroring `zookeeper.jute`.
pub mod jute;
pub mod records;
pub mod types;
pub use records::*;
pub use types::*;
