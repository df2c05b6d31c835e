//! Attributes: every attribute name and argument key is a constant below, and
//! [`parse_args`] is the one place that checks keys (unknown ones, with a suggestion for
//! near misses; keys without a value; keys given twice).

use proc_macro2::{Span, TokenStream};
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Lit, LitStr, Meta, Token};

use crate::ctxt::Ctxt;
use crate::rules::{DEFAULT_INDEX_BINDING, MAX_INDEX_NAME, MAX_WIRE_NAME};

// The attributes on methods inside `#[duro::methods]`, also accepted as `#[duro::…]`.
pub const RPC: &str = "rpc";
pub const TIMER: &str = "timer";
pub const INDEX: &str = "index";
pub const DOC: &str = "doc";

// The argument keys.
pub const CLASS: &str = "class";
pub const BINDING: &str = "binding";
pub const SCHEMA: &str = "schema";
pub const MIGRATE: &str = "migrate";
pub const NAME: &str = "name";

const OBJECT_KEYS: &[&str] = &[CLASS, BINDING, SCHEMA, MIGRATE];
const RPC_KEYS: &[&str] = &[NAME];
const INDEX_KEYS: &[&str] = &[BINDING];

/// How each attribute is written, for the errors that show it.
pub const OBJECT_ATTR: &str = "#[duro::object]";
pub const METHODS_ATTR: &str = "#[duro::methods]";
const MIGRATE_USAGE: &str = "`migrate` lists the state types of the older schemas, oldest first: \
     `migrate = [v1::Counter, v2::Counter]`";
const RPC_USAGE: &str = "write #[rpc] or #[rpc(name = \"…\")]";
const TIMER_USAGE: &str = "write #[timer]: timers take no arguments";
const INDEX_USAGE: &str =
    "write #[index(\"<index name>\")] or #[index(\"<index name>\", binding = \"<KV binding>\")]";

/// Whether `attr` is `#[name]` or `#[duro::name]`.
pub fn is(attr: &Attribute, name: &str) -> bool {
    let p = attr.path();
    p.is_ident(name)
        || (p.segments.len() == 2 && p.segments[0].ident == "duro" && p.segments[1].ident == name)
}

/// Whether `attr` is one of the attributes `#[duro::methods]` reads (and removes).
pub fn is_method_attr(attr: &Attribute) -> bool {
    [RPC, TIMER, INDEX].iter().any(|name| is(attr, name))
}

/// The doc comments among `attrs`, to copy onto generated items.
pub fn docs(attrs: &[Attribute]) -> Vec<Attribute> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident(DOC))
        .cloned()
        .collect()
}

/// The conditions of a method's `#[cfg(…)]` attributes (the tokens inside each).
pub fn cfg_conditions(attrs: &[Attribute]) -> Vec<TokenStream> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .filter_map(|a| match &a.meta {
            Meta::List(list) => Some(list.tokens.clone()),
            _ => None,
        })
        .collect()
}

/// The arguments of `#[duro::object(…)]`; `None` where an argument is absent or wrong
/// (wrong ones are reported).
#[derive(Default)]
pub struct ObjectArgs {
    pub class: Option<String>,
    pub binding: Option<String>,
    pub schema: Option<u32>,
    pub migrate: Option<Migrations>,
}

/// `migrate = [A, B, …]`: the state types of the schemas before the object's, oldest
/// first.
pub struct Migrations {
    /// The list as written, for errors about all of it.
    pub written: Expr,
    pub types: Vec<syn::Type>,
}

pub fn object_args(cx: &mut Ctxt, tokens: TokenStream) -> ObjectArgs {
    let mut out = ObjectArgs::default();
    for arg in parse_args(cx, tokens, OBJECT_KEYS, OBJECT_ATTR) {
        match arg.key.to_string().as_str() {
            CLASS => out.class = js_name(cx, &arg, "class"),
            BINDING => out.binding = js_name(cx, &arg, "binding"),
            SCHEMA => match u32_lit(cx, &arg) {
                Some(0) => cx.error(&arg.value, "schema versions start at 1"),
                v => out.schema = v,
            },
            MIGRATE => out.migrate = migrations(cx, arg.value),
            _ => unreachable!("parse_args only returns known keys"),
        }
    }
    out
}

/// `[A, B, …]`, each a path to a type.
fn migrations(cx: &mut Ctxt, written: Expr) -> Option<Migrations> {
    let Expr::Array(list) = &written else {
        cx.error(&written, MIGRATE_USAGE);
        return None;
    };
    let mut types = Vec::new();
    for elem in &list.elems {
        match elem {
            Expr::Path(p) => types.push(syn::Type::Path(syn::TypePath {
                qself: p.qself.clone(),
                path: p.path.clone(),
            })),
            other => cx.error(other, MIGRATE_USAGE),
        }
    }
    (types.len() == list.elems.len()).then_some(Migrations { written, types })
}

/// `#[duro::methods]` takes no arguments.
pub fn methods_args(cx: &mut Ctxt, tokens: TokenStream) {
    parse_args(cx, tokens, &[], METHODS_ATTR);
}

/// The duro attributes of one method inside `#[duro::methods]`.
#[derive(Default)]
pub struct MethodAttrs {
    pub rpc: Option<RpcAttr>,
    pub timer: Option<Attribute>,
    pub index: Option<IndexAttr>,
}

impl MethodAttrs {
    pub fn is_empty(&self) -> bool {
        self.rpc.is_none() && self.timer.is_none() && self.index.is_none()
    }
}

pub struct RpcAttr {
    /// `name = "…"`: the wire name and where it was written.
    pub name: Option<(String, Span)>,
}

pub struct IndexAttr {
    pub original: Attribute,
    /// The index name and the KV binding; `None` when they are wrong (reported).
    pub spec: Option<(String, String)>,
}

/// Reads `#[rpc]`, `#[timer]` and `#[index]` on a method: each at most once, and not a
/// timer that is also an RPC method or the projection.
pub fn method_attrs(cx: &mut Ctxt, attrs: &[Attribute]) -> MethodAttrs {
    let mut out = MethodAttrs::default();
    for attr in attrs {
        let slot = if is(attr, RPC) {
            out.rpc.is_some()
        } else if is(attr, TIMER) {
            out.timer.is_some()
        } else if is(attr, INDEX) {
            out.index.is_some()
        } else {
            continue;
        };
        if slot {
            let name = attr.path().segments.last().map(|s| s.ident.to_string());
            cx.error(
                attr,
                format!("duplicate #[{}] attribute", name.unwrap_or_default()),
            );
        } else if is(attr, RPC) {
            out.rpc = Some(rpc_attr(cx, attr));
        } else if is(attr, TIMER) {
            if let Some(tokens) = list_tokens(cx, attr, TIMER_USAGE) {
                parse_args(cx, tokens, &[], "#[timer]");
            }
            out.timer = Some(attr.clone());
        } else {
            out.index = Some(index_attr(cx, attr));
        }
    }
    if let (Some(timer), Some(_)) = (&out.timer, &out.rpc) {
        cx.error(timer, "a method is either #[rpc] or #[timer], not both");
    }
    if let (Some(timer), Some(_)) = (&out.timer, &out.index) {
        cx.error(timer, "an #[index] projection cannot also be a #[timer]");
    }
    out
}

fn rpc_attr(cx: &mut Ctxt, attr: &Attribute) -> RpcAttr {
    let mut name = None;
    let tokens = list_tokens(cx, attr, RPC_USAGE).unwrap_or_default();
    for arg in parse_args(cx, tokens, RPC_KEYS, "#[rpc]") {
        let Some((v, span)) = string(cx, &arg) else {
            continue;
        };
        if v.is_empty() || v.contains('/') || v.len() > MAX_WIRE_NAME {
            cx.error(
                &arg.value,
                format!("wire names are 1 to {MAX_WIRE_NAME} characters without `/`"),
            );
        } else {
            name = Some((v, span));
        }
    }
    RpcAttr { name }
}

/// `#[index("name")]` or `#[index("name", binding = "KV")]`.
fn index_attr(cx: &mut Ctxt, attr: &Attribute) -> IndexAttr {
    let spec = match &attr.meta {
        Meta::List(list) => {
            let parser = |input: ParseStream| -> syn::Result<(LitStr, TokenStream)> {
                let name: LitStr = input.parse()?;
                if input.is_empty() {
                    return Ok((name, TokenStream::new()));
                }
                input.parse::<Token![,]>()?;
                Ok((name, input.parse()?))
            };
            match parser.parse2(list.tokens.clone()) {
                Ok((name, rest)) => index_spec(cx, &name, rest),
                Err(e) => {
                    cx.push(syn::Error::new(e.span(), INDEX_USAGE));
                    None
                }
            }
        }
        _ => {
            cx.error(attr, INDEX_USAGE);
            None
        }
    };
    IndexAttr {
        original: attr.clone(),
        spec,
    }
}

fn index_spec(cx: &mut Ctxt, name: &LitStr, rest: TokenStream) -> Option<(String, String)> {
    let before = cx.len();
    let index = name.value();
    if index.is_empty() || index.len() > MAX_INDEX_NAME || index.contains('/') {
        cx.error(
            name,
            format!("index names are 1 to {MAX_INDEX_NAME} bytes without `/`"),
        );
    }
    let mut binding = DEFAULT_INDEX_BINDING.to_owned();
    for arg in parse_args(cx, rest, INDEX_KEYS, "#[index]") {
        if let Some(v) = js_name(cx, &arg, "binding") {
            binding = v;
        }
    }
    (cx.len() == before).then_some((index, binding))
}

/// The tokens inside `#[attr(…)]`, nothing for `#[attr]`, and an error showing `usage`
/// for `#[attr = …]`.
fn list_tokens(cx: &mut Ctxt, attr: &Attribute, usage: &str) -> Option<TokenStream> {
    match &attr.meta {
        Meta::Path(_) => Some(TokenStream::new()),
        Meta::List(l) => Some(l.tokens.clone()),
        Meta::NameValue(nv) => {
            cx.error(nv, usage);
            None
        }
    }
}

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
fn string(cx: &mut Ctxt, arg: &Arg) -> Option<(String, Span)> {
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

/// A string literal argument that names a JavaScript class or binding.
fn js_name(cx: &mut Ctxt, arg: &Arg, what: &str) -> Option<String> {
    let (v, _) = string(cx, arg)?;
    if is_identifier(&v) {
        return Some(v);
    }
    cx.error(
        &arg.value,
        format!("`{v}` is not a valid {what} name (letters, digits, `_`)"),
    );
    None
}

/// An integer literal argument.
fn u32_lit(cx: &mut Ctxt, arg: &Arg) -> Option<u32> {
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
fn is_identifier(s: &str) -> bool {
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
        assert_eq!(closest("clas", OBJECT_KEYS), Some("class"));
        assert_eq!(closest("zzzzzz", OBJECT_KEYS), None);
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
