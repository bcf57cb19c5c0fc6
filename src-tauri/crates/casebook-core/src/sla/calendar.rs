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
use std::collections::HashMap;

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
            cache: HashMap::new(),
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

/// A validated calendar, ready to measure business time. Keeps the working intervals of the days
/// it has looked at, so measuring many tickets over the same weeks converts each day once.
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
    cache: HashMap<Date, Vec<(Millis, Millis)>>,
}

impl CompiledCalendar {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True when business time equals wall-clock time.
    pub fn is_always(&self) -> bool {
        self.always
    }

    fn local_date(&self, t: Millis) -> Date {
        match Timestamp::from_millisecond(t) {
            Ok(ts) => self.tz.to_datetime(ts).date(),
            Err(_) => Date::MIN,
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

    /// The working intervals of a local date, as UTC instants.
    fn day(&mut self, d: Date) -> &[(Millis, Millis)] {
        if !self.cache.contains_key(&d) {
            let mut v = Vec::new();
            if !self.is_holiday(d) {
                for &(s, e) in &self.week[Day::of(d.weekday()).index()] {
                    let start = self.instant(at_minute(d, s));
                    let end = self.instant(at_minute(d, e));
                    if end > start {
                        v.push((start, end));
                    }
                }
            }
            // A bounded cache: a long-running process measuring across many years starts over.
            if self.cache.len() > 100_000 {
                self.cache.clear();
            }
            self.cache.insert(d, v);
        }
        self.cache.get(&d).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Business time between two instants (0 when `to <= from`).
    pub fn working_between(&mut self, from: Millis, to: Millis) -> Millis {
        if to <= from {
            return 0;
        }
        if self.always {
            return to - from;
        }
        let mut total = 0;
        let mut d = self.local_date(from);
        let last = self.local_date(to);
        loop {
            for &(s, e) in self.day(d) {
                let a = s.max(from);
                let b = e.min(to);
                if b > a {
                    total += b - a;
                }
            }
            if d >= last {
                break;
            }
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        total
    }

    /// The instant at which `amount` of business time has passed after `from`; `None` when the
    /// calendar has no working time in the next ten years.
    pub fn add_working(&mut self, from: Millis, amount: Millis) -> Option<Millis> {
        if self.always {
            return from.checked_add(amount);
        }
        let mut left = amount.max(0);
        let mut d = self.local_date(from);
        for _ in 0..MAX_SEARCH_DAYS {
            for &(s, e) in self.day(d) {
                if e <= from {
                    continue;
                }
                let a = s.max(from);
                if left <= e - a {
                    return Some(a + left);
                }
                left -= e - a;
            }
            d = d.tomorrow().ok()?;
        }
        None
    }
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
