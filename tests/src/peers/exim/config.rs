//! The text of the private Exim configuration, and of the files it reads (mailboxes, aliases).
//!
//! The configuration is a template with `@NAME@` placeholders rather than a `format!` string:
//! Exim's expansion syntax is made of braces, which `format!` would need doubled everywhere.
//! Everything that could reach the network beyond loopback is off: no DNS router (mail for other
//! domains is refused at RCPT), no host-name or ident lookups.

use super::EximOptions;
use std::path::PathBuf;

/// The domain the fixture is the final destination for.
pub const DOMAIN: &str = "example.test";
/// The local mailboxes, delivered as maildirs `mail/<name>/`. `josé` is there for SMTPUTF8.
pub const MAILBOXES: [&str; 4] = ["alice", "bob", "carol", "josé"];
/// The alias and what it expands to.
pub const ALIAS: &str = "team";
/// The mailboxes the alias expands to, in order.
pub const ALIAS_MEMBERS: [&str; 3] = ["alice", "bob", "carol"];

/// What varies between fixtures.
pub struct Params<'a> {
    pub exim_path: PathBuf,
    pub dir: PathBuf,
    pub smtp_port: u16,
    pub smtps_port: u16,
    pub ipv6: bool,
    pub banner_token: String,
    pub chain: PathBuf,
    pub key: PathBuf,
    pub user: &'a str,
    pub password: &'a str,
    pub xoauth2_token: &'a str,
    pub opts: &'a EximOptions,
}

/// `mailboxes`: each local part mapped to itself, so that `$local_part_data` (untainted) names
/// the maildir; Exim 4.94+ refuses a path built from the raw, tainted `$local_part`.
pub fn mailboxes_file() -> String {
    MAILBOXES.iter().map(|m| format!("{m}: {m}\n")).collect()
}

/// `aliases`: the alias expanding to three full addresses, so EXPN lists three lines.
pub fn aliases_file() -> String {
    let members: Vec<String> = ALIAS_MEMBERS
        .iter()
        .map(|m| format!("{m}@{DOMAIN}"))
        .collect();
    format!("{ALIAS}: {}\n", members.join(", "))
}

const MAIN: &str = r#"# Written by the smtp32 test fixture (tests/src/peers/exim.rs) for one test.
exim_path = @EXIM@
# Debian's binary has Debian-exim compiled in; as this file comes with -C and is not in the
# binary's list of trusted configurations, Exim gives up root and runs everything as this user,
# which is why the fixture hands it the spool, log and mail folders.
exim_user = Debian-exim
exim_group = Debian-exim
never_users = root
keep_environment =
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
pid_file_path = @DIR@/exim.pid
log_selector = +smtp_connection +smtp_protocol_error +smtp_syntax_error +tls_cipher +received_recipients +tls_resumption

primary_hostname = mta.@DOMAIN@
qualify_domain = @DOMAIN@
# A token of this fixture in the greeting: readiness checks know the 220 came from this daemon.
smtp_banner = mta.@DOMAIN@ ESMTP Exim $version_number @TOKEN@
domainlist local_domains = @DOMAIN@
hostlist loopback = <; 127.0.0.1 ; ::1

local_interfaces = @INTERFACES@
daemon_smtp_ports = @SMTP@ : @SMTPS@
tls_on_connect_ports = @SMTPS@
# Fail at once when a port was taken meanwhile; the fixture then retries with other ports.
daemon_startup_retries = 0

tls_certificate = @CHAIN@
tls_privatekey = @KEY@
tls_dhparam = none
tls_advertise_hosts = @TLS_HOSTS@

# Nothing looks beyond loopback.
host_lookup =
helo_lookup_domains =
rfc1413_hosts =

message_size_limit = @SIZE@
smtputf8_advertise_hosts = @UTF8_HOSTS@
pipelining_advertise_hosts = @PIPELINING_HOSTS@
pipelining_connect_advertise_hosts = @PIPELINING_HOSTS@
chunking_advertise_hosts = @CHUNKING_HOSTS@
# Deliver every message at once, however many come on one connection (the default queues the
# 11th and later ones until the next queue run).
smtp_accept_queue_per_connection = 0
# Exim drops a client after 3 unknown commands or 3 protocol errors; a test that sends SEND,
# SOML, SAML and TURN (all "500 unrecognized command") on one connection needs more.
smtp_max_unknown_commands = 100
smtp_max_synprot_errors = 100
deliver_drop_privilege = true

acl_smtp_rcpt = acl_check_rcpt
acl_smtp_vrfy = acl_check_loopback
acl_smtp_expn = acl_check_loopback

begin acl

acl_check_rcpt:
  deny    message = relay not permitted
          !domains = +local_domains
  # An unknown local user fails routing: 550 Unrouteable address.
  require verify = recipient
  accept

acl_check_loopback:
  accept  hosts = +loopback
  deny

begin routers

aliases:
  driver = redirect
  domains = +local_domains
  data = ${lookup{$local_part}lsearch{@DIR@/aliases}}

mailboxes:
  driver = accept
  domains = +local_domains
  local_parts = lsearch;@DIR@/mailboxes
  transport = maildir

begin transports

maildir:
  driver = appendfile
  maildir_format
  directory = @DIR@/mail/$local_part_data
  create_directory
  directory_mode = 0755
  mode = 0644
  user = Debian-exim
  group = Debian-exim
  return_path_add
  envelope_to_add

begin retry

*  *  F,2h,1m

begin authenticators

PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  @AUTH_CONDITION@
  server_condition = ${if and {{eq{$auth2}{@USER@}}{eq{$auth3}{@PASSWORD@}}}}
  server_set_id = $auth2

LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_prompts = <| Username: | Password:
  @AUTH_CONDITION@
  server_condition = ${if and {{eq{$auth1}{@USER@}}{eq{$auth2}{@PASSWORD@}}}}
  server_set_id = $auth1
"#;

/// XOAUTH2 through the plaintext driver: the client's single response is
/// `user=U ^A auth=Bearer T ^A ^A` (no NULs), so all of it lands in `$auth1`.
const XOAUTH2: &str = r#"
XOAUTH2:
  driver = plaintext
  public_name = XOAUTH2
  server_prompts = :
  @AUTH_CONDITION@
  server_condition = ${if match{$auth1}{\N^user=@USER@\x01auth=Bearer @BEARER@\x01\x01$\N}}
  server_set_id = @USER@
"#;

/// The whole configuration file.
pub fn render(p: &Params<'_>) -> String {
    let on_off = |on: bool| if on { "*" } else { "" };
    let interfaces = if p.ipv6 {
        "<; 127.0.0.1 ; ::1"
    } else {
        "<; 127.0.0.1"
    };
    // Exim refuses AUTH for a mechanism it did not advertise (503), so this both hides and
    // refuses AUTH on a connection without TLS.
    let auth_condition = if p.opts.auth_over_cleartext {
        ""
    } else {
        "server_advertise_condition = ${if def:tls_in_cipher}"
    };
    let mut text = MAIN.to_string();
    if p.opts.xoauth2 {
        text.push_str(&XOAUTH2.replace("@BEARER@", p.xoauth2_token));
    }
    // Main-section options must come before the first `begin`: put the extras there.
    let extras: String = p.opts.extra_main.iter().map(|l| format!("{l}\n")).collect();
    text = text.replacen(
        "\nbegin acl\n",
        &format!("\n# EximOptions::extra_main\n{extras}\nbegin acl\n"),
        1,
    );
    text.replace("@EXIM@", &p.exim_path.display().to_string())
        .replace("@DIR@", &p.dir.display().to_string())
        .replace("@DOMAIN@", DOMAIN)
        .replace("@TOKEN@", &p.banner_token)
        .replace("@INTERFACES@", interfaces)
        .replace("@SMTP@", &p.smtp_port.to_string())
        .replace("@SMTPS@", &p.smtps_port.to_string())
        .replace("@CHAIN@", &p.chain.display().to_string())
        .replace("@KEY@", &p.key.display().to_string())
        .replace("@TLS_HOSTS@", on_off(p.opts.starttls))
        .replace("@SIZE@", &p.opts.message_size_limit.to_string())
        .replace("@UTF8_HOSTS@", on_off(p.opts.smtputf8))
        .replace("@PIPELINING_HOSTS@", on_off(p.opts.pipelining))
        .replace("@CHUNKING_HOSTS@", on_off(p.opts.chunking))
        .replace("@AUTH_CONDITION@", auth_condition)
        .replace("@USER@", p.user)
        .replace("@PASSWORD@", p.password)
}
