//! The output: parse (`ast`), check (`valid`), then either the generated code or, on
//! errors, the `fallback`. Everything generated reaches the runtime only through
//! `::duro::__private` and names every other item by its full path.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{ImplItem, Type};

use crate::ast::{self, Method, Methods, Object, Receiver, Returns};
use crate::attr;
use crate::ctxt::Ctxt;
use crate::rules::STUB_METHODS;
use crate::{fallback, valid};

/// `#[duro::object]`.
pub fn object(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::default();
    let Some(input) = Object::from_syn(&mut cx, args, item.clone()) else {
        return fallback::unparsed(cx, item);
    };
    valid::object(&mut cx, &input);
    if let Err(errors) = cx.check() {
        return fallback::object(&input, errors);
    }
    let item = &input.item;
    let ident = &input.ident;
    let declared = declared(&input, true);
    let glue = format_ident!("__DuroClass{}", ident.unraw());
    let class = input.class();
    // The state's bounds (`Serialize`, `Deserialize`, `Default`) are checked once, by the
    // `Object` impl of `#[duro::methods]`: a check here would only repeat its error.
    quote! {
        #item
        #declared

        #[cfg(target_arch = "wasm32")]
        ::duro::__export_class!(#ident, #class, #glue);
    }
}

/// The class's names, its migration chain and its collection probe (or, with `chain`
/// false, neither), which `#[duro::methods]` reads into the `Object` impl.
pub fn declared(o: &Object, chain: bool) -> TokenStream {
    let probe = chain.then(|| collections(o));
    let ident = &o.ident;
    let class = o.class();
    let binding = o.binding();
    let schema = o.schema();
    // `Step<A, Step<B, Now>>`: the runtime's `Chain` runs it. Each step is spanned at its
    // type in the list, where a missing `From` is reported.
    let types = o
        .args
        .migrate
        .iter()
        .filter(|_| chain)
        .flat_map(|m| m.types.iter().rev());
    let chain = types.fold(
        quote!(::duro::__private::Now),
        |rest, ty| quote_spanned!(ty.span()=> ::duro::__private::Step<#ty, #rest>),
    );
    quote! {
        impl ::duro::__private::Declared for #ident {
            const CLASS: &'static str = #class;
            const BINDING: &'static str = #binding;
            const SCHEMA: u32 = #schema;
            const MIGRATE: ::duro::__private::Migrate<Self> =
                <#chain as ::duro::__private::Chain<Self>>::load;
            #probe
        }
    }
}

/// The collection probe: one call per field, which reports the field to the runtime
/// when its type is a collection (`duro::Log`, `duro::Map`) and does nothing otherwise
/// (autoref specialization: the runtime's `ProbeCollection` applies to collections only,
/// `ProbeOther` to everything, one reference further away). A field's collection is
/// stored under the field's name.
fn collections(o: &Object) -> TokenStream {
    let probes = o.fields.iter().map(|f| {
        let member = &f.member;
        let name = &f.name;
        let call = quote! {
            (&mut ::duro::__private::FieldProbe(&mut self.#member)).__duro_probe(#name, __duro_f);
        };
        if f.cfgs.is_empty() {
            call
        } else {
            let cfgs = &f.cfgs;
            quote!(#[cfg(all(#(#cfgs),*))] { #call })
        }
    });
    quote! {
        #[allow(unused_variables, unused_imports)]
        #[inline(always)]
        fn __collections(
            &mut self,
            __duro_f: &mut dyn ::core::ops::FnMut(
                &'static str,
                &mut dyn ::duro::__private::Collection,
            ),
        ) {
            use ::duro::__private::{ProbeCollection as _, ProbeOther as _};
            #(#probes)*
        }
    }
}

/// `#[duro::methods]`.
pub fn methods(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::default();
    let Some(input) = Methods::from_syn(&mut cx, args, item.clone()) else {
        return fallback::unparsed(cx, item);
    };
    valid::methods(&mut cx, &input);
    if let Err(errors) = cx.check() {
        return fallback::methods(&input, errors);
    }
    let block = block(&input);
    let stub = stub(&input, input.rpcs().map(|r| stub_method(r, stub_call(r))));
    let dispatch = Dispatch::of(&input);
    let object = object_impl(&input, index_items(&input), dispatch);
    quote! {
        #block
        #stub
        #object
    }
}

/// The user's block without duro's attributes, each timer's body moved to a hidden
/// method and its name given to a `Timer` constant.
pub fn block(m: &Methods) -> TokenStream {
    let mut block = m.block.clone();
    for item in &mut block.items {
        let ImplItem::Fn(f) = item else { continue };
        if f.attrs.iter().any(|a| attr::is(a, attr::TIMER)) {
            f.sig.ident = ast::timer_body(&f.sig.ident);
            f.attrs.push(syn::parse_quote!(#[doc(hidden)]));
        }
        f.attrs.retain(|a| !attr::is_method_attr(a));
    }
    block.items.extend(m.timers().map(|t| -> ImplItem {
        let docs = docs_or(
            &t.docs,
            &format!(
                "The `#[timer]` method `{}`, to schedule with `ctx.timers()`.",
                t.wire()
            ),
        );
        let vis = &t.vis;
        let ident = t.ident();
        let wire = t.wire();
        let payload = t.sig.payload();
        syn::parse_quote! {
            #(#docs)*
            #[allow(non_upper_case_globals)]
            #vis const #ident: ::duro::Timer<Self, #payload> =
                ::duro::__private::Timer::__new(#wire);
        }
    }));
    block.into_token_stream()
}

/// The stub type with `methods`, and its `Stub` impl.
pub fn stub(m: &Methods, methods: impl Iterator<Item = TokenStream>) -> TokenStream {
    let stub = m.stub_ident();
    let doc = format!(
        "Typed client of [`{}`], generated by `#[duro::methods]`: one async method per `#[rpc]` method.",
        m.self_ident.unraw()
    );
    // A user method of the same name is an error; until it is fixed (see `fallback`),
    // it takes the place of the accessor so that its callers raise no second error.
    let taken = m
        .rpcs()
        .any(|r| STUB_METHODS.contains(&r.ident().unraw().to_string().as_str()));
    let name = (!taken).then(|| {
        quote! {
            /// The object's name.
            pub fn name(&self) -> &str {
                self.client.name()
            }
        }
    });
    quote! {
        #[doc = #doc]
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
            #name

            #(#methods)*
        }
    }
}

/// The user's doc comments, or `fallback` when there are none: generated public items
/// are documented, so that `missing_docs` holds in the user's crate.
fn docs_or(docs: &[syn::Attribute], fallback: &str) -> Vec<syn::Attribute> {
    if docs.is_empty() {
        vec![syn::parse_quote!(#[doc = #fallback])]
    } else {
        docs.to_vec()
    }
}

/// A stub method with `body`.
pub fn stub_method(r: &Method, body: TokenStream) -> TokenStream {
    let ident = r.ident();
    let docs = docs_or(
        &r.docs,
        &format!("Calls the object's `#[rpc]` method `{}`.", r.wire()),
    );
    let names = r.sig.params().map(|p| &p.name);
    let tys = r.sig.params().map(|p| &p.ty);
    let generics = &r.sig.original.generics;
    let where_clause = &generics.where_clause;
    let ret = match &r.sig.returns {
        Returns::Plain(t) | Returns::Framework(t) => {
            quote!(::core::result::Result<#t, ::duro::Error>)
        }
        Returns::User(t, e) | Returns::Call(t, e) => {
            quote!(::core::result::Result<#t, ::duro::CallError<#e>>)
        }
    };
    quote! {
        #(#docs)*
        pub async fn #ident #generics (&self, #(#names: #tys),*) -> #ret #where_clause {
            #body
        }
    }
}

/// The body of a stub method: encode, call, decode.
fn stub_call(r: &Method) -> TokenStream {
    let wire = r.wire();
    let names: Vec<_> = r.sig.params().map(|p| &p.name).collect();
    let tys: Vec<_> = r.sig.params().map(|p| &p.ty).collect();
    let call = format_ident!("call{}", names.len());
    match &r.sig.returns {
        Returns::Plain(t) | Returns::Framework(t) => quote!(::duro::__private::plain(
            ::duro::__private::#call::<#(#tys,)* #t, ::duro::__private::NoUserError>(
                &self.client, #wire, #(#names),*
            )
            .await,
        )),
        Returns::User(t, e) | Returns::Call(t, e) => quote!(
            ::duro::__private::#call::<#(#tys,)* #t, #e>(&self.client, #wire, #(#names),*)
                .await
        ),
    }
}

/// The `#[index]` items of the `Object` impl.
fn index_items(m: &Methods) -> TokenStream {
    let Some((p, (index, binding))) = m
        .projections()
        .find_map(|p| Some((p, p.attrs.index.as_ref()?.spec.as_ref()?)))
    else {
        return quote!(
            type __Projection = ();
        );
    };
    let self_ident = &m.self_ident;
    let ident = p.ident();
    let (ret, optional) = p.sig.returns.projected();
    let ctx = p.sig.takes_ctx().then(|| quote!(__duro_ctx));
    let value = quote!(#self_ident::#ident(self, #ctx));
    let encode = if optional {
        quote!(::duro::__private::encode_optional_projection::<#ret>(#value))
    } else {
        quote!(::duro::__private::encode_projection::<#ret>(&#value)
            .map(::core::option::Option::Some))
    };
    // A projection under `#[cfg(…)]` exists only where its conditions hold; elsewhere the
    // object publishes nothing, as one without a projection.
    let (on, off) = if p.cfgs.is_empty() {
        (quote!(), quote!())
    } else {
        let cfgs = &p.cfgs;
        (
            quote!(#[cfg(all(#(#cfgs),*))]),
            quote!(
                #[cfg(not(all(#(#cfgs),*)))]
                type __Projection = ();
            ),
        )
    };
    quote! {
        #off
        #on
        type __Projection = #ret;
        #on
        const __INDEX: ::core::option::Option<::duro::__private::IndexSpec> =
            ::core::option::Option::Some(::duro::__private::IndexSpec {
                index: #index,
                binding: #binding,
            });
        #on
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

/// The dispatch tables: one entry per `#[rpc]` and per `#[timer]` method, each a name
/// and a function that decodes, calls and encodes. The host looks a name up once.
#[derive(Default)]
pub struct Dispatch {
    methods: Vec<TokenStream>,
    timers: Vec<TokenStream>,
}

impl Dispatch {
    fn of(m: &Methods) -> Dispatch {
        let self_ident = &m.self_ident;
        Dispatch {
            methods: m.rpcs().map(|r| rpc_entry(self_ident, r)).collect(),
            timers: m.timers().map(|t| timer_entry(self_ident, t)).collect(),
        }
    }
}

/// The table entry of an `#[rpc]` method: decode, call, reply.
fn rpc_entry(self_ident: &syn::Ident, r: &Method) -> TokenStream {
    let wire = r.wire();
    let ident = r.ident();
    let tys: Vec<&Type> = r.sig.params().map(|p| &p.ty).collect();
    let locals: Vec<syn::Ident> = (0..tys.len())
        .map(|i| format_ident!("__duro_arg{}", i))
        .collect();
    // Each type in turbofish position: an unsatisfied bound is reported under it.
    let decode = format_ident!("decode_args{}", tys.len());
    let call = method_call(self_ident, ident, r, quote!(#(#locals),*));
    let ret_span = r.sig.ret_span();
    let reply = match &r.sig.returns {
        Returns::Plain(t) => quote_spanned! {ret_span=>
            ::duro::__private::reply_value::<#t>(&__duro_out)
        },
        Returns::Framework(t) => quote_spanned! {ret_span=>
            ::duro::__private::reply_framework::<#t>(__duro_out)
        },
        Returns::User(t, e) => quote_spanned! {ret_span=>
            ::duro::__private::reply_user::<#t, #e>(__duro_out)
        },
        Returns::Call(t, e) => quote_spanned! {ret_span=>
            ::duro::__private::reply_call::<#t, #e>(__duro_out)
        },
    };
    let (this, handler) = match r.sig.receiver {
        Receiver::Mut(_) => (quote!(&'a mut #self_ident), quote!(Write)),
        _ => (quote!(&'a #self_ident), quote!(Read)),
    };
    let body = quote! {
        let (#(#locals,)*) = ::duro::__private::#decode::<#(#tys),*>(#wire, __duro_args)?;
        let __duro_out = #call;
        #reply
    };
    let run = entry_fn(this, quote!(::std::vec::Vec<u8>), body);
    quote! {
        ::duro::__private::Method {
            name: #wire,
            handler: ::duro::__private::Handler::#handler(#run),
        },
    }
}

/// The table entry of a timer: decode the payload, call, finish.
fn timer_entry(self_ident: &syn::Ident, t: &Method) -> TokenStream {
    let wire = t.wire();
    let (decode, arg) = match t.sig.params().next() {
        Some(p) => {
            let ty = &p.ty;
            (
                quote! {
                    let __duro_payload =
                        ::duro::__private::decode_payload::<#ty>(#wire, __duro_args)?;
                },
                quote!(__duro_payload),
            )
        }
        None => (quote!(), quote!()),
    };
    let call = method_call(self_ident, &t.timer_body(), t, arg);
    let finish = match &t.sig.returns {
        Returns::Plain(ty) => {
            quote_spanned!(ty.span()=> ::duro::__private::timer_value(__duro_out))
        }
        Returns::Framework(ty) => {
            quote_spanned!(ty.span()=> ::duro::__private::timer_framework(__duro_out))
        }
        Returns::User(_, e) => quote!(::duro::__private::timer_user::<#e>(__duro_out)),
        Returns::Call(_, e) => quote!(::duro::__private::timer_call::<#e>(__duro_out)),
    };
    let body = quote! {
        #decode
        let __duro_out = #call;
        #finish
    };
    let run = entry_fn(quote!(&'a mut #self_ident), quote!(()), body);
    quote! {
        ::duro::__private::TimerMethod {
            name: #wire,
            run: #run,
        },
    }
}

/// A block evaluating to a function pointer: `this`, the context and the encoded
/// arguments in, a boxed future of `Result<ok, Failure>` out.
fn entry_fn(this: TokenStream, ok: TokenStream, body: TokenStream) -> TokenStream {
    quote! {{
        #[allow(unused_variables, unreachable_code)]
        fn __duro_entry<'a>(
            __duro_this: #this,
            __duro_ctx: &'a ::duro::Ctx,
            __duro_args: &'a [u8],
        ) -> ::duro::__private::LocalBoxFuture<
            'a,
            ::core::result::Result<#ok, ::duro::__private::Failure>,
        > {
            ::std::boxed::Box::pin(async move { #body })
        }
        __duro_entry
    }}
}

/// `Type::method(this, ctx?, args)`, awaited when the method is async.
fn method_call(
    self_ident: &syn::Ident,
    ident: &syn::Ident,
    m: &Method,
    args: TokenStream,
) -> TokenStream {
    let ctx = m.sig.takes_ctx().then(|| quote!(__duro_ctx,));
    let call = quote!(#self_ident::#ident(__duro_this, #ctx #args));
    if m.sig.original.asyncness.is_some() {
        quote!(#call.await)
    } else {
        call
    }
}

/// The `Object` impl: the class's names, the stub, `index` items and the dispatch tables.
pub fn object_impl(m: &Methods, index: TokenStream, dispatch: Dispatch) -> TokenStream {
    let self_ident = &m.self_ident;
    let stub = m.stub_ident();
    // Under the `impl` line's type, so that a missing `#[duro::object]` is reported
    // there, once.
    let declared =
        quote_spanned!(m.block.self_ty.span()=> <#self_ident as ::duro::__private::Declared>);
    let Dispatch { methods, timers } = dispatch;
    quote! {
        impl ::duro::Object for #self_ident {
            const CLASS: &'static str = #declared::CLASS;
            const BINDING: &'static str = #declared::BINDING;
            const SCHEMA: u32 = #declared::SCHEMA;
            const __MIGRATE: ::duro::__private::Migrate<Self> = #declared::MIGRATE;
            type Stub = #stub;
            #[inline(always)]
            fn __collections(
                &mut self,
                __duro_f: &mut dyn ::core::ops::FnMut(
                    &'static str,
                    &mut dyn ::duro::__private::Collection,
                ),
            ) {
                #declared::__collections(self, __duro_f)
            }
            #index

            const __TARGET: ::duro::__private::Target = ::duro::__private::Target {
                class: #declared::CLASS,
                binding: #declared::BINDING,
                spawn: ::duro::__private::spawn_host::<#self_ident>,
            };
            const __METHODS: &'static [::duro::__private::Method<Self>] = &[#(#methods)*];
            const __TIMERS: &'static [::duro::__private::TimerMethod<Self>] = &[#(#timers)*];

            // `Some` exactly when the object implements `duro::Sockets` (see `Probe`).
            fn __sockets() -> ::core::option::Option<::duro::__private::SocketTable<Self>> {
                #[allow(unused_imports)]
                use ::duro::__private::{HasSockets as _, NoSockets as _};
                (&&::duro::__private::Probe::<Self>::new()).__duro_sockets()
            }

            // `Some` exactly when the object implements `duro::Activate`.
            fn __activate() -> ::core::option::Option<::duro::__private::ActivateFn<Self>> {
                #[allow(unused_imports)]
                use ::duro::__private::{HasActivate as _, NoActivate as _};
                (&&::duro::__private::ActivateProbe::<Self>::new()).__duro_activate()
            }

            // `Some` exactly when the object implements `duro::Fetch`. Inlined: an object
            // without one then carries none of the request reading.
            #[inline(always)]
            fn __fetch() -> ::core::option::Option<::duro::__private::FetchFn<Self>> {
                #[allow(unused_imports)]
                use ::duro::__private::{HasFetch as _, NoFetch as _};
                (&&::duro::__private::FetchProbe::<Self>::new()).__duro_fetch()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    fn expand(item: TokenStream) -> String {
        super::methods(TokenStream::new(), item).to_string()
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
        let gated = expand(quote! {
            impl Counter {
                #[cfg(feature = "index")]
                #[index("counters")]
                fn summary(&self) -> Summary { Summary }
            }
        });
        assert!(!gated.contains("compile_error"), "{gated}");
        let gated = gated.replace(' ', "");
        assert!(
            gated.contains("#[cfg(all(feature=\"index\"))]type__Projection=Summary;"),
            "{gated}"
        );
        assert!(
            gated.contains("#[cfg(not(all(feature=\"index\")))]type__Projection=();"),
            "{gated}"
        );
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
            "no arguments besides `&self` and an optional `ctx: &Ctx`",
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
    fn every_field_gets_a_collection_probe() {
        let out = super::object(
            TokenStream::new(),
            quote! {
                pub struct Room {
                    topic: String,
                    #[cfg(feature = "chat")]
                    r#messages: duro::Log<String>,
                }
            },
        )
        .to_string()
        .replace(' ', "");
        assert!(!out.contains("compile_error"), "{out}");
        assert!(
            out.contains(
                "(&mut::duro::__private::FieldProbe(&mutself.topic)).__duro_probe(\"topic\",__duro_f);"
            ),
            "{out}"
        );
        assert!(
            out.contains("#[cfg(all(feature=\"chat\"))]{(&mut::duro::__private::FieldProbe(&mutself.r#messages)).__duro_probe(\"messages\",__duro_f);}"),
            "{out}"
        );
        let tuple = super::object(TokenStream::new(), quote! { pub struct Pair(u8, u8); })
            .to_string()
            .replace(' ', "");
        assert!(
            tuple.contains("FieldProbe(&mutself.1)).__duro_probe(\"1\""),
            "{tuple}"
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

    #[test]
    fn raw_identifiers_lose_their_prefix() {
        let out = expand(quote! {
            impl r#Probe {
                #[rpc] fn r#type(&self) -> u8 { 0 }
                #[timer] fn r#loop(&mut self) {}
            }
        });
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("name : \"type\""), "{out}");
        assert!(out.contains("name : \"loop\""), "{out}");
        assert!(out.contains("struct ProbeStub"), "{out}");
        assert!(out.contains("fn __duro_timer_loop"), "{out}");
        assert!(!out.contains("\"r#"), "{out}");
    }

    #[test]
    fn the_stub_emits_its_reserved_methods() {
        let out = expand(quote! { impl C {} });
        for name in crate::rules::STUB_METHODS {
            assert!(out.contains(&format!("pub fn {name} (")), "{name} in {out}");
        }
        fails_with(
            quote! { impl C { #[rpc] fn name(&self) -> u8 { 0 } } },
            "would collide with the stub's own `CStub::name()`",
        );
    }
}
