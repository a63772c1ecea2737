//! apps (to be written)
