//! HTML to readable text for `web_fetch`.
//!
//! A small converter over `html5gum`'s tokenizer, not a browser: scripts, styles, navigation
//! and other chrome are dropped; headings become `#` lines, paragraphs and blocks are separated
//! by blank lines, list items become `- ` lines, and links keep their target as
//! `text (url)`, resolved against the page's URL.

use html5gum::{DefaultEmitter, Token, Tokenizer};
use reqwest::Url;

/// Elements whose content is never text for a reader.
const SKIPPED: &[&str] = &[
    "script", "style", "nav", "noscript", "template", "svg", "iframe", "object", "canvas",
    "select", "button",
];

/// Elements that start and end a block of text.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "article",
    "main",
    "header",
    "footer",
    "aside",
    "blockquote",
    "pre",
    "table",
    "tr",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "figure",
    "figcaption",
    "address",
    "details",
    "summary",
    "hr",
];

struct Writer {
    out: String,
    /// Text so far ended in whitespace: the next word needs a space before it.
    pending_space: bool,
    /// Depth inside skipped elements.
    skipping: usize,
    in_pre: usize,
    in_title: bool,
    title: String,
    lists: usize,
    /// The open link's target and where its text starts in `out`.
    link: Option<(String, usize)>,
}

impl Writer {
    fn text(&mut self, text: &str) {
        if self.in_title {
            self.title.push_str(text);
            return;
        }
        if self.skipping > 0 {
            return;
        }
        if self.in_pre > 0 {
            self.out.push_str(text);
            return;
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        if words.is_empty() {
            self.pending_space |= !text.is_empty();
            return;
        }
        let at_line_start = self.out.is_empty() || self.out.ends_with('\n');
        if (self.pending_space || text.starts_with(char::is_whitespace))
            && !at_line_start
            && !self.out.ends_with(' ')
        {
            self.out.push(' ');
        }
        self.out.push_str(&words.join(" "));
        self.pending_space = text.ends_with(char::is_whitespace);
    }

    /// Ends the current line and leaves `n` line breaks (1: new line, 2: blank line).
    fn breaks(&mut self, n: usize) {
        self.pending_space = false;
        while self.out.ends_with(' ') {
            self.out.pop();
        }
        if self.out.is_empty() {
            return;
        }
        let have = self.out.len() - self.out.trim_end_matches('\n').len();
        for _ in have..n {
            self.out.push('\n');
        }
    }
}

/// The readable text of an HTML page; `base` resolves relative links.
pub(crate) fn html_to_text(html: &str, base: Option<&Url>) -> String {
    let mut emitter = DefaultEmitter::default();
    // Switches the tokenizer to raw text inside <script>, <style> and the like, so their
    // content is not read as markup.
    emitter.naively_switch_states(true);
    let mut w = Writer {
        out: String::new(),
        pending_space: false,
        skipping: 0,
        in_pre: 0,
        in_title: false,
        title: String::new(),
        lists: 0,
        link: None,
    };
    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::StartTag(tag) => {
                let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
                if name == "title" {
                    w.in_title = !tag.self_closing;
                    continue;
                }
                if SKIPPED.contains(&name.as_str()) {
                    if !tag.self_closing {
                        w.skipping += 1;
                    }
                    continue;
                }
                if w.skipping > 0 {
                    continue;
                }
                match name.as_str() {
                    "br" => w.breaks(1),
                    "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                        w.breaks(2);
                        let level = usize::from(name.as_bytes()[1] - b'0');
                        w.out.push_str(&"#".repeat(level));
                        w.out.push(' ');
                    }
                    "li" => {
                        w.breaks(1);
                        w.out.push_str(&"  ".repeat(w.lists.saturating_sub(1)));
                        w.out.push_str("- ");
                    }
                    "ul" | "ol" => {
                        w.breaks(if w.lists == 0 { 2 } else { 1 });
                        w.lists += 1;
                    }
                    "pre" => {
                        w.breaks(2);
                        w.in_pre += 1;
                    }
                    "td" | "th" if !w.out.ends_with('\n') && !w.out.is_empty() => {
                        w.out.push_str(" | ");
                    }
                    "a" => {
                        let href = tag
                            .attributes
                            .get(b"href".as_slice())
                            .map(|v| String::from_utf8_lossy(v).trim().to_owned())
                            .unwrap_or_default();
                        w.link = Some((href, w.out.len()));
                    }
                    "img" => {
                        if let Some(alt) = tag.attributes.get(b"alt".as_slice()) {
                            let alt = String::from_utf8_lossy(alt).trim().to_owned();
                            if !alt.is_empty() {
                                w.text(&format!(" [image: {alt}]"));
                            }
                        }
                    }
                    other if BLOCKS.contains(&other) => w.breaks(2),
                    _ => {}
                }
            }
            Token::EndTag(tag) => {
                let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
                if name == "title" {
                    w.in_title = false;
                    continue;
                }
                if SKIPPED.contains(&name.as_str()) {
                    w.skipping = w.skipping.saturating_sub(1);
                    continue;
                }
                if w.skipping > 0 {
                    continue;
                }
                match name.as_str() {
                    "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => w.breaks(2),
                    "li" => w.breaks(1),
                    "ul" | "ol" => {
                        w.lists = w.lists.saturating_sub(1);
                        w.breaks(if w.lists == 0 { 2 } else { 1 });
                    }
                    "pre" => {
                        w.in_pre = w.in_pre.saturating_sub(1);
                        w.breaks(2);
                    }
                    "a" => {
                        if let Some((href, start)) = w.link.take() {
                            let text = w.out.get(start..).unwrap_or_default().trim().to_owned();
                            if let Some(url) = link_target(&href, base)
                                && !text.is_empty()
                                && text != url
                            {
                                w.out.push_str(&format!(" ({url})"));
                            }
                        }
                    }
                    other if BLOCKS.contains(&other) => w.breaks(2),
                    _ => {}
                }
            }
            Token::String(text) => {
                let text = String::from_utf8_lossy(&text);
                w.text(&text);
            }
            Token::Comment(_) | Token::Doctype(_) | Token::Error(_) => {}
        }
    }
    let body = tidy(&w.out);
    let title = w.title.split_whitespace().collect::<Vec<_>>().join(" ");
    if title.is_empty() {
        body
    } else {
        format!("Title: {title}\n\n{body}")
    }
}

/// A link's absolute target, or `None` for in-page anchors and scripts.
fn link_target(href: &str, base: Option<&Url>) -> Option<String> {
    if href.is_empty() || href.starts_with('#') {
        return None;
    }
    let url = match base {
        Some(base) => base.join(href).ok()?,
        None => Url::parse(href).ok()?,
    };
    matches!(url.scheme(), "http" | "https" | "mailto").then(|| url.to_string())
}

/// Trims line ends and keeps at most one blank line in a row.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_become_readable_text() {
        let html = r##"<!doctype html>
<html><head><title>The  Page</title><style>body { color: red }</style>
<script>var x = "<p>not text</p>";</script></head>
<body>
<nav><a href="/home">Home</a> <a href="/about">About</a></nav>
<h1>Main   heading</h1>
<p>First paragraph with a <a href="/docs/intro">link to the intro</a> and
   <b>bold</b> text &amp; an entity.</p>
<h2>List</h2>
<ul><li>one</li><li>two <a href="#top">top</a></li>
  <li>nested<ul><li>inner</li></ul></li></ul>
<pre>  keep
    spacing</pre>
<div>Last<br>line</div>
<script>alert("x")</script>
</body></html>"##;
        let base = Url::parse("https://example.com/page").unwrap();
        let text = html_to_text(html, Some(&base));
        let expected = [
            "Title: The Page",
            "",
            "# Main heading",
            "",
            "First paragraph with a link to the intro (https://example.com/docs/intro) and bold text & an entity.",
            "",
            "## List",
            "",
            "- one",
            "- two top",
            "- nested",
            "  - inner",
            "",
            "  keep",
            "    spacing",
            "",
            "Last",
            "line",
        ];
        assert_eq!(text, expected.join("\n"));
        assert!(!text.contains("alert") && !text.contains("color") && !text.contains("About"));
    }

    #[test]
    fn links_without_a_useful_target_keep_their_text() {
        let text = html_to_text(
            r#"<p><a href="javascript:void(0)">click</a> <a href="https://x.org/">https://x.org/</a></p>"#,
            None,
        );
        assert_eq!(text, "click https://x.org/");
    }
}
