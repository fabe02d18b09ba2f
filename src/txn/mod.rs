//! txn (under construction)
