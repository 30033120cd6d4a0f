//! The one CSV reader every import uses, so every file a person saves from a spreadsheet
//! is checked, numbered and refused the same way.
//!
//! What it does for every import:
//! - The header row: column names are trimmed and read in any case and any order; a
//!   missing, unknown or repeated column refuses the file before any row is read.
//! - Line numbers are the lines an editor shows: a row's number is the line it starts on,
//!   counted through cells that hold line breaks.
//! - A cell that is not UTF-8 text is refused by its column's name; a header that is not
//!   UTF-8 (or a UTF-16 file) refuses the file; a UTF-8 byte order mark is skipped.
//! - A quote that is never closed would swallow the rest of the file into one cell; it is
//!   refused at the row where it opened instead.
//! - Size is capped ([`Limits`]): the whole file, the rows, and one row, so memory stays
//!   bounded whatever the file holds.
//!
//! An import runs [`check`] over the whole file first, so a file refused whole writes
//! nothing, then reads it again with [`CsvReader`] row by row. Pure: it reads from the
//! [`Read`] it is given.

use std::collections::VecDeque;
use std::io::{self, Read};

use tenure_domain::name::quoted;

/// How large a file may be. The caps bound memory and time, not the size of a real
/// organisation: a row is a line or two, and a million of them is more than any batch
/// job of ours sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes in the file.
    pub bytes: u64,
    /// The most rows below the header.
    pub rows: u64,
    /// The most bytes in one row (the header included).
    pub row_bytes: u64,
}

impl Limits {
    /// The caps every import uses: 100 MiB, a million rows, 64 KiB a row.
    pub const DEFAULT: Self =
        Self { bytes: 100 * 1024 * 1024, rows: 1_000_000, row_bytes: 64 * 1024 };
}

/// The columns an import takes, in the order an export writes them.
#[derive(Clone, Copy, Debug)]
pub struct Columns<'a> {
    /// Each column, required or optional.
    pub columns: &'a [Column<'a>],
}

/// One column an import takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column<'a> {
    /// Its name (lower case).
    pub name: &'a str,
    /// Whether the header must name it; a row reads an optional column the file left out
    /// as empty.
    pub required: bool,
}

impl<'a> Column<'a> {
    /// A column the header must name.
    pub const fn required(name: &'a str) -> Self {
        Self { name, required: true }
    }

    /// A column the header may name.
    pub const fn optional(name: &'a str) -> Self {
        Self { name, required: false }
    }
}

impl<'a> Columns<'a> {
    /// The names, in order (an export's header).
    pub fn names(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.columns.iter().map(|c| c.name)
    }

    /// The names of the columns the header must name, in order.
    pub fn required(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.columns.iter().filter(|c| c.required).map(|c| c.name)
    }

    /// The names of the columns the header may name, in order.
    pub fn optional(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.columns.iter().filter(|c| !c.required).map(|c| c.name)
    }
}

/// Why a file is refused whole (or, read without [`check`], why reading stops).
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// No rows at all.
    #[error("the file is empty; its first row must name the columns {expected}")]
    Empty {
        /// The columns, as [`Columns`] says.
        expected: String,
    },
    /// The header row is not UTF-8 (a UTF-16 file, or a legacy code page).
    #[error("the header row is not UTF-8 text; save the file as CSV UTF-8")]
    HeaderNotUtf8 {
        /// The line the header starts on.
        line: u64,
    },
    /// The header names a column twice.
    #[error("column `{}` appears twice", quoted(column))]
    DuplicateColumn {
        /// The line the header starts on.
        line: u64,
        /// The column, lower case.
        column: String,
    },
    /// The header leaves out a required column or names one the import does not take.
    #[error("the header row must name the columns {expected}; {}", problems(unknown, missing))]
    WrongColumns {
        /// The line the header starts on.
        line: u64,
        /// The columns, as [`Columns`] says.
        expected: String,
        /// Columns named that the import does not take, lower case.
        unknown: Vec<String>,
        /// Required columns not named.
        missing: Vec<String>,
    },
    /// A quote opens a cell and the file ends before it closes.
    #[error(
        "a quote opened in this row is never closed, so the rest of the file reads as one cell; \
         close it (a quote inside a cell is written twice: \"\")"
    )]
    UnclosedQuote {
        /// The line the row starts on.
        line: u64,
    },
    /// More bytes than [`Limits::bytes`].
    #[error("the file is larger than {}; split it into smaller files", size(*limit))]
    TooLarge {
        /// The line being read when the cap was reached.
        line: u64,
        /// The cap in bytes.
        limit: u64,
    },
    /// More rows than [`Limits::rows`].
    #[error("the file has more than {limit} rows; split it into smaller files")]
    TooManyRows {
        /// The first row over the cap.
        line: u64,
        /// The cap.
        limit: u64,
    },
    /// A row longer than [`Limits::row_bytes`].
    #[error("this row is longer than {}", size(*limit))]
    RowTooLong {
        /// The line the row starts on.
        line: u64,
        /// The cap in bytes.
        limit: u64,
    },
    /// The source failed.
    #[error("the file cannot be read: {source}")]
    Unreadable {
        /// The line being read.
        line: u64,
        /// What failed.
        #[source]
        source: io::Error,
    },
}

impl FileError {
    /// The line the refusal is about (1 for an empty file).
    pub fn line(&self) -> u64 {
        match self {
            Self::Empty { .. } => 1,
            Self::HeaderNotUtf8 { line }
            | Self::DuplicateColumn { line, .. }
            | Self::WrongColumns { line, .. }
            | Self::UnclosedQuote { line }
            | Self::TooLarge { line, .. }
            | Self::TooManyRows { line, .. }
            | Self::RowTooLong { line, .. }
            | Self::Unreadable { line, .. } => *line,
        }
    }

    /// The column the refusal is about, when there is one.
    pub fn column(&self) -> Option<&str> {
        match self {
            Self::DuplicateColumn { column, .. } => Some(column),
            _ => None,
        }
    }
}

/// Why one row is refused; the rows around it are read as usual.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// The row has more or fewer cells than the header has columns.
    #[error(
        "this row has {found} cells but the header has {expected} columns; \
         a cell holding a comma must be quoted"
    )]
    CellCount {
        /// The line the row starts on.
        line: u64,
        /// The cells in the row.
        found: usize,
        /// The columns in the header.
        expected: usize,
    },
    /// A cell is not UTF-8 text.
    #[error("column `{}`: the cell is not UTF-8 text; save the file as CSV UTF-8", quoted(column))]
    NotUtf8 {
        /// The line the row starts on.
        line: u64,
        /// The cell's column, lower case.
        column: String,
    },
}

impl RowError {
    /// The line the row starts on.
    pub fn line(&self) -> u64 {
        match self {
            Self::CellCount { line, .. } | Self::NotUtf8 { line, .. } => *line,
        }
    }

    /// The column the refusal is about, when there is one.
    pub fn column(&self) -> Option<&str> {
        match self {
            Self::CellCount { .. } => None,
            Self::NotUtf8 { column, .. } => Some(column),
        }
    }
}

/// What [`check`] found in a file it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The rows below the header (refused rows included).
    pub rows: u64,
    /// The bytes in the file.
    pub bytes: u64,
}

/// Reads a whole file without keeping it, refusing it as [`CsvReader`] would: a bad
/// header, a quote never closed, a file over a cap. Rows refused one by one
/// ([`RowError`]) do not refuse the file.
///
/// # Errors
/// [`FileError`], saying why the file is refused and on which line.
pub fn check<R: Read>(
    source: R,
    columns: &Columns<'_>,
    limits: Limits,
) -> Result<Summary, FileError> {
    let mut reader = CsvReader::open(source, columns, limits)?;
    while reader.next_row()?.is_some() {}
    Ok(Summary { rows: reader.rows, bytes: reader.bytes_read() })
}

/// Reads an import file row by row, streaming: memory holds one row.
#[derive(Debug)]
pub struct CsvReader<R: Read> {
    inner: csv::Reader<Source<R>>,
    /// For each file column, its index in [`CsvReader::names`].
    positions: Vec<usize>,
    /// The import's columns, required then optional, each a row's cell.
    names: Vec<String>,
    limits: Limits,
    rows: u64,
    record: csv::ByteRecord,
}

/// One row of an import file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    line: u64,
    names: Vec<String>,
    cells: Vec<String>,
}

impl<R: Read> CsvReader<R> {
    /// Reads and checks the header row.
    ///
    /// # Errors
    /// [`FileError`] when the header is missing, not UTF-8, names a column twice, leaves
    /// out a required one or names one `columns` does not have.
    pub fn open(source: R, columns: &Columns<'_>, limits: Limits) -> Result<Self, FileError> {
        let inner = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(Source::new(source, limits));
        let names: Vec<String> =
            columns.required().chain(columns.optional()).map(str::to_owned).collect();
        let mut reader = Self {
            inner,
            positions: Vec::new(),
            names,
            limits,
            rows: 0,
            record: csv::ByteRecord::new(),
        };
        let expected = expected(columns);
        let Some(line) = reader.read()? else {
            return Err(FileError::Empty { expected });
        };
        if reader.inner.get_ref().utf16 || reader.record.iter().any(|cell| cell.contains(&0)) {
            return Err(FileError::HeaderNotUtf8 { line });
        }
        let mut header = Vec::with_capacity(reader.record.len());
        for cell in &reader.record {
            let Ok(cell) = std::str::from_utf8(cell) else {
                return Err(FileError::HeaderNotUtf8 { line });
            };
            header.push(cell.trim().to_lowercase());
        }
        for (i, name) in header.iter().enumerate() {
            if header[..i].contains(name) {
                return Err(FileError::DuplicateColumn { line, column: name.clone() });
            }
        }
        let unknown: Vec<String> =
            header.iter().filter(|h| !reader.names.contains(h)).cloned().collect();
        let missing: Vec<String> = columns
            .required()
            .filter(|c| !header.iter().any(|h| h == c))
            .map(str::to_owned)
            .collect();
        if !unknown.is_empty() || !missing.is_empty() {
            return Err(FileError::WrongColumns { line, expected, unknown, missing });
        }
        reader.positions =
            header.iter().filter_map(|h| reader.names.iter().position(|n| n == h)).collect();
        Ok(reader)
    }

    /// The next row: `None` at the end of the file, `Some(Err)` for a row refused on its
    /// own (read the next one as usual).
    ///
    /// # Errors
    /// [`FileError`] when the rest of the file cannot be read: a quote never closed, a cap
    /// reached, the source failing.
    pub fn next_row(&mut self) -> Result<Option<Result<Row, RowError>>, FileError> {
        let Some(line) = self.read()? else {
            return Ok(None);
        };
        self.rows += 1;
        if self.rows > self.limits.rows {
            return Err(FileError::TooManyRows { line, limit: self.limits.rows });
        }
        if self.record.len() != self.positions.len() {
            return Ok(Some(Err(RowError::CellCount {
                line,
                found: self.record.len(),
                expected: self.positions.len(),
            })));
        }
        let mut cells = vec![String::new(); self.names.len()];
        for (cell, &at) in self.record.iter().zip(&self.positions) {
            let Ok(text) = std::str::from_utf8(cell) else {
                return Ok(Some(Err(RowError::NotUtf8 { line, column: self.names[at].clone() })));
            };
            text.trim().clone_into(&mut cells[at]);
        }
        Ok(Some(Ok(Row { line, names: self.names.clone(), cells })))
    }

    /// The bytes read so far (for a progress bar).
    pub fn bytes_read(&self) -> u64 {
        self.inner.get_ref().bytes
    }

    /// Reads the next record into `self.record`, giving the line it starts on.
    fn read(&mut self) -> Result<Option<u64>, FileError> {
        let result = self.inner.read_byte_record(&mut self.record);
        let source = self.inner.get_mut();
        match result {
            Ok(false) => match source.unclosed {
                Some(line) => Err(FileError::UnclosedQuote { line }),
                None => Ok(None),
            },
            Ok(true) => {
                // `csv` gives the line the previous record ended on, before any blank
                // lines: the source knows where each record starts.
                let line = source
                    .starts
                    .pop_front()
                    .unwrap_or_else(|| self.record.position().map_or(1, csv::Position::line));
                // INVARIANT: a quote left open runs to the end of the file, so the record
                // holding it is read only once the source is exhausted, and it is the one
                // that starts on the line the quote's row started on.
                match source.unclosed {
                    Some(open) if open == line => Err(FileError::UnclosedQuote { line }),
                    _ => Ok(Some(line)),
                }
            }
            Err(e) => {
                let line = source.record_line;
                Err(match source.over {
                    Some(Over::File) => FileError::TooLarge { line, limit: self.limits.bytes },
                    Some(Over::Row) => FileError::RowTooLong { line, limit: self.limits.row_bytes },
                    None => FileError::Unreadable {
                        line,
                        source: match e.into_kind() {
                            csv::ErrorKind::Io(e) => e,
                            other => io::Error::other(format!("{other:?}")),
                        },
                    },
                })
            }
        }
    }
}

impl Row {
    /// The line the row starts on.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// A cell, trimmed, by its column's name: empty for an optional column the file left
    /// out, or a name the import does not have.
    pub fn get(&self, column: &str) -> &str {
        self.names.iter().position(|n| n == column).map_or("", |i| &self.cells[i])
    }
}

/// A size as messages give it.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1024 * 1024 && b % (1024 * 1024) == 0 => format!("{} MiB", b / (1024 * 1024)),
        b if b >= 1024 && b % 1024 == 0 => format!("{} KiB", b / 1024),
        b => format!("{b} bytes"),
    }
}

/// The columns as messages list them.
fn expected(columns: &Columns<'_>) -> String {
    fn list<'a>(cs: impl Iterator<Item = &'a str>) -> String {
        cs.map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
    }
    let required = list(columns.required());
    if columns.optional().next().is_none() {
        required
    } else {
        format!("{required} and may name {}", list(columns.optional()))
    }
}

/// The unknown and missing columns, as a message lists them.
fn problems(unknown: &[String], missing: &[String]) -> String {
    let list = |cs: &[String]| {
        cs.iter().map(|c| format!("`{}`", quoted(c))).collect::<Vec<_>>().join(", ")
    };
    match (unknown.is_empty(), missing.is_empty()) {
        (false, false) => format!("unknown: {}; missing: {}", list(unknown), list(missing)),
        (false, true) => format!("unknown: {}", list(unknown)),
        _ => format!("missing: {}", list(missing)),
    }
}

/// Which cap a [`Source`] reached.
#[derive(Clone, Copy, Debug)]
enum Over {
    File,
    Row,
}

/// Where the raw bytes are, as the CSV grammar sees them (RFC 4180, as `csv` reads it:
/// a quote opens a quoted cell only as the cell's first byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grammar {
    /// At the start of a record, before any byte of it (blank lines stay here).
    RecordStart,
    /// At the start of a cell.
    CellStart,
    /// Inside an unquoted cell (or after a quoted cell's closing quote).
    Plain,
    /// Inside a quoted cell.
    Quoted,
    /// Just after a quote inside a quoted cell: it closes the cell, or doubles.
    AfterInnerQuote,
}

/// The bytes under the CSV reader: skips a UTF-8 byte order mark, notices a UTF-16 one,
/// counts bytes and lines, follows quoting to find a quote never closed, and stops the
/// read at a cap so a huge file or row is never held in memory.
#[derive(Debug)]
struct Source<R> {
    inner: R,
    limits: Limits,
    /// The first bytes, read to look for a byte order mark, not yet handed on.
    prefix: Vec<u8>,
    started: bool,
    utf16: bool,
    bytes: u64,
    line: u64,
    state: Grammar,
    after_cr: bool,
    record_line: u64,
    record_bytes: u64,
    /// The lines the records read but not yet handed on start on.
    starts: VecDeque<u64>,
    /// At the end of the file inside a quoted cell: the line its record started on.
    unclosed: Option<u64>,
    over: Option<Over>,
}

impl<R: Read> Source<R> {
    fn new(inner: R, limits: Limits) -> Self {
        Self {
            inner,
            limits,
            prefix: Vec::new(),
            started: false,
            utf16: false,
            bytes: 0,
            line: 1,
            state: Grammar::RecordStart,
            after_cr: false,
            record_line: 1,
            record_bytes: 0,
            starts: VecDeque::new(),
            unclosed: None,
            over: None,
        }
    }

    /// Reads the first three bytes (fewer at the end of the file) and drops a UTF-8 byte
    /// order mark.
    fn start(&mut self) -> io::Result<()> {
        self.started = true;
        let mut head = [0u8; 3];
        let mut len = 0;
        while len < head.len() {
            match self.inner.read(&mut head[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let head = &head[..len];
        if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            self.utf16 = true;
        }
        self.prefix = if head == [0xEF, 0xBB, 0xBF] { Vec::new() } else { head.to_vec() };
        self.prefix.reverse();
        Ok(())
    }

    /// Follows one byte through the grammar.
    fn step(&mut self, b: u8) {
        if self.state == Grammar::RecordStart && b != b'\n' && b != b'\r' {
            self.record_line = self.line;
            self.record_bytes = 0;
            self.starts.push_back(self.line);
        }
        // A line ends at a line feed, a carriage return, or both together, as editors
        // show them (old spreadsheets on the Mac end lines with a lone carriage return).
        if b == b'\r' || (b == b'\n' && !self.after_cr) {
            self.line += 1;
        }
        self.after_cr = b == b'\r';
        self.record_bytes += 1;
        let end = |b: u8| b == b'\n' || b == b'\r';
        self.state = match (self.state, b) {
            (Grammar::RecordStart, b) if end(b) => Grammar::RecordStart,
            (Grammar::RecordStart | Grammar::CellStart, b'"') => Grammar::Quoted,
            (Grammar::Quoted, b'"') => Grammar::AfterInnerQuote,
            (Grammar::Quoted, _) | (Grammar::AfterInnerQuote, b'"') => Grammar::Quoted,
            (_, b',') => Grammar::CellStart,
            (_, b) if end(b) => Grammar::RecordStart,
            _ => Grammar::Plain,
        };
    }
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.over.is_some() {
            return Err(io::Error::other("a size cap was reached"));
        }
        if !self.started {
            self.start()?;
        }
        let n = if self.prefix.is_empty() {
            self.inner.read(buf)?
        } else {
            let n = buf.len().min(self.prefix.len());
            for slot in &mut buf[..n] {
                // INVARIANT: `n` is at most the prefix's length.
                *slot = self.prefix.pop().unwrap_or_default();
            }
            n
        };
        if n == 0 {
            if self.state == Grammar::Quoted && !buf.is_empty() {
                self.unclosed = Some(self.record_line);
            }
            return Ok(0);
        }
        for &b in &buf[..n] {
            self.step(b);
            self.bytes += 1;
            // The line reported is the row the cap is reached in.
            if self.bytes > self.limits.bytes {
                self.over = Some(Over::File);
                break;
            }
            if self.state != Grammar::RecordStart && self.record_bytes > self.limits.row_bytes {
                self.over = Some(Over::Row);
                break;
            }
        }
        if self.over.is_some() {
            return Err(io::Error::other("a size cap was reached"));
        }
        Ok(n)
    }
}
