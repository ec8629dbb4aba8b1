//! GSM-7, the alphabet a text message carries at 160 characters a segment. One character
//! outside it sends the whole text as UCS-2, at 70 a segment, and a longer text is billed as
//! two or more: so every text the portal sends is kept to one GSM-7 segment.

use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

/// The basic character set (3GPP TS 23.038), without the escape to the extension table.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table: each costs two septets (the escape, then itself).
const EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// The septets in one segment of a single-segment text.
pub const SEGMENT: usize = 160;
/// In each segment of a longer text (the rest carries the parts' header).
const PART: usize = 153;
/// The same for UCS-2, in UTF-16 units.
const UCS2_SEGMENT: usize = 70;
const UCS2_PART: usize = 67;

fn in_basic(c: char) -> bool {
    BASIC.contains(c)
}

/// How many septets `text` takes in GSM-7, or `None` if a character isn't in it.
pub fn septets(text: &str) -> Option<usize> {
    text.chars().try_fold(0, |n, c| match c {
        c if in_basic(c) => Some(n + 1),
        c if EXTENDED.contains(c) => Some(n + 2),
        _ => None,
    })
}

/// How many segments `text` is billed as.
pub fn segments(text: &str) -> usize {
    let (length, one, part) = match septets(text) {
        Some(n) => (n, SEGMENT, PART),
        None => (text.encode_utf16().count(), UCS2_SEGMENT, UCS2_PART),
    };
    match length <= one {
        true => 1,
        false => length.div_ceil(part),
    }
}

/// Whether a name for texts may hold `c`: printable characters of the basic set only (no line
/// breaks, and nothing from the extension table, which costs double).
pub fn fit_for_a_name(c: char) -> bool {
    in_basic(c) && c != '\n' && c != '\r'
}

/// `name` as texts can carry it in at most `most` characters: accents and macrons dropped
/// (Ōtautahi → Otautahi), anything else outside GSM-7 left out, cut at a word if it must be.
pub fn fit_name(name: &str, most: usize) -> String {
    let plain: String = name
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .filter(|c| fit_for_a_name(*c))
        .collect();
    let words: Vec<&str> = plain.split_whitespace().collect();
    let mut fitted = String::new();
    for word in words {
        let wanted =
            fitted.chars().count() + usize::from(!fitted.is_empty()) + word.chars().count();
        if wanted > most {
            break;
        }
        if !fitted.is_empty() {
            fitted.push(' ');
        }
        fitted.push_str(word);
    }
    if fitted.is_empty() {
        // One word too long for the space: its start.
        fitted = plain.trim().chars().take(most).collect();
    }
    fitted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_in_gsm7_takes_160_a_segment_and_one_character_outside_it_70() {
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"a".repeat(306)), 2);
        assert_eq!(segments(&"a".repeat(307)), 3);
        // The extension table costs two each.
        assert_eq!(septets("[]"), Some(4));
        assert_eq!(segments(&"€".repeat(80)), 1);
        assert_eq!(segments(&"€".repeat(81)), 2);
        // A macron is outside GSM-7: the text goes as UCS-2.
        assert_eq!(septets("Ōtautahi"), None);
        assert_eq!(segments(&format!("Ō{}", "a".repeat(69))), 1);
        assert_eq!(segments(&format!("Ō{}", "a".repeat(70))), 2);
    }

    #[test]
    fn a_practice_name_is_fitted_to_texts_without_its_macrons_and_cut_at_a_word() {
        assert_eq!(fit_name("Harbour Health", 30), "Harbour Health");
        assert_eq!(
            fit_name("Ōtautahi Hauora Māori", 30),
            "Otautahi Hauora Maori"
        );
        assert_eq!(
            fit_name("The Harbour Health Family Medical Centre", 30),
            "The Harbour Health Family"
        );
        assert_eq!(
            fit_name("Supercalifragilisticexpialidocious", 10),
            "Supercalif"
        );
        assert_eq!(fit_name("診療所", 30), "");
        assert_eq!(fit_name("Dr {Smith}\n & Co", 30), "Dr Smith & Co");
    }
}
