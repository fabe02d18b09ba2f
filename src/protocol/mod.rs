//! The ZooKeeper client wire protocol (Jute), mirroring `zookeeper.jute`.
//!
//! - `types`: value types and numeric enums shared by every layer.
//! - `jute`: bounded primitive reads and writes.
//! - `records`: the client records, `Request` and `Response`.
//! - `codec`: encode/decode of every record.
//! - `frame`: length-prefixed frames, checked against `jute.maxbuffer`.
//!
//! Nothing here touches a socket.
pub mod codec;
pub mod frame;
pub mod jute;
pub mod records;
pub mod types;
pub use codec::{MultiHeader, MULTI_HEADER_BYTES, STAT_BYTES};
pub use frame::*;
pub use jute::{DecodeError, JuteWrite, Reader};
pub use records::*;
pub use types::*;
