//! The codec against rmp-serde: the same bytes out, at least the same values in.

use std::collections::BTreeMap;
use std::fmt::Debug;

use proptest::collection::vec;
use proptest::prelude::*;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

use super::{from_slice, to_vec, Error, MAX_DEPTH};

// --- the reference -----------------------------------------------------------------------

fn rmp_named<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec_named(value).expect("rmp-serde encodes")
}

/// The decoder this codec replaces, as `wire::decode` used it.
fn rmp_decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, rmp_serde::decode::Error> {
    let mut de = rmp_serde::Deserializer::new(std::io::Cursor::new(bytes));
    de.set_max_depth(128);
    let value = T::deserialize(&mut de)?;
    let rest = bytes.len() as u64 - de.position();
    if rest != 0 {
        return Err(rmp_serde::decode::Error::Syntax(format!(
            "{rest} trailing bytes after the value"
        )));
    }
    Ok(value)
}

/// Encodes with both codecs, asserts the bytes are equal and returns them.
fn same_bytes<T: Serialize + ?Sized + Debug>(value: &T) -> Vec<u8> {
    let ours = to_vec(value).unwrap_or_else(|e| panic!("{value:?} does not encode: {e}"));
    assert_eq!(ours, rmp_named(value), "encodings of {value:?} differ");
    ours
}

/// Whatever rmp-serde decodes from `bytes`, this codec decodes to the same value.
/// Returns whether rmp-serde decoded it.
fn reads_what_rmp_reads<T: DeserializeOwned + Debug>(bytes: &[u8]) -> bool {
    let ours = from_slice::<T>(bytes);
    match rmp_decode::<T>(bytes) {
        Ok(theirs) => {
            let ours = ours.unwrap_or_else(|e| {
                panic!(
                    "rmp-serde reads {bytes:02x?} as {} {theirs:?}, this codec fails: {e}",
                    std::any::type_name::<T>()
                )
            });
            assert_eq!(format!("{ours:?}"), format!("{theirs:?}"), "{bytes:02x?}");
            true
        }
        Err(_) => false,
    }
}

/// [`reads_what_rmp_reads`] for every target type of these tests.
fn reads_what_rmp_reads_as_anything(bytes: &[u8]) {
    reads_what_rmp_reads::<Tree>(bytes);
    reads_what_rmp_reads::<Leaf>(bytes);
    reads_what_rmp_reads::<Shape>(bytes);
    reads_what_rmp_reads::<Option<Vec<Shape>>>(bytes);
    reads_what_rmp_reads::<Small>(bytes);
    reads_what_rmp_reads::<serde_json::Value>(bytes);
    reads_what_rmp_reads::<IgnoredAny>(bytes);
    reads_what_rmp_reads::<(i64,)>(bytes);
    reads_what_rmp_reads::<(String, ByteBuf, Option<u32>)>(bytes);
    reads_what_rmp_reads::<Vec<u8>>(bytes);
    reads_what_rmp_reads::<ByteBuf>(bytes);
    reads_what_rmp_reads::<String>(bytes);
    reads_what_rmp_reads::<char>(bytes);
    reads_what_rmp_reads::<BTreeMap<String, i64>>(bytes);
    reads_what_rmp_reads::<BTreeMap<u8, Option<f32>>>(bytes);
    reads_what_rmp_reads::<(i128, u128)>(bytes);
    reads_what_rmp_reads::<(u8, i16, u32, i64, f64, bool)>(bytes);
    reads_what_rmp_reads::<Ext>(bytes);
    reads_what_rmp_reads::<(Unit, (), Wrapper, Pair)>(bytes);
    reads_what_rmp_reads::<crate::wire::ErrorBody>(bytes);
}

// --- test types --------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wrapper(u16);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Pair(i8, String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Wrap(i32),
    Pair(u64, String),
    Named { x: f64, next: Option<Box<Shape>> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Leaf {
    u: u64,
    i: i64,
    small: (u8, i8, u16, i16, u32, i32),
    f: f32,
    g: f64,
    c: char,
    s: String,
    #[serde(with = "serde_bytes")]
    b: Vec<u8>,
    plain: Vec<u8>,
    o: Option<i32>,
    units: (Unit, ()),
    newtype: Wrapper,
    pair: Pair,
    wide: (i128, u128),
    flag: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Tree {
    leaf: Leaf,
    shapes: Vec<Shape>,
    named: BTreeMap<String, Option<Shape>>,
    numbered: BTreeMap<i64, bool>,
    #[serde(with = "serde_bytes")]
    blob: Option<Vec<u8>>,
    children: Vec<Tree>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Small {
    a: u8,
    b: String,
}

/// What rmp-serde writes as a MessagePack extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename = "_ExtStruct")]
struct Ext((i8, ByteBuf));

/// A chain of newtype variants, which rmp-serde does not count towards its depth limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Chain {
    Next(Box<Chain>),
    End,
}

// --- strategies --------------------------------------------------------------------------

const U_EDGES: &[u64] = &[
    0,
    127,
    128,
    255,
    256,
    32767,
    32768,
    65535,
    65536,
    (1 << 31) - 1,
    1 << 31,
    u32::MAX as u64,
    1 << 32,
    i64::MAX as u64,
    u64::MAX,
];

const I_EDGES: &[i64] = &[
    -1,
    -32,
    -33,
    -128,
    -129,
    -32768,
    -32769,
    i32::MIN as i64,
    i32::MIN as i64 - 1,
    i64::MIN,
];

fn edge_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        (prop::sample::select(U_EDGES), -2i64..=2).prop_map(|(e, d)| e.wrapping_add(d as u64)),
    ]
}

fn edge_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        (prop::sample::select(I_EDGES), -2i64..=2).prop_map(|(e, d)| e.wrapping_add(d)),
        edge_u64().prop_map(|u| u as i64),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[a-zé€😀]{25,300}"]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![vec(any::<u8>(), 0..40), vec(any::<u8>(), 200..300)]
}

fn shape() -> impl Strategy<Value = Shape> {
    let leaf = prop_oneof![
        Just(Shape::Empty),
        any::<i32>().prop_map(Shape::Wrap),
        (edge_u64(), ".{0,8}").prop_map(|(a, b)| Shape::Pair(a, b)),
        any::<f64>().prop_map(|x| Shape::Named { x, next: None }),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        (any::<f64>(), inner).prop_map(|(x, s)| Shape::Named {
            x,
            next: Some(Box::new(s)),
        })
    })
}

fn leaf() -> impl Strategy<Value = Leaf> {
    (
        (
            edge_u64(),
            edge_i64(),
            any::<(u8, i8, u16, i16, u32, i32)>(),
        ),
        (any::<f32>(), any::<f64>(), any::<char>(), text()),
        (bytes(), vec(any::<u8>(), 0..20), any::<Option<i32>>()),
        (any::<u16>(), any::<i8>(), ".{0,5}"),
        (any::<i128>(), any::<u128>(), any::<bool>()),
    )
        .prop_map(
            |((u, i, small), (f, g, c, s), (b, plain, o), (n, p, q), (wi, wu, flag))| Leaf {
                u,
                i,
                small,
                f,
                g,
                c,
                s,
                b,
                plain,
                o,
                units: (Unit, ()),
                newtype: Wrapper(n),
                pair: Pair(p, q),
                wide: (wi, wu),
                flag,
            },
        )
}

fn tree() -> impl Strategy<Value = Tree> {
    let node = |children: BoxedStrategy<Vec<Tree>>| {
        (
            leaf(),
            vec(shape(), 0..4),
            prop::collection::btree_map(".{0,6}", prop::option::of(shape()), 0..4),
            prop::collection::btree_map(edge_i64(), any::<bool>(), 0..20),
            prop::option::of(bytes()),
            children,
        )
            .prop_map(|(leaf, shapes, named, numbered, blob, children)| Tree {
                leaf,
                shapes,
                named,
                numbered,
                blob,
                children,
            })
    };
    node(Just(Vec::new()).boxed())
        .prop_recursive(2, 6, 3, move |inner| node(vec(inner, 0..3).boxed()))
}

/// Random MessagePack, well formed or nearly, with the names and indices of the test types
/// mixed in so that it sometimes decodes into them.
fn raw() -> impl Strategy<Value = Vec<u8>> {
    let word = prop::sample::select(
        &[
            "Empty",
            "Wrap",
            "Pair",
            "Named",
            "x",
            "next",
            "a",
            "b",
            "leaf",
            "code",
            "message",
            "data",
            "retryable",
            "user",
            "internal",
        ][..],
    );
    let leaf = prop_oneof![
        prop::sample::select(&[0xc0u8, 0xc2, 0xc3, 0x00, 0x01, 0x02, 0x03, 0xff, 0x90, 0x80][..])
            .prop_map(|b| vec![b]),
        (0xccu8..=0xd3, any::<[u8; 8]>()).prop_map(|(m, p)| {
            let width = 1 << ((m - 0xcc) % 4);
            let mut out = vec![m];
            out.extend_from_slice(&p[..width]);
            out
        }),
        (any::<bool>(), any::<f64>()).prop_map(|(wide, x)| if wide {
            let mut out = vec![0xcb];
            out.extend_from_slice(&x.to_be_bytes());
            out
        } else {
            let mut out = vec![0xca];
            out.extend_from_slice(&(x as f32).to_be_bytes());
            out
        }),
        (word, 0..3usize).prop_map(|(w, form)| with_head(HEADS[0], form, w.as_bytes())),
        (
            prop_oneof![
                ".{0,8}".prop_map(String::into_bytes),
                vec(any::<u8>(), 0..8)
            ],
            0..3usize
        )
            .prop_map(|(data, form)| with_head(HEADS[0], form, &data)),
        (vec(any::<u8>(), 0..20), 0..3usize)
            .prop_map(|(data, form)| with_head(HEADS[1], form, &data)),
        (any::<i8>(), vec(any::<u8>(), 0..20)).prop_map(|(tag, data)| to_vec(&Ext((
            tag,
            ByteBuf::from(data)
        )))
        .unwrap()),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            (vec(inner.clone(), 0..6), 0..3usize).prop_map(|(items, form)| {
                let mut out = head(HEADS[2], form, items.len());
                items.iter().for_each(|i| out.extend_from_slice(i));
                out
            }),
            (vec((inner.clone(), inner), 0..4), 0..3usize).prop_map(|(entries, form)| {
                let mut out = head(HEADS[3], form, entries.len());
                for (k, v) in &entries {
                    out.extend_from_slice(k);
                    out.extend_from_slice(v);
                }
                out
            }),
        ]
    })
}

// --- a re-encoder that picks other widths than the shortest ------------------------------

/// Markers of (fixed form base, fixed form limit, 8-bit, 16-bit, 32-bit) for str, bin,
/// array and map; 0 where the form does not exist.
const HEADS: [(u8, usize, u8, u8, u8); 4] = [
    (0xa0, 32, 0xd9, 0xda, 0xdb),
    (0, 0, 0xc4, 0xc5, 0xc6),
    (0x90, 16, 0, 0xdc, 0xdd),
    (0x80, 16, 0, 0xde, 0xdf),
];

/// A header of `len` in the `form`-th form that can hold it (fixed, 8, 16, 32 bits).
fn head((fix, fix_len, m8, m16, m32): (u8, usize, u8, u8, u8), form: usize, len: usize) -> Vec<u8> {
    let mut forms = Vec::new();
    if len < fix_len {
        forms.push(vec![fix | len as u8]);
    }
    if m8 != 0 && len < 256 {
        forms.push(vec![m8, len as u8]);
    }
    if len < 65536 {
        let mut f = vec![m16];
        f.extend_from_slice(&(len as u16).to_be_bytes());
        forms.push(f);
    }
    let mut f = vec![m32];
    f.extend_from_slice(&(len as u32).to_be_bytes());
    forms.push(f);
    forms.swap_remove(form % forms.len())
}

fn with_head(h: (u8, usize, u8, u8, u8), form: usize, data: &[u8]) -> Vec<u8> {
    let mut out = head(h, form, data.len());
    out.extend_from_slice(data);
    out
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 8) as usize
    }
}

/// Re-encodes one value of canonical MessagePack with randomly chosen wider forms of its
/// integers, floats and lengths (still valid MessagePack for the same data).
fn widen(input: &mut &[u8], out: &mut Vec<u8>, rng: &mut Rng) {
    let take = |input: &mut &[u8], n: usize| -> Vec<u8> {
        let (a, b) = input.split_at(n);
        *input = b;
        a.to_vec()
    };
    let be = |b: &[u8]| b.iter().fold(0u64, |n, &b| n << 8 | u64::from(b));
    let m = take(input, 1)[0];
    match m {
        0x00..=0x7f | 0xcc..=0xcf => {
            let v = match m {
                0x00..=0x7f => u64::from(m),
                _ => be(&take(input, 1 << (m - 0xcc))),
            };
            let mut forms: Vec<Vec<u8>> = Vec::new();
            if v < 128 {
                forms.push(vec![v as u8]);
            }
            let mut push = |m: u8, b: &[u8]| forms.push([&[m][..], b].concat());
            if v < 128 {
                push(0xd0, &[v as u8]);
            }
            if v < 256 {
                push(0xcc, &[v as u8]);
            }
            if v < 32768 {
                push(0xd1, &(v as u16).to_be_bytes());
            }
            if v < 65536 {
                push(0xcd, &(v as u16).to_be_bytes());
            }
            if v < 1 << 31 {
                push(0xd2, &(v as u32).to_be_bytes());
            }
            if v < 1 << 32 {
                push(0xce, &(v as u32).to_be_bytes());
            }
            if v < 1 << 63 {
                push(0xd3, &v.to_be_bytes());
            }
            push(0xcf, &v.to_be_bytes());
            out.extend(forms.swap_remove(rng.next() % forms.len()));
        }
        0xe0..=0xff | 0xd0..=0xd3 => {
            let v = match m {
                0xe0..=0xff => i64::from(m as i8),
                _ => {
                    let n = 1 << (m - 0xd0);
                    let b = take(input, n);
                    (be(&b) << (64 - 8 * n)) as i64 >> (64 - 8 * n)
                }
            };
            let mut forms: Vec<Vec<u8>> = Vec::new();
            if v >= -32 {
                forms.push(vec![v as u8]);
            }
            let mut push = |m: u8, b: &[u8]| forms.push([&[m][..], b].concat());
            if v >= -128 {
                push(0xd0, &[v as u8]);
            }
            if v >= -32768 {
                push(0xd1, &(v as i16).to_be_bytes());
            }
            if v >= -(1 << 31) {
                push(0xd2, &(v as i32).to_be_bytes());
            }
            push(0xd3, &v.to_be_bytes());
            out.extend(forms.swap_remove(rng.next() % forms.len()));
        }
        0xca => {
            let x = f32::from_be_bytes(take(input, 4).try_into().unwrap());
            if rng.next() & 1 == 0 {
                out.push(0xca);
                out.extend_from_slice(&x.to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&f64::from(x).to_be_bytes());
            }
        }
        0xcb => {
            out.push(m);
            out.extend(take(input, 8));
        }
        0xc0 | 0xc2 | 0xc3 => out.push(m),
        0xa0..=0xbf | 0xd9..=0xdb | 0xc4..=0xc6 => {
            let (h, len) = match m {
                0xa0..=0xbf => (HEADS[0], usize::from(m & 0x1f)),
                0xd9..=0xdb => (HEADS[0], be(&take(input, 1 << (m - 0xd9))) as usize),
                _ => (HEADS[1], be(&take(input, 1 << (m - 0xc4))) as usize),
            };
            let data = take(input, len);
            // rmp-serde reads `i128` and `u128` from bin8 only.
            let form = if h == HEADS[1] && len == 16 {
                0
            } else {
                rng.next()
            };
            out.extend(with_head(h, form, &data));
        }
        0x80..=0x9f | 0xdc..=0xdf => {
            let (h, len) = match m {
                0x80..=0x8f => (HEADS[3], usize::from(m & 0x0f)),
                0x90..=0x9f => (HEADS[2], usize::from(m & 0x0f)),
                0xdc | 0xdd => (HEADS[2], be(&take(input, 2 << (m - 0xdc))) as usize),
                _ => (HEADS[3], be(&take(input, 2 << (m - 0xde))) as usize),
            };
            // rmp-serde reads a unit struct from `[]` in its fixed form only.
            let form = if len == 0 { 0 } else { rng.next() };
            out.extend(head(h, form, len));
            let items = if h == HEADS[3] { 2 * len } else { len };
            for _ in 0..items {
                widen(input, out, rng);
            }
        }
        other => panic!("the codec does not write {other:#04x} here"),
    }
}

// --- encoding ----------------------------------------------------------------------------

#[test]
fn integers_at_every_boundary() {
    let mut values: Vec<i128> = Vec::new();
    for &e in U_EDGES {
        values.extend((-2..=2).map(|d| i128::from(e) + d));
    }
    for &e in I_EDGES {
        values.extend((-2..=2).map(|d| i128::from(e) + d));
    }
    values.extend([
        i128::from(i8::MIN),
        i128::from(i16::MIN),
        i128::MIN,
        i128::MAX,
    ]);
    for v in values {
        macro_rules! each {
            ($($t:ty)*) => {$(
                #[allow(irrefutable_let_patterns)]
                if let Ok(x) = <$t>::try_from(v) {
                    let bytes = same_bytes(&x);
                    assert_eq!(from_slice::<$t>(&bytes), Ok(x));
                    // Any width into any integer type that holds the value, as rmp-serde.
                    reads_what_rmp_reads::<i8>(&bytes);
                    reads_what_rmp_reads::<i16>(&bytes);
                    reads_what_rmp_reads::<i32>(&bytes);
                    reads_what_rmp_reads::<i64>(&bytes);
                    reads_what_rmp_reads::<u8>(&bytes);
                    reads_what_rmp_reads::<u16>(&bytes);
                    reads_what_rmp_reads::<u32>(&bytes);
                    reads_what_rmp_reads::<u64>(&bytes);
                    reads_what_rmp_reads::<i128>(&bytes);
                    reads_what_rmp_reads::<u128>(&bytes);
                    reads_what_rmp_reads::<f32>(&bytes);
                    reads_what_rmp_reads::<f64>(&bytes);
                }
            )*};
        }
        each!(i8 i16 i32 i64 i128 u8 u16 u32 u64 u128);
    }
    // The same value reads into every type that holds it.
    let bytes = to_vec(&200u64).unwrap();
    assert_eq!(from_slice::<i16>(&bytes), Ok(200));
    assert!(from_slice::<i8>(&bytes).is_err());
    let bytes = to_vec(&-5i64).unwrap();
    assert_eq!(from_slice::<i128>(&bytes), Ok(-5));
    assert!(from_slice::<u64>(&bytes).is_err());
}

#[test]
fn floats_keep_their_bits() {
    for x in [
        0.0,
        -0.0,
        1.5,
        f64::MIN_POSITIVE,
        5e-324,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ] {
        let bytes = same_bytes(&x);
        assert_eq!(from_slice::<f64>(&bytes).unwrap().to_bits(), x.to_bits());
        let y = x as f32;
        let bytes = same_bytes(&y);
        assert_eq!(from_slice::<f32>(&bytes).unwrap().to_bits(), y.to_bits());
        reads_what_rmp_reads::<f64>(&bytes);
    }
}

#[test]
fn lengths_at_every_boundary() {
    for len in [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000] {
        let s = "é".repeat(len / 2) + &"x".repeat(len % 2);
        assert_eq!(s.len(), len);
        assert_eq!(from_slice::<String>(&same_bytes(&s)).unwrap(), s);
        let b = ByteBuf::from(vec![7u8; len]);
        assert_eq!(from_slice::<ByteBuf>(&same_bytes(&b)).unwrap(), b);
        let v = vec![true; len];
        assert_eq!(from_slice::<Vec<bool>>(&same_bytes(&v)).unwrap(), v);
        let m: BTreeMap<u32, ()> = (0..len as u32).map(|k| (k, ())).collect();
        assert_eq!(from_slice::<BTreeMap<u32, ()>>(&same_bytes(&m)).unwrap(), m);
        // Sequences and maps whose length serde does not know up front.
        let unknown = Unsized(len);
        assert_eq!(to_vec(&unknown).unwrap(), rmp_named(&unknown));
    }
}

/// `len` elements through `serialize_seq(None)`, and then as many map entries through
/// `serialize_map(None)`, inside a flattened struct.
#[derive(Debug)]
struct Unsized(usize);

impl Serialize for Unsized {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Outer<'a> {
            seq: Filtered,
            #[serde(flatten)]
            inner: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            name: &'a str,
            entries: BTreeMap<u32, u8>,
        }
        struct Filtered(usize);
        impl Serialize for Filtered {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_seq(
                    (0..self.0 * 2)
                        .filter(|i| i % 2 == 0)
                        .map(|i| vec![i as u8; i % 3]),
                )
            }
        }
        Outer {
            seq: Filtered(self.0),
            inner: Inner {
                name: "x",
                entries: (0..self.0 as u32).map(|k| (k, k as u8)).collect(),
            },
        }
        .serialize(s)
    }
}

#[test]
fn every_shape_encodes_like_rmp() {
    #[derive(Debug, Serialize)]
    struct Everything<'a> {
        unit: (),
        unit_struct: Unit,
        unit_variant: Shape,
        newtype: Wrapper,
        newtype_variant: Shape,
        tuple: (u8, &'a str),
        tuple_struct: Pair,
        tuple_variant: Shape,
        struct_variant: Shape,
        none: Option<u8>,
        some: Option<Option<u8>>,
        chars: [char; 3],
        bytes: &'a serde_bytes::Bytes,
        empty_vec: Vec<u8>,
        map: BTreeMap<&'a str, Vec<Option<i8>>>,
        nested: Vec<Vec<Small>>,
    }
    let value = Everything {
        unit: (),
        unit_struct: Unit,
        unit_variant: Shape::Empty,
        newtype: Wrapper(300),
        newtype_variant: Shape::Wrap(-7),
        tuple: (1, "ü"),
        tuple_struct: Pair(-100, "p".into()),
        tuple_variant: Shape::Pair(u64::MAX, String::new()),
        struct_variant: Shape::Named {
            x: 0.1,
            next: Some(Box::new(Shape::Empty)),
        },
        none: None,
        some: Some(Some(3)),
        chars: ['a', 'é', '😀'],
        bytes: serde_bytes::Bytes::new(b"\x00\xff"),
        empty_vec: Vec::new(),
        map: [("k", vec![None, Some(-1)]), ("日本", vec![])].into(),
        nested: vec![
            vec![],
            vec![Small {
                a: 1,
                b: "b".into(),
            }],
        ],
    };
    same_bytes(&value);
    same_bytes(&Unit);
    same_bytes(&());
    same_bytes(&Shape::Empty);
    same_bytes(&Some(Unit));
    same_bytes(&Chain::Next(Box::new(Chain::End)));
}

#[test]
fn extensions_like_rmp() {
    for len in [0, 1, 2, 3, 4, 8, 16, 17, 255, 256, 65535, 65536] {
        let ext = Ext((-3, ByteBuf::from(vec![9u8; len])));
        let bytes = same_bytes(&ext);
        assert_eq!(from_slice::<Ext>(&bytes).unwrap(), ext);
        reads_what_rmp_reads::<Ext>(&bytes);
        // Unknown fields holding an extension are skipped, as by rmp-serde.
        let mut with_ext = vec![0x83, 0xa1, b'a', 0x01, 0xa1, b'z'];
        with_ext.extend_from_slice(&bytes);
        with_ext.extend_from_slice(&[0xa1, b'b', 0xa0]);
        assert!(reads_what_rmp_reads::<Small>(&with_ext));
    }
    // Anything but `(i8, bytes)` in an `_ExtStruct` fails in both.
    #[derive(Debug, Serialize)]
    #[serde(rename = "_ExtStruct")]
    struct Bad<T>(T);
    fn fails<T: Serialize + Debug>(value: T) {
        assert!(rmp_serde::to_vec_named(&Bad(&value)).is_err(), "{value:?}");
        assert_eq!(to_vec(&Bad(&value)), Err(Error::BadExt), "{value:?}");
    }
    fails(1i8);
    fails((1i16, ByteBuf::new()));
    fails((ByteBuf::new(), 1i8));
    fails((1i8,));
    fails((1i8, 2i8));
    fails((1i8, "s"));
    fails((1i8, ByteBuf::new(), ByteBuf::new()));
    fails(vec![1i8]);
}

// --- decoding ----------------------------------------------------------------------------

#[test]
fn enums_in_every_form_rmp_reads() {
    let named = |x: f64| Shape::Named { x, next: None };
    let cases: Vec<(Vec<u8>, Option<Shape>)> = vec![
        (b"\xa5Empty".to_vec(), Some(Shape::Empty)),
        (vec![0x00], Some(Shape::Empty)),
        (b"\x81\xa5Empty\xc0".to_vec(), Some(Shape::Empty)),
        (vec![0x81, 0x00, 0xc0], Some(Shape::Empty)),
        (b"\x81\xa4Wrap\x05".to_vec(), Some(Shape::Wrap(5))),
        (vec![0x81, 0x01, 0xd0, 0xfb], Some(Shape::Wrap(-5))),
        (b"\x81\xc4\x04Wrap\x05".to_vec(), Some(Shape::Wrap(5))),
        (
            b"\x81\xa4Pair\x92\x01\xa1a".to_vec(),
            Some(Shape::Pair(1, "a".into())),
        ),
        (
            b"\x81\xa5Named\x82\xa1x\xcb\x3f\xf0\0\0\0\0\0\0\xa4next\xc0".to_vec(),
            Some(named(1.0)),
        ),
        (
            b"\x81\xa5Named\x92\xcb\x3f\xf0\0\0\0\0\0\0\xc0".to_vec(),
            Some(named(1.0)),
        ),
        (b"\x81\xa5Named\x81\xa1x\x02".to_vec(), Some(named(2.0))),
        (b"\x81\x03\x81\x00\x02".to_vec(), Some(named(2.0))),
        (b"\xde\x00\x01\xa5Empty\xc0".to_vec(), Some(Shape::Empty)),
        (vec![0x80], None),
        (b"\x82\xa5Empty\xc0\xa4Wrap\x01".to_vec(), None),
        (b"\xa4Wrap".to_vec(), None),
        (b"\x81\xa5Empty\x01".to_vec(), None),
        (b"\x81\xa5Empty\x90".to_vec(), None),
        (b"\xa5Other".to_vec(), None),
        (vec![0x04], None),
        (b"\x91\xa5Empty".to_vec(), None),
        (vec![0xc0], None),
    ];
    for (bytes, expected) in cases {
        let ours = from_slice::<Shape>(&bytes);
        assert_eq!(
            ours.as_ref().ok(),
            expected.as_ref(),
            "{bytes:02x?}: {ours:?}"
        );
        assert_eq!(rmp_decode::<Shape>(&bytes).ok(), expected, "{bytes:02x?}");
        reads_what_rmp_reads::<Option<Shape>>(&bytes);
    }
}

#[test]
fn structs_as_maps_or_arrays() {
    let small = Small {
        a: 7,
        b: "seven".into(),
    };
    let as_map = same_bytes(&small);
    assert_eq!(from_slice::<Small>(&as_map).unwrap(), small);
    let as_array = rmp_serde::to_vec(&small).unwrap();
    assert_eq!(as_array, b"\x92\x07\xa5seven");
    assert_eq!(from_slice::<Small>(&as_array).unwrap(), small);
    // Keys by field index, in any order, and unknown keys skipped.
    let by_index = b"\x83\x01\xa5seven\x05\x92\xc0\xc3\x00\x07";
    assert!(reads_what_rmp_reads::<Small>(by_index));
    assert_eq!(from_slice::<Small>(by_index).unwrap(), small);
    // Too few or too many elements.
    assert!(from_slice::<Small>(b"\x91\x07").is_err());
    assert_eq!(
        from_slice::<Small>(b"\x93\x07\xa5seven\xc0"),
        Err(Error::Extra(1))
    );
    assert!(rmp_decode::<Small>(b"\x93\x07\xa5seven\xc0").is_err());
    assert_eq!(from_slice::<(i64,)>(b"\x92\x01\x02"), Err(Error::Extra(1)));
}

#[test]
fn bytes_in_every_form_rmp_reads() {
    let cases: &[&[u8]] = &[
        b"\xc4\x03abc",
        b"\xc5\x00\x03abc",
        b"\xa3abc",
        b"\x93\x61\x62\x63",
        b"\x93\x61\xcc\x62\xd0\x63",
        b"\x92\x61\xcd\x01\x00",
        b"\xa2\xff\xfe",
        b"\x90",
        b"\xc0",
        b"\x81\x00\x00",
    ];
    for bytes in cases {
        reads_what_rmp_reads_as_anything(bytes);
    }
    assert_eq!(from_slice::<ByteBuf>(b"\xa3abc").unwrap(), b"abc"[..]);
    assert_eq!(
        from_slice::<ByteBuf>(b"\x93\x61\x62\x63").unwrap(),
        b"abc"[..]
    );
    assert_eq!(from_slice::<Vec<u8>>(b"\xc4\x03abc").unwrap(), b"abc");
    assert_eq!(from_slice::<String>(b"\xc4\x03abc").unwrap(), "abc");
    // A string that is not UTF-8 still reads as bytes, not as a string.
    assert_eq!(
        from_slice::<ByteBuf>(b"\xa2\xff\xfe").unwrap(),
        b"\xff\xfe"[..]
    );
    assert_eq!(from_slice::<String>(b"\xa2\xff\xfe"), Err(Error::Utf8));
    // Bin reads as a sequence of integers, as rmp-serde.
    assert_eq!(
        from_slice::<(u8, i64)>(b"\xc4\x02\x01\x02").unwrap(),
        (1, 2)
    );
    assert_eq!(
        from_slice::<i128>(&to_vec(&-1i128).unwrap()).unwrap(),
        -1,
        "16 bytes of bin"
    );
    assert_eq!(
        from_slice::<u128>(b"\xff").unwrap(),
        u128::MAX,
        "negative wraps, as rmp-serde"
    );
}

#[test]
fn units_and_options_in_every_form_rmp_reads() {
    assert!(reads_what_rmp_reads::<Unit>(b"\x90"));
    assert!(reads_what_rmp_reads::<Unit>(b"\xc0"));
    assert!(reads_what_rmp_reads::<()>(b"\xc0"));
    assert!(reads_what_rmp_reads::<Option<Unit>>(b"\xc0"));
    assert!(reads_what_rmp_reads::<Option<Unit>>(b"\x90"));
    assert!(reads_what_rmp_reads::<Option<Option<u8>>>(b"\x05"));
    assert!(reads_what_rmp_reads::<Option<Option<u8>>>(b"\xc0"));
    assert!(reads_what_rmp_reads::<Option<Shape>>(b"\xa5Empty"));
    assert!(reads_what_rmp_reads::<Option<Shape>>(b"\x81\xa4Wrap\x01"));
    assert!(reads_what_rmp_reads::<(Unit, (), Wrapper, Pair)>(
        b"\x94\xc0\xc0\x05\x92\xff\xa0"
    ));
    assert_eq!(from_slice::<Unit>(b"\xc0"), Ok(Unit));
    assert_eq!(from_slice::<Option<Unit>>(b"\x90"), Ok(Some(Unit)));
    for no in [&b"\x91\xc0"[..], b"\x80", b"\x00", b"\xdc\x00\x00"] {
        assert!(from_slice::<Unit>(no).is_err(), "{no:02x?}");
        assert!(rmp_decode::<Unit>(no).is_err(), "{no:02x?}");
    }
}

#[test]
fn strings_and_bytes_are_borrowed() {
    let bytes = to_vec(&("héllo", serde_bytes::Bytes::new(b"\x01\x02"))).unwrap();
    let (s, b): (&str, &[u8]) = from_slice(&bytes).unwrap();
    assert_eq!((s, b), ("héllo", &[1u8, 2][..]));
    assert!(std::ptr::eq(s.as_ptr(), bytes[2..].as_ptr()));
}

fn nested_arrays(n: usize) -> Vec<u8> {
    let mut bytes = vec![0x91; n];
    bytes.push(0xc0);
    bytes
}

fn nested_maps(n: usize) -> Vec<u8> {
    let mut bytes = b"\x81\xa1k".repeat(n);
    bytes.push(0xc0);
    bytes
}

fn chain(n: usize) -> Vec<u8> {
    let mut bytes = b"\x81\xa4Next".repeat(n);
    bytes.extend_from_slice(b"\xa3End");
    bytes
}

#[test]
fn nesting_is_limited() {
    let limit = MAX_DEPTH as usize;
    for nested in [nested_arrays, nested_maps] {
        // rmp-serde reads one level less than the limit; this codec reads up to it.
        assert!(reads_what_rmp_reads::<serde_json::Value>(&nested(
            limit - 1
        )));
        assert!(rmp_decode::<serde_json::Value>(&nested(limit)).is_err());
        assert!(from_slice::<serde_json::Value>(&nested(limit)).is_ok());
        assert!(from_slice::<IgnoredAny>(&nested(limit)).is_ok());
        for n in [limit + 1, 100_000] {
            assert_eq!(
                from_slice::<serde_json::Value>(&nested(n)),
                Err(Error::TooDeep)
            );
            assert_eq!(from_slice::<IgnoredAny>(&nested(n)), Err(Error::TooDeep));
        }
    }
    // Enums nest up to the limit too, counted apart (rmp-serde does not count them at all
    // and runs out of stack on a long enough chain).
    assert!(reads_what_rmp_reads::<Chain>(&chain(limit)));
    assert!(from_slice::<Chain>(&chain(limit)).is_ok());
    assert_eq!(from_slice::<Chain>(&chain(limit + 1)), Err(Error::TooDeep));
    assert_eq!(from_slice::<Chain>(&chain(100_000)), Err(Error::TooDeep));
    // Both kinds at once: they are counted apart.
    let mut both = vec![0x91];
    both.extend(chain(limit));
    assert!(reads_what_rmp_reads::<Vec<Chain>>(&both));
    assert_eq!(Error::TooDeep.to_string(), "nesting deeper than 128");
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = to_vec(&(5i64,)).unwrap();
    bytes.push(0);
    assert_eq!(from_slice::<(i64,)>(&bytes), Err(Error::Trailing(1)));
    assert_eq!(
        Error::Trailing(1).to_string(),
        "1 trailing bytes after the value"
    );
    assert_eq!(
        from_slice::<IgnoredAny>(b"\xc0\xc0\xc0"),
        Err(Error::Trailing(2))
    );
}

#[test]
fn errors_read_well() {
    assert_eq!(from_slice::<u8>(b""), Err(Error::Eof));
    assert_eq!(Error::Eof.to_string(), "unexpected end of input");
    assert_eq!(from_slice::<u8>(b"\xcd\x01"), Err(Error::Eof));
    assert_eq!(
        from_slice::<String>(b"\xdb\xff\xff\xff\xff"),
        Err(Error::Eof)
    );
    assert_eq!(
        from_slice::<Vec<u8>>(b"\xdd\xff\xff\xff\xff"),
        Err(Error::Eof)
    );
    assert_eq!(
        from_slice::<IgnoredAny>(b"\xc1"),
        Err(Error::Unexpected(0xc1))
    );
    let e = from_slice::<i64>(b"\xa1x").unwrap_err();
    assert_eq!(e.to_string(), "unexpected string (MessagePack marker 0xa1)");
    let e = from_slice::<u8>(b"\xcd\x01\x00").unwrap_err();
    assert!(e.to_string().contains("256"), "{e}");
    let e = from_slice::<Small>(b"\x81\xa1a\x01").unwrap_err();
    assert!(e.to_string().contains("missing field `b`"), "{e}");
}

#[test]
fn size_hints_are_capped() {
    // A declared length of 2^32 - 1 elements must not reserve memory for them.
    for bytes in [
        &b"\xdd\xff\xff\xff\xff\x01"[..],
        b"\xdf\xff\xff\xff\xff\x01\x01",
    ] {
        assert!(from_slice::<Vec<u64>>(bytes).is_err());
        assert!(from_slice::<Vec<IgnoredAny>>(bytes).is_err());
        assert!(from_slice::<BTreeMap<u8, u8>>(bytes).is_err());
        assert!(from_slice::<std::collections::HashMap<u8, u8>>(bytes).is_err());
        assert!(from_slice::<serde_json::Value>(bytes).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn trees_encode_like_rmp_and_decode_back(tree in tree(), seed in any::<u64>()) {
        let bytes = same_bytes(&tree);
        let debug = format!("{tree:?}");
        prop_assert_eq!(format!("{:?}", from_slice::<Tree>(&bytes).unwrap()), debug.as_str());
        prop_assert_eq!(format!("{:?}", rmp_decode::<Tree>(&bytes).unwrap()), debug.as_str());
        // rmp-serde's compact form: structs as arrays.
        let compact = rmp_serde::to_vec(&tree).unwrap();
        prop_assert_eq!(format!("{:?}", from_slice::<Tree>(&compact).unwrap()), debug.as_str());
        // Other widths than the shortest.
        for form in [bytes, compact] {
            let mut wide = Vec::new();
            widen(&mut &form[..], &mut wide, &mut Rng(seed | 1));
            prop_assert!(reads_what_rmp_reads::<Tree>(&wide), "rmp-serde fails on {:02x?}", wide);
            prop_assert_eq!(format!("{:?}", from_slice::<Tree>(&wide).unwrap()), debug.as_str());
            // Every prefix is an error.
            let step = (wide.len() / 64).max(1);
            for end in (0..wide.len()).step_by(step) {
                prop_assert!(from_slice::<Tree>(&wide[..end]).is_err());
                prop_assert!(from_slice::<IgnoredAny>(&wide[..end]).is_err());
            }
        }
    }

    #[test]
    fn scalars_encode_like_rmp(
        u in edge_u64(),
        i in edge_i64(),
        f in any::<f32>(),
        g in any::<f64>(),
        c in any::<char>(),
        s in text(),
        b in bytes(),
    ) {
        same_bytes(&u);
        same_bytes(&i);
        same_bytes(&f);
        same_bytes(&g);
        same_bytes(&c);
        prop_assert_eq!(from_slice::<char>(&same_bytes(&c)).unwrap(), c);
        prop_assert_eq!(from_slice::<String>(&same_bytes(&s)).unwrap(), s.clone());
        prop_assert_eq!(from_slice::<ByteBuf>(&same_bytes(&ByteBuf::from(b.clone()))).unwrap(), b.clone());
        prop_assert_eq!(from_slice::<Vec<u8>>(&same_bytes(&b)).unwrap(), b);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        reads_what_rmp_reads_as_anything(&bytes);
    }

    #[test]
    fn random_messagepack_reads_like_rmp(bytes in raw()) {
        reads_what_rmp_reads_as_anything(&bytes);
    }

    #[test]
    fn damaged_encodings_read_like_rmp(
        tree in tree(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        how in 0..3u8,
    ) {
        let mut bytes = to_vec(&tree).unwrap();
        let i = at.index(bytes.len());
        match how {
            0 => bytes[i] = byte,
            1 => bytes.insert(i, byte),
            _ => {
                bytes.remove(i);
            }
        }
        reads_what_rmp_reads_as_anything(&bytes);
    }
}
