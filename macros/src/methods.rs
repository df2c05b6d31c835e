//! `#[duro::methods]`: the dispatch `match` over wire names and the typed stub.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ImplItemFn, Pat, ReturnType, Type};

use crate::attr::{self, parse_args};
use crate::ctxt::Ctxt;

const RPC_KEYS: &[&str] = &["name"];

/// How a method's return type travels.
#[allow(clippy::large_enum_variant)] // built once per method at compile time
enum Returns {
    /// `-> T` (or nothing): the stub returns `duro::Result<T>`.
    Plain(Type),
    /// `-> duro::Result<T>`: framework errors only.
    Framework(Type),
    /// `-> Result<T, E>`: the stub returns `Result<T, CallError<E>>`.
    User(Type, Type),
}

struct Param {
    name: syn::Ident,
    ty: Type,
}

struct Rpc {
    ident: syn::Ident,
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
            cx.push(syn::Error::new(
                Span::call_site(),
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
        Type::Path(p) if p.qself.is_none() && p.path.segments.len() == 1 => {
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
    for item in &mut block.items {
        let ImplItem::Fn(f) = item else { continue };
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
        if let Some(rpc) = check_method(&mut cx, f, wire.clone()) {
            if let Some(prev) = wire_names.get(&wire) {
                cx.error(
                    &wire_span,
                    format!(
                        "two RPC methods have the wire name `{wire}` (the other is `{prev}`); \
                         rename one or give it #[rpc(name = \"…\")]"
                    ),
                );
            } else {
                wire_names.insert(wire, rpc.ident.clone());
            }
            rpcs.push(rpc);
        }
    }

    block.items.extend(consts);
    let Some(self_ident) = self_ident.filter(|_| cx.is_empty()) else {
        let errors = cx.into_compile_errors();
        return quote!(#errors #block);
    };
    let generated = generate(&self_ident, &rpcs, &timers);
    quote! {
        #block
        #generated
    }
}

fn check_method(cx: &mut Ctxt, f: &ImplItemFn, wire: String) -> Option<Rpc> {
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
            continue;
        }
        if let Type::ImplTrait(t) = &*pt.ty {
            cx.error(t, "RPC arguments need a concrete type, not `impl Trait`");
            continue;
        }
        let name = match &*pt.pat {
            Pat::Ident(p) => p.ident.clone(),
            _ => format_ident!("arg{}", i),
        };
        params.push(Param {
            name,
            ty: (*pt.ty).clone(),
        });
    }

    let returns = match &sig.output {
        ReturnType::Default => Returns::Plain(syn::parse_quote!(())),
        ReturnType::Type(_, ty) => classify_return(ty),
    };
    if cx.len() != before {
        return None;
    }
    Some(Rpc {
        ident: sig.ident.clone(),
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
    })
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
        [ok, err] => Returns::User(ok.clone(), err.clone()),
        _ => Returns::Plain(ty.clone()),
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

fn generate(self_ident: &syn::Ident, rpcs: &[Rpc], timers: &[TimerFn]) -> TokenStream {
    let stub = format_ident!("{}Stub", self_ident);
    let stub_doc = format!(
        "Typed client of [`{self_ident}`], generated by `#[duro::methods]`: one async method per `#[rpc]` method."
    );

    let kinds = rpcs.iter().map(|r| {
        let wire = &r.wire;
        let kind = if r.mutating {
            quote!(Write)
        } else {
            quote!(Read)
        };
        quote!(#wire => ::core::option::Option::Some(::duro::__private::Kind::#kind),)
    });

    let arm = |r: &Rpc| {
        let wire = &r.wire;
        let ident = &r.ident;
        let locals: Vec<syn::Ident> = (0..r.params.len())
            .map(|i| format_ident!("__duro_arg{}", i))
            .collect();
        let tys: Vec<&Type> = r.params.iter().map(|p| &p.ty).collect();
        let asserts = tys.iter().map(|ty| {
            quote_spanned! {ty.span()=> let _: fn() = ::duro::__private::assert_arg::<#ty>; }
        });
        let ctx = r.takes_ctx.then(|| quote!(__duro_ctx,));
        let call = if r.is_async {
            quote!(#self_ident::#ident(self, #ctx #(#locals),*).await)
        } else {
            quote!(#self_ident::#ident(self, #ctx #(#locals),*))
        };
        let reply = match &r.returns {
            Returns::Plain(t) => quote_spanned! {t.span()=>
                let _: fn() = ::duro::__private::assert_ret::<#t>;
                ::duro::__private::reply_value(&__duro_out)
            },
            Returns::Framework(t) => quote_spanned! {t.span()=>
                let _: fn() = ::duro::__private::assert_ret::<#t>;
                ::duro::__private::reply_framework(__duro_out)
            },
            Returns::User(t, e) => {
                let assert_e = quote_spanned! {e.span()=>
                    let _: fn() = ::duro::__private::assert_user_error::<#e>;
                };
                quote_spanned! {t.span()=>
                    let _: fn() = ::duro::__private::assert_ret::<#t>;
                    #assert_e
                    ::duro::__private::reply_user(__duro_out)
                }
            }
        };
        quote! {
            #wire => {
                #(#asserts)*
                let (#(#locals,)*): (#(#tys,)*) =
                    ::duro::__private::decode_args(__duro_method, __duro_args)?;
                let __duro_out = #call;
                #reply
            }
        }
    };
    let read_arms: Vec<TokenStream> = rpcs.iter().filter(|r| !r.mutating).map(arm).collect();
    let write_arms: Vec<TokenStream> = rpcs.iter().filter(|r| r.mutating).map(arm).collect();

    let timer_arms = timers.iter().map(|t| {
        let wire = &t.wire;
        let inner = &t.inner;
        let ctx = t.takes_ctx.then(|| quote!(__duro_ctx,));
        let (decode, arg) = match &t.payload {
            Some(ty) => (
                quote_spanned! {ty.span()=>
                    let _: fn() = ::duro::__private::assert_arg::<#ty>;
                    let __duro_payload: #ty =
                        ::duro::__private::decode_args(__duro_method, __duro_args)?;
                },
                quote!(__duro_payload),
            ),
            None => (quote!(), quote!()),
        };
        let call = if t.is_async {
            quote!(#self_ident::#inner(self, #ctx #arg).await)
        } else {
            quote!(#self_ident::#inner(self, #ctx #arg))
        };
        let finish = match &t.returns {
            Returns::Plain(ty) => {
                quote_spanned!(ty.span()=> ::duro::__private::timer_value(__duro_out))
            }
            Returns::Framework(ty) => {
                quote_spanned!(ty.span()=> ::duro::__private::timer_framework(__duro_out))
            }
            Returns::User(ty, _) => {
                quote_spanned!(ty.span()=> ::duro::__private::timer_user(__duro_out))
            }
        };
        quote! {
            #wire => {
                #decode
                let __duro_out = #call;
                #finish
            }
        }
    });

    let stub_methods = rpcs.iter().map(|r| {
        let ident = &r.ident;
        let wire = &r.wire;
        let docs = &r.docs;
        let names: Vec<&syn::Ident> = r.params.iter().map(|p| &p.name).collect();
        let tys: Vec<&Type> = r.params.iter().map(|p| &p.ty).collect();
        let (ret, body) = match &r.returns {
            Returns::Plain(t) | Returns::Framework(t) => (
                quote!(::core::result::Result<#t, ::duro::Error>),
                quote!(self.client.call_plain::<_, #t>(#wire, &(#(#names,)*)).await),
            ),
            Returns::User(t, e) => (
                quote!(::core::result::Result<#t, ::duro::CallError<#e>>),
                quote!(self.client.call::<_, #t, #e>(#wire, &(#(#names,)*)).await),
            ),
        };
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
            const CLASS: &'static str = <Self as ::duro::__private::Declared>::CLASS;
            const BINDING: &'static str = <Self as ::duro::__private::Declared>::BINDING;
            const SCHEMA: u32 = <Self as ::duro::__private::Declared>::SCHEMA;
            type Stub = #stub;

            fn __kind(__duro_method: &str) -> ::core::option::Option<::duro::__private::Kind> {
                match __duro_method {
                    #(#kinds)*
                    _ => ::core::option::Option::None,
                }
            }

            #[allow(unused_variables, unreachable_code)]
            fn __call_ref<'a>(
                &'a self,
                __duro_ctx: &'a ::duro::Ctx,
                __duro_method: &'a str,
                __duro_args: &'a [u8],
            ) -> ::duro::__private::LocalBoxFuture<
                'a,
                ::core::result::Result<::std::vec::Vec<u8>, ::duro::__private::Failure>,
            > {
                ::std::boxed::Box::pin(async move {
                    match __duro_method {
                        #(#read_arms)*
                        _ => ::core::result::Result::Err(::duro::__private::unknown_method(
                            <Self as ::duro::Object>::CLASS,
                            __duro_method,
                        )),
                    }
                })
            }

            #[allow(unused_variables, unreachable_code)]
            fn __call_timer<'a>(
                &'a mut self,
                __duro_ctx: &'a ::duro::Ctx,
                __duro_method: &'a str,
                __duro_args: &'a [u8],
            ) -> ::duro::__private::LocalBoxFuture<
                'a,
                ::core::result::Result<(), ::duro::__private::Failure>,
            > {
                ::std::boxed::Box::pin(async move {
                    match __duro_method {
                        #(#timer_arms)*
                        _ => ::core::result::Result::Err(::duro::__private::unknown_timer(
                            <Self as ::duro::Object>::CLASS,
                            __duro_method,
                        )),
                    }
                })
            }

            #[allow(unused_variables, unreachable_code)]
            fn __call_mut<'a>(
                &'a mut self,
                __duro_ctx: &'a ::duro::Ctx,
                __duro_method: &'a str,
                __duro_args: &'a [u8],
            ) -> ::duro::__private::LocalBoxFuture<
                'a,
                ::core::result::Result<::std::vec::Vec<u8>, ::duro::__private::Failure>,
            > {
                ::std::boxed::Box::pin(async move {
                    match __duro_method {
                        #(#write_arms)*
                        _ => ::core::result::Result::Err(::duro::__private::unknown_method(
                            <Self as ::duro::Object>::CLASS,
                            __duro_method,
                        )),
                    }
                })
            }
        }
    }
}
