//! `oakley -f script`: runs a netsh-style script.
//!
//! Accepted line forms, so existing `netsh -f` scripts and batch files' netsh lines run
//! unchanged: `add policy ...` (in the static context), `static add policy ...`,
//! `ipsec static add policy ...`, `netsh ipsec static add policy ...`; context lines
//! `pushd ipsec static`, `popd`, `ipsec static`, `static`; comments starting with `#`,
//! `rem` or `::`; `@echo off`; blank lines; `exit`/`quit`/`bye` end the script.
//!
//! The script stops at the first error, which names the line and the parameter. Outside
//! batch mode the commands before it stay applied (each command is written as it runs); in
//! batch mode (`set batch mode=enable`) nothing at all is written.

use crate::commands::{self, Context, Output};
use crate::error::CliError;
use crate::params::split_words;

/// A script line's command and the context it runs in.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Static(Vec<String>),
    /// `dynamic ...`: sent to the running daemon.
    Dynamic(Vec<String>),
}

/// Strips the context words a line may start with; `None` for lines with no command.
fn command_words(mut words: Vec<String>) -> Result<Option<Line>, CliError> {
    let first = |w: &Vec<String>| w.first().map(|s| s.to_ascii_lowercase());
    match first(&words).as_deref() {
        None => return Ok(None),
        Some("pushd" | "popd" | "@echo" | "echo" | "rem" | "cls") => return Ok(None),
        _ => {}
    }
    for ctx in ["netsh", "ipsec"] {
        if first(&words).as_deref() == Some(ctx) {
            words.remove(0);
        }
    }
    match first(&words).as_deref() {
        Some("static") => {
            words.remove(0);
        }
        Some("dynamic") => {
            words.remove(0);
            return Ok((!words.is_empty()).then_some(Line::Dynamic(words)));
        }
        _ => {}
    }
    Ok((!words.is_empty()).then_some(Line::Static(words)))
}

/// Runs the whole script; returns the output of every command.
pub fn run(ctx: &mut Context<'_>, text: &str) -> Result<String, CliError> {
    let mut out = String::new();
    let mut batch_start = ctx.session.snapshot();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        let lower = t.to_ascii_lowercase();
        if t.is_empty()
            || t.starts_with('#')
            || t.starts_with("::")
            || lower == "rem"
            || lower.starts_with("rem ")
        {
            continue;
        }
        if ["exit", "quit", "bye"]
            .iter()
            .any(|w| t.eq_ignore_ascii_case(w))
        {
            break;
        }
        let words = split_words(t).map_err(|e| e.at_line(line))?;
        let words = match command_words(words).map_err(|e| e.at_line(line))? {
            None => continue,
            Some(Line::Static(w)) => w,
            Some(Line::Dynamic(w)) => {
                let o =
                    crate::dynamic::run(&ctx.session.state_dir, &w).map_err(|e| e.at_line(line))?;
                out.push_str(&o.text);
                continue;
            }
        };
        let before = (!ctx.session.batch).then(|| ctx.session.snapshot());
        match commands::run(ctx, &words) {
            Ok(Output { text, .. }) => {
                out.push_str(&text);
                // Batch mode just started: a failure rolls back to here.
                if let (Some(b), true) = (before, ctx.session.batch) {
                    batch_start = b;
                }
            }
            Err(e) => {
                if ctx.session.batch {
                    // All or nothing: forget every change of the batch.
                    ctx.session.restore(batch_start);
                    ctx.session.batch = false;
                }
                return Err(e.at_line(line));
            }
        }
    }
    // A batch still open at the end is written now.
    ctx.session.batch = false;
    ctx.session.commit()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Option<Vec<String>> {
        match command_words(split_words(s).unwrap()).unwrap() {
            Some(Line::Static(w)) => Some(w),
            Some(Line::Dynamic(_)) => panic!("dynamic"),
            None => None,
        }
    }

    #[test]
    fn context_prefixes_are_stripped() {
        let want = Some(vec!["add".to_string(), "policy".into(), "name=x".into()]);
        assert_eq!(w("netsh ipsec static add policy name=x"), want);
        assert_eq!(w("static add policy name=x"), want);
        assert_eq!(w("add policy name=x"), want);
        assert_eq!(w("pushd ipsec static"), None);
        assert_eq!(w("static"), None);
        assert_eq!(
            command_words(split_words("netsh ipsec dynamic show all").unwrap()).unwrap(),
            Some(Line::Dynamic(vec!["show".into(), "all".into()]))
        );
    }
}
