//! The FIX 4.4 data dictionary subset the gateway enforces: which MsgTypes
//! exist, which fields each accepted message may carry, their formats,
//! enumerations and repeating groups.
//!
//! The message definitions live in one table (`MESSAGES`) built from
//! component blocks, mirroring how the FIX specification composes messages.
//! Per-message tag sets are computed at compile time so that validating an
//! order costs a handful of bit tests per field.

use super::codec::{FieldList, SessionRejectReason, parse_decimal, parse_u64, parse_utc_timestamp};

/// How the gateway treats a MsgType.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgClass {
    /// Session-level message handled by the session layer.
    Session,
    /// Application message the gateway accepts.
    Application,
    /// Defined by FIX 4.4 but not supported: answer BusinessMessageReject.
    Unsupported,
    /// Not a FIX 4.4 MsgType: answer a session Reject with InvalidMsgType.
    Invalid,
}

/// Classifies a MsgType (35) value.
///
/// `Session`: 0 1 2 3 4 5 A. `Application`: D F G H q V. `Unsupported`: every
/// other MsgType FIX 4.4 defines. `Invalid`: anything else.
pub fn classify(msg_type: &[u8]) -> MsgClass {
    match msg_type {
        b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A" => MsgClass::Session,
        b"D" | b"F" | b"G" | b"H" | b"q" | b"V" => MsgClass::Application,
        // FIX 4.4 leaves I, O and U undefined ("U..." is the private-use
        // prefix), and every lower-case letter except the session ones is
        // assigned.
        [b'6'..=b'9' | b'B' | b'C' | b'E' | b'J'..=b'N' | b'P'..=b'T' | b'V'..=b'Z']
        | [b'a'..=b'z']
        | [b'A', b'A'..=b'Z']
        | [b'B', b'A'..=b'H'] => MsgClass::Unsupported,
        _ => MsgClass::Invalid,
    }
}

/// A rule the message breaks; the session answers Reject(3) with 373 =
/// reason, 371 = ref_tag (omitted when 0), 58 = text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    /// SessionRejectReason (373).
    pub reason: SessionRejectReason,
    /// RefTagID (371); 0 when not about one tag.
    pub ref_tag: u32,
    /// Text (58).
    pub text: &'static str,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (reason {}, tag {})",
            self.text,
            self.reason.code(),
            self.ref_tag
        )
    }
}

impl std::error::Error for Violation {}

fn violation(reason: SessionRejectReason, ref_tag: u32, text: &'static str) -> Violation {
    Violation {
        reason,
        ref_tag,
        text,
    }
}

// ---------------------------------------------------------------------------
// Tag sets
// ---------------------------------------------------------------------------

/// Highest standard FIX 4.4 tag.
const MAX_STANDARD_TAG: u32 = 956;
/// Custom SelfTradeType.
const SELF_TRADE_TYPE: u32 = 7928;
/// Custom CancelOrdersOnDisconnect.
const CANCEL_ON_DISCONNECT: u32 = 8013;

/// A set of defined tags as a bitmap. Standard tags map to their own bit;
/// the two custom tags get spare bits above 956.
#[derive(Clone, Copy)]
struct TagSet([u64; 16]);

impl TagSet {
    const EMPTY: Self = Self([0; 16]);

    const fn slot(tag: u32) -> Option<usize> {
        match tag {
            1..=MAX_STANDARD_TAG => Some(tag as usize),
            SELF_TRADE_TYPE => Some(1000),
            CANCEL_ON_DISCONNECT => Some(1001),
            _ => None,
        }
    }

    const fn contains(&self, tag: u32) -> bool {
        match Self::slot(tag) {
            Some(s) => self.0[s / 64] & (1 << (s % 64)) != 0,
            None => false,
        }
    }

    /// Inserts `tag`; returns false if it was already present or undefined.
    const fn insert(&mut self, tag: u32) -> bool {
        match Self::slot(tag) {
            Some(s) => {
                let bit = 1 << (s % 64);
                let fresh = self.0[s / 64] & bit == 0;
                self.0[s / 64] |= bit;
                fresh
            }
            None => false,
        }
    }

    /// The tags of `items` that `pick` selects.
    const fn with_items(mut self, items: &[Item], pick: Pick) -> Self {
        let mut i = 0;
        while i < items.len() {
            match items[i] {
                Item::Field { tag, .. } => {
                    if !matches!(pick, Pick::CountTags) {
                        self.insert(tag);
                    }
                }
                Item::Group { group, .. } => {
                    self.insert(group.count_tag);
                    if matches!(pick, Pick::Deep) {
                        self = self.with_items(group.items, pick);
                    }
                }
            }
            i += 1;
        }
        self
    }

    const fn with_blocks(mut self, blocks: &[&[Item]], pick: Pick) -> Self {
        let mut i = 0;
        while i < blocks.len() {
            self = self.with_items(blocks[i], pick);
            i += 1;
        }
        self
    }
}

/// Which tags of a definition a [`TagSet`] collects.
#[derive(Clone, Copy)]
enum Pick {
    /// Every tag, group members included.
    Deep,
    /// Fields and NumInGroup tags outside groups.
    TopLevel,
    /// NumInGroup tags outside groups.
    CountTags,
}

fn is_defined(tag: u32) -> bool {
    TagSet::slot(tag).is_some()
}

// ---------------------------------------------------------------------------
// Message definitions
// ---------------------------------------------------------------------------

/// One entry of a message or group definition.
#[derive(Clone, Copy)]
enum Item {
    Field {
        tag: u32,
        required: bool,
    },
    Group {
        group: &'static Group,
        required: bool,
    },
}

/// A repeating group: its NumInGroup tag and its fields in order; the first
/// is the delimiter every instance starts with.
struct Group {
    count_tag: u32,
    items: &'static [Item],
}

impl Group {
    fn position(&self, tag: u32) -> Option<(usize, &Item)> {
        self.items
            .iter()
            .enumerate()
            .find(|(_, item)| item.tag() == tag)
    }

    fn delimiter(&self) -> u32 {
        self.items.first().map_or(0, Item::tag)
    }
}

impl Item {
    const fn tag(&self) -> u32 {
        match self {
            Item::Field { tag, .. } => *tag,
            Item::Group { group, .. } => group.count_tag,
        }
    }

    const fn required(&self) -> bool {
        match self {
            Item::Field { required, .. } | Item::Group { required, .. } => *required,
        }
    }
}

/// An optional field.
const fn o(tag: u32) -> Item {
    Item::Field {
        tag,
        required: false,
    }
}

/// A required field.
const fn r(tag: u32) -> Item {
    Item::Field {
        tag,
        required: true,
    }
}

/// An optional repeating group.
const fn g(group: &'static Group) -> Item {
    Item::Group {
        group,
        required: false,
    }
}

/// A message type's body: the component blocks it is made of, plus tag sets
/// derived from them at compile time.
struct MsgDef {
    msg_type: &'static [u8],
    blocks: &'static [&'static [Item]],
    /// Every body tag, group members included.
    allowed: TagSet,
    /// Body tags that may appear outside any group.
    top_level: TagSet,
    /// NumInGroup tags of the body's top-level groups.
    count_tags: TagSet,
}

impl MsgDef {
    const fn new(msg_type: &'static [u8], blocks: &'static [&'static [Item]]) -> Self {
        Self {
            msg_type,
            blocks,
            allowed: TagSet::EMPTY.with_blocks(blocks, Pick::Deep),
            top_level: TagSet::EMPTY.with_blocks(blocks, Pick::TopLevel),
            count_tags: TagSet::EMPTY.with_blocks(blocks, Pick::CountTags),
        }
    }

    fn items(&self) -> impl Iterator<Item = &'static Item> {
        self.blocks.iter().flat_map(|block| block.iter())
    }
}

// Repeating groups.
static NO_HOPS: Group = Group {
    count_tag: 627,
    items: &[o(628), o(629), o(630)],
};
static NO_MSG_TYPES: Group = Group {
    count_tag: 384,
    items: &[o(372), o(385)],
};
static NO_PARTY_SUB_IDS: Group = Group {
    count_tag: 802,
    items: &[o(523), o(803)],
};
static NO_PARTY_IDS: Group = Group {
    count_tag: 453,
    items: &[o(448), o(447), o(452), g(&NO_PARTY_SUB_IDS)],
};
static NO_ALLOCS: Group = Group {
    count_tag: 78,
    items: &[o(79), o(661), o(736), o(467), o(80)],
};
static NO_TRADING_SESSIONS: Group = Group {
    count_tag: 386,
    items: &[o(336), o(625)],
};
static NO_SECURITY_ALT_ID: Group = Group {
    count_tag: 454,
    items: &[o(455), o(456)],
};
static NO_UNDERLYINGS: Group = Group {
    count_tag: 711,
    items: &[o(311)],
};

/// StandardHeader. 8, 9 and 35 lead, in that order.
#[rustfmt::skip]
const HEADER: &[Item] = &[
    r(8), r(9), r(35), r(49), r(56), o(115), o(128), o(90), o(91), r(34),
    o(50), o(142), o(57), o(143), o(116), o(144), o(129), o(145), o(43), o(97),
    r(52), o(122), o(212), o(213), o(347), o(369), g(&NO_HOPS),
];

/// StandardTrailer; 10 is last, 93/89 just before it.
const TRAILER: &[Item] = &[o(93), o(89), r(10)];

// Component blocks shared by the order messages.
const PARTIES: &[Item] = &[g(&NO_PARTY_IDS)];
#[rustfmt::skip]
const INSTRUMENT: &[Item] = &[
    o(65), o(48), o(22), g(&NO_SECURITY_ALT_ID), o(460), o(461), o(167), o(762), o(200), o(541),
    o(224), o(225), o(239), o(226), o(227), o(228), o(255), o(543), o(470), o(471),
    o(472), o(240), o(202), o(947), o(206), o(231), o(223), o(207), o(106), o(348),
    o(349), o(107), o(350), o(351), o(691), o(667), o(875), o(876), o(873), o(874),
];
const UNDERLYINGS: &[Item] = &[g(&NO_UNDERLYINGS)];

// Market data (BEHAVIOUR.md §9). V is accepted; W, X, Y and f are only sent, and defined here so tests
// can hold what we send to the dictionary (a client sending them gets a BusinessMessageReject).
static NO_MD_ENTRY_TYPES: Group = Group {
    count_tag: 267,
    items: &[r(269)],
};
/// InstrmtMDReqGrp: the Instrument component, Symbol first.
#[rustfmt::skip]
static NO_RELATED_SYM: Group = Group {
    count_tag: 146,
    items: &[
        r(55), o(65), o(48), o(22), g(&NO_SECURITY_ALT_ID), o(460), o(461), o(167), o(762),
        o(200), o(541), o(224), o(225), o(239), o(226), o(227), o(228), o(255), o(543), o(470),
        o(471), o(472), o(240), o(202), o(947), o(206), o(231), o(223), o(207), o(106), o(348),
        o(349), o(107), o(350), o(351), o(691), o(667), o(875), o(876), o(873), o(874),
        g(&NO_UNDERLYINGS),
    ],
};
/// MDFullGrp: MDEntryType first.
#[rustfmt::skip]
static NO_MD_ENTRIES_FULL: Group = Group {
    count_tag: 268,
    items: &[
        r(269), o(270), o(15), o(271), o(272), o(273), o(274), o(275), o(336), o(625), o(276),
        o(277), o(282), o(283), o(284), o(286), o(59), o(432), o(126), o(110), o(18), o(287),
        o(37), o(299), o(288), o(289), o(346), o(290), o(546), o(811), o(58), o(354), o(355),
    ],
};
/// MDIncGrp: MDUpdateAction first; the Instrument component (Symbol) inside.
#[rustfmt::skip]
static NO_MD_ENTRIES_INC: Group = Group {
    count_tag: 268,
    items: &[
        r(279), o(285), o(269), o(278), o(280), o(55), o(65), o(48), o(22), o(460), o(461),
        o(167), o(200), o(541), o(207), o(106), o(107), o(291), o(292), o(270), o(15), o(271),
        o(272), o(273), o(274), o(275), o(336), o(625), o(276), o(277), o(282), o(283), o(284),
        o(286), o(59), o(432), o(126), o(110), o(18), o(287), o(37), o(299), o(288), o(289),
        o(346), o(290), o(546), o(811), o(451), o(58), o(354), o(355),
    ],
};
const MD_ENTRY_TYPES: &[Item] = &[Item::Group {
    group: &NO_MD_ENTRY_TYPES,
    required: true,
}];
const RELATED_SYMBOLS: &[Item] = &[Item::Group {
    group: &NO_RELATED_SYM,
    required: true,
}];
#[rustfmt::skip]
const MARKET_DATA_REQUEST: &[Item] = &[
    r(262), r(263), r(264), o(265), o(266), o(286), o(546), o(547),
];
const MARKET_DATA_REQUEST_TAIL: &[Item] = &[g(&NO_TRADING_SESSIONS), o(815), o(812)];
const MD_SNAPSHOT_HEAD: &[Item] = &[o(262), r(55)];
const MD_SNAPSHOT_BODY: &[Item] = &[
    o(291),
    o(292),
    o(451),
    Item::Group {
        group: &NO_MD_ENTRIES_FULL,
        required: true,
    },
    o(813),
    o(814),
];
const MD_INCREMENTAL: &[Item] = &[
    o(262),
    Item::Group {
        group: &NO_MD_ENTRIES_INC,
        required: true,
    },
    o(813),
    o(814),
];
const MD_REQUEST_REJECT: &[Item] = &[r(262), o(281), o(58), o(354), o(355)];
#[rustfmt::skip]
const SECURITY_STATUS: &[Item] = &[
    o(324), r(55), o(15), o(336), o(625), o(325), o(326), o(291), o(292), o(327), o(328),
    o(329), o(330), o(331), o(332), o(333), o(31), o(60), o(334), o(58),
];
const ALLOCS: &[Item] = &[g(&NO_ALLOCS)];
const TRADING_SESSIONS: &[Item] = &[g(&NO_TRADING_SESSIONS)];
const ORDER_QTY: &[Item] = &[o(38), o(152), o(516), o(468), o(469)];
const TEXT: &[Item] = &[o(58), o(354), o(355)];

// Message-specific fields.
const HEARTBEAT: &[Item] = &[o(112)];
const TEST_REQUEST: &[Item] = &[r(112)];
const RESEND_REQUEST: &[Item] = &[r(7), r(16)];
const REJECT: &[Item] = &[r(45), o(371), o(372), o(373)];
const SEQUENCE_RESET: &[Item] = &[o(123), r(36)];
#[rustfmt::skip]
const LOGON: &[Item] = &[
    r(98), r(108), o(95), o(96), o(141), o(789), o(383), g(&NO_MSG_TYPES), o(464), o(553),
    o(554), o(925), o(CANCEL_ON_DISCONNECT),
];
#[rustfmt::skip]
const NEW_ORDER_SINGLE: &[Item] = &[
    r(11), o(526), o(583), o(1), o(660), o(581), o(589), o(590), o(591), o(70),
    o(63), o(64), o(544), o(635), o(21), o(18), o(110), o(111), o(100), o(81),
    r(55), o(140), r(54), o(114), o(854), r(40), o(423), o(44), o(99), o(15),
    o(376), o(377), o(23), o(117), o(59), o(168), o(432), o(126), o(427), o(12),
    o(13), o(479), o(497), o(528), o(529), o(582), o(121), o(120), o(775), o(193),
    o(192), o(640), o(77), o(203), o(210), o(211), o(388), o(389), o(494), o(SELF_TRADE_TYPE),
    r(60),
];
#[rustfmt::skip]
const ORDER_CANCEL_REQUEST: &[Item] = &[
    r(41), o(37), r(11), o(526), o(583), o(66), o(1), o(660), o(581), r(55),
    r(54), r(60), o(376),
];
#[rustfmt::skip]
const ORDER_CANCEL_REPLACE_REQUEST: &[Item] = &[
    o(37), r(41), r(11), o(526), o(583), o(66), o(586), o(1), o(660), o(581),
    o(589), o(590), o(591), o(70), o(63), o(64), o(544), o(635), o(21), o(18),
    o(110), o(111), o(100), o(81), r(55), r(54), r(60), r(40), o(423), o(44),
    o(99), o(211), o(388), o(389), o(15), o(376), o(377), o(23), o(117), o(59),
    o(168), o(432), o(126), o(427), o(12), o(13), o(479), o(497), o(528), o(529),
    o(582), o(121), o(120), o(193), o(192), o(640), o(77), o(203), o(210), o(SELF_TRADE_TYPE),
];
const ORDER_STATUS_REQUEST: &[Item] = &[o(37), r(11), o(526), o(790), o(1), o(660), r(55), r(54)];
#[rustfmt::skip]
const ORDER_MASS_CANCEL_REQUEST: &[Item] = &[
    r(11), o(526), r(530), o(336), o(625), o(55), o(311), o(309), o(305), o(463),
    o(310), o(54), r(60),
];

/// Every MsgType `validate` understands: the session messages and the
/// application messages the gateway accepts.
#[rustfmt::skip]
static MESSAGES: &[MsgDef] = &[
    MsgDef::new(b"0", &[HEARTBEAT]),
    MsgDef::new(b"1", &[TEST_REQUEST]),
    MsgDef::new(b"2", &[RESEND_REQUEST]),
    MsgDef::new(b"3", &[REJECT, TEXT]),
    MsgDef::new(b"4", &[SEQUENCE_RESET]),
    MsgDef::new(b"5", &[TEXT]),
    MsgDef::new(b"A", &[LOGON]),
    MsgDef::new(b"D", &[NEW_ORDER_SINGLE, PARTIES, ALLOCS, TRADING_SESSIONS, INSTRUMENT, UNDERLYINGS, ORDER_QTY, TEXT]),
    MsgDef::new(b"F", &[ORDER_CANCEL_REQUEST, PARTIES, INSTRUMENT, UNDERLYINGS, ORDER_QTY, TEXT]),
    MsgDef::new(b"G", &[ORDER_CANCEL_REPLACE_REQUEST, PARTIES, ALLOCS, TRADING_SESSIONS, INSTRUMENT, UNDERLYINGS, ORDER_QTY, TEXT]),
    MsgDef::new(b"H", &[ORDER_STATUS_REQUEST, PARTIES, INSTRUMENT]),
    MsgDef::new(b"q", &[ORDER_MASS_CANCEL_REQUEST, PARTIES, INSTRUMENT, TEXT]),
    MsgDef::new(b"V", &[MARKET_DATA_REQUEST, MD_ENTRY_TYPES, RELATED_SYMBOLS, MARKET_DATA_REQUEST_TAIL]),
    MsgDef::new(b"W", &[MD_SNAPSHOT_HEAD, INSTRUMENT, UNDERLYINGS, MD_SNAPSHOT_BODY]),
    MsgDef::new(b"X", &[MD_INCREMENTAL]),
    MsgDef::new(b"Y", &[MD_REQUEST_REJECT]),
    MsgDef::new(b"f", &[SECURITY_STATUS, INSTRUMENT, UNDERLYINGS]),
];

const HEADER_TAGS: TagSet = TagSet::EMPTY.with_items(HEADER, Pick::Deep);
const HEADER_TOP_LEVEL: TagSet = TagSet::EMPTY.with_items(HEADER, Pick::TopLevel);
const HEADER_COUNT_TAGS: TagSet = TagSet::EMPTY.with_items(HEADER, Pick::CountTags);
const TRAILER_TAGS: TagSet = TagSet::EMPTY.with_items(TRAILER, Pick::Deep);

// ---------------------------------------------------------------------------
// Field formats and enumerations
// ---------------------------------------------------------------------------

/// The wire formats `validate` checks; anything else is free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// Digits only: SeqNum, Length, NumInGroup and counts.
    UnsignedInt,
    /// Optional '-' then digits.
    Int,
    /// FIX float (Qty, Price, PriceOffset, Amt, Percentage).
    Float,
    UtcTimestamp,
    /// HH:MM:SS or HH:MM:SS.sss.
    UtcTimeOnly,
    /// YYYYMMDD (UTC).
    UtcDateOnly,
    /// YYYYMMDD.
    LocalMktDate,
    /// Y or N.
    Boolean,
    /// Exactly one byte.
    Char,
    Text,
}

fn format(tag: u32) -> Format {
    match tag {
        7 | 9 | 16 | 34 | 36 | 45 | 78 | 90 | 93 | 95 | 108 | 146 | 212 | 267 | 268 | 354 | 369
        | 371 | 383 | 384 | 386 | 453 | 454 | 627 | 630 | 711 | 789 | 802 => Format::UnsignedInt,
        98 | 203 | 264 | 265 | 326 | 346 | 373 | 423 | 427 | 582 | 854 => Format::Int,
        12 | 31 | 38 | 44 | 80 | 99 | 110 | 111 | 140 | 152 | 192 | 202 | 210 | 211 | 223 | 231
        | 270 | 271 | 389 | 469 | 516 | 640 => Format::Float,
        272 => Format::UtcDateOnly,
        273 => Format::UtcTimeOnly,
        52 | 60 | 122 | 126 | 168 | 629 => Format::UtcTimestamp,
        64 | 432 | 541 => Format::LocalMktDate,
        43 | 97 | 121 | 123 | 141 | 266 | 377 | 464 => Format::Boolean,
        13 | 21 | 40 | 54 | 59 | 77 | 81 | 263 | 269 | 279 | 281 | 385 | 447 | 468 | 528 | 530
        | SELF_TRADE_TYPE | CANCEL_ON_DISCONNECT => Format::Char,
        _ => Format::Text,
    }
}

fn well_formed(format: Format, value: &[u8]) -> bool {
    match format {
        Format::UnsignedInt => value.iter().all(u8::is_ascii_digit) && !value.is_empty(),
        Format::Int => {
            let digits = value.strip_prefix(b"-").unwrap_or(value);
            !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
        }
        Format::Float => parse_decimal(value).is_some(),
        Format::UtcTimestamp => parse_utc_timestamp(value).is_some(),
        Format::UtcTimeOnly => {
            // As a timestamp on a valid day, so one parser judges hours, minutes and seconds.
            let mut stamp = [0u8; 21];
            let len = 9 + value.len();
            value.len() <= 12 && {
                stamp[..9].copy_from_slice(b"20000101-");
                stamp[9..len].copy_from_slice(value);
                parse_utc_timestamp(&stamp[..len]).is_some()
            }
        }
        Format::UtcDateOnly | Format::LocalMktDate => {
            let mut stamp = [0u8; 17];
            let (date, time) = stamp.split_at_mut(8);
            time.copy_from_slice(b"-00:00:00");
            value.len() == 8 && {
                date.copy_from_slice(value);
                parse_utc_timestamp(&stamp).is_some()
            }
        }
        Format::Boolean => matches!(value, b"Y" | b"N"),
        Format::Char => value.len() == 1,
        Format::Text => true,
    }
}

/// Whether `value` is one of `tag`'s enumerated values; tags without an
/// enforced enumeration accept anything well-formed.
fn valid_enum(tag: u32, value: &[u8]) -> bool {
    match tag {
        54 => matches!(value, [b'1'..=b'9' | b'A'..=b'G']),
        40 => matches!(value, [b'1'..=b'9' | b'A'..=b'M' | b'P']),
        59 => matches!(value, [b'0'..=b'7']),
        21 => matches!(value, [b'1'..=b'3']),
        530 => matches!(value, [b'1'..=b'7']),
        98 => matches!(value, [b'0'..=b'6']),
        263 => matches!(value, [b'0'..=b'2']),
        265 => matches!(value, [b'0' | b'1']),
        269 | 281 => matches!(value, [b'0'..=b'9' | b'A'..=b'C']),
        279 => matches!(value, [b'0'..=b'2']),
        326 => matches!(
            value,
            [b'1'..=b'9'] | [b'1', b'0' | b'2'..=b'9'] | [b'2', b'0'..=b'3']
        ),
        CANCEL_ON_DISCONNECT => matches!(value, b"S" | b"Y" | b"N"),
        SELF_TRADE_TYPE => matches!(value, b"D" | b"O" | b"N" | b"B"),
        18 => value
            .split(|&b| b == b' ')
            .all(|c| matches!(c, [b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'f'])),
        _ => true,
    }
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// Checks a parsed message whose class is Session or Application against
/// the dictionary. First violation wins, checked in this order: header
/// order, tag numbers defined, tags allowed for the message type,
/// duplicates, empty values, data formats, enum values, repeating groups,
/// required fields.
pub fn validate(msg: &FieldList) -> Result<(), Violation> {
    use SessionRejectReason as R;

    let msg_type =
        msg.msg_type()
            .ok_or(violation(R::RequiredTagMissing, 35, "MsgType (35) missing"))?;
    let def = MESSAGES
        .iter()
        .find(|d| d.msg_type == msg_type)
        .ok_or(violation(
            R::InvalidMsgType,
            35,
            "MsgType not handled by this gateway",
        ))?;

    check_order(msg)?;

    for (tag, _) in msg.iter() {
        if !is_defined(tag) {
            // QuickFIX and FIX 4.4 Volume 2 (test case 14a) answer a tag outside the
            // dictionary with 0 = Invalid tag number, not 3 = Undefined tag.
            return Err(violation(R::InvalidTagNumber, tag, "Invalid tag number"));
        }
    }
    for (tag, _) in msg.iter() {
        if !(HEADER_TAGS.contains(tag) || TRAILER_TAGS.contains(tag) || def.allowed.contains(tag)) {
            return Err(violation(
                R::TagNotDefinedForMessageType,
                tag,
                "tag not defined for this message type",
            ));
        }
    }
    check_duplicates(msg, def)?;
    for (tag, value) in msg.iter() {
        if value.is_empty() {
            return Err(violation(
                R::TagSpecifiedWithoutAValue,
                tag,
                "tag specified without a value",
            ));
        }
    }
    for (tag, value) in msg.iter() {
        if !well_formed(format(tag), value) {
            return Err(violation(
                R::IncorrectDataFormat,
                tag,
                "incorrect data format for value",
            ));
        }
    }
    for (tag, value) in msg.iter() {
        if !valid_enum(tag, value) {
            return Err(violation(
                R::ValueIsIncorrect,
                tag,
                "value is incorrect (out of range) for this tag",
            ));
        }
    }
    check_groups(msg, def)?;
    check_required(msg, def)
}

/// Where a field sits in the message's header / body / trailer layout.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Header,
    Body,
    Trailer,
}

fn check_order(msg: &FieldList) -> Result<(), Violation> {
    use SessionRejectReason as R;
    let out_of_order = |tag| {
        violation(
            R::TagSpecifiedOutOfRequiredOrder,
            tag,
            "tag specified out of required order",
        )
    };
    for (index, expected) in [8u32, 9, 35].into_iter().enumerate() {
        if msg.field_at(index).map(|(tag, _)| tag) != Some(expected) {
            return Err(out_of_order(expected));
        }
    }
    let mut section = Section::Header;
    let last = msg.len().saturating_sub(1);
    for (index, (tag, _)) in msg.iter().enumerate() {
        let here = if HEADER_TAGS.contains(tag) {
            Section::Header
        } else if TRAILER_TAGS.contains(tag) {
            Section::Trailer
        } else {
            Section::Body
        };
        if here < section || (tag == 10 && index != last) {
            return Err(out_of_order(tag));
        }
        section = here;
    }
    // Within the trailer, SignatureLength precedes Signature.
    let position = |tag| msg.iter().position(|(t, _)| t == tag);
    if let (Some(length), Some(signature)) = (position(93), position(89))
        && signature < length
    {
        return Err(out_of_order(93));
    }
    Ok(())
}

/// The fields a scope of the message may contain: the message top level
/// (header, body and trailer) or one repeating group.
#[derive(Clone, Copy)]
enum Scope {
    Top(&'static MsgDef),
    In(&'static Group),
}

impl Scope {
    /// The group `tag` opens in this scope, if it is a NumInGroup tag here.
    fn group_opened_by(self, tag: u32) -> Option<&'static Group> {
        let find = |item: &'static Item| match item {
            Item::Group { group, .. } if group.count_tag == tag => Some(*group),
            _ => None,
        };
        match self {
            // The tag sets spare a scan of the whole definition for the
            // vast majority of tags, which open no group.
            Scope::Top(_) if HEADER_COUNT_TAGS.contains(tag) => HEADER.iter().find_map(find),
            Scope::Top(def) if def.count_tags.contains(tag) => def.items().find_map(find),
            Scope::Top(_) => None,
            Scope::In(group) => group.items.iter().find_map(find),
        }
    }
}

/// A tag outside a group may appear once; inside one, once per instance.
/// Group boundaries are tracked loosely here (count mismatches and ordering
/// are `check_groups`' business) so that every duplicate is found even in
/// a malformed group.
fn check_duplicates(msg: &FieldList, def: &'static MsgDef) -> Result<(), Violation> {
    /// Deep enough for the deepest nesting in the tables (parties within
    /// a message).
    const MAX_DEPTH: usize = 4;
    let mut scopes: [(Scope, TagSet); MAX_DEPTH] = [(Scope::Top(def), TagSet::EMPTY); MAX_DEPTH];
    let mut depth = 0;
    for (tag, _) in msg.iter() {
        // Leave the groups this tag is not a member of.
        while depth > 0 {
            match scopes.get(depth).map(|s| s.0) {
                Some(Scope::In(group)) if group.position(tag).is_some() => break,
                _ => depth -= 1,
            }
        }
        let Some((scope, seen)) = scopes.get_mut(depth) else {
            break;
        };
        let scope = *scope;
        if let Scope::In(group) = scope
            && tag == group.delimiter()
        {
            *seen = TagSet::EMPTY;
        }
        if !seen.insert(tag) {
            return Err(violation(
                SessionRejectReason::TagAppearsMoreThanOnce,
                tag,
                "tag appears more than once",
            ));
        }
        if let Some(group) = scope.group_opened_by(tag)
            && let Some(inner) = scopes.get_mut(depth + 1)
        {
            *inner = (Scope::In(group), TagSet::EMPTY);
            depth += 1;
        }
    }
    Ok(())
}

fn check_groups(msg: &FieldList, def: &'static MsgDef) -> Result<(), Violation> {
    let mut index = 0;
    while let Some((tag, value)) = msg.field_at(index) {
        index += 1;
        if let Some(group) = Scope::Top(def).group_opened_by(tag) {
            index = check_group(msg, index, group, value)?;
        } else if !(HEADER_TOP_LEVEL.contains(tag)
            || TRAILER_TAGS.contains(tag)
            || def.top_level.contains(tag))
        {
            // Allowed for the message type, so it belongs to one of its
            // groups, but no group is open here.
            return Err(violation(
                SessionRejectReason::RepeatingGroupFieldsOutOfOrder,
                tag,
                "repeating group field outside its group",
            ));
        }
    }
    Ok(())
}

/// Checks the instances of `group` starting at field `index`, just after
/// its NumInGroup field whose value is `count`; returns the index of the
/// first field after the group.
fn check_group(
    msg: &FieldList,
    mut index: usize,
    group: &'static Group,
    count: &[u8],
) -> Result<usize, Violation> {
    use SessionRejectReason as R;
    let declared = parse_u64(count).ok_or(violation(
        R::IncorrectDataFormat,
        group.count_tag,
        "NumInGroup is not a number",
    ))?;
    let delimiter = group.delimiter();
    let mut instances: u64 = 0;
    while let Some((tag, _)) = msg.field_at(index) {
        if tag != delimiter {
            if group.position(tag).is_some() {
                return Err(violation(
                    R::RepeatingGroupFieldsOutOfOrder,
                    tag,
                    "repeating group instance does not start with its first field",
                ));
            }
            break;
        }
        instances += 1;
        index += 1;
        let mut last_position = 0;
        while let Some((tag, value)) = msg.field_at(index) {
            match group.position(tag) {
                Some((0, _)) | None => break,
                Some((position, item)) if position > last_position => {
                    last_position = position;
                    index += 1;
                    if let Item::Group { group: inner, .. } = item {
                        index = check_group(msg, index, inner, value)?;
                    }
                }
                Some(_) => {
                    return Err(violation(
                        R::RepeatingGroupFieldsOutOfOrder,
                        tag,
                        "repeating group fields out of order",
                    ));
                }
            }
        }
    }
    if instances != declared {
        return Err(violation(
            R::IncorrectNumInGroupCount,
            group.count_tag,
            "incorrect NumInGroup count for repeating group",
        ));
    }
    Ok(index)
}

fn check_required(msg: &FieldList, def: &'static MsgDef) -> Result<(), Violation> {
    let mut present = TagSet::EMPTY;
    for (tag, _) in msg.iter() {
        present.insert(tag);
    }
    let required = HEADER
        .iter()
        .chain(def.items())
        .chain(TRAILER)
        .filter(|item| item.required());
    for item in required {
        if !present.contains(item.tag()) {
            return Err(violation(
                SessionRejectReason::RequiredTagMissing,
                item.tag(),
                "required tag missing",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
