//! Identifier newtypes: connection handles and request ids.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::NonZeroU32;

/// An opaque SMTP connection handle. Zero is never a valid handle, which the
/// type enforces; a handle is valid only on the IPC connection that created it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Handle(NonZeroU32);

impl Handle {
    /// Wraps a raw handle value; `None` for zero.
    pub fn new(raw: u32) -> Option<Self> {
        NonZeroU32::new(raw).map(Handle)
    }

    /// The raw value handed to C callers.
    pub fn get(self) -> u32 {
        self.0.get()
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Identifies one request on one IPC connection; the response echoes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);
