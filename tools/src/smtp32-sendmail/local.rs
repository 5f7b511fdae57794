//! Who is sending from where: the invoking user's login name and full name
//! (from the password database, by the real uid, as Postfix does) and the
//! machine's host name, which makes the default sender `login@hostname`
//! and qualifies bare recipient names. The look-ups are `smtp32-host`'s.

/// The invoking user as the system knows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUser {
    /// The login name of the real uid, when the password database has it.
    pub login: Option<String>,
    /// The first comma-separated part of the GECOS field, when not empty.
    pub gecos_name: Option<String>,
}

impl LocalUser {
    /// Looks up the real uid in the password database.
    pub fn current() -> LocalUser {
        match smtp32_host::account(smtp32_host::real_uid()) {
            Some(a) => LocalUser {
                login: Some(a.login).filter(|l| !l.is_empty()),
                gecos_name: a.full_name,
            },
            None => LocalUser {
                login: None,
                gecos_name: None,
            },
        }
    }
}

/// The machine's host name (`gethostname(2)`), `localhost` if it has none.
pub fn hostname() -> String {
    smtp32_host::hostname().unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_user_and_host_are_known() {
        let me = LocalUser::current();
        assert!(me.login.as_deref().is_some_and(|l| !l.is_empty()), "{me:?}");
        let host = hostname();
        assert!(!host.is_empty() && !host.contains(' '), "{host}");
    }
}
