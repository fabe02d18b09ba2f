//! server (under construction)
pub mod four_letter;
