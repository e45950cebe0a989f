//! Where the docward binary and the data dir live, as written into client configurations: paths
//! that still work after a `cargo build` or `cargo clean`, from any working directory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The binary a client configuration should launch, and what to tell the person about it.
#[derive(Debug)]
pub struct StableExe {
    /// Absolute path of the binary.
    pub path: PathBuf,
    /// A note for stderr when the choice deserves one (a build folder, another installed copy).
    pub note: Option<String>,
}

/// Picks the binary to write into a client configuration: this executable unless it runs from
/// a cargo build folder (`target/`), then an installed `docward` (on `PATH` or in cargo's bin
/// folder), else this executable with a warning that suggests installing.
pub fn stable_exe() -> Result<StableExe> {
    let current = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .context("could not find the docward executable's path")?;
    let Some(build_dir) = cargo_build_dir(&current) else {
        return Ok(StableExe {
            path: current,
            note: None,
        });
    };
    if let Some(installed) = installed_docward() {
        return Ok(StableExe {
            note: Some(format!(
                "note: this docward runs from the build folder {}; the snippet uses the installed {} instead. If that copy is older, update it with `cargo install --path .`",
                build_dir.display(),
                installed.display()
            )),
            path: installed,
        });
    }
    Ok(StableExe {
        note: Some(format!(
            "warning: this docward runs from the build folder {}, which the next `cargo build` replaces and `cargo clean` deletes; install it with `cargo install --path .` and run this command again as `docward ...` to get a path that lasts",
            build_dir.display()
        )),
        path: current,
    })
}

/// The cargo target folder `exe` was built into, if any: the nearest ancestor holding the
/// `CACHEDIR.TAG` that cargo writes into every target folder (whatever it is called).
fn cargo_build_dir(exe: &Path) -> Option<PathBuf> {
    exe.ancestors()
        .skip(1)
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
}

/// An installed `docward` outside any build folder: on `PATH` first (what a terminal runs),
/// then in cargo's bin folder (`CARGO_INSTALL_ROOT`, `CARGO_HOME`, `~/.cargo`).
fn installed_docward() -> Option<PathBuf> {
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let cargo_dirs = [
        env_dir("CARGO_INSTALL_ROOT").map(|d| d.join("bin")),
        env_dir("CARGO_HOME").map(|d| d.join("bin")),
        dirs::home_dir().map(|d| d.join(".cargo").join("bin")),
    ];
    path_dirs
        .into_iter()
        .chain(cargo_dirs.into_iter().flatten())
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(binary_name()))
        .filter(|exe| is_executable(exe))
        .filter_map(|exe| exe.canonicalize().ok())
        .find(|exe| cargo_build_dir(exe).is_none())
}

fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn binary_name() -> OsString {
    OsString::from(format!("docward{}", std::env::consts::EXE_SUFFIX))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// The data dir as an absolute path (without requiring it to exist), so that a client started
/// from another working directory opens the same store.
pub fn absolute_data_dir(data_dir: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(data_dir).with_context(|| {
        format!(
            "could not make the data dir {} absolute: pass --data-dir with an absolute path",
            data_dir.display()
        )
    })?;
    // Resolve symlinks and `..` when the folder exists; keep the plain absolute path otherwise.
    Ok(absolute.canonicalize().unwrap_or(absolute))
}
