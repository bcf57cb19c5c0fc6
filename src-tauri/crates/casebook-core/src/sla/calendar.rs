//! Business-hours calendars: working hours per weekday in an IANA time zone, minus holidays.
//!
//! Working hours are local wall-clock times, converted to instants day by day with jiff, so a
//! daylight-saving change moves the working day with the clocks (09:00–17:00 stays 09:00–17:00
//! local; the day of the spring-forward change is an hour shorter only where the gap falls inside
//! working hours). Local times that do not exist (a spring-forward gap) resolve to the later
//! instant, repeated ones (a fall-back fold) to the earlier ("compatible" disambiguation).

use super::SlaError;
use crate::model::Millis;
use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// Days searched forward for business time before giving up (ten years).
const MAX_SEARCH_DAYS: usize = 3_660;

/// A day of the week, as written in calendar files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub const ALL: [Day; 7] = [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn of(w: Weekday) -> Day {
        Day::ALL[w.to_monday_zero_offset() as usize]
    }
}

/// Working hours on some days: `start`–`end` as local `HH:MM` (`end` may be `24:00`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct WorkingHours {
    pub days: Vec<Day>,
    pub start: String,
    pub end: String,
}

/// Days off: `from` to `to` inclusive, as local dates (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Holiday {
    pub name: String,
    pub from: String,
    pub to: String,
}

/// A business-hours calendar as stored and edited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "camelCase")]
pub struct Calendar {
    pub name: String,
    /// IANA zone (`Europe/Berlin`, `America/New_York`, `UTC`).
    pub time_zone: String,
    pub hours: Vec<WorkingHours>,
    #[serde(default)]
    pub holidays: Vec<Holiday>,
}

impl Calendar {
    /// Around the clock, every day, no holidays.
    pub fn always(name: &str) -> Calendar {
        Calendar {
            name: name.to_owned(),
            time_zone: "UTC".into(),
            hours: vec![WorkingHours {
                days: Day::ALL.to_vec(),
                start: "00:00".into(),
                end: "24:00".into(),
            }],
            holidays: Vec::new(),
        }
    }

    /// Monday to Friday, 09:00–17:00 in `time_zone`.
    pub fn office(name: &str, time_zone: &str) -> Calendar {
        Calendar {
            name: name.to_owned(),
            time_zone: time_zone.to_owned(),
            hours: vec![WorkingHours {
                days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
                start: "09:00".into(),
                end: "17:00".into(),
            }],
            holidays: Vec::new(),
        }
    }

    /// Checks the calendar and prepares it for computation.
    pub fn compile(&self) -> Result<CompiledCalendar, SlaError> {
        let bad = |reason: String| SlaError::Calendar {
            name: self.name.clone(),
            reason,
        };
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            return Err(SlaError::Invalid(
                "a calendar name must have 1 to 100 characters".into(),
            ));
        }
        let tz = if self.time_zone.eq_ignore_ascii_case("utc") {
            TimeZone::UTC
        } else {
            TimeZone::get(&self.time_zone)
                .map_err(|_| bad(format!("unknown time zone '{}'", self.time_zone)))?
        };
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for h in &self.hours {
            let start = parse_hhmm(&h.start).map_err(&bad)?;
            let end = parse_hhmm(&h.end).map_err(&bad)?;
            if end <= start {
                return Err(bad(format!(
                    "working hours {}–{} end before they start",
                    h.start, h.end
                )));
            }
            if h.days.is_empty() {
                return Err(bad(format!(
                    "working hours {}–{} name no days",
                    h.start, h.end
                )));
            }
            for d in &h.days {
                week[d.index()].push((start, end));
            }
        }
        for (i, ranges) in week.iter_mut().enumerate() {
            ranges.sort_unstable();
            for pair in ranges.windows(2) {
                if pair[1].0 < pair[0].1 {
                    return Err(bad(format!(
                        "working hours overlap on {:?}: {}–{} and {}–{}",
                        Day::ALL[i],
                        fmt_hhmm(pair[0].0),
                        fmt_hhmm(pair[0].1),
                        fmt_hhmm(pair[1].0),
                        fmt_hhmm(pair[1].1)
                    )
                    .to_lowercase()));
                }
            }
        }
        if week.iter().all(Vec::is_empty) {
            return Err(bad("has no working hours".into()));
        }
        let mut holidays = Vec::with_capacity(self.holidays.len());
        for h in &self.holidays {
            if h.name.trim().is_empty() {
                return Err(bad(format!("the holiday on {} needs a name", h.from)));
            }
            let from = parse_date(&h.from).map_err(&bad)?;
            let to = parse_date(&h.to).map_err(&bad)?;
            if to < from {
                return Err(bad(format!(
                    "holiday '{}' ends ({}) before it starts ({})",
                    h.name, h.to, h.from
                )));
            }
            let days = (to - from).get_days();
            if days > 366 {
                return Err(bad(format!(
                    "holiday '{}' lasts {} days (at most 366)",
                    h.name,
                    days + 1
                )));
            }
            holidays.push((from, to, h.name.clone()));
        }
        holidays.sort_by_key(|h| (h.0, h.1));
        for pair in holidays.windows(2) {
            if pair[1].0 <= pair[0].1 {
                return Err(bad(format!(
                    "holidays '{}' and '{}' overlap",
                    pair[0].2, pair[1].2
                )));
            }
        }
        let always = holidays.is_empty() && week.iter().all(|r| r.as_slice() == [(0, 1440)]);
        Ok(CompiledCalendar {
            name: self.name.clone(),
            tz,
            week,
            holidays: holidays.into_iter().map(|(a, b, _)| (a, b)).collect(),
            always,
            table: Table::default(),
        })
    }
}

fn parse_hhmm(s: &str) -> Result<u16, String> {
    let err = || format!("'{s}' is not a time of day (HH:MM, 00:00 to 24:00)");
    let (h, m) = s.trim().split_once(':').ok_or_else(err)?;
    let h: u16 = h.parse().map_err(|_| err())?;
    let m: u16 = m.parse().map_err(|_| err())?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(err());
    }
    Ok(h * 60 + m)
}

fn fmt_hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

fn parse_date(s: &str) -> Result<Date, String> {
    s.trim()
        .parse::<Date>()
        .map_err(|_| format!("'{s}' is not a date (YYYY-MM-DD)"))
}

/// A validated calendar, ready to measure business time. Keeps a table of working intervals and
/// cumulative business time per local day (built once for the span it is asked about), so
/// measuring a stretch of any length is two zone conversions and a subtraction.
#[derive(Debug, Clone)]
pub struct CompiledCalendar {
    name: String,
    tz: TimeZone,
    /// Working ranges per weekday (Monday first), in minutes after local midnight, sorted.
    week: [Vec<(u16, u16)>; 7],
    /// Inclusive local date ranges, sorted, not overlapping.
    holidays: Vec<(Date, Date)>,
    /// 24/7 without holidays: business time is wall time.
    always: bool,
    table: Table,
}

impl CompiledCalendar {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True when business time equals wall-clock time.
    pub fn is_always(&self) -> bool {
        self.always
    }

    /// The local day number (days since 1970-01-01 in the calendar's zone) of an instant.
    fn day_of(&self, t: Millis) -> i64 {
        match Timestamp::from_millisecond(t) {
            Ok(ts) => {
                let d = self.tz.to_datetime(ts).date();
                days_from_civil(d.year().into(), d.month().into(), d.day().into())
            }
            // Outside jiff's range (years -9999..=9999): the first or last day it knows.
            Err(_) if t < 0 => days_from_civil(-9999, 1, 1),
            Err(_) => days_from_civil(9999, 12, 31),
        }
    }

    fn instant(&self, dt: DateTime) -> Millis {
        self.tz
            .to_timestamp(dt)
            .map(|t| t.as_millisecond())
            .unwrap_or(Millis::MAX)
    }

    fn is_holiday(&self, d: Date) -> bool {
        let i = self.holidays.partition_point(|h| h.1 < d);
        self.holidays.get(i).is_some_and(|h| h.0 <= d)
    }

    /// The working intervals of a local day, as UTC instants.
    fn intervals(&self, day: i64, out: &mut Vec<(Millis, Millis)>) {
        let Some(d) = date_of(day) else { return };
        if self.is_holiday(d) {
            return;
        }
        for &(s, e) in &self.week[Day::of(d.weekday()).index()] {
            let start = self.instant(at_minute(d, s));
            let end = self.instant(at_minute(d, e));
            if end > start {
                out.push((start, end));
            }
        }
    }

    /// Makes the day table cover `[lo, hi]` (with some room), rebuilding it when it does not.
    /// Returns false when the span is too long to tabulate (the slow path is used then).
    fn cover(&mut self, lo: i64, hi: i64) -> bool {
        if self.table.covers(lo, hi) {
            return true;
        }
        let (mut a, mut b) = (lo - 31, hi + 31);
        if !self.table.cum.is_empty() {
            a = a.min(self.table.base);
            b = b.max(self.table.base + self.table.days() - 1);
        }
        if b - a > MAX_TABLE_DAYS {
            return false;
        }
        let mut t = Table {
            base: a,
            starts: Vec::with_capacity((b - a + 2) as usize),
            ivs: Vec::with_capacity((b - a + 1) as usize * 2),
            cum: Vec::with_capacity((b - a + 2) as usize),
        };
        t.cum.push(0);
        let mut total = 0;
        for day in a..=b {
            t.starts.push(t.ivs.len() as u32);
            let from = t.ivs.len();
            self.intervals(day, &mut t.ivs);
            total += t.ivs[from..].iter().map(|(s, e)| e - s).sum::<Millis>();
            t.cum.push(total);
        }
        t.starts.push(t.ivs.len() as u32);
        self.table = t;
        true
    }

    /// Business time between two instants (0 when `to <= from`).
    pub fn working_between(&mut self, from: Millis, to: Millis) -> Millis {
        if to <= from {
            return 0;
        }
        if self.always {
            return to - from;
        }
        let (da, db) = (self.day_of(from), self.day_of(to));
        if !self.cover(da, db) {
            return self.working_between_slow(from, to);
        }
        let t = &self.table;
        let clip = |day: i64, a: Millis, b: Millis| -> Millis {
            t.day(day)
                .iter()
                .map(|&(s, e)| (e.min(b) - s.max(a)).max(0))
                .sum()
        };
        if da == db {
            return clip(da, from, to);
        }
        clip(da, from, Millis::MAX)
            + (t.cum_before(db) - t.cum_before(da + 1))
            + clip(db, Millis::MIN, to)
    }

    /// The instant at which `amount` of business time has passed after `from`; `None` when the
    /// calendar has no working time in the next ten years.
    pub fn add_working(&mut self, from: Millis, amount: Millis) -> Option<Millis> {
        if self.always {
            return from.checked_add(amount);
        }
        let left = amount.max(0);
        let d0 = self.day_of(from);
        let mut span = 62;
        loop {
            if !self.cover(d0, d0 + span) {
                return self.add_working_slow(from, amount);
            }
            let t = &self.table;
            // The rest of the first day.
            let mut rest = left;
            for &(s, e) in t.day(d0) {
                if e <= from {
                    continue;
                }
                let a = s.max(from);
                if rest <= e - a {
                    return Some(a + rest);
                }
                rest -= e - a;
            }
            // Whole days: the first day whose cumulative time reaches the amount.
            // `need` is at least 1 ms so that an amount used up exactly at the end of the first
            // day lands on the start of the next working interval.
            let need = rest.max(1);
            let start = t.cum_before(d0 + 1);
            let last = (t.base + t.days()).min(d0 + span + 1);
            if t.cum_before(last) - start >= need {
                let lo = (d0 + 1 - t.base) as usize;
                let hi = (last - t.base) as usize;
                let k = lo + t.cum[lo..=hi].partition_point(|&c| c - start < need) - 1;
                let day = t.base + k as i64;
                let mut rest = rest - (t.cum[k] - start);
                for &(s, e) in t.day(day) {
                    if rest <= e - s {
                        return Some(s + rest);
                    }
                    rest -= e - s;
                }
                return None;
            }
            if span as usize >= MAX_SEARCH_DAYS {
                return None;
            }
            span = (span * 4).min(MAX_SEARCH_DAYS as i64);
        }
    }

    /// Day by day, without the table (for spans too long to tabulate, and as the tests' oracle).
    pub(crate) fn working_between_slow(&self, from: Millis, to: Millis) -> Millis {
        if to <= from {
            return 0;
        }
        if self.always {
            return to - from;
        }
        let mut total = 0;
        let mut buf = Vec::new();
        let last = self.day_of(to);
        let mut day = self.day_of(from);
        while day <= last {
            buf.clear();
            self.intervals(day, &mut buf);
            for &(s, e) in &buf {
                total += (e.min(to) - s.max(from)).max(0);
            }
            day += 1;
        }
        total
    }

    pub(crate) fn add_working_slow(&self, from: Millis, amount: Millis) -> Option<Millis> {
        if self.always {
            return from.checked_add(amount);
        }
        let mut left = amount.max(0);
        let mut buf = Vec::new();
        let mut day = self.day_of(from);
        for _ in 0..MAX_SEARCH_DAYS {
            buf.clear();
            self.intervals(day, &mut buf);
            for &(s, e) in &buf {
                if e <= from {
                    continue;
                }
                let a = s.max(from);
                if left <= e - a {
                    return Some(a + left);
                }
                left -= e - a;
            }
            day += 1;
        }
        None
    }
}

/// Longest span of days tabulated at once (about 110 years).
const MAX_TABLE_DAYS: i64 = 40_000;

/// Working intervals and cumulative business time per local day, for O(1) measurement.
#[derive(Debug, Clone, Default)]
struct Table {
    /// Day number of the first day.
    base: i64,
    /// Offsets into `ivs` per day (one more than the days).
    starts: Vec<u32>,
    ivs: Vec<(Millis, Millis)>,
    /// `cum[i]`: business time of the days before `base + i`.
    cum: Vec<Millis>,
}

impl Table {
    fn days(&self) -> i64 {
        self.cum.len().saturating_sub(1) as i64
    }

    fn covers(&self, lo: i64, hi: i64) -> bool {
        !self.cum.is_empty() && lo >= self.base && hi < self.base + self.days()
    }

    fn day(&self, day: i64) -> &[(Millis, Millis)] {
        let i = (day - self.base) as usize;
        match (self.starts.get(i), self.starts.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.ivs[a as usize..b as usize],
            _ => &[],
        }
    }

    /// Business time of the days before `day` (within the table).
    fn cum_before(&self, day: i64) -> Millis {
        let i = (day - self.base).clamp(0, self.days()) as usize;
        self.cum[i]
    }
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian; H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]); `None` outside jiff's range.
fn date_of(z: i64) -> Option<Date> {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    Date::new(
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    )
    .ok()
}

fn at_minute(d: Date, minute: u16) -> DateTime {
    let day = if minute >= 1440 {
        d.tomorrow().unwrap_or(d)
    } else {
        d
    };
    let m = minute % 1440;
    day.at((m / 60) as i8, (m % 60) as i8, 0, 0)
}
