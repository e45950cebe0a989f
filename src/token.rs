//! API tokens: generation, parsing, checksum and hashing.
//!
//! A token reads `dw_<env>_<secret><checksum>`:
//! - `env` is `test` or `live`;
//! - `secret` is 43 base62 characters drawn from the OS CSPRNG (43 × log2(62) ≈ 256.03 bits);
//! - `checksum` is the CRC32 of everything before it, in 6 base62 digits.
//!
//! The checksum lets a mistyped, truncated or made-up token be refused before any lookup, and lets
//! secret scanners recognise a real token. Only [`TokenHash`] (blake3 of the whole token) is stored.

use std::fmt;

use rand::TryRng;
use rand::rngs::SysRng;

use crate::domain::Env;

/// Length of the random secret, in base62 characters.
pub const SECRET_LEN: usize = 43;
/// Length of the checksum, in base62 characters (62^6 > 2^32).
pub const CHECKSUM_LEN: usize = 6;
/// Length of the display prefix: the first characters of the secret, safe to show and log.
pub const DISPLAY_PREFIX_LEN: usize = 8;
/// Every token starts with this.
pub const TOKEN_PREFIX: &str = "dw_";

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a presented string is not a well-formed docward token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Nothing was presented.
    #[error("no API key was given")]
    Empty,
    /// The shape is wrong (prefix, environment, length or alphabet).
    #[error("malformed API key: {0}")]
    Malformed(&'static str),
    /// The shape is right but the checksum does not match: a typo or a truncated paste.
    #[error("API key checksum does not match: the key was mistyped or cut short")]
    BadChecksum,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Rng(String),
}

/// A token that has passed format and checksum checks. It never implements `Display` or `Debug`
/// with its secret: only [`Token::expose`] gives the clear text, for the single moment it is shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    text: String,
    env: Env,
}

/// blake3 of a whole token: the only form in which a token is kept at rest.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash(pub [u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}…)", self.display_prefix())
    }
}

impl Token {
    /// Generates a new token for `env` from the OS CSPRNG.
    pub fn generate(env: Env) -> Result<Token, TokenError> {
        let secret = random_base62(SECRET_LEN)?;
        let body = format!("{TOKEN_PREFIX}{}_{secret}", env.as_str());
        let text = format!("{body}{}", checksum(&body));
        Ok(Token { text, env })
    }

    /// Parses a presented token: trims whitespace, newlines and quotes pasted by accident, then
    /// checks prefix, environment, length, alphabet and checksum.
    pub fn parse(presented: &str) -> Result<Token, TokenError> {
        let text =
            presented.trim_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`'));
        if text.is_empty() {
            return Err(TokenError::Empty);
        }
        let rest = text
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(TokenError::Malformed(
                "it must start with dw_live_ or dw_test_",
            ))?;
        let (env, payload) = if let Some(p) = rest.strip_prefix("live_") {
            (Env::Live, p)
        } else if let Some(p) = rest.strip_prefix("test_") {
            (Env::Test, p)
        } else {
            return Err(TokenError::Malformed(
                "it must start with dw_live_ or dw_test_",
            ));
        };
        if !payload.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(TokenError::Malformed(
                "it contains characters outside A-Z, a-z, 0-9",
            ));
        }
        if payload.len() != SECRET_LEN + CHECKSUM_LEN {
            return Err(TokenError::Malformed(
                if payload.len() < SECRET_LEN + CHECKSUM_LEN {
                    "it is too short (was it cut off when pasted?)"
                } else {
                    "it is too long"
                },
            ));
        }
        let split = text.len() - CHECKSUM_LEN;
        let (body, sum) = text.split_at(split);
        if decode_base62(sum) != Some(u64::from(crc32fast::hash(body.as_bytes()))) {
            return Err(TokenError::BadChecksum);
        }
        Ok(Token {
            text: text.to_owned(),
            env,
        })
    }

    /// The environment named in the token.
    pub fn env(&self) -> Env {
        self.env
    }

    /// The first characters of the secret: safe to show in listings and logs.
    pub fn display_prefix(&self) -> &str {
        let start = TOKEN_PREFIX.len() + self.env.as_str().len() + 1;
        &self.text[start..start + DISPLAY_PREFIX_LEN]
    }

    /// The hash under which the token is stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash(*blake3::hash(self.text.as_bytes()).as_bytes())
    }

    /// The clear text. Call only to show a new token to its owner, once.
    pub fn expose(&self) -> &str {
        &self.text
    }
}

/// Draws `len` uniformly distributed base62 characters from the OS CSPRNG by rejection sampling.
pub fn random_base62(len: usize) -> Result<String, TokenError> {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        SysRng
            .try_fill_bytes(&mut buf)
            .map_err(|e| TokenError::Rng(e.to_string()))?;
        // 248 = 4 × 62: bytes at or above it would bias the alphabet.
        for &b in buf.iter().filter(|&&b| b < 248) {
            if out.len() == len {
                break;
            }
            out.push(BASE62[usize::from(b % 62)] as char);
        }
    }
    Ok(out)
}

/// CRC32 of `body` in fixed-width base62.
fn checksum(body: &str) -> String {
    let mut value = u64::from(crc32fast::hash(body.as_bytes()));
    let mut digits = [b'0'; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

fn decode_base62(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |acc, b| {
        let d = BASE62.iter().position(|&c| c == b)? as u64;
        Some(acc * 62 + d)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fresh(env: Env) -> Token {
        Token::generate(env).unwrap()
    }

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        let t = fresh(Env::Live);
        let s = t.expose();
        assert!(s.starts_with("dw_live_"));
        assert_eq!(s.len(), "dw_live_".len() + SECRET_LEN + CHECKSUM_LEN);
        assert_eq!(t.display_prefix(), &s[8..16]);
        assert!(fresh(Env::Test).expose().starts_with("dw_test_"));
    }

    #[test]
    fn two_tokens_differ() {
        assert_ne!(fresh(Env::Live).expose(), fresh(Env::Live).expose());
    }

    #[test]
    fn pasted_whitespace_and_quotes_are_tolerated() {
        let t = fresh(Env::Test);
        for wrapped in [
            format!("  {}\n", t.expose()),
            format!("\"{}\"", t.expose()),
            format!("'{}'\r\n", t.expose()),
            format!("`{}`", t.expose()),
        ] {
            assert_eq!(Token::parse(&wrapped).unwrap(), t);
        }
    }

    #[test]
    fn shape_errors_are_named() {
        assert_eq!(Token::parse("  "), Err(TokenError::Empty));
        assert!(matches!(
            Token::parse("sk_live_abc"),
            Err(TokenError::Malformed(_))
        ));
        assert!(matches!(
            Token::parse("dw_prod_abc"),
            Err(TokenError::Malformed(_))
        ));
        let t = fresh(Env::Live);
        let with_dash = t.expose().replacen('A', "-", 1).replacen('a', "-", 1);
        if with_dash != t.expose() {
            assert!(matches!(
                Token::parse(&with_dash),
                Err(TokenError::Malformed(_))
            ));
        }
    }

    #[test]
    fn hash_is_blake3_of_the_clear_text() {
        let t = fresh(Env::Live);
        assert_eq!(t.hash().0, *blake3::hash(t.expose().as_bytes()).as_bytes());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let t = fresh(Env::Live);
        let shown = format!("{t:?}");
        assert!(!shown.contains(t.expose()));
        assert!(shown.contains(t.display_prefix()));
    }

    #[test]
    fn base62_draws_cover_the_alphabet() {
        let s = random_base62(20_000).unwrap();
        for c in BASE62 {
            assert!(s.as_bytes().contains(c), "{} never drawn", *c as char);
        }
    }

    proptest! {
        #[test]
        fn round_trip(live in any::<bool>()) {
            let t = fresh(if live { Env::Live } else { Env::Test });
            prop_assert_eq!(Token::parse(t.expose()).unwrap(), t);
        }

        #[test]
        fn every_single_character_change_is_refused(pos in 0usize..57, replacement in 0usize..62) {
            let t = fresh(Env::Live);
            let mut bytes = t.expose().as_bytes().to_vec();
            let new = BASE62[replacement];
            prop_assume!(bytes[pos] != new);
            bytes[pos] = new;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(Token::parse(&changed).is_err());
        }

        #[test]
        fn every_truncation_is_refused(cut in 0usize..57) {
            let t = fresh(Env::Test);
            prop_assert!(Token::parse(&t.expose()[..cut]).is_err());
        }

        #[test]
        fn made_up_tokens_are_refused_by_the_checksum(secret in "[A-Za-z0-9]{49}") {
            let made_up = format!("dw_live_{secret}");
            // One in 2^32 random strings carries a valid checksum; that is the point of it.
            let (body, sum) = made_up.split_at(made_up.len() - CHECKSUM_LEN);
            prop_assume!(checksum(body) != sum);
            prop_assert_eq!(Token::parse(&made_up), Err(TokenError::BadChecksum));
        }
    }

    #[test]
    fn every_single_character_change_is_refused_exhaustively() {
        let t = fresh(Env::Live);
        let original = t.expose().as_bytes().to_vec();
        for pos in 0..original.len() {
            for &c in BASE62.iter().chain(b"_-") {
                if original[pos] == c {
                    continue;
                }
                let mut bytes = original.clone();
                bytes[pos] = c;
                let changed = String::from_utf8(bytes).unwrap();
                assert!(
                    Token::parse(&changed).is_err(),
                    "accepted {pos}:{}",
                    c as char
                );
            }
        }
    }
}
