//! The programs the network bench runs, one process per message, all sending the same 2 KiB
//! message to the same Exim (through the delay proxy) with STARTTLS and AUTH PLAIN.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Everything a client command needs to know.
pub struct Target {
    /// `localhost` (the name on the Exim fixture's certificate).
    pub host: String,
    /// The delay proxy's port.
    pub port: u16,
    /// The fixture's CA certificate.
    pub ca: PathBuf,
    pub user: String,
    pub password: String,
    pub from: String,
    pub to: String,
    /// The message, as a file for stdin or `--data`.
    pub message: PathBuf,
    /// msmtp's configuration file.
    pub msmtp_conf: PathBuf,
}

/// One way of sending, and the daemon it goes through (if any).
pub enum Client<'a> {
    /// Debian's msmtp.
    Msmtp,
    /// Python's smtplib (`python3 -c`).
    Python,
    /// swaks.
    Swaks,
    /// `smtp32-sendmail` through the daemon at this socket (its `[relay]`).
    Sendmail { binary: &'a Path, socket: &'a Path },
    /// A C program through `smtp_helo`/`smtp_auth`/`smtp_sendmsg`/`smtp_quit`.
    CProgram { binary: &'a Path, socket: &'a Path },
}

impl Client<'_> {
    /// The command for one message; stdin is the message where the client reads it.
    pub fn command(&self, t: &Target) -> Command {
        let mut cmd = match self {
            Client::Msmtp => {
                let mut c = Command::new("msmtp");
                c.arg("-C").arg(&t.msmtp_conf).args(["-f", &t.from, &t.to]);
                c
            }
            Client::Python => {
                let script = format!(
                    "import smtplib, ssl\n\
                     ctx = ssl.create_default_context(cafile={ca:?})\n\
                     s = smtplib.SMTP({host:?}, {port})\n\
                     s.starttls(context=ctx)\n\
                     s.login({user:?}, {password:?})\n\
                     s.sendmail({from:?}, [{to:?}], open({msg:?}, 'rb').read())\n\
                     s.quit()\n",
                    ca = t.ca.display().to_string(),
                    host = t.host,
                    port = t.port,
                    user = t.user,
                    password = t.password,
                    from = t.from,
                    to = t.to,
                    msg = t.message.display().to_string(),
                );
                let mut c = Command::new("python3");
                c.args(["-c", &script]);
                c
            }
            Client::Swaks => {
                let mut c = Command::new("swaks");
                c.args(["--server", &format!("{}:{}", t.host, t.port), "--tls"])
                    .args([
                        "--auth",
                        "PLAIN",
                        "--auth-user",
                        &t.user,
                        "--auth-password",
                        &t.password,
                    ])
                    .args(["--from", &t.from, "--to", &t.to, "--silent", "2"])
                    .arg("--data")
                    .arg(format!("@{}", t.message.display()));
                c
            }
            Client::Sendmail { binary, socket } => {
                let mut c = Command::new(binary);
                c.env("SMTP32_SOCKET", socket).args(["-f", &t.from, &t.to]);
                c
            }
            Client::CProgram { binary, socket } => {
                let mut c = Command::new(binary);
                let host = format!("smtp://{}:{}?tls=required", t.host, t.port);
                c.env("SMTP32_SOCKET", socket)
                    .args([&host, &t.user, &t.password, &t.from, &t.to])
                    .arg(&t.message);
                c
            }
        };
        let stdin = match self {
            Client::Msmtp | Client::Sendmail { .. } => {
                std::fs::File::open(&t.message).map(Stdio::from)
            }
            _ => Ok(Stdio::null()),
        };
        cmd.stdin(stdin.unwrap_or_else(|_| Stdio::null()))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    }
}

/// msmtp's configuration for `t`: STARTTLS verified against the fixture's CA, AUTH PLAIN.
pub fn msmtp_config(t: &Target) -> String {
    format!(
        "defaults\naccount bench\nhost {}\nport {}\ntls on\ntls_starttls on\n\
         tls_trust_file {}\nauth plain\nuser {}\npassword {}\nfrom {}\naccount default : bench\n",
        t.host,
        t.port,
        t.ca.display(),
        t.user,
        t.password,
        t.from
    )
}
