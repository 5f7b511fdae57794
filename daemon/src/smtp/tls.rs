//! TLS for outbound SMTP: the policy a connection runs under, the rustls
//! client configuration built from the daemon's `[tls]` settings, and the
//! handshake itself.
//!
//! Certificates are verified against the system's roots (read once by
//! `rustls-native-certs`) plus the PEM files of `tls.ca_files`, for the host
//! name the caller gave (an IP literal is checked against the certificate's
//! IP addresses). Only the administrator can make an exception, host by
//! host, with `tls.insecure_skip_verify_hosts`; nothing in the wire protocol
//! lets an application ask for one. The built [`TlsContext`] is cached for
//! the settings it came from, so each connection shares it and a reload that
//! changes `[tls]` builds a new one.

use super::SmtpError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The `[tls]` table: how SMTP connections do TLS and what they trust.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// The policy of a bare host string: `none`, `opportunistic` or `required`
    /// (a `smtp://...?tls=` or `smtps://` string chooses its own).
    pub policy: TlsPolicy,
    /// PEM files of CA certificates trusted besides the system's roots.
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    /// Hosts (as the application names them) whose certificate is not
    /// verified. The administrator's decision alone: no application can ask.
    #[serde(default)]
    pub insecure_skip_verify_hosts: Vec<String>,
}

/// `tls.policy`: what a bare host string gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsPolicy {
    /// Cleartext unless the application calls `smtp_starttls`.
    None,
    /// STARTTLS in `smtp_helo` when the server offers it.
    Opportunistic,
    /// STARTTLS in `smtp_helo`, which fails with `SMTP_TLS_FAILURE` without it.
    Required,
}

/// When a connection uses TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Cleartext unless the application calls `smtp_starttls`.
    None,
    /// STARTTLS during the open when the server offers it, cleartext otherwise.
    Opportunistic,
    /// STARTTLS during the open; the open fails when TLS cannot be had.
    Required,
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
}

impl From<TlsPolicy> for TlsMode {
    fn from(policy: TlsPolicy) -> TlsMode {
        match policy {
            TlsPolicy::None => TlsMode::None,
            TlsPolicy::Opportunistic => TlsMode::Opportunistic,
            TlsPolicy::Required => TlsMode::Required,
        }
    }
}

/// How one connection does TLS: its mode, the shared configuration, and the
/// name the certificate must carry.
#[derive(Clone)]
pub struct TlsPlan {
    /// When to start TLS.
    pub mode: TlsMode,
    /// The verifying configuration; `None` only for connections that never do TLS (tests).
    pub context: Option<Arc<TlsContext>>,
    /// The host name or IP literal (IPv6 without brackets) the caller gave.
    pub host: String,
}

impl TlsPlan {
    /// A plan that never does TLS and has no configuration (STARTTLS then fails).
    pub fn cleartext_only() -> TlsPlan {
        TlsPlan {
            mode: TlsMode::None,
            context: None,
            host: String::new(),
        }
    }

    /// Runs the TLS handshake over `tcp`, verifying the server for `self.host`.
    pub async fn handshake(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, SmtpError> {
        let context = self
            .context
            .as_ref()
            .ok_or_else(|| SmtpError::Tls("TLS is not configured".into()))?;
        context.connect(&self.host, tcp).await
    }
}

/// The rustls client configuration for one set of `[tls]` settings.
pub struct TlsContext {
    verifying: Arc<ClientConfig>,
    unverified: Arc<ClientConfig>,
    skip_verify_hosts: Vec<String>,
}

impl TlsContext {
    /// The context for `settings`, built on first use and shared while the
    /// settings stay the same. Errors name the file at fault.
    pub fn shared(settings: &TlsSettings) -> Result<Arc<TlsContext>, String> {
        static CACHE: Mutex<Option<(TlsSettings, Arc<TlsContext>)>> = Mutex::new(None);
        let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((built_for, context)) = cache.as_ref() {
            if built_for == settings {
                return Ok(context.clone());
            }
        }
        let context = Arc::new(TlsContext::build(settings)?);
        *cache = Some((settings.clone(), context.clone()));
        Ok(context)
    }

    /// Builds a context: system roots plus `ca_files`, TLS 1.2 and 1.3, ring.
    fn build(settings: &TlsSettings) -> Result<TlsContext, String> {
        let provider = Arc::new(ring::default_provider());
        let mut roots = RootCertStore::empty();
        // Unreadable system certificates are skipped: the CA files may be all we need.
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        for path in &settings.ca_files {
            for cert in read_pem_certificates(path)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let verifying = builder
            .clone()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let unverified = builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth();
        Ok(TlsContext {
            verifying: Arc::new(verifying),
            unverified: Arc::new(unverified),
            skip_verify_hosts: settings
                .insecure_skip_verify_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        })
    }

    /// The TLS handshake with `host` over `tcp`; any failure is `SmtpError::Tls`.
    pub async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<TlsStream<TcpStream>, SmtpError> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| SmtpError::Tls(format!("{host:?} is not a valid TLS server name")))?;
        let config = if self
            .skip_verify_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host))
        {
            self.unverified.clone()
        } else {
            self.verifying.clone()
        };
        TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| SmtpError::Tls(format!("handshake with {host} failed: {}", tls_cause(&e))))
    }
}

/// Checks that every file of `ca_files` holds at least one PEM certificate
/// (for config validation), building and caching the context on the way.
pub fn check_settings(settings: &TlsSettings) -> Result<(), String> {
    TlsContext::shared(settings).map(|_| ())
}

/// The certificates of one PEM file; none at all is an error.
fn read_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{}: no PEM certificate in the file",
            path.display()
        ));
    }
    Ok(certs)
}

/// The rustls error inside an I/O error, for a readable reason.
fn tls_cause(e: &std::io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => tls.to_string(),
        None => e.to_string(),
    }
}

/// `insecure_skip_verify_hosts`: any certificate is taken; signatures are still checked.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
