//! seed (to be written)
