//! Webhook signing secrets. A tenant's secret is never stored: it is derived when needed from the
//! server's webhook key (32 random bytes in `<data dir>/secrets/webhook.key`, mode 0600, outside
//! the sled store) and the tenant's name and secret generation. A copy of the store holds no
//! secret; bumping the generation changes a tenant's secret without touching the others.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::TryRng;
use rand::rngs::SysRng;

use super::error::{ReminderError, ReminderResult};

/// Where the server's webhook key lives.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("secrets").join("webhook.key")
}

/// The server's webhook key.
pub struct WebhookKey([u8; 32]);

impl WebhookKey {
    /// Reads the key, creating it on first use. Two processes creating it at once agree: the
    /// file is written under a temporary name and linked into place only if none exists.
    pub fn load_or_create(data_dir: &Path) -> ReminderResult<WebhookKey> {
        let path = key_path(data_dir);
        if let Some(key) = read(&path)? {
            return Ok(key);
        }
        let dir = path.parent().expect("key path has a parent");
        crate::private_dir::create(dir).map_err(|e| ReminderError::Secret(path.clone(), e))?;
        let mut bytes = [0u8; 32];
        SysRng.try_fill_bytes(&mut bytes).map_err(|e| {
            ReminderError::Secret(path.clone(), std::io::Error::other(e.to_string()))
        })?;
        let temp = dir.join(format!("webhook.key.{}", std::process::id()));
        write_private(&temp, hex(&bytes).as_bytes())
            .map_err(|e| ReminderError::Secret(temp.clone(), e))?;
        // hard_link fails if the key exists: then another process won, and its key is read.
        let linked = std::fs::hard_link(&temp, &path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => Ok(WebhookKey(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                read(&path)?.ok_or_else(|| ReminderError::Secret(path.clone(), e))
            }
            Err(e) => Err(ReminderError::Secret(path, e)),
        }
    }

    /// The signing secret of a tenant's webhook at a generation: `whsec_` and 64 hex digits.
    pub fn tenant_secret(&self, tenant: &str, generation: u32) -> String {
        let mut hasher = blake3::Hasher::new_keyed(&self.0);
        hasher.update(b"docward tenant webhook v1\0");
        hasher.update(tenant.as_bytes());
        hasher.update(&[0]);
        hasher.update(&generation.to_be_bytes());
        format!("whsec_{}", hex(hasher.finalize().as_bytes()))
    }
}

fn read(path: &Path) -> ReminderResult<Option<WebhookKey>> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(text.trim()).map(|k| Some(WebhookKey(k))).ok_or_else(|| {
            ReminderError::Secret(
                path.to_path_buf(),
                std::io::Error::other(
                    "not 64 hex digits: restore it from a backup, or remove it to make a new one (every tenant's webhook secret then changes)",
                ),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ReminderError::Secret(path.to_path_buf(), e)),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_kept_private_and_secrets_differ_per_tenant_and_generation() {
        let dir = tempfile::tempdir().unwrap();
        let first = WebhookKey::load_or_create(dir.path()).unwrap();
        let again = WebhookKey::load_or_create(dir.path()).unwrap();
        assert_eq!(
            first.tenant_secret("acme", 0),
            again.tenant_secret("acme", 0)
        );
        assert_ne!(
            first.tenant_secret("acme", 0),
            first.tenant_secret("acme", 1)
        );
        assert_ne!(
            first.tenant_secret("acme", 0),
            first.tenant_secret("beta", 0)
        );
        assert_eq!(first.tenant_secret("acme", 0).len(), 6 + 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "webhook key readable by others: {mode:o}");
        }
        std::fs::write(key_path(dir.path()), "short").unwrap();
        let err = WebhookKey::load_or_create(dir.path()).err().unwrap();
        assert!(err.to_string().contains("webhook.key"), "{err}");
    }
}
