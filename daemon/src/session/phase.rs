//! Where a connection's dialogue stands after each step: a pure function of
//! the state before, the step and its outcome, so the listing's `state`
//! column can be unit-tested without a server.

use super::messages::Operation;
use crate::activity::Doing;
use smtp32_protocol::{Command, ConnectionState};

/// How a step ended, as far as the state is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted (2xx/3xx).
    Accepted,
    /// The server refused (4xx/5xx); the dialogue is still in step.
    Refused,
    /// The connection is gone (timeout, cancel, I/O error, malformed reply).
    Lost,
}

/// What a step can do to the mail transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// MAIL, SEND, SOML, SAML: opens one when accepted.
    Opens,
    /// RSET: ends it when accepted.
    Ends,
    /// A chunk of message data: after the 354, the message is under way.
    Data,
    /// The final dot: its reply ends the transaction either way (RFC 5321 4.1.1.4).
    FinalDot,
    /// Anything else (RCPT, NOOP, VRFY...).
    Neutral,
}

/// The effect `op` has on the transaction.
pub fn effect(op: &Operation) -> Effect {
    match op {
        Operation::Command(cmd) => match starts_transaction(cmd.command()) {
            Some(true) => Effect::Opens,
            Some(false) => Effect::Ends,
            None => Effect::Neutral,
        },
        Operation::DataChunk(_) => Effect::Data,
        Operation::DataEnd => Effect::FinalDot,
    }
}

/// The state after a step with `effect` ended with `outcome`, from `before`.
pub fn after(before: ConnectionState, effect: Effect, outcome: Outcome) -> ConnectionState {
    use ConnectionState::*;
    match (effect, outcome) {
        (_, Outcome::Lost) => Lost,
        (Effect::FinalDot, _) => Ready,
        (Effect::Opens, Outcome::Accepted) => InTransaction,
        (Effect::Ends, Outcome::Accepted) => Ready,
        (Effect::Data, Outcome::Accepted) => InData,
        _ => before,
    }
}

/// `Some(true)` for a command that opens a mail transaction, `Some(false)`
/// for one that ends it (RSET), `None` for the others.
fn starts_transaction(cmd: &Command) -> Option<bool> {
    match cmd {
        Command::Mail { .. }
        | Command::Send { .. }
        | Command::Soml { .. }
        | Command::Saml { .. } => Some(true),
        Command::Rset => Some(false),
        Command::Direct { line } => {
            let verb = line
                .split([' ', ':'])
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match verb.as_str() {
                "MAIL" | "SEND" | "SOML" | "SAML" => Some(true),
                "RSET" => Some(false),
                _ => None,
            }
        }
        _ => None,
    }
}

/// True for a step that opens a new mail transaction (refused while the daemon shuts down).
pub fn opens_transaction(cmd: &Command) -> bool {
    starts_transaction(cmd) == Some(true)
}

/// A short name for the operation in flight, as the listing shows it (a
/// fixed one, not allocated, for every operation but `smtp_direct` and data).
pub fn describe(op: &Operation) -> Doing {
    match op {
        Operation::Command(cmd) => match cmd.command() {
            Command::Mail { .. } => Doing::Named("MAIL"),
            Command::Send { .. } => Doing::Named("SEND"),
            Command::Soml { .. } => Doing::Named("SOML"),
            Command::Saml { .. } => Doing::Named("SAML"),
            Command::Rcpt { .. } => Doing::Named("RCPT"),
            Command::Noop => Doing::Named("NOOP"),
            Command::Rset => Doing::Named("RSET"),
            Command::Vrfy { .. } => Doing::Named("VRFY"),
            Command::Expn { .. } => Doing::Named("EXPN"),
            Command::Help { .. } => Doing::Named("HELP"),
            Command::Turn => Doing::Named("TURN"),
            // Only the verb: the rest may be anything, AUTH data included.
            Command::Direct { line } => Doing::Text(
                line.split(' ')
                    .next()
                    .unwrap_or("")
                    .chars()
                    .take(16)
                    .collect(),
            ),
        },
        Operation::DataChunk(bytes) => Doing::Chunk(bytes.len()),
        Operation::DataEnd => Doing::Named("end of DATA"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smtp::CheckedCommand;
    use ConnectionState::*;

    fn step(before: ConnectionState, op: Operation, outcome: Outcome) -> ConnectionState {
        after(before, effect(&op), outcome)
    }

    fn cmd(c: Command) -> Operation {
        match CheckedCommand::new(c) {
            Ok(checked) => Operation::Command(checked),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_transaction_from_mail_to_the_final_dot() {
        let mail = || cmd(Command::Mail { from: "a@b".into() });
        let s = step(Ready, mail(), Outcome::Refused);
        assert_eq!(s, Ready);
        let s = step(s, mail(), Outcome::Accepted);
        assert_eq!(s, InTransaction);
        let s = step(s, cmd(Command::Rcpt { to: "c@d".into() }), Outcome::Refused);
        assert_eq!(s, InTransaction);
        let s = step(s, Operation::DataChunk(vec![1].into()), Outcome::Accepted);
        assert_eq!(s, InData);
        assert_eq!(step(s, Operation::DataEnd, Outcome::Refused), Ready);
        assert_eq!(
            step(InTransaction, cmd(Command::Rset), Outcome::Accepted),
            Ready
        );
        assert_eq!(step(InData, cmd(Command::Noop), Outcome::Lost), Lost);
    }

    #[test]
    fn direct_lines_are_read_by_their_verb() {
        let direct = |l: &str| cmd(Command::Direct { line: l.into() });
        assert_eq!(
            step(Ready, direct("mail from:<a@b>"), Outcome::Accepted),
            InTransaction
        );
        assert_eq!(
            step(InTransaction, direct("RSET"), Outcome::Accepted),
            Ready
        );
        assert_eq!(step(Ready, direct("XCLIENT x"), Outcome::Accepted), Ready);
        assert_eq!(describe(&direct("AUTH PLAIN secret")).to_string(), "AUTH");
        assert!(opens_transaction(&Command::Saml {
            from: String::new()
        }));
        assert!(!opens_transaction(&Command::Rcpt { to: String::new() }));
    }
}
