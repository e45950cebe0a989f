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
        let lib = Arc::new(Library::open(&library_dir(&self.data_dir, tenant, env))?);
        open.insert(key, Arc::clone(&lib));
        Ok(lib)
    }
}
