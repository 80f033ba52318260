//! A newline-delimited JSON decoder, fed raw body chunks: the line framing of Ollama's streamed
//! answers (and any other API kind that streams one JSON document per line).
//!
//! The sibling of `sse`: chunks split anywhere, inside a line or a UTF-8 sequence, and this hands
//! out complete lines. Lines end with `\n` or `\r\n`; blank lines are skipped; a last line without
//! a line end counts once the body has ended. Bytes are only split at `\n`, which is ASCII, so
//! multi-byte characters are never cut. Parsing the JSON is left to the API kind, which knows the
//! shape.

#[derive(Debug, Default)]
pub(crate) struct NdjsonDecoder {
    buf: Vec<u8>,
    /// Start of the bytes not yet handed out as lines.
    pos: usize,
    /// Where to resume looking for `\n`, so a long line arriving in many chunks is scanned once.
    scan: usize,
    input_ended: bool,
}

impl NdjsonDecoder {
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.scan -= self.pos;
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The body ended: a last line without its line end still counts.
    pub(crate) fn end_of_input(&mut self) {
        self.input_ended = true;
    }

    /// The next complete, non-blank line (without its line end), if the bytes pushed so far
    /// contain one.
    pub(crate) fn next_line(&mut self) -> Option<String> {
        loop {
            let (start, end) = match self.buf[self.scan..].iter().position(|&b| b == b'\n') {
                Some(offset) => {
                    let end = self.scan + offset;
                    let start = self.pos;
                    self.pos = end + 1;
                    self.scan = self.pos;
                    (start, end)
                }
                None if self.input_ended && self.pos < self.buf.len() => {
                    let start = self.pos;
                    self.pos = self.buf.len();
                    self.scan = self.pos;
                    (start, self.buf.len())
                }
                None => {
                    self.scan = self.buf.len();
                    return None;
                }
            };
            let line = self.buf[start..end].trim_ascii();
            if !line.is_empty() {
                return Some(String::from_utf8_lossy(line).into_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_chunks(input: &[u8], chunk: usize) -> Vec<String> {
        let mut decoder = NdjsonDecoder::default();
        let mut lines = Vec::new();
        for piece in input.chunks(chunk) {
            decoder.push(piece);
            while let Some(line) = decoder.next_line() {
                lines.push(line);
            }
        }
        decoder.end_of_input();
        while let Some(line) = decoder.next_line() {
            lines.push(line);
        }
        lines
    }

    #[test]
    fn lines_survive_every_split_point() {
        let input = "{\"a\":\"é✓\"}\r\n\n  \n{\"b\":1}\n{\"done\":true}".as_bytes();
        for chunk in 1..=input.len() {
            assert_eq!(
                decode_in_chunks(input, chunk),
                ["{\"a\":\"é✓\"}", "{\"b\":1}", "{\"done\":true}"],
                "chunk size {chunk}"
            );
        }
    }

    #[test]
    fn a_partial_line_waits_for_its_end() {
        let mut decoder = NdjsonDecoder::default();
        decoder.push(b"{\"a\":");
        assert_eq!(decoder.next_line(), None);
        decoder.push(b"1}\n{\"b\"");
        assert_eq!(decoder.next_line().as_deref(), Some("{\"a\":1}"));
        assert_eq!(decoder.next_line(), None);
        decoder.end_of_input();
        assert_eq!(decoder.next_line().as_deref(), Some("{\"b\""));
        assert_eq!(decoder.next_line(), None);
    }
}
