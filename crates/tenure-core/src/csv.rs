//! The one CSV writer every export uses (the web's download and the command line's), so
//! every file a person opens in a spreadsheet is written, quoted and defused the same way;
//! beside it, in [`read`], the one reader every import uses.
//!
//! Quoting follows RFC 4180: a cell is quoted when it holds a comma, a double quote or a
//! line break, inner quotes are doubled, and records end with CRLF. Defusing follows
//! OWASP's guidance on CSV injection: a cell a spreadsheet would read as a formula (it
//! starts with `=`, `+`, `-`, `@`, a tab or a carriage return) is prefixed with a single
//! quote, which spreadsheets show as text. Pure: it formats text and writes it to the
//! sink it is given.

pub mod read;
#[cfg(test)]
mod tests;
pub mod users;

use std::borrow::Cow;
use std::io::{self, BufWriter, Write};

/// Writes CSV records to a sink, through a buffer.
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> CsvWriter<W> {
    /// A writer over a sink (a file, standard output, a byte vector).
    pub fn new(sink: W) -> Self {
        Self { out: BufWriter::new(sink) }
    }

    /// Writes one record.
    ///
    /// # Errors
    /// If the sink fails.
    pub fn write_record<I>(&mut self, cells: I) -> io::Result<()>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.out.write_all(record(cells).as_bytes())
    }

    /// Flushes what is buffered and hands back the sink.
    ///
    /// # Errors
    /// If the sink fails.
    pub fn finish(self) -> io::Result<W> {
        self.out.into_inner().map_err(io::IntoInnerError::into_error)
    }
}

/// One record as CSV text, every cell defused and quoted as needed, ending with CRLF.
pub fn record<I>(cells: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut line = String::new();
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        let cell = defuse(cell.as_ref());
        if cell.contains([',', '"', '\r', '\n']) {
            line.push('"');
            line.push_str(&cell.replace('"', "\"\""));
            line.push('"');
        } else {
            line.push_str(&cell);
        }
    }
    // A record of one empty cell would be an empty line, which readers skip: quote it.
    if line.is_empty() {
        line.push_str("\"\"");
    }
    line.push_str("\r\n");
    line
}

/// A cell as a spreadsheet must show it: text that would start a formula gets a leading
/// single quote.
pub fn defuse(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}
