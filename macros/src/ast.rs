//! The parsed input: what the user wrote, classified but not yet judged (that is
//! `valid`'s job), still pointing at the user's tokens for errors.

use proc_macro2::{Span, TokenStream};
use quote::{quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{FnArg, Ident, ImplItem, Pat, ReturnType, Type};

use crate::attr::{self, MethodAttrs, ObjectArgs, METHODS_ATTR, OBJECT_ATTR};
use crate::ctxt::Ctxt;

/// The item under `#[duro::object]`.
pub struct Object {
    /// The item as written, emitted unchanged.
    pub item: TokenStream,
    pub ident: Ident,
    pub generics: syn::Generics,
    /// Where to report an item that is not a struct (its `enum` or `union` keyword).
    pub not_struct: Option<TokenStream>,
    pub args: ObjectArgs,
    /// The struct's fields, in order, as the collection probe visits them.
    pub fields: Vec<Field>,
}

/// A field of the state struct: how to reach it, the name its collection (if it is one)
/// is stored under, and the `#[cfg(…)]` conditions it exists under.
pub struct Field {
    pub member: syn::Member,
    pub name: String,
    pub cfgs: Vec<TokenStream>,
}

impl Object {
    /// `None` when the item cannot be named at all (a function, a module, …); that is
    /// reported.
    pub fn from_syn(cx: &mut Ctxt, args: TokenStream, item: TokenStream) -> Option<Object> {
        let args = attr::object_args(cx, args);
        let parsed = match syn::parse2::<syn::Item>(item.clone()) {
            Ok(i) => i,
            Err(e) => {
                cx.push(e);
                return None;
            }
        };
        let (ident, generics, not_struct) = match &parsed {
            syn::Item::Struct(s) => (&s.ident, &s.generics, None),
            syn::Item::Enum(e) => (
                &e.ident,
                &e.generics,
                Some(quote_spanned!(e.enum_token.span()=> enum)),
            ),
            syn::Item::Union(u) => (
                &u.ident,
                &u.generics,
                Some(quote_spanned!(u.union_token.span()=> union)),
            ),
            other => {
                cx.error(quote_spanned!(other.span()=> item), NOT_A_STRUCT);
                return None;
            }
        };
        let fields = match &parsed {
            syn::Item::Struct(s) => s
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let member = match &f.ident {
                        Some(ident) => syn::Member::Named(ident.clone()),
                        None => syn::Member::Unnamed(syn::Index::from(i)),
                    };
                    let name = match &f.ident {
                        Some(ident) => ident.unraw().to_string(),
                        None => i.to_string(),
                    };
                    Field {
                        member,
                        name,
                        cfgs: attr::cfg_conditions(&f.attrs),
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        Some(Object {
            ident: ident.clone(),
            generics: generics.clone(),
            not_struct,
            args,
            item,
            fields,
        })
    }

    /// The exported class name: `class = "…"`, else the struct's name without `r#`.
    pub fn class(&self) -> String {
        self.args
            .class
            .clone()
            .unwrap_or_else(|| self.ident.unraw().to_string())
    }

    /// The namespace binding: `binding = "…"`, else the class name in
    /// SCREAMING_SNAKE_CASE.
    pub fn binding(&self) -> String {
        self.args
            .binding
            .clone()
            .unwrap_or_else(|| screaming_snake(&self.class()))
    }

    pub fn schema(&self) -> u32 {
        self.args.schema.unwrap_or(1)
    }
}

/// `ChatRoom` → `CHAT_ROOM`, `HTTPServer` → `HTTP_SERVER`.
fn screaming_snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.extend(c.to_uppercase());
    }
    out
}

pub const NOT_A_STRUCT: &str = "#[duro::object] goes on a struct: the struct is the object's state";
pub const NOT_GENERIC: &str =
    "duro objects cannot be generic: the exported class needs one concrete state type";

/// The `impl` block under `#[duro::methods]`.
pub struct Methods {
    /// The block as written.
    pub block: syn::ItemImpl,
    /// The object's type by its plain name.
    pub self_ident: Ident,
    /// The methods with a duro attribute, in order.
    pub methods: Vec<Method>,
}

impl Methods {
    /// `None` when the block is not an inherent, non-generic `impl` of a plainly named
    /// type; that is reported.
    pub fn from_syn(cx: &mut Ctxt, args: TokenStream, item: TokenStream) -> Option<Methods> {
        attr::methods_args(cx, args);
        let block = match syn::parse2::<syn::ItemImpl>(item.clone()) {
            Ok(b) => b,
            Err(_) => {
                let span = syn::parse2::<syn::Item>(item)
                    .map(|i| i.span())
                    .unwrap_or_else(|_| Span::call_site());
                cx.push(syn::Error::new(
                    span,
                    format!(
                        "{METHODS_ATTR} goes on an inherent `impl` block of a {OBJECT_ATTR} struct"
                    ),
                ));
                return None;
            }
        };
        let before = cx.len();
        if let Some((_, path, _)) = &block.trait_ {
            cx.error(
                path,
                format!(
                    "{METHODS_ATTR} goes on an inherent `impl` block, not a trait implementation"
                ),
            );
        }
        if let Some(generics) = generics(&block.generics) {
            cx.error(generics, NOT_GENERIC);
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
                    format!(
                        "{METHODS_ATTR} needs the object's type by its plain name, e.g. `impl Counter`"
                    ),
                );
                None
            }
        };
        let self_ident = self_ident.filter(|_| cx.len() == before)?;
        let methods = block
            .items
            .iter()
            .filter_map(|item| match item {
                ImplItem::Fn(f) => Method::from_syn(cx, f, &self_ident),
                _ => None,
            })
            .collect();
        Some(Methods {
            block,
            self_ident,
            methods,
        })
    }

    /// The stub's name, `<Type>Stub` (without `r#`).
    pub fn stub_ident(&self) -> Ident {
        quote::format_ident!("{}Stub", self.self_ident.unraw())
    }

    pub fn rpcs(&self) -> impl Iterator<Item = &Method> {
        self.methods.iter().filter(|m| m.attrs.rpc.is_some())
    }

    pub fn timers(&self) -> impl Iterator<Item = &Method> {
        self.methods.iter().filter(|m| m.attrs.timer.is_some())
    }

    pub fn projections(&self) -> impl Iterator<Item = &Method> {
        self.methods.iter().filter(|m| m.attrs.index.is_some())
    }
}

/// A method with `#[rpc]`, `#[timer]` or `#[index]`.
pub struct Method {
    pub attrs: MethodAttrs,
    pub vis: syn::Visibility,
    pub docs: Vec<syn::Attribute>,
    /// The conditions of the method's `#[cfg(…)]` attributes: a projection under one is
    /// published only where it holds.
    pub cfgs: Vec<TokenStream>,
    pub sig: Signature,
}

impl Method {
    fn from_syn(cx: &mut Ctxt, f: &syn::ImplItemFn, self_ident: &Ident) -> Option<Method> {
        let attrs = attr::method_attrs(cx, &f.attrs);
        if attrs.is_empty() {
            return None;
        }
        Some(Method {
            attrs,
            vis: f.vis.clone(),
            docs: attr::docs(&f.attrs),
            cfgs: attr::cfg_conditions(&f.attrs),
            sig: Signature::from_syn(&f.sig, self_ident),
        })
    }

    pub fn ident(&self) -> &Ident {
        &self.sig.original.ident
    }

    /// The method's name on the wire: `#[rpc(name = "…")]`, else its name without `r#`.
    pub fn wire(&self) -> String {
        match self.attrs.rpc.as_ref().and_then(|r| r.name.as_ref()) {
            Some((name, _)) => name.clone(),
            None => self.ident().unraw().to_string(),
        }
    }

    /// Where the wire name was written: `name = "…"`, else the method's name.
    pub fn wire_span(&self) -> Span {
        match self.attrs.rpc.as_ref().and_then(|r| r.name.as_ref()) {
            Some((_, span)) => *span,
            None => self.ident().span(),
        }
    }

    /// The hidden method that keeps a timer's body.
    pub fn timer_body(&self) -> Ident {
        timer_body(self.ident())
    }
}

/// The hidden method that keeps the body of the timer `ident`: the name `ident` goes to
/// the `Timer` constant.
pub fn timer_body(ident: &Ident) -> Ident {
    quote::format_ident!("__duro_timer_{}", ident.unraw())
}

/// A method's signature, sorted into what the shared checker judges.
pub struct Signature {
    pub original: syn::Signature,
    pub receiver: Receiver,
    /// The arguments after the receiver, in order.
    pub inputs: Vec<Input>,
    pub returns: Returns,
}

pub enum Receiver {
    /// `&self`: a read.
    Ref(syn::Receiver),
    /// `&mut self`: a write.
    Mut(syn::Receiver),
    /// `self`, `mut self`, `self: Box<Self>`, …
    Other(syn::Receiver),
    /// An associated function.
    Missing,
}

pub enum Input {
    /// A reference to the context, `&Ctx` or `&mut Ctx`, or a `Ctx` by value.
    Ctx(Type),
    /// A value that travels (an RPC argument, a timer payload).
    Value(Param),
}

pub struct Param {
    pub name: Ident,
    /// With `Self` spelled as the object's name: in the stub, `Self` is the stub.
    pub ty: Type,
}

/// How a method's result travels.
#[allow(clippy::large_enum_variant)] // one per method, at compile time
pub enum Returns {
    /// `-> T` (or nothing): the stub returns `duro::Result<T>`.
    Plain(Type),
    /// `-> duro::Result<T>`: framework errors only.
    Framework(Type),
    /// `-> Result<T, E>`: the stub returns `Result<T, CallError<E>>`.
    User(Type, Type),
    /// `-> Result<T, CallError<E>>`: the method can `?` framework errors, its caller
    /// sees them as themselves, and the stub returns the same type.
    Call(Type, Type),
}

impl Signature {
    fn from_syn(sig: &syn::Signature, self_ident: &Ident) -> Signature {
        let mut args = sig.inputs.iter().peekable();
        let receiver = match args.peek() {
            Some(FnArg::Receiver(r)) => {
                args.next();
                let r = r.clone();
                match (&r.reference, &r.mutability, &r.colon_token) {
                    (Some(_), None, None) => Receiver::Ref(r),
                    (Some(_), Some(_), None) => Receiver::Mut(r),
                    _ => Receiver::Other(r),
                }
            }
            _ => Receiver::Missing,
        };
        let inputs = args
            .enumerate()
            .filter_map(|(i, arg)| match arg {
                FnArg::Typed(pt) if is_ctx(&pt.ty) => Some(Input::Ctx((*pt.ty).clone())),
                FnArg::Typed(pt) => Some(Input::Value(Param {
                    name: match &*pt.pat {
                        Pat::Ident(p) => p.ident.clone(),
                        _ => quote::format_ident!("arg{}", i),
                    },
                    ty: name_self(&pt.ty, self_ident),
                })),
                FnArg::Receiver(_) => None,
            })
            .collect();
        let returns = match &sig.output {
            ReturnType::Default => Returns::Plain(syn::parse_quote!(())),
            ReturnType::Type(_, ty) => Returns::classify(&name_self(ty, self_ident)),
        };
        Signature {
            original: sig.clone(),
            receiver,
            inputs,
            returns,
        }
    }

    pub fn is_generic(&self) -> bool {
        generics(&self.original.generics).is_some()
    }

    pub fn takes_ctx(&self) -> bool {
        self.inputs.iter().any(|i| matches!(i, Input::Ctx(_)))
    }

    pub fn params(&self) -> impl Iterator<Item = &Param> {
        self.inputs.iter().filter_map(|i| match i {
            Input::Value(p) => Some(p),
            Input::Ctx(_) => None,
        })
    }

    /// The declared return type, if any.
    pub fn output(&self) -> Option<&Type> {
        match &self.original.output {
            ReturnType::Default => None,
            ReturnType::Type(_, ty) => Some(ty),
        }
    }

    /// Where to report a problem with the result: a path's last segment (`Result` in
    /// `std::io::Result<T>`), since a span cannot cover several tokens on stable; the
    /// method's name when it declares no result.
    pub fn ret_span(&self) -> Span {
        match self.output() {
            None => self.original.ident.span(),
            Some(Type::Path(p)) => p.path.segments.last().map_or(p.span(), |s| s.ident.span()),
            Some(ty) => ty.span(),
        }
    }

    /// A timer's payload type: its one argument, `()` without one. For a timer in
    /// error, the best guess that still names a type, so that its `Timer` constant
    /// exists and uses of it raise no second error.
    pub fn payload(&self) -> Type {
        self.params()
            .map(|p| &p.ty)
            .next()
            .filter(|ty| !self.is_generic() && is_nameable(ty))
            .cloned()
            .unwrap_or_else(|| syn::parse_quote!(()))
    }
}

impl Returns {
    /// `Result<T>` is a framework result; `Result<T, E>` has a user error, unless `E`
    /// is `duro::Error`.
    fn classify(ty: &Type) -> Returns {
        let plain = || Returns::Plain(ty.clone());
        let Type::Path(p) = ty else { return plain() };
        let Some(last) = p.path.segments.last() else {
            return plain();
        };
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return plain();
        };
        if last.ident != "Result" {
            return plain();
        }
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
            [ok, err] => match single_arg(err, "CallError") {
                Some(user) => Returns::Call(ok.clone(), user.clone()),
                None => Returns::User(ok.clone(), err.clone()),
            },
            _ => plain(),
        }
    }

    /// The success type.
    pub fn ok(&self) -> &Type {
        match self {
            Returns::Plain(t)
            | Returns::Framework(t)
            | Returns::User(t, _)
            | Returns::Call(t, _) => t,
        }
    }

    /// For a projection: the published type, and whether it is optional (`Option<T>`:
    /// `None` removes the entry).
    pub fn projected(&self) -> (&Type, bool) {
        let ty = self.ok();
        match single_arg(ty, "Option") {
            Some(inner) => (inner, true),
            None => (ty, false),
        }
    }
}

/// `T` of `Name<T>` (or `path::Name<T>`).
fn single_arg<'t>(ty: &'t Type, name: &str) -> Option<&'t Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
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

/// Where to report generics: the parameters, else the `where` keyword; `None` without
/// either.
pub fn generics(g: &syn::Generics) -> Option<TokenStream> {
    if !g.params.is_empty() {
        return Some(g.to_token_stream());
    }
    g.where_clause
        .as_ref()
        .map(|w| w.where_token.to_token_stream())
}

/// `Ctx`, `&Ctx` or `&mut Ctx`, by the path's last segment.
fn is_ctx(ty: &Type) -> bool {
    let ty = match ty {
        Type::Reference(r) => &*r.elem,
        ty => ty,
    };
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Ctx"))
}

/// Whether `ty` can stand in a constant's type as it is: no borrowed and no
/// `impl Trait` types.
fn is_nameable(ty: &Type) -> bool {
    !matches!(ty, Type::Reference(_) | Type::ImplTrait(_))
}

/// `ty` with `Self` spelled as the object's name.
fn name_self(ty: &Type, self_ident: &Ident) -> Type {
    struct NameSelf<'a>(&'a Ident);
    impl VisitMut for NameSelf<'_> {
        fn visit_type_path_mut(&mut self, tp: &mut syn::TypePath) {
            if let Some(first) = tp.path.segments.first_mut() {
                if tp.qself.is_none() && first.ident == "Self" {
                    // A clone, not `Ident::new(name)`: that panics on a raw `r#Name`.
                    let mut ident = self.0.clone();
                    ident.set_span(first.ident.span());
                    first.ident = ident;
                }
            }
            visit_mut::visit_type_path_mut(self, tp);
        }
    }
    let mut ty = ty.clone();
    NameSelf(self_ident).visit_type_mut(&mut ty);
    ty
}

#[cfg(test)]
mod tests {
    use super::screaming_snake;

    #[test]
    fn bindings() {
        assert_eq!(screaming_snake("Counter"), "COUNTER");
        assert_eq!(screaming_snake("ChatRoom"), "CHAT_ROOM");
        assert_eq!(screaming_snake("HTTPServer"), "HTTP_SERVER");
        assert_eq!(screaming_snake("Room2Go"), "ROOM2_GO");
    }
}
