//! A small MessagePack codec for serde, written for code size.
//!
//! The encoder writes exactly the bytes `rmp_serde::to_vec_named` (rmp-serde 1.3) writes:
//! integers in their shortest form (unsigned markers for non-negative values), floats at
//! their own width, structs as maps keyed by field name, unit structs as `[]`, unit and
//! `()` as nil, unit variants as the variant's name, other variants as a one-entry map
//! `{name: value}`, `i128`/`u128` as 16 big-endian bytes of bin, and a newtype struct named
//! `_ExtStruct` holding `(i8, bytes)` as a MessagePack extension.
//!
//! The decoder reads everything rmp-serde's decoder reads for the same types: any integer
//! width into any integer type when the value fits, structs as maps or as arrays (fields
//! by name or by index), enums as `{variant: value}` or, for unit variants, as the bare
//! name or index, bin or str or an array of small integers for bytes, bin for sequences of
//! integers, and extensions. Strings and bytes are borrowed from the input when the type
//! wants them borrowed. Arrays, maps and extensions nest at most [`MAX_DEPTH`] deep, and
//! so do enums (counted apart: rmp-serde does not count them). Trailing bytes are an
//! error, and no input makes the decoder panic or allocate from a declared length.
//!
//! The work is done by a non-generic reader and writer; the serde glue around them, which
//! is instantiated once per type, stays thin.

use core::fmt;

use serde::de::value::{BorrowedBytesDeserializer, I8Deserializer, SeqDeserializer};
use serde::de::{self, DeserializeSeed, Visitor};
use serde::forward_to_deserialize_any;
use serde::ser::{self, Serialize};

/// How deep arrays, maps, extensions and enums may nest in decoded input.
pub const MAX_DEPTH: u32 = 128;

/// The newtype struct name rmp-serde encodes as a MessagePack extension.
const EXT_NAME: &str = "_ExtStruct";

/// Encodes a value; structs become maps keyed by field name.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut ser = Serializer { out: Vec::new() };
    value.serialize(&mut ser)?;
    Ok(ser.out)
}

/// Decodes one value that must fill `bytes` exactly.
pub fn from_slice<'de, T: de::Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, Error> {
    let mut de = Deserializer {
        input: bytes,
        depth: MAX_DEPTH,
        enums: MAX_DEPTH,
        marker: 0,
    };
    let value = T::deserialize(&mut de)?;
    match de.input.len() {
        0 => Ok(value),
        rest => Err(Error::Trailing(rest)),
    }
}

/// Why encoding or decoding failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input ends inside a value.
    Eof,
    /// Arrays, maps and extensions, or enums (counted apart), nest deeper than 128.
    TooDeep,
    /// Bytes are left after the value.
    Trailing(usize),
    /// The value under this marker byte cannot go where it is (a string where a number
    /// goes, the reserved byte `0xc1`, ...).
    Unexpected(u8),
    /// A string is not UTF-8 and the type does not take bytes either.
    Utf8,
    /// An array or map holds this many more elements than the type reads.
    Extra(u32),
    /// An enum encoded as a map has this many entries instead of one.
    EnumMap(u32),
    /// A length does not fit MessagePack's 32 bits.
    TooLong,
    /// An `_ExtStruct` newtype does not serialize as a tuple of an `i8` tag and bytes.
    BadExt,
    /// A message from a type's `Serialize` or `Deserialize` implementation.
    Message(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Eof => f.write_str("unexpected end of input"),
            Error::TooDeep => write!(f, "nesting deeper than {MAX_DEPTH}"),
            Error::Trailing(n) => write!(f, "{n} trailing bytes after the value"),
            Error::Unexpected(m) => {
                write!(f, "unexpected {} (MessagePack marker {m:#04x})", kind(*m))
            }
            Error::Utf8 => f.write_str("string is not valid UTF-8"),
            Error::Extra(n) => write!(f, "{n} more elements than the type reads"),
            Error::EnumMap(n) => write!(f, "an enum map must have one entry, not {n}"),
            Error::TooLong => f.write_str("length does not fit in 32 bits"),
            Error::BadExt => f.write_str("`_ExtStruct` must serialize as (i8, bytes)"),
            Error::Message(m) => f.write_str(m),
        }
    }
}

/// What a marker byte starts, for messages.
fn kind(marker: u8) -> &'static str {
    match marker {
        0x00..=0x7f | 0xcc..=0xd3 | 0xe0..=0xff => "integer",
        0x80..=0x8f | 0xde | 0xdf => "map",
        0x90..=0x9f | 0xdc | 0xdd => "array",
        0xa0..=0xbf | 0xd9..=0xdb => "string",
        0xc0 => "nil",
        0xc1 => "reserved byte",
        0xc2 | 0xc3 => "boolean",
        0xc4..=0xc6 => "binary",
        0xca | 0xcb => "float",
        0xc7..=0xc9 | 0xd4..=0xd8 => "extension",
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    #[cold]
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

impl de::Error for Error {
    #[cold]
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/// The kinds of length-prefixed values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Head {
    Str,
    Bin,
    Array,
    Map,
}

/// Serde serializer writing MessagePack into a vector.
pub struct Serializer {
    out: Vec<u8>,
}

impl Serializer {
    /// Writes a marker and its big-endian payload.
    fn put(&mut self, marker: u8, payload: &[u8]) {
        self.out.push(marker);
        self.out.extend_from_slice(payload);
    }

    #[inline(never)]
    fn uint(&mut self, v: u64) {
        if v < 128 {
            self.out.push(v as u8);
        } else if v < 256 {
            self.put(0xcc, &[v as u8]);
        } else if v < 65536 {
            self.put(0xcd, &(v as u16).to_be_bytes());
        } else if v < 1 << 32 {
            self.put(0xce, &(v as u32).to_be_bytes());
        } else {
            self.put(0xcf, &v.to_be_bytes());
        }
    }

    #[inline(never)]
    fn sint(&mut self, v: i64) {
        if v >= 0 {
            self.uint(v as u64);
        } else if v >= -32 {
            self.out.push(v as u8);
        } else if v >= -128 {
            self.put(0xd0, &[v as u8]);
        } else if v >= -32768 {
            self.put(0xd1, &(v as i16).to_be_bytes());
        } else if v >= -(1 << 31) {
            self.put(0xd2, &(v as i32).to_be_bytes());
        } else {
            self.put(0xd3, &v.to_be_bytes());
        }
    }

    /// Writes the marker and length of a string, bin, array or map.
    #[inline(never)]
    fn head(&mut self, head: Head, len: usize) -> Result<(), Error> {
        let len = u32::try_from(len).map_err(|_| Error::TooLong)?;
        // (fixed-size marker base, lengths it covers, 8-bit, 16-bit and 32-bit markers)
        let (fix, fix_len, m8, m16, m32) = match head {
            Head::Str => (0xa0, 32, 0xd9, 0xda, 0xdb),
            Head::Bin => (0, 0, 0xc4, 0xc5, 0xc6),
            Head::Array => (0x90, 16, 0, 0xdc, 0xdd),
            Head::Map => (0x80, 16, 0, 0xde, 0xdf),
        };
        if len < fix_len {
            self.out.push(fix | len as u8);
        } else if m8 != 0 && len < 256 {
            self.put(m8, &[len as u8]);
        } else if len < 65536 {
            self.put(m16, &(len as u16).to_be_bytes());
        } else {
            self.put(m32, &len.to_be_bytes());
        }
        Ok(())
    }

    #[inline(never)]
    fn str(&mut self, s: &str) -> Result<(), Error> {
        self.head(Head::Str, s.len())?;
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }

    #[inline(never)]
    fn bin(&mut self, b: &[u8]) -> Result<(), Error> {
        self.head(Head::Bin, b.len())?;
        self.out.extend_from_slice(b);
        Ok(())
    }

    /// The `{name: ...}` wrapper of a newtype, tuple or struct variant.
    fn variant(&mut self, name: &str) -> Result<(), Error> {
        self.out.push(0x81);
        self.str(name)
    }

    /// Starts a sequence or map; without a length, the header is written at the end.
    fn compound(&mut self, head: Head, len: Option<usize>) -> Result<Compound<'_>, Error> {
        let unknown = match len {
            Some(len) => {
                self.head(head, len)?;
                None
            }
            None => Some((head, self.out.len())),
        };
        Ok(Compound {
            ser: self,
            unknown,
            count: 0,
        })
    }

    #[inline(never)]
    fn ext(&mut self, tag: i8, data: &[u8]) -> Result<(), Error> {
        let len = u32::try_from(data.len()).map_err(|_| Error::TooLong)?;
        match len {
            1 => self.out.push(0xd4),
            2 => self.out.push(0xd5),
            4 => self.out.push(0xd6),
            8 => self.out.push(0xd7),
            16 => self.out.push(0xd8),
            0..=255 => self.put(0xc7, &[len as u8]),
            256..=65535 => self.put(0xc8, &(len as u16).to_be_bytes()),
            _ => self.put(0xc9, &len.to_be_bytes()),
        }
        self.out.push(tag as u8);
        self.out.extend_from_slice(data);
        Ok(())
    }
}

impl<'a> ser::Serializer for &'a mut Serializer {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out.push(if v { 0xc3 } else { 0xc2 });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.sint(v.into());
        Ok(())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.sint(v.into());
        Ok(())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.sint(v.into());
        Ok(())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.sint(v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        self.bin(&v.to_be_bytes())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.uint(v.into());
        Ok(())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.uint(v.into());
        Ok(())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.uint(v.into());
        Ok(())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.uint(v);
        Ok(())
    }

    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        self.bin(&v.to_be_bytes())
    }

    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        self.put(0xca, &v.to_be_bytes());
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        self.put(0xcb, &v.to_be_bytes());
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        self.str(v)
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        self.bin(v)
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.out.push(0xc0);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.push(0xc0);
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Error> {
        self.out.push(0x90);
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Error> {
        self.str(variant)
    }

    // Always inlined so that the comparison with a constant name folds away and the
    // extension path is not instantiated for every newtype.
    #[inline(always)]
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        if name == EXT_NAME {
            let mut ext = ExtSerializer {
                ser: self,
                tuple: false,
                tag: None,
                done: false,
            };
            value.serialize(&mut ext)?;
            return if ext.tuple && ext.done {
                Ok(())
            } else {
                Err(Error::BadExt)
            };
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.variant(variant)?;
        value.serialize(self)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.compound(Head::Array, len)
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>, Error> {
        self.compound(Head::Array, Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.compound(Head::Array, Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.variant(variant)?;
        self.compound(Head::Array, Some(len))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'a>, Error> {
        self.compound(Head::Map, len)
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<Compound<'a>, Error> {
        self.compound(Head::Map, Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'a>, Error> {
        self.variant(variant)?;
        self.compound(Head::Map, Some(len))
    }
}

/// A sequence, map, tuple or struct being written.
pub struct Compound<'a> {
    ser: &'a mut Serializer,
    /// For sequences and maps of unknown length: the kind and where the header goes.
    unknown: Option<(Head, usize)>,
    /// Elements written (keys and values count one each).
    count: u32,
}

impl Compound<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut *self.ser)?;
        self.count = self.count.wrapping_add(1);
        Ok(())
    }

    /// Writes the header of an unknown-length sequence or map in front of its elements.
    #[inline(never)]
    fn finish(self) -> Result<(), Error> {
        let Some((head, start)) = self.unknown else {
            return Ok(());
        };
        let count = if head == Head::Map {
            self.count / 2
        } else {
            self.count
        };
        // Write the header at the end, then move it in front of the elements.
        let end = self.ser.out.len();
        self.ser.head(head, count as usize)?;
        let out = &mut self.ser.out;
        let len = out.len() - end;
        let mut header = [0; 5];
        header[..len].copy_from_slice(&out[end..]);
        out.copy_within(start..end, start + len);
        out[start..start + len].copy_from_slice(&header[..len]);
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.element(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.element(value)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.ser.str(key)?;
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        self.ser.str(key)?;
        value.serialize(&mut *self.ser)
    }

    fn end(self) -> Result<(), Error> {
        self.finish()
    }
}

/// Serializes the content of an `_ExtStruct` newtype: a tuple of an `i8` tag and bytes,
/// written as an extension, with the same checks as rmp-serde.
struct ExtSerializer<'a> {
    ser: &'a mut Serializer,
    /// The tuple has started: calls now serialize its fields.
    tuple: bool,
    tag: Option<i8>,
    done: bool,
}

macro_rules! not_ext {
    ($($method:ident($($ty:ty),*) -> $ok:ty;)*) => {$(
        fn $method(self, $(_: $ty),*) -> Result<$ok, Error> {
            Err(Error::BadExt)
        }
    )*};
}

impl<'b, 'a> ser::Serializer for &'b mut ExtSerializer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = ser::Impossible<(), Error>;
    type SerializeTuple = Self;
    type SerializeTupleStruct = ser::Impossible<(), Error>;
    type SerializeTupleVariant = ser::Impossible<(), Error>;
    type SerializeMap = ser::Impossible<(), Error>;
    type SerializeStruct = ser::Impossible<(), Error>;
    type SerializeStructVariant = ser::Impossible<(), Error>;

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        if !self.tuple || self.tag.is_some() {
            return Err(Error::BadExt);
        }
        self.tag = Some(v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        match self.tag.take() {
            Some(tag) if self.tuple => {
                self.ser.ext(tag, v)?;
                self.done = true;
                Ok(())
            }
            _ => Err(Error::BadExt),
        }
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self, Error> {
        if self.tuple {
            return Err(Error::BadExt);
        }
        self.tuple = true;
        Ok(self)
    }

    not_ext! {
        serialize_bool(bool) -> ();
        serialize_i16(i16) -> ();
        serialize_i32(i32) -> ();
        serialize_i64(i64) -> ();
        serialize_u8(u8) -> ();
        serialize_u16(u16) -> ();
        serialize_u32(u32) -> ();
        serialize_u64(u64) -> ();
        serialize_f32(f32) -> ();
        serialize_f64(f64) -> ();
        serialize_char(char) -> ();
        serialize_str(&str) -> ();
        serialize_none() -> ();
        serialize_unit() -> ();
        serialize_unit_struct(&'static str) -> ();
        serialize_unit_variant(&'static str, u32, &'static str) -> ();
        serialize_seq(Option<usize>) -> Self::SerializeSeq;
        serialize_tuple_struct(&'static str, usize) -> Self::SerializeTupleStruct;
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> Self::SerializeTupleVariant;
        serialize_map(Option<usize>) -> Self::SerializeMap;
        serialize_struct(&'static str, usize) -> Self::SerializeStruct;
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> Self::SerializeStructVariant;
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), Error> {
        Err(Error::BadExt)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(Error::BadExt)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(Error::BadExt)
    }
}

impl ser::SerializeTuple for &mut ExtSerializer<'_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        value.serialize(&mut **self)
    }

    fn end(self) -> Result<(), Error> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

/// One decoded marker with its payload (strings and bytes borrowed from the input; arrays
/// and maps only with their length).
enum Token<'de> {
    Nil,
    Bool(bool),
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
    Str(&'de str),
    /// A string that is not UTF-8.
    BadStr(&'de [u8]),
    Bin(&'de [u8]),
    Array(u32),
    Map(u32),
    Ext(i8, &'de [u8]),
}

/// Serde deserializer over a byte slice.
pub struct Deserializer<'de> {
    input: &'de [u8],
    /// Array, map and extension nesting levels left.
    depth: u32,
    /// Enum nesting levels left (rmp-serde does not limit these, and a long chain of
    /// newtype variants would overflow the stack).
    enums: u32,
    /// The marker byte of the last token, for errors.
    marker: u8,
}

impl<'de> Deserializer<'de> {
    fn take(&mut self, n: usize) -> Result<&'de [u8], Error> {
        let (head, rest) = self.input.split_at_checked(n).ok_or(Error::Eof)?;
        self.input = rest;
        Ok(head)
    }

    /// A big-endian unsigned integer of `n` (at most 8) bytes.
    fn int(&mut self, n: usize) -> Result<u64, Error> {
        Ok(self.take(n)?.iter().fold(0, |v, &b| v << 8 | u64::from(b)))
    }

    /// A length of 1, 2 or 4 bytes (`width` 0, 1 or 2).
    fn len(&mut self, width: u8) -> Result<usize, Error> {
        Ok(self.int(1 << width)? as usize)
    }

    fn peek(&self) -> Result<u8, Error> {
        self.input.first().copied().ok_or(Error::Eof)
    }

    fn skip_marker(&mut self) {
        self.input = self.input.get(1..).unwrap_or_default();
    }

    /// Reads one marker and its payload.
    #[inline(never)]
    fn token(&mut self) -> Result<Token<'de>, Error> {
        let m = self.peek()?;
        self.skip_marker();
        self.marker = m;
        Ok(match m {
            0x00..=0x7f => Token::U8(m),
            0x80..=0x8f => Token::Map(u32::from(m & 0x0f)),
            0x90..=0x9f => Token::Array(u32::from(m & 0x0f)),
            0xa0..=0xbf | 0xd9..=0xdb => {
                let n = match m {
                    0xd9..=0xdb => self.len(m - 0xd9)?,
                    _ => usize::from(m & 0x1f),
                };
                let bytes = self.take(n)?;
                match core::str::from_utf8(bytes) {
                    Ok(s) => Token::Str(s),
                    Err(_) => Token::BadStr(bytes),
                }
            }
            0xc0 => Token::Nil,
            0xc1 => return Err(Error::Unexpected(m)),
            0xc2 => Token::Bool(false),
            0xc3 => Token::Bool(true),
            0xc4..=0xc6 => {
                let n = self.len(m - 0xc4)?;
                Token::Bin(self.take(n)?)
            }
            0xc7..=0xc9 | 0xd4..=0xd8 => {
                let n = match m {
                    0xc7..=0xc9 => self.len(m - 0xc7)?,
                    _ => 1 << (m - 0xd4),
                };
                let tag = self.int(1)? as i8;
                Token::Ext(tag, self.take(n)?)
            }
            0xca => Token::F32(f32::from_bits(self.int(4)? as u32)),
            0xcb => Token::F64(f64::from_bits(self.int(8)?)),
            0xcc => Token::U8(self.int(1)? as u8),
            0xcd => Token::U16(self.int(2)? as u16),
            0xce => Token::U32(self.int(4)? as u32),
            0xcf => Token::U64(self.int(8)?),
            0xd0 => Token::I8(self.int(1)? as i8),
            0xd1 => Token::I16(self.int(2)? as i16),
            0xd2 => Token::I32(self.int(4)? as i32),
            0xd3 => Token::I64(self.int(8)? as i64),
            0xdc | 0xdd => Token::Array(self.len(m - 0xdb)? as u32),
            0xde | 0xdf => Token::Map(self.len(m - 0xdd)? as u32),
            0xe0..=0xff => Token::I8(m as i8),
        })
    }

    /// Enters an array, map, extension or enum.
    fn enter(&mut self) -> Result<(), Error> {
        if self.depth == 0 {
            return Err(Error::TooDeep);
        }
        self.depth -= 1;
        Ok(())
    }

    /// Leaves what [`Self::enter`] entered; `left` elements were not read.
    fn leave(&mut self, left: u32) -> Result<(), Error> {
        self.depth += 1;
        match left {
            0 => Ok(()),
            n => Err(Error::Extra(n)),
        }
    }

    /// Reads an `i128` or `u128` (as rmp-serde: any integer, or 16 bytes of bin).
    #[inline(never)]
    fn int128(&mut self) -> Result<i128, Error> {
        Ok(match self.token()? {
            Token::U8(v) => v.into(),
            Token::U16(v) => v.into(),
            Token::U32(v) => v.into(),
            Token::U64(v) => v.into(),
            Token::I8(v) => v.into(),
            Token::I16(v) => v.into(),
            Token::I32(v) => v.into(),
            Token::I64(v) => v.into(),
            Token::Bin(b) => match <[u8; 16]>::try_from(b) {
                Ok(b) => i128::from_be_bytes(b),
                Err(_) => return Err(Error::Unexpected(self.marker)),
            },
            _ => return Err(Error::Unexpected(self.marker)),
        })
    }

    /// Reads the head of an enum: `true` for a one-entry map `{variant: value}` (entered),
    /// `false` for anything else (left in place: a unit variant's name or index).
    #[inline(never)]
    fn enum_head(&mut self) -> Result<bool, Error> {
        let m = self.peek()?;
        if !matches!(m, 0x80..=0x8f | 0xde | 0xdf) {
            return Ok(false);
        }
        match self.token()? {
            Token::Map(1) => {
                self.enums = self.enums.checked_sub(1).ok_or(Error::TooDeep)?;
                Ok(true)
            }
            Token::Map(n) => Err(Error::EnumMap(n)),
            _ => Err(Error::Unexpected(m)),
        }
    }

    /// Reads a nil (the value of a unit variant in map form).
    fn nil(&mut self) -> Result<(), Error> {
        match self.token()? {
            Token::Nil => Ok(()),
            _ => Err(Error::Unexpected(self.marker)),
        }
    }

    /// Any value; `bytes` says whether bin is visited as bytes (else as a sequence).
    fn any<V: Visitor<'de>>(&mut self, visitor: V, bytes: bool) -> Result<V::Value, Error> {
        match self.token()? {
            Token::Str(s) => visitor.visit_borrowed_str(s),
            Token::BadStr(b) => visitor
                .visit_borrowed_bytes(b)
                .map_err(|_: Error| Error::Utf8),
            Token::Bin(b) if bytes => visitor.visit_borrowed_bytes(b),
            Token::Bin(b) => visitor.visit_seq(SeqDeserializer::new(b.iter().copied())),
            Token::Array(n) => {
                self.enter()?;
                let mut access = Access { de: self, left: n };
                let value = visitor.visit_seq(&mut access);
                let left = access.left;
                let end = self.leave(left);
                let value = value?;
                end.map(|()| value)
            }
            Token::Map(n) => {
                self.enter()?;
                let mut access = Access { de: self, left: n };
                let value = visitor.visit_map(&mut access);
                let left = access.left;
                let end = self.leave(left);
                let value = value?;
                end.map(|()| value)
            }
            Token::Ext(tag, data) => {
                self.enter()?;
                let value = visitor.visit_newtype_struct(ExtDeserializer { tag, data, read: 0 });
                self.depth += 1;
                value
            }
            token => scalar(token, self.marker, visitor),
        }
    }

    /// A nil, boolean or number.
    fn scalar<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, Error> {
        let token = self.token()?;
        scalar(token, self.marker, visitor)
    }
}

/// Visits a nil, boolean or number token; anything else is an error.
fn scalar<'de, V: Visitor<'de>>(token: Token<'de>, marker: u8, v: V) -> Result<V::Value, Error> {
    match token {
        Token::Nil => v.visit_unit(),
        Token::Bool(b) => v.visit_bool(b),
        Token::U8(n) => v.visit_u8(n),
        Token::U16(n) => v.visit_u16(n),
        Token::U32(n) => v.visit_u32(n),
        Token::U64(n) => v.visit_u64(n),
        Token::I8(n) => v.visit_i8(n),
        Token::I16(n) => v.visit_i16(n),
        Token::I32(n) => v.visit_i32(n),
        Token::I64(n) => v.visit_i64(n),
        Token::F32(n) => v.visit_f32(n),
        Token::F64(n) => v.visit_f64(n),
        _ => Err(Error::Unexpected(marker)),
    }
}

macro_rules! scalars {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.scalar(visitor)
        }
    )*};
}

macro_rules! as_sequence {
    ($($method:ident($($arg:ty),*))*) => {$(
        fn $method<V: Visitor<'de>>(self, $(_: $arg,)* visitor: V) -> Result<V::Value, Error> {
            self.any(visitor, false)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    fn is_human_readable(&self) -> bool {
        false
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.any(visitor, true)
    }

    forward_to_deserialize_any! {
        bytes byte_buf unit map identifier str string char ignored_any
    }

    scalars! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64
    }

    as_sequence! {
        deserialize_seq()
        deserialize_tuple(usize)
        deserialize_tuple_struct(&'static str, usize)
        deserialize_struct(&'static str, &'static [&'static str])
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_i128(self.int128()?)
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        // As rmp-serde: a negative integer wraps.
        visitor.visit_u128(self.int128()? as u128)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.peek()? == 0xc0 {
            self.skip_marker();
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        // Unit structs are written as `[]`; nil is read too.
        if matches!(self.peek()?, 0xc0 | 0x90) {
            self.skip_marker();
            visitor.visit_unit()
        } else {
            self.any(visitor, true)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == EXT_NAME {
            return match self.token()? {
                Token::Ext(tag, data) => {
                    visitor.visit_newtype_struct(ExtDeserializer { tag, data, read: 0 })
                }
                _ => Err(Error::Unexpected(self.marker)),
            };
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if self.enum_head()? {
            let value = visitor.visit_enum(Enum {
                de: self,
                map: true,
            });
            self.enums += 1;
            value
        } else {
            visitor.visit_enum(Enum {
                de: self,
                map: false,
            })
        }
    }
}

/// The elements of an array or the entries of a map.
struct Access<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    left: u32,
}

impl<'de> de::SeqAccess<'de> for Access<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        // Every element takes at least a byte.
        Some((self.left as usize).min(self.de.input.len()))
    }
}

impl<'de> de::MapAccess<'de> for Access<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        // Every entry takes at least two bytes.
        Some((self.left as usize).min(self.de.input.len() / 2))
    }
}

/// An enum: `{variant: value}` when `map`, else a bare variant name or index (unit
/// variants only).
struct Enum<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    map: bool,
}

impl<'de> de::EnumAccess<'de> for Enum<'_, 'de> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self), Error> {
        let variant = seed.deserialize(&mut *self.de)?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'_, 'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        if self.map {
            self.de.nil()
        } else {
            Ok(())
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        if !self.map {
            return Err(unit_only("newtype variant"));
        }
        seed.deserialize(self.de)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        if !self.map {
            return Err(unit_only("tuple variant"));
        }
        self.de.any(visitor, false)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if !self.map {
            return Err(unit_only("struct variant"));
        }
        self.de.any(visitor, false)
    }
}

#[cold]
fn unit_only(expected: &'static str) -> Error {
    de::Error::invalid_type(de::Unexpected::UnitVariant, &expected)
}

/// An extension, seen as rmp-serde shows it: a newtype around the sequence
/// `(tag: i8, data: bytes)`.
struct ExtDeserializer<'de> {
    tag: i8,
    data: &'de [u8],
    /// Fields read so far.
    read: u8,
}

impl<'de> de::Deserializer<'de> for ExtDeserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(self)
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

impl<'de> de::SeqAccess<'de> for ExtDeserializer<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.read = self.read.saturating_add(1);
        match self.read {
            1 => seed.deserialize(I8Deserializer::new(self.tag)).map(Some),
            2 => seed
                .deserialize(BorrowedBytesDeserializer::new(self.data))
                .map(Some),
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests;
