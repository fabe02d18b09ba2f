//! The consensus state machine. PLACEHOLDER: the signatures the host and the
//! simulator are written against; the implementation is being built.
use super::{Action, Durable, Input, Role, Status, ZabConfig};

pub struct Zab {
    config: ZabConfig,
    durable: Durable,
}

impl Zab {
    /// A server that starts LOOKING from what it recovered. The first
    /// `step` should be a `Tick` with the current time.
    pub fn new(config: ZabConfig, durable: Durable) -> Zab {
        Zab { config, durable }
    }

    /// Feeds one input; returns what the host must do, in order.
    pub fn step(&mut self, input: Input) -> Vec<Action> {
        let _ = (&self.config, input);
        Vec::new()
    }

    pub fn role(&self) -> Role {
        Role::Looking
    }

    pub fn status(&self) -> Status {
        Status {
            role: Role::Looking,
            leader: None,
            accepted_epoch: self.durable.accepted_epoch,
            current_epoch: self.durable.current_epoch,
            last_logged: self.durable.last_zxid,
            last_committed: self.durable.last_zxid,
            learners: Vec::new(),
            outstanding_proposals: 0,
            serving: false,
        }
    }
}
