//! `relay.aliases`: an aliases file as sendmail's, for the recipients of
//! this host: `root: ops@example.com`, `www-data: web@example.com,
//! ops@example.com`, and `default: ops@example.com` for every other local
//! name. `#` starts a comment line; a line that starts with white space
//! continues the one above. Targets are full addresses (no nesting).

use std::collections::BTreeMap;
use std::path::Path;

/// The alias table: local name (lower case) to addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aliases(BTreeMap<String, Vec<String>>);

impl Aliases {
    /// Reads and checks `path`; the error names the line.
    pub fn load(path: &Path) -> Result<Aliases, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Aliases::parse(&text)
    }

    /// Parses the text of an aliases file.
    pub fn parse(text: &str) -> Result<Aliases, String> {
        let mut entries: Vec<(usize, String)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            match entries.last_mut() {
                Some((_, entry)) if line.starts_with([' ', '\t']) => {
                    entry.push(' ');
                    entry.push_str(trimmed);
                }
                _ => entries.push((i + 1, trimmed.to_string())),
            }
        }
        let mut table = BTreeMap::new();
        for (line, entry) in entries {
            let bad = |why: &str| format!("line {line}: {why}");
            let (name, targets) = entry
                .split_once(':')
                .ok_or_else(|| bad("expected `name: address, ...`"))?;
            let name = name.trim().to_ascii_lowercase();
            if name.is_empty() || name.contains(['@', ' ', '<', '>']) {
                return Err(bad("the name is a local name such as root"));
            }
            let targets: Vec<String> = targets
                .split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect();
            if targets.is_empty() {
                return Err(bad("no address"));
            }
            for t in &targets {
                let ok = t.contains('@')
                    && !t.contains([' ', '<', '>', '"', '\0'])
                    && !t.starts_with('@')
                    && !t.ends_with('@');
                if !ok {
                    return Err(bad(&format!("{t:?} is not an address (user@domain)")));
                }
            }
            if table.insert(name.clone(), targets).is_some() {
                return Err(bad(&format!("{name} is defined twice")));
            }
        }
        Ok(Aliases(table))
    }

    /// The addresses for local name `name`: its alias, else `default`'s, else none.
    pub fn lookup(&self, name: &str) -> Option<&[String]> {
        let name = name.to_ascii_lowercase();
        self.0
            .get(&name)
            .or_else(|| self.0.get("default"))
            .map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_continuations_and_default() {
        let a = Aliases::parse(
            "# local\nroot: ops@x.test\nWWW: web@x.test,\n  ops@x.test\n\ndefault: all@x.test\n",
        )
        .unwrap();
        assert_eq!(a.lookup("ROOT"), Some(&["ops@x.test".to_string()][..]));
        assert_eq!(a.lookup("www").map(<[String]>::len), Some(2));
        assert_eq!(a.lookup("cron"), Some(&["all@x.test".to_string()][..]));
        assert_eq!(Aliases::parse("root: a@b").unwrap().lookup("cron"), None);
    }

    #[test]
    fn mistakes_name_the_line() {
        assert!(Aliases::parse("root ops@x.test")
            .unwrap_err()
            .starts_with("line 1"));
        assert!(Aliases::parse("\nroot: ops")
            .unwrap_err()
            .starts_with("line 2"));
        assert!(Aliases::parse("root: a@b\nroot: c@d")
            .unwrap_err()
            .contains("twice"));
        assert!(Aliases::parse("a@b: c@d")
            .unwrap_err()
            .contains("local name"));
        assert!(Aliases::parse("root:").unwrap_err().contains("no address"));
    }
}
