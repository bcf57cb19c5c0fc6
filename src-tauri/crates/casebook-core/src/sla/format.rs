//! Durations and times as people read them in explanations.

use crate::model::Millis;

/// `3 h 10 min`, `40 min`, `2 d 3 h`, `45 s`; negative values get a leading `-`.
pub fn duration(ms: Millis) -> String {
    if ms < 0 {
        return format!("-{}", duration(-ms));
    }
    let s = ms / 1000;
    if s < 60 {
        return format!("{s} s");
    }
    let m = s / 60;
    let (d, h, m) = (m / 1440, (m / 60) % 24, m % 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// An instant in UTC, minute precision: `2026-03-02 14:05 UTC`.
pub fn time(ms: Millis) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%d %H:%M UTC").to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        let min = 60_000;
        assert_eq!(duration(40 * min), "40 min");
        assert_eq!(duration(190 * min), "3 h 10 min");
        assert_eq!(duration(120 * min), "2 h");
        assert_eq!(duration((24 * 60 + 3 * 60 + 7) * min), "1 d 3 h");
        assert_eq!(duration(48 * 60 * min), "2 d");
        assert_eq!(duration(-5 * min), "-5 min");
        assert_eq!(duration(45_000), "45 s");
        assert_eq!(time(0), "1970-01-01 00:00 UTC");
    }
}
