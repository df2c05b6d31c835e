//! How `#[duro::methods]` finds the hooks an object implements ([`Activate`](crate::Activate),
//! [`Fetch`](crate::Fetch), [`Sockets`](crate::Sockets)) without an attribute: one autoref
//! probe per hook trait, made by [`probe!`].

/// Defines a probe for the hook trait `$hook`: `(&&$probe::<T>::new()).$method()` is
/// `Some($found)` through `$has` when `T: $hook`, and `None` through `$no` otherwise
/// (method resolution tries `&$probe` before `$probe`). Inlined, so that the answer is a
/// constant where it is asked: what only runs with the hook is left out of objects
/// without it.
macro_rules! probe {
    (
        $(#[$doc:meta])*
        $probe:ident, $has:ident, $no:ident, $method:ident: $hook:path => $out:ty = $found:expr
    ) => {
        $(#[$doc])*
        #[doc(hidden)]
        pub struct $probe<T>(::core::marker::PhantomData<T>);

        impl<T> $probe<T> {
            /// A probe for `T`.
            pub const fn new() -> Self {
                $probe(::core::marker::PhantomData)
            }
        }

        impl<T> Default for $probe<T> {
            fn default() -> Self {
                $probe::new()
            }
        }

        #[doc = concat!("See [`", stringify!($probe), "`].")]
        #[doc(hidden)]
        pub trait $has<T> {
            fn $method(&self) -> Option<$out>;
        }

        impl<T: $hook> $has<T> for &$probe<T> {
            #[inline(always)]
            fn $method(&self) -> Option<$out> {
                Some($found)
            }
        }

        #[doc = concat!("See [`", stringify!($probe), "`].")]
        #[doc(hidden)]
        pub trait $no<T> {
            fn $method(&self) -> Option<$out>;
        }

        impl<T> $no<T> for $probe<T> {
            #[inline(always)]
            fn $method(&self) -> Option<$out> {
                None
            }
        }
    };
}

pub(crate) use probe;
