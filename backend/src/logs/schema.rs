//! The tantivy schema of a log partition, its tokenizers, and how a
//! record becomes a document.
//!
//! | field     | indexed as                         | why                                  |
//! |-----------|------------------------------------|--------------------------------------|
//! | `ts`      | i64 nanos, fast only               | time ranges, newest-first order      |
//! | `seq`     | u64, fast only                     | a line's id; ties between equal times|
//! | `level`   | u64 0 (trace) to 5 (fatal), fast   | `level:error`, `level:>=warn`, histogram split |
//! | `service`, `host` | exact text, fast           | filters, top values, context         |
//! | `source`, `flag`  | exact text                 | `source:syslog`, `flag:parse_error`  |
//! | `message` | words, lowercased, with positions  | full text and phrases                |
//! | `fields`  | JSON: text lowercased whole, numbers as numbers | `user:ann`, `http.status:>=500` |
//! | `words`   | words of field values other than ids, no positions | bare terms also find field values |
//! | `raw`     | stored only                        | a line as received ([`RawLog`]), binary form: lines that are not UTF-8, and every line of partitions from before `line` |
//! | `line`    | stored only                        | a line as received, text form        |
//!
//! A field value that is an id (a UUID, a trace id: see
//! [`super::tokenizer::is_id`]) is indexed once, whole under its path in
//! `fields`: a bare id is looked up under every path a segment has
//! ([`crate::logs::search::any_path`]). Copied into `words` too, each
//! unique id cost two terms. Other one-word values (`GET`, a user name)
//! are still copied: few distinct ones, and a lookup under every path
//! for every bare word would cost each search a seek per path and
//! segment.
//!
//! Only `line` or `raw` is stored, one of them per document: a result is
//! rebuilt by normalizing it again, so the document store holds the
//! sender's bytes once, zstd-compressed. `line` comes last, so the fields
//! before it have the same ids in a partition written before it existed.

use partout_protocols::jsonlog::{FieldValue, Level};
use tantivy::schema::document::{ReferenceValue, ReferenceValueLeaf, Value};
use tantivy::schema::{
    Field, IndexRecordOption, JsonObjectOptions, NumericOptions, Schema, TextFieldIndexing,
    TextOptions, STORED,
};
use tantivy::tokenizer::{LowerCaser, RawTokenizer, RemoveLongFilter, TextAnalyzer};
use tantivy::{Index, TantivyDocument};

use super::raw::RawLog;
use super::record::LogRecord;
use super::tokenizer::{is_id, WordTokenizer};
use crate::varint::Reader;

/// Exact values, case-insensitive: field filters compare whole values.
pub const EXACT_TOKENIZER: &str = "partout_exact";
/// Words: runs of letters and digits (a UUID whole), lowercased.
pub const WORDS_TOKENIZER: &str = "partout_words";
/// Longest exact value indexed.
const MAX_EXACT: usize = 256;

/// Handles on the schema's fields.
#[derive(Clone)]
pub struct LogSchema {
    pub schema: Schema,
    pub ts: Field,
    pub seq: Field,
    pub level: Field,
    pub service: Field,
    pub host: Field,
    pub source: Field,
    pub flag: Field,
    pub message: Field,
    pub fields: Field,
    pub words: Field,
    pub raw: Field,
    pub line: Field,
}

impl LogSchema {
    pub fn new() -> LogSchema {
        let mut builder = Schema::builder();
        // Time and sequence are unique per line: indexing their terms
        // would grow every term dictionary by a line's worth, and their
        // ranges (the only way they are queried) read the fast columns.
        let column = NumericOptions::default().set_fast();
        let ts = builder.add_i64_field("ts", column.clone());
        let seq = builder.add_u64_field("seq", column);
        let level =
            builder.add_u64_field("level", NumericOptions::default().set_indexed().set_fast());
        // Exact values need no norms (nothing is scored): a byte per line
        // and field saved.
        let exact = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_fieldnorms(false)
                .set_index_option(IndexRecordOption::Basic),
        );
        let service = builder.add_text_field("service", exact.clone().set_fast("raw"));
        let host = builder.add_text_field("host", exact.clone().set_fast("raw"));
        let source = builder.add_text_field("source", exact.clone());
        let flag = builder.add_text_field("flag", exact);
        let message = builder.add_text_field(
            "message",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(WORDS_TOKENIZER)
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            ),
        );
        let fields = builder.add_json_field(
            "fields",
            JsonObjectOptions::default()
                .set_expand_dots_enabled()
                .set_indexing_options(
                    TextFieldIndexing::default()
                        .set_tokenizer(EXACT_TOKENIZER)
                        .set_fieldnorms(false)
                        .set_index_option(IndexRecordOption::Basic),
                ),
        );
        let words = builder.add_text_field(
            "words",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(WORDS_TOKENIZER)
                    .set_fieldnorms(false)
                    .set_index_option(IndexRecordOption::Basic),
            ),
        );
        let raw = builder.add_bytes_field("raw", STORED);
        let line = builder.add_text_field("line", STORED);
        LogSchema {
            schema: builder.build(),
            ts,
            seq,
            level,
            service,
            host,
            source,
            flag,
            message,
            fields,
            words,
            raw,
            line,
        }
    }

    /// The document of one line, stored as `stored` says.
    pub fn document(&self, seq: u64, record: &LogRecord, stored: StoredLine) -> TantivyDocument {
        self.document_of_parts(seq, record, stored, DocumentParts::ALL)
    }

    /// The document of one line with only `parts` of it: partout indexes
    /// [`DocumentParts::ALL`]; `partout-loadgen logs-index` leaves parts
    /// out to measure what each one costs.
    pub fn document_of_parts(
        &self,
        seq: u64,
        record: &LogRecord,
        stored: StoredLine,
        parts: DocumentParts,
    ) -> TantivyDocument {
        // The document holds the raw line and, about as large again, the
        // message and field values: sized once instead of grown several
        // times (regrowing it took about 8% of the log writer's time).
        let stored_len = match &stored {
            StoredLine::Text(text) => text.len(),
            StoredLine::Binary(bytes) => bytes.len(),
        };
        let mut doc = TantivyDocument::with_capacity(2 * stored_len + 256);
        doc.add_i64(self.ts, record.timestamp_nanos);
        doc.add_u64(self.seq, seq);
        if let Some(level) = record.level {
            doc.add_u64(self.level, level_code(level));
        }
        if let Some(service) = &record.service {
            doc.add_text(self.service, service);
        }
        if let Some(host) = &record.host {
            doc.add_text(self.host, host);
        }
        doc.add_text(self.source, record.source.as_str());
        for flag in record.flags.names() {
            doc.add_text(self.flag, flag);
        }
        if parts.message {
            doc.add_text(self.message, &record.message);
        }
        if !record.fields.is_empty() && parts.words {
            let mut words = String::new();
            for (_, value) in &record.fields {
                // An id is found by a bare term under its path
                // (`search::any_path`); other values add their words.
                if let FieldValue::Text(text) | FieldValue::Json(text) = value {
                    if !is_id(text) {
                        words.push_str(text);
                        words.push(' ');
                    }
                }
            }
            if !words.is_empty() {
                doc.add_text(self.words, words);
            }
        }
        if !record.fields.is_empty() && parts.fields {
            doc.add_field_value(self.fields, FieldsValue::Object(&record.fields));
        }
        if !parts.stored {
            return doc;
        }
        match stored {
            StoredLine::Text(text) => doc.add_text(self.line, text),
            StoredLine::Binary(bytes) => doc.add_bytes(self.raw, &bytes),
        }
        doc
    }

    /// Whether a partition whose index has `schema` stores lines in the
    /// text form: one written since `line` exists (as this field).
    pub fn stores_text(&self, schema: &Schema) -> bool {
        schema.get_field("line").ok() == Some(self.line)
    }

    /// How `raw` is stored: in the text form where the partition
    /// [stores text](LogSchema::stores_text) and the line is UTF-8.
    pub fn stored_line(&self, raw: &RawLog, stores_text: bool) -> StoredLine {
        if stores_text {
            if let Some(text) = raw.encode_text() {
                return StoredLine::Text(text);
            }
        }
        let mut encoded = Vec::with_capacity(raw.bytes.len() + 32);
        raw.encode(&mut encoded);
        StoredLine::Binary(encoded)
    }

    /// A stored line read back; `None` when the document holds none that
    /// decodes.
    pub fn stored_raw(&self, document: &TantivyDocument) -> Option<RawLog> {
        if let Some(text) = document
            .get_first(self.line)
            .and_then(|value| value.as_str())
        {
            return RawLog::decode_text(text);
        }
        let bytes = document.get_first(self.raw)?.as_bytes()?;
        RawLog::decode(&mut Reader::new(bytes))
    }
}

/// A line as its document stores it.
pub enum StoredLine {
    Text(String),
    Binary(Vec<u8>),
}

impl Default for LogSchema {
    fn default() -> LogSchema {
        LogSchema::new()
    }
}

/// A record's fields as the JSON object tantivy indexes, read in place:
/// building a map of owned values first copied every name and value of
/// every line once more (a tenth of the log writer's time).
#[derive(Debug, Clone, Copy)]
enum FieldsValue<'a> {
    /// The whole object: names are unique ([`LogRecord::fields`]).
    Object(&'a [(String, FieldValue)]),
    Leaf(&'a FieldValue),
}

/// Which parts of a line's document are added, besides its time,
/// sequence, level, service, host, source and flags (always added).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentParts {
    /// The message's words, with positions.
    pub message: bool,
    /// The structured fields, under their paths.
    pub fields: bool,
    /// The words of field values other than ids.
    pub words: bool,
    /// The line as received, in the document store.
    pub stored: bool,
}

impl DocumentParts {
    pub const ALL: DocumentParts = DocumentParts {
        message: true,
        fields: true,
        words: true,
        stored: true,
    };
}

/// The (name, value) pairs of [`FieldsValue::Object`].
#[derive(Debug, Clone)]
struct FieldsIter<'a>(std::slice::Iter<'a, (String, FieldValue)>);

impl<'a> Iterator for FieldsIter<'a> {
    type Item = (&'a str, FieldsValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let (name, value) = self.0.next()?;
        Some((name.as_str(), FieldsValue::Leaf(value)))
    }
}

impl<'a> Value<'a> for FieldsValue<'a> {
    type ArrayIter = std::iter::Empty<FieldsValue<'a>>;
    type ObjectIter = FieldsIter<'a>;

    fn as_value(&self) -> ReferenceValue<'a, Self> {
        match *self {
            FieldsValue::Object(fields) => ReferenceValue::Object(FieldsIter(fields.iter())),
            FieldsValue::Leaf(value) => ReferenceValue::Leaf(match value {
                FieldValue::Null => ReferenceValueLeaf::Null,
                FieldValue::Bool(flag) => ReferenceValueLeaf::Bool(*flag),
                FieldValue::Integer(number) => ReferenceValueLeaf::I64(*number),
                FieldValue::Unsigned(number) => ReferenceValueLeaf::U64(*number),
                FieldValue::Float(number) => ReferenceValueLeaf::F64(*number),
                FieldValue::Text(text) | FieldValue::Json(text) => {
                    ReferenceValueLeaf::Str(text.as_str())
                }
            }),
        }
    }
}

/// The indexed code of a level: ordered, so `level:>=warn` is a range.
pub fn level_code(level: Level) -> u64 {
    match level {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warn => 3,
        Level::Error => 4,
        Level::Fatal => 5,
    }
}

/// Every level, in code order.
pub const LEVELS: [Level; 6] = [
    Level::Trace,
    Level::Debug,
    Level::Info,
    Level::Warn,
    Level::Error,
    Level::Fatal,
];

/// Registers the tokenizers the schema names; every opened index needs it.
pub fn register_tokenizers(index: &Index) {
    index.tokenizers().register(
        EXACT_TOKENIZER,
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(RemoveLongFilter::limit(MAX_EXACT))
            .filter(LowerCaser)
            .build(),
    );
    index
        .tokenizers()
        .register(WORDS_TOKENIZER, words_analyzer());
}

fn words_analyzer() -> TextAnalyzer {
    // Lowercases and skips long words itself.
    TextAnalyzer::from(WordTokenizer::default())
}

/// The words of `text` as the index cut them.
pub fn words(text: &str) -> Vec<String> {
    let mut analyzer = words_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while let Some(token) = stream.next() {
        out.push(token.text.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use partout_protocols::jsonlog::FieldValue;
    use tantivy::schema::Value as _;

    use super::{DocumentParts, LogSchema};
    use crate::logs::raw::Source;
    use crate::logs::record::{LogRecord, RecordFlags};

    fn record() -> LogRecord {
        let text = |value: &str| FieldValue::Text(value.to_owned());
        LogRecord {
            timestamp_nanos: 1,
            received_nanos: 1,
            level: None,
            service: None,
            host: None,
            message: "done".to_owned(),
            fields: vec![
                (
                    "id".to_owned(),
                    text("86c2ae29-56e5-4395-806e-18ba0f2f53e2"),
                ),
                ("trace".to_owned(), text("4BF92F3577B34DA6A3CE929D0E0E4736")),
                ("method".to_owned(), text("GET")),
                ("path".to_owned(), text("/pay/now")),
                ("error".to_owned(), text("reset by peer")),
                ("tags".to_owned(), FieldValue::Json("[\"a\"]".to_owned())),
                ("status".to_owned(), FieldValue::Integer(200)),
            ],
            source: Source::JsonLine,
            flags: RecordFlags::default(),
            exception: None,
        }
    }

    #[test]
    fn ids_are_not_copied_among_the_words() {
        let schema = LogSchema::new();
        let doc = schema.document(7, &record(), super::StoredLine::Binary(b"{}".to_vec()));
        let words: Vec<&str> = doc
            .get_all(schema.words)
            .filter_map(|value| value.as_str())
            .collect();
        assert_eq!(words, ["GET /pay/now reset by peer [\"a\"] "]);
    }

    #[test]
    fn a_part_left_out_leaves_out_its_fields_only() {
        let schema = LogSchema::new();
        let stored = || super::StoredLine::Text("{}".to_owned());
        let fields_of = |doc: &tantivy::TantivyDocument| -> Vec<tantivy::schema::Field> {
            let mut fields: Vec<_> = doc.field_values().map(|(field, _)| field).collect();
            fields.dedup();
            fields
        };
        let all = fields_of(&schema.document(7, &record(), stored()));
        assert_eq!(
            all,
            fields_of(&schema.document_of_parts(7, &record(), stored(), DocumentParts::ALL))
        );
        let parts = [
            (
                schema.message,
                DocumentParts {
                    message: false,
                    ..DocumentParts::ALL
                },
            ),
            (
                schema.fields,
                DocumentParts {
                    fields: false,
                    ..DocumentParts::ALL
                },
            ),
            (
                schema.words,
                DocumentParts {
                    words: false,
                    ..DocumentParts::ALL
                },
            ),
            (
                schema.line,
                DocumentParts {
                    stored: false,
                    ..DocumentParts::ALL
                },
            ),
        ];
        for (left_out, parts) in parts {
            assert!(all.contains(&left_out));
            let expected: Vec<_> = all
                .iter()
                .copied()
                .filter(|field| *field != left_out)
                .collect();
            let doc = schema.document_of_parts(7, &record(), stored(), parts);
            assert_eq!(fields_of(&doc), expected, "{parts:?}");
        }
    }
}
