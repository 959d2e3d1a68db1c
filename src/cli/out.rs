//! Output folders: one writer at a time (a lock), a run built in a staging folder and renamed
//! into place whole, and the size limit on the files a command reads.

use super::{CliError, bad};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// The largest scenario or sweep file read, in bytes (16 MiB: the largest shipped scenario is
/// a few KiB, a generated one with 50,000 faults about 4 MiB).
pub(crate) const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Reads an input file of at most [`MAX_INPUT_BYTES`], refusing a larger one (bad input)
/// before reading it whole.
pub(crate) fn read_input(path: &Path, what: &str) -> Result<Vec<u8>, CliError> {
    use std::io::Read as _;
    let cannot = |e: std::io::Error| bad(format!("cannot read {what} {}: {e}", path.display()));
    let file = File::open(path).map_err(cannot)?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(bad(format!(
            "error: {}: the file is larger than {} MiB, the limit for a {what}\n  hint: a scenario describes groups of replicas (`replicas = N`), not one table per machine; split a generated file or generate fewer entries",
            path.display(),
            MAX_INPUT_BYTES / (1024 * 1024)
        )));
    }
    Ok(bytes)
}

/// The folder holding `out` and `out`'s own name; `None` for a path without a final name
/// (`.`, `..`, `/`).
fn split(out: &Path) -> Option<(PathBuf, String)> {
    let name = out.file_name()?.to_string_lossy().into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some((parent, name))
}

/// A held lock on an output folder; released when dropped (or when the process dies: the
/// operating system drops the locks of a dead process, so a killed run leaves no stale lock).
pub(crate) struct Lock {
    _file: File,
}

/// Where the lock of output folder `out` lives: `.NAME.lock` beside it (so replacing or
/// removing the folder cannot remove a held lock), or inside it for a path without a name.
pub(crate) fn lock_path(out: &Path) -> PathBuf {
    match split(out) {
        Some((parent, name)) => parent.join(format!(".{name}.lock")),
        None => out.join(".outagesim.lock"),
    }
}

/// Takes the lock at `path` (created if missing, its folder too): exclusive for a writer of
/// the whole folder, shared for one shard of a sweep (shards of one sweep run side by side,
/// but never beside a whole sweep or a merge). Another holder: bad input naming `out`.
pub(crate) fn lock_at(path: &Path, out: &Path, exclusive: bool) -> Result<Lock, CliError> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| bad(format!("cannot create {}: {e}", dir.display())))?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| bad(format!("cannot open the lock file {}: {e}", path.display())))?;
    match try_flock(&file, exclusive) {
        Ok(true) => Ok(Lock { _file: file }),
        Ok(false) => Err(bad(format!(
            "{} is being written by another outagesim process (lock {})\n  hint: wait for it to finish, or choose another --out",
            out.display(),
            path.display()
        ))),
        // A file system without locks (some network mounts): go on unlocked.
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => Ok(Lock { _file: file }),
        Err(e) => Err(bad(format!("cannot lock {}: {e}", path.display()))),
    }
}

/// `flock(2)` without waiting: `Ok(false)` when another process holds the lock. The lock
/// belongs to the open file and goes with it (or with the process).
#[cfg(unix)]
fn try_flock(file: &File, exclusive: bool) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd as _;
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    // SAFETY: flock on a file descriptor this `File` owns and keeps open.
    if unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        Some(libc::ENOLCK | libc::EOPNOTSUPP) => Err(std::io::ErrorKind::Unsupported.into()),
        _ => Err(e),
    }
}

#[cfg(not(unix))]
fn try_flock(_: &File, _: bool) -> std::io::Result<bool> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Takes the exclusive lock of output folder `out`.
pub(crate) fn lock(out: &Path) -> Result<Lock, CliError> {
    lock_at(&lock_path(out), out, true)
}

/// The files that mark a folder as a run's outputs.
const RUN_FILES: [&str; 5] = [
    "summary.json",
    "timeseries.csv",
    "components.csv",
    "events.csv",
    "blast_radius.csv",
];

/// A run's output folder being built: a fresh hidden folder beside `--out`, renamed over it
/// when complete. Dropped without [`Staged::commit`], it is removed and `--out` is untouched.
pub(crate) struct Staged {
    out: PathBuf,
    parent: PathBuf,
    name: String,
    dir: tempfile::TempDir,
    _lock: Lock,
}

impl Staged {
    /// Locks `out`, checks that it is absent, empty or a run's folder (anything else is not
    /// ours to replace), removes what an interrupted run left beside it, and creates the
    /// staging folder.
    pub(crate) fn begin(out: &Path) -> Result<Staged, CliError> {
        let Some((parent, name)) = split(out) else {
            return Err(bad(format!(
                "--out {}: name a folder (a run's folder is replaced whole)\n  hint: e.g. --out output/my-run",
                out.display()
            )));
        };
        std::fs::create_dir_all(&parent)
            .map_err(|e| bad(format!("cannot create {}: {e}", parent.display())))?;
        let lock = lock(out)?;
        match std::fs::symlink_metadata(out) {
            Err(_) => {}
            Ok(m) if m.is_dir() => {
                let mut entries = std::fs::read_dir(out)
                    .map_err(|e| bad(format!("cannot read {}: {e}", out.display())))?;
                let empty = entries.next().is_none();
                if !empty && !RUN_FILES.iter().any(|f| out.join(f).exists()) {
                    return Err(bad(format!(
                        "{} exists and is not a run's output folder (no summary.json or timeseries.csv); a run replaces its folder whole, so it leaves this one alone\n  hint: choose another --out, or remove the folder",
                        out.display()
                    )));
                }
            }
            Ok(_) => {
                return Err(bad(format!(
                    "{} exists and is not a folder\n  hint: choose another --out",
                    out.display()
                )));
            }
        }
        // Leftovers of a run killed while staging or replacing (we hold the lock: no live
        // run owns them).
        if let Ok(entries) = std::fs::read_dir(&parent) {
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                let ours = [".staging-", ".old-"]
                    .iter()
                    .any(|k| n.starts_with(&format!(".{name}{k}")));
                if ours && e.file_type().is_ok_and(|t| t.is_dir()) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = outagesim::files::builder(true)
            .prefix(&format!(".{name}.staging-"))
            .tempdir_in(&parent)
            .map_err(|e| {
                CliError::Failed(anyhow::anyhow!(
                    "cannot create a staging folder in {}: {e}",
                    parent.display()
                ))
            })?;
        Ok(Staged {
            out: out.to_path_buf(),
            parent,
            name,
            dir,
            _lock: lock,
        })
    }

    /// The staging folder: write everything here.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Puts the staging folder in place of `--out`: the earlier folder is moved aside, the
    /// new one renamed in, the earlier one removed. A reader sees the earlier run, nothing, or
    /// the new run; never a mixture.
    pub(crate) fn commit(self) -> Result<(), CliError> {
        let fail = |what: &str, e: std::io::Error| {
            CliError::Failed(anyhow::anyhow!("{what} {}: {e}", self.out.display()))
        };
        sync_dir(self.dir.path());
        let old = if self.out.exists() {
            let aside = outagesim::files::builder(true)
                .prefix(&format!(".{}.old-", self.name))
                .tempdir_in(&self.parent)
                .map_err(|e| fail("cannot make room beside", e))?
                .keep();
            // `aside` is an empty folder: rename replaces it.
            std::fs::rename(&self.out, &aside).map_err(|e| fail("cannot move aside", e))?;
            Some(aside)
        } else {
            None
        };
        let staging = self.dir.keep();
        std::fs::rename(&staging, &self.out).map_err(|e| fail("cannot move into place", e))?;
        sync_dir(&self.parent);
        if let Some(old) = old {
            let _ = std::fs::remove_dir_all(old);
        }
        Ok(())
    }
}

/// Flushes a folder's entries to disk (best effort: not every platform can open folders).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_and_a_dropped_lock_frees_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let first = lock(&out).ok().expect("the first lock");
        match lock(&out) {
            Err(CliError::BadInput(m)) => assert!(m.contains("another outagesim process"), "{m}"),
            _ => panic!("a second exclusive lock was granted"),
        }
        match lock_at(&lock_path(&out), &out, false) {
            Err(CliError::BadInput(_)) => {}
            _ => panic!("a shared lock was granted beside an exclusive one"),
        }
        drop(first);
        let a = lock_at(&lock_path(&out), &out, false).ok().expect("shared");
        let b = lock_at(&lock_path(&out), &out, false).ok().expect("shared");
        assert!(lock(&out).is_err());
        drop((a, b));
        assert!(lock(&out).is_ok());
    }

    #[test]
    fn staging_replaces_a_run_folder_whole_and_leaves_other_folders_alone() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        std::fs::create_dir_all(out.join("what-ifs/old")).unwrap();
        std::fs::write(out.join("summary.json"), "{}").unwrap();
        std::fs::write(out.join("stale.csv"), "x").unwrap();
        let s = Staged::begin(&out).ok().unwrap();
        std::fs::write(s.path().join("summary.json"), "new").unwrap();
        assert_eq!(std::fs::read_to_string(out.join("stale.csv")).unwrap(), "x");
        s.commit().ok().unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["summary.json"]);
        // Beside it: only the lock file.
        let beside: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(beside.len(), 2, "{beside:?}");
        // An abandoned staging folder is removed; --out untouched.
        let s = Staged::begin(&out).ok().unwrap();
        let staged = s.path().to_path_buf();
        drop(s);
        assert!(!staged.exists());
        assert_eq!(
            std::fs::read_to_string(out.join("summary.json")).unwrap(),
            "new"
        );
        // A folder that is not a run's is refused.
        let docs = dir.path().join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("notes.txt"), "mine").unwrap();
        assert!(matches!(Staged::begin(&docs), Err(CliError::BadInput(_))));
        assert!(matches!(
            Staged::begin(Path::new(".")),
            Err(CliError::BadInput(_))
        ));
    }
}
