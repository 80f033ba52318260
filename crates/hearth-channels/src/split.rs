//! Splitting a long answer into messages that fit a platform's limit.
//!
//! [`split_markdown`] cuts the model's Markdown *before* conversion, at the best boundary inside
//! the limit (blank line, then line, sentence end, whitespace, and only then a hard cut that
//! still keeps grapheme clusters whole), avoiding cuts inside links, inline code and emphasis
//! when it can. A fenced code block that has to be cut is closed at the end of one chunk and
//! reopened with the same fence and language at the start of the next, so every chunk renders
//! on its own. [`render_chunks`] then converts each chunk with a platform's
//! [`crate::format`] function and re-splits any chunk whose markup outgrew the limit.
//!
//! Limits are counted in `char`s, never bytes.

use std::ops::Range;

use pulldown_cmark::{Event, Options, Parser, Tag};

/// Splits Markdown into chunks of at most `limit` characters on sensible boundaries.
///
/// Chunks are trimmed and never empty; an empty (or blank) input gives no chunks. A limit of
/// zero is treated as one.
pub fn split_markdown(markdown: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(1);
    let doc = Doc::scan(markdown, limit);
    let mut chunks = Vec::new();
    let mut pos = skip_whitespace(markdown, 0);
    // The fenced block `pos` is inside when the previous chunk cut it.
    let mut open: Option<usize> = None;
    while pos < markdown.len() {
        let prefix = open.map(|f| doc.fences[f].reopen()).unwrap_or_default();
        let budget = limit - prefix.chars().count();
        let rest = markdown[pos..].trim_end();
        if rest.chars().nth(budget).is_none() {
            if !rest.trim().is_empty() {
                chunks.push(prefix + rest);
            }
            break;
        }
        let (cut, fence) = doc.cut(pos, budget);
        let body = markdown[pos..cut].trim_end();
        if !body.trim().is_empty() {
            let mut chunk = prefix;
            chunk.push_str(body);
            if let Some(f) = fence {
                chunk.push('\n');
                chunk.push_str(&doc.fences[f].close);
            }
            chunks.push(chunk);
        }
        (pos, open) = match fence {
            // Only the closing fence is left: the chunk already ends with an equivalent one.
            Some(f)
                if doc.fences[f]
                    .close_line
                    .as_ref()
                    .is_some_and(|line| markdown[cut..line.start].trim().is_empty()) =>
            {
                let end = doc.fences[f].close_line.as_ref().map_or(cut, |l| l.end);
                (skip_whitespace(markdown, end), None)
            }
            Some(f) => (resume_in_code(markdown, cut), Some(f)),
            None => (skip_whitespace(markdown, cut), None),
        };
    }
    chunks
}

/// Splits `markdown` and converts each chunk with `convert` so that every converted chunk is at
/// most `limit` characters.
///
/// A chunk whose conversion is too long (escaping and tags grow text) is split again, smaller in
/// proportion to the growth, until it fits. Every step makes the pieces strictly shorter, so
/// this terminates; nothing is dropped except chunks that convert to blank. Only a single
/// character whose conversion alone exceeds `limit` (a limit smaller than one escaped character
/// or one code block's tags) is returned over the limit, since cutting it would lose text.
pub fn render_chunks(
    markdown: &str,
    limit: usize,
    convert: impl Fn(&str) -> String,
) -> Vec<String> {
    let limit = limit.max(1);
    let mut rendered = Vec::new();
    let mut pending = split_markdown(markdown, limit);
    pending.reverse();
    while let Some(piece) = pending.pop() {
        let converted = convert(&piece);
        let converted_len = converted.chars().count();
        let piece_len = piece.chars().count();
        if converted_len <= limit || piece_len <= 1 {
            if !converted.trim().is_empty() {
                rendered.push(converted);
            }
            continue;
        }
        let proportional = (piece_len as u128 * limit as u128 / converted_len as u128) as usize;
        // A little under proportional, so most pieces fit on the first retry.
        let smaller = (proportional - proportional / 16).clamp(1, piece_len - 1);
        let mut parts = split_markdown(&piece, smaller);
        parts.reverse();
        pending.extend(parts);
    }
    rendered
}

/// Display width of a character in a monospace block: 0 for combining marks and joiners, 2 for
/// East Asian wide characters and emoji, 1 otherwise.
pub(crate) fn char_width(c: char) -> usize {
    if is_extend(c) || c.is_control() {
        return 0;
    }
    let wide = matches!(c as u32,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x1FA70..=0x1FAFF
        | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// Characters that attach to the one before them (combining marks, variation selectors, joiners,
/// emoji modifiers and tags): a cut before one would split what the reader sees as one glyph.
fn is_extend(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F
        | 0x0483..=0x0489
        | 0x0591..=0x05BD
        | 0x0610..=0x061A
        | 0x064B..=0x065F
        | 0x0670
        | 0x0900..=0x0903
        | 0x093A..=0x094F
        | 0x0E31
        | 0x0E34..=0x0E3A
        | 0x0E47..=0x0E4E
        | 0x1160..=0x11FF
        | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF
        | 0x200C..=0x200D
        | 0x20D0..=0x20FF
        | 0x3099..=0x309A
        | 0xFE00..=0xFE0F
        | 0xFE20..=0xFE2F
        | 0x1F3FB..=0x1F3FF
        | 0xE0020..=0xE007F
        | 0xE0100..=0xE01EF)
}

fn is_regional_indicator(c: char) -> bool {
    matches!(c as u32, 0x1F1E6..=0x1F1FF)
}

/// Whether a cut between `prev` and `next` keeps grapheme clusters whole; `regional_run` is how
/// many regional indicators end at `prev` (flags are pairs of them).
fn breakable(prev: char, next: char, regional_run: usize) -> bool {
    !(prev == '\r' && next == '\n'
        || prev == '\u{200D}'
        || is_extend(next)
        || is_regional_indicator(prev) && is_regional_indicator(next) && regional_run % 2 == 1)
}

fn skip_whitespace(text: &str, from: usize) -> usize {
    text.len() - text[from..].trim_start().len()
}

/// Where the next chunk starts after a cut inside a code block: a cut between words drops the
/// spaces (the chunk boundary replaces them), a cut at a line start keeps the indentation.
fn resume_in_code(text: &str, cut: usize) -> usize {
    if cut == 0 || text[..cut].ends_with('\n') {
        return cut;
    }
    let after = text[cut..].trim_start_matches([' ', '\t']);
    let after = after.strip_prefix('\n').unwrap_or(after);
    text.len() - after.len()
}

/// A fenced code block of the input.
#[derive(Debug)]
struct Fence {
    /// The opening line without its indentation and line break: how the block is reopened at
    /// the start of a chunk, where the list item it may have been indented for is gone.
    opener: String,
    /// The opening line including its line break.
    open_line: Range<usize>,
    /// A line that closes the block: the opener's indentation (the closing line ends the same
    /// chunk as the opener, inside the same list item) and fence characters.
    close: String,
    /// The closing line including its line break; `None` when the block runs to the end.
    close_line: Option<Range<usize>>,
    /// Whether closing and reopening it fits comfortably in the limit; tiny limits just cut.
    reopenable: bool,
}

impl Fence {
    fn reopen(&self) -> String {
        format!("{}\n", self.opener)
    }

    fn body_end(&self, text_len: usize) -> usize {
        self.close_line.as_ref().map_or(text_len, |l| l.start)
    }
}

/// The boundary kinds, best first.
const PARAGRAPH: usize = 0;
const LINE: usize = 1;
const SENTENCE: usize = 2;
const SPACE: usize = 3;
const HARD: usize = 4;

/// What is known about the whole input before cutting it.
#[derive(Debug)]
struct Doc<'a> {
    text: &'a str,
    fences: Vec<Fence>,
    /// Sorted, disjoint byte ranges a cut should not fall strictly inside.
    avoid: Vec<Range<usize>>,
}

impl<'a> Doc<'a> {
    fn scan(text: &'a str, limit: usize) -> Self {
        let fences = scan_fences(text, limit);
        let mut avoid: Vec<Range<usize>> =
            Parser::new_ext(text, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH)
                .into_offset_iter()
                .filter_map(|(event, range)| match event {
                    Event::Start(
                        Tag::Link { .. }
                        | Tag::Image { .. }
                        | Tag::Emphasis
                        | Tag::Strong
                        | Tag::Strikethrough,
                    )
                    | Event::Code(_) => Some(range),
                    _ => None,
                })
                .collect();
        for fence in &fences {
            let line_content = |line: &Range<usize>| {
                line.start..line.start + text[line.clone()].trim_end_matches(['\n', '\r']).len()
            };
            avoid.push(line_content(&fence.open_line));
            if let Some(close) = &fence.close_line {
                avoid.push(line_content(close));
            }
        }
        avoid.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(avoid.len());
        for range in avoid {
            match merged.last_mut() {
                Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
                _ => merged.push(range),
            }
        }
        Doc {
            text,
            fences,
            avoid: merged,
        }
    }

    fn inside_avoided(&self, b: usize) -> bool {
        let i = self.avoid.partition_point(|r| r.start < b);
        i > 0 && b < self.avoid[i - 1].end
    }

    /// The reopenable fenced block whose body contains the cut `b`.
    fn fence_at(&self, b: usize) -> Option<usize> {
        let i = self.fences.partition_point(|f| f.open_line.end <= b);
        let f = i.checked_sub(1)?;
        let fence = &self.fences[f];
        (fence.reopenable && b <= fence.body_end(self.text.len())).then_some(f)
    }

    fn right_after_opener(&self, b: usize) -> bool {
        let i = self.fences.partition_point(|f| f.open_line.end < b);
        self.fences.get(i).is_some_and(|f| f.open_line.end == b)
    }

    /// Where to end the chunk starting at `pos` so that its body, plus a closing fence if the
    /// cut falls inside a code block, fits in `budget` characters; and that code block.
    fn cut(&self, pos: usize, budget: usize) -> (usize, Option<usize>) {
        let mut window = budget;
        loop {
            let b = self.best_boundary(pos, window);
            let fence = self.fence_at(b);
            let suffix = fence.map_or(0, |f| 1 + self.fences[f].close.chars().count());
            let used = self.text[pos..b].trim_end().chars().count() + suffix;
            if used <= budget || window <= 1 {
                return (b, fence);
            }
            window = (window - 1).min(budget.saturating_sub(suffix)).max(1);
        }
    }

    /// The best boundary within `window` characters after `pos`: the last one of the best kind,
    /// preferring those outside links, code spans and emphasis.
    fn best_boundary(&self, pos: usize, window: usize) -> usize {
        // [preferred, any][kind]
        let mut best = [[None::<usize>; 5]; 2];
        let mut prev: Option<char> = None;
        let mut before_prev: Option<char> = None;
        let mut line_blank = true;
        let mut ended_line_blank = false;
        let mut regional_run = 0;
        let mut last = self.text.len();
        // `count` characters lie between `pos` and the boundary before `next`.
        for (count, (offset, next)) in self.text[pos..].char_indices().enumerate() {
            let b = pos + offset;
            if let Some(p) = prev {
                let kind = if p == '\n' && ended_line_blank {
                    Some(PARAGRAPH)
                } else if p == '\n' {
                    Some(LINE)
                } else if next.is_whitespace()
                    && (".!?…".contains(p)
                        || "\"')]»”’".contains(p) && before_prev.is_some_and(|c| ".!?".contains(c)))
                    || "。！？".contains(p)
                {
                    Some(SENTENCE)
                } else if next.is_whitespace() {
                    Some(SPACE)
                } else if breakable(p, next, regional_run) {
                    Some(HARD)
                } else {
                    None
                };
                if let Some(kind) = kind {
                    best[1][kind] = Some(b);
                    if !self.inside_avoided(b) && !self.right_after_opener(b) {
                        best[0][kind] = Some(b);
                    }
                }
                if count == window {
                    last = b;
                    break;
                }
            }
            if next == '\n' {
                ended_line_blank = line_blank;
                line_blank = true;
            } else if !next.is_whitespace() {
                line_blank = false;
            }
            regional_run = if is_regional_indicator(next) {
                regional_run + 1
            } else {
                0
            };
            before_prev = prev;
            prev = Some(next);
        }
        best.iter()
            .flat_map(|kinds| kinds.iter())
            .find_map(|b| *b)
            .unwrap_or(last)
    }
}

/// Finds fenced code blocks line by line (CommonMark fences; any indentation, so fences in
/// list items count too).
fn scan_fences(text: &str, limit: usize) -> Vec<Fence> {
    struct Open {
        line: Range<usize>,
        opener: String,
        fence_char: char,
        len: usize,
        indent: String,
    }
    fn marker(line: &str) -> Option<(char, usize)> {
        let c = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = line.chars().take_while(|x| *x == c).count();
        (len >= 3).then_some((c, len))
    }
    let finish = |open: Open, close_line: Option<Range<usize>>| {
        let close = format!(
            "{}{}",
            open.indent,
            open.fence_char.to_string().repeat(open.len)
        );
        let overhead = open.opener.chars().count() + 2 + close.chars().count();
        Fence {
            opener: open.opener,
            open_line: open.line,
            close,
            close_line,
            reopenable: overhead * 2 <= limit,
        }
    };
    let mut fences = Vec::new();
    let mut open: Option<Open> = None;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let range = start..start + line.len();
        start = range.end;
        let content = line.trim_end_matches(['\n', '\r']);
        let trimmed = content.trim_start();
        let found = marker(trimmed);
        match (open.take(), found) {
            (None, Some((c, len))) => {
                // A backtick fence's info string cannot contain a backtick (that is inline code).
                if c == '`' && trimmed[len..].contains('`') {
                    continue;
                }
                open = Some(Open {
                    line: range,
                    opener: trimmed.trim_end().to_owned(),
                    fence_char: c,
                    len,
                    indent: content[..content.len() - trimmed.len()].to_owned(),
                });
            }
            (Some(o), Some((c, len)))
                if c == o.fence_char && len >= o.len && trimmed[len..].trim().is_empty() =>
            {
                fences.push(finish(o, Some(range)));
            }
            (still_open, _) => open = still_open,
        }
    }
    if let Some(o) = open {
        fences.push(finish(o, None));
    }
    fences
}

/// Deterministic generators for the property-style tests of this module and [`crate::format`].
#[cfg(test)]
pub(crate) mod testgen {
    /// xorshift64*: small, seedable, no dependency.
    #[derive(Debug)]
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
        }

        pub(crate) fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
            &items[self.below(items.len())]
        }
    }

    const SPECIAL_WORDS: [&str; 8] = [
        "🎉",
        "👍🏽",
        "🇫🇷🇩🇪",
        "漢字",
        "テスト",
        "e\u{301}te\u{301}",
        "naïve",
        "👨\u{200D}👩\u{200D}👧",
    ];

    /// A word without any Markdown meaning: ASCII letters, emoji, CJK, combining marks.
    pub(crate) fn word(rng: &mut Rng) -> String {
        if rng.below(8) == 0 {
            return (*rng.pick(&SPECIAL_WORDS)).to_owned();
        }
        let len = 1 + rng.below(8);
        (0..len)
            .map(|_| char::from(b'a' + rng.below(26) as u8))
            .collect()
    }

    /// Words joined into one line, some of them decorated with inline Markdown.
    fn inline(rng: &mut Rng, n: usize, words: &mut Vec<String>, decorate: bool) -> String {
        let mut out = String::new();
        for i in 0..n {
            let w = word(rng);
            if i > 0 {
                out.push_str(match rng.below(12) {
                    0 => ". ",
                    1 => "! ",
                    _ => " ",
                });
            }
            let shown = match rng.below(if decorate { 12 } else { 1 }) {
                1 => format!("**{w}**"),
                2 => format!("*{w}*"),
                3 => format!("`{w}`"),
                4 if w.is_ascii() => format!("[{w}](https://example.com/{w})"),
                5 => format!("~~{w}~~"),
                _ => w.clone(),
            };
            out.push_str(&shown);
            words.push(w);
        }
        out
    }

    /// A Markdown document of paragraphs, headings, lists, code, quotes and tables, and the
    /// words it contains, in order.
    pub(crate) fn document(rng: &mut Rng) -> (String, Vec<String>) {
        let mut words = Vec::new();
        let mut blocks = Vec::new();
        for _ in 0..1 + rng.below(10) {
            let block = match rng.below(7) {
                0 | 1 => {
                    let lines: Vec<String> = (0..1 + rng.below(4))
                        .map(|_| {
                            let n = 1 + rng.below(25);
                            inline(rng, n, &mut words, true)
                        })
                        .collect();
                    lines.join("\n")
                }
                2 => {
                    let n = 1 + rng.below(5);
                    format!("## {}", inline(rng, n, &mut words, true))
                }
                3 => {
                    let items: Vec<String> = (0..1 + rng.below(6))
                        .map(|_| {
                            let indent = if rng.below(3) == 0 { "  " } else { "" };
                            let n = 1 + rng.below(8);
                            format!("{indent}- {}", inline(rng, n, &mut words, true))
                        })
                        .collect();
                    items.join("\n")
                }
                4 => {
                    let fence = *rng.pick(&["```rust", "```", "~~~~py"]);
                    let close =
                        &fence[..fence.chars().take_while(|c| *c == '`' || *c == '~').count()];
                    let lines: Vec<String> = (0..1 + rng.below(20))
                        .map(|_| {
                            let n = 1 + rng.below(6);
                            let indent = " ".repeat(rng.below(3) * 2);
                            format!("{indent}{}", inline(rng, n, &mut words, false))
                        })
                        .collect();
                    format!("{fence}\n{}\n{close}", lines.join("\n"))
                }
                5 => {
                    let lines: Vec<String> = (0..1 + rng.below(4))
                        .map(|_| {
                            let n = 1 + rng.below(10);
                            format!("> {}", inline(rng, n, &mut words, true))
                        })
                        .collect();
                    lines.join("\n")
                }
                _ => {
                    let mut rows = vec!["| a | b |".to_owned(), "|---|---|".to_owned()];
                    for _ in 0..1 + rng.below(4) {
                        let a = word(rng);
                        let b = word(rng);
                        rows.push(format!("| {a} | {b} |"));
                        words.push(a);
                        words.push(b);
                    }
                    rows.join("\n")
                }
            };
            blocks.push(block);
        }
        (blocks.join("\n\n"), words)
    }

    const NASTY: [&str; 44] = [
        "a < b",
        "&&",
        " > ",
        "<script>",
        "</div>",
        "**",
        "*",
        "_",
        "__",
        "~~",
        "`",
        "```",
        "```py\n",
        "\n",
        "\n\n",
        "- ",
        "1. ",
        "> ",
        "# ",
        "[",
        "](",
        ")",
        "http://x.io/",
        "|",
        "---",
        "\\",
        "&amp;",
        "&",
        "\"",
        "'",
        "<b>",
        "<a href=\"x\">",
        "word",
        "漢字",
        "🎉",
        "👍🏽",
        "| a | b |\n|---|---|\n",
        "  ",
        "\t",
        "<!-- c -->",
        "<https://x.io>",
        "![i](",
        "[x]: http://ref\n",
        "[x]",
    ];

    /// Random fragments that are awkward for a Markdown converter.
    pub(crate) fn nasty_markdown(rng: &mut Rng) -> String {
        (0..1 + rng.below(60)).map(|_| *rng.pick(&NASTY)).collect()
    }

    /// Whether `words` all occur in `text`, in order.
    pub(crate) fn in_order(text: &str, words: &[String]) -> Result<(), String> {
        let mut from = 0;
        for w in words {
            match text[from..].find(w.as_str()) {
                Some(i) => from += i + w.len(),
                None => return Err(format!("{w:?} missing after byte {from}")),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::testgen::{Rng, document, in_order};
    use super::*;

    fn len(s: &str) -> usize {
        s.chars().count()
    }

    fn fence_lines(chunk: &str) -> usize {
        chunk
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                t.starts_with("```") || t.starts_with("~~~")
            })
            .count()
    }

    #[test]
    fn empty_and_blank_input_give_no_chunks() {
        assert!(split_markdown("", 10).is_empty());
        assert!(split_markdown(" \n\n\t ", 10).is_empty());
        assert!(render_chunks("", 10, str::to_owned).is_empty());
        assert!(render_chunks("  \n", 10, str::to_owned).is_empty());
    }

    #[test]
    fn short_input_is_one_trimmed_chunk() {
        assert_eq!(split_markdown("\n  hello world \n", 100), ["hello world"]);
        assert_eq!(split_markdown("exactly10!", 10), ["exactly10!"]);
    }

    #[test]
    fn boundaries_in_order_of_preference() {
        let cases: &[(&str, usize, &[&str])] = &[
            // A blank line beats a later line break.
            (
                "aaaa bbbb\n\ncccc\ndddd eeee",
                20,
                &["aaaa bbbb", "cccc\ndddd eeee"],
            ),
            // A line break beats a later sentence end.
            (
                "One two three\nfour. five six",
                20,
                &["One two three", "four. five six"],
            ),
            (
                "One. Two three\nfour five six",
                20,
                &["One. Two three", "four five six"],
            ),
            // A sentence end beats a later space.
            (
                "First one. Second sentence here",
                20,
                &["First one.", "Second sentence here"],
            ),
            (
                "He said \"stop!\" Then left quickly",
                20,
                &["He said \"stop!\"", "Then left quickly"],
            ),
            ("Really? Yes it is so", 12, &["Really?", "Yes it is so"]),
            // Full-width sentence ends need no space after them.
            (
                "这是第一句。这是第二句。这是第三句。",
                13,
                &["这是第一句。这是第二句。", "这是第三句。"],
            ),
            // A space beats a hard cut.
            ("alpha beta gamma delta", 12, &["alpha beta", "gamma delta"]),
            ("alpha\tbeta", 7, &["alpha", "beta"]),
            // Hard cuts only when nothing else is there.
            (
                "abcdefghijklmnopqrstuvwxyz",
                10,
                &["abcdefghij", "klmnopqrst", "uvwxyz"],
            ),
            ("漢字漢字漢字漢字", 3, &["漢字漢", "字漢字", "漢字"]),
            // Chunk edges are trimmed.
            ("  one   \n\n\n   two  ", 5, &["one", "two"]),
        ];
        for (input, limit, want) in cases {
            assert_eq!(split_markdown(input, *limit), *want, "{input:?} at {limit}");
        }
    }

    #[test]
    fn links_and_code_spans_are_not_cut_when_avoidable() {
        assert_eq!(
            split_markdown("look at [the docs](https://e.io) now", 30),
            ["look at", "[the docs](https://e.io) now"]
        );
        assert_eq!(
            split_markdown("run `cargo test --all` now", 20),
            ["run", "`cargo test --all`", "now"]
        );
        assert_eq!(
            split_markdown("a **very bold claim** here", 15),
            ["a", "**very bold", "claim** here"],
            "an emphasis longer than the limit is cut like plain text"
        );
        // A link longer than the limit has to be cut.
        let chunks = split_markdown("[abcdefghij](https://example.com/xyz)", 12);
        assert!(chunks.iter().all(|c| len(c) <= 12));
        assert_eq!(chunks.concat(), "[abcdefghij](https://example.com/xyz)");
    }

    #[test]
    fn grapheme_clusters_stay_whole() {
        let cases: &[(&str, usize, &str)] = &[
            ("👍🏽", 3, "skin tone"),
            ("🇫🇷", 3, "flag"),
            ("e\u{301}", 3, "combining accent"),
            ("👨\u{200D}👩\u{200D}👧", 6, "zero-width joiner"),
            ("1\u{FE0F}\u{20E3}", 4, "keycap"),
            ("a\r\n", 1, "crlf"),
        ];
        for (cluster, limit, what) in cases {
            let input = cluster.repeat(7);
            let chunks = split_markdown(&input, *limit);
            assert!(!chunks.is_empty(), "{what}");
            for chunk in &chunks {
                assert!(len(chunk) <= *limit, "{what}: {chunk:?}");
                let trimmed = cluster.trim_end();
                assert!(
                    chunk.split(trimmed).all(str::is_empty) || cluster.ends_with('\n'),
                    "{what}: {chunk:?} is not whole clusters"
                );
            }
        }
        // A cluster longer than the limit is cut anyway: progress beats perfection.
        let family = "👨\u{200D}👩\u{200D}👧";
        let chunks = split_markdown(family, 3);
        assert_eq!(chunks.concat(), family);
    }

    #[test]
    fn a_cut_code_block_is_closed_and_reopened_with_its_language() {
        let code: String = (1..=30).map(|i| format!("let v{i} = {i};\n")).collect();
        let md = format!("Intro text.\n\n```rust\n{code}```\n\nOutro.");
        let chunks = split_markdown(&md, 80);
        assert!(chunks.len() > 4, "{chunks:#?}");
        assert_eq!(chunks[0], "Intro text.");
        let last = chunks.len() - 1;
        assert!(chunks[last].ends_with("\n```\n\nOutro."), "{chunks:#?}");
        for chunk in &chunks[1..] {
            assert!(len(chunk) <= 80, "{chunk:?}");
            assert!(chunk.starts_with("```rust\n"), "{chunk:?}");
            assert_eq!(fence_lines(chunk), 2, "{chunk:?}");
        }
        for chunk in &chunks[1..last] {
            assert!(chunk.ends_with("\n```"), "{chunk:?}");
        }
        let lines: Vec<String> = chunks[1..]
            .iter()
            .flat_map(|c| {
                c.lines()
                    .filter(|l| l.starts_with("let"))
                    .map(str::to_owned)
            })
            .collect();
        let want: Vec<String> = (1..=30).map(|i| format!("let v{i} = {i};")).collect();
        assert_eq!(lines, want);
    }

    #[test]
    fn reopened_fences_keep_their_kind_and_length() {
        let body = "x = 1  # ```` not a fence\n".repeat(12);
        let md = format!("~~~~python\n{body}~~~~");
        let chunks = split_markdown(&md, 70);
        assert!(chunks.len() > 2);
        for chunk in &chunks {
            assert!(len(chunk) <= 70);
            assert!(chunk.starts_with("~~~~python\n"), "{chunk:?}");
            assert!(chunk.ends_with("\n~~~~"), "{chunk:?}");
        }
    }

    #[test]
    fn fences_in_list_items_close_indented_and_reopen_flush() {
        let body = "  echo step\n".repeat(10);
        let md = format!("- install:\n  ```sh\n{body}  ```\n- done");
        let chunks = split_markdown(&md, 60);
        assert!(
            chunks[0].starts_with("- install:\n  ```sh\n"),
            "{chunks:#?}"
        );
        assert!(chunks[0].ends_with("\n  ```"), "{chunks:#?}");
        assert!(chunks[1].starts_with("```sh\n  echo step"), "{chunks:#?}");
        for chunk in &chunks {
            assert_eq!(chunk.trim(), chunk);
            assert!(len(chunk) <= 60);
        }
    }

    #[test]
    fn no_empty_code_blocks_at_chunk_edges() {
        // The closing fence alone would have spilled into the next chunk.
        let md = format!("```\n{}\n```\nafter", "word ".repeat(9).trim_end());
        for limit in 20..80 {
            for chunk in split_markdown(&md, limit) {
                let inner: Vec<&str> = chunk.lines().filter(|l| !l.starts_with("```")).collect();
                assert!(
                    !inner.is_empty() || !chunk.starts_with("```"),
                    "empty block {chunk:?} at {limit}"
                );
            }
        }
    }

    #[test]
    fn unclosed_fences_are_closed_in_every_chunk() {
        let md = format!("```js\n{}", "console.log(1);\n".repeat(10));
        for chunk in split_markdown(&md, 50) {
            assert!(chunk.starts_with("```js\n"), "{chunk:?}");
            assert!(len(&chunk) <= 50);
        }
    }

    #[test]
    fn tiny_limits_still_make_progress() {
        let md = "```rust\nfn main() {}\n```\n[a](https://b.c) **x** 👍🏽 漢字";
        for limit in 0..12 {
            let chunks = split_markdown(md, limit);
            assert!(
                chunks
                    .iter()
                    .all(|c| len(c) <= limit.max(1) && !c.is_empty())
            );
            let joined: String = chunks.concat();
            let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            assert_eq!(squeeze(&joined), squeeze(md), "at {limit}");
        }
    }

    #[test]
    fn generated_documents_split_within_limits_keeping_every_word() {
        let mut rng = Rng::new(7);
        for round in 0..300 {
            let (md, words) = document(&mut rng);
            for limit in [40, 64, 100, 257, 1000] {
                let chunks = split_markdown(&md, limit);
                for chunk in &chunks {
                    assert!(len(chunk) <= limit, "round {round}, {limit}: {chunk:?}");
                    assert!(!chunk.is_empty());
                    assert_eq!(chunk.trim(), chunk, "round {round}");
                    assert_eq!(
                        fence_lines(chunk) % 2,
                        0,
                        "round {round}, {limit}: {chunk:?}"
                    );
                }
                in_order(&chunks.concat(), &words)
                    .unwrap_or_else(|e| panic!("round {round}, limit {limit}: {e}\n{md}"));
            }
        }
    }

    #[test]
    fn render_splits_again_when_conversion_grows_the_text() {
        let md = "< & > ".repeat(50);
        let escape = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let chunks = render_chunks(&md, 40, escape);
        assert!(chunks.len() > 1);
        for chunk in &chunks {
            assert!(len(chunk) <= 40, "{chunk:?}");
        }
        let back: String = chunks
            .concat()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        assert_eq!(squeeze(&back), squeeze(&md));
    }

    #[test]
    fn render_terminates_even_when_growth_is_extreme() {
        let md = "word ".repeat(200);
        // Every character becomes ten.
        let explode = |s: &str| s.chars().flat_map(|c| std::iter::repeat_n(c, 10)).collect();
        let chunks = render_chunks(&md, 35, explode);
        assert!(chunks.iter().all(|c| len(c) <= 35));
        let count: usize = chunks.iter().map(|c| c.matches("wwwwwwwwww").count()).sum();
        assert_eq!(count, 200);
        // A single character that can never fit is returned rather than lost.
        assert_eq!(render_chunks("x", 3, explode), ["xxxxxxxxxx"]);
    }

    #[test]
    fn render_drops_chunks_that_convert_to_nothing() {
        assert_eq!(
            render_chunks("a\n\nb", 2, |s| if s == "a" {
                String::new()
            } else {
                s.to_owned()
            }),
            ["b"]
        );
    }
}
