//! refresh (to be written)
