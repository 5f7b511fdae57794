//! A throwaway certificate authority and one server certificate it signed, made with the
//! `openssl` command line for one fixture and deleted with it.
//!
//! Why two certificates and not one self-signed: rustls (webpki) refuses a CA certificate
//! presented as the end-entity certificate, so the server must present a leaf (`CA:FALSE`,
//! `extendedKeyUsage = serverAuth`) issued by a CA that the client trusts. The leaf names
//! `localhost`, `127.0.0.1` and `::1`, so a client may connect by name or by either address.
//! P-256 keys keep generation to a few milliseconds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

const CA_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = smtp32 throwaway test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
";

const LEAF_CONFIG: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = localhost
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
";

/// The files of a generated CA and its server certificate (all PEM).
#[derive(Debug, Clone)]
pub struct TestCa {
    /// The CA certificate: what a client must trust.
    pub ca_cert: PathBuf,
    /// The server's certificate, signed by the CA.
    pub leaf_cert: PathBuf,
    /// The server's private key (unencrypted).
    pub leaf_key: PathBuf,
    /// The leaf followed by the CA certificate: what the server presents.
    pub chain: PathBuf,
}

impl TestCa {
    /// Generates a CA and a server certificate for `localhost`, `127.0.0.1` and `::1` in `dir`
    /// (which must exist), valid from now for two days.
    pub fn generate(dir: &Path) -> Result<TestCa, String> {
        let file = |name: &str| dir.join(name);
        std::fs::write(file("ca.cnf"), CA_CONFIG).map_err(|e| format!("write ca.cnf: {e}"))?;
        std::fs::write(file("leaf.cnf"), LEAF_CONFIG)
            .map_err(|e| format!("write leaf.cnf: {e}"))?;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let ca_args = [
            "req", "-x509", "-config", "ca.cnf", "-days", "2", "-keyout", "ca.key", "-out",
            "ca.pem",
        ];
        openssl(dir, &[&ca_args[..], &ec[..]].concat())?;
        let csr_args = [
            "req",
            "-new",
            "-config",
            "leaf.cnf",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ];
        openssl(dir, &[&csr_args[..], &ec[..]].concat())?;
        let serial = format!("0x{:x}", unique_serial());
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                &serial,
                "-days",
                "2",
                "-extfile",
                "leaf.cnf",
                "-extensions",
                "leaf",
                "-out",
                "server.pem",
            ],
        )?;
        let leaf =
            std::fs::read(file("server.pem")).map_err(|e| format!("read server.pem: {e}"))?;
        let ca = std::fs::read(file("ca.pem")).map_err(|e| format!("read ca.pem: {e}"))?;
        std::fs::write(file("chain.pem"), [leaf, ca].concat())
            .map_err(|e| format!("write chain.pem: {e}"))?;
        Ok(TestCa {
            ca_cert: file("ca.pem"),
            leaf_cert: file("server.pem"),
            leaf_key: file("server.key"),
            chain: file("chain.pem"),
        })
    }
}

/// Runs `openssl ARGS` in `dir`; the error carries openssl's own message.
fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl").args(args).current_dir(dir).output().map_err(|e| {
        format!("cannot run `openssl` ({e}): install Debian's `openssl` package (tests/run-all.sh does)")
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A positive serial number that differs between certificates made in one run.
fn unique_serial() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (nanos ^ ((std::process::id() as u64) << 40)) & 0x7fff_ffff_ffff_ffff | 1
}
