//! What the tools share with the generator of their man pages and shell completions
//! (`packaging/docgen`): the `smtp32ctl` command line. The programs themselves are the binaries
//! `smtp32ctl` and `smtp32-sendmail`.

#[path = "smtp32ctl/cli.rs"]
pub mod ctl_cli;
