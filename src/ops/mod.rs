//! Operating paddock on a host: `paddock doctor` (is this host fit for this
//! config?), `paddock status` (zkServer.sh status), and the host probes the
//! server's start-up checks share with them. Probing (`host`) is kept apart
//! from judging (`doctor::judge`) so the rules are tested without the host.

pub mod doctor;
pub mod host;
pub mod status;
