//! Folders only docward's own user may enter (mode 0700): everything docward keeps under its
//! data dir — the key store, the socket folder and every docs library (document text, indexes,
//! manifests) — whatever mode the data dir or an older docward gave them.

use std::path::Path;

/// Creates `dir` and its missing parents as private folders, and makes `dir` itself private if
/// it already existed with a wider mode.
pub fn create(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    restrict(dir);
    Ok(())
}

/// Makes an existing folder private (0700) if group or others may read or enter it; logs what
/// it did, and warns when it cannot.
pub fn restrict(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            match std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
                Ok(()) => {
                    tracing::info!(dir = %dir.display(), "made the folder private (mode 0700)")
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), "the folder is readable by other users and could not be made private: {e}")
                }
            }
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_parents_and_an_open_existing_folder_become_private() {
        let tmp = tempfile::tempdir().unwrap();
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        super::create(&open).unwrap();
        assert_eq!(mode(&open), 0o700);
        let deep = open.join("a/b/c");
        super::create(&deep).unwrap();
        for dir in [open.join("a"), open.join("a/b"), deep] {
            assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        }
    }
}
