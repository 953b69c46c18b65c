//! Integer units. Inside the engine every number is an integer of a named unit, so ticks, lots and
//! minor units cannot be mixed up; decimals exist only at the edges (config, FIX, tools).

use bytemuck::{Pod, Zeroable};

/// The largest amount of any asset, in minor units (BEHAVIOUR.md §8: amounts are checked against `i64::MAX`).
pub const MAX_AMOUNT: u64 = i64::MAX as u64;

macro_rules! unit {
    ($(#[$doc:meta])* $name:ident($inner:ty)) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Pod, Zeroable)]
        #[repr(transparent)]
        pub struct $name(pub $inner);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

unit!(
    /// A price in ticks of its symbol (`tick_size` quote units per one base unit).
    Price(u64)
);
unit!(
    /// A quantity in lots of its symbol (`lot_size` base units).
    Qty(u64)
);
unit!(
    /// An amount of one asset in its minor units (`10^-decimals`). Never above [`MAX_AMOUNT`].
    Amount(u64)
);
unit!(
    /// An account. Account 0 is the fee account.
    AccountId(u32)
);
unit!(
    /// An asset, by its position in the configuration.
    AssetId(u16)
);
unit!(
    /// A symbol, by its position in the configuration.
    SymbolId(u16)
);
unit!(
    /// An order id given by the engine, increasing from 1 over all symbols.
    OrderId(u64)
);
unit!(
    /// A trade id given by the engine, increasing from 1.
    TradeId(u64)
);

impl AccountId {
    /// The account that collects fees; it places no orders.
    pub const FEES: AccountId = AccountId(0);
}

impl Amount {
    /// `self + other`, or `None` past [`MAX_AMOUNT`].
    #[inline]
    pub fn checked_add(self, other: Amount) -> Option<Amount> {
        self.0
            .checked_add(other.0)
            .filter(|&v| v <= MAX_AMOUNT)
            .map(Amount)
    }

    /// `self - other`, or `None` below zero.
    #[inline]
    pub fn checked_sub(self, other: Amount) -> Option<Amount> {
        self.0.checked_sub(other.0).map(Amount)
    }
}

wire_enum! {
    /// Order side.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum Side {
        /// Buy: pays quote, receives base.
        Buy = 1,
        /// Sell: pays base, receives quote.
        Sell = 2,
    }
}

impl Side {
    /// The side an order of this side trades against.
    #[inline]
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

wire_enum! {
    /// Order type.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum OrderType {
        /// A limit order at a stated price.
        Limit = 1,
        /// A market order: an IOC (or FOK) limit order at the band's protection price.
        Market = 2,
    }
}

wire_enum! {
    /// Time in force.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum TimeInForce {
        /// Good till cancelled: the remainder rests.
        Gtc = 1,
        /// Immediate or cancel: the remainder is cancelled `IOC_REMAINDER`.
        Ioc = 3,
        /// Fill or kill: fills whole against other accounts or is cancelled `FOK_UNFILLED`.
        Fok = 4,
    }
}

wire_enum! {
    /// Self-trade prevention mode, the taker's choice (BEHAVIOUR.md §3).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum SelfTradePrevention {
        /// Decrement and cancel: the smaller is cancelled, the larger decremented.
        DecrementCancel = 1,
        /// Cancel oldest: the resting order is cancelled.
        CancelOldest = 2,
        /// Cancel newest: the taker's remainder is cancelled.
        CancelNewest = 3,
        /// Cancel both.
        CancelBoth = 4,
    }
}

impl SelfTradePrevention {
    /// Decodes a command's `stp` byte, where 0 (not given) means the default,
    /// [`SelfTradePrevention::DecrementCancel`].
    pub fn from_command_byte(v: u8) -> Option<SelfTradePrevention> {
        match v {
            0 => Some(SelfTradePrevention::DecrementCancel),
            v => SelfTradePrevention::from_u8(v),
        }
    }
}

/// A client order id (FIX ClOrdID): up to 32 bytes, zero-padded. Empty means "none given".
///
/// Zero padding rather than a length byte keeps the field 32 bytes and the POD layouts aligned;
/// a FIX or binary ClOrdID never contains a NUL, so nothing is lost.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Pod, Zeroable)]
#[repr(transparent)]
pub struct ClientOrderId(pub [u8; 32]);

impl ClientOrderId {
    /// The maximum length in bytes.
    pub const MAX_LEN: usize = 32;

    /// The empty id.
    pub const EMPTY: ClientOrderId = ClientOrderId([0; 32]);

    /// Builds an id from text, or `None` if it is longer than 32 bytes or contains a NUL.
    pub fn new(text: &str) -> Option<ClientOrderId> {
        ClientOrderId::from_bytes(text.as_bytes())
    }

    /// Builds an id from bytes, or `None` if longer than 32 bytes or containing a NUL.
    pub fn from_bytes(bytes: &[u8]) -> Option<ClientOrderId> {
        if bytes.len() > Self::MAX_LEN || bytes.contains(&0) {
            return None;
        }
        let mut id = [0u8; 32];
        id[..bytes.len()].copy_from_slice(bytes);
        Some(ClientOrderId(id))
    }

    /// The id's bytes without the padding.
    pub fn as_bytes(&self) -> &[u8] {
        let len = self.0.iter().position(|&b| b == 0).unwrap_or(32);
        &self.0[..len]
    }

    /// True when no id is given.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0[0] == 0
    }

    /// True when the id is non-empty and its padding is all zeros (what the engine accepts).
    pub fn is_well_formed(&self) -> bool {
        // Bit i set when byte i is zero; well formed means byte 0 is not zero and the zero bytes
        // form a suffix (all bits from the first set one upward). Branch-free over 32 bytes.
        let zeros = self
            .0
            .iter()
            .enumerate()
            .fold(0u32, |m, (i, &b)| m | (((b == 0) as u32) << i));
        zeros & 1 == 0 && (zeros == 0 || zeros == u32::MAX << zeros.trailing_zeros())
    }
}

impl std::fmt::Debug for ClientOrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl std::fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::{ClientOrderId, SelfTradePrevention, Side, TimeInForce};

    #[test]
    fn client_order_id_well_formedness() {
        assert!(!ClientOrderId::EMPTY.is_well_formed());
        assert!(ClientOrderId::new("a").unwrap().is_well_formed());
        assert!(
            ClientOrderId::new(&"x".repeat(32))
                .unwrap()
                .is_well_formed()
        );
        let mut gap = ClientOrderId::new("ab").unwrap();
        gap.0[5] = b'c';
        assert!(!gap.is_well_formed(), "a byte after the padding");
        let mut leading = ClientOrderId::EMPTY;
        leading.0[1] = b'c';
        assert!(!leading.is_well_formed(), "empty first byte");
    }

    #[test]
    fn wire_bytes_decode_to_their_variants_and_nothing_else() {
        for v in 0..=u8::MAX {
            if let Some(side) = Side::from_u8(v) {
                assert_eq!(side as u8, v);
            }
            if let Some(tif) = TimeInForce::from_u8(v) {
                assert_eq!(tif as u8, v);
            }
            if let Some(stp) = SelfTradePrevention::from_u8(v) {
                assert_eq!(stp as u8, v);
            }
        }
        assert_eq!(Side::from_u8(0), None);
        assert_eq!(
            TimeInForce::from_u8(2),
            None,
            "FIX's 2 (at the opening) is not supported"
        );
        // A command that names no STP mode gets the default; a snapshot never holds 0.
        assert_eq!(
            SelfTradePrevention::from_command_byte(0),
            Some(SelfTradePrevention::DecrementCancel)
        );
        assert_eq!(SelfTradePrevention::from_u8(0), None);
        assert_eq!(SelfTradePrevention::from_command_byte(5), None);
    }
}
