//! Helpers shared by the CLI tests: run `oakley` against a temporary state directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fixed clock so `Last Modified` is stable.
pub const NOW: &str = "1700000000";

pub struct Oakley {
    pub dir: tempfile::TempDir,
}

impl Oakley {
    pub fn new() -> Oakley {
        Oakley {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_oakley"));
        c.arg("--state-dir").arg(self.dir.path());
        c.env("OAKLEY_NOW", NOW).env_remove("OAKLEY_STATE_DIR");
        c
    }

    /// Runs `oakley <args>`, returns (success, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        let o: Output = self.cmd().args(args).output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    /// Runs and insists on success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "oakley {args:?} failed: {err}");
        out
    }

    pub fn script(&self, file: &Path) -> (bool, String, String) {
        self.run(&["-f", file.to_str().unwrap()])
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A planning-mode host description.
    pub fn host(&self, json: &str) -> String {
        self.write("host.json", json).to_str().unwrap().to_string()
    }
}

pub fn script_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}
