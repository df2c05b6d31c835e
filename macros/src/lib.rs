//! Procedural macros for [duro](https://docs.rs/duro): `#[duro::object]` names a state
//! struct as a Durable Object class, `#[duro::methods]` turns an `impl` block's `#[rpc]`
//! methods into dispatch and a typed stub. Use them through the `duro` crate; the generated
//! code reaches only `::duro::__private`.

mod attr;
mod ctxt;
mod methods;
mod object;

use proc_macro::TokenStream;

/// Makes a struct the state of a Durable Object class.
///
/// Arguments (all optional): `class = "Counter"` (the exported class name, default: the
/// struct's name), `binding = "COUNTER"` (the namespace binding, default: the class name in
/// SCREAMING_SNAKE_CASE), `schema = 1` (the state's schema version).
#[proc_macro_attribute]
pub fn object(args: TokenStream, item: TokenStream) -> TokenStream {
    object::expand(args.into(), item.into()).into()
}

/// Turns the `#[rpc]` methods of an `impl` block into the object's dispatch and a typed
/// stub named `<Type>Stub`.
#[proc_macro_attribute]
pub fn methods(args: TokenStream, item: TokenStream) -> TokenStream {
    methods::expand(args.into(), item.into()).into()
}

/// Marks a method as an RPC method. Only meaningful inside `#[duro::methods]`, which
/// removes it; anywhere else it is an error.
#[proc_macro_attribute]
pub fn rpc(_args: TokenStream, item: TokenStream) -> TokenStream {
    let item: proc_macro2::TokenStream = item.into();
    let err = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[rpc] only works on methods inside an `impl` block marked #[duro::methods]",
    )
    .into_compile_error();
    quote::quote!(#err #item).into()
}

/// Marks a method as a durable timer. Only meaningful inside `#[duro::methods]`, which
/// turns `Self::method` into a typed `duro::Timer` handle; anywhere else it is an error.
#[proc_macro_attribute]
pub fn timer(_args: TokenStream, item: TokenStream) -> TokenStream {
    let item: proc_macro2::TokenStream = item.into();
    let err = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[timer] only works on methods inside an `impl` block marked #[duro::methods]",
    )
    .into_compile_error();
    quote::quote!(#err #item).into()
}

/// Marks a `&self` method as the object's index projection, published to Workers KV:
/// `#[index("rooms")]` or `#[index("rooms", binding = "ROOMS_KV")]` (default binding
/// `"INDEX"`). Only meaningful inside `#[duro::methods]`; anywhere else it is an error.
#[proc_macro_attribute]
pub fn index(_args: TokenStream, item: TokenStream) -> TokenStream {
    let item: proc_macro2::TokenStream = item.into();
    let err = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[index] only works on methods inside an `impl` block marked #[duro::methods]",
    )
    .into_compile_error();
    quote::quote!(#err #item).into()
}
