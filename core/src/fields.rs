//! The little-endian field codec both snapshots are written in (the engine's and the market
//! data's), and the error a damaged one is refused with.

use std::str::FromStr;

use rust_decimal::Decimal;

/// Why snapshot bytes could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not a Hayate engine snapshot.
    #[error("not a snapshot of this kind (bad magic)")]
    Magic,
    /// A format this build does not read.
    #[error("snapshot format {found} is not supported (this build reads {supported})")]
    Format {
        /// The format found.
        found: u32,
        /// The format this build reads.
        supported: u32,
    },
    /// The bytes end early.
    #[error("snapshot truncated at byte {offset}")]
    Truncated {
        /// Where the read ran out.
        offset: usize,
    },
    /// A field holds a value that cannot be.
    #[error("snapshot field {field} at byte {offset} is invalid")]
    Invalid {
        /// The field.
        field: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// The fields parse but the state they describe breaks an engine invariant.
    #[error("snapshot is inconsistent: {0}")]
    Inconsistent(String),
}

/// Little-endian field writer.
pub(crate) struct Writer(pub(crate) Vec<u8>);

impl Writer {
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.0.extend_from_slice(b);
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn opt_u64(&mut self, v: Option<u64>) {
        self.u8(v.is_some() as u8);
        self.u64(v.unwrap_or(0));
    }
    pub(crate) fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.bytes(s.as_bytes());
    }
}

/// Bounds-checked field reader, shared with the market-data snapshot.
pub(crate) struct Reader<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or(SnapshotError::Truncated { offset: self.at })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let at = self.at;
        self.take(N)?
            .try_into()
            .map_err(|_| SnapshotError::Truncated { offset: at })
    }
    pub(crate) fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>()?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, SnapshotError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, SnapshotError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub(crate) fn bool(&mut self, field: &'static str) -> Result<bool, SnapshotError> {
        let offset = self.at;
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(SnapshotError::Invalid { field, offset }),
        }
    }
    pub(crate) fn opt_u64(&mut self) -> Result<Option<u64>, SnapshotError> {
        let present = self.bool("option flag")?;
        let v = self.u64()?;
        Ok(present.then_some(v))
    }
    /// A count of items at least `min_item` bytes each, refused if the rest cannot hold them (so
    /// a damaged count cannot make the loader reserve absurd memory).
    pub(crate) fn count(
        &mut self,
        field: &'static str,
        min_item: usize,
    ) -> Result<usize, SnapshotError> {
        let offset = self.at;
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item) > self.bytes.len() - self.at {
            return Err(SnapshotError::Invalid { field, offset });
        }
        Ok(n)
    }
    pub(crate) fn str(&mut self) -> Result<String, SnapshotError> {
        let offset = self.at;
        let n = self.count("string length", 1)?;
        let b = self.take(n)?;
        String::from_utf8(b.to_vec()).map_err(|_| SnapshotError::Invalid {
            field: "string",
            offset,
        })
    }
    pub(crate) fn decimal(&mut self, field: &'static str) -> Result<Decimal, SnapshotError> {
        let offset = self.at;
        Decimal::from_str(&self.str()?).map_err(|_| SnapshotError::Invalid { field, offset })
    }
    pub(crate) fn enumerated<T>(
        &mut self,
        field: &'static str,
        decode: fn(u8) -> Option<T>,
    ) -> Result<T, SnapshotError> {
        let offset = self.at;
        decode(self.u8()?).ok_or(SnapshotError::Invalid { field, offset })
    }
}
