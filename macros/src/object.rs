//! `#[duro::object]`: names the class and exports the wasm class.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::attr::{self, parse_args};
use crate::ctxt::Ctxt;

const KEYS: &[&str] = &["class", "binding", "schema"];

pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::default();
    let parsed = parse_args(&mut cx, args, KEYS, "#[duro::object]");

    let parsed_item = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(i) => i,
        Err(e) => {
            let errors = e.into_compile_error();
            return quote!(#errors #item);
        }
    };
    let is_struct = matches!(parsed_item, syn::Item::Struct(_));
    if !is_struct {
        cx.error(
            item_keyword(&parsed_item),
            "#[duro::object] goes on a struct: the struct is the object's state",
        );
    }
    // An enum or a union is reported but still named below, so that its
    // `#[duro::methods]` block does not add a second error.
    let (ident, generics) = match &parsed_item {
        syn::Item::Struct(s) => (&s.ident, &s.generics),
        syn::Item::Enum(e) => (&e.ident, &e.generics),
        syn::Item::Union(u) => (&u.ident, &u.generics),
        _ => {
            let errors = cx.into_compile_errors();
            return quote!(#errors #item);
        }
    };
    if !generics.params.is_empty() || generics.where_clause.is_some() {
        cx.error(
            generics,
            "duro objects cannot be generic: the exported class needs one concrete state type",
        );
        let errors = cx.into_compile_errors();
        return quote!(#errors #item);
    }

    let mut class = ident.to_string();
    let mut binding = None;
    let mut schema = 1u32;
    for arg in &parsed {
        match arg.key.to_string().as_str() {
            "class" => {
                if let Some((v, _)) = attr::string(&mut cx, arg) {
                    if attr::is_identifier(&v) {
                        class = v;
                    } else {
                        cx.error(
                            &arg.value,
                            format!("`{v}` is not a valid class name (letters, digits, `_`)"),
                        );
                    }
                }
            }
            "binding" => {
                if let Some((v, _)) = attr::string(&mut cx, arg) {
                    if attr::is_identifier(&v) {
                        binding = Some(v);
                    } else {
                        cx.error(
                            &arg.value,
                            format!("`{v}` is not a valid binding name (letters, digits, `_`)"),
                        );
                    }
                }
            }
            "schema" => {
                if let Some(v) = attr::u32_lit(&mut cx, arg) {
                    if v == 0 {
                        cx.error(&arg.value, "schema versions start at 1");
                    } else {
                        schema = v;
                    }
                }
            }
            _ => unreachable!("parse_args only returns known keys"),
        }
    }
    let binding = binding.unwrap_or_else(|| screaming_snake(&class));

    // On errors, the impl still follows (with defaults for the bad arguments), so that
    // `#[duro::methods]` does not report the type as undeclared.
    let errors = cx.into_compile_errors();
    let declared = quote! {
        impl ::duro::__private::Declared for #ident {
            const CLASS: &'static str = #class;
            const BINDING: &'static str = #binding;
            const SCHEMA: u32 = #schema;
        }
    };
    if !is_struct {
        return quote!(#errors #item #declared);
    }

    // The state's bounds (`Serialize`, `Deserialize`, `Default`) are checked once, by the
    // `Object` impl of `#[duro::methods]`: a check here would only repeat its error.
    let glue = format_ident!("__DuroClass{}", ident);
    quote! {
        #errors
        #item
        #declared

        #[cfg(target_arch = "wasm32")]
        ::duro::__export_class!(#ident, #class, #glue);
    }
}

fn item_keyword(item: &syn::Item) -> TokenStream {
    match item {
        syn::Item::Enum(e) => quote_spanned!(e.enum_token.span()=> enum),
        syn::Item::Union(u) => quote_spanned!(u.union_token.span()=> union),
        other => quote_spanned!(other.span()=> item),
    }
}

/// `ChatRoom` → `CHAT_ROOM`, `HTTPServer` → `HTTP_SERVER`.
pub fn screaming_snake(name: &str) -> String {
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
