//! The daemon conversation: hand the message to smtp32d's queue (it is on
//! disk when the daemon answers), or, for a message too large for one
//! request frame, send it at once through the relay the old way: open the
//! relay (connect, TLS, AUTH with the daemon's credentials), one `sendmsg`
//! (which chunks what does not fit a frame), QUIT.
//!
//! Also the queue's two admin modes: `-bp` and `-q`.

use crate::exit::{self, Exit, EX_UNAVAILABLE};
use smtp32::{Client, QueueEntry, SendReport, Submission, Submitted};

/// Room for the envelope and the frame's own fields next to the message.
const ENVELOPE_ROOM: usize = 64 * 1024;

/// Connects to the daemon.
pub fn connect() -> Result<Client, Exit> {
    Client::connect_default().map_err(|e| {
        Exit::new(
            EX_UNAVAILABLE,
            format!("smtp32d cannot be reached: {}", e.message()),
        )
    })
}

/// Submits the message: queued (its id), or sent now (the relay's report).
pub fn submit(client: &Client, submission: Submission) -> Result<Submitted, Exit> {
    let rcpts = submission.rcpts.clone();
    if submission.data.len() + ENVELOPE_ROOM > client.max_frame_bytes() as usize {
        eprintln!("smtp32-sendmail: the message is larger than one request to smtp32d: sent at once, not queued");
        return send_now(client, &submission).map(Submitted::Sent);
    }
    client
        .submit(submission)
        .map_err(|e| exit::for_submit(&e, &rcpts))
}

/// The relay's report for `submission` sent at once, or the exit that says why nothing was delivered.
fn send_now(client: &Client, submission: &Submission) -> Result<SendReport, Exit> {
    let conn = client.open_relay(None).map_err(|e| exit::for_open(&e))?;
    let rcpts: Vec<&str> = submission.rcpts.iter().map(String::as_str).collect();
    let result = conn.sendmsg(&submission.from, &rcpts, &submission.data);
    // Whatever happened, the relay gets its QUIT (or the daemon closes it).
    let _ = conn.quit();
    result.map_err(|e| exit::for_send(&e, &submission.rcpts))
}

/// `-bp`: the queue as mailq prints it.
pub fn list(client: &Client) -> Result<String, Exit> {
    let rows = client
        .queue_entries()
        .map_err(|e| exit::for_submit(&e, &[]))?;
    Ok(mailq(&rows))
}

/// `-q`: makes the queued messages (or one) due now.
pub fn flush(client: &Client, id: Option<&str>) -> Result<(), Exit> {
    client
        .flush_queue(id)
        .map_err(|e| exit::for_submit(&e, &[]))
}

/// The rows in Postfix's mailq layout: id, size, age, sender; the last
/// error in parentheses; the recipients indented.
fn mailq(rows: &[QueueEntry]) -> String {
    if rows.is_empty() {
        return "Mail queue is empty\n".into();
    }
    let mut out = format!(
        "{:<17} {:>8} {:>10}  Sender/Recipient\n",
        "-Queue ID-", "--Size--", "--Age--"
    );
    for row in rows {
        let from = if row.from.is_empty() {
            "MAILER-DAEMON"
        } else {
            &row.from
        };
        out.push_str(&format!(
            "{:<17} {:>8} {:>9}s  {from}\n",
            row.id, row.size, row.age_secs
        ));
        if !row.last_error.is_empty() {
            let error: String = row
                .last_error
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            out.push_str(&format!("{:>29}({error})\n", ""));
        }
        for rcpt in &row.rcpts {
            out.push_str(&format!("{:>39}{rcpt}\n", ""));
        }
    }
    out.push_str(&format!("-- {} messages\n", rows.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailq_lists_each_message_with_its_error_and_recipients() {
        assert_eq!(mailq(&[]), "Mail queue is empty\n");
        let row = QueueEntry {
            id: "00AB".into(),
            uid: 1000,
            from: "a@x.test".into(),
            rcpts: vec!["b@y.test".into()],
            size: 120,
            age_secs: 61,
            attempts: 2,
            last_error: "451 4.3.0 later\x1b[2J".into(),
            next_try_secs: 30,
        };
        let text = mailq(&[row]);
        assert!(
            text.contains("00AB") && text.contains("120") && text.contains("61s  a@x.test"),
            "{text}"
        );
        assert!(
            text.contains("(451 4.3.0 later?[2J)")
                && text.contains("b@y.test")
                && text.contains("-- 1 messages")
        );
    }
}
