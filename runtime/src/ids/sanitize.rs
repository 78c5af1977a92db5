//! Keeps values that reach log lines free of CR, LF and other control characters.

use std::borrow::Cow;

/// Returns `value` with every control character replaced by its `\u{..}` escape.
///
/// Borrowed (no allocation) in the common case where there is nothing to escape.
pub(crate) fn sanitize(value: &str) -> Cow<'_, str> {
    if !value.chars().any(char::is_control) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
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
}
