//! `smtp32ctl queue`: the daemon's mail queue as a table (`--json` is `json.rs`'s).

use crate::text::{clock, printable};
use smtp32::QueueEntry;
use std::fmt::Write as _;

const HEADER: [&str; 8] = ["ID", "UID", "SIZE", "AGE", "TRIES", "NEXT", "FROM", "TO"];

/// A table with a header, one row per message, its last error below it.
pub fn text(rows: &[QueueEntry]) -> String {
    if rows.is_empty() {
        return "the queue is empty\n".into();
    }
    let cells: Vec<[String; 8]> = rows.iter().map(cells).collect();
    let mut widths = HEADER.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADER.map(String::from);
    for (i, row) in std::iter::once(&header).chain(&cells).enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if let Some(error) = i
            .checked_sub(1)
            .map(|r| &rows[r].last_error)
            .filter(|e| !e.is_empty())
        {
            let _ = writeln!(out, "  last error: {}", printable(error));
        }
    }
    out
}

fn cells(e: &QueueEntry) -> [String; 8] {
    let from = if e.from.is_empty() {
        "<>".to_string()
    } else {
        printable(&e.from)
    };
    [
        e.id.clone(),
        e.uid.to_string(),
        e.size.to_string(),
        clock(e.age_secs),
        e.attempts.to_string(),
        if e.next_try_secs == 0 {
            "now".into()
        } else {
            clock(e.next_try_secs)
        },
        from,
        printable(&e.rcpts.join(", ")),
    ]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One queued message with a control character in its error, for the
    /// table's tests and the JSON's.
    pub(crate) fn row() -> QueueEntry {
        QueueEntry {
            id: "6931A2F0DEADBEEF".into(),
            uid: 1000,
            from: "a@x.test".into(),
            rcpts: vec!["b@y.test".into(), "c@y.test".into()],
            size: 512,
            age_secs: 3725,
            attempts: 3,
            last_error: "451 4.3.0 try\x1b[31m later".into(),
            next_try_secs: 0,
        }
    }

    #[test]
    fn the_table_escapes_what_users_wrote() {
        let out = text(&[row()]);
        assert!(out.starts_with("ID "), "{out}");
        assert!(
            out.contains(
                "6931A2F0DEADBEEF  1000  512   01:02:05  3      now   a@x.test  b@y.test, c@y.test"
            ),
            "{out}"
        );
        assert!(
            out.contains("last error: 451 4.3.0 try\\x1b[31m later"),
            "{out}"
        );
        assert_eq!(text(&[]), "the queue is empty\n");
    }
}
