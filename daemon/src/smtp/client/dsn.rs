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

    /// Appends ` RET=... ENVID=...` (what was asked for) to a MAIL line.
    pub fn write_mail_params(&self, out: &mut Vec<u8>) {
        if !self.ret.is_empty() {
            out.extend_from_slice(b" RET=");
            out.extend_from_slice(self.ret.as_bytes());
        }
        if !self.envid.is_empty() {
            out.extend_from_slice(b" ENVID=");
            xtext(&self.envid, out);
        }
    }

    /// Appends ` NOTIFY=...` (when asked for) to a RCPT line.
    pub fn write_rcpt_params(&self, out: &mut Vec<u8>) {
        if !self.notify.is_empty() {
            out.extend_from_slice(b" NOTIFY=");
            out.extend_from_slice(self.notify.as_bytes());
        }
    }
}

/// Appends `text` as RFC 3461 xtext: `+`, `=` and anything outside
/// `!`..`~` as `+HH`.
fn xtext(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        match b {
            b'!'..=b'~' if b != b'+' && b != b'=' => out.push(b),
            _ => out.extend_from_slice(&[b'+', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]),
        }
    }
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
        let written = |write: fn(&DsnRequest, &mut Vec<u8>), dsn: &DsnRequest| {
            let mut out = Vec::new();
            write(dsn, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            written(DsnRequest::write_mail_params, &dsn),
            " RET=HDRS ENVID=a+2Bb+3Dc"
        );
        assert_eq!(
            written(DsnRequest::write_rcpt_params, &dsn),
            " NOTIFY=FAILURE,DELAY"
        );
        let none = DsnRequest::default();
        assert!(none.is_empty() && written(DsnRequest::write_mail_params, &none).is_empty());
        assert!(written(DsnRequest::write_rcpt_params, &none).is_empty());
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
