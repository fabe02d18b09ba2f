//! zoo.cfg parsing (under construction)
