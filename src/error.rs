//! The library's error type.
