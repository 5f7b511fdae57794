//! The DSN parameters of RFC 3461 that `smtp32-sendmail -N/-R/-V` ask
//! for: `RET=` and `ENVID=` on MAIL, `NOTIFY=` on every RCPT. They are sent
//! only to a server that offers DSN.

use crate::smtp::SmtpError;

/// What the sender asked for; empty fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DsnRequest {
    /// `NEVER`, or a comma-separated list of `SUCCESS`, `FAILURE`, `DELAY`.
    pub notify: String,
    /// `FULL` or `HDRS`.
    pub ret: String,
    /// The envelope id (printable ASCII, sent as xtext).
    pub envid: String,
}

impl DsnRequest {
    /// True when nothing was asked for.
    pub fn is_empty(&self) -> bool {
        self.notify.is_empty() && self.ret.is_empty() && self.envid.is_empty()
    }

    /// Refuses values RFC 3461 does not allow (so none can smuggle a parameter).
    pub fn check(&self) -> Result<(), SmtpError> {
        let bad = |why: String| Err(SmtpError::InvalidArgument(why));
        let words: Vec<&str> = self.notify.split(',').collect();
        let known = words
            .iter()
            .all(|w| ["NEVER", "SUCCESS", "FAILURE", "DELAY"].contains(w));
        if !self.notify.is_empty() && (!known || (words.contains(&"NEVER") && words.len() > 1)) {
            return bad(format!(
                "NOTIFY {:?}: NEVER, or a list of SUCCESS, FAILURE, DELAY",
                self.notify
            ));
        }
        if !self.ret.is_empty() && self.ret != "FULL" && self.ret != "HDRS" {
            return bad(format!("RET {:?}: FULL or HDRS", self.ret));
        }
        if self.envid.len() > 100 || !self.envid.bytes().all(|b| b.is_ascii_graphic()) {
            return bad("ENVID: at most 100 printable ASCII characters".into());
        }
        Ok(())
    }

    /// ` RET=... ENVID=...` for MAIL.
    pub fn mail_suffix(&self) -> String {
        let mut out = String::new();
        if !self.ret.is_empty() {
            out.push_str(&format!(" RET={}", self.ret));
        }
        if !self.envid.is_empty() {
            out.push_str(&format!(" ENVID={}", xtext(&self.envid)));
        }
        out
    }

    /// ` NOTIFY=...` for each RCPT.
    pub fn rcpt_suffix(&self) -> String {
        if self.notify.is_empty() {
            String::new()
        } else {
            format!(" NOTIFY={}", self.notify)
        }
    }
}

/// RFC 3461 xtext: `+`, `=` and anything outside `!`..`~` as `+HH`.
fn xtext(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'+' | b'=' => format!("+{b:02X}"),
            b'!'..=b'~' => (b as char).to_string(),
            _ => format!("+{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_checks() {
        let dsn = DsnRequest {
            notify: "FAILURE,DELAY".into(),
            ret: "HDRS".into(),
            envid: "a+b=c".into(),
        };
        dsn.check().unwrap();
        assert_eq!(dsn.mail_suffix(), " RET=HDRS ENVID=a+2Bb+3Dc");
        assert_eq!(dsn.rcpt_suffix(), " NOTIFY=FAILURE,DELAY");
        assert!(DsnRequest::default().is_empty() && DsnRequest::default().mail_suffix().is_empty());
        for bad in [
            DsnRequest {
                notify: "NEVER,DELAY".into(),
                ..Default::default()
            },
            DsnRequest {
                notify: "FAILURE ORCPT=x".into(),
                ..Default::default()
            },
            DsnRequest {
                ret: "BODY".into(),
                ..Default::default()
            },
            DsnRequest {
                envid: "a b".into(),
                ..Default::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
