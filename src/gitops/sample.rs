//! sample (to be written)
