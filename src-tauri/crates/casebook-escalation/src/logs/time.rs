//! Timestamp recognition and normalization to UTC, by hand-written parsers (one per format) that
//! look only at the first bytes of a line.

use serde::{Deserialize, Serialize};

/// The timestamp formats recognized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TimeFormat {
    /// ISO 8601 / RFC 3339 with `Z` or an offset.
    Iso8601,
    /// ISO 8601 without a zone (`2024-05-01 10:00:00,123`).
    Iso8601NoZone,
    /// Common/combined access log (nginx, Apache): `10/Oct/2000:13:55:36 -0700`.
    CommonLog,
    /// BSD syslog: `Oct 11 22:14:15` (no year, no zone).
    Syslog,
    /// Seconds since the epoch (JSON field).
    EpochSeconds,
    /// Milliseconds since the epoch (JSON field).
    EpochMillis,
}

impl TimeFormat {
    pub fn label(self) -> &'static str {
        match self {
            TimeFormat::Iso8601 => "ISO 8601 with zone",
            TimeFormat::Iso8601NoZone => "ISO 8601 without zone",
            TimeFormat::CommonLog => "common log format",
            TimeFormat::Syslog => "syslog (no year)",
            TimeFormat::EpochSeconds => "epoch seconds",
            TimeFormat::EpochMillis => "epoch milliseconds",
        }
    }
}

/// A wall-clock reading before its zone is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i32,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub millis: u16,
}

/// A timestamp found in a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub format: TimeFormat,
    pub civil: Civil,
    /// Offset from UTC in seconds, when the text names it.
    pub offset: Option<i32>,
    /// End of the timestamp in the line.
    pub end: usize,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Civil {
    /// Milliseconds since the epoch, reading the wall clock as UTC minus `offset` seconds.
    pub fn to_millis(self, offset: i32) -> i64 {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - i64::from(offset);
        secs * 1000 + i64::from(self.millis)
    }

    fn valid(&self) -> bool {
        (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour < 24
            && self.minute < 60
            && self.second <= 60
            && (1970..=2200).contains(&self.year)
    }
}

#[inline]
fn digits(b: &[u8], i: usize, n: usize) -> Option<u32> {
    let s = b.get(i..i + n)?;
    let mut v = 0u32;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

fn month(b: &[u8], i: usize) -> Option<u8> {
    let s = b.get(i..i + 3)?;
    MONTHS
        .iter()
        .position(|m| m.as_slice() == s)
        .map(|p| p as u8 + 1)
}

/// Finds the first timestamp in the first 80 bytes of a line.
pub(crate) fn find(line: &[u8], year_for_syslog: i32) -> Option<Found> {
    let lim = line.len().min(80);
    let mut i = 0;
    while i < lim {
        let b = line[i];
        let prev = if i == 0 { b' ' } else { line[i - 1] };
        if b.is_ascii_digit() && !prev.is_ascii_alphanumeric() {
            if let Some(f) = iso(line, i).or_else(|| common_log(line, i)) {
                return Some(f);
            }
        } else if b.is_ascii_uppercase()
            && !prev.is_ascii_alphanumeric()
            && let Some(f) = syslog(line, i, year_for_syslog)
        {
            return Some(f);
        }
        i += 1;
    }
    None
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.,fraction][Z|±HH:MM|±HHMM|±HH]`
fn iso(b: &[u8], i: usize) -> Option<Found> {
    let year = digits(b, i, 4)?;
    if b.get(i + 4) != Some(&b'-') || b.get(i + 7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, i + 5, 2)?;
    let day = digits(b, i + 8, 2)?;
    if !matches!(b.get(i + 10), Some(b'T' | b' ' | b't')) {
        return None;
    }
    let hour = digits(b, i + 11, 2)?;
    if b.get(i + 13) != Some(&b':') || b.get(i + 16) != Some(&b':') {
        return None;
    }
    let minute = digits(b, i + 14, 2)?;
    let second = digits(b, i + 17, 2)?;
    let mut p = i + 19;
    let mut millis = 0u32;
    if matches!(b.get(p), Some(b'.' | b',')) {
        p += 1;
        let mut scale = 100;
        let start = p;
        while let Some(c) = b.get(p).filter(|c| c.is_ascii_digit()) {
            millis += u32::from(c - b'0') * scale;
            scale /= 10;
            p += 1;
        }
        if p == start {
            return None;
        }
    }
    let (offset, end) = zone(b, p);
    let civil = Civil {
        year: year as i32,
        month: month as u8,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        millis: millis as u16,
    };
    if !civil.valid() {
        return None;
    }
    Some(Found {
        format: if offset.is_some() {
            TimeFormat::Iso8601
        } else {
            TimeFormat::Iso8601NoZone
        },
        civil,
        offset,
        end,
    })
}

/// `Z`, `±HH:MM`, `±HHMM`, `±HH`, or a space and `UTC`/`GMT`. Returns the offset and the end.
fn zone(b: &[u8], p: usize) -> (Option<i32>, usize) {
    match b.get(p) {
        Some(b'Z' | b'z') => (Some(0), p + 1),
        Some(&s @ (b'+' | b'-')) => {
            let sign = if s == b'-' { -1 } else { 1 };
            let Some(h) = digits(b, p + 1, 2) else {
                return (None, p);
            };
            let (m, end) = if b.get(p + 3) == Some(&b':') {
                match digits(b, p + 4, 2) {
                    Some(m) => (m, p + 6),
                    None => return (None, p),
                }
            } else if let Some(m) = digits(b, p + 3, 2) {
                (m, p + 5)
            } else {
                (0, p + 3)
            };
            if h > 14 || m > 59 {
                return (None, p);
            }
            (Some(sign * (h as i32 * 3600 + m as i32 * 60)), end)
        }
        Some(b' ') if matches!(b.get(p + 1..p + 4), Some(b"UTC" | b"GMT")) => (Some(0), p + 4),
        _ => (None, p),
    }
}

/// `DD/Mon/YYYY:HH:MM:SS ±HHMM` (nginx and Apache access logs).
fn common_log(b: &[u8], i: usize) -> Option<Found> {
    let day = digits(b, i, 2)?;
    if b.get(i + 2) != Some(&b'/') || b.get(i + 6) != Some(&b'/') {
        return None;
    }
    let month = month(b, i + 3)?;
    let year = digits(b, i + 7, 4)?;
    if b.get(i + 11) != Some(&b':') {
        return None;
    }
    let hour = digits(b, i + 12, 2)?;
    let minute = digits(b, i + 15, 2)?;
    let second = digits(b, i + 18, 2)?;
    let (offset, end) = if b.get(i + 20) == Some(&b' ') {
        zone(b, i + 21)
    } else {
        (None, i + 20)
    };
    let civil = Civil {
        year: year as i32,
        month,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        millis: 0,
    };
    civil.valid().then_some(Found {
        format: TimeFormat::CommonLog,
        civil,
        offset,
        end,
    })
}

/// `Mon DD HH:MM:SS` or `Mon  D HH:MM:SS` (RFC 3164): no year, no zone.
fn syslog(b: &[u8], i: usize, year: i32) -> Option<Found> {
    let month = month(b, i)?;
    if b.get(i + 3) != Some(&b' ') {
        return None;
    }
    let day = match (b.get(i + 4), b.get(i + 5)) {
        (Some(b' '), Some(d)) if d.is_ascii_digit() => u32::from(d - b'0'),
        _ => digits(b, i + 4, 2)?,
    };
    if b.get(i + 6) != Some(&b' ') || b.get(i + 9) != Some(&b':') || b.get(i + 12) != Some(&b':') {
        return None;
    }
    let hour = digits(b, i + 7, 2)?;
    let minute = digits(b, i + 10, 2)?;
    let second = digits(b, i + 13, 2)?;
    let civil = Civil {
        year,
        month,
        day: day as u8,
        hour: hour as u8,
        minute: minute as u8,
        second: second as u8,
        millis: 0,
    };
    civil.valid().then_some(Found {
        format: TimeFormat::Syslog,
        civil,
        offset: None,
        end: i + 15,
    })
}

/// An epoch number from a JSON field: seconds (10 digits), milliseconds (13), microseconds (16)
/// or nanoseconds (19); fractional seconds allowed. Returns milliseconds.
pub(crate) fn epoch(v: f64) -> Option<(TimeFormat, i64)> {
    if !v.is_finite() || v <= 0.0 {
        return None;
    }
    // 2001-09-09 .. 2286-11-20 in each unit.
    let (fmt, ms) = if (1e9..1e10).contains(&v) {
        (TimeFormat::EpochSeconds, v * 1000.0)
    } else if (1e12..1e13).contains(&v) {
        (TimeFormat::EpochMillis, v)
    } else if (1e15..1e16).contains(&v) {
        (TimeFormat::EpochMillis, v / 1000.0)
    } else if (1e18..1e19).contains(&v) {
        (TimeFormat::EpochMillis, v / 1e6)
    } else {
        return None;
    };
    Some((fmt, ms as i64))
}

/// Formats epoch milliseconds as RFC 3339 UTC (`2024-05-01T10:00:00.123Z`).
pub fn rfc3339(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => format!("{t:.3}"),
        Err(_) => format!("{ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(line: &str) -> (TimeFormat, i64) {
        let f = find(line.as_bytes(), 2024).unwrap();
        (f.format, f.civil.to_millis(f.offset.unwrap_or(0)))
    }

    fn utc(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn formats_normalize_to_utc() {
        assert_eq!(
            ms("2024-05-01T10:00:00.250+02:00 INFO x"),
            (TimeFormat::Iso8601, utc("2024-05-01T08:00:00.250Z"))
        );
        assert_eq!(
            ms("[2024-05-01 10:00:00,5Z] x"),
            (TimeFormat::Iso8601, utc("2024-05-01T10:00:00.500Z"))
        );
        assert_eq!(
            ms("10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200"),
            (TimeFormat::CommonLog, utc("2000-10-10T20:55:36Z"))
        );
        assert_eq!(
            ms("Oct  1 22:14:15 host sshd[1]: x"),
            (TimeFormat::Syslog, utc("2024-10-01T22:14:15Z"))
        );
        let f = find(b"2024-02-29 23:59:59 no zone", 2024).unwrap();
        assert_eq!((f.format, f.offset), (TimeFormat::Iso8601NoZone, None));
        assert!(find(b"2024-13-01T00:00:00Z bad month", 2024).is_none());
        assert!(find(b"no time here at all", 2024).is_none());
    }

    #[test]
    fn epoch_units() {
        assert_eq!(
            epoch(1_714_557_600.0),
            Some((TimeFormat::EpochSeconds, 1_714_557_600_000))
        );
        assert_eq!(
            epoch(1_714_557_600_123.0),
            Some((TimeFormat::EpochMillis, 1_714_557_600_123))
        );
        assert_eq!(epoch(42.0), None);
    }

    #[test]
    fn days_match_jiff() {
        for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (2024, 12, 31), (2100, 3, 1)] {
            let j = jiff::civil::date(y as i16, m as i8, d as i8)
                .to_zoned(jiff::tz::TimeZone::UTC)
                .unwrap()
                .timestamp()
                .as_second()
                / 86_400;
            assert_eq!(days_from_civil(y, m, d), j);
        }
    }
}
