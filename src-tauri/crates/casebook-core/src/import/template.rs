//! Field templates: `"number"`, `"INC{number}"`, `"{Document|words:10}"`, `"{u_symptom|or:unknown}"`.

use super::read::Record;

#[derive(Debug, Clone, PartialEq)]
enum Filter {
    Words(usize),
    Chars(usize),
    Or(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Column { name: String, filters: Vec<Filter> },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    parts: Vec<Part>,
}

/// A record seen through the mapping's idea of "no value".
pub(crate) struct Row<'a> {
    pub record: &'a Record,
    pub null_values: &'a [String],
}

impl Row<'_> {
    /// The column's value; `None` when it is empty or one of the null values. A column the record
    /// does not have is also `None` (JSON objects may omit keys).
    pub fn get(&self, column: &str) -> Result<Option<String>, String> {
        if column == "_row" {
            return Ok(Some(self.record.row.to_string()));
        }
        let v = self.record.get(column)?;
        Ok(v.map(str::trim)
            .filter(|v| !v.is_empty() && !self.null_values.iter().any(|n| n == v))
            .map(str::to_owned))
    }
}

impl Template {
    pub(crate) fn parse(spec: &str) -> Result<Template, String> {
        if !spec.contains('{') {
            if spec.contains('}') {
                return Err(format!("unbalanced '}}' in '{spec}'"));
            }
            return Ok(Template {
                parts: vec![Part::Column {
                    name: spec.trim().to_owned(),
                    filters: Vec::new(),
                }],
            });
        }
        let mut parts = Vec::new();
        let mut rest = spec;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("unclosed '{{' in '{spec}'"))?;
            let inner = &after[..close];
            let mut pieces = inner.split('|');
            let name = pieces.next().unwrap_or("").trim();
            if name.is_empty() {
                return Err(format!("empty placeholder in '{spec}'"));
            }
            let filters = pieces.map(parse_filter).collect::<Result<Vec<_>, _>>()?;
            parts.push(Part::Column {
                name: name.to_owned(),
                filters,
            });
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(format!("unbalanced '}}' in '{spec}'"));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// The columns the template reads (for checking a CSV header up front).
    pub(crate) fn columns(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Column { name, .. } if name != "_row" => Some(name.as_str()),
            _ => None,
        })
    }

    /// Renders the template. `None` when a placeholder has no value and no `or:` default: a field
    /// built from a missing value is missing, not half-filled.
    pub(crate) fn render(&self, row: &Row<'_>) -> Result<Option<String>, String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Column { name, filters } => {
                    let mut v = row.get(name)?;
                    for f in filters {
                        v = apply(f, v);
                    }
                    match v {
                        Some(v) => out.push_str(&v),
                        None => return Ok(None),
                    }
                }
            }
        }
        let trimmed = out.trim();
        Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
    }
}

fn parse_filter(f: &str) -> Result<Filter, String> {
    let (name, arg) = f.split_once(':').unwrap_or((f, ""));
    let num = || {
        arg.trim()
            .parse::<usize>()
            .map_err(|_| format!("filter '{f}' needs a number"))
    };
    match name.trim() {
        "words" => Ok(Filter::Words(num()?)),
        "chars" => Ok(Filter::Chars(num()?)),
        "or" => Ok(Filter::Or(arg.to_owned())),
        other => Err(format!(
            "unknown filter '{other}' (known: words, chars, or)"
        )),
    }
}

fn apply(f: &Filter, v: Option<String>) -> Option<String> {
    match (f, v) {
        (Filter::Or(d), None) => Some(d.clone()),
        (Filter::Words(n), Some(v)) => {
            Some(v.split_whitespace().take(*n).collect::<Vec<_>>().join(" "))
        }
        (Filter::Chars(n), Some(v)) => Some(v.chars().take(*n).collect()),
        (_, v) => v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::read::Record;

    fn rec(pairs: &[(&str, &str)]) -> Record {
        Record::from_pairs(
            7,
            3,
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), Some(v.to_string())))
                .collect(),
        )
    }

    fn render(spec: &str, r: &Record) -> Option<String> {
        let nulls = vec!["?".to_owned()];
        Template::parse(spec)
            .unwrap()
            .render(&Row {
                record: r,
                null_values: &nulls,
            })
            .unwrap()
    }

    #[test]
    fn templates_fill_columns_filters_and_row_numbers() {
        let r = rec(&[
            ("number", "0000045"),
            ("doc", "one two three four"),
            ("sym", "?"),
            ("x", " "),
        ]);
        assert_eq!(render("number", &r).as_deref(), Some("0000045"));
        assert_eq!(render("INC{number}", &r).as_deref(), Some("INC0000045"));
        assert_eq!(render("{doc|words:2}", &r).as_deref(), Some("one two"));
        assert_eq!(render("{doc|chars:5}", &r).as_deref(), Some("one t"));
        assert_eq!(
            render("s={sym}", &r),
            None,
            "a null placeholder empties the field"
        );
        assert_eq!(render("s={sym|or:n/a}", &r).as_deref(), Some("s=n/a"));
        assert_eq!(render("{x}", &r), None);
        assert_eq!(render("HD-{_row}", &r).as_deref(), Some("HD-3"));
    }

    #[test]
    fn malformed_templates_are_refused() {
        for bad in ["{", "a}b", "{}", "{x|words:z}", "{x|shout}", "{a}}"] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        let t = Template::parse("{a} and {b|or:x} {_row}").unwrap();
        assert_eq!(t.columns().collect::<Vec<_>>(), ["a", "b"]);
    }
}
