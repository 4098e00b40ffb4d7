//! Byte-level plumbing shared by the text importers: a push line splitter whose memory
//! is one partial line, CSV field splitting, and per-line decoding.
//!
//! Lines are split on raw bytes before decoding. That is sound for UTF-8 and for GBK
//! alike: in both, byte 0x0A only ever encodes a newline (GBK trail bytes are ≥ 0x40).

use std::borrow::Cow;

use super::error::{ImportError, ImportErrorKind};

/// Longest line accepted. A bill line is a few hundred bytes; anything this long is not
/// a bill, and the limit is what keeps memory bounded when a file has no newlines.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Feed byte chunks of any size; complete lines come out in order with their 1-based
/// line number. Only the unfinished last line is kept between chunks.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    line_no: u64,
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Lines seen so far.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    pub fn feed<F>(&mut self, chunk: &[u8], mut on_line: F) -> Result<(), ImportError>
    where
        F: FnMut(u64, &[u8]) -> Result<(), ImportError>,
    {
        let mut rest = chunk;
        if !self.partial.is_empty() {
            match rest.iter().position(|&b| b == b'\n') {
                None => {
                    self.partial.extend_from_slice(rest);
                    return self.check_partial();
                }
                Some(i) => {
                    self.partial.extend_from_slice(&rest[..i]);
                    rest = &rest[i + 1..];
                    let line = std::mem::take(&mut self.partial);
                    self.line_no += 1;
                    self.check_len(line.len())?;
                    on_line(self.line_no, strip_cr(&line))?;
                    self.partial = line;
                    self.partial.clear();
                }
            }
        }
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.line_no += 1;
            self.check_len(i)?;
            on_line(self.line_no, strip_cr(&rest[..i]))?;
            rest = &rest[i + 1..];
        }
        self.partial.extend_from_slice(rest);
        self.check_partial()
    }

    /// The last line when the file does not end with a newline.
    pub fn finish<F>(&mut self, mut on_line: F) -> Result<(), ImportError>
    where
        F: FnMut(u64, &[u8]) -> Result<(), ImportError>,
    {
        if self.partial.is_empty() {
            return Ok(());
        }
        let line = std::mem::take(&mut self.partial);
        self.line_no += 1;
        on_line(self.line_no, strip_cr(&line))
    }

    fn check_partial(&self) -> Result<(), ImportError> {
        if self.partial.len() > MAX_LINE_BYTES {
            return Err(ImportError::at(
                self.line_no + 1,
                ImportErrorKind::LineTooLong {
                    limit: MAX_LINE_BYTES,
                },
            ));
        }
        Ok(())
    }

    fn check_len(&self, len: usize) -> Result<(), ImportError> {
        if len > MAX_LINE_BYTES {
            return Err(ImportError::at(
                self.line_no,
                ImportErrorKind::LineTooLong {
                    limit: MAX_LINE_BYTES,
                },
            ));
        }
        Ok(())
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The text encodings bills come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextEncoding {
    Utf8,
    Gbk,
}

impl TextEncoding {
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Gbk => "GBK",
        }
    }

    /// Decode one line strictly: a byte sequence that is not valid in the encoding is
    /// an error, never a replacement character that would corrupt an id silently.
    pub fn decode<'a>(self, line_no: u64, bytes: &'a [u8]) -> Result<Cow<'a, str>, ImportError> {
        let wrong = || {
            ImportError::at(
                line_no,
                ImportErrorKind::WrongEncoding {
                    expected: self.name().to_string(),
                },
            )
        };
        let bytes = if line_no == 1 {
            bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
        } else {
            bytes
        };
        match self {
            TextEncoding::Utf8 => std::str::from_utf8(bytes)
                .map(Cow::Borrowed)
                .map_err(|_| wrong()),
            TextEncoding::Gbk => {
                if bytes.is_ascii() {
                    return std::str::from_utf8(bytes)
                        .map(Cow::Borrowed)
                        .map_err(|_| wrong());
                }
                encoding_rs::GBK
                    .decode_without_bom_handling_and_without_replacement(bytes)
                    .ok_or_else(wrong)
            }
        }
    }
}

/// True when a line that was expected in GBK is in fact UTF-8 with Chinese text: GBK
/// decoding of such bytes often "succeeds" with garbage, so a header that does not match
/// is checked against this to name the real fault.
pub fn looks_like_utf8_text(bytes: &[u8]) -> bool {
    !bytes.is_ascii() && std::str::from_utf8(bytes).is_ok()
}

/// Split one CSV record (RFC 4180 quoting, no embedded newlines: bills have none).
/// Unquoted fields borrow from the line.
pub fn split_csv(line: &str, delimiter: char) -> Result<Vec<Cow<'_, str>>, String> {
    let mut fields = Vec::with_capacity(32);
    let mut rest = line;
    loop {
        if let Some(after_quote) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = after_quote.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("unterminated quoted field".to_string()),
                    Some((i, '"')) => {
                        if after_quote[i + 1..].starts_with('"') {
                            value.push('"');
                            chars.next();
                        } else {
                            break i + 1;
                        }
                    }
                    Some((_, c)) => value.push(c),
                }
            };
            fields.push(Cow::Owned(value));
            let tail = &after_quote[end..];
            if tail.is_empty() {
                return Ok(fields);
            }
            match tail.strip_prefix(delimiter) {
                Some(t) => rest = t,
                None => return Err("text after a closing quote".to_string()),
            }
        } else {
            match rest.find(delimiter) {
                Some(i) => {
                    fields.push(Cow::Borrowed(&rest[..i]));
                    rest = &rest[i + delimiter.len_utf8()..];
                }
                None => {
                    fields.push(Cow::Borrowed(rest));
                    return Ok(fields);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines_of(chunks: &[&[u8]]) -> Vec<(u64, Vec<u8>)> {
        let mut s = LineSplitter::new();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |n, l| {
                out.push((n, l.to_vec()));
                Ok(())
            })
            .unwrap();
        }
        s.finish(|n, l| {
            out.push((n, l.to_vec()));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn splits_crlf_and_unterminated_last_line() {
        let got = lines_of(&[b"a,b\r\nc", b"d\n\ne"]);
        assert_eq!(
            got,
            vec![
                (1, b"a,b".to_vec()),
                (2, b"cd".to_vec()),
                (3, b"".to_vec()),
                (4, b"e".to_vec())
            ]
        );
    }

    #[test]
    fn csv_quotes() {
        let f = split_csv(r#"a,"b,""c""",,d"#, ',').unwrap();
        assert_eq!(f, vec!["a", "b,\"c\"", "", "d"]);
        assert!(split_csv(r#"a,"b"#, ',').is_err());
    }

    #[test]
    fn gbk_is_strict() {
        let (bytes, _, _) = encoding_rs::GBK.encode("商户订单号");
        assert_eq!(TextEncoding::Gbk.decode(2, &bytes).unwrap(), "商户订单号");
        let err = TextEncoding::Gbk.decode(7, &[0x81, 0x20]).unwrap_err();
        assert_eq!(err.line, 7);
        assert!(matches!(err.kind, ImportErrorKind::WrongEncoding { .. }));
        assert!(TextEncoding::Utf8.decode(3, &bytes).is_err());
    }

    #[test]
    fn overlong_line_is_refused_without_buffering_it_all() {
        let mut s = LineSplitter::new();
        let big = vec![b'x'; MAX_LINE_BYTES + 1];
        let err = s.feed(&big, |_, _| Ok(())).unwrap_err();
        assert_eq!(
            err.kind,
            ImportErrorKind::LineTooLong {
                limit: MAX_LINE_BYTES
            }
        );
    }

    proptest! {
        #[test]
        fn any_chunking_gives_the_same_lines(text in "[a-c\n\r,]{0,200}", cuts in proptest::collection::vec(0usize..200, 0..8)) {
            let bytes = text.as_bytes();
            let whole = lines_of(&[bytes]);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut chunks: Vec<&[u8]> = Vec::new();
            let mut prev = 0;
            for c in cuts { chunks.push(&bytes[prev..c]); prev = c; }
            chunks.push(&bytes[prev..]);
            prop_assert_eq!(lines_of(&chunks), whole);
        }
    }
}
