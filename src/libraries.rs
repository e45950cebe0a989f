//! Where each (tenant, env) pair keeps its docs, and a per-process cache of opened libraries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::docs::{self, Library};
use crate::domain::Env;

/// The directory of the docs library of `tenant` in `env`: `<data dir>/docs/<tenant>/<env>`.
/// Tenant names are validated to be path-safe when tenants are created.
pub fn library_dir(data_dir: &Path, tenant: &str, env: Env) -> PathBuf {
    data_dir.join("docs").join(tenant).join(env.as_str())
}

/// [`library_dir`], created if missing, with it and the folders between it and the data dir
/// (`docs/`, `docs/<tenant>`) private: they hold the full text of every document.
pub fn private_library_dir(data_dir: &Path, tenant: &str, env: Env) -> docs::Result<PathBuf> {
    let docs_root = data_dir.join("docs");
    let tenant_dir = docs_root.join(tenant);
    let dir = tenant_dir.join(env.as_str());
    for private in [&docs_root, &tenant_dir, &dir] {
        crate::private_dir::create(private).map_err(|e| docs::DocsError::Io {
            path: private.clone(),
            source: e,
        })?;
    }
    Ok(dir)
}

/// Opened libraries, one per (tenant, env), shared by every session of a server process.
pub struct Libraries {
    data_dir: PathBuf,
    open: Mutex<HashMap<(String, Env), Arc<Library>>>,
}

impl Libraries {
    /// Libraries under `data_dir`.
    pub fn new(data_dir: &Path) -> Libraries {
        Libraries {
            data_dir: data_dir.to_path_buf(),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// The library of `tenant` in `env`, opened on first use.
    pub fn get(&self, tenant: &str, env: Env) -> docs::Result<Arc<Library>> {
        let key = (tenant.to_owned(), env);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lib) = open.get(&key) {
            return Ok(Arc::clone(lib));
        }
        let dir = private_library_dir(&self.data_dir, tenant, env)?;
        let lib = Arc::new(Library::open(&dir)?);
        open.insert(key, Arc::clone(&lib));
        Ok(lib)
    }
}
