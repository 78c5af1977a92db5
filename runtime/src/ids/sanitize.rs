//! Keeps values that reach log lines free of CR, LF, other control characters, and the
//! invisible characters that can make a line read differently from what it holds.

use std::borrow::Cow;

/// Returns `value` with every control character, line or paragraph separator (U+2028,
/// U+2029), bidirectional formatting character (U+200E, U+200F, U+202A to U+202E, U+2066 to
/// U+2069) and byte order mark (U+FEFF) replaced by its `\u{..}` escape.
///
/// Borrowed (no allocation) in the common case where there is nothing to escape.
pub(crate) fn sanitize(value: &str) -> Cow<'_, str> {
    if !value.chars().any(needs_escape) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if needs_escape(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Characters that break a log line or change how it reads: control characters, the
/// Unicode line and paragraph separators, and the bidirectional overrides and marks.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// An error and its sources, joined with `: `, for one log field.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_line_breaks_and_controls() {
        assert_eq!(sanitize("a\r\nb\u{1b}[31m"), "a\\u{d}\\u{a}b\\u{1b}[31m");
        assert!(matches!(sanitize("plain ü"), Cow::Borrowed(_)));
    }

    #[test]
    fn invisible_characters_in_logs_are_escaped() {
        assert_eq!(sanitize("alice\u{202e}nimda"), "alice\\u{202e}nimda");
        assert_eq!(sanitize("a\u{2028}b\u{2029}c"), "a\\u{2028}b\\u{2029}c");
        assert_eq!(sanitize("\u{2066}x\u{2069}\u{200f}\u{feff}"), "\\u{2066}x\\u{2069}\\u{200f}\\u{feff}");
        assert_eq!(sanitize("a\r\nb"), "a\\u{d}\\u{a}b");
        assert!(matches!(sanitize("plain café ✓"), Cow::Borrowed(_)), "ordinary text is not copied");
    }
}
