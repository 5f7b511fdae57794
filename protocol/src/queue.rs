//! The daemon's mail queue as clients see it: a message handed to the
//! queue (`smtp32-sendmail`), and one row of `smtp32ctl queue`.

use serde::{Deserialize, Serialize};

/// A message for the daemon's queue: the envelope, the DSN requests of
/// sendmail's `-N`/`-R`/`-V` (passed to a relay that offers DSN; values
/// outside RFC 3461's are `Failure::InvalidArgument`), and the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The reverse-path; empty for `<>`.
    pub from: String,
    /// At least one forward-path.
    pub rcpts: Vec<String>,
    /// `NOTIFY=` for every recipient (`-N`, e.g. `FAILURE,DELAY`); empty: none.
    pub notify: String,
    /// `RET=` (`-R`: `FULL` or `HDRS`); empty: none.
    pub ret: String,
    /// `ENVID=` (`-V`); empty: none.
    pub envid: String,
    /// The message as the application has it.
    #[serde(with = "crate::codec::payload")]
    pub data: Vec<u8>,
}

/// One queued message, as `smtp32ctl queue` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The queue id (upper-case hex).
    pub id: String,
    /// The uid that submitted it.
    pub uid: u32,
    /// The reverse-path; empty for `<>`.
    pub from: String,
    /// The recipients not yet delivered nor bounced.
    pub rcpts: Vec<String>,
    /// The message size in bytes.
    pub size: u64,
    /// Seconds since it was queued.
    pub age_secs: u64,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// Why the last attempt failed; empty before the first.
    pub last_error: String,
    /// Seconds until the next attempt (0: due now or under way).
    pub next_try_secs: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::body_of as body;
    use crate::{Request, Response};

    /// The variant indices and layouts PROTOCOL.md gives for the queue.
    #[test]
    fn documented_layout() {
        let submission = Submission {
            from: "a".into(),
            rcpts: vec!["t".into()],
            notify: String::new(),
            ret: "HDRS".into(),
            envid: String::new(),
            data: vec![b'x'],
        };
        let wire = body(&Request::QueueSubmit(Box::new(submission)));
        assert_eq!(
            wire,
            [23, 1, b'a', 1, 1, b't', 0, 4, b'H', b'D', b'R', b'S', 0, 1, b'x']
        );
        assert_eq!(body(&Request::QueueList), [24]);
        assert_eq!(body(&Request::QueueFlush { id: None }), [25, 0]);
        assert_eq!(
            body(&Request::QueueDelete { id: "A".into() }),
            [26, 1, b'A']
        );
        assert_eq!(body(&Response::Queued { id: "A".into() }), [12, 1, b'A']);
        let entry = QueueEntry {
            id: "A".into(),
            uid: 7,
            from: String::new(),
            rcpts: vec![],
            size: 1,
            age_secs: 2,
            attempts: 3,
            last_error: String::new(),
            next_try_secs: 4,
        };
        assert_eq!(
            body(&Response::QueueEntries(vec![entry])),
            [13, 1, 1, b'A', 7, 0, 0, 1, 2, 3, 0, 4]
        );
        assert_eq!(Request::QueueList.handle(), None);
    }
}
