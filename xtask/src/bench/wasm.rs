//! Where a wasm module's bytes are: the code size of each function, attributed to a crate
//! through the names section (worker-build keeps it), and the module without that section.
//! The module is read with wasmparser; only the attribution of names to crates is ours.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use wasmparser::{KnownCustom, Name, Parser, Payload, TypeRef};

/// The code of a module by crate.
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    /// Bytes of all function bodies.
    pub code: u64,
    /// Bytes of the data section.
    pub data: u64,
    /// Bytes of the `name` custom section.
    pub names: u64,
    /// (crate, bytes of its function bodies), largest first.
    pub by_crate: Vec<(String, u64)>,
}

/// The crates that make up the framework itself, as they appear in demangled names.
pub const FRAMEWORK_CRATES: &[&str] = &["duro", "duro_index"];

impl Breakdown {
    /// Bytes of function bodies of the framework's own crates ([`FRAMEWORK_CRATES`]).
    pub fn framework(&self) -> u64 {
        self.by_crate
            .iter()
            .filter(|(name, _)| FRAMEWORK_CRATES.contains(&name.as_str()))
            .map(|(_, bytes)| bytes)
            .sum()
    }
}

fn invalid(e: wasmparser::BinaryReaderError) -> String {
    format!("not a valid wasm module: {e}")
}

/// The byte range of the `name` custom section, header included.
fn names_section(module: &[u8]) -> Result<Option<Range<usize>>, String> {
    // Sections are contiguous: one starts where the previous one ended.
    let mut previous_end = 0;
    for payload in Parser::new(0).parse_all(module) {
        let payload = payload.map_err(invalid)?;
        if let Payload::CustomSection(custom) = &payload {
            if custom.name() == "name" {
                return Ok(Some(previous_end..to_usize(custom.range().end)));
            }
        }
        match &payload {
            Payload::Version { range, .. } => previous_end = to_usize(range.end),
            payload => {
                if let Some((_, range)) = payload.as_section() {
                    previous_end = to_usize(range.end);
                }
            }
        }
    }
    Ok(None)
}

fn to_usize(offset: u64) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

fn span(range: Range<u64>) -> u64 {
    range.end - range.start
}

/// `module` without its `name` custom section.
pub fn without_names(module: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = module.to_vec();
    if let Some(range) = names_section(module)? {
        out.drain(range);
    }
    Ok(out)
}

/// Reads the code size of every function and attributes it to a crate by its name.
pub fn breakdown(module: &[u8]) -> Result<Breakdown, String> {
    let mut imported_functions = 0u64;
    let mut bodies = Vec::new();
    let mut names: HashMap<u64, &str> = HashMap::new();
    let mut result = Breakdown::default();
    for payload in Parser::new(0).parse_all(module) {
        match payload.map_err(invalid)? {
            Payload::ImportSection(imports) => {
                for import in imports.into_imports() {
                    if let TypeRef::Func(_) = import.map_err(invalid)?.ty {
                        imported_functions += 1;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                bodies.push(span(body.range()));
            }
            Payload::DataSection(data) => result.data = span(data.range()),
            Payload::CustomSection(custom) => {
                let KnownCustom::Name(subsections) = custom.as_known() else {
                    continue;
                };
                result.names = span(custom.range());
                for subsection in subsections {
                    if let Name::Function(map) = subsection.map_err(invalid)? {
                        for naming in map {
                            let naming = naming.map_err(invalid)?;
                            names.insert(u64::from(naming.index), naming.name);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut by_crate: BTreeMap<String, u64> = BTreeMap::new();
    for (i, len) in bodies.iter().enumerate() {
        let name = names
            .get(&(imported_functions + i as u64))
            .copied()
            .unwrap_or("(unnamed)");
        *by_crate.entry(crate_of(name)).or_default() += len;
        result.code += len;
    }
    let mut by_crate: Vec<(String, u64)> = by_crate.into_iter().collect();
    by_crate.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    result.by_crate = by_crate;
    Ok(result)
}

/// The crate a demangled function name belongs to: `duro::host::Host<T>::call` → `duro`;
/// `<worker::Env as duro::client::Connect>::connect` → `duro` (the trait's crate when the
/// type is a primitive or foreign, else the type's); exports and glue by their own name.
pub fn crate_of(name: &str) -> String {
    let name = name.trim_start_matches('_');
    let path = if let Some(rest) = name.strip_prefix('<') {
        // `<Type as Trait>::method` or `<Type>::method`.
        let inner = &rest[..matching_close(rest).unwrap_or(rest.len())];
        match inner.split_once(" as ") {
            Some((ty, tr)) => {
                let ty = strip_refs(ty);
                if ty.contains("::") && !ty.starts_with("core::") && !ty.starts_with("alloc::") {
                    ty
                } else {
                    strip_refs(tr)
                }
            }
            None => strip_refs(inner),
        }
    } else {
        name
    };
    let first = path
        .split("::")
        .next()
        .unwrap_or(path)
        .split(['<', '[', ' ', '('])
        .next()
        .unwrap_or("");
    if path.contains("::") && !first.is_empty() {
        first.to_owned()
    } else {
        "(exports and glue)".to_owned()
    }
}

fn strip_refs(ty: &str) -> &str {
    let mut ty = ty.trim();
    loop {
        let next = ty
            .trim_start_matches('&')
            .trim_start_matches("mut ")
            .trim_start_matches("dyn ")
            .trim_start_matches('[')
            .trim_start_matches('(')
            .trim_start();
        if next == ty {
            return ty;
        }
        ty = next;
    }
}

/// The index of the `>` closing the `<` already consumed.
fn matching_close(text: &str) -> Option<usize> {
    let mut depth = 1;
    for (i, c) in text.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_functions_to_crates() {
        assert_eq!(
            crate_of("duro::host::Host<T>::call::{{closure}}::h1234"),
            "duro"
        );
        assert_eq!(
            crate_of("<duro::wasm::WorkerTransport as duro::client::Transport>::send"),
            "duro"
        );
        assert_eq!(
            crate_of("<&mut W as core::fmt::Write>::write_str::h00"),
            "core"
        );
        assert_eq!(
            crate_of("<alloc::vec::Vec<T> as rmp_serde::Thing>::f"),
            "rmp_serde"
        );
        assert_eq!(crate_of("<worker::Env>::var"), "worker");
        assert_eq!(crate_of("counter_fetch"), "(exports and glue)");
        assert_eq!(crate_of("__rust_alloc"), "(exports and glue)");
    }

    /// A module with one imported function, two bodies, a names section and a data section.
    fn module() -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        // type section: one type () -> ()
        m.extend_from_slice(&[1, 4, 1, 0x60, 0, 0]);
        // import section: "m" "f" func type 0
        m.extend_from_slice(&[2, 7, 1, 1, b'm', 1, b'f', 0, 0]);
        // function section: two functions of type 0
        m.extend_from_slice(&[3, 3, 2, 0, 0]);
        // code section: bodies of 2 and 3 bytes
        m.extend_from_slice(&[10, 8, 2, 2, 0, 0x0b, 3, 0, 0x01, 0x0b]);
        // data section (empty list)
        m.extend_from_slice(&[11, 1, 0]);
        // names: function 1 = "a::x", function 2 = "b::y"
        let mut names = vec![4, b'n', b'a', b'm', b'e'];
        let sub = [
            2, 1, 4, b'a', b':', b':', b'x', 2, 4, b'b', b':', b':', b'y',
        ];
        names.push(1);
        names.push(sub.len() as u8);
        names.extend_from_slice(&sub);
        m.push(0);
        m.push(names.len() as u8);
        m.extend_from_slice(&names);
        m
    }

    #[test]
    fn reads_code_sizes_and_names() {
        let m = module();
        let b = breakdown(&m).unwrap();
        assert_eq!(b.code, 5);
        assert_eq!(b.data, 1);
        assert_eq!(b.names, 20);
        assert_eq!(b.by_crate, [("b".to_owned(), 3), ("a".to_owned(), 2)]);
        let stripped = without_names(&m).unwrap();
        assert_eq!(stripped.len(), m.len() - 22);
        assert_eq!(breakdown(&stripped).unwrap().names, 0);
        assert!(breakdown(b"nope").is_err());
    }

    #[test]
    fn sums_the_framework_crates() {
        let b = Breakdown {
            by_crate: vec![
                ("core".to_owned(), 50),
                ("duro".to_owned(), 30),
                ("counter".to_owned(), 20),
                ("duro_index".to_owned(), 5),
            ],
            ..Breakdown::default()
        };
        assert_eq!(b.framework(), 35);
    }
}
