//! The rules `#[duro::methods]` checks at compile time are the runtime's rules: the macro
//! crate cannot depend on this one, so its constants are tied to the runtime's here.

#[allow(dead_code)]
mod rules {
    include!("../../macros/src/rules.rs");
}

#[test]
fn the_reserved_prefix_is_the_runtimes() {
    assert_eq!(
        rules::RESERVED_PREFIX,
        duro::__private::RESERVED_METHOD_PREFIX
    );
    assert!(duro::RESERVED_PREFIX.starts_with(rules::RESERVED_PREFIX));
}

#[test]
fn index_rules_are_the_runtimes() {
    assert_eq!(rules::MAX_INDEX_NAME, duro::index::MAX_INDEX_NAME);
    assert_eq!(rules::DEFAULT_INDEX_BINDING, duro::index::DEFAULT_BINDING);
    let longest = "x".repeat(rules::MAX_INDEX_NAME);
    assert!(duro::index::check_index_name(&longest).is_ok());
    assert!(duro::index::check_index_name(&format!("{longest}x")).is_err());
}

#[test]
fn the_runtime_decodes_as_many_arguments_as_the_macro_allows() {
    assert_eq!(rules::MAX_ARGS, 16);
    // The macro names `decode_args{N}` and `call{N}` for N up to MAX_ARGS.
    let bytes = duro::__private::encode(&(
        0u8, 1u8, 2u8, 3u8, 4u8, 5u8, 6u8, 7u8, 8u8, 9u8, 10u8, 11u8, 12u8, 13u8, 14u8, 15u8,
    ))
    .unwrap();
    let decoded = duro::__private::decode_args16::<
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
        u8,
    >("m", &bytes)
    .unwrap();
    assert_eq!(decoded.15, 15);
}
