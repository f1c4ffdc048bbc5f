//! A Linux guest with real kernel ESP/AH under qemu (TCG), wired into a test namespace by a
//! tap device. The host hands it a shell script over a 9p share; the guest runs it as root
//! once booted, writes guest.log and guest.rc to the share and powers off. The qemu process
//! is killed on drop, so a failing test leaves nothing running. Images come from
//! scripts/kernel-peer/build.sh (built once, cached outside the source tree).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Where the images are cached.
pub fn image_dir() -> PathBuf {
    std::env::var_os("OAKLEY_KPEER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/oakley-kernel-peer"))
}

/// Builds the images if they are missing (minutes, once).
pub fn ensure_images() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/kernel-peer/build.sh");
    let st = Command::new("bash").arg(&script).status().expect("bash");
    assert!(st.success(), "{} failed", script.display());
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[allow(dead_code)] // Libreswan joins when the daemon negotiates with IKE (issue 10)
pub enum Flavour {
    StrongSwan,
    Libreswan,
}

pub struct Guest {
    pid: Option<u32>,
    pub share: PathBuf,
}

impl Guest {
    /// Boots a guest in namespace `ns` on tap `tap` running `script`.
    pub fn boot(ns: &str, tap: &str, flavour: Flavour, share: &Path, script: &str) -> Self {
        let dir = image_dir();
        std::fs::create_dir_all(share).unwrap();
        std::fs::write(share.join("guest.sh"), script).unwrap();
        let disk = match flavour {
            Flavour::StrongSwan => dir.join("disk.img"),
            Flavour::Libreswan => dir.join("disk-libreswan.img"),
        };
        let pidfile = share.join("qemu.pid");
        let st = Command::new("ip")
            .args(["netns", "exec", ns, "qemu-system-x86_64"])
            .args([
                "-machine",
                "q35,accel=tcg",
                "-cpu",
                "max",
                "-m",
                "768",
                "-smp",
                "1",
            ])
            .arg("-kernel")
            .arg(dir.join("vmlinuz"))
            .arg("-initrd")
            .arg(dir.join("initrd.img"))
            .args([
                "-append",
                "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet",
            ])
            .arg("-drive")
            .arg(format!(
                "file={},if=virtio,format=raw,snapshot=on",
                disk.display()
            ))
            .arg("-netdev")
            .arg(format!("tap,id=n0,ifname={tap},script=no,downscript=no"))
            .args(["-device", "virtio-net-pci,netdev=n0,mac=52:54:00:4f:4b:02"])
            .arg("-virtfs")
            .arg(format!(
                "local,path={},mount_tag=host,security_model=none,id=host",
                share.display()
            ))
            .args(["-display", "none", "-monitor", "none"])
            .arg("-serial")
            .arg(format!("file:{}", share.join("console.log").display()))
            .args(["-daemonize", "-pidfile"])
            .arg(&pidfile)
            .status()
            .expect("qemu-system-x86_64 (scripts/kernel-peer/build.sh installs it)");
        assert!(st.success(), "qemu did not start");
        let pid = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok());
        let g = Guest {
            pid,
            share: share.to_owned(),
        };
        assert!(g.pid.is_some(), "no qemu pid");
        g
    }

    /// Waits for a file the guest writes into the share.
    pub fn wait_for(&self, name: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.share.join(name).exists() {
                return true;
            }
            if !self.running() {
                return self.share.join(name).exists();
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    fn running(&self) -> bool {
        self.pid
            .is_some_and(|p| Path::new(&format!("/proc/{p}")).exists())
    }

    /// The guest script's exit code and log, once it finished (or `None` on timeout).
    pub fn finish(&self, timeout: Duration) -> (Option<i32>, String) {
        let done = self.wait_for("guest.rc", timeout);
        let log = std::fs::read_to_string(self.share.join("guest.log")).unwrap_or_default();
        let rc = done
            .then(|| std::fs::read_to_string(self.share.join("guest.rc")).ok())
            .flatten()
            .and_then(|s| s.trim().parse().ok());
        (rc, log)
    }

    /// The tail of the serial console, for failure messages.
    pub fn console(&self) -> String {
        let c = std::fs::read_to_string(self.share.join("console.log")).unwrap_or_default();
        let lines: Vec<&str> = c.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Some(p) = self.pid.take() {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Path::new(&format!("/proc/{p}")).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}
