//! The daemon's mail queue for Rust callers (`smtp32-sendmail`,
//! `smtp32ctl queue`): hand a message to it, list, flush and delete.
//!
//! The daemon decides what a caller may see and touch: the messages its uid
//! submitted, or all of them for root, the daemon's user and members of its
//! `admin_group`. An id the caller may not see fails as one that does not
//! exist.

use crate::client::Client;
use crate::error::unexpected;
use crate::error::Result;
use smtp32_protocol::{QueueEntry, Request, Response, SendReport, Submission};

/// What became of a submitted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// On disk in the daemon's queue, under this id; the daemon delivers it.
    Queued(String),
    /// The daemon's queue is off (`relay.queue = false`): it was sent at
    /// once, and the relay took it for these recipients.
    Sent(SendReport),
}

impl Client {
    /// Hands a message to the daemon's queue. It must fit one request frame
    /// (see [`Client::max_frame_bytes`]).
    pub fn submit(&self, submission: Submission) -> Result<Submitted> {
        match self.call(Request::QueueSubmit(Box::new(submission)), None, None)? {
            Response::Queued { id } => Ok(Submitted::Queued(id)),
            Response::Sent(report) => Ok(Submitted::Sent(report)),
            other => Err(unexpected(other)),
        }
    }

    /// The queued messages this caller may see, oldest first.
    pub fn queue_entries(&self) -> Result<Vec<QueueEntry>> {
        match self.call(Request::QueueList, None, None)? {
            Response::QueueEntries(rows) => Ok(rows),
            other => Err(unexpected(other)),
        }
    }

    /// Makes one queued message (or all this caller may see) due now.
    pub fn flush_queue(&self, id: Option<&str>) -> Result<()> {
        self.expect_done(Request::QueueFlush {
            id: id.map(str::to_owned),
        })
    }

    /// Removes a queued message without delivering it.
    pub fn delete_queued(&self, id: &str) -> Result<()> {
        self.expect_done(Request::QueueDelete { id: id.to_owned() })
    }
}
