//! Lines from a helper process's stdout, read on a thread so that every wait has a deadline.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// The lines a child prints, as they come.
pub struct Lines {
    rx: Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    /// Starts reading `out` (a child's piped stdout) line by line.
    pub fn new(out: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// The next line whose first word is `word`, skipping others; panics after `timeout`.
    /// Returns the rest of the line after the word.
    pub fn expect(&mut self, word: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    let (first, rest) = line.split_once(' ').unwrap_or((&line, ""));
                    if first == word {
                        return rest.to_string();
                    }
                }
                Err(_) => panic!(
                    "no line starting {word:?} within {timeout:?}; lines so far: {:?}",
                    self.seen
                ),
            }
        }
    }
}
