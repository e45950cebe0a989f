//! `Token::parse` on arbitrary text, plus tokens built from the input with a correct checksum,
//! wrapped in pasted whitespace and quotes, and with one character changed.
//!
//! Checks: no panic; whatever is accepted is the presented text less surrounding whitespace and
//! quotes, has the documented shape and a correct checksum (recomputed here, independently),
//! re-parses to the same token with the same hash and display prefix; a wrapped valid token is
//! accepted as itself; a token with one character changed is refused however it is wrapped.

#![no_main]

use docward::token::{CHECKSUM_LEN, DISPLAY_PREFIX_LEN, SECRET_LEN, Token};
use libfuzzer_sys::fuzz_target;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Characters that a paste may put around a token and that parsing is documented to drop.
const PASTED: [char; 14] = [
    ' ', '\t', '\n', '\r', '\u{b}', '\u{c}', '"', '\'', '`', '\u{85}', '\u{a0}', '\u{2003}',
    '\u{2028}', '\u{3000}',
];

/// Characters a one-character change may put into a token.
const REPLACEMENTS: &[u8] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_- \"'`";

fuzz_target!(|data: &[u8]| {
    check_if_accepted(&String::from_utf8_lossy(data));
    if let Ok(text) = std::str::from_utf8(data) {
        check_if_accepted(text);
    }
    check_built_tokens(data);
});

/// The checksum as the format defines it: CRC32 of the body in 6 big-endian base62 digits.
fn expected_checksum(body: &str) -> String {
    let mut value = u64::from(crc32fast::hash(body.as_bytes()));
    let mut digits = [0u8; CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| b as char).collect()
}

fn is_pasted_around(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`')
}

/// If `presented` is accepted, checks everything that must then hold.
fn check_if_accepted(presented: &str) {
    let Ok(token) = Token::parse(presented) else {
        return;
    };
    let text = token.expose();
    assert_eq!(text, presented.trim_matches(is_pasted_around));
    let prefix = format!("dw_{}_", token.env().as_str());
    assert!(text.starts_with(&prefix), "accepted {text:?}");
    assert_eq!(text.len(), prefix.len() + SECRET_LEN + CHECKSUM_LEN);
    let payload = &text[prefix.len()..];
    assert!(payload.bytes().all(|b| b.is_ascii_alphanumeric()));
    let (body, sum) = text.split_at(text.len() - CHECKSUM_LEN);
    assert_eq!(
        sum,
        expected_checksum(body),
        "accepted a token whose checksum is wrong"
    );

    let again = Token::parse(text).expect("an accepted token re-parses");
    assert!(again == token);
    assert!(again.hash() == token.hash(), "hash is not stable");
    assert_eq!(token.hash().0, *blake3::hash(text.as_bytes()).as_bytes());
    assert_eq!(token.display_prefix(), &payload[..DISPLAY_PREFIX_LEN]);
    assert!(
        !format!("{token:?}").contains(payload),
        "Debug shows the secret"
    );
}

/// Builds a valid token from the input's bytes and checks it wrapped, then with one change.
fn check_built_tokens(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let env = if first & 1 == 0 { "live" } else { "test" };
    let secret: String = (0..SECRET_LEN)
        .map(|i| BASE62[usize::from(rest.get(i).copied().unwrap_or(i as u8)) % 62] as char)
        .collect();
    let body = format!("dw_{env}_{secret}");
    let good = format!("{body}{}", expected_checksum(&body));

    let wrapping = rest.get(SECRET_LEN..).unwrap_or_default();
    let (left, right) = wrapping.split_at(wrapping.len() / 2);
    let pasted = |bytes: &[u8]| -> String {
        bytes
            .iter()
            .map(|&b| PASTED[usize::from(b) % PASTED.len()])
            .collect()
    };
    let (left, right) = (pasted(left), pasted(right));

    let wrapped = format!("{left}{good}{right}");
    let token = Token::parse(&wrapped)
        .unwrap_or_else(|e| panic!("valid token refused when wrapped: {wrapped:?}: {e}"));
    assert_eq!(token.expose(), good);
    check_if_accepted(&wrapped);

    // Arbitrary text around a valid token: accepted only when it was all pasted characters.
    let noisy = format!("{}{good}", String::from_utf8_lossy(wrapping));
    if let Ok(token) = Token::parse(&noisy) {
        assert_eq!(token.expose(), good, "accepted {noisy:?}");
    }

    let pos = usize::from(first >> 1) % good.len();
    let replacement =
        REPLACEMENTS[usize::from(rest.first().copied().unwrap_or(0)) % REPLACEMENTS.len()];
    let mut changed = good.clone().into_bytes();
    if changed[pos] == replacement {
        return;
    }
    changed[pos] = replacement;
    let changed = String::from_utf8(changed).expect("ASCII");
    for presented in [changed.clone(), format!("{left}{changed}{right}")] {
        assert!(
            Token::parse(&presented).is_err(),
            "accepted a token with one character changed: {presented:?}"
        );
    }
}
