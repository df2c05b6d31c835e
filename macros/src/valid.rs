//! The rules: one signature checker for every role a method can have (`#[rpc]`,
//! `#[timer]`, `#[index]`), and the rules that span several items (wire names, the
//! stub's own method names, one projection per object).

use std::collections::HashMap;

use syn::ext::IdentExt;
use syn::Type;

use crate::ast::{
    generics, Input, Methods, Object, Receiver, Signature, NOT_A_STRUCT, NOT_GENERIC,
};
use crate::ctxt::Ctxt;
use crate::rules::{MAX_ARGS, RESERVED_PREFIX, STUB_METHODS};

pub fn object(cx: &mut Ctxt, o: &Object) {
    if let Some(keyword) = &o.not_struct {
        cx.error(keyword, NOT_A_STRUCT);
    }
    if let Some(generics) = generics(&o.generics) {
        cx.error(generics, NOT_GENERIC);
    }
    if let Some(m) = &o.args.migrate {
        let schema = o.schema();
        let listed = m.types.len() as u64;
        if o.args.schema.is_none() {
            cx.error(
                &m.written,
                "`migrate` needs `schema = N`: it lists the state types of the schemas before N, \
                 oldest first",
            );
        } else if listed >= u64::from(schema) {
            cx.error(
                &m.written,
                format!(
                    "`migrate` lists {listed} state types, but `schema = {schema}` has {} older \
                     schema{}: the list ends with schema {}'s type and goes back one schema per type",
                    schema - 1,
                    if schema == 2 { "" } else { "s" },
                    schema - 1,
                ),
            );
        }
    }
}

pub fn methods(cx: &mut Ctxt, m: &Methods) {
    for method in &m.methods {
        let a = &method.attrs;
        // A timer that is also an RPC method or the projection is reported already
        // (`attr::method_attrs`); it is judged as a timer only.
        let roles = if a.timer.is_some() {
            vec![Role::Timer]
        } else {
            [
                (Role::Rpc, a.rpc.is_some()),
                (Role::Index, a.index.is_some()),
            ]
            .into_iter()
            .filter_map(|(role, present)| present.then_some(role))
            .collect()
        };
        for role in roles {
            signature(cx, &method.sig, role);
        }
    }
    wire_names(cx, m);
    stub_names(cx, m);
    let mut projections = m.projections();
    if let Some(first) = projections.next() {
        for other in projections {
            let original = other.attrs.index.as_ref().map(|i| &i.original);
            cx.error(
                original,
                format!(
                    "an object has at most one #[index] projection (the other is `{}`)",
                    first.ident().unraw()
                ),
            );
        }
    }
}

/// What a method is for; the signature rules differ a little between them.
#[derive(Clone, Copy, PartialEq)]
pub enum Role {
    Rpc,
    Timer,
    Index,
}

impl Role {
    /// What the errors call such methods.
    fn noun(self) -> &'static str {
        match self {
            Role::Rpc => "RPC methods",
            Role::Timer => "timer methods",
            Role::Index => "an #[index] projection",
        }
    }
}

/// The one signature checker: receiver, where `&Ctx` may go, the arguments and the
/// result, for a method in `role`.
pub fn signature(cx: &mut Ctxt, sig: &Signature, role: Role) {
    let s = &sig.original;
    let noun = role.noun();
    if let Some(generics) = generics(&s.generics) {
        let why = match role {
            Role::Rpc => ": the wire needs one concrete type per argument",
            Role::Timer => ": the payload is stored with one concrete type",
            Role::Index => "",
        };
        cx.error(generics, format!("{noun} cannot be generic{why}"));
    }
    if let Some(u) = &s.unsafety {
        cx.error(u, format!("{noun} cannot be `unsafe`"));
    }
    if let Some(v) = &s.variadic {
        cx.error(v, format!("{noun} cannot be variadic"));
    }
    if let (Role::Index, Some(a)) = (role, &s.asyncness) {
        cx.error(
            a,
            "an #[index] projection cannot be async: it is computed after every turn that changes the state",
        );
    }
    receiver(cx, sig, role);
    inputs(cx, sig, role);
    if role == Role::Index {
        match sig.output() {
            None => cx.error(
                &s.ident,
                "an #[index] projection returns the value to publish, e.g. `-> RoomSummary`",
            ),
            Some(Type::Reference(r)) => cx.error(
                r,
                "an #[index] projection returns an owned value (the type readers decode)",
            ),
            Some(_) => {}
        }
    }
}

fn receiver(cx: &mut Ctxt, sig: &Signature, role: Role) {
    let (wrong, missing) = match role {
        Role::Rpc => (
            "RPC methods take `&self` (a read) or `&mut self` (a write), not `self` by value: \
             the object lives on after the call",
            "RPC methods take `&self` (a read) or `&mut self` (a write) as their first argument",
        ),
        Role::Timer => (
            "timer methods take `&mut self`: they run as turns that may change the state",
            "timer methods take `&mut self` as their first argument",
        ),
        Role::Index => (
            "an #[index] projection takes `&self`: it reads the state and changes nothing",
            "an #[index] projection takes `&self` as its first argument",
        ),
    };
    match (&sig.receiver, role) {
        (Receiver::Ref(_) | Receiver::Mut(_), Role::Rpc)
        | (Receiver::Mut(_), Role::Timer)
        | (Receiver::Ref(_), Role::Index) => {}
        (Receiver::Ref(r) | Receiver::Mut(r) | Receiver::Other(r), _) => cx.error(r, wrong),
        (Receiver::Missing, _) => cx.error(&sig.original.ident, missing),
    }
}

fn inputs(cx: &mut Ctxt, sig: &Signature, role: Role) {
    let (max, borrowed, too_many) = match role {
        Role::Rpc => (
            MAX_ARGS,
            "RPC arguments travel over the wire and must be owned: \
             take `String` instead of `&str`, `Vec<T>` instead of `&[T]`",
            format!(
                "RPC methods take at most {MAX_ARGS} arguments: \
                 bundle some of them in a tuple or struct"
            ),
        ),
        Role::Timer => (
            1,
            "timer payloads are stored and must be owned: take `String` instead of `&str`",
            "timer methods take one payload argument: bundle several values in a tuple or struct"
                .to_owned(),
        ),
        Role::Index => (
            0,
            "",
            "an #[index] projection takes no arguments besides `&self` and an optional `ctx: &Ctx`"
                .to_owned(),
        ),
    };
    let mut values = 0;
    for (i, input) in sig.inputs.iter().enumerate() {
        match input {
            Input::Ctx(Type::Reference(r)) if r.mutability.is_some() => {
                cx.error(r, "take the context as `&Ctx`, not `&mut Ctx`");
            }
            Input::Ctx(Type::Reference(r)) if i != 0 => {
                cx.error(r, "`&Ctx` must be the first argument after the receiver");
            }
            Input::Ctx(Type::Reference(_)) => {}
            Input::Ctx(ty) => cx.error(ty, "take the context by reference: `ctx: &Ctx`"),
            Input::Value(p) => {
                match &p.ty {
                    _ if values == max => {
                        cx.error(&p.ty, &too_many);
                        return;
                    }
                    Type::Reference(_) => cx.error(&p.ty, borrowed),
                    Type::ImplTrait(_) => {
                        let what = if role == Role::Rpc {
                            "RPC arguments"
                        } else {
                            "timer payloads"
                        };
                        cx.error(
                            &p.ty,
                            format!("{what} need a concrete type, not `impl Trait`"),
                        );
                    }
                    _ => {}
                }
                values += 1;
            }
        }
    }
}

/// Each `#[rpc]` method's wire name is its own and not duro's.
fn wire_names(cx: &mut Ctxt, m: &Methods) {
    let mut seen: HashMap<String, &syn::Ident> = HashMap::new();
    for rpc in m.rpcs() {
        let wire = rpc.wire();
        let span = rpc.wire_span();
        if wire.starts_with(RESERVED_PREFIX) {
            cx.push(syn::Error::new(
                span,
                format!(
                    "wire names starting with `{RESERVED_PREFIX}` are reserved for duro; \
                     rename the method or give it #[rpc(name = \"…\")]"
                ),
            ));
        } else if let Some(prev) = seen.get(&wire) {
            cx.push(syn::Error::new(
                span,
                format!(
                    "`{}` has the wire name `{wire}`, which `{}` already uses; \
                     give one of them another #[rpc(name = \"…\")]",
                    rpc.ident().unraw(),
                    prev.unraw()
                ),
            ));
        } else {
            seen.insert(wire, rpc.ident());
        }
    }
}

/// No `#[rpc]` method takes the name of one of the stub's own methods.
fn stub_names(cx: &mut Ctxt, m: &Methods) {
    let stub = m.stub_ident();
    for rpc in m.rpcs() {
        let name = rpc.ident().unraw().to_string();
        if STUB_METHODS.contains(&name.as_str()) {
            let wire = rpc.wire();
            cx.error(
                rpc.ident(),
                format!(
                    "`{name}` would collide with the stub's own `{stub}::{name}()`: rename the \
                     method, and keep `{wire}` as its wire name with #[rpc(name = \"{wire}\")]"
                ),
            );
        }
    }
}
