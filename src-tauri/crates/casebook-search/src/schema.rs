//! The tantivy schema and its analyzers. Bump [`SCHEMA_VERSION`] whenever a field, an option or
//! an analyzer changes: an index with another version is rebuilt.

use tantivy::Index;
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer,
};

/// Version of the schema and analyzers; stored in every commit's payload.
pub const SCHEMA_VERSION: u32 = 3;

/// English prose: lower-cased, ASCII-folded, stemmed.
pub const EN: &str = "cb_en";
/// Names and identifiers: lower-cased and folded, never stemmed.
pub const IDENT: &str = "cb_ident";

pub fn en_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(crate::stem::MemoStemmer)
        .build()
}

pub fn ident_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(64))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The fields, resolved once.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub kind: Field,
    pub origin: Field,
    /// FNV-1a of `origin`: results are collapsed per origin by this number, read from a fast
    /// column, instead of by the string (a dictionary lookup per candidate). Version 3.
    pub origin_key: Field,
    pub group: Field,
    pub root: Field,
    pub fp: Field,
    pub title: Field,
    pub headings: Field,
    pub names: Field,
    pub body: Field,
    pub path: Field,
    pub identifiers: Field,
    pub tags: Field,
    pub service: Field,
    pub state: Field,
    pub ticket_id: Field,
    pub url: Field,
    pub anchor: Field,
    pub section: Field,
    pub owner: Field,
    pub html: Field,
    pub updated: Field,
}

pub fn build() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |analyzer: &str, stored: bool| {
        let o = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(analyzer)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored { o.set_stored() } else { o }
    };
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        kind: b.add_text_field("kind", STRING | STORED | FAST),
        origin: b.add_text_field("origin", STRING | STORED | FAST),
        origin_key: b.add_u64_field("origin_key", FAST),
        group: b.add_text_field("group", STRING),
        root: b.add_u64_field("root", INDEXED | FAST),
        fp: b.add_u64_field("fp", FAST | STORED),
        title: b.add_text_field("title", text(EN, true)),
        headings: b.add_text_field("headings", text(EN, true)),
        names: b.add_text_field("names", text(IDENT, false)),
        body: b.add_text_field("body", text(EN, true)),
        path: b.add_text_field("path", STORED),
        identifiers: b.add_text_field("identifiers", STORED),
        tags: b.add_text_field("tags", STRING | STORED),
        service: b.add_text_field("service", STRING | STORED),
        state: b.add_text_field("state", STRING | STORED),
        ticket_id: b.add_i64_field("ticket_id", INDEXED | FAST | STORED),
        url: b.add_text_field("url", STORED),
        anchor: b.add_text_field("anchor", STORED),
        section: b.add_text_field("section", STORED),
        owner: b.add_text_field("owner", STORED),
        html: b.add_text_field("html", STORED),
        updated: b.add_i64_field("updated", STORED | FAST),
    };
    (b.build(), fields)
}

/// Registers the analyzers on an index (needed after every open).
pub fn register(index: &Index) {
    index.tokenizers().register(EN, en_analyzer());
    index.tokenizers().register(IDENT, ident_analyzer());
}

/// Resolves the fields of an opened index; `None` when the schema is not ours.
pub fn fields_of(schema: &Schema) -> Option<Fields> {
    let f = |n: &str| schema.get_field(n).ok();
    Some(Fields {
        id: f("id")?,
        kind: f("kind")?,
        origin: f("origin")?,
        origin_key: f("origin_key")?,
        group: f("group")?,
        root: f("root")?,
        fp: f("fp")?,
        title: f("title")?,
        headings: f("headings")?,
        names: f("names")?,
        body: f("body")?,
        path: f("path")?,
        identifiers: f("identifiers")?,
        tags: f("tags")?,
        service: f("service")?,
        state: f("state")?,
        ticket_id: f("ticket_id")?,
        url: f("url")?,
        anchor: f("anchor")?,
        section: f("section")?,
        owner: f("owner")?,
        html: f("html")?,
        updated: f("updated")?,
    })
}

/// The group an origin belongs to (what is deleted together when a folder is removed).
pub fn group_of(origin: &str) -> String {
    let mut it = origin.splitn(3, ':');
    match (it.next(), it.next()) {
        (Some("file"), Some(source)) => format!("folder:{source}"),
        (Some("ticket"), _) => "tickets".into(),
        (Some("article"), Some(conn)) => format!("articles:{conn}"),
        _ => "other".into(),
    }
}

/// Analyzes text into its terms with an analyzer.
pub fn analyze(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut ts = analyzer.token_stream(text);
    while ts.advance() {
        out.push(ts.token().text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_follow_origins() {
        assert_eq!(group_of("file:3:a/b.md"), "folder:3");
        assert_eq!(group_of("ticket:42"), "tickets");
        assert_eq!(group_of("article:sn:KB1"), "articles:sn");
    }

    #[test]
    fn analyzers_stem_prose_but_not_names() {
        assert_eq!(
            analyze(&mut en_analyzer(), "Pods crashing"),
            vec!["pod", "crash"]
        );
        assert_eq!(
            analyze(&mut ident_analyzer(), "KubePodCrashLooping"),
            vec!["kubepodcrashlooping"]
        );
        let (schema, _) = build();
        assert!(fields_of(&schema).is_some());
    }
}
