//! netsh-style words and `key=value` parameters.
//!
//! netsh splits a command line on blanks, keeps double-quoted text together (the quotes
//! may start mid-word: `rootca="CN=Root, O=Example certmap:yes"`), matches command words
//! and parameter tags by unambiguous prefix (`sh pol`, `qmsec=`), allows the tags to be
//! left out when values come in the documented order, and reads yes/no values by prefix
//! (`soft=y`).

use crate::error::CliError;

/// Splits a line into words; double quotes group and are removed.
pub fn split_words(line: &str) -> Result<Vec<String>, CliError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err(CliError::new("unbalanced double quote"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Finds `word` among `choices` by case-insensitive unambiguous prefix; an exact match
/// always wins.
pub fn match_prefix<'a>(word: &str, choices: &[&'a str]) -> Result<&'a str, Vec<&'a str>> {
    let w = word.to_ascii_lowercase();
    if let Some(exact) = choices.iter().find(|c| c.eq_ignore_ascii_case(&w)) {
        return Ok(exact);
    }
    let hits: Vec<&str> = choices
        .iter()
        .copied()
        .filter(|c| !w.is_empty() && c.to_ascii_lowercase().starts_with(&w))
        .collect();
    if hits.len() == 1 {
        Ok(hits[0])
    } else {
        Err(hits)
    }
}

/// Parameters of one command, in the order given (the order matters for authentication
/// methods, whose preference is their order on the line).
#[derive(Debug, Default)]
pub struct Params {
    pub items: Vec<(&'static str, String)>,
}

impl Params {
    /// Matches words against the command's parameter tags (in documented order).
    /// `repeatable` tags may appear more than once.
    pub fn parse(
        words: &[String],
        tags: &[&'static str],
        repeatable: &[&str],
    ) -> Result<Params, CliError> {
        let mut items: Vec<(&'static str, String)> = Vec::new();
        let mut next_positional = 0usize;
        for w in words {
            let (tag, value) = match w.split_once('=') {
                Some((k, v)) => {
                    let tag = match_prefix(k, tags).map_err(|hits| {
                        let msg = if hits.is_empty() {
                            format!(
                                "unknown parameter '{k}' (expected one of: {})",
                                tags.join(", ")
                            )
                        } else {
                            format!("ambiguous parameter '{k}' (could be {})", hits.join(", "))
                        };
                        CliError::param(k, msg)
                    })?;
                    (tag, v.to_string())
                }
                None => {
                    // A value without its tag takes the next tag not yet given.
                    while next_positional < tags.len()
                        && items.iter().any(|(t, _)| *t == tags[next_positional])
                    {
                        next_positional += 1;
                    }
                    let Some(tag) = tags.get(next_positional) else {
                        return Err(CliError::new(format!("unexpected value '{w}'")));
                    };
                    next_positional += 1;
                    (*tag, w.clone())
                }
            };
            if !repeatable.contains(&tag) && items.iter().any(|(t, _)| *t == tag) {
                return Err(CliError::param(tag, "given more than once"));
            }
            items.push((tag, value));
        }
        Ok(Params { items })
    }

    pub fn get(&self, tag: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(t, _)| *t == tag)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, tag: &str) -> bool {
        self.get(tag).is_some()
    }

    pub fn required(&self, tag: &'static str) -> Result<&str, CliError> {
        self.get(tag)
            .ok_or_else(|| CliError::param(tag, "is required"))
    }

    /// A yes/no value (`yes`, `no`, or a prefix such as `y`).
    pub fn yes_no(&self, tag: &'static str) -> Result<Option<bool>, CliError> {
        self.get(tag).map(|v| parse_yes_no(tag, v)).transpose()
    }

    /// A number within bounds.
    pub fn number<T>(&self, tag: &'static str, lo: T, hi: T) -> Result<Option<T>, CliError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        self.get(tag)
            .map(|v| {
                let n: T = v.trim().parse().map_err(|_| {
                    // A number too large for the type is out of range, not "not a number".
                    if v.trim().parse::<i128>().is_ok() {
                        CliError::param(tag, format!("{} is outside {lo}-{hi}", v.trim()))
                    } else {
                        CliError::param(tag, format!("'{v}' is not a number"))
                    }
                })?;
                if n < lo || n > hi {
                    return Err(CliError::param(tag, format!("{n} is outside {lo}-{hi}")));
                }
                Ok(n)
            })
            .transpose()
    }

    /// One of a fixed set of words, by prefix.
    pub fn choice(
        &self,
        tag: &'static str,
        choices: &[&'static str],
    ) -> Result<Option<&'static str>, CliError> {
        self.get(tag)
            .map(|v| {
                match_prefix(v, choices).map_err(|_| {
                    CliError::param(tag, format!("'{v}' is not one of {}", choices.join(", ")))
                })
            })
            .transpose()
    }
}

pub fn parse_yes_no(tag: &str, v: &str) -> Result<bool, CliError> {
    match match_prefix(v, &["yes", "no"]) {
        Ok("yes") => Ok(true),
        Ok(_) => Ok(false),
        Err(_) => Err(CliError::param(tag, format!("'{v}' is not yes or no"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        split_words(s).unwrap()
    }

    #[test]
    fn quotes_group_words() {
        assert_eq!(
            w(r#"add rule name="Web rule" rootca="CN=Root, O=X certmap:yes" psk=abc"#),
            vec![
                "add",
                "rule",
                "name=Web rule",
                "rootca=CN=Root, O=X certmap:yes",
                "psk=abc"
            ]
        );
        assert_eq!(w(r#"desc="""#), vec!["desc="]);
        assert!(split_words("name=\"x").is_err());
    }

    #[test]
    fn prefixes_and_positionals() {
        let tags = [
            "name",
            "description",
            "qmpfs",
            "inpass",
            "soft",
            "action",
            "qmsecmethods",
        ];
        let p = Params::parse(&w("FilterA qmsec=ESP[3DES,SHA1] soft=y"), &tags, &[]).unwrap();
        assert_eq!(p.get("name"), Some("FilterA"));
        assert_eq!(p.get("qmsecmethods"), Some("ESP[3DES,SHA1]"));
        assert_eq!(p.yes_no("soft").unwrap(), Some(true));
        let e = Params::parse(&w("qm=yes"), &tags, &[]).unwrap_err();
        assert!(e.to_string().contains("ambiguous"), "{e}");
        let e = Params::parse(&w("color=red"), &tags, &[]).unwrap_err();
        assert!(e.to_string().contains("unknown parameter 'color'"), "{e}");
        let e = Params::parse(&w("name=a name=b"), &tags, &[]).unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");
        assert!(
            Params::parse(&w("soft=maybe"), &tags, &[])
                .unwrap()
                .yes_no("soft")
                .is_err()
        );
    }
}
