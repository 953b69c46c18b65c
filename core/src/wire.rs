//! One mechanism for every enum that travels as a byte (in commands, events, snapshots): the
//! variants and their wire values are written once, and decoding is generated from that list,
//! so a new variant cannot be forgotten in its decoder.

/// Declares a `#[repr(u8)]` enum whose variants all have explicit wire values, with
/// `from_u8` (the variant for a byte, `None` for any other byte) generated from the same list.
/// Exported for the protocol enums of the adapters.
#[macro_export]
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$variant_meta:meta])*
                $variant:ident = $value:literal,
            )+
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $(
                $(#[$variant_meta])*
                $variant = $value,
            )+
        }

        impl $name {
            /// Decodes the wire byte; `None` for a byte no variant has.
            pub fn from_u8(v: u8) -> Option<$name> {
                match v {
                    $($value => ::core::option::Option::Some($name::$variant),)+
                    _ => ::core::option::Option::None,
                }
            }
        }
    };
}
