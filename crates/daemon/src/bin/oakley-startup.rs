//! oakley-startup: installs computer startup security (`set config bootmode` and
//! `bootexemptions`, read from `<state-dir>/config.json`) and exits. Run at boot before the
//! network comes up (dist/systemd/oakley-startup.service), so the host is protected until
//! oakleyd applies policy; the table stays after this program ends.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use daemon::firewall::{Firewall, Setup, rules};
use daemon::startup::{load_config, startup_ruleset};

#[derive(Parser, Debug)]
#[command(
    name = "oakley-startup",
    about = "Install Oakley's computer startup security"
)]
struct Args {
    /// State directory holding config.json (default $OAKLEY_STATE_DIR, then /var/lib/oakley).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Print the nftables JSON instead of installing it.
    #[arg(long)]
    print: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let dir = policy::store::state_dir(args.state_dir.as_deref());
    let (cfg, warning) = load_config(&dir);
    if let Some(w) = warning {
        eprintln!("oakley-startup: {w}");
    }
    let fw = Firewall::new(Setup::default());
    let rs = startup_ruleset(&cfg);
    if args.print {
        println!("{}", rules::to_json(&rules::build(&fw.setup, &rs)));
        return ExitCode::SUCCESS;
    }
    match fw.apply(&rs) {
        Ok(()) => {
            eprintln!(
                "oakley-startup: startup security {} in force ({} boot exemptions)",
                cfg.boot_mode,
                cfg.boot_exemptions.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oakley-startup: {e}");
            ExitCode::from(2)
        }
    }
}
