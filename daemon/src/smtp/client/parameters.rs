//! The ESMTP parameters of a send's envelope, agreed with what the server
//! offers: `SMTPUTF8` (RFC 6531), `SIZE=` (RFC 1870), `BODY=8BITMIME`
//! (RFC 6152) and DSN's (RFC 3461) — or the refusal, before anything is
//! sent, of a message the server cannot take.

use super::{DsnRequest, SmtpClient};
use crate::smtp::command::CheckedEnvelope;
use crate::smtp::SmtpError;

/// What a send's MAIL and RCPT lines carry after their paths.
#[derive(Debug, Clone, Copy)]
pub(super) struct MailParameters<'a> {
    /// An address is not ASCII and the server offers SMTPUTF8.
    smtputf8: bool,
    /// The message's size, when known and the server offers SIZE.
    size: Option<u64>,
    /// The message holds 8-bit data and the server offers 8BITMIME.
    eight_bit_mime: bool,
    /// DSN's RET/ENVID on MAIL and NOTIFY on every RCPT, when offered.
    dsn: Option<&'a DsnRequest>,
}

impl<'a> MailParameters<'a> {
    /// These parameters with DSN's, which the caller has checked and the
    /// server offers.
    pub fn with_dsn(self, dsn: Option<&'a DsnRequest>) -> MailParameters<'a> {
        MailParameters { dsn, ..self }
    }

    /// Appends the envelope's MAIL and RCPT lines, each with its parameters
    /// and CRLF, to `out`.
    pub fn write_envelope<R: AsRef<str>>(
        &self,
        envelope: &CheckedEnvelope<'_, R>,
        out: &mut Vec<u8>,
    ) {
        envelope.write_lines(
            out,
            |out| self.write_mail(out),
            |out| {
                if let Some(dsn) = self.dsn {
                    dsn.write_rcpt_params(out)
                }
            },
        );
    }

    fn write_mail(&self, out: &mut Vec<u8>) {
        if self.smtputf8 {
            out.extend_from_slice(b" SMTPUTF8");
        }
        if let Some(size) = self.size {
            out.extend_from_slice(b" SIZE=");
            out.extend_from_slice(itoa::Buffer::new().format(size).as_bytes());
        }
        if self.eight_bit_mime {
            out.extend_from_slice(b" BODY=8BITMIME");
        }
        if let Some(dsn) = self.dsn {
            dsn.write_mail_params(out);
        }
    }
}

impl SmtpClient {
    /// The MAIL parameters for a message of `size` bytes (when known), with
    /// 8-bit data or not, sent in `envelope`; or `Unsupported` for what the
    /// server cannot take: over its SIZE limit, or a non-ASCII address
    /// without SMTPUTF8. DSN's are the caller's to add.
    pub(super) fn mail_parameters(
        &self,
        envelope: &CheckedEnvelope<'_, impl AsRef<str>>,
        size: Option<u64>,
        eight_bit: bool,
    ) -> Result<MailParameters<'static>, SmtpError> {
        if let (Some(limit), Some(size)) = (self.caps.size_limit, size) {
            if size > limit {
                return Err(SmtpError::Unsupported(format!(
                    "the message is {size} bytes, over the server's SIZE limit of {limit} bytes"
                )));
            }
        }
        let non_ascii = std::iter::once(envelope.from())
            .chain(envelope.rcpts().iter().map(AsRef::as_ref))
            .find(|a| !a.is_ascii());
        if let Some(addr) = non_ascii {
            if !self.caps.smtputf8 {
                return Err(SmtpError::Unsupported(format!(
                    "the server does not offer SMTPUTF8, which the address {addr:?} needs"
                )));
            }
        }
        Ok(MailParameters {
            smtputf8: non_ascii.is_some(),
            size: size.filter(|_| self.caps.size),
            eight_bit_mime: self.caps.eightbitmime && eight_bit,
            dsn: None,
        })
    }
}
