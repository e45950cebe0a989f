//! The TLS provider shared by the webhook client and the mailer: rustls with ring.

/// Makes ring rustls's process-wide provider (once; later calls do nothing).
pub fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
