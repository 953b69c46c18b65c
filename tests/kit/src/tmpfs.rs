//! A small file system of a test's own (a size-limited tmpfs), for the disk-full drills: mounted
//! in a temporary directory and unmounted when dropped.

use std::io::Write;
use std::path::{Path, PathBuf};

/// A mounted tmpfs; unmounted (and its directory removed) on drop.
pub struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (mount's syntax: "4m", "16m"). `None` (after saying so on
    /// stderr) where the machine forbids mounting: it needs root, or CAP_SYS_ADMIN.
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("skipped: this machine does not let the test mount a tmpfs (needs root)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    /// Where it is mounted.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system with a ballast file, leaving about `leave` bytes free, as another
    /// process filling the disk would; returns the file, to delete when space is to come back.
    pub fn fill_leaving(&self, leave: u64) -> PathBuf {
        let path = self.path().join("ballast");
        let mut ballast = std::fs::File::create(&path).expect("ballast");
        let chunk = vec![1u8; 16 * 1024];
        let mut len = 0u64;
        while ballast.write_all(&chunk).is_ok() {
            len += chunk.len() as u64;
        }
        ballast
            .set_len(len.saturating_sub(leave))
            .expect("trim ballast");
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}
