//! Reminder mail over SMTP with lettre. `smtp://host:port` upgrades with STARTTLS when the server
//! offers it (`?tls=required` refuses a server that does not), `smtps://` speaks TLS from the
//! first byte; credentials go in the URL's user and password.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{Address, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::error::{ReminderError, ReminderResult};
use super::message::Reminder;
use super::webhook::RetryPolicy;

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// A configured SMTP sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for logs (the URL may hold a password).
    pub server: String,
}

/// Parses one mail address (no display name), with a message that says what is wrong.
pub fn parse_address(text: &str) -> ReminderResult<Address> {
    text.trim().parse::<Address>().map_err(|e| {
        ReminderError::MailConfig(format!(
            "'{text}' is not a mail address ({e}): give one such as ops@example.com"
        ))
    })
}

impl Mailer {
    /// A sender for `smtp_url`, writing as `from` (an address, or `Name <address>`).
    pub fn new(smtp_url: &str, from: &str) -> ReminderResult<Mailer> {
        super::tls::install_provider();
        let bad = |why: String| {
            ReminderError::MailConfig(format!(
                "--smtp-url: {why}; give smtp://HOST:PORT (STARTTLS when offered), smtp://HOST:PORT?tls=required or smtps://HOST:PORT, with USER:PASSWORD@ before the host if the server wants a login"
            ))
        };
        let mut url = reqwest::Url::parse(smtp_url).map_err(|e| bad(e.to_string()))?;
        if !matches!(url.scheme(), "smtp" | "smtps") || url.host_str().is_none() {
            return Err(bad(format!("the scheme is '{}'", url.scheme())));
        }
        let has_tls_param = url.query_pairs().any(|(k, _)| k == "tls");
        if url.scheme() == "smtp" && !has_tls_param {
            url.query_pairs_mut().append_pair("tls", "opportunistic");
        }
        let server = format!(
            "{}:{}",
            url.host_str().unwrap_or_default(),
            url.port()
                .unwrap_or(if url.scheme() == "smtps" { 465 } else { 587 })
        );
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())
            .map_err(|e| bad(e.to_string()))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        let from = from.trim().parse::<Mailbox>().map_err(|e| {
            ReminderError::MailConfig(format!(
                "--mail-from '{from}' is not a mail address ({e}): give one such as 'docward <docward@example.com>'"
            ))
        })?;
        Ok(Mailer {
            transport,
            from,
            server,
        })
    }

    /// Sends `reminder` to `to`, retrying transient failures. Returns the attempts made and the
    /// last error if the mail was not accepted.
    pub async fn send(
        &self,
        to: &Address,
        reminder: &Reminder,
        policy: RetryPolicy,
    ) -> (u32, Result<(), String>) {
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to.clone()))
            .subject(reminder.subject())
            .header(ContentType::TEXT_PLAIN)
            .body(reminder.body());
        let message = match message {
            Ok(message) => message,
            Err(e) => return (0, Err(format!("could not build the mail: {e}"))),
        };
        let attempts = policy.attempts.max(1);
        let mut pause = policy.backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.transport.send(message.clone()).await {
                Ok(_) => return (attempt, Ok(())),
                Err(e) => {
                    last = format!("the SMTP server {} refused or failed: {e}", self.server);
                    if e.is_permanent() {
                        return (attempt, Err(last));
                    }
                }
            }
            if attempt < attempts {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
        (attempts, Err(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_and_addresses_are_checked() {
        assert!(Mailer::new("smtp://127.0.0.1:2525", "docward@example.com").is_ok());
        assert!(Mailer::new("smtps://mail.example.com", "Docward <d@example.com>").is_ok());
        assert!(Mailer::new("smtp://m.example.com:587?tls=required", "d@example.com").is_ok());
        for bad in ["http://x", "mail.example.com", "smtp://x?tls=sometimes"] {
            let err = Mailer::new(bad, "d@example.com").err().expect(bad);
            assert!(err.to_string().contains("--smtp-url"), "{err}");
        }
        assert!(Mailer::new("smtp://x:25", "not an address").is_err());
        assert!(parse_address("ops@example.com").is_ok());
        assert!(parse_address("ops").is_err());
        assert!(parse_address("Ops <ops@example.com>").is_err());
    }
}
