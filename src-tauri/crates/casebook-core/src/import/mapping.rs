//! The column mapping: which column (or template over columns) fills each ticket field.

use super::ImportError;
use crate::model::{Millis, Priority, TicketState};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// Ticket fields and the template that fills each. A template is a column name (`"number"`) or
/// text with `{column}` placeholders (`"INC{number}"`); `{_row}` is the 1-based data row number.
/// Filters: `{col|words:N}` (first N words), `{col|chars:N}`, `{col|or:TEXT}` (TEXT when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct FieldMapping {
    pub key: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub state: Option<String>,
    pub priority: Option<String>,
    pub assignee: Option<String>,
    pub assignment_group: Option<String>,
    pub requester: Option<String>,
    pub organization: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub resolved_at: Option<String>,
    /// Who opened the ticket (the actor of its `created` history entry).
    pub created_by: Option<String>,
}

/// Present when each row is one *version* of a ticket (an audit-log export): rows with the same
/// key, adjacent in the file, become one ticket whose history lists every change between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryMapping {
    /// When the row's version was recorded.
    pub at: String,
    /// Who made the change.
    #[serde(default)]
    pub actor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Mapping {
    pub fields: FieldMapping,
    /// Templates whose values become tags (split on `,` and `;`).
    pub tags: Vec<String>,
    pub history: Option<HistoryMapping>,
    /// Columns kept verbatim in the ticket's upstream-fields bag.
    pub extra_columns: Vec<String>,
    /// strftime formats tried in order after RFC 3339 and Unix epoch seconds/milliseconds.
    pub date_formats: Vec<String>,
    /// IANA zone for dates without an offset; default UTC.
    pub time_zone: Option<String>,
    /// Values that mean "no value" besides the empty string (for example `?` or `NULL`).
    pub null_values: Vec<String>,
    pub default_state: Option<TicketState>,
    pub default_priority: Option<Priority>,
    /// CSV field delimiter; default `,`.
    pub delimiter: Option<char>,
}

impl Mapping {
    /// Parses a mapping file (JSON).
    pub fn from_json(text: &str) -> Result<Mapping, ImportError> {
        serde_json::from_str(text).map_err(|e| ImportError::Mapping(e.to_string()))
    }
}

/// Built-in mappings for the corpora Casebook ships samples of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// The UCI "Incident management process enriched event log" (a ServiceNow audit export, one
    /// row per incident update).
    UciServicenow,
    /// The Endava help-desk ticket texts (`Document,Topic_group`).
    EndavaHelpdesk,
}

impl Preset {
    pub const NAMES: &'static [&'static str] = &["uci-servicenow", "endava-helpdesk"];

    pub fn from_name(name: &str) -> Option<Preset> {
        match name {
            "uci-servicenow" => Some(Preset::UciServicenow),
            "endava-helpdesk" => Some(Preset::EndavaHelpdesk),
            _ => None,
        }
    }

    pub fn mapping(self) -> Mapping {
        let s = |v: &str| Some(v.to_owned());
        match self {
            Preset::UciServicenow => Mapping {
                fields: FieldMapping {
                    key: s("INC{number}"),
                    title: s(
                        "Category {category|or:unknown} · subcategory {category_2|or:unknown} · symptom {u_symptom|or:unknown}",
                    ),
                    description: s(
                        "Reported by Caller {caller_id|or:unknown} via {contact_type|or:unknown channel}, \
                         location {location|or:unknown}.\n\n\
                         Impact {impact|or:unknown}, urgency {urgency|or:unknown}. \
                         Configuration item: {cmdb_ci|or:none}. \
                         Reassigned {reassignment_count|or:0} times, reopened {reopen_count|or:0} times.",
                    ),
                    state: s("{ident_state}"),
                    priority: s("{priority}"),
                    assignee: s("Resolver {assigned_to}"),
                    assignment_group: s("Group {assignment_group}"),
                    requester: s("Caller {caller_id}"),
                    organization: None,
                    created_at: s("{opened_at}"),
                    updated_at: s("{sys_updated_at}"),
                    resolved_at: s("{resolved_at}"),
                    created_by: s("Agent {opened_by}"),
                },
                tags: vec!["{contact_type}".into()],
                history: Some(HistoryMapping {
                    at: "{sys_updated_at}".into(),
                    actor: s("Agent {sys_updated_by}"),
                }),
                extra_columns: [
                    "active",
                    "reassignment_count",
                    "reopen_count",
                    "sys_mod_count",
                    "made_sla",
                    "contact_type",
                    "location",
                    "category",
                    "category_2",
                    "u_symptom",
                    "cmdb_ci",
                    "impact",
                    "urgency",
                    "knowledge",
                    "u_priority_confirmation",
                    "notify",
                    "problem_id",
                    "rfc",
                    "vendor",
                    "caused_by",
                    "closed_code",
                    "resolved_by",
                    "closed_at",
                ]
                .map(String::from)
                .to_vec(),
                date_formats: vec!["%d/%m/%Y %H:%M".into()],
                time_zone: None,
                null_values: vec!["?".into()],
                default_state: None,
                default_priority: None,
                delimiter: None,
            },
            Preset::EndavaHelpdesk => Mapping {
                fields: FieldMapping {
                    key: s("HD-{_row}"),
                    // A ticket without text is kept, titled as such, rather than rejected.
                    title: s("{Document|words:10|or:(no text)}"),
                    description: s("{Document}"),
                    ..FieldMapping::default()
                },
                tags: vec!["{Topic_group}".into()],
                ..Mapping::default()
            },
        }
    }
}

/// Parses the date strings of one import.
pub(crate) struct DateParser {
    formats: Vec<String>,
    tz: TimeZone,
}

impl DateParser {
    pub(crate) fn new(formats: &[String], zone: Option<&str>) -> Result<DateParser, ImportError> {
        let tz = match zone {
            None => TimeZone::UTC,
            Some(z) if z.eq_ignore_ascii_case("utc") => TimeZone::UTC,
            Some(z) => TimeZone::get(z)
                .map_err(|e| ImportError::Mapping(format!("unknown time zone '{z}': {e}")))?,
        };
        Ok(DateParser {
            formats: formats.to_vec(),
            tz,
        })
    }

    /// RFC 3339 (with offset), Unix seconds (10 digits) or milliseconds (13 digits), then each
    /// configured format in the mapping's zone. Anything else is an error, never a guess.
    pub(crate) fn parse(&self, s: &str) -> Result<Millis, String> {
        let s = s.trim();
        if let Ok(ts) = s.parse::<jiff::Timestamp>() {
            return Ok(ts.as_millisecond());
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.len() {
                10 => s
                    .parse::<i64>()
                    .map(|v| v * 1000)
                    .map_err(|e| e.to_string()),
                13 => s.parse::<i64>().map_err(|e| e.to_string()),
                _ => Err(format!(
                    "'{s}' is a number but not Unix seconds or milliseconds"
                )),
            };
        }
        for f in &self.formats {
            let parsed = jiff::fmt::strtime::parse(f, s)
                .and_then(|tm| tm.to_datetime())
                .and_then(|dt| dt.to_zoned(self.tz.clone()));
            if let Ok(z) = parsed {
                return Ok(z.timestamp().as_millisecond());
            }
        }
        let expected = if self.formats.is_empty() {
            "RFC 3339 or Unix time".to_owned()
        } else {
            format!("RFC 3339, Unix time or {}", self.formats.join(", "))
        };
        Err(format!(
            "'{}' is not a date ({expected})",
            super::truncate(s, 40)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_in_every_accepted_form_and_never_guess() {
        let p = DateParser::new(&["%d/%m/%Y %H:%M".into()], None).unwrap();
        let want = jiff::Timestamp::from_second(1_456_708_560)
            .unwrap()
            .as_millisecond(); // 2016-02-29 01:16Z
        assert_eq!(p.parse("29/2/2016 01:16").unwrap(), want);
        assert_eq!(p.parse("29/02/2016 01:16").unwrap(), want);
        assert_eq!(p.parse("2016-02-29T01:16:00Z").unwrap(), want);
        assert_eq!(p.parse("2016-02-29T02:16:00+01:00").unwrap(), want);
        assert_eq!(p.parse("1456708560").unwrap(), want);
        assert_eq!(p.parse("1456708560000").unwrap(), want);
        assert!(
            p.parse("2/29/2016 01:16").is_err(),
            "month 29 is not guessed into a US date"
        );
        assert!(p.parse("yesterday").unwrap_err().contains("not a date"));
        assert!(p.parse("12345").is_err());
    }

    #[test]
    fn a_named_zone_shifts_local_times() {
        let p = DateParser::new(&["%Y-%m-%d %H:%M".into()], Some("Europe/Berlin")).unwrap();
        let utc = DateParser::new(&["%Y-%m-%d %H:%M".into()], None).unwrap();
        let a = p.parse("2024-07-01 12:00").unwrap();
        let b = utc.parse("2024-07-01 12:00").unwrap();
        assert_eq!(b - a, 2 * 3600 * 1000, "CEST is UTC+2");
        assert!(DateParser::new(&[], Some("Mars/Olympus")).is_err());
    }

    #[test]
    fn mapping_files_reject_unknown_keys() {
        let err = Mapping::from_json(r#"{"fields": {"key": "id", "titel": "x"}}"#).unwrap_err();
        assert!(err.to_string().contains("titel"), "{err}");
        let ok = Mapping::from_json(
            r#"{"fields": {"key": "id", "title": "subject"}, "tags": ["{queue}"], "nullValues": ["NULL"]}"#,
        )
        .unwrap();
        assert_eq!(ok.fields.title.as_deref(), Some("subject"));
    }
}
