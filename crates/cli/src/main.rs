//! `oakley`: the `netsh ipsec`-style command line.
//!
//! ```text
//! oakley [--state-dir DIR] [--host FILE] [--json] static <command> [tag=value ...]
//! oakley [--state-dir DIR] [--json] dynamic <command> [tag=value ...]
//! oakley [--state-dir DIR] [--host FILE] -f SCRIPT
//! ```
//! Stores live in the state directory: `--state-dir`, else `OAKLEY_STATE_DIR`, else
//! /var/lib/oakley. `--host FILE` describes a host (JSON `HostConfig`) for `show rsop` and
//! `explain` in planning mode; without it they read this host (logging mode).

mod commands;
mod dynamic;
mod error;
mod params;
mod script;
mod session;
mod show;
mod timefmt;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use commands::{Context, HostSource};
use error::CliError;
use session::Session;

#[derive(Parser, Debug)]
#[command(
    name = "oakley",
    version,
    about = "Policy-driven IPsec: the netsh ipsec static and dynamic command sets",
    after_help = "Examples:\n  oakley static add policy name=Servers assign=yes\n  oakley static add filter filterlist=Web srcaddr=me dstaddr=any protocol=TCP dstport=80\n  oakley static show policy all format=table\n  oakley static show rsop --json\n  oakley static explain srcaddr=10.0.0.9 dstaddr=10.0.0.5 protocol=tcp dstport=445 direction=in\n  oakley dynamic show stats\n  oakley dynamic show qmsas all format=table\n  oakley dynamic set config property=bootmode value=block\n  oakley -f setup.netsh"
)]
struct Args {
    /// State directory holding the stores (overrides OAKLEY_STATE_DIR; default /var/lib/oakley).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Host description (JSON) for show rsop / explain in planning mode.
    #[arg(long, value_name = "FILE")]
    host: Option<PathBuf>,
    /// Print show/rsop/explain output as JSON.
    #[arg(long)]
    json: bool,
    /// Run a netsh-style script.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "SCRIPT",
        conflicts_with = "command"
    )]
    file: Option<PathBuf>,
    /// The command: static|dynamic <verb> <object> [tag=value ...]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Seconds since the epoch; `OAKLEY_NOW` fixes it so tests get stable output.
fn now() -> u64 {
    if let Some(n) = std::env::var("OAKLEY_NOW")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return n;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    // `--json` is also accepted after the command words, where it is natural to type.
    if let Some(i) = args.command.iter().position(|w| w == "--json") {
        args.command.remove(i);
        args.json = true;
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("oakley: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), CliError> {
    let dir = policy::store::state_dir(args.state_dir.as_deref());
    let host = match &args.host {
        None => HostSource::System,
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| {
                CliError::new(format!("cannot read host description {}: {e}", p.display()))
            })?;
            let h = serde_json::from_str(&text).map_err(|e| {
                CliError::new(format!(
                    "host description {} is not valid: {e}",
                    p.display()
                ))
            })?;
            HostSource::Planned(h, p.display().to_string())
        }
    };
    let mut session = Session::new(&dir, now());
    let mut ctx = Context {
        session: &mut session,
        host: &host,
    };
    if let Some(file) = &args.file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| CliError::new(format!("cannot read script {}: {e}", file.display())))?;
        let out = script::run(&mut ctx, &text)
            .map_err(|e| CliError::new(format!("{}: {e}", file.display())))?;
        print!("{out}");
        return Ok(());
    }
    // The shell has split the words already; quotes that reach us (scripts pasted from
    // cmd.exe, `'name="A B"'`) group nothing more and are dropped as netsh would.
    let mut words: Vec<String> = args.command.iter().map(|w| w.replace('"', "")).collect();
    for c in ["netsh", "ipsec"] {
        if words.first().is_some_and(|w| w.eq_ignore_ascii_case(c)) {
            words.remove(0);
        }
    }
    match words.first().map(|w| w.to_ascii_lowercase()) {
        Some(w) if w == "static" => {}
        Some(w) if w == "dynamic" => {
            let out = dynamic::run(&dir, &words[1..])?;
            print_output(args.json, out);
            return Ok(());
        }
        _ => {
            return Err(CliError::new(
                "expected 'static <command>', 'dynamic <command>' or -f SCRIPT (see --help)",
            ));
        }
    }
    let out = commands::run(&mut ctx, &words[1..])?;
    print_output(args.json, out);
    Ok(())
}

fn print_output(json: bool, out: commands::Output) {
    match (json, out.json) {
        (true, Some(j)) => println!("{}", serde_json::to_string_pretty(&j).unwrap_or_default()),
        _ => print!("{}", out.text),
    }
}
