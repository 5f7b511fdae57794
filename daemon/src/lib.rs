//! Placeholder.
pub mod smtp;
