//! Where a wasm module's bytes are: the code size of each function, attributed to a crate
//! through the names section (worker-build keeps it), and the module without that section.

use std::collections::BTreeMap;

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

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, String> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or("unexpected end of the module")?;
        self.pos += 1;
        Ok(b)
    }

    fn leb(&mut self) -> Result<u64, String> {
        let mut result = 0u64;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift < 64 {
                result |= u64::from(b & 0x7f) << shift;
            }
            if b & 0x80 == 0 {
                return Ok(result);
            }
            shift += 7;
        }
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n).map_err(|_| "section too large")?;
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("a section runs past the end of the module")?;
        let slice = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    fn name(&mut self) -> Result<&'a [u8], String> {
        let len = self.leb()?;
        self.take(len)
    }

    fn limits(&mut self) -> Result<(), String> {
        let flags = self.leb()?;
        self.leb()?;
        if flags & 1 != 0 {
            self.leb()?;
        }
        Ok(())
    }

    /// A value or reference type (single byte, or a prefixed heap type).
    fn value_type(&mut self) -> Result<(), String> {
        match self.byte()? {
            0x63 | 0x64 => {
                self.leb()?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// A section: id, name (custom sections only) and body.
type Section<'a> = (u8, String, &'a [u8]);

/// The sections of `module`.
fn sections(module: &[u8]) -> Result<Vec<Section<'_>>, String> {
    if module.len() < 8 || &module[..4] != b"\0asm" {
        return Err("not a wasm module".into());
    }
    let mut reader = Reader {
        bytes: module,
        pos: 8,
    };
    let mut out = Vec::new();
    while reader.pos < module.len() {
        let id = reader.byte()?;
        let len = reader.leb()?;
        let body = reader.take(len)?;
        let name = if id == 0 {
            let mut r = Reader {
                bytes: body,
                pos: 0,
            };
            String::from_utf8_lossy(r.name()?).into_owned()
        } else {
            String::new()
        };
        out.push((id, name, body));
    }
    Ok(out)
}

/// `module` without its `name` custom section.
pub fn without_names(module: &[u8]) -> Result<Vec<u8>, String> {
    sections(module)?;
    let mut out = module[..8].to_vec();
    let mut reader = Reader {
        bytes: module,
        pos: 8,
    };
    while reader.pos < module.len() {
        let start = reader.pos;
        let id = reader.byte()?;
        let len = reader.leb()?;
        let body = reader.take(len)?;
        let is_names = id == 0 && {
            let mut r = Reader {
                bytes: body,
                pos: 0,
            };
            r.name()? == b"name"
        };
        if !is_names {
            out.extend_from_slice(&module[start..reader.pos]);
        }
    }
    Ok(out)
}

/// Reads the code size of every function and attributes it to a crate by its name.
pub fn breakdown(module: &[u8]) -> Result<Breakdown, String> {
    let mut imported_functions = 0u64;
    let mut bodies = Vec::new();
    let mut names: BTreeMap<u64, String> = BTreeMap::new();
    let mut result = Breakdown::default();
    for (id, custom, body) in sections(module)? {
        let mut r = Reader {
            bytes: body,
            pos: 0,
        };
        match id {
            2 => {
                for _ in 0..r.leb()? {
                    r.name()?;
                    r.name()?;
                    match r.byte()? {
                        0 => {
                            r.leb()?;
                            imported_functions += 1;
                        }
                        1 => {
                            r.value_type()?;
                            r.limits()?;
                        }
                        2 => r.limits()?,
                        3 => {
                            r.value_type()?;
                            r.byte()?;
                        }
                        4 => {
                            r.byte()?;
                            r.leb()?;
                        }
                        other => return Err(format!("unknown import kind {other}")),
                    }
                }
            }
            10 => {
                for _ in 0..r.leb()? {
                    let len = r.leb()?;
                    r.take(len)?;
                    bodies.push(len);
                }
            }
            11 => result.data = body.len() as u64,
            0 if custom == "name" => {
                result.names = body.len() as u64;
                r.name()?;
                while r.pos < body.len() {
                    let sub = r.byte()?;
                    let len = r.leb()?;
                    let content = r.take(len)?;
                    if sub == 1 {
                        let mut s = Reader {
                            bytes: content,
                            pos: 0,
                        };
                        for _ in 0..s.leb()? {
                            let index = s.leb()?;
                            let name = String::from_utf8_lossy(s.name()?).into_owned();
                            names.insert(index, name);
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
            .map_or("(unnamed)", String::as_str);
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
}
