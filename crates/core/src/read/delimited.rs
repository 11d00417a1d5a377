//! A streaming CSV record scanner that survives the defects real exports have.
//!
//! The `csv` crate's reader takes an unclosed quote at its word: the rest of the file becomes
//! one field, held in memory, and every later row is lost with it. This scanner parses the same
//! dialect (RFC 4180 quoting, a quote opens a quoted field only at the start of a field, `""`
//! inside one is a quote, CRLF or LF line ends, blank lines skipped) but bounds every record by
//! [`ReadLimits::max_record_bytes`](crate::contract::ReadLimits) and recovers:
//!
//! - a physical line longer than the limit is one malformed record, skipped to its newline;
//! - a quoted field that does not close within the limit, or before the end of the file, makes
//!   its *first line* a malformed record and the scan resumes at the next line;
//! - a record that spans several lines but does not have the header's field count is the same
//!   defect (a stray quote paired with one further down): its first line is malformed and the
//!   scan resumes at the next line.
//!
//! Lines consumed while looking for a closing quote are replayed from a buffer no larger than
//! the limit, so memory stays bounded and every good row after a defect is read exactly once.

use std::io::BufRead;

/// One record's fields, as bytes, reusing its buffers from record to record.
#[derive(Debug, Default)]
pub(super) struct Fields {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl Fields {
    /// Number of fields.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The fields in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let field = &self.data[start..end];
            start = end;
            field
        })
    }

    fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    fn end_field(&mut self) {
        self.ends.push(self.data.len());
    }
}

/// What the scanner found next.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Scanned {
    /// A complete record, starting at physical line `line`, now in the scanner's fields.
    Record {
        /// 1-based physical line the record starts on.
        line: u64,
    },
    /// A line that is not a record; the scan goes on at the next line.
    Malformed {
        /// 1-based physical line.
        line: u64,
        /// Why.
        reason: String,
        /// The start of the line (at most `EXCERPT_BYTES`), lossily decoded.
        excerpt: String,
    },
}

/// The most of a malformed line kept as evidence.
pub(super) const EXCERPT_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    StartField,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Scans records from a buffered reader.
pub(super) struct Scanner<R> {
    input: R,
    delimiter: u8,
    max_record_bytes: usize,
    /// Bytes to scan again after a recovery, before reading more input.
    replay: Vec<u8>,
    replay_pos: usize,
    /// The physical line number of the next line to be read (replay first).
    next_line: u64,
    /// The current record's bytes, as read (physical lines with their newlines).
    raw: Vec<u8>,
    /// Offsets in `raw` where each of the current record's physical lines starts.
    line_starts: Vec<usize>,
    fields: Fields,
    input_done: bool,
    /// A closing quote of the current record was followed by a character other than a
    /// delimiter or a line end (`"ab"c`): fine on one line, a sign of a stray quote on several.
    text_after_quote: bool,
    /// A line over the limit was met while a quote was open; it is reported once the lines
    /// before it have been scanned again.
    deferred_too_long: bool,
}

/// A physical line read into `raw`.
enum Line {
    /// A line (possibly the last, without a newline).
    Read,
    /// The line was longer than the limit; it was discarded up to its newline.
    TooLong,
    /// No more lines.
    End,
}

impl<R: BufRead> Scanner<R> {
    /// A scanner over `input` for fields separated by `delimiter`.
    pub(super) fn new(input: R, delimiter: u8, max_record_bytes: usize) -> Self {
        Self {
            input,
            delimiter,
            max_record_bytes: max_record_bytes.max(1),
            replay: Vec::new(),
            replay_pos: 0,
            next_line: 1,
            raw: Vec::new(),
            line_starts: Vec::new(),
            fields: Fields::default(),
            input_done: false,
            text_after_quote: false,
            deferred_too_long: false,
        }
    }

    /// The fields of the last [`Scanned::Record`].
    pub(super) fn fields(&self) -> &Fields {
        &self.fields
    }

    /// Appends the next physical line to `raw`.
    fn read_line(&mut self) -> std::io::Result<Line> {
        if self.replay_pos < self.replay.len() {
            let rest = &self.replay[self.replay_pos..];
            let n = rest
                .iter()
                .position(|b| *b == b'\n')
                .map_or(rest.len(), |p| p + 1);
            self.raw.extend_from_slice(&rest[..n]);
            self.replay_pos += n;
            if self.replay_pos == self.replay.len() {
                self.replay.clear();
                self.replay_pos = 0;
            }
            self.next_line += 1;
            return Ok(Line::Read);
        }
        if self.deferred_too_long {
            self.deferred_too_long = false;
            self.next_line += 1;
            return Ok(Line::TooLong);
        }
        if self.input_done {
            return Ok(Line::End);
        }
        let start = self.raw.len();
        let limit = self.max_record_bytes as u64 + 1;
        let n = std::io::Read::take(&mut self.input, limit).read_until(b'\n', &mut self.raw)?;
        if n == 0 {
            self.input_done = true;
            return Ok(Line::End);
        }
        if n as u64 == limit && self.raw.last() != Some(&b'\n') {
            // Over-long: keep nothing of it, skip to its end.
            self.raw.truncate(start);
            loop {
                let buf = self.input.fill_buf()?;
                if buf.is_empty() {
                    self.input_done = true;
                    break;
                }
                if let Some(p) = buf.iter().position(|b| *b == b'\n') {
                    self.input.consume(p + 1);
                    break;
                }
                let len = buf.len();
                self.input.consume(len);
            }
            self.next_line += 1;
            return Ok(Line::TooLong);
        }
        self.next_line += 1;
        Ok(Line::Read)
    }

    /// Parses `raw[from..]` into the fields, continuing from `state`. Returns the state after
    /// the bytes and whether the record ended (at a newline outside quotes).
    fn parse(&mut self, from: usize, mut state: State) -> (State, bool) {
        let d = self.delimiter;
        let bytes = &self.raw[from..];
        let f = &mut self.fields;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let crlf = b == b'\r' && bytes.get(i + 1) == Some(&b'\n');
            match state {
                State::Quoted => {
                    if b == b'"' {
                        state = State::QuoteInQuoted;
                    } else {
                        f.data.push(b);
                    }
                }
                _ if b == b'\n' || crlf => {
                    f.end_field();
                    return (State::StartField, true);
                }
                State::StartField => {
                    if b == b'"' {
                        state = State::Quoted;
                    } else if b == d {
                        f.end_field();
                    } else {
                        f.data.push(b);
                        state = State::Unquoted;
                    }
                }
                State::Unquoted => {
                    if b == d {
                        f.end_field();
                        state = State::StartField;
                    } else {
                        f.data.push(b);
                    }
                }
                State::QuoteInQuoted => {
                    if b == b'"' {
                        f.data.push(b'"');
                        state = State::Quoted;
                    } else if b == d {
                        f.end_field();
                        state = State::StartField;
                    } else {
                        f.data.push(b);
                        state = State::Unquoted;
                        self.text_after_quote = true;
                    }
                }
            }
            i += 1;
        }
        (state, false)
    }

    /// Gives up on the current record: its first line is malformed, the rest is scanned again.
    fn recover(&mut self, line: u64, reason: String) -> Scanned {
        let first_end = self.line_starts.get(1).copied().unwrap_or(self.raw.len());
        let excerpt = excerpt(&self.raw[..first_end]);
        let mut replay = self.raw.split_off(first_end);
        replay.extend_from_slice(&self.replay[self.replay_pos..]);
        self.replay = replay;
        self.replay_pos = 0;
        self.next_line = line + 1;
        Scanned::Malformed {
            line,
            reason,
            excerpt,
        }
    }

    /// The next record or malformed line; `None` at the end. `expected_fields` (the header's
    /// width, once known) tells a multi-line record that swallowed good rows from a real one.
    pub(super) fn next(
        &mut self,
        expected_fields: Option<usize>,
    ) -> std::io::Result<Option<Scanned>> {
        loop {
            self.raw.clear();
            self.line_starts.clear();
            self.fields.clear();
            self.text_after_quote = false;
            let line = self.next_line;
            match self.read_line()? {
                Line::End => return Ok(None),
                Line::TooLong => {
                    return Ok(Some(Scanned::Malformed {
                        line,
                        reason: format!(
                            "line longer than the contract's max_record_bytes ({} bytes)",
                            self.max_record_bytes
                        ),
                        excerpt: String::new(),
                    }));
                }
                Line::Read => {}
            }
            if self.raw.iter().all(|b| *b == b'\n' || *b == b'\r') {
                continue; // a blank line
            }
            self.line_starts.push(0);
            let (mut state, mut done) = self.parse(0, State::StartField);
            while !done {
                let at = self.raw.len();
                if at > self.max_record_bytes {
                    return Ok(Some(self.recover(
                        line,
                        format!(
                            "unclosed quote: the record did not end within the contract's max_record_bytes ({} bytes)",
                            self.max_record_bytes
                        ),
                    )));
                }
                match self.read_line()? {
                    Line::Read => {
                        self.line_starts.push(at);
                        (state, done) = self.parse(at, state);
                    }
                    Line::End if state != State::Quoted => {
                        self.fields.end_field();
                        done = true;
                    }
                    Line::End => {
                        return Ok(Some(self.recover(
                            line,
                            "unclosed quote: the quoted field does not end before the end of the file"
                                .to_string(),
                        )));
                    }
                    Line::TooLong => {
                        // The long line was skipped from the input: it is reported in its
                        // place, after the lines before it are scanned again.
                        self.deferred_too_long = true;
                        self.next_line -= 1;
                        return Ok(Some(self.recover(
                            line,
                            format!(
                                "unclosed quote: the quoted field does not end before line {}, which is longer than the contract's max_record_bytes ({} bytes)",
                                self.next_line,
                                self.max_record_bytes
                            ),
                        )));
                    }
                }
            }
            if self.line_starts.len() > 1 && self.text_after_quote {
                return Ok(Some(self.recover(
                    line,
                    format!(
                        "unbalanced quote: a quoted field opened on line {line} closes on a later line with text after it",
                    ),
                )));
            }
            if self.line_starts.len() > 1
                && let Some(expected) = expected_fields
                && self.fields.len() != expected
            {
                return Ok(Some(self.recover(
                    line,
                    format!(
                        "unbalanced quote: a record spanning lines {line}-{} has {} fields, the header has {expected}",
                        line + self.line_starts.len() as u64 - 1,
                        self.fields.len()
                    ),
                )));
            }
            return Ok(Some(Scanned::Record { line }));
        }
    }
}

fn excerpt(bytes: &[u8]) -> String {
    let cut = bytes.len().min(EXCERPT_BYTES);
    let text = String::from_utf8_lossy(&bytes[..cut]);
    text.trim_end_matches(['\r', '\n']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, limit: usize, width: Option<usize>) -> Vec<Result<Vec<String>, u64>> {
        let mut s = Scanner::new(text.as_bytes(), b',', limit);
        let mut out = Vec::new();
        while let Some(r) = s.next(width).unwrap() {
            match r {
                Scanned::Record { .. } => out.push(Ok(s
                    .fields()
                    .iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect())),
                Scanned::Malformed { line, .. } => out.push(Err(line)),
            }
        }
        out
    }

    fn row(fields: &[&str]) -> Result<Vec<String>, u64> {
        Ok(fields.iter().map(|f| f.to_string()).collect())
    }

    #[test]
    fn parses_quotes_escaped_quotes_and_embedded_newlines() {
        let got = scan("a,b\n\"x,1\",\"say \"\"hi\"\"\nthere\"\n", 1024, Some(2));
        assert_eq!(
            got,
            vec![row(&["a", "b"]), row(&["x,1", "say \"hi\"\nthere"])]
        );
    }

    #[test]
    fn a_quote_inside_an_unquoted_field_is_a_character() {
        let got = scan("name,size\n27\" monitor,27\n", 1024, Some(2));
        assert_eq!(
            got,
            vec![row(&["name", "size"]), row(&["27\" monitor", "27"])]
        );
    }

    #[test]
    fn crlf_and_blank_lines_and_a_missing_final_newline() {
        let got = scan("a,b\r\n\r\n1,2\r\n\n3,\r\n4,5", 1024, Some(2));
        assert_eq!(
            got,
            vec![
                row(&["a", "b"]),
                row(&["1", "2"]),
                row(&["3", ""]),
                row(&["4", "5"])
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_costs_one_line_and_the_scan_resumes_at_the_next() {
        let mut text = String::from("a,b\n\"broken,1\n");
        for i in 0..1000 {
            text.push_str(&format!("k{i},{i}\n"));
        }
        let got = scan(&text, 1 << 20, Some(2));
        assert_eq!(got.len(), 1 + 1 + 1000);
        assert_eq!(got[1], Err(2));
        assert_eq!(got[2], row(&["k0", "0"]));
        assert_eq!(got[1001], row(&["k999", "999"]));
    }

    #[test]
    fn an_unclosed_quote_is_given_up_at_the_record_limit() {
        let mut text = String::from("a,b\n\"broken,1\n");
        for i in 0..1000 {
            text.push_str(&format!("k{i},{i}\n"));
        }
        let got = scan(&text, 256, Some(2));
        assert_eq!(got.len(), 1 + 1 + 1000, "every good row read once");
        assert_eq!(got[1], Err(2));
        assert!(got[2..].iter().all(Result::is_ok));
    }

    #[test]
    fn a_stray_quote_paired_with_a_later_one_does_not_swallow_the_rows_between() {
        let got = scan("a,b\n\"x,1\nk1,1\nk2,\"2\"\"\nk3,3\n", 1024, Some(2));
        assert_eq!(got[1], Err(2));
        assert_eq!(got[2], row(&["k1", "1"]));
        // `"2""` opens a quoted field that never closes: that line is lost, k3 is not.
        assert_eq!(got[3], Err(4));
        assert_eq!(got[4], row(&["k3", "3"]));
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn a_stray_quote_paired_with_a_quoted_field_in_the_same_column_costs_one_line() {
        // Line 2's quote pairs with the opening quote of line 4's third field: the span has the
        // header's field count, but text follows the closing quote.
        let got = scan(
            "a,b,c\nT2,C2,\"P2\nT3,C3,P3\nT4,C4,\"P4\"\nT5,C5,P5\n",
            1024,
            Some(3),
        );
        assert_eq!(got[1], Err(2));
        assert_eq!(got[2], row(&["T3", "C3", "P3"]));
        assert_eq!(got[3], row(&["T4", "C4", "P4"]));
        assert_eq!(got[4], row(&["T5", "C5", "P5"]));
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn a_long_line_met_inside_an_unclosed_quote_is_reported_in_its_place() {
        let long = "z".repeat(5000);
        let got = scan(&format!("a,b\n\"x,1\nk1,1\n{long}\nk2,2\n"), 1024, Some(2));
        assert_eq!(
            got,
            vec![
                row(&["a", "b"]),
                Err(2),
                row(&["k1", "1"]),
                Err(4),
                row(&["k2", "2"])
            ]
        );
    }

    #[test]
    fn a_line_over_the_limit_is_one_malformed_record() {
        let long = "z".repeat(5000);
        let got = scan(&format!("a,b\n{long},1\nk,2\n"), 1024, Some(2));
        assert_eq!(got, vec![row(&["a", "b"]), Err(2), row(&["k", "2"])]);
    }
}
