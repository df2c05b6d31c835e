//! On errors: the errors, the user's item as written, and stand-ins for what the macro
//! would have generated (the `Declared` and `Object` impls, the stub with every
//! `#[rpc]` method, every `Timer` constant), so that one mistake is reported once and
//! not again at every use of the object.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{ImplItem, Type};

use crate::ast::{self, Methods, Object};
use crate::attr;
use crate::ctxt::Ctxt;
use crate::expand::{self, Dispatch};

/// An item the macro could not read as its input: the errors and the item, without the
/// attributes that only `#[duro::methods]` understands.
pub fn unparsed(cx: Ctxt, item: TokenStream) -> TokenStream {
    let errors = cx.check().err();
    let item = match syn::parse2::<syn::ItemImpl>(item.clone()) {
        Ok(mut block) => {
            for i in &mut block.items {
                if let ImplItem::Fn(f) = i {
                    f.attrs.retain(|a| !attr::is_method_attr(a));
                }
            }
            block.into_token_stream()
        }
        Err(_) => item,
    };
    quote!(#errors #item)
}

/// `#[duro::object]` in error: the struct still names a class (with defaults for the
/// arguments in error, and no migrations), so that its `#[duro::methods]` block adds no
/// error of its own.
pub fn object(o: &Object, errors: TokenStream) -> TokenStream {
    let item = &o.item;
    let declared = ast::generics(&o.generics)
        .is_none()
        .then(|| expand::declared(o, false));
    quote!(#errors #item #declared)
}

/// `#[duro::methods]` in error: the block, every `Timer` constant, a stub whose methods
/// are placeholders, and an `Object` impl that dispatches nothing.
pub fn methods(m: &Methods, errors: TokenStream) -> TokenStream {
    let block = expand::block(m);
    let stub = expand::stub(
        m,
        m.rpcs().map(|r| {
            let names = r.sig.params().map(|p| &p.name);
            expand::stub_method(r, quote!(#(let _ = #names;)* ::core::unreachable!()))
        }),
    );
    // The projection's type where the signature names one, so that readers typed by it
    // raise no second error.
    let projection = m
        .projections()
        .filter(|p| !p.sig.is_generic())
        .find_map(|p| p.sig.output())
        .filter(|ty| !matches!(ty, Type::Reference(_)))
        .map_or_else(|| quote!(()), ToTokens::to_token_stream);
    let index = quote!(type __Projection = #projection;);
    let object = expand::object_impl(m, index, Dispatch::default());
    quote! {
        #errors
        #block
        #stub
        #object
    }
}

/// `#[rpc]`, `#[timer]` or `#[index]` outside `#[duro::methods]`: the error, and the item
/// unchanged.
pub fn misplaced(name: &str, item: TokenStream) -> TokenStream {
    let err = syn::Error::new(
        proc_macro2::Span::call_site(),
        format!("#[{name}] only works on methods inside an `impl` block marked #[duro::methods]"),
    )
    .into_compile_error();
    quote!(#err #item)
}
