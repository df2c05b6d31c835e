//! Attribute arguments: `key = value` lists whose keys are checked against a known set,
//! with a suggestion for near misses and an error for repeats.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, Lit, Meta, Token};

use crate::ctxt::Ctxt;

/// One `key = value` argument, remembering where it was written.
pub struct Arg {
    pub key: syn::Ident,
    pub value: Expr,
}

/// Parses `key = value, …`, reporting unknown and repeated keys.
pub fn parse_args(cx: &mut Ctxt, tokens: TokenStream, known: &[&str], what: &str) -> Vec<Arg> {
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(tokens) {
        Ok(m) => m,
        Err(e) => {
            cx.push(e);
            return Vec::new();
        }
    };
    let mut out: Vec<Arg> = Vec::new();
    for meta in metas {
        let (path, value) = match meta {
            Meta::NameValue(nv) => (nv.path, Some(nv.value)),
            Meta::Path(p) => (p, None),
            Meta::List(l) => (l.path, None),
        };
        let Some(key) = path.get_ident().cloned() else {
            cx.error(&path, format!("unknown {what} argument"));
            continue;
        };
        let name = key.to_string();
        if !known.contains(&name.as_str()) {
            let mut msg = format!("unknown {what} argument `{name}`");
            if let Some(close) = closest(&name, known) {
                msg.push_str(&format!("; did you mean `{close}`?"));
            } else if known.is_empty() {
                msg.push_str(&format!("; {what} takes no arguments"));
            } else {
                let list: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
                msg.push_str(&format!("; expected one of {}", list.join(", ")));
            }
            cx.error(&key, msg);
            continue;
        }
        let Some(value) = value else {
            cx.error(&key, format!("`{name}` needs a value: `{name} = …`"));
            continue;
        };
        if out.iter().any(|a| a.key == key) {
            cx.error(&key, format!("duplicate {what} argument `{name}`"));
            continue;
        }
        out.push(Arg { key, value });
    }
    out
}

/// A string literal argument.
pub fn string(cx: &mut Ctxt, arg: &Arg) -> Option<(String, Span)> {
    if let Expr::Lit(syn::ExprLit {
        lit: Lit::Str(s), ..
    }) = &arg.value
    {
        return Some((s.value(), s.span()));
    }
    cx.error(
        &arg.value,
        format!("`{}` must be a string literal", arg.key),
    );
    None
}

/// An integer literal argument.
pub fn u32_lit(cx: &mut Ctxt, arg: &Arg) -> Option<u32> {
    if let Expr::Lit(syn::ExprLit {
        lit: Lit::Int(i), ..
    }) = &arg.value
    {
        if let Ok(v) = i.base10_parse::<u32>() {
            return Some(v);
        }
    }
    cx.error(
        &arg.value,
        format!("`{}` must be an integer literal (u32)", arg.key),
    );
    None
}

/// Whether `s` can be a JavaScript class or binding name.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (levenshtein(name, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            closest("clas", &["class", "binding", "schema"]),
            Some("class")
        );
        assert_eq!(closest("zzzzzz", &["class", "binding", "schema"]), None);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("Counter"));
        assert!(is_identifier("CHAT_ROOM"));
        assert!(!is_identifier("1abc"));
        assert!(!is_identifier("a-b"));
        assert!(!is_identifier(""));
    }
}
