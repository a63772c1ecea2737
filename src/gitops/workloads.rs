//! workloads (to be written)
