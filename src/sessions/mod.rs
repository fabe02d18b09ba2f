//! sessions (under construction)
