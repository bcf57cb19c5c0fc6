//! Reading records from CSV and JSON, streaming, with line numbers for every problem.

use super::{ImportError, Mapping};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    /// A JSON array of objects, or JSON Lines (one object per line).
    Json,
}

impl Format {
    /// Guesses the format from a file name's extension.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" | "tsv" | "txt" => Some(Format::Csv),
            "json" | "jsonl" | "ndjson" => Some(Format::Json),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct Columns {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Columns {
    /// Builds the column index; a repeated name gets a numeric suffix (`category`, `category_2`).
    fn new(raw: Vec<String>) -> Columns {
        let mut names = Vec::with_capacity(raw.len());
        let mut index = HashMap::new();
        for name in raw {
            let base = name.trim().trim_start_matches('\u{feff}').to_owned();
            let mut unique = base.clone();
            let mut n = 2;
            while index.contains_key(&unique) {
                unique = format!("{base}_{n}");
                n += 1;
            }
            index.insert(unique.clone(), names.len());
            names.push(unique);
        }
        Columns { names, index }
    }
}

/// One input record.
#[derive(Debug)]
pub struct Record {
    /// Line in the file where the record starts (1-based).
    pub line: u64,
    /// 1-based data row number (the header is not counted).
    pub row: u64,
    columns: Rc<Columns>,
    values: Vec<Option<String>>,
}

impl Record {
    pub(crate) fn get(&self, column: &str) -> Result<Option<&str>, String> {
        match self.columns.index.get(column) {
            Some(&i) => Ok(self.values.get(i).and_then(|v| v.as_deref())),
            None => Ok(None),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_pairs(line: u64, row: u64, pairs: Vec<(String, Option<String>)>) -> Record {
        let (names, values): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
        Record {
            line,
            row,
            columns: Rc::new(Columns::new(names)),
            values,
        }
    }
}

pub(crate) enum RecordError {
    /// This record is bad; the next one may be fine.
    Row { line: u64, reason: String },
    /// Nothing more can be read.
    Fatal(String),
}

pub(crate) trait Records {
    fn next_record(&mut self) -> Option<Result<Record, RecordError>>;
    fn bytes_read(&self) -> u64;
    /// The current line, for a fatal error.
    fn line(&self) -> u64;
}

pub(crate) fn records<'a>(
    input: impl Read + 'a,
    format: Format,
    mapping: &Mapping,
) -> Result<Box<dyn Records + 'a>, ImportError> {
    match format {
        Format::Csv => Ok(Box::new(CsvRecords::new(input, mapping)?)),
        Format::Json => Ok(Box::new(JsonRecords::new(input)?)),
    }
}

struct CsvRecords<R: Read> {
    reader: csv::Reader<R>,
    columns: Rc<Columns>,
    record: csv::ByteRecord,
    row: u64,
}

impl<R: Read> CsvRecords<R> {
    fn new(input: R, mapping: &Mapping) -> Result<Self, ImportError> {
        let delimiter = mapping.delimiter.unwrap_or(',');
        if !delimiter.is_ascii() {
            return Err(ImportError::Mapping(format!(
                "the delimiter '{delimiter}' is not ASCII"
            )));
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter as u8)
            .flexible(true)
            .has_headers(true)
            .from_reader(input);
        let header = reader
            .byte_headers()
            .map_err(|e| ImportError::Input(format!("cannot read the CSV header: {e}")))?
            .clone();
        if header.is_empty() {
            return Err(ImportError::Input(
                "the file is empty (no CSV header)".into(),
            ));
        }
        let names = header
            .iter()
            .enumerate()
            .map(|(i, h)| {
                std::str::from_utf8(h).map(str::to_owned).map_err(|_| {
                    ImportError::Input(format!("header column {} is not valid UTF-8", i + 1))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let columns = Columns::new(names);
        check_columns(&columns, mapping)?;
        Ok(CsvRecords {
            reader,
            columns: Rc::new(columns),
            record: csv::ByteRecord::new(),
            row: 0,
        })
    }
}

/// Every column a mapping names must be in the header: a typo fails the import up front instead of
/// importing thousands of tickets with an empty field.
fn check_columns(columns: &Columns, mapping: &Mapping) -> Result<(), ImportError> {
    let mut specs: Vec<&str> = Vec::new();
    let f = &mapping.fields;
    for s in [
        &f.key,
        &f.title,
        &f.description,
        &f.state,
        &f.priority,
        &f.assignee,
        &f.assignment_group,
        &f.requester,
        &f.organization,
        &f.created_at,
        &f.updated_at,
        &f.resolved_at,
        &f.created_by,
    ]
    .into_iter()
    .flatten()
    {
        specs.push(s);
    }
    specs.extend(mapping.tags.iter().map(String::as_str));
    if let Some(h) = &mapping.history {
        specs.push(&h.at);
        if let Some(a) = &h.actor {
            specs.push(a);
        }
    }
    let mut missing: Vec<String> = Vec::new();
    for spec in specs {
        let t = super::template::Template::parse(spec).map_err(ImportError::Mapping)?;
        missing.extend(
            t.columns()
                .filter(|c| !columns.index.contains_key(*c))
                .map(str::to_owned),
        );
    }
    missing.extend(
        mapping
            .extra_columns
            .iter()
            .filter(|c| !columns.index.contains_key(*c))
            .cloned(),
    );
    missing.sort();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    let mut have = columns.names.join(", ");
    if have.len() > 300 {
        have.truncate(300);
        have.push('…');
    }
    Err(ImportError::Mapping(format!(
        "column{} {} not in the file (it has: {have})",
        if missing.len() > 1 { "s" } else { "" },
        missing.join(", ")
    )))
}

impl<R: Read> Records for CsvRecords<R> {
    fn next_record(&mut self) -> Option<Result<Record, RecordError>> {
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Err(e) => {
                let line = e.position().map_or(self.line(), |p| p.line());
                self.row += 1;
                match e.kind() {
                    csv::ErrorKind::Io(_) => {
                        Some(Err(RecordError::Fatal(format!("read error: {e}"))))
                    }
                    _ => Some(Err(RecordError::Row {
                        line,
                        reason: format!("malformed CSV: {e}"),
                    })),
                }
            }
            Ok(true) => {
                self.row += 1;
                let line = self.record.position().map_or(0, csv::Position::line);
                if self.record.len() != self.columns.names.len() {
                    return Some(Err(RecordError::Row {
                        line,
                        reason: format!(
                            "the row has {} fields, the header has {}",
                            self.record.len(),
                            self.columns.names.len()
                        ),
                    }));
                }
                let mut values = Vec::with_capacity(self.record.len());
                for (i, field) in self.record.iter().enumerate() {
                    match std::str::from_utf8(field) {
                        Ok(s) => values.push(Some(s.to_owned())),
                        Err(e) => {
                            return Some(Err(RecordError::Row {
                                line,
                                reason: format!(
                                    "column {} is not valid UTF-8 (bad byte at offset {})",
                                    self.columns.names[i],
                                    e.valid_up_to()
                                ),
                            }));
                        }
                    }
                }
                Some(Ok(Record {
                    line,
                    row: self.row,
                    columns: Rc::clone(&self.columns),
                    values,
                }))
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        self.reader.position().byte()
    }

    fn line(&self) -> u64 {
        self.reader.position().line()
    }
}

/// JSON Lines (streamed line by line) or a JSON array (read element by element; an array cut off
/// half-way still yields the elements before the break).
enum JsonRecords<R: Read> {
    Lines {
        reader: BufReader<R>,
        line: u64,
        row: u64,
        bytes: u64,
        buf: Vec<u8>,
    },
    Array {
        data: Vec<u8>,
        pos: usize,
        row: u64,
        done: bool,
    },
}

impl<R: Read> JsonRecords<R> {
    fn new(input: R) -> Result<Self, ImportError> {
        let mut reader = BufReader::new(input);
        let first = loop {
            let buf = reader
                .fill_buf()
                .map_err(|e| ImportError::Input(e.to_string()))?;
            if buf.is_empty() {
                return Err(ImportError::Input("the file is empty".into()));
            }
            match buf.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => break buf[i],
                None => {
                    let n = buf.len();
                    reader.consume(n);
                }
            }
        };
        if first == b'[' {
            let mut data = Vec::new();
            reader
                .read_to_end(&mut data)
                .map_err(|e| ImportError::Input(e.to_string()))?;
            let start = data.iter().position(|b| *b == b'[').map_or(0, |i| i + 1);
            Ok(JsonRecords::Array {
                data,
                pos: start,
                row: 0,
                done: false,
            })
        } else if first == b'{' {
            Ok(JsonRecords::Lines {
                reader,
                line: 0,
                row: 0,
                bytes: 0,
                buf: Vec::new(),
            })
        } else {
            Err(ImportError::Input(
                "not JSON: expected an array of objects or one object per line".into(),
            ))
        }
    }
}

fn object_record(value: serde_json::Value, line: u64, row: u64) -> Result<Record, RecordError> {
    let serde_json::Value::Object(map) = value else {
        return Err(RecordError::Row {
            line,
            reason: "the record is not a JSON object".into(),
        });
    };
    let mut names = Vec::with_capacity(map.len());
    let mut values = Vec::with_capacity(map.len());
    for (k, v) in map {
        names.push(k);
        values.push(match v {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Array(items) if items.iter().all(|i| i.is_string()) => Some(
                items
                    .iter()
                    .filter_map(|i| i.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            other => Some(other.to_string()),
        });
    }
    Ok(Record {
        line,
        row,
        columns: Rc::new(Columns::new(names)),
        values,
    })
}

impl<R: Read> Records for JsonRecords<R> {
    fn next_record(&mut self) -> Option<Result<Record, RecordError>> {
        match self {
            JsonRecords::Lines {
                reader,
                line,
                row,
                bytes,
                buf,
            } => loop {
                buf.clear();
                match reader.read_until(b'\n', buf) {
                    Ok(0) => return None,
                    Ok(n) => {
                        *line += 1;
                        *bytes += n as u64;
                        if buf.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        *row += 1;
                        let value = match std::str::from_utf8(buf) {
                            Err(_) => {
                                return Some(Err(RecordError::Row {
                                    line: *line,
                                    reason: "the line is not valid UTF-8".into(),
                                }));
                            }
                            Ok(text) => serde_json::from_str::<serde_json::Value>(text),
                        };
                        return Some(match value {
                            Ok(v) => object_record(v, *line, *row),
                            Err(e) => Err(RecordError::Row {
                                line: *line,
                                reason: format!("invalid JSON: {e}"),
                            }),
                        });
                    }
                    Err(e) => return Some(Err(RecordError::Fatal(format!("read error: {e}")))),
                }
            },
            JsonRecords::Array {
                data,
                pos,
                row,
                done,
            } => {
                if *done {
                    return None;
                }
                while *pos < data.len() && (data[*pos].is_ascii_whitespace() || data[*pos] == b',')
                {
                    *pos += 1;
                }
                if *pos >= data.len() {
                    *done = true;
                    return Some(Err(RecordError::Fatal(
                        "the JSON array is cut off (no closing ']'); the records before the break were read"
                            .into(),
                    )));
                }
                if data[*pos] == b']' {
                    *done = true;
                    return None;
                }
                *row += 1;
                let mut stream = serde_json::Deserializer::from_slice(&data[*pos..])
                    .into_iter::<serde_json::Value>();
                match stream.next() {
                    Some(Ok(v)) => {
                        *pos += stream.byte_offset();
                        Some(object_record(v, *row, *row))
                    }
                    Some(Err(e)) => {
                        *done = true;
                        Some(Err(RecordError::Fatal(format!(
                            "invalid JSON in record {}: {e}; the records before it were read",
                            *row
                        ))))
                    }
                    None => {
                        *done = true;
                        None
                    }
                }
            }
        }
    }

    fn bytes_read(&self) -> u64 {
        match self {
            JsonRecords::Lines { bytes, .. } => *bytes,
            JsonRecords::Array { pos, .. } => *pos as u64,
        }
    }

    fn line(&self) -> u64 {
        match self {
            JsonRecords::Lines { line, .. } => *line,
            JsonRecords::Array { row, .. } => *row,
        }
    }
}
