//! validate (to be written)
