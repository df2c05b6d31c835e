//! What the API accepts: room and user names, texts, client ids, and the `after` and
//! `limit` query values. A refusal is an [`Invalid`]: a 400 with an
//! [`ErrorBody`](crate::ErrorBody) over HTTP, an error frame on a socket.

use std::fmt;

/// The longest room name, in characters.
pub const ROOM_MAX: usize = 64;
/// The longest user name, in characters.
pub const USER_MAX: usize = 32;
/// The longest client id, in characters.
pub const CLIENT_ID_MAX: usize = 64;
/// The longest text, in Unicode scalar values.
pub const TEXT_MAX: usize = 2000;
/// The largest `limit` of a history page.
pub const LIMIT_MAX: u32 = 500;
/// The `limit` of a history page when the query has none.
pub const LIMIT_DEFAULT: u32 = 100;
/// The largest request body, in bytes; one more is a 413.
pub const BODY_MAX: usize = 64 * 1024;

/// Why a value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// A room name that is not 1–64 characters of `[A-Za-z0-9_.-]`.
    Room,
    /// A user name that is not 1–32 characters of `[A-Za-z0-9_.-]`.
    User,
    /// A client id that is not 1–64 characters of `[A-Za-z0-9_.-]`.
    ClientId,
    /// A text that is empty or longer than 2000 scalar values (its length).
    TextLength(usize),
    /// A text with a control character other than `\n`.
    TextControl(char),
    /// An `after` that is not a plain non-negative integer.
    After,
    /// A `limit` that is not a plain integer from 1 to 500.
    Limit,
}

impl Invalid {
    /// The error's code in [`ErrorDetail`](crate::ErrorDetail).
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::Room => "invalid_room",
            Invalid::User => "invalid_user",
            Invalid::ClientId => "invalid_client_id",
            Invalid::TextLength(_) | Invalid::TextControl(_) => "invalid_text",
            Invalid::After => "invalid_after",
            Invalid::Limit => "invalid_limit",
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Room => write!(
                f,
                "a room name is 1 to {ROOM_MAX} characters of A-Z, a-z, 0-9, '_', '.' and '-'"
            ),
            Invalid::User => write!(
                f,
                "a user name is 1 to {USER_MAX} characters of A-Z, a-z, 0-9, '_', '.' and '-'"
            ),
            Invalid::ClientId => write!(
                f,
                "a client_id is 1 to {CLIENT_ID_MAX} characters of A-Z, a-z, 0-9, '_', '.' and '-'"
            ),
            Invalid::TextLength(0) => write!(f, "a text must not be empty"),
            Invalid::TextLength(_) => {
                write!(f, "a text is at most {TEXT_MAX} characters")
            }
            Invalid::TextControl(c) => write!(
                f,
                "a text must not hold control characters other than a line feed (found U+{:04X})",
                u32::from(*c)
            ),
            Invalid::After => write!(f, "`after` is a message id: a non-negative integer"),
            Invalid::Limit => write!(f, "`limit` is an integer from 1 to {LIMIT_MAX}"),
        }
    }
}

impl std::error::Error for Invalid {}

/// One character of a name or client id: `[A-Za-z0-9_.-]`.
fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// 1 to `max` characters of `[A-Za-z0-9_.-]` (ASCII, so bytes are characters).
fn is_name(value: &str, max: usize) -> bool {
    (1..=max).contains(&value.len()) && value.chars().all(name_char)
}

/// A room name, checked on the raw path segment: percent escapes are not decoded, so
/// `a%2Db` is refused like any other `%`.
pub fn check_room(raw_segment: &str) -> Result<(), Invalid> {
    if is_name(raw_segment, ROOM_MAX) {
        Ok(())
    } else {
        Err(Invalid::Room)
    }
}

/// A user name, after query decoding.
pub fn check_user(user: &str) -> Result<(), Invalid> {
    if is_name(user, USER_MAX) {
        Ok(())
    } else {
        Err(Invalid::User)
    }
}

/// A client id.
pub fn check_client_id(client_id: &str) -> Result<(), Invalid> {
    if is_name(client_id, CLIENT_ID_MAX) {
        Ok(())
    } else {
        Err(Invalid::ClientId)
    }
}

/// Whether `c` is refused in a text: Unicode category Cc (U+0000–001F and U+007F–009F)
/// except the line feed. TAB and CR are refused; U+00A0, U+200B, U+2028, U+FEFF and
/// emoji are text.
pub fn is_forbidden_in_text(c: char) -> bool {
    c.is_control() && c != '\n'
}

/// A text: 1 to 2000 Unicode scalar values (so 2000 emoji fit), none of them a control
/// character but `\n`. Blank texts (spaces, line feeds) are valid. A lone surrogate never
/// reaches this check: it cannot be in a `&str`, and JSON decoding refuses an escaped one.
pub fn check_text(text: &str) -> Result<(), Invalid> {
    let mut length = 0;
    for c in text.chars() {
        if is_forbidden_in_text(c) {
            return Err(Invalid::TextControl(c));
        }
        length += 1;
    }
    if length == 0 || length > TEXT_MAX {
        return Err(Invalid::TextLength(length));
    }
    Ok(())
}

/// A plain integer: ASCII digits only (no sign, space or exponent) that fit in a u64.
fn plain_integer(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// The `after` query value (decoded): a message id; an id past the room's last one is
/// valid and selects nothing.
pub fn parse_after(value: &str) -> Result<u64, Invalid> {
    plain_integer(value).ok_or(Invalid::After)
}

/// The `limit` query value (decoded): 1 to 500.
pub fn parse_limit(value: &str) -> Result<u32, Invalid> {
    plain_integer(value)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (1..=LIMIT_MAX).contains(n))
        .ok_or(Invalid::Limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_take_their_charset_and_lengths() {
        for room in ["a", "A-z_0.9", &"r".repeat(ROOM_MAX), ".", "..", "-"] {
            assert_eq!(check_room(room), Ok(()), "{room:?}");
        }
        for room in [
            "",
            &"r".repeat(ROOM_MAX + 1),
            "a%2Db",
            "a b",
            "a/b",
            "é",
            "a+b",
            "a~b",
        ] {
            assert_eq!(check_room(room), Err(Invalid::Room), "{room:?}");
        }
        assert_eq!(check_user(&"u".repeat(USER_MAX)), Ok(()));
        assert_eq!(check_user(&"u".repeat(USER_MAX + 1)), Err(Invalid::User));
        assert_eq!(check_user(""), Err(Invalid::User));
        assert_eq!(check_user("ada lovelace"), Err(Invalid::User));
        assert_eq!(check_client_id(&"c".repeat(CLIENT_ID_MAX)), Ok(()));
        assert_eq!(
            check_client_id(&"c".repeat(CLIENT_ID_MAX + 1)),
            Err(Invalid::ClientId)
        );
        assert_eq!(check_client_id("c:1"), Err(Invalid::ClientId));
    }

    #[test]
    fn texts_refuse_cc_but_the_line_feed() {
        for text in [
            " ",
            "\n",
            "line\nline",
            "\u{a0}",
            "\u{200b}",
            "\u{2028}",
            "\u{feff}",
            "😀",
        ] {
            assert_eq!(check_text(text), Ok(()), "{text:?}");
        }
        for c in [
            '\0', '\t', '\r', '\u{1b}', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}',
        ] {
            assert_eq!(
                check_text(&format!("a{c}b")),
                Err(Invalid::TextControl(c)),
                "{c:?}"
            );
        }
        assert_eq!(check_text(""), Err(Invalid::TextLength(0)));
    }

    #[test]
    fn text_length_counts_scalar_values() {
        // 2000 emoji are 8000 bytes and fit.
        assert_eq!(check_text(&"😀".repeat(TEXT_MAX)), Ok(()));
        assert_eq!(
            check_text(&"😀".repeat(TEXT_MAX + 1)),
            Err(Invalid::TextLength(TEXT_MAX + 1))
        );
        assert_eq!(check_text(&"a".repeat(TEXT_MAX)), Ok(()));
    }

    #[test]
    fn after_and_limit_are_plain_integers() {
        assert_eq!(parse_after("0"), Ok(0));
        assert_eq!(parse_after("18446744073709551615"), Ok(u64::MAX));
        for bad in [
            "",
            "-1",
            "+1",
            " 1",
            "1 ",
            "1.0",
            "1e3",
            "0x1",
            "18446744073709551616",
        ] {
            assert_eq!(parse_after(bad), Err(Invalid::After), "{bad:?}");
        }
        assert_eq!(parse_limit("1"), Ok(1));
        assert_eq!(parse_limit("500"), Ok(LIMIT_MAX));
        for bad in ["0", "501", "-5", "", "ten", "99999999999999999999"] {
            assert_eq!(parse_limit(bad), Err(Invalid::Limit), "{bad:?}");
        }
    }

    #[test]
    fn every_refusal_has_a_code_and_a_message() {
        for invalid in [
            Invalid::Room,
            Invalid::User,
            Invalid::ClientId,
            Invalid::TextLength(0),
            Invalid::TextLength(2001),
            Invalid::TextControl('\t'),
            Invalid::After,
            Invalid::Limit,
        ] {
            assert!(invalid.code().starts_with("invalid_"));
            assert!(!invalid.to_string().is_empty());
        }
        assert_eq!(
            Invalid::TextControl('\t').to_string(),
            "a text must not hold control characters other than a line feed (found U+0009)"
        );
    }
}
