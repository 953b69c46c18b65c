//! Text both the listings and the reports use: UTC timestamps with nanoseconds and sequence
//! ranges.

/// `2025-01-01T00:00:00.000000000Z` for nanoseconds since the Unix epoch; `-` for 0 (unset).
pub(crate) fn utc_timestamp(ns: u64) -> String {
    if ns == 0 {
        return "-".to_string();
    }
    hayate::adapters::clock::rfc3339_nanos(ns)
}

pub(crate) fn seq_range(first: Option<u64>, last: Option<u64>) -> String {
    match (first, last) {
        (Some(first), Some(last)) => format!("{first}..{last}"),
        _ => "none".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_iso_8601_with_nanoseconds() {
        assert_eq!(utc_timestamp(0), "-");
        assert_eq!(utc_timestamp(1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(
            utc_timestamp(crate::generator::GENERATED_EPOCH_NS + 123),
            "2025-01-01T00:00:00.000000123Z"
        );
        // 2024-02-29T23:59:59.5Z: a leap day.
        assert_eq!(
            utc_timestamp(1_709_251_199_500_000_000),
            "2024-02-29T23:59:59.500000000Z"
        );
    }
}
