//! One-line replies seen lately on this thread, shared by every reply of the
//! same text. Servers answer MAIL, RCPT, DATA and NOOP with the same line each
//! time, so most of a message's replies cost a look-up here instead of an
//! allocation (and a free once done with). Both ends read replies through
//! it: the daemon as its SMTP connections read them from the server (every
//! session of a worker runs on its thread), a program as it decodes them
//! from the daemon's frames.
//!
//! A few short lines only, per thread: nothing a connection holds grows. A
//! line that changes every time (a queue id in the reply to the final dot)
//! takes a place only until a line that is used again needs it: a used line
//! is passed over once by the eviction hand (the clock algorithm).

use super::{ReplyLines, SharedLine};
use std::cell::RefCell;

/// Lines kept per thread, at most.
const LINES: usize = 8;
/// A longer line is not kept.
const LINE_BYTES: usize = 128;

/// The kept lines, each with its used mark, and the eviction hand.
#[derive(Default)]
struct Recent {
    lines: Vec<(SharedLine, bool)>,
    hand: usize,
}

thread_local! {
    static RECENT: RefCell<Recent> = RefCell::new(Recent::default());
}

/// The lines of a one-line reply whose text is `text`: shared with the
/// earlier replies of the same text when one is kept.
pub(crate) fn one_line(text: &str) -> ReplyLines {
    if text.len() <= LINE_BYTES {
        if let Some(line) = RECENT.with(|recent| recent.borrow_mut().line(text)) {
            return line.into();
        }
    }
    ReplyLines::from([text])
}

impl Recent {
    /// The kept line `text`, marked used, or a new one kept in place of the
    /// first line not used since the hand last passed; `None` when `text`
    /// cannot be a line.
    fn line(&mut self, text: &str) -> Option<SharedLine> {
        if let Some((line, used)) = self.lines.iter_mut().find(|(l, _)| l.as_str() == text) {
            *used = true;
            return Some(line.clone());
        }
        let line = SharedLine::new(text)?;
        if self.lines.len() < LINES {
            self.lines.push((line.clone(), false));
            return Some(line);
        }
        loop {
            let hand = self.hand;
            self.hand = (hand + 1) % LINES;
            let (kept, used) = &mut self.lines[hand];
            if !std::mem::take(used) {
                *kept = line.clone();
                return Some(line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(lines: &ReplyLines) -> Option<*const u8> {
        lines.first().map(str::as_ptr)
    }

    #[test]
    fn a_line_seen_again_is_shared() {
        let first = one_line("2.1.0 Ok");
        let again = one_line("2.1.0 Ok");
        assert_eq!(again, ReplyLines::from(["2.1.0 Ok"]));
        assert_eq!(address(&again), address(&first));
        assert_ne!(address(&one_line("2.1.5 Ok")), address(&first));
    }

    #[test]
    fn lines_that_change_every_time_do_not_push_out_a_used_one() {
        let used = one_line("250 used");
        assert_eq!(address(&one_line("250 used")), address(&used));
        for n in 0..100 {
            let queued = format!("2.0.0 Ok: queued as {n}");
            assert_eq!(one_line(&queued), ReplyLines::from([queued.as_str()]));
            // Used again after each new line, as MAIL's reply is: never evicted.
            assert_eq!(address(&one_line("250 used")), address(&used), "{n}");
        }
    }

    #[test]
    fn a_long_line_is_answered_but_not_kept() {
        let long = "x".repeat(LINE_BYTES + 1);
        let first = one_line(&long);
        assert_eq!(first, ReplyLines::from([long.as_str()]));
        assert_ne!(address(&one_line(&long)), address(&first));
    }
}
