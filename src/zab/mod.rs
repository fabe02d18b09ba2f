//! Zab, ZooKeeper's atomic broadcast, as ZooKeeper 3.8 speaks it to its peers.
//!
//! What is here so far is the peer protocol's bytes ([`wire`]), checked
//! against ZooKeeper 3.8's own (`tests/fixtures/zab/zk-3.8.0/`, recorded by
//! `tests/fixtures/zab/capture_zk_peer.py` playing server 3 of a ZooKeeper
//! ensemble). The state machine (election, discovery, sync, broadcast) and
//! the simulator that tests it are not built yet: paddock runs standalone and
//! refuses `server.N` ensembles at start.
pub mod wire;
