//! `#[duro::methods]`: the dispatch `match` over wire names and the typed stub.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{FnArg, ImplItem, ImplItemFn, Pat, ReturnType, Type};

use crate::attr::{self, parse_args};
use crate::ctxt::Ctxt;

const RPC_KEYS: &[&str] = &["name"];

/// The most arguments an RPC method takes: serde's tuples, the wire form of the
/// arguments, stop at 16.
const MAX_ARGS: usize = 16;

/// How a method's return type travels.
#[allow(clippy::large_enum_variant)] // built once per method at compile time
enum Returns {
    /// `-> T` (or nothing): the stub returns `duro::Result<T>`.
    Plain(Type),
    /// `-> duro::Result<T>`: framework errors only.
    Framework(Type),
    /// `-> Result<T, E>`: the stub returns `Result<T, CallError<E>>`.
    User(Type, Type),
    /// `-> Result<T, CallError<E>>`: the method can `?` framework errors, and its caller
    /// sees them as themselves; the stub returns the same type.
    Call(Type, Type),
}

struct Param {
    name: syn::Ident,
    ty: Type,
}

struct Rpc {
    ident: syn::Ident,
    /// Whether the method passed every check; the others only get a stub method, so that
    /// callers keep compiling while the error is fixed.
    valid: bool,
    generics: syn::Generics,
    /// The declared return type: a `Result` alias that is not duro's is reported there.
    ret_span: Span,
    wire: String,
    mutating: bool,
    is_async: bool,
    takes_ctx: bool,
    params: Vec<Param>,
    returns: Returns,
    docs: Vec<syn::Attribute>,
}

fn is_attr(a: &syn::Attribute, name: &str) -> bool {
    let p = a.path();
    p.is_ident(name)
        || (p.segments.len() == 2 && p.segments[0].ident == "duro" && p.segments[1].ident == name)
}

fn is_rpc_attr(a: &syn::Attribute) -> bool {
    is_attr(a, "rpc")
}

fn is_timer_attr(a: &syn::Attribute) -> bool {
    is_attr(a, "timer")
}

fn is_index_attr(a: &syn::Attribute) -> bool {
    is_attr(a, "index")
}

const INDEX_KEYS: &[&str] = &["binding"];
/// Longest index name (the KV key is `<index>/<object name>`).
const MAX_INDEX_NAME: usize = 64;
/// Wire names starting with this are duro's own.
const RESERVED_WIRE_PREFIX: &str = "__duro";

/// The `#[index]` projection.
struct IndexFn {
    ident: syn::Ident,
    index: String,
    binding: String,
    /// The published type (`T` of `-> T` or `-> Option<T>`).
    ret: Type,
    takes_ctx: bool,
    /// `-> Option<T>`: `None` removes the entry.
    optional: bool,
}

/// A `#[timer]` method.
struct TimerFn {
    /// The method's name, which becomes the `Timer` constant.
    ident: syn::Ident,
    /// The renamed method holding the body.
    inner: syn::Ident,
    wire: String,
    is_async: bool,
    takes_ctx: bool,
    payload: Option<Type>,
    returns: Returns,
}

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::default();
    parse_args(&mut cx, args, &[], "#[duro::methods]");

    let mut block = match syn::parse2::<syn::ItemImpl>(item.clone()) {
        Ok(b) => b,
        Err(_) => {
            let span = syn::parse2::<syn::Item>(item.clone())
                .map(|i| i.span())
                .unwrap_or_else(|_| Span::call_site());
            cx.push(syn::Error::new(
                span,
                "#[duro::methods] goes on an inherent `impl` block of a #[duro::object] struct",
            ));
            let errors = cx.into_compile_errors();
            return quote!(#errors #item);
        }
    };

    if let Some((_, path, _)) = &block.trait_ {
        cx.error(
            path,
            "#[duro::methods] goes on an inherent `impl` block, not a trait implementation",
        );
    }
    if !block.generics.params.is_empty() || block.generics.where_clause.is_some() {
        cx.error(&block.generics, "duro objects cannot be generic");
    }
    let self_ident = match &*block.self_ty {
        Type::Path(p)
            if p.qself.is_none()
                && p.path.segments.len() == 1
                && p.path.segments[0].arguments.is_none() =>
        {
            Some(p.path.segments[0].ident.clone())
        }
        other => {
            cx.error(
                other,
                "#[duro::methods] needs the object's type by its plain name, e.g. `impl Counter`",
            );
            None
        }
    };

    let mut rpcs = Vec::new();
    let mut timers: Vec<TimerFn> = Vec::new();
    let mut consts: Vec<ImplItem> = Vec::new();
    let mut wire_names: HashMap<String, syn::Ident> = HashMap::new();
    let mut projection: Option<IndexFn> = None;
    for item in &mut block.items {
        let ImplItem::Fn(f) = item else { continue };
        let index_attrs: Vec<syn::Attribute> = f
            .attrs
            .iter()
            .filter(|a| is_index_attr(a))
            .cloned()
            .collect();
        if let Some(first) = index_attrs.first() {
            f.attrs.retain(|a| !is_index_attr(a));
            if let Some(second) = index_attrs.get(1) {
                cx.error(second, "duplicate #[index] attribute");
            }
            if let Some(timer) = f.attrs.iter().find(|a| is_timer_attr(a)) {
                cx.error(timer, "an #[index] projection cannot also be a #[timer]");
            }
            let spec = parse_index(&mut cx, first);
            let checked = check_projection(&mut cx, f);
            if let (Some((index, binding)), Some((ret, takes_ctx, optional))) = (spec, checked) {
                if let Some(prev) = &projection {
                    cx.error(
                        first,
                        format!(
                            "an object has at most one #[index] projection (the other is `{}`)",
                            prev.ident
                        ),
                    );
                } else {
                    projection = Some(IndexFn {
                        ident: f.sig.ident.clone(),
                        index,
                        binding,
                        ret,
                        takes_ctx,
                        optional,
                    });
                }
            }
        }
        let timer_attrs: Vec<syn::Attribute> = f
            .attrs
            .iter()
            .filter(|a| is_timer_attr(a))
            .cloned()
            .collect();
        if let Some(first) = timer_attrs.first() {
            f.attrs.retain(|a| !is_timer_attr(a));
            if let Some(second) = timer_attrs.get(1) {
                cx.error(second, "duplicate #[timer] attribute");
            }
            if let Some(rpc) = f.attrs.iter().find(|a| is_rpc_attr(a)) {
                cx.error(rpc, "a method is either #[rpc] or #[timer], not both");
                f.attrs.retain(|a| !is_rpc_attr(a));
            }
            if let syn::Meta::List(l) = &first.meta {
                parse_args(&mut cx, l.tokens.clone(), &[], "#[timer]");
            }
            if let Some(t) = check_timer(&mut cx, f) {
                if timers.iter().any(|o| o.wire == t.wire) {
                    cx.error(&f.sig.ident, format!("two timers are named `{}`", t.wire));
                }
                let docs: Vec<&syn::Attribute> = f
                    .attrs
                    .iter()
                    .filter(|a| a.path().is_ident("doc"))
                    .collect();
                let vis = &f.vis;
                let ident = &t.ident;
                let wire = &t.wire;
                let payload = t.payload.clone().unwrap_or_else(|| syn::parse_quote!(()));
                consts.push(syn::parse_quote! {
                    #(#docs)*
                    #[allow(non_upper_case_globals)]
                    #vis const #ident: ::duro::Timer<Self, #payload> =
                        ::duro::__private::Timer::__new(#wire);
                });
                f.sig.ident = t.inner.clone();
                f.attrs.push(syn::parse_quote!(#[doc(hidden)]));
                timers.push(t);
            }
            continue;
        }
        let rpc_attrs: Vec<syn::Attribute> =
            f.attrs.iter().filter(|a| is_rpc_attr(a)).cloned().collect();
        f.attrs.retain(|a| !is_rpc_attr(a));
        let Some(first) = rpc_attrs.first() else {
            continue;
        };
        if let Some(second) = rpc_attrs.get(1) {
            cx.error(second, "duplicate #[rpc] attribute");
        }
        let args = match &first.meta {
            syn::Meta::Path(_) => TokenStream::new(),
            syn::Meta::List(l) => l.tokens.clone(),
            syn::Meta::NameValue(nv) => {
                cx.error(nv, "write #[rpc] or #[rpc(name = \"…\")]");
                TokenStream::new()
            }
        };
        let parsed = parse_args(&mut cx, args, RPC_KEYS, "#[rpc]");
        let mut wire = f.sig.ident.to_string();
        let mut wire_span = f.sig.ident.clone();
        for arg in &parsed {
            if let Some((v, span)) = attr::string(&mut cx, arg) {
                if v.is_empty() || v.contains('/') || v.len() > 128 {
                    cx.error(&arg.value, "wire names are 1 to 128 characters without `/`");
                } else {
                    wire = v;
                    wire_span = syn::Ident::new("name", span);
                }
            }
        }
        let mut rpc = check_method(&mut cx, f, wire.clone(), self_ident.as_ref());
        if wire.starts_with(RESERVED_WIRE_PREFIX) {
            cx.error(
                &wire_span,
                format!(
                    "wire names starting with `{RESERVED_WIRE_PREFIX}` are reserved for duro; \
                     rename the method or give it #[rpc(name = \"…\")]"
                ),
            );
            rpc.valid = false;
        } else if let Some(prev) = wire_names.get(&wire) {
            cx.error(
                &wire_span,
                format!(
                    "`{}` has the wire name `{wire}`, which `{prev}` already uses; \
                     give one of them another #[rpc(name = \"…\")]",
                    rpc.ident
                ),
            );
            rpc.valid = false;
        } else {
            wire_names.insert(wire, rpc.ident.clone());
        }
        rpcs.push(rpc);
    }

    block.items.extend(consts);
    let errors = cx.into_compile_errors();
    // On errors, still generate the stub and the `Object` impl (without the methods in
    // error) so that one mistake does not turn every use of the object into another error.
    let generated = match self_ident {
        Some(ident) if block.trait_.is_none() && block.generics.params.is_empty() => {
            generate(&ident, &block.self_ty, &rpcs, &timers, projection.as_ref())
        }
        _ => TokenStream::new(),
    };
    quote! {
        #errors
        #block
        #generated
    }
}

/// Parses `#[index("name")]` or `#[index("name", binding = "KV")]`.
fn parse_index(cx: &mut Ctxt, attr: &syn::Attribute) -> Option<(String, String)> {
    const USAGE: &str =
        "write #[index(\"<index name>\")] or #[index(\"<index name>\", binding = \"<KV binding>\")]";
    let syn::Meta::List(list) = &attr.meta else {
        cx.error(attr, USAGE);
        return None;
    };
    let parser = |input: syn::parse::ParseStream| -> syn::Result<(syn::LitStr, TokenStream)> {
        let name: syn::LitStr = input.parse()?;
        if input.is_empty() {
            return Ok((name, TokenStream::new()));
        }
        input.parse::<syn::Token![,]>()?;
        Ok((name, input.parse()?))
    };
    let (name, rest) = match syn::parse::Parser::parse2(parser, list.tokens.clone()) {
        Ok(parsed) => parsed,
        Err(e) => {
            cx.push(syn::Error::new(e.span(), USAGE));
            return None;
        }
    };
    let before = cx.len();
    let index = name.value();
    if index.is_empty() || index.len() > MAX_INDEX_NAME || index.contains('/') {
        cx.error(
            &name,
            format!("index names are 1 to {MAX_INDEX_NAME} bytes without `/`"),
        );
    }
    let mut binding = "INDEX".to_owned();
    for arg in parse_args(cx, rest, INDEX_KEYS, "#[index]") {
        if let Some((v, _)) = attr::string(cx, &arg) {
            if attr::is_identifier(&v) {
                binding = v;
            } else {
                cx.error(
                    &arg.value,
                    format!("`{v}` is not a valid binding name (letters, digits, `_`)"),
                );
            }
        }
    }
    (cx.len() == before).then_some((index, binding))
}

/// Checks `fn name(&self[, ctx: &Ctx]) -> T` (or `-> Option<T>`) and returns `T`, whether
/// it takes `&Ctx`, and whether it returns an `Option`.
fn check_projection(cx: &mut Ctxt, f: &ImplItemFn) -> Option<(Type, bool, bool)> {
    let sig = &f.sig;
    let before = cx.len();
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error(&sig.generics, "an #[index] projection cannot be generic");
    }
    if let Some(a) = &sig.asyncness {
        cx.error(
            a,
            "an #[index] projection cannot be async: it is computed after every turn that changes the state",
        );
    }
    if let Some(u) = &sig.unsafety {
        cx.error(u, "an #[index] projection cannot be `unsafe`");
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r))
            if r.reference.is_some() && r.mutability.is_none() && r.colon_token.is_none() => {}
        Some(FnArg::Receiver(r)) => cx.error(
            r,
            "an #[index] projection takes `&self`: it reads the state and changes nothing",
        ),
        _ => cx.error(
            &sig.ident,
            "an #[index] projection takes `&self` as its only argument",
        ),
    }
    let mut takes_ctx = false;
    for (i, extra) in inputs.enumerate() {
        match extra {
            FnArg::Typed(t)
                if i == 0 && matches!(&*t.ty, Type::Reference(r) if is_ctx(&r.elem)) =>
            {
                takes_ctx = true
            }
            _ => cx.error(
                extra,
                "an #[index] projection takes no arguments besides `&self` and an optional `ctx: &Ctx`",
            ),
        }
    }
    let ret = match &sig.output {
        ReturnType::Default => {
            cx.error(
                &sig.ident,
                "an #[index] projection returns the value to publish, e.g. `-> RoomSummary`",
            );
            None
        }
        ReturnType::Type(_, ty) => {
            if let Type::Reference(r) = &**ty {
                cx.error(
                    r,
                    "an #[index] projection returns an owned value (the type readers decode)",
                );
            }
            Some(match option_inner(ty) {
                Some(inner) => (inner.clone(), takes_ctx, true),
                None => ((**ty).clone(), takes_ctx, false),
            })
        }
    };
    ret.filter(|_| cx.len() == before)
}

/// `T` of `Option<T>`.
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>()[..] {
        [syn::GenericArgument::Type(t)] => Some(t),
        _ => None,
    }
}

fn check_method(
    cx: &mut Ctxt,
    f: &ImplItemFn,
    wire: String,
    self_ident: Option<&syn::Ident>,
) -> Rpc {
    let sig = &f.sig;
    let before = cx.len();
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error(
            &sig.generics,
            "RPC methods cannot be generic: the wire needs one concrete type per argument",
        );
    }
    if let Some(u) = &sig.unsafety {
        cx.error(u, "RPC methods cannot be `unsafe`");
    }
    if let Some(v) = &sig.variadic {
        cx.error(v, "RPC methods cannot be variadic");
    }
    let mut mutating = false;
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.colon_token.is_none() => {
            mutating = r.mutability.is_some();
        }
        Some(FnArg::Receiver(r)) => cx.error(
            r,
            "RPC methods take `&self` (a read) or `&mut self` (a write), not `self` by value: \
             the object lives on after the call",
        ),
        _ => cx.error(
            &sig.ident,
            "RPC methods take `&self` (a read) or `&mut self` (a write) as their first argument",
        ),
    }

    let mut takes_ctx = false;
    let mut params = Vec::new();
    for (i, input) in inputs.enumerate() {
        let FnArg::Typed(pt) = input else { continue };
        if let Type::Reference(r) = &*pt.ty {
            if is_ctx(&r.elem) {
                if i != 0 {
                    cx.error(
                        &pt.ty,
                        "`&Ctx` must be the first argument after the receiver",
                    );
                } else if r.mutability.is_some() {
                    cx.error(&pt.ty, "take the context as `&Ctx`, not `&mut Ctx`");
                } else {
                    takes_ctx = true;
                }
                continue;
            }
            cx.error(
                &pt.ty,
                "RPC arguments travel over the wire and must be owned: \
                 take `String` instead of `&str`, `Vec<T>` instead of `&[T]`",
            );
        } else if let Type::ImplTrait(t) = &*pt.ty {
            cx.error(t, "RPC arguments need a concrete type, not `impl Trait`");
        } else if params.len() == MAX_ARGS {
            cx.error(
                &pt.ty,
                format!(
                    "RPC methods take at most {MAX_ARGS} arguments: \
                     bundle some of them in a tuple or struct"
                ),
            );
        }
        let name = match &*pt.pat {
            Pat::Ident(p) => p.ident.clone(),
            _ => format_ident!("arg{}", i),
        };
        params.push(Param {
            name,
            ty: name_self(&pt.ty, self_ident),
        });
    }

    let (returns, ret_span) = match &sig.output {
        ReturnType::Default => (Returns::Plain(syn::parse_quote!(())), sig.ident.span()),
        ReturnType::Type(_, ty) => (classify_return(&name_self(ty, self_ident)), type_span(ty)),
    };
    Rpc {
        ident: sig.ident.clone(),
        valid: cx.len() == before,
        generics: sig.generics.clone(),
        ret_span,
        wire,
        mutating,
        is_async: sig.asyncness.is_some(),
        takes_ctx,
        params,
        returns,
        docs: f
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect(),
    }
}

fn check_timer(cx: &mut Ctxt, f: &ImplItemFn) -> Option<TimerFn> {
    let sig = &f.sig;
    let before = cx.len();
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error(
            &sig.generics,
            "timer methods cannot be generic: the payload is stored with one concrete type",
        );
    }
    if let Some(u) = &sig.unsafety {
        cx.error(u, "timer methods cannot be `unsafe`");
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r))
            if r.reference.is_some() && r.mutability.is_some() && r.colon_token.is_none() => {}
        Some(FnArg::Receiver(r)) => cx.error(
            r,
            "timer methods take `&mut self`: they run as turns that may change the state",
        ),
        _ => cx.error(
            &sig.ident,
            "timer methods take `&mut self` as their first argument",
        ),
    }
    let mut takes_ctx = false;
    let mut payload = None;
    for (i, input) in inputs.enumerate() {
        let FnArg::Typed(pt) = input else { continue };
        match &*pt.ty {
            Type::Reference(r) if is_ctx(&r.elem) && i == 0 => takes_ctx = true,
            Type::Reference(_) => cx.error(
                &pt.ty,
                "timer payloads are stored and must be owned: take `String` instead of `&str`",
            ),
            ty if payload.is_none() => payload = Some(ty.clone()),
            ty => cx.error(
                ty,
                "timer methods take one payload argument: bundle several values in a tuple or struct",
            ),
        }
    }
    let returns = match &sig.output {
        ReturnType::Default => Returns::Plain(syn::parse_quote!(())),
        ReturnType::Type(_, ty) => classify_return(ty),
    };
    if cx.len() != before {
        return None;
    }
    Some(TimerFn {
        ident: sig.ident.clone(),
        inner: format_ident!("__duro_timer_{}", sig.ident),
        wire: sig.ident.to_string(),
        is_async: sig.asyncness.is_some(),
        takes_ctx,
        payload,
        returns,
    })
}

/// `ty` with `Self` spelled as the object's name: in the stub's methods `Self` is the stub.
fn name_self(ty: &Type, self_ident: Option<&syn::Ident>) -> Type {
    struct NameSelf<'a>(&'a syn::Ident);
    impl VisitMut for NameSelf<'_> {
        fn visit_type_path_mut(&mut self, tp: &mut syn::TypePath) {
            if let Some(first) = tp.path.segments.first_mut() {
                if tp.qself.is_none() && first.ident == "Self" {
                    first.ident = syn::Ident::new(&self.0.to_string(), first.ident.span());
                }
            }
            visit_mut::visit_type_path_mut(self, tp);
        }
    }
    let mut ty = ty.clone();
    if let Some(ident) = self_ident {
        NameSelf(ident).visit_type_mut(&mut ty);
    }
    ty
}

/// Where to report a problem with a type: a path's last segment (`Result` in
/// `std::io::Result<T>`), since a span cannot cover several tokens on stable.
fn type_span(ty: &Type) -> Span {
    match ty {
        Type::Path(p) => p.path.segments.last().map_or(ty.span(), |s| s.ident.span()),
        _ => ty.span(),
    }
}

fn is_ctx(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Ctx"))
}

/// `Result<T>` is a framework result; `Result<T, E>` has a user error, unless `E` is
/// `duro::Error`.
fn classify_return(ty: &Type) -> Returns {
    let Type::Path(p) = ty else {
        return Returns::Plain(ty.clone());
    };
    let Some(last) = p.path.segments.last() else {
        return Returns::Plain(ty.clone());
    };
    if last.ident != "Result" {
        return Returns::Plain(ty.clone());
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return Returns::Plain(ty.clone());
    };
    let types: Vec<&Type> = args
        .args
        .iter()
        .filter_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        })
        .collect();
    match types[..] {
        [ok] => Returns::Framework(ok.clone()),
        [ok, err] if is_duro_error(err) => Returns::Framework(ok.clone()),
        [ok, err] => match call_error_inner(err) {
            Some(user) => Returns::Call(ok.clone(), user.clone()),
            None => Returns::User(ok.clone(), err.clone()),
        },
        _ => Returns::Plain(ty.clone()),
    }
}

/// `E` of `CallError<E>` (or `duro::CallError<E>`).
fn call_error_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "CallError" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>()[..] {
        [syn::GenericArgument::Type(t)] => Some(t),
        _ => None,
    }
}

fn is_duro_error(ty: &Type) -> bool {
    let Type::Path(p) = ty else { return false };
    let segs: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    segs.len() >= 2 && segs[segs.len() - 2] == "duro" && segs[segs.len() - 1] == "Error"
}

fn generate(
    self_ident: &syn::Ident,
    self_ty: &Type,
    rpcs: &[Rpc],
    timers: &[TimerFn],
    projection: Option<&IndexFn>,
) -> TokenStream {
    let index_items = match projection {
        None => quote!(
            type __Projection = ();
        ),
        Some(p) => {
            let IndexFn {
                ident,
                index,
                binding,
                ret,
                takes_ctx,
                optional,
            } = p;
            let ctx = takes_ctx.then(|| quote!(__duro_ctx));
            let value = quote!(#self_ident::#ident(self, #ctx));
            let encode = if *optional {
                quote!(::duro::__private::encode_optional_projection::<#ret>(#value))
            } else {
                quote!(::duro::__private::encode_projection::<#ret>(&#value).map(::core::option::Option::Some))
            };
            quote! {
                type __Projection = #ret;
                const __INDEX: ::core::option::Option<::duro::__private::IndexSpec> =
                    ::core::option::Option::Some(::duro::__private::IndexSpec {
                        index: #index,
                        binding: #binding,
                    });
                #[allow(unused_variables)]
                fn __projection(
                    &self,
                    __duro_ctx: &::duro::Ctx,
                ) -> ::core::result::Result<
                    ::core::option::Option<::std::vec::Vec<u8>>,
                    ::duro::Error,
                > {
                    #encode
                }
            }
        }
    };

    let stub = format_ident!("{}Stub", self_ident);
    // Under the `impl` line's type, so that a missing `#[duro::object]` is reported there,
    // once.
    let declared = quote_spanned!(self_ty.span()=> <#self_ident as ::duro::__private::Declared>);
    let valid = || rpcs.iter().filter(|r| r.valid);
    let stub_doc = format!(
        "Typed client of [`{self_ident}`], generated by `#[duro::methods]`: one async method per `#[rpc]` method."
    );

    let arm = |r: &Rpc| {
        let wire = &r.wire;
        let ident = &r.ident;
        let locals: Vec<syn::Ident> = (0..r.params.len())
            .map(|i| format_ident!("__duro_arg{}", i))
            .collect();
        let tys: Vec<&Type> = r.params.iter().map(|p| &p.ty).collect();
        // Each type in turbofish position: an unsatisfied bound is reported under it.
        let decode = format_ident!("decode_args{}", r.params.len());
        let ctx = r.takes_ctx.then(|| quote!(__duro_ctx,));
        let call = if r.is_async {
            quote!(#self_ident::#ident(__duro_this, #ctx #(#locals),*).await)
        } else {
            quote!(#self_ident::#ident(__duro_this, #ctx #(#locals),*))
        };
        let reply = match &r.returns {
            Returns::Plain(t) => quote_spanned! {r.ret_span=>
                ::duro::__private::reply_value::<#t>(&__duro_out)
            },
            Returns::Framework(t) => quote_spanned! {r.ret_span=>
                ::duro::__private::reply_framework::<#t>(__duro_out)
            },
            Returns::User(t, e) => quote_spanned! {r.ret_span=>
                ::duro::__private::reply_user::<#t, #e>(__duro_out)
            },
            Returns::Call(t, e) => quote_spanned! {r.ret_span=>
                ::duro::__private::reply_call::<#t, #e>(__duro_out)
            },
        };
        let (this, handler) = if r.mutating {
            (quote!(&'a mut #self_ident), quote!(Write))
        } else {
            (quote!(&'a #self_ident), quote!(Read))
        };
        quote! {
            ::duro::__private::Method {
                name: #wire,
                handler: ::duro::__private::Handler::#handler({
                    #[allow(unused_variables)]
                    fn __duro_rpc<'a>(
                        __duro_this: #this,
                        __duro_ctx: &'a ::duro::Ctx,
                        __duro_args: &'a [u8],
                    ) -> ::duro::__private::LocalBoxFuture<
                        'a,
                        ::core::result::Result<::std::vec::Vec<u8>, ::duro::__private::Failure>,
                    > {
                        ::std::boxed::Box::pin(async move {
                            let (#(#locals,)*) =
                                ::duro::__private::#decode::<#(#tys),*>(#wire, __duro_args)?;
                            let __duro_out = #call;
                            #reply
                        })
                    }
                    __duro_rpc
                }),
            },
        }
    };
    let methods: Vec<TokenStream> = valid().map(arm).collect();

    let timer_arms = timers.iter().map(|t| {
        let wire = &t.wire;
        let inner = &t.inner;
        let ctx = t.takes_ctx.then(|| quote!(__duro_ctx,));
        let (decode, arg) = match &t.payload {
            Some(ty) => (
                quote! {
                    let __duro_payload =
                        ::duro::__private::decode_payload::<#ty>(#wire, __duro_args)?;
                },
                quote!(__duro_payload),
            ),
            None => (quote!(), quote!()),
        };
        let call = if t.is_async {
            quote!(#self_ident::#inner(__duro_this, #ctx #arg).await)
        } else {
            quote!(#self_ident::#inner(__duro_this, #ctx #arg))
        };
        let finish = match &t.returns {
            Returns::Plain(ty) => {
                quote_spanned!(ty.span()=> ::duro::__private::timer_value(__duro_out))
            }
            Returns::Framework(ty) => {
                quote_spanned!(ty.span()=> ::duro::__private::timer_framework(__duro_out))
            }
            Returns::User(_, e) => quote!(::duro::__private::timer_user::<#e>(__duro_out)),
            Returns::Call(_, e) => quote!(::duro::__private::timer_call::<#e>(__duro_out)),
        };
        quote! {
            ::duro::__private::TimerMethod {
                name: #wire,
                run: {
                    #[allow(unused_variables)]
                    fn __duro_timer<'a>(
                        __duro_this: &'a mut #self_ident,
                        __duro_ctx: &'a ::duro::Ctx,
                        __duro_args: &'a [u8],
                    ) -> ::duro::__private::LocalBoxFuture<
                        'a,
                        ::core::result::Result<(), ::duro::__private::Failure>,
                    > {
                        ::std::boxed::Box::pin(async move {
                            #decode
                            let __duro_out = #call;
                            #finish
                        })
                    }
                    __duro_timer
                },
            },
        }
    });

    let stub_methods = rpcs.iter().map(|r| {
        let ident = &r.ident;
        let wire = &r.wire;
        let docs = &r.docs;
        let names: Vec<&syn::Ident> = r.params.iter().map(|p| &p.name).collect();
        let tys: Vec<&Type> = r.params.iter().map(|p| &p.ty).collect();
        let call = format_ident!("call{}", r.params.len());
        let (ret, body) = match &r.returns {
            Returns::Plain(t) | Returns::Framework(t) => (
                quote!(::core::result::Result<#t, ::duro::Error>),
                quote!(::duro::__private::plain(
                    ::duro::__private::#call::<#(#tys,)* #t, ::duro::__private::NoUserError>(
                        &self.client, #wire, #(#names),*
                    )
                    .await,
                )),
            ),
            Returns::User(t, e) | Returns::Call(t, e) => (
                quote!(::core::result::Result<#t, ::duro::CallError<#e>>),
                quote!(
                    ::duro::__private::#call::<#(#tys,)* #t, #e>(&self.client, #wire, #(#names),*)
                        .await
                ),
            ),
        };
        if !r.valid {
            // The method is reported; this placeholder keeps its callers compiling.
            let generics = &r.generics;
            let where_clause = &generics.where_clause;
            return quote! {
                #(#docs)*
                #[allow(unused_variables)]
                pub async fn #ident #generics (&self, #(#names: #tys),*) -> #ret #where_clause {
                    ::core::unreachable!()
                }
            };
        }
        quote! {
            #(#docs)*
            pub async fn #ident(&self, #(#names: #tys),*) -> #ret {
                #body
            }
        }
    });

    quote! {
        #[doc = #stub_doc]
        #[derive(Clone, Debug)]
        pub struct #stub {
            client: ::duro::Client,
        }

        impl ::duro::Stub for #stub {
            fn from_client(client: ::duro::Client) -> Self {
                #stub { client }
            }
            fn client(&self) -> &::duro::Client {
                &self.client
            }
        }

        impl #stub {
            /// The object's name.
            pub fn name(&self) -> &str {
                self.client.name()
            }

            #(#stub_methods)*
        }

        impl ::duro::Object for #self_ident {
            const CLASS: &'static str = #declared::CLASS;
            const BINDING: &'static str = #declared::BINDING;
            const SCHEMA: u32 = #declared::SCHEMA;
            type Stub = #stub;
            #index_items

            const __TARGET: ::duro::__private::Target = ::duro::__private::Target {
                class: #declared::CLASS,
                binding: #declared::BINDING,
                spawn: ::duro::__private::spawn_host::<#self_ident>,
            };
            const __METHODS: &'static [::duro::__private::Method<Self>] = &[#(#methods)*];
            const __TIMERS: &'static [::duro::__private::TimerMethod<Self>] = &[#(#timer_arms)*];
        }
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    fn expand(item: TokenStream) -> String {
        super::expand(TokenStream::new(), item).to_string()
    }

    fn fails_with(item: TokenStream, message: &str) {
        let out = expand(item);
        assert!(
            out.contains("compile_error") && out.contains(message),
            "expected {message:?} in {out}"
        );
    }

    #[test]
    fn index_projections_expand() {
        let out = expand(quote! {
            impl Counter {
                #[index("counters", binding = "KV")]
                fn summary(&self) -> Summary { Summary }
            }
        });
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("__INDEX"), "{out}");
        assert!(
            out.contains("\"counters\"") && out.contains("\"KV\""),
            "{out}"
        );
        assert!(out.contains("type __Projection = Summary"), "{out}");
        let plain = expand(quote! { impl Counter { #[rpc] fn get(&self) -> u8 { 0 } } });
        assert!(plain.contains("type __Projection = ()"), "{plain}");
        assert!(!plain.contains("__INDEX"), "{plain}");
    }

    #[test]
    fn index_mistakes_are_diagnosed() {
        fails_with(
            quote! { impl C { #[index(counters)] fn s(&self) -> u8 { 0 } } },
            "write #[index(",
        );
        fails_with(
            quote! { impl C { #[index] fn s(&self) -> u8 { 0 } } },
            "write #[index(",
        );
        fails_with(
            quote! { impl C { #[index("a/b")] fn s(&self) -> u8 { 0 } } },
            "index names are 1 to 64 bytes",
        );
        fails_with(
            quote! { impl C { #[index("c", bindng = "X")] fn s(&self) -> u8 { 0 } } },
            "did you mean `binding`",
        );
        fails_with(
            quote! { impl C { #[index("c", binding = "a-b")] fn s(&self) -> u8 { 0 } } },
            "not a valid binding name",
        );
        fails_with(
            quote! { impl C { #[index("c")] fn s(&mut self) -> u8 { 0 } } },
            "takes `&self`",
        );
        fails_with(
            quote! { impl C { #[index("c")] async fn s(&self) -> u8 { 0 } } },
            "cannot be async",
        );
        fails_with(
            quote! { impl C { #[index("c")] fn s(&self, x: u8) -> u8 { x } } },
            "no arguments besides `&self`",
        );
        fails_with(
            quote! { impl C { #[index("c")] fn s(&self) {} } },
            "returns the value to publish",
        );
        fails_with(
            quote! { impl C { #[index("c")] fn s(&self) -> &u8 { &0 } } },
            "owned value",
        );
        fails_with(
            quote! { impl C {
                #[index("a")] fn s(&self) -> u8 { 0 }
                #[index("b")] fn t(&self) -> u8 { 0 }
            } },
            "at most one #[index] projection (the other is `s`)",
        );
        fails_with(
            quote! { impl C { #[index("c")] #[timer] fn s(&mut self) {} } },
            "cannot also be a #[timer]",
        );
    }

    #[test]
    fn duro_wire_names_are_reserved() {
        fails_with(
            quote! { impl C { #[rpc] fn __duro_republish(&self) {} } },
            "are reserved for duro",
        );
        fails_with(
            quote! { impl C { #[rpc(name = "__duro")] fn x(&self) {} } },
            "are reserved for duro",
        );
    }
}
