//! SimHash fingerprints of section text, so that search can fold sections that are nearly the
//! same: a page in two versions of a spec with a word or a sentence changed.
//!
//! Each pair of neighbouring words votes on the 64 bits with its hash; the fingerprint keeps
//! the majority of each bit. Texts that share most word pairs get fingerprints a few bits
//! apart; unrelated texts differ in about half of the bits.

/// Fewest words for a section to get a fingerprint: in shorter texts one word is too much of
/// the whole for "nearly the same" to mean the same thing.
pub const MIN_WORDS: usize = 30;
/// Most bits in which the fingerprints of nearly the same texts may differ. Unrelated texts
/// differ in 32 ± 4 bits, so 10 is more than five deviations away; one changed word in 40
/// moves 5 to 8. Search only compares sections under the same heading, which also keeps
/// templated sections (one parameter block per parameter) apart.
pub const MAX_DISTANCE: u32 = 10;

/// The fingerprint of `text` (case-insensitive for ASCII), or 0, which is near nothing, when
/// the text has fewer than [`MIN_WORDS`] words.
pub fn fingerprint(text: &str) -> u64 {
    let mut votes = [0i32; 64];
    let mut words = 0;
    let mut previous: Option<u64> = None;
    for word in text.split_whitespace() {
        let current = word_hash(word);
        if let Some(previous) = previous {
            let pair = mix(previous.rotate_left(17) ^ current);
            for (bit, vote) in votes.iter_mut().enumerate() {
                *vote += if pair >> bit & 1 == 1 { 1 } else { -1 };
            }
        }
        previous = Some(current);
        words += 1;
    }
    if words < MIN_WORDS {
        return 0;
    }
    let print = votes
        .iter()
        .enumerate()
        .filter(|(_, vote)| **vote > 0)
        .fold(0u64, |print, (bit, _)| print | 1 << bit);
    print.max(1)
}

/// Whether two fingerprints belong to nearly the same text.
pub fn near(a: u64, b: u64) -> bool {
    a != 0 && b != 0 && (a ^ b).count_ones() <= MAX_DISTANCE
}

/// FNV-1a over the ASCII-lowercased bytes of a word.
fn word_hash(word: &str) -> u64 {
    word.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b.to_ascii_lowercase())).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Spreads a hash's entropy over all 64 bits (the splitmix64 finaliser), since each bit votes.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "When a party wants to cancel an in-progress request, it sends a \
        notification containing the ID of the request to cancel and an optional reason string \
        that can be logged or displayed. Receivers of cancellation notifications should stop \
        processing the cancelled request, free associated resources and not send a response.";

    #[test]
    fn one_changed_word_is_near_and_another_text_is_not() {
        let page = fingerprint(PAGE);
        assert_ne!(page, 0);
        let edited = fingerprint(&PAGE.replace("a party wants", "a client wants"));
        assert!(
            near(page, edited),
            "{} bits apart",
            (page ^ edited).count_ones()
        );
        assert!(near(page, fingerprint(&PAGE.to_uppercase())));
        let other = fingerprint(
            "Profiles provide a way to alter the compiler settings, influencing things like \
             optimizations and debugging symbols. Cargo has four built-in profiles: dev, \
             release, test, and bench. The profile is automatically chosen based on which \
             command is being run if a profile is not specified on the command line.",
        );
        assert!(
            !near(page, other),
            "{} bits apart",
            (page ^ other).count_ones()
        );
    }

    #[test]
    fn short_texts_are_near_nothing() {
        let short = fingerprint("## Examples\n\nRun the command.");
        assert_eq!(short, 0);
        assert!(!near(short, short));
    }
}
