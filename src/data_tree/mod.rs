//! data_tree (under construction)
