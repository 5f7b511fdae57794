//! Running `smtp32-sendmail` as an application would: the message on its stdin, the daemon's
//! socket in `SMTP32_SOCKET`, with a deadline; and the daemon configuration of a relay.

use crate::ctl::{run_with_input, Output};
use crate::paths::built;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long one `smtp32-sendmail` run may take.
const RUN_DEADLINE: Duration = Duration::from_secs(30);

/// The built `smtp32-sendmail`.
pub fn sendmail_binary() -> PathBuf {
    built("smtp32-sendmail")
}

/// `smtp32-sendmail ARGS...` with `SMTP32_SOCKET=socket` and `message` on stdin. The caller's
/// `SMTP32*` and `NAME` variables are not passed on.
pub fn sendmail(socket: &Path, args: &[&str], message: &[u8]) -> Output {
    sendmail_as(Command::new(sendmail_binary()), socket, args, &[], message)
}

/// [`sendmail`] run through `cmd` (the binary itself, or a `setpriv ... -- binary` wrapper),
/// with `env` set as well.
pub fn sendmail_as(
    mut cmd: Command,
    socket: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    message: &[u8],
) -> Output {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("SMTP32") || key == "NAME" {
            cmd.env_remove(key);
        }
    }
    cmd.env("SMTP32_SOCKET", socket)
        .envs(env.iter().copied())
        .args(args);
    run_with_input(cmd, Some(message.to_vec()), RUN_DEADLINE)
}

/// The `[relay]` and `[queue]` tables for a daemon that queues for a relay at `host` without
/// AUTH or TLS (a loopback test server, or a port where nothing listens), keeping its queue
/// in `queue_dir` and retrying every second.
pub fn queue_config(host: &str, queue_dir: &Path) -> String {
    format!(
        "[relay]\nhost = \"smtp://{host}?tls=none\"\nlocal = \"relay-client.test\"\n\n\
         [queue]\ndir = {:?}\nretry_first = 1\nretry_max = 1\n",
        queue_dir.display().to_string()
    )
}

/// The `[relay]` (and `[auth]`) tables for a daemon that relays to `host` (a plain loopback
/// server, so AUTH in cleartext is allowed) as `user` with the password in `password_file`.
pub fn relay_config(host: &str, user: &str, password_file: &Path) -> String {
    format!(
        "[relay]\nhost = \"smtp://{host}?tls=none\"\nlocal = \"relay-client.test\"\nuser = \"{user}\"\n\
         password_file = {:?}\n\n[auth]\nallow_cleartext = true\n",
        password_file.display().to_string()
    )
}

/// What `smtp32-sendmail` uses when there is no `-f`: this user's login name @ the host name.
pub fn default_sender() -> String {
    format!("{}@{}", login_name(), hostname())
}

/// The login name of this process's real uid (the look-up `smtp32-sendmail` makes, through
/// `smtp32-host`).
pub fn login_name() -> String {
    smtp32_host::account(smtp32_host::real_uid())
        .expect("this uid has no password entry")
        .login
}

/// The machine's host name, as `gethostname(2)` gives it.
pub fn hostname() -> String {
    smtp32_host::hostname().expect("gethostname failed")
}
