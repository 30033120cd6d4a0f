//! The import reader (`tenure_core::csv::read`), from arbitrary bytes and from valid files
//! mutated the ways people break them: it never panics, every refusal names a line inside
//! the file (and the column, where there is one), rows carry the line they start on even
//! after cells holding line breaks, a quote never closed is refused at its row, and a
//! valid file reads back cell for cell.
//!
//! The case count is modest so CI stays fast; `PROPTEST_CASES` overrides it for a long
//! run: `PROPTEST_CASES=100000 cargo test -p tenure-core --test it csv_read`.

use std::io::Read;

use proptest::prelude::*;
use tenure_core::csv::read::{self, Column, Columns, CsvReader, FileError, Limits, Row, RowError};

/// The cases each property runs: `PROPTEST_CASES` when set, else a CI-sized default.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256);
    ProptestConfig { cases, ..ProptestConfig::default() }
}

/// The users import's columns.
const COLUMNS: Columns<'static> = Columns {
    columns: &[
        Column::required("name"),
        Column::required("email"),
        Column::optional("telephone"),
        Column::required("organisation"),
        Column::required("role"),
    ],
};

const NAMES: [&str; 5] = ["name", "email", "organisation", "role", "telephone"];

/// Small caps, so the properties reach them.
const SMALL: Limits = Limits { bytes: 4096, rows: 20, row_bytes: 512 };

/// A source handing the bytes on a few at a time, as pipes and slow disks do.
struct Chunked<'a> {
    bytes: &'a [u8],
    chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.chunk.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Everything a reader gives for a file: its rows and row refusals, then the file's
/// refusal if it stopped.
#[derive(Debug)]
struct Outcome {
    rows: Vec<Result<Row, RowError>>,
    refused: Option<FileError>,
}

fn read_all(bytes: &[u8], chunk: usize, limits: Limits) -> Outcome {
    let mut rows = Vec::new();
    let mut reader = match CsvReader::open(Chunked { bytes, chunk }, &COLUMNS, limits) {
        Ok(reader) => reader,
        Err(e) => return Outcome { rows, refused: Some(e) },
    };
    loop {
        match reader.next_row() {
            Ok(Some(row)) => rows.push(row),
            Ok(None) => return Outcome { rows, refused: None },
            Err(e) => return Outcome { rows, refused: Some(e) },
        }
    }
}

/// The number of lines an editor shows for `bytes` (a line break is a line feed, a
/// carriage return, or both together; a final one opens an empty line a refusal may
/// point at).
fn lines(bytes: &[u8]) -> u64 {
    let breaks = bytes
        .iter()
        .enumerate()
        .filter(|(i, b)| **b == b'\r' || (**b == b'\n' && (*i == 0 || bytes[i - 1] != b'\r')))
        .count();
    1 + breaks as u64
}

/// The properties every read has, whatever the bytes: lines inside the file, increasing;
/// columns that exist and are named in the message; `check` agreeing with the reader.
fn assert_well_behaved(
    bytes: &[u8],
    chunk: usize,
    limits: Limits,
) -> Result<Outcome, TestCaseError> {
    let read = read_all(bytes, chunk, limits);
    let last = lines(bytes);
    let mut previous = 1;
    for row in &read.rows {
        let (line, column, message) = match row {
            Ok(row) => (row.line(), None, String::new()),
            Err(e) => (e.line(), e.column().map(str::to_owned), e.to_string()),
        };
        prop_assert!(line > previous && line <= last, "row line {line} after {previous} of {last}");
        previous = line;
        if let Some(column) = column {
            prop_assert!(NAMES.contains(&column.as_str()), "{column}");
            prop_assert!(message.contains(&format!("`{column}`")), "{message}");
        }
        prop_assert!(!message.contains('\n'), "{message:?}");
    }
    if let Some(e) = &read.refused {
        prop_assert!(e.line() >= 1 && e.line() <= last, "file line {} of {last}: {e}", e.line());
        let message = e.to_string();
        prop_assert!(!message.contains(['\n', '\r', '\0']), "{message:?}");
        if let Some(column) = e.column() {
            prop_assert!(message.contains(column), "{message}");
        }
    }
    let checked = read::check(Chunked { bytes, chunk }, &COLUMNS, limits);
    match (&checked, &read.refused) {
        (Ok(summary), None) => prop_assert_eq!(summary.rows, read.rows.len() as u64),
        (Err(a), Some(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
        _ => prop_assert!(false, "check {checked:?} but the reader {:?}", read.refused),
    }
    Ok(read)
}

/// Bytes that break CSV readers, and some that do not.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b",\"\n\r ae".to_vec()),
        1 => prop::sample::select(vec![0u8, 0xFF, 0xFE, 0xEF, 0xBB, 0xBF, 0xC3, 0x80]),
        1 => any::<u8>(),
    ];
    let header = prop::sample::select(vec![
        &b"name,email,organisation,role\n"[..],
        b"name,email,telephone,organisation,role\r\n",
        b"\xEF\xBB\xBFRole , Name,EMAIL,organisation\n",
        b"name,name,email,organisation,role\n",
        b"",
    ]);
    (header, prop::collection::vec(byte, 0..300)).prop_map(|(h, body)| [h, &body].concat())
}

/// A cell as a person might type it: letters, and with `separators`, commas, quotes and
/// line breaks (which the file must quote).
fn cell(separators: bool) -> impl Strategy<Value = String> {
    let mut pieces = vec!["a", "Bé", " ", "x y", "😀", "="];
    if separators {
        pieces.extend([",", "\"", "\n", "\r\n", "\r"]);
    }
    prop::collection::vec(prop::sample::select(pieces), 0..6)
        .prop_map(|p| p.concat().trim().to_owned())
}

/// A valid file: the columns in some order (telephone perhaps left out), rows of cells.
#[derive(Clone, Debug)]
struct File {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
    crlf: bool,
}

fn file(separators: bool) -> impl Strategy<Value = File> {
    (Just(NAMES.to_vec()).prop_shuffle(), any::<bool>(), any::<bool>())
        .prop_flat_map(move |(mut header, phone, crlf)| {
            if !phone {
                header.retain(|c| *c != "telephone");
            }
            let width = header.len();
            let rows = prop::collection::vec(prop::collection::vec(cell(separators), width), 0..8);
            (Just(header), rows, Just(crlf))
        })
        .prop_map(|(header, rows, crlf)| File { header, rows, crlf })
}

impl File {
    /// The file's bytes, and the byte each row starts at.
    fn encode(&self) -> (Vec<u8>, Vec<usize>) {
        let end = if self.crlf { "\r\n" } else { "\n" };
        let mut out = self.header.join(",") + end;
        let mut starts = Vec::new();
        for row in &self.rows {
            starts.push(out.len());
            let cells: Vec<String> = row
                .iter()
                .map(|c| {
                    // An empty row would be a blank line, which readers skip: quote it.
                    if c.contains([',', '"', '\n', '\r']) || (c.is_empty() && row.len() == 1) {
                        format!("\"{}\"", c.replace('"', "\"\""))
                    } else {
                        c.clone()
                    }
                })
                .collect();
            out += &cells.join(",");
            out += end;
        }
        (out.into_bytes(), starts)
    }
}

fn line_at(bytes: &[u8], at: usize) -> u64 {
    lines(&bytes[..at])
}

proptest! {
    #![proptest_config(config())]

    /// Arbitrary bytes never panic, and every answer is well behaved.
    #[test]
    fn arbitrary_bytes_are_answered_with_lines_and_columns(
        bytes in hostile_bytes(),
        chunk in 1usize..9,
    ) {
        assert_well_behaved(&bytes, chunk, SMALL)?;
        assert_well_behaved(&bytes, chunk, Limits::DEFAULT)?;
    }

    /// A valid file reads back cell for cell, each row on the line it starts on, however
    /// many line breaks the cells above it hold.
    #[test]
    fn a_valid_file_reads_back_on_the_right_lines(file in file(true), chunk in 1usize..64) {
        let (bytes, starts) = file.encode();
        let read = assert_well_behaved(&bytes, chunk, Limits::DEFAULT)?;
        prop_assert!(read.refused.is_none(), "{:?}", read.refused);
        prop_assert_eq!(read.rows.len(), file.rows.len());
        for ((row, cells), start) in read.rows.iter().zip(&file.rows).zip(&starts) {
            let row = row.as_ref().map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(row.line(), line_at(&bytes, *start));
            for (column, cell) in file.header.iter().zip(cells) {
                prop_assert_eq!(row.get(column), cell.as_str());
            }
        }
    }

    /// A valid file with one byte inserted, removed or replaced, or cut short, never
    /// panics and is answered with lines and columns.
    #[test]
    fn a_mutated_file_is_answered_with_lines_and_columns(
        file in file(true),
        at in any::<prop::sample::Index>(),
        mutation in 0u8..4,
        byte in prop::sample::select(b"\",\n\r\xFF\x00a".to_vec()),
        chunk in 1usize..64,
    ) {
        let (mut bytes, _) = file.encode();
        let i = at.index(bytes.len() + 1);
        match mutation {
            0 => bytes.insert(i, byte),
            1 if i < bytes.len() => { bytes.remove(i); }
            2 if i < bytes.len() => bytes[i] = byte,
            _ => bytes.truncate(i),
        }
        assert_well_behaved(&bytes, chunk, Limits::DEFAULT)?;
        assert_well_behaved(&bytes, chunk, SMALL)?;
    }

    /// A quote opened at the start of a cell and never closed is refused at the row it
    /// opened in, and no row after it is read.
    #[test]
    fn an_unclosed_quote_is_refused_at_its_row(
        file in file(false).prop_filter("a row", |f| !f.rows.is_empty()),
        row in any::<prop::sample::Index>(),
        chunk in 1usize..64,
    ) {
        let (bytes, starts) = file.encode();
        let k = row.index(starts.len());
        let mut broken = bytes.clone();
        broken.insert(starts[k], b'"');
        let read = assert_well_behaved(&broken, chunk, Limits::DEFAULT)?;
        let line = line_at(&bytes, starts[k]);
        match read.refused {
            Some(FileError::UnclosedQuote { line: at }) => prop_assert_eq!(at, line),
            other => prop_assert!(false, "{other:?}"),
        }
        prop_assert_eq!(read.rows.len(), k, "the rows above it are read");
    }

    /// A cell that is not UTF-8 is refused by its column's name, on its row's line, and
    /// the rows after it are read.
    #[test]
    fn a_cell_not_utf8_names_its_column(
        file in file(true).prop_filter("a row", |f| !f.rows.is_empty()),
        row in any::<prop::sample::Index>(),
        column in any::<prop::sample::Index>(),
    ) {
        let mut file = file;
        let k = row.index(file.rows.len());
        let j = column.index(file.header.len());
        file.rows[k][j] = "BAD".to_owned();
        let (bytes, starts) = file.encode();
        let at = bytes.windows(3).position(|w| w == b"BAD").unwrap();
        let mut broken = bytes.clone();
        broken[at + 1] = 0xFF;
        let read = assert_well_behaved(&broken, 7, Limits::DEFAULT)?;
        prop_assert!(read.refused.is_none());
        prop_assert_eq!(read.rows.len(), file.rows.len());
        prop_assert_eq!(
            read.rows[k].as_ref().err(),
            Some(&RowError::NotUtf8 {
                line: line_at(&bytes, starts[k]),
                column: file.header[j].to_owned(),
            })
        );
    }
}

#[track_caller]
fn check_refused(bytes: &[u8], expected: &str) {
    let got =
        read::check(bytes, &COLUMNS, Limits::DEFAULT).map_err(|e| format!("{}: {e}", e.line()));
    assert_eq!(got, Err(expected.to_owned()), "{}", String::from_utf8_lossy(bytes));
}

#[test]
fn files_refused_whole_say_why_on_which_line() {
    check_refused(
        b"",
        "1: the file is empty; its first row must name the columns `name`, `email`, `organisation`, `role` and may name `telephone`",
    );
    check_refused(
        b"name,name,email,organisation,role\nA,A,a@example.com,O,r\n",
        "1: column `name` appears twice",
    );
    check_refused(b"Name,email,NAME,organisation,role\n", "1: column `name` appears twice");
    check_refused(
        b"name,mail,organisation,role\n",
        "1: the header row must name the columns `name`, `email`, `organisation`, `role` and may name `telephone`; unknown: `mail`; missing: `email`",
    );
    check_refused(
        b"name,e\0mail,organisation,role\n",
        "1: the header row is not UTF-8 text; save the file as CSV UTF-8",
    );
    check_refused(
        b"nam\xE9,email,organisation,role\n",
        "1: the header row is not UTF-8 text; save the file as CSV UTF-8",
    );
    let utf16: Vec<u8> = "\u{feff}name,email,organisation,role\n"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    check_refused(&utf16, "1: the header row is not UTF-8 text; save the file as CSV UTF-8");
    check_refused(
        b"name,email,organisation,role\nA,a@x,O,r\n\"B,b@x,O,r\nC,c@x,O,r\n",
        "3: a quote opened in this row is never closed, so the rest of the file reads as one cell; close it (a quote inside a cell is written twice: \"\")",
    );
}

#[test]
fn caps_refuse_the_file_at_the_line_they_are_reached() {
    let limits = Limits { bytes: 1000, rows: 2, row_bytes: 40 };
    let refuse =
        |bytes: &[u8]| read::check(bytes, &COLUMNS, limits).map_err(|e| (e.line(), e.to_string()));
    assert_eq!(
        refuse(b"name,email,organisation,role\na,b,c,d\na,b,c,d\na,b,c,d\n"),
        Err((4, "the file has more than 2 rows; split it into smaller files".to_owned()))
    );
    let long = format!("name,email,organisation,role\na,b,c,d\n\"{}\",b,c,d\n", "x\n".repeat(30));
    assert_eq!(refuse(long.as_bytes()), Err((3, "this row is longer than 40 bytes".to_owned())));
    let big = format!("name,email,organisation,role\n{}", "a,b,c,d\n".repeat(20));
    assert_eq!(
        read::check(big.as_bytes(), &COLUMNS, Limits { rows: 100, bytes: 100, ..limits })
            .map_err(|e| (e.line(), e.to_string())),
        Err((10, "the file is larger than 100 bytes; split it into smaller files".to_owned()))
    );
    assert_eq!(
        read::check(&b"name,email,organisation,role\na,b,c,d\na,b,c,d\n"[..], &COLUMNS, limits)
            .map(|s| s.rows)
            .map_err(|e| e.to_string()),
        Ok(2)
    );
}

#[test]
fn rows_carry_their_true_line_and_a_bom_is_skipped() {
    let read = read_all(
        b"\xEF\xBB\xBF Name ,EMAIL,organisation,role\r\n\"A\nB\",a@x,O,r\r\n\r\nC,c@x,O\r\nD,\xFF,O,r\nE,e@x,O,r",
        3,
        Limits::DEFAULT,
    );
    assert!(read.refused.is_none(), "{:?}", read.refused);
    let rows: Vec<_> = read
        .rows
        .iter()
        .map(|r| match r {
            Ok(row) => format!("{}: {}", row.line(), row.get("name")),
            Err(e) => format!("{}: {e}", e.line()),
        })
        .collect();
    assert_eq!(
        rows,
        [
            "2: A\nB",
            "5: this row has 3 cells but the header has 4 columns; a cell holding a comma must be quoted",
            "6: column `email`: the cell is not UTF-8 text; save the file as CSV UTF-8",
            "7: E",
        ]
    );
}
