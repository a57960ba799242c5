//! Atomic file replacement: content goes to a temporary file in the destination's directory,
//! which is flushed and then renamed over the destination, so readers see the old file or the
//! new one, never a half-written one.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crate::error::{Result, RetrieveError};

/// The temporary sibling of `path` that a writer fills before renaming it into place.
pub(crate) fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

/// Writes `path` atomically by running `fill` against a buffered temporary file.
pub(crate) fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let temp = temp_path(path);
    let result = (|| {
        let mut out = BufWriter::new(File::create(&temp)?);
        fill(&mut out)?;
        out.into_inner().map_err(|err| err.into_error())?.sync_all()
    })();
    if let Err(err) = result {
        let _ = fs::remove_file(&temp);
        return Err(RetrieveError::io(path, err));
    }
    rename_into_place(&temp, path)
}

/// Renames a finished temporary file onto `path`, removing the temporary on failure.
pub(crate) fn rename_into_place(temp: &Path, path: &Path) -> Result<()> {
    fs::rename(temp, path).map_err(|err| {
        let _ = fs::remove_file(temp);
        RetrieveError::io(path, err)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn replaces_content_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        write_with(&path, |out| out.write_all(b"first")).unwrap();
        write_with(&path, |out| out.write_all(b"second")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_fill_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.bin");
        write_with(&path, |out| out.write_all(b"old")).unwrap();
        let err = write_with(&path, |_| Err(std::io::Error::other("boom"))).unwrap_err();
        assert!(err.to_string().contains("out.bin"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
