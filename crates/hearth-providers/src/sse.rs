//! A Server-Sent Events decoder (WHATWG HTML, "event stream interpretation"), fed raw body chunks.
//!
//! Every streaming API kind answers `text/event-stream`; this turns arbitrary byte chunks into
//! complete events. Chunks split anywhere: inside a line, between `\r` and `\n`, inside a UTF-8
//! sequence. Lines end with `\n`, `\r\n` or a lone `\r`; `:` lines are comments; `data:` lines of
//! one event are joined with `\n`; a blank line dispatches the event. Bytes are only ever split
//! at line ends, which are ASCII, so multi-byte characters are never cut.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct SseEvent {
    /// The `event:` field; empty for the default `message` type.
    pub(crate) event: String,
    pub(crate) data: String,
}

#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    buf: Vec<u8>,
    /// Start of the bytes not yet consumed as lines.
    pos: usize,
    /// Where to resume looking for a line end, so a long line arriving in many chunks is
    /// scanned once.
    scan: usize,
    data: String,
    has_data: bool,
    event: String,
    started: bool,
    input_ended: bool,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseDecoder {
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.scan -= self.pos;
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
        if !self.started {
            if self.buf.len() < BOM.len() && BOM.starts_with(&self.buf) {
                return;
            }
            if self.buf.starts_with(BOM) {
                self.buf.drain(..BOM.len());
            }
            self.started = true;
        }
    }

    /// The body ended: a last line without a line end still counts, and a last event without
    /// its blank line is still dispatched (servers often close right after `data: [DONE]`).
    pub(crate) fn end_of_input(&mut self) {
        self.input_ended = true;
        self.started = true;
    }

    /// The next complete event, if the bytes pushed so far contain one.
    pub(crate) fn next_event(&mut self) -> Option<SseEvent> {
        if !self.started {
            return None;
        }
        while let Some((start, end)) = self.next_line() {
            if start == end {
                if self.has_data {
                    return Some(self.dispatch());
                }
                self.event.clear();
                continue;
            }
            let line = &self.buf[start..end];
            if line[0] == b':' {
                continue;
            }
            let (field, value) = match line.iter().position(|&b| b == b':') {
                Some(colon) => {
                    let value = &line[colon + 1..];
                    (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
                }
                None => (line, &line[line.len()..]),
            };
            match field {
                b"data" => {
                    if self.has_data {
                        self.data.push('\n');
                    }
                    self.data.push_str(&String::from_utf8_lossy(value));
                    self.has_data = true;
                }
                b"event" => {
                    self.event.clear();
                    self.event.push_str(&String::from_utf8_lossy(value));
                }
                _ => {}
            }
        }
        if self.input_ended && self.has_data {
            return Some(self.dispatch());
        }
        None
    }

    fn dispatch(&mut self) -> SseEvent {
        self.has_data = false;
        SseEvent {
            event: std::mem::take(&mut self.event),
            data: std::mem::take(&mut self.data),
        }
    }

    /// The bounds of the next complete line in `buf`, consuming it and its line end.
    fn next_line(&mut self) -> Option<(usize, usize)> {
        let rest = &self.buf[self.scan..];
        match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            Some(offset) => {
                let end = self.scan + offset;
                let terminator = if self.buf[end] == b'\r' {
                    match self.buf.get(end + 1) {
                        Some(b'\n') => 2,
                        Some(_) => 1,
                        // A `\r` at the end of the input so far may be the first half of `\r\n`.
                        None if self.input_ended => 1,
                        None => {
                            self.scan = end;
                            return None;
                        }
                    }
                } else {
                    1
                };
                let start = self.pos;
                self.pos = end + terminator;
                self.scan = self.pos;
                Some((start, end))
            }
            None if self.input_ended && self.pos < self.buf.len() => {
                let start = self.pos;
                self.pos = self.buf.len();
                self.scan = self.pos;
                Some((start, self.buf.len()))
            }
            None => {
                self.scan = self.buf.len();
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_chunks(input: &[u8], chunk: usize) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::default();
        let mut events = Vec::new();
        for piece in input.chunks(chunk) {
            decoder.push(piece);
            while let Some(e) = decoder.next_event() {
                events.push(e);
            }
        }
        decoder.end_of_input();
        while let Some(e) = decoder.next_event() {
            events.push(e);
        }
        events
    }

    fn data(events: &[SseEvent]) -> Vec<&str> {
        events.iter().map(|e| e.data.as_str()).collect()
    }

    #[test]
    fn events_survive_every_split_point() {
        let input = "\u{FEFF}: keep-alive\r\n\r\ndata: {\"a\":\"é✓\"}\r\n\r\nevent: ping\ndata:x\ndata: y\n\ndata: [DONE]\r\r".as_bytes();
        for chunk in 1..=input.len() {
            let events = decode_in_chunks(input, chunk);
            assert_eq!(
                data(&events),
                ["{\"a\":\"é✓\"}", "x\ny", "[DONE]"],
                "chunk size {chunk}"
            );
            assert_eq!(events[1].event, "ping");
            assert_eq!(events[0].event, "");
        }
    }

    #[test]
    fn a_last_event_without_blank_line_is_dispatched_at_end_of_input() {
        assert_eq!(
            data(&decode_in_chunks(b"data: one\n\ndata: [DONE]", 4)),
            ["one", "[DONE]"]
        );
        assert_eq!(
            data(&decode_in_chunks(b"data: one\n\ndata: two\r", 100)),
            ["one", "two"]
        );
    }

    #[test]
    fn comments_and_unknown_fields_are_ignored() {
        let events = decode_in_chunks(b":comment\nid: 7\nretry: 10\nfoo\ndata\n\n", 3);
        assert_eq!(data(&events), [""]);
    }
}
