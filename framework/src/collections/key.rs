//! [`MapKey`]: how a map's keys become storage keys.

/// A key of a [`Map`](super::Map): encodes to a storage key string whose order (byte-wise)
/// is the key's own order, and decodes back.
///
/// Implemented for `String` (the string itself) and the integer types (fixed-width
/// decimal, signed ones offset so that negatives sort first).
///
/// ```
/// use duro::MapKey;
/// assert_eq!(7u32.encode_key(), "00000000000000000007");
/// assert_eq!(i64::decode_key(&(-5i64).encode_key()), Some(-5));
/// assert!((-1i8).encode_key() < 1i8.encode_key());
/// ```
pub trait MapKey: Ord + Clone {
    /// The storage key of this map key.
    fn encode_key(&self) -> String;
    /// The map key of a storage key; `None` if it is not one this type encodes.
    fn decode_key(key: &str) -> Option<Self>;
}

impl MapKey for String {
    fn encode_key(&self) -> String {
        self.clone()
    }

    fn decode_key(key: &str) -> Option<Self> {
        Some(key.to_owned())
    }
}

/// 20 decimal digits: the width of `u64::MAX`.
fn encode_u64(v: u64) -> String {
    format!("{v:020}")
}

fn decode_u64(key: &str) -> Option<u64> {
    if key.len() != 20 || !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl MapKey for $t {
            fn encode_key(&self) -> String {
                encode_u64(*self as u64)
            }

            fn decode_key(key: &str) -> Option<Self> {
                decode_u64(key)?.try_into().ok()
            }
        }
    )*};
}

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl MapKey for $t {
            fn encode_key(&self) -> String {
                // Offset by 2^63: i64::MIN becomes 0, so key order is numeric order.
                encode_u64((*self as i64 as u64) ^ (1 << 63))
            }

            fn decode_key(key: &str) -> Option<Self> {
                let v = (decode_u64(key)? ^ (1 << 63)) as i64;
                v.try_into().ok()
            }
        }
    )*};
}

unsigned!(u8, u16, u32, u64, usize);
signed!(i8, i16, i32, i64, isize);

#[cfg(test)]
mod tests {
    use super::MapKey;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn integer_keys_keep_their_order(a in any::<i64>(), b in any::<i64>(), c in any::<u64>(), d in any::<u64>()) {
            prop_assert_eq!(a.cmp(&b), a.encode_key().cmp(&b.encode_key()));
            prop_assert_eq!(c.cmp(&d), c.encode_key().cmp(&d.encode_key()));
            prop_assert_eq!(i64::decode_key(&a.encode_key()), Some(a));
            prop_assert_eq!(u64::decode_key(&c.encode_key()), Some(c));
        }

        #[test]
        fn keys_that_do_not_fit_are_refused(key in "\\PC{0,24}") {
            if let Some(v) = u8::decode_key(&key) {
                prop_assert_eq!(v.encode_key(), key.clone());
            }
            if let Some(v) = i32::decode_key(&key) {
                prop_assert_eq!(v.encode_key(), key);
            }
        }
    }

    #[test]
    fn narrow_types_refuse_wide_values() {
        assert_eq!(u8::decode_key(&300u64.encode_key()), None);
        assert_eq!(i8::decode_key(&(-129i64).encode_key()), None);
        assert_eq!(i8::decode_key(&(-128i64).encode_key()), Some(-128));
        assert_eq!(u64::decode_key("1"), None);
        assert_eq!(u64::decode_key("+0000000000000000001"), None);
    }
}
