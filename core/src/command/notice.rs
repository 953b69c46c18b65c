//! Incident notices and maintenance windows (issue 15) as journaled commands.
//!
//! A notice must survive restarts and reach the standby, so it travels the way every operator
//! action does: through the journal. A command is 128 bytes, so a notice's text is cut into
//! [`NOTICE_PART_TEXT`]-byte parts, one [`CommandKind::Notice`] command each, published back to
//! back; [`NoticeAssembler`] puts them together again from the journal (a reader that never
//! sees the last part of a notice — a crash between parts — drops it). The engine changes no
//! state for a notice: it only acknowledges each part.

use bytemuck::{Pod, Zeroable};

use super::{COMMAND_VERSION, Command, CommandKind};

/// Text bytes one part carries.
pub const NOTICE_PART_TEXT: usize = 80;
/// The longest text a notice may have (title and body together), so at most 26 parts; with
/// its head it fits the order ports' default message size limit (4096 bytes).
pub const NOTICE_TEXT_MAX: usize = 2048;

wire_enum! {
    /// What a notice does.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[repr(u8)]
    pub enum NoticeAction {
        /// Opens an incident; its text is the title, a NUL, and the body (which may be empty).
        Open = 1,
        /// Adds an update to the incident `target`.
        Update = 2,
        /// Resolves the incident `target`, with an optional last update.
        Resolve = 3,
        /// Announces scheduled maintenance from `from_s` to `to_s`; its text says what.
        Maintenance = 4,
    }
}

wire_enum! {
    /// How bad an incident is (statuspage.io's impact levels).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    #[repr(u8)]
    pub enum NoticeSeverity {
        /// Not an incident (updates, maintenance).
        None = 0,
        /// Minor.
        Minor = 1,
        /// Major.
        Major = 2,
        /// Critical.
        Critical = 3,
    }
}

impl NoticeSeverity {
    /// Its name, as the admin client and the status page write it.
    pub fn name(self) -> &'static str {
        match self {
            NoticeSeverity::None => "none",
            NoticeSeverity::Minor => "minor",
            NoticeSeverity::Major => "major",
            NoticeSeverity::Critical => "critical",
        }
    }

    /// The severity a name gives (`minor`, `major`, `critical`).
    pub fn parse(name: &str) -> Option<NoticeSeverity> {
        Some(match name {
            "minor" => NoticeSeverity::Minor,
            "major" => NoticeSeverity::Major,
            "critical" => NoticeSeverity::Critical,
            _ => return None,
        })
    }
}

/// A notice as an operator asks for it, before it is cut into parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// What it does.
    pub action: NoticeAction,
    /// How bad (incidents only).
    pub severity: NoticeSeverity,
    /// The incident an update or resolve is about: the sequence of its first part.
    pub target: u64,
    /// The components it concerns, one bit each (the gateway names them).
    pub components: u32,
    /// A maintenance window, Unix seconds (from, to).
    pub window: (u64, u64),
    /// The text (UTF-8; for an incident, title NUL body).
    pub text: Vec<u8>,
}

/// One part of a notice: a [`Command`]'s 128 bytes seen through the notice's layout. `kind`,
/// `version` and `timestamp_ns` are where every command has them.
///
/// | offset | field |
/// |---|---|
/// | 0 | `kind` (14), `version`, `action`, `severity`, `part`, `parts`, `len`, pad |
/// | 8 | `components` (u32), pad |
/// | 16 | `timestamp_ns` |
/// | 24 | `target`, `from_s`, `to_s` |
/// | 48 | `text`: this part's bytes, `len` of them, zero-padded |
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
pub struct NoticePart {
    /// [`CommandKind::Notice`].
    pub kind: u8,
    /// [`COMMAND_VERSION`].
    pub version: u8,
    /// [`NoticeAction`] as a byte.
    pub action: u8,
    /// [`NoticeSeverity`] as a byte.
    pub severity: u8,
    /// This part's index, from 0.
    pub part: u8,
    /// How many parts the notice has.
    pub parts: u8,
    /// Text bytes in this part.
    pub len: u8,
    _pad0: u8,
    /// Components, one bit each.
    pub components: u32,
    _pad1: u32,
    /// Receive time at the gateway.
    pub timestamp_ns: u64,
    /// The incident an update or resolve is about.
    pub target: u64,
    /// Maintenance start, Unix seconds.
    pub from_s: u64,
    /// Maintenance end, Unix seconds.
    pub to_s: u64,
    /// The text bytes.
    pub text: [u8; NOTICE_PART_TEXT],
}

const _: () = assert!(std::mem::size_of::<NoticePart>() == std::mem::size_of::<Command>());

impl Notice {
    /// The commands that carry this notice, in publish order; an error for a text that is too
    /// long or empty where it must not be, or a window that ends before it starts.
    pub fn to_commands(&self) -> Result<Vec<Command>, String> {
        if self.text.len() > NOTICE_TEXT_MAX {
            return Err(format!(
                "the text is {} bytes, more than {NOTICE_TEXT_MAX}",
                self.text.len()
            ));
        }
        if std::str::from_utf8(&self.text).is_err() {
            return Err("the text is not UTF-8".to_owned());
        }
        match self.action {
            NoticeAction::Open if self.text.first().is_none_or(|b| *b == 0) => {
                return Err("an incident needs a title".to_owned());
            }
            NoticeAction::Update if self.text.is_empty() => {
                return Err("an update needs a text".to_owned());
            }
            NoticeAction::Maintenance if self.window.1 <= self.window.0 => {
                return Err("a maintenance window must end after it starts".to_owned());
            }
            _ => {}
        }
        let chunks: Vec<&[u8]> = if self.text.is_empty() {
            vec![&[]]
        } else {
            self.text.chunks(NOTICE_PART_TEXT).collect()
        };
        let parts = u8::try_from(chunks.len()).map_err(|_| "too many parts".to_owned())?;
        Ok(chunks
            .iter()
            .enumerate()
            .map(|(i, chunk)| {
                let mut text = [0u8; NOTICE_PART_TEXT];
                text[..chunk.len()].copy_from_slice(chunk);
                let part = NoticePart {
                    kind: CommandKind::Notice as u8,
                    version: COMMAND_VERSION,
                    action: self.action as u8,
                    severity: self.severity as u8,
                    part: i as u8,
                    parts,
                    len: chunk.len() as u8,
                    _pad0: 0,
                    components: self.components,
                    _pad1: 0,
                    timestamp_ns: 0,
                    target: self.target,
                    from_s: self.window.0,
                    to_s: self.window.1,
                    text,
                };
                bytemuck::cast(part)
            })
            .collect())
    }
}

impl Command {
    /// This command as a notice part, if it is one.
    pub fn notice_part(&self) -> Option<NoticePart> {
        (self.command_kind() == Some(CommandKind::Notice)).then(|| bytemuck::cast(*self))
    }
}

impl NoticePart {
    /// Whether this is the notice's last part.
    pub fn is_last(&self) -> bool {
        self.part.saturating_add(1) >= self.parts
    }
}

/// Puts notices together from their parts, in journal order.
#[derive(Debug, Default)]
pub struct NoticeAssembler {
    /// The notice being read: the sequence of its first part, its header, its text so far.
    pending: Option<(u64, NoticePart, Vec<u8>)>,
}

impl NoticeAssembler {
    /// Takes the command journaled at `seq`; returns a whole notice, with the sequence of its
    /// first part (the incident's id) and the time its first part was received, when `command`
    /// completes one. Parts that do not follow each other (a notice cut short by a crash) are
    /// dropped; anything not a notice is ignored.
    pub fn push(&mut self, seq: u64, command: &Command) -> Option<(u64, u64, Notice)> {
        let part = command.notice_part()?;
        let len = usize::from(part.len).min(NOTICE_PART_TEXT);
        if part.part == 0 {
            self.pending = Some((seq, part, Vec::new()));
        }
        let (first_seq, head, mut text) = self.pending.take()?;
        let follows = seq == first_seq + u64::from(part.part)
            && part.parts == head.parts
            && part.action == head.action
            && part.target == head.target;
        if !follows {
            return None;
        }
        text.extend_from_slice(&part.text[..len]);
        if !part.is_last() {
            self.pending = Some((first_seq, head, text));
            return None;
        }
        let notice = Notice {
            action: NoticeAction::from_u8(head.action)?,
            severity: NoticeSeverity::from_u8(head.severity).unwrap_or(NoticeSeverity::None),
            target: head.target,
            components: head.components,
            window: (head.from_s, head.to_s),
            text,
        };
        Some((first_seq, head.timestamp_ns, notice))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(text: &str) -> Notice {
        Notice {
            action: NoticeAction::Open,
            severity: NoticeSeverity::Major,
            target: 0,
            components: 0b101,
            window: (0, 0),
            text: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_notice_goes_through_parts_and_comes_back_whole() {
        let text = format!("Order entry slow\0{}", "é".repeat(150));
        let notice = open(&text);
        let commands = notice.to_commands().unwrap();
        assert_eq!(commands.len(), text.len().div_ceil(NOTICE_PART_TEXT));
        let mut assembler = NoticeAssembler::default();
        let mut whole = None;
        for (i, command) in commands.iter().enumerate() {
            assert_eq!(command.command_kind(), Some(CommandKind::Notice));
            let got = assembler.push(100 + i as u64, &command.at(7));
            if i + 1 < commands.len() {
                assert!(got.is_none());
            } else {
                whole = got;
            }
        }
        assert_eq!(whole, Some((100, 7, notice)));
    }

    #[test]
    fn a_notice_cut_short_is_dropped_and_the_next_one_still_reads() {
        let long = open(&"x".repeat(200)).to_commands().unwrap();
        let short = open("Fine again").to_commands().unwrap();
        let mut assembler = NoticeAssembler::default();
        assert!(assembler.push(1, &long[0]).is_none());
        // The crash: parts 2 and 3 never came; a new notice starts at sequence 2.
        let got = assembler.push(2, &short[0]).unwrap();
        assert_eq!(got.0, 2);
        assert_eq!(got.2.text, b"Fine again");
        // A stray later part of the first one is ignored.
        assert!(assembler.push(3, &long[1]).is_none());
        // Other commands are not notices.
        assert!(assembler.push(4, &Command::snapshot()).is_none());
    }

    #[test]
    fn refusals_name_the_problem() {
        assert!(open("").to_commands().unwrap_err().contains("title"));
        assert!(open("\0body").to_commands().unwrap_err().contains("title"));
        assert!(
            open(&"x".repeat(NOTICE_TEXT_MAX + 1))
                .to_commands()
                .unwrap_err()
                .contains("2048")
        );
        let update = Notice {
            action: NoticeAction::Update,
            text: Vec::new(),
            ..open("x")
        };
        assert!(update.to_commands().unwrap_err().contains("text"));
        let maintenance = Notice {
            action: NoticeAction::Maintenance,
            window: (10, 10),
            ..open("upgrade")
        };
        assert!(maintenance.to_commands().unwrap_err().contains("end after"));
        // A resolve may come without a text: one empty part.
        let resolve = Notice {
            action: NoticeAction::Resolve,
            target: 5,
            text: Vec::new(),
            ..open("x")
        };
        assert_eq!(resolve.to_commands().unwrap().len(), 1);
    }
}
