//! Writing output files so that a reader never sees half of one.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Writes a file under a fresh temporary name beside it (created exclusively, so a symbolic
/// link planted in the folder is never followed), flushes it to disk, then renames it into
/// place: `path` holds the old bytes or the new ones, never half of them.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = builder(false)
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot move {} into place", path.display()))?;
    Ok(())
}

/// A temporary file or folder builder whose result has the permissions a plain
/// `File::create` or `create_dir` would give (0666 or 0777 less the umask), not tempfile's
/// private 0600 / 0700: outputs on a shared file system stay readable by the team.
pub fn builder<'a, 'b>(folder: bool) -> tempfile::Builder<'a, 'b> {
    #[allow(unused_mut)]
    let mut b = tempfile::Builder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = if folder { 0o777 } else { 0o666 };
        b.permissions(std::fs::Permissions::from_mode(mode));
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_planted_symlink_at_the_old_partial_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("out.csv.partial")).unwrap();
        write_atomic(&dir.path().join("out.csv"), b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("out.csv")).unwrap(),
            "new"
        );
        // Nothing but the file, the victim and the planted link is left.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
        // With the permissions a plain write gives.
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode();
        assert_eq!(mode(&dir.path().join("out.csv")), mode(&victim));
        let sub = builder(true).tempdir_in(dir.path()).unwrap();
        std::fs::create_dir(dir.path().join("plain")).unwrap();
        assert_eq!(mode(sub.path()), mode(&dir.path().join("plain")));
    }
}
