//! Markdown from the model as each platform's markup.
//!
//! The model writes CommonMark with GitHub's tables, strikethrough and task lists. Every platform
//! renders a different, smaller dialect, so each converter parses the Markdown once with
//! `pulldown-cmark` and writes only what its platform understands: Telegram's HTML subset,
//! Slack's `mrkdwn`, Discord's Markdown, Matrix's `org.matrix.custom.html`, and plain text.
//! Anything that was literal text in the input (raw HTML included) stays literal: it is escaped
//! the platform's way, never passed through as markup, and the HTML outputs are always
//! well-formed (Telegram refuses a message with unbalanced tags).
//!
//! The four chat-text dialects (Telegram, Slack, Discord, plain) are line-oriented: blocks become
//! lines with prefixes ("> ", bullets, indentation), so they share one writer ([`LineWriter`])
//! parameterised by [`Flavor`]. Matrix gets real block HTML from [`HtmlWriter`].
//! [`crate::split`] cuts long answers into chunks before they come here.

use pulldown_cmark::{
    Alignment, CodeBlockKind, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd,
    TextMergeStream,
};

use crate::split::char_width;

/// Telegram `parse_mode: "HTML"`: only `<b> <i> <s> <code> <pre> <a> <blockquote>` are
/// produced; headings become bold lines, lists "• " / "1. " lines, tables a `<pre>` block.
pub fn telegram_html(markdown: &str) -> String {
    LineWriter::new(Flavor::Telegram).render(markdown)
}

/// Slack `mrkdwn`: `*bold*`, `_italic_`, `~strike~`, `<url|text>`, "> " quotes, "• " bullets;
/// `&`, `<`, `>` escaped as Slack requires.
pub fn slack_mrkdwn(markdown: &str) -> String {
    LineWriter::new(Flavor::Slack).render(markdown)
}

/// Discord's Markdown dialect: headings down to `###` (deeper ones bold), masked links, fences
/// with language; tables become code blocks, images links; literal text is backslash-escaped
/// where Discord would otherwise read it as markup.
pub fn discord_markdown(markdown: &str) -> String {
    LineWriter::new(Flavor::Discord).render(markdown)
}

/// Matrix `org.matrix.custom.html` `formatted_body`.
pub fn matrix_html(markdown: &str) -> String {
    HtmlWriter::default().render(markdown)
}

/// Plain text (Matrix `body`, notifications): no emphasis markers, links as "text (url)",
/// code kept verbatim.
pub fn plain_text(markdown: &str) -> String {
    LineWriter::new(Flavor::Plain).render(markdown)
}

fn events(markdown: &str) -> impl Iterator<Item = Event<'_>> {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    // Merged text keeps escaping decisions that look at neighbours (Discord's `_`) stable.
    TextMergeStream::new(Parser::new_ext(markdown, options))
}

/// Schemes every platform accepts in a link; anything else (relative paths, `javascript:`)
/// is shown as text so no platform refuses the message or opens something surprising.
fn linkable(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    ["http://", "https://", "mailto:", "ftp://", "tg://"]
        .iter()
        .any(|scheme| lower.starts_with(scheme) && lower.len() > scheme.len())
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn escape_html(text: &str, quotes: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// The language of a fence's info string, restricted to characters that are safe in a class
/// attribute or after Discord's fence.
fn code_language(kind: &CodeBlockKind<'_>) -> String {
    match kind {
        CodeBlockKind::Fenced(info) => info
            .split_whitespace()
            .next()
            .unwrap_or("")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || "_+#.-".contains(*c))
            .collect(),
        CodeBlockKind::Indented => String::new(),
    }
}

/// A triple backtick inside code would end Slack's and Discord's code block early; a
/// zero-width space keeps it visible and inert.
fn defuse_fences(code: &str) -> String {
    code.replace("```", "`\u{200B}``")
}

fn task_marker(done: bool) -> &'static str {
    if done { "☑ " } else { "☐ " }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Telegram,
    Slack,
    Discord,
    Plain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Bold = 0,
    Italic = 1,
    Strike = 2,
}

impl Flavor {
    fn markers(self, style: Style) -> (&'static str, &'static str) {
        match (self, style) {
            (Flavor::Telegram, Style::Bold) => ("<b>", "</b>"),
            (Flavor::Telegram, Style::Italic) => ("<i>", "</i>"),
            (Flavor::Telegram, Style::Strike) => ("<s>", "</s>"),
            (Flavor::Slack, Style::Bold) => ("*", "*"),
            (Flavor::Slack, Style::Italic) => ("_", "_"),
            (Flavor::Slack, Style::Strike) => ("~", "~"),
            (Flavor::Discord, Style::Bold) => ("**", "**"),
            (Flavor::Discord, Style::Italic) => ("*", "*"),
            (Flavor::Discord, Style::Strike) => ("~~", "~~"),
            (Flavor::Plain, _) => ("", ""),
        }
    }

    fn bullet(self) -> &'static str {
        match self {
            Flavor::Discord => "- ",
            _ => "• ",
        }
    }

    /// Literal text as this dialect needs it; `line_start` says nothing precedes it on its line
    /// (Discord reads `#`, `>`, `-` and `1.` there as structure).
    fn escape(self, text: &str, line_start: bool) -> String {
        match self {
            Flavor::Telegram => escape_html(text, false),
            Flavor::Slack => text
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;"),
            Flavor::Discord => escape_discord(text, line_start),
            Flavor::Plain => text.to_owned(),
        }
    }
}

/// Backslash-escapes what Discord would read as markup. URLs are left alone so Discord still
/// links them, and `_` inside a word (which Discord never reads as emphasis) stays bare.
fn escape_discord(text: &str, line_start: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    if line_start {
        let lead = chars.iter().take_while(|c| **c == ' ').count();
        out.extend(&chars[..lead]);
        i = lead;
        match chars.get(i) {
            Some('#' | '>' | '-' | '+') => out.push('\\'),
            Some(c) if c.is_ascii_digit() => {
                let digits = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                if matches!(chars.get(i + digits), Some('.' | ')'))
                    && chars.get(i + digits + 1).is_none_or(|c| c.is_whitespace())
                {
                    out.extend(&chars[i..i + digits]);
                    out.push('\\');
                    i += digits;
                }
            }
            _ => {}
        }
    }
    while i < chars.len() {
        let c = chars[i];
        let word_start = i == 0 || chars[i - 1].is_whitespace();
        if word_start && (c == 'h' || c == 'H') {
            let rest: String = chars[i..chars.len().min(i + 8)].iter().collect();
            let lower = rest.to_ascii_lowercase();
            if lower.starts_with("http://") || lower.starts_with("https://") {
                while i < chars.len() && !chars[i].is_whitespace() {
                    out.push(chars[i]);
                    i += 1;
                }
                continue;
            }
        }
        match c {
            '\\' | '*' | '`' | '|' | '~' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '_' => {
                let inside_word = i > 0
                    && chars[i - 1].is_alphanumeric()
                    && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
                if !inside_word {
                    out.push('\\');
                }
                out.push('_');
            }
            // `<@id>`, `<#id>`, `<t:…>`, `<:emoji:id>` are Discord syntax.
            '<' if chars.get(i + 1).is_some_and(|n| !n.is_whitespace()) => out.push_str("\\<"),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// The writer's position, to take back an opening marker.
#[derive(Debug)]
struct Mark {
    len: usize,
    gap: Gap,
    at_line_start: bool,
    line_has_text: bool,
    /// The list markers not yet written, one entry per container.
    markers: Vec<Option<String>>,
}

/// What separates the next output from what came before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Gap {
    None,
    Line,
    Blank,
}

/// A block that prefixes each of its lines.
#[derive(Debug)]
enum Container {
    Quote,
    /// A list item: its marker goes on its first line, later lines are indented by its width.
    Item {
        width: usize,
        marker: Option<String>,
    },
}

#[derive(Debug)]
enum LinkFrame {
    /// Telegram `<a>` is open; `body` is where its text starts.
    Anchor {
        body: usize,
        image: bool,
        url: String,
    },
    /// The link's text is written from `start` and rewritten at its end.
    Capture {
        start: usize,
        image: bool,
        url: String,
    },
    /// Only the text is kept (an image inside a link, an e-mail address on Discord).
    TextOnly,
}

#[derive(Debug, Default)]
struct Table {
    aligns: Vec<Alignment>,
    rows: Vec<Vec<String>>,
    head_rows: usize,
}

impl Table {
    fn cell(&mut self) -> Option<&mut String> {
        self.rows.last_mut().and_then(|row| row.last_mut())
    }

    /// The table as aligned monospace text (it goes into a code block).
    fn layout(&self) -> String {
        let cols = self
            .rows
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
            .max(self.aligns.len());
        let width = |s: &str| s.chars().map(char_width).sum::<usize>();
        let mut widths = vec![1; cols];
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(width(cell.trim()));
            }
        }
        let separator = widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("-+-");
        let mut lines = Vec::new();
        for (r, row) in self.rows.iter().enumerate() {
            if r == self.head_rows && r > 0 {
                lines.push(separator.clone());
            }
            let cells: Vec<String> = (0..cols)
                .map(|i| {
                    let text = row.get(i).map_or("", |c| c.trim());
                    let pad = widths[i].saturating_sub(width(text));
                    let (left, right) = match self.aligns.get(i) {
                        Some(Alignment::Right) => (pad, 0),
                        Some(Alignment::Center) => (pad / 2, pad - pad / 2),
                        _ => (0, pad),
                    };
                    format!("{}{text}{}", " ".repeat(left), " ".repeat(right))
                })
                .collect();
            lines.push(cells.join(" | ").trim_end().to_owned());
        }
        if self.head_rows > 0 && self.head_rows == self.rows.len() {
            lines.push(separator);
        }
        lines.join("\n")
    }
}

/// The writer shared by the line-oriented dialects.
#[derive(Debug)]
struct LineWriter {
    flavor: Flavor,
    out: String,
    gap: Gap,
    /// Nothing, not even the line prefix, has been written on the current line.
    at_line_start: bool,
    /// Something after the line prefix has been written on the current line.
    line_has_text: bool,
    /// The last line prefix written included a "> " quote marker.
    prev_line_quoted: bool,
    /// Where Telegram's `<blockquote>` tag ended: a separator right after it would show as an
    /// empty first line of the quote.
    quote_opened_at: Option<usize>,
    containers: Vec<Container>,
    /// Next number of each open list (`None`: bullets).
    lists: Vec<Option<u64>>,
    styles: [usize; 3],
    /// Styles with an open marker, in the order they were opened.
    open_styles: Vec<Style>,
    /// Open heading: its level, the state before it, and where its opening marker ends.
    heading: Option<(HeadingLevel, Mark, usize)>,
    /// Telegram's open `<blockquote>`: the state before it and where the tag ends.
    quote_tag: Option<(Mark, usize)>,
    links: Vec<LinkFrame>,
    table: Option<Table>,
    code: Option<(String, String)>,
}

impl LineWriter {
    fn new(flavor: Flavor) -> Self {
        LineWriter {
            flavor,
            out: String::new(),
            gap: Gap::None,
            at_line_start: true,
            line_has_text: false,
            prev_line_quoted: false,
            quote_opened_at: None,
            containers: Vec::new(),
            lists: Vec::new(),
            styles: [0; 3],
            open_styles: Vec::new(),
            heading: None,
            quote_tag: None,
            links: Vec::new(),
            table: None,
            code: None,
        }
    }

    fn render(mut self, markdown: &str) -> String {
        for event in events(markdown) {
            self.event(event);
        }
        self.out.trim_end().trim_start_matches('\n').to_owned()
    }

    fn gap(&mut self, gap: Gap) {
        self.gap = self.gap.max(gap);
    }

    fn in_quote(&self) -> bool {
        self.containers
            .iter()
            .any(|c| matches!(c, Container::Quote))
    }

    /// Writes the pending separator and, on a fresh line, the line prefix.
    fn begin(&mut self) {
        let mut reopen = false;
        let after_quote_tag = self.quote_opened_at == Some(self.out.len());
        if self.gap != Gap::None && !self.out.is_empty() && !after_quote_tag {
            // Slack's emphasis does not cross lines: close it before the break, reopen after.
            if self.flavor == Flavor::Slack && !self.open_styles.is_empty() {
                for style in self.open_styles.iter().rev() {
                    self.out.push_str(self.flavor.markers(*style).1);
                }
                reopen = true;
            }
            self.out.push('\n');
            // Between two quoted lines a blank line would end the quote on Slack and Discord.
            let within_quote =
                self.flavor != Flavor::Telegram && self.in_quote() && self.prev_line_quoted;
            if self.gap == Gap::Blank && !within_quote {
                self.out.push('\n');
            }
            self.at_line_start = true;
        }
        self.gap = Gap::None;
        if self.at_line_start {
            self.at_line_start = false;
            self.line_has_text = false;
            self.write_prefix();
            if reopen {
                for style in &self.open_styles {
                    self.out.push_str(self.flavor.markers(*style).0);
                }
            }
        }
    }

    fn write_prefix(&mut self) {
        let mut quoted = false;
        // Inside Telegram's quote tag the containers around the quote are already on the line
        // that opened it.
        let inner = match self.flavor {
            Flavor::Telegram => self
                .containers
                .iter()
                .position(|c| matches!(c, Container::Quote))
                .map_or(0, |i| i + 1),
            _ => 0,
        };
        for container in &mut self.containers[inner..] {
            match container {
                Container::Quote => match self.flavor {
                    Flavor::Telegram => {}
                    // Neither Slack nor Discord nests quotes.
                    Flavor::Slack | Flavor::Discord => {
                        if !quoted {
                            self.out.push_str("> ");
                        }
                    }
                    Flavor::Plain => self.out.push_str("> "),
                },
                Container::Item { width, marker } => match marker.take() {
                    Some(marker) => self.out.push_str(&marker),
                    None => self.out.extend(std::iter::repeat_n(' ', *width)),
                },
            }
            quoted |= matches!(container, Container::Quote);
        }
        self.prev_line_quoted = quoted;
    }

    fn mark(&self) -> Mark {
        Mark {
            len: self.out.len(),
            gap: self.gap,
            at_line_start: self.at_line_start,
            line_has_text: self.line_has_text,
            markers: self
                .containers
                .iter()
                .map(|c| match c {
                    Container::Item { marker, .. } => marker.clone(),
                    Container::Quote => None,
                })
                .collect(),
        }
    }

    /// Takes back an opening marker that turned out to enclose nothing, with the separator and
    /// line prefix written before it, so an empty heading or quote leaves no trace.
    fn retract(&mut self, mark: Mark) {
        self.out.truncate(mark.len);
        self.gap = self.gap.max(mark.gap);
        self.at_line_start = mark.at_line_start;
        self.line_has_text = mark.line_has_text;
        for (container, saved) in self.containers.iter_mut().zip(mark.markers) {
            if let Container::Item { marker, .. } = container {
                *marker = saved;
            }
        }
    }

    fn markup(&mut self, markup: &str) {
        self.begin();
        self.out.push_str(markup);
        self.line_has_text = true;
    }

    fn text(&mut self, text: &str) {
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.gap(Gap::Line);
            }
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.is_empty() {
                continue;
            }
            self.begin();
            let escaped = self.flavor.escape(line, !self.line_has_text);
            self.out.push_str(&escaped);
            self.line_has_text = true;
        }
    }

    fn open_style(&mut self, style: Style) {
        if self.styles[style as usize] == 0 {
            self.markup(self.flavor.markers(style).0);
            self.open_styles.push(style);
        }
        self.styles[style as usize] += 1;
    }

    fn close_style(&mut self, style: Style) {
        let depth = &mut self.styles[style as usize];
        *depth = depth.saturating_sub(1);
        if *depth == 0 {
            self.out.push_str(self.flavor.markers(style).1);
            self.open_styles.retain(|s| *s != style);
        }
    }

    fn event(&mut self, event: Event<'_>) {
        if self.table.is_some() {
            self.table_event(event);
            return;
        }
        if let Some((_, body)) = &mut self.code {
            match event {
                Event::Text(text) => body.push_str(&text),
                Event::End(TagEnd::CodeBlock) => {
                    if let Some((language, body)) = self.code.take() {
                        self.code_block(&language, &body);
                    }
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(end) => self.end(end),
            Event::Text(text) => self.text(&text),
            Event::Code(code) => self.inline_code(&code),
            Event::Html(html) | Event::InlineHtml(html) => self.text(&html),
            Event::InlineMath(math) | Event::DisplayMath(math) => self.text(&math),
            Event::FootnoteReference(name) => self.text(&format!("[^{name}]")),
            Event::SoftBreak | Event::HardBreak => self.gap(Gap::Line),
            Event::Rule => {
                self.gap(Gap::Blank);
                self.markup("──────────");
                self.gap(Gap::Blank);
            }
            Event::TaskListMarker(done) => self.markup(task_marker(done)),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.gap(Gap::Line);
                let before = self.mark();
                match self.heading_marker(level) {
                    Some(marker) => self.markup(marker),
                    None => self.open_style(Style::Bold),
                }
                self.heading = Some((level, before, self.out.len()));
            }
            Tag::BlockQuote(_) => {
                self.gap(Gap::Line);
                if self.flavor == Flavor::Telegram && !self.in_quote() {
                    let before = self.mark();
                    self.begin();
                    self.out.push_str("<blockquote>");
                    self.quote_tag = Some((before, self.out.len()));
                    self.quote_opened_at = Some(self.out.len());
                    // Lists inside the quote still need their markers on its first line.
                    self.at_line_start = true;
                }
                self.containers.push(Container::Quote);
            }
            Tag::CodeBlock(kind) => self.code = Some((code_language(&kind), String::new())),
            Tag::HtmlBlock => self.gap(Gap::Line),
            Tag::List(start) => {
                self.gap(Gap::Line);
                self.lists.push(start);
            }
            Tag::Item => {
                self.gap(Gap::Line);
                let marker = match self.lists.last_mut() {
                    Some(Some(n)) => {
                        let marker = format!("{n}. ");
                        *n += 1;
                        marker
                    }
                    _ => self.flavor.bullet().to_owned(),
                };
                self.containers.push(Container::Item {
                    width: marker.chars().count(),
                    marker: Some(marker),
                });
            }
            Tag::Table(aligns) => {
                self.gap(Gap::Line);
                self.table = Some(Table {
                    aligns,
                    ..Table::default()
                });
            }
            Tag::Emphasis => self.open_style(Style::Italic),
            Tag::Strong => self.open_style(Style::Bold),
            Tag::Strikethrough => self.open_style(Style::Strike),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => {
                let email = link_type == LinkType::Email;
                let url = if email {
                    format!("mailto:{dest_url}")
                } else {
                    dest_url.to_string()
                };
                let text_only = email && matches!(self.flavor, Flavor::Discord | Flavor::Plain);
                self.open_link(url, false, text_only);
            }
            Tag::Image { dest_url, .. } => self.open_link(dest_url.to_string(), true, false),
            Tag::Paragraph
            | Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::TableHead
            | Tag::TableRow
            | Tag::TableCell
            | Tag::Superscript
            | Tag::Subscript
            | Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, end: TagEnd) {
        match end {
            TagEnd::Paragraph | TagEnd::HtmlBlock | TagEnd::FootnoteDefinition => {
                self.gap(Gap::Blank);
            }
            TagEnd::Heading(_) => {
                if let Some((level, before, after)) = self.heading.take() {
                    let empty = self.out.len() == after;
                    if self.heading_marker(level).is_none() {
                        self.close_style(Style::Bold);
                    }
                    if empty {
                        self.retract(before);
                    }
                }
                self.gap(Gap::Blank);
            }
            TagEnd::BlockQuote(_) => {
                self.containers.pop();
                if self.flavor == Flavor::Telegram && !self.in_quote() {
                    match self.quote_tag.take() {
                        Some((before, after)) if self.out.len() == after => self.retract(before),
                        _ => self.out.push_str("</blockquote>"),
                    }
                }
                self.gap(Gap::Blank);
            }
            TagEnd::List(_) => {
                self.lists.pop();
                self.gap(if self.lists.is_empty() {
                    Gap::Blank
                } else {
                    Gap::Line
                });
            }
            TagEnd::Item => {
                self.containers.pop();
                self.gap(Gap::Line);
            }
            TagEnd::Emphasis => self.close_style(Style::Italic),
            TagEnd::Strong => self.close_style(Style::Bold),
            TagEnd::Strikethrough => self.close_style(Style::Strike),
            TagEnd::Link | TagEnd::Image => self.close_link(),
            TagEnd::CodeBlock
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::Table
            | TagEnd::TableHead
            | TagEnd::TableRow
            | TagEnd::TableCell
            | TagEnd::Superscript
            | TagEnd::Subscript
            | TagEnd::MetadataBlock(_) => {}
        }
    }

    /// The line marker of a heading, or `None` where headings are shown bold.
    fn heading_marker(&self, level: HeadingLevel) -> Option<&'static str> {
        match (self.flavor, level) {
            (Flavor::Discord, HeadingLevel::H1) => Some("# "),
            (Flavor::Discord, HeadingLevel::H2) => Some("## "),
            (Flavor::Discord, HeadingLevel::H3) => Some("### "),
            (Flavor::Plain, _) => Some(""),
            _ => None,
        }
    }

    fn inline_code(&mut self, code: &str) {
        if code.is_empty() {
            return;
        }
        let rendered = match self.flavor {
            Flavor::Telegram => format!("<code>{}</code>", escape_html(code, false)),
            Flavor::Slack => format!("`{}`", self.flavor.escape(code, false)),
            Flavor::Discord if code.contains('`') => format!("`` {code} ``"),
            Flavor::Discord => format!("`{code}`"),
            Flavor::Plain => code.to_owned(),
        };
        self.markup(&rendered);
    }

    /// A code block (or a laid-out table) on its own lines.
    fn code_block(&mut self, language: &str, body: &str) {
        let body = body.trim_end_matches(['\n', '\r']);
        if body.trim().is_empty() {
            return;
        }
        self.gap(Gap::Line);
        match self.flavor {
            Flavor::Telegram => {
                let code = escape_html(body, false);
                let block = if language.is_empty() {
                    format!("<pre>{code}</pre>")
                } else {
                    format!("<pre><code class=\"language-{language}\">{code}</code></pre>")
                };
                self.markup(&block);
            }
            Flavor::Slack => {
                let code = self.flavor.escape(&defuse_fences(body), false);
                self.lines(
                    std::iter::once("```")
                        .chain(code.split('\n'))
                        .chain(["```"]),
                );
            }
            Flavor::Discord => {
                let fence = format!("```{language}");
                let code = defuse_fences(body);
                let lines = std::iter::once(fence.as_str()).chain(code.split('\n'));
                self.lines(lines.chain(["```"]));
            }
            Flavor::Plain => self.lines(body.split('\n')),
        }
        self.gap(Gap::Blank);
    }

    /// Verbatim lines, each with the current line prefix.
    fn lines<'a>(&mut self, lines: impl Iterator<Item = &'a str>) {
        for (i, line) in lines.enumerate() {
            if i > 0 {
                self.gap(Gap::Line);
            }
            self.markup(line.strip_suffix('\r').unwrap_or(line));
        }
    }

    fn open_link(&mut self, url: String, image: bool, text_only: bool) {
        if text_only || !self.links.is_empty() {
            self.links.push(LinkFrame::TextOnly);
            return;
        }
        if self.flavor == Flavor::Telegram && linkable(&url) {
            self.markup(&format!("<a href=\"{}\">", escape_html(&url, true)));
            let body = self.out.len();
            self.links.push(LinkFrame::Anchor { body, image, url });
        } else {
            self.begin();
            let start = self.out.len();
            self.links.push(LinkFrame::Capture { start, image, url });
        }
    }

    fn close_link(&mut self) {
        match self.links.pop() {
            None | Some(LinkFrame::TextOnly) => {}
            Some(LinkFrame::Anchor { body, image, url }) => {
                if self.out.len() == body {
                    let text = if image { "image" } else { url.as_str() };
                    self.out.push_str(&escape_html(text, false));
                }
                self.out.push_str("</a>");
            }
            Some(LinkFrame::Capture { start, image, url }) => {
                let label = self.out.split_off(start).replace('\n', " ");
                let label = label.trim();
                let label = match label {
                    "" if image => self.flavor.escape("image", false),
                    label => label.to_owned(),
                };
                let rendered = self.link(&label, &url);
                self.out.push_str(&rendered);
                self.line_has_text = true;
            }
        }
    }

    /// A finished link in this dialect; `label` is already escaped.
    fn link(&self, label: &str, url: &str) -> String {
        let shown_url = self.flavor.escape(url, false);
        let same = label.is_empty() || label == shown_url;
        if !linkable(url) || self.flavor == Flavor::Plain || self.flavor == Flavor::Telegram {
            return match (url.is_empty(), same) {
                (true, _) => label.to_owned(),
                (false, true) => shown_url,
                (false, false) => format!("{label} ({shown_url})"),
            };
        }
        match self.flavor {
            Flavor::Slack => {
                let target = url
                    .replace('&', "&amp;")
                    .replace('<', "%3C")
                    .replace('>', "%3E")
                    .replace('|', "%7C");
                if same {
                    format!("<{target}>")
                } else {
                    format!("<{target}|{label}>")
                }
            }
            _ => {
                if same {
                    url.to_owned()
                } else {
                    let target = url
                        .replace('(', "%28")
                        .replace(')', "%29")
                        .replace('<', "%3C")
                        .replace('>', "%3E");
                    format!("[{label}]({target})")
                }
            }
        }
    }

    fn table_event(&mut self, event: Event<'_>) {
        let Some(table) = &mut self.table else {
            return;
        };
        match event {
            Event::Start(Tag::TableHead | Tag::TableRow) => table.rows.push(Vec::new()),
            Event::End(TagEnd::TableHead) => table.head_rows = table.rows.len(),
            Event::Start(Tag::TableCell) => {
                if let Some(row) = table.rows.last_mut() {
                    row.push(String::new());
                }
            }
            Event::Text(text)
            | Event::Code(text)
            | Event::Html(text)
            | Event::InlineHtml(text)
            | Event::InlineMath(text)
            | Event::DisplayMath(text) => {
                if let Some(cell) = table.cell() {
                    cell.push_str(&text);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(cell) = table.cell() {
                    cell.push(' ');
                }
            }
            Event::TaskListMarker(done) => {
                if let Some(cell) = table.cell() {
                    cell.push_str(task_marker(done));
                }
            }
            Event::End(TagEnd::Table) => {
                if let Some(table) = self.table.take() {
                    self.code_block("", &table.layout());
                }
            }
            _ => {}
        }
    }
}

/// How a Matrix link ends.
#[derive(Debug)]
enum HtmlLink {
    Anchor {
        body: usize,
        image: bool,
        url: String,
    },
    /// Not linkable: the text, then " (url)".
    Text {
        start: usize,
        url: String,
    },
    TextOnly,
}

/// Writer for Matrix's HTML subset.
#[derive(Debug, Default)]
struct HtmlWriter {
    out: String,
    links: Vec<HtmlLink>,
    code: Option<(String, String)>,
    html_block: Option<String>,
    in_head: bool,
    in_body: bool,
}

impl HtmlWriter {
    fn render(mut self, markdown: &str) -> String {
        for event in events(markdown) {
            self.event(event);
        }
        self.out
    }

    fn event(&mut self, event: Event<'_>) {
        if let Some((_, body)) = &mut self.code {
            match event {
                Event::Text(text) => body.push_str(&text),
                Event::End(TagEnd::CodeBlock) => {
                    if let Some((language, body)) = self.code.take() {
                        let code = escape_html(body.trim_end_matches('\n'), false);
                        if language.is_empty() {
                            self.out
                                .push_str(&format!("<pre><code>{code}</code></pre>"));
                        } else {
                            self.out.push_str(&format!(
                                "<pre><code class=\"language-{language}\">{code}</code></pre>"
                            ));
                        }
                    }
                }
                _ => {}
            }
            return;
        }
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(end) => self.end(end),
            Event::Text(text) | Event::InlineMath(text) | Event::DisplayMath(text) => {
                self.out.push_str(&escape_html(&text, false));
            }
            Event::Code(code) => {
                self.out
                    .push_str(&format!("<code>{}</code>", escape_html(&code, false)));
            }
            Event::Html(html) => match &mut self.html_block {
                Some(block) => block.push_str(&html),
                None => self.out.push_str(&escape_html(&html, false)),
            },
            Event::InlineHtml(html) => self.out.push_str(&escape_html(&html, false)),
            Event::FootnoteReference(name) => {
                self.out
                    .push_str(&escape_html(&format!("[^{name}]"), false));
            }
            // Element renders the model's single newlines as line breaks too.
            Event::SoftBreak | Event::HardBreak => self.out.push_str("<br>"),
            Event::Rule => self.out.push_str("<hr>"),
            Event::TaskListMarker(done) => self.out.push_str(task_marker(done)),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        let html = match tag {
            Tag::Paragraph => "<p>".to_owned(),
            Tag::Heading { level, .. } => format!("<{level}>"),
            Tag::BlockQuote(_) => "<blockquote>".to_owned(),
            Tag::CodeBlock(kind) => {
                self.code = Some((code_language(&kind), String::new()));
                return;
            }
            Tag::HtmlBlock => {
                self.html_block = Some(String::new());
                return;
            }
            Tag::List(None) => "<ul>".to_owned(),
            Tag::List(Some(1)) => "<ol>".to_owned(),
            Tag::List(Some(start)) => format!("<ol start=\"{start}\">"),
            Tag::Item => "<li>".to_owned(),
            Tag::Table(_) => "<table>".to_owned(),
            Tag::TableHead => {
                self.in_head = true;
                "<thead><tr>".to_owned()
            }
            Tag::TableRow => {
                let body = if self.in_body { "" } else { "<tbody>" };
                self.in_body = true;
                format!("{body}<tr>")
            }
            Tag::TableCell => if self.in_head { "<th>" } else { "<td>" }.to_owned(),
            Tag::Emphasis => "<em>".to_owned(),
            Tag::Strong => "<strong>".to_owned(),
            Tag::Strikethrough => "<del>".to_owned(),
            Tag::Superscript => "<sup>".to_owned(),
            Tag::Subscript => "<sub>".to_owned(),
            Tag::Link {
                link_type,
                dest_url,
                ..
            } => {
                let url = if link_type == LinkType::Email {
                    format!("mailto:{dest_url}")
                } else {
                    dest_url.to_string()
                };
                self.open_link(url, false);
                return;
            }
            Tag::Image { dest_url, .. } => {
                self.open_link(dest_url.to_string(), true);
                return;
            }
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => return,
        };
        self.out.push_str(&html);
    }

    fn end(&mut self, end: TagEnd) {
        let html = match end {
            TagEnd::Paragraph => "</p>".to_owned(),
            TagEnd::Heading(level) => format!("</{level}>"),
            TagEnd::BlockQuote(_) => "</blockquote>".to_owned(),
            TagEnd::HtmlBlock => {
                let block = self.html_block.take().unwrap_or_default();
                let text = escape_html(block.trim_end(), false).replace('\n', "<br>");
                format!("<p>{text}</p>")
            }
            TagEnd::List(true) => "</ol>".to_owned(),
            TagEnd::List(false) => "</ul>".to_owned(),
            TagEnd::Item => "</li>".to_owned(),
            TagEnd::Table => {
                let body = if self.in_body { "</tbody>" } else { "" };
                self.in_body = false;
                format!("{body}</table>")
            }
            TagEnd::TableHead => {
                self.in_head = false;
                "</tr></thead>".to_owned()
            }
            TagEnd::TableRow => "</tr>".to_owned(),
            TagEnd::TableCell => if self.in_head { "</th>" } else { "</td>" }.to_owned(),
            TagEnd::Emphasis => "</em>".to_owned(),
            TagEnd::Strong => "</strong>".to_owned(),
            TagEnd::Strikethrough => "</del>".to_owned(),
            TagEnd::Superscript => "</sup>".to_owned(),
            TagEnd::Subscript => "</sub>".to_owned(),
            TagEnd::Link | TagEnd::Image => {
                self.close_link();
                return;
            }
            TagEnd::CodeBlock
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => return,
        };
        self.out.push_str(&html);
    }

    fn open_link(&mut self, url: String, image: bool) {
        if !self.links.is_empty() {
            self.links.push(HtmlLink::TextOnly);
        } else if linkable(&url) {
            self.out
                .push_str(&format!("<a href=\"{}\">", escape_html(&url, true)));
            let body = self.out.len();
            self.links.push(HtmlLink::Anchor { body, image, url });
        } else {
            let start = self.out.len();
            self.links.push(HtmlLink::Text { start, url });
        }
    }

    fn close_link(&mut self) {
        match self.links.pop() {
            None | Some(HtmlLink::TextOnly) => {}
            Some(HtmlLink::Anchor { body, image, url }) => {
                if self.out.len() == body {
                    let text = if image { "image" } else { url.as_str() };
                    self.out.push_str(&escape_html(text, false));
                }
                self.out.push_str("</a>");
            }
            Some(HtmlLink::Text { start, url }) => {
                let shown = escape_html(&url, false);
                if url.is_empty() || self.out[start..] == shown {
                    return;
                }
                if self.out.len() == start {
                    self.out.push_str(&shown);
                } else {
                    self.out.push_str(&format!(" ({shown})"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::split::render_chunks;
    use crate::split::testgen::{Rng, document, in_order, nasty_markdown};

    type Convert = fn(&str) -> String;

    const CONVERTERS: [(&str, Convert); 5] = [
        ("telegram", telegram_html),
        ("slack", slack_mrkdwn),
        ("discord", discord_markdown),
        ("matrix", matrix_html),
        ("plain", plain_text),
    ];

    /// Input, then the expected Telegram, Slack, Discord, Matrix and plain outputs.
    const CASES: &[(&str, [&str; 5])] = &[
        (
            "**bold**",
            [
                "<b>bold</b>",
                "*bold*",
                "**bold**",
                "<p><strong>bold</strong></p>",
                "bold",
            ],
        ),
        (
            "*it*",
            ["<i>it</i>", "_it_", "*it*", "<p><em>it</em></p>", "it"],
        ),
        (
            "~~st~~",
            ["<s>st</s>", "~st~", "~~st~~", "<p><del>st</del></p>", "st"],
        ),
        (
            "***both***",
            [
                "<i><b>both</b></i>",
                "_*both*_",
                "***both***",
                "<p><em><strong>both</strong></em></p>",
                "both",
            ],
        ),
        (
            "`a<b`",
            [
                "<code>a&lt;b</code>",
                "`a&lt;b`",
                "`a<b`",
                "<p><code>a&lt;b</code></p>",
                "a<b",
            ],
        ),
        (
            "``a`b``",
            [
                "<code>a`b</code>",
                "`a`b`",
                "`` a`b ``",
                "<p><code>a`b</code></p>",
                "a`b",
            ],
        ),
        (
            "# Title",
            [
                "<b>Title</b>",
                "*Title*",
                "# Title",
                "<h1>Title</h1>",
                "Title",
            ],
        ),
        (
            "### Three",
            [
                "<b>Three</b>",
                "*Three*",
                "### Three",
                "<h3>Three</h3>",
                "Three",
            ],
        ),
        (
            "#### Deep",
            ["<b>Deep</b>", "*Deep*", "**Deep**", "<h4>Deep</h4>", "Deep"],
        ),
        (
            "# A **b**",
            [
                "<b>A b</b>",
                "*A b*",
                "# A **b**",
                "<h1>A <strong>b</strong></h1>",
                "A b",
            ],
        ),
        (
            "```rust\nlet x = 1 < 2;\n```",
            [
                "<pre><code class=\"language-rust\">let x = 1 &lt; 2;</code></pre>",
                "```\nlet x = 1 &lt; 2;\n```",
                "```rust\nlet x = 1 < 2;\n```",
                "<pre><code class=\"language-rust\">let x = 1 &lt; 2;</code></pre>",
                "let x = 1 < 2;",
            ],
        ),
        (
            "```\n  indented\n\nafter blank\n```",
            [
                "<pre>  indented\n\nafter blank</pre>",
                "```\n  indented\n\nafter blank\n```",
                "```\n  indented\n\nafter blank\n```",
                "<pre><code>  indented\n\nafter blank</code></pre>",
                "  indented\n\nafter blank",
            ],
        ),
        (
            "```\nx = \"```\"\n```",
            [
                "<pre>x = \"```\"</pre>",
                "```\nx = \"`\u{200B}``\"\n```",
                "```\nx = \"`\u{200B}``\"\n```",
                "<pre><code>x = \"```\"</code></pre>",
                "x = \"```\"",
            ],
        ),
        (
            "[docs](https://x.io/a?b=1&c=2)",
            [
                "<a href=\"https://x.io/a?b=1&amp;c=2\">docs</a>",
                "<https://x.io/a?b=1&amp;c=2|docs>",
                "[docs](https://x.io/a?b=1&c=2)",
                "<p><a href=\"https://x.io/a?b=1&amp;c=2\">docs</a></p>",
                "docs (https://x.io/a?b=1&c=2)",
            ],
        ),
        (
            "[**big** docs](https://x.io)",
            [
                "<a href=\"https://x.io\"><b>big</b> docs</a>",
                "<https://x.io|*big* docs>",
                "[**big** docs](https://x.io)",
                "<p><a href=\"https://x.io\"><strong>big</strong> docs</a></p>",
                "big docs (https://x.io)",
            ],
        ),
        (
            "[q](https://x.io/\"a\"|b)",
            [
                "<a href=\"https://x.io/&quot;a&quot;|b\">q</a>",
                "<https://x.io/\"a\"%7Cb|q>",
                "[q](https://x.io/\"a\"|b)",
                "<p><a href=\"https://x.io/&quot;a&quot;|b\">q</a></p>",
                "q (https://x.io/\"a\"|b)",
            ],
        ),
        (
            "[wiki](https://en.wikipedia.org/wiki/Rust_(language))",
            [
                "<a href=\"https://en.wikipedia.org/wiki/Rust_(language)\">wiki</a>",
                "<https://en.wikipedia.org/wiki/Rust_(language)|wiki>",
                "[wiki](https://en.wikipedia.org/wiki/Rust_%28language%29)",
                "<p><a href=\"https://en.wikipedia.org/wiki/Rust_(language)\">wiki</a></p>",
                "wiki (https://en.wikipedia.org/wiki/Rust_(language))",
            ],
        ),
        (
            "<https://a.io/x_y>",
            [
                "<a href=\"https://a.io/x_y\">https://a.io/x_y</a>",
                "<https://a.io/x_y>",
                "https://a.io/x_y",
                "<p><a href=\"https://a.io/x_y\">https://a.io/x_y</a></p>",
                "https://a.io/x_y",
            ],
        ),
        (
            "<me@example.com>",
            [
                "<a href=\"mailto:me@example.com\">me@example.com</a>",
                "<mailto:me@example.com|me@example.com>",
                "me@example.com",
                "<p><a href=\"mailto:me@example.com\">me@example.com</a></p>",
                "me@example.com",
            ],
        ),
        (
            "[rel](/p) [js](javascript:alert(1))",
            [
                "rel (/p) js (javascript:alert(1))",
                "rel (/p) js (javascript:alert(1))",
                "rel (/p) js (javascript:alert(1))",
                "<p>rel (/p) js (javascript:alert(1))</p>",
                "rel (/p) js (javascript:alert(1))",
            ],
        ),
        (
            "[](https://e.io)",
            [
                "<a href=\"https://e.io\">https://e.io</a>",
                "<https://e.io>",
                "https://e.io",
                "<p><a href=\"https://e.io\">https://e.io</a></p>",
                "https://e.io",
            ],
        ),
        (
            "![cat](https://x.io/c.png)",
            [
                "<a href=\"https://x.io/c.png\">cat</a>",
                "<https://x.io/c.png|cat>",
                "[cat](https://x.io/c.png)",
                "<p><a href=\"https://x.io/c.png\">cat</a></p>",
                "cat (https://x.io/c.png)",
            ],
        ),
        (
            "![](https://x.io/c.png)",
            [
                "<a href=\"https://x.io/c.png\">image</a>",
                "<https://x.io/c.png|image>",
                "[image](https://x.io/c.png)",
                "<p><a href=\"https://x.io/c.png\">image</a></p>",
                "image (https://x.io/c.png)",
            ],
        ),
        (
            "[![logo](https://x.io/l.png)](https://x.io)",
            [
                "<a href=\"https://x.io\">logo</a>",
                "<https://x.io|logo>",
                "[logo](https://x.io)",
                "<p><a href=\"https://x.io\">logo</a></p>",
                "logo (https://x.io)",
            ],
        ),
        (
            "- a\n- b\n  - c\n    - d\n- e",
            [
                "• a\n• b\n  • c\n    • d\n• e",
                "• a\n• b\n  • c\n    • d\n• e",
                "- a\n- b\n  - c\n    - d\n- e",
                "<ul><li>a</li><li>b<ul><li>c<ul><li>d</li></ul></li></ul></li><li>e</li></ul>",
                "• a\n• b\n  • c\n    • d\n• e",
            ],
        ),
        (
            "1. one\n2. two\n   - sub\n3. three",
            [
                "1. one\n2. two\n   • sub\n3. three",
                "1. one\n2. two\n   • sub\n3. three",
                "1. one\n2. two\n   - sub\n3. three",
                "<ol><li>one</li><li>two<ul><li>sub</li></ul></li><li>three</li></ol>",
                "1. one\n2. two\n   • sub\n3. three",
            ],
        ),
        (
            "9. x\n10. y\n    more",
            [
                "9. x\n10. y\n    more",
                "9. x\n10. y\n    more",
                "9. x\n10. y\n    more",
                "<ol start=\"9\"><li>x</li><li>y<br>more</li></ol>",
                "9. x\n10. y\n    more",
            ],
        ),
        (
            "- [ ] todo\n- [x] done",
            [
                "• ☐ todo\n• ☑ done",
                "• ☐ todo\n• ☑ done",
                "- ☐ todo\n- ☑ done",
                "<ul><li>☐ todo</li><li>☑ done</li></ul>",
                "• ☐ todo\n• ☑ done",
            ],
        ),
        (
            "> q **b**\n> r\n>\n> s",
            [
                "<blockquote>q <b>b</b>\nr\n\ns</blockquote>",
                "> q *b*\n> r\n> s",
                "> q **b**\n> r\n> s",
                "<blockquote><p>q <strong>b</strong><br>r</p><p>s</p></blockquote>",
                "> q b\n> r\n> s",
            ],
        ),
        (
            "> outer\n>\n> > inner",
            [
                "<blockquote>outer\n\ninner</blockquote>",
                "> outer\n> inner",
                "> outer\n> inner",
                "<blockquote><p>outer</p><blockquote><p>inner</p></blockquote></blockquote>",
                "> outer\n> > inner",
            ],
        ),
        (
            "a\n\n---\n\nb",
            [
                "a\n\n──────────\n\nb",
                "a\n\n──────────\n\nb",
                "a\n\n──────────\n\nb",
                "<p>a</p><hr><p>b</p>",
                "a\n\n──────────\n\nb",
            ],
        ),
        (
            "| A | B |\n|---|--:|\n| x | 10 |\n| 漢字 | `c` |",
            [
                "<pre>A    |  B\n-----+---\nx    | 10\n漢字 |  c</pre>",
                "```\nA    |  B\n-----+---\nx    | 10\n漢字 |  c\n```",
                "```\nA    |  B\n-----+---\nx    | 10\n漢字 |  c\n```",
                "<table><thead><tr><th>A</th><th>B</th></tr></thead><tbody><tr><td>x</td>\
                 <td>10</td></tr><tr><td>漢字</td><td><code>c</code></td></tr></tbody></table>",
                "A    |  B\n-----+---\nx    | 10\n漢字 |  c",
            ],
        ),
        (
            "<b>hi</b> <script>x()</script>",
            [
                "&lt;b&gt;hi&lt;/b&gt; &lt;script&gt;x()&lt;/script&gt;",
                "&lt;b&gt;hi&lt;/b&gt; &lt;script&gt;x()&lt;/script&gt;",
                "\\<b>hi\\</b> \\<script>x()\\</script>",
                "<p>&lt;b&gt;hi&lt;/b&gt; &lt;script&gt;x()&lt;/script&gt;</p>",
                "<b>hi</b> <script>x()</script>",
            ],
        ),
        (
            "<div>\nblock & <i>html</i>\n</div>",
            [
                "&lt;div&gt;\nblock &amp; &lt;i&gt;html&lt;/i&gt;\n&lt;/div&gt;",
                "&lt;div&gt;\nblock &amp; &lt;i&gt;html&lt;/i&gt;\n&lt;/div&gt;",
                "\\<div>\nblock & \\<i>html\\</i>\n\\</div>",
                "<p>&lt;div&gt;<br>block &amp; &lt;i&gt;html&lt;/i&gt;<br>&lt;/div&gt;</p>",
                "<div>\nblock & <i>html</i>\n</div>",
            ],
        ),
        (
            "a < b && c > d",
            [
                "a &lt; b &amp;&amp; c &gt; d",
                "a &lt; b &amp;&amp; c &gt; d",
                "a < b && c > d",
                "<p>a &lt; b &amp;&amp; c &gt; d</p>",
                "a < b && c > d",
            ],
        ),
        (
            "**unclosed",
            [
                "**unclosed",
                "**unclosed",
                "\\*\\*unclosed",
                "<p>**unclosed</p>",
                "**unclosed",
            ],
        ),
        (
            "\\*lit\\* snake_case _x \\# h",
            [
                "*lit* snake_case _x # h",
                "*lit* snake_case _x # h",
                "\\*lit\\* snake_case \\_x # h",
                "<p>*lit* snake_case _x # h</p>",
                "*lit* snake_case _x # h",
            ],
        ),
        (
            "\\# not a heading\n\n\\- not a list\n\n1\\. not ordered",
            [
                "# not a heading\n\n- not a list\n\n1. not ordered",
                "# not a heading\n\n- not a list\n\n1. not ordered",
                "\\# not a heading\n\n\\- not a list\n\n1\\. not ordered",
                "<p># not a heading</p><p>- not a list</p><p>1. not ordered</p>",
                "# not a heading\n\n- not a list\n\n1. not ordered",
            ],
        ),
        (
            "ping <@123> ||spoiler|| ~tilde",
            [
                "ping &lt;@123&gt; ||spoiler|| ~tilde",
                "ping &lt;@123&gt; ||spoiler|| ~tilde",
                "ping \\<@123> \\|\\|spoiler\\|\\| \\~tilde",
                "<p>ping &lt;@123&gt; ||spoiler|| ~tilde</p>",
                "ping <@123> ||spoiler|| ~tilde",
            ],
        ),
        (
            "emoji 🎉👍🏽 CJK 漢字テスト",
            [
                "emoji 🎉👍🏽 CJK 漢字テスト",
                "emoji 🎉👍🏽 CJK 漢字テスト",
                "emoji 🎉👍🏽 CJK 漢字テスト",
                "<p>emoji 🎉👍🏽 CJK 漢字テスト</p>",
                "emoji 🎉👍🏽 CJK 漢字テスト",
            ],
        ),
        (
            "one\ntwo  \nthree\n\nnext",
            [
                "one\ntwo\nthree\n\nnext",
                "one\ntwo\nthree\n\nnext",
                "one\ntwo\nthree\n\nnext",
                "<p>one<br>two<br>three</p><p>next</p>",
                "one\ntwo\nthree\n\nnext",
            ],
        ),
        (
            "#\n\ntext",
            ["text", "text", "text", "<h1></h1><p>text</p>", "text"],
        ),
        (
            "- #\n  text",
            [
                "• text",
                "• text",
                "- text",
                "<ul><li><h1></h1>text</li></ul>",
                "• text",
            ],
        ),
        (
            "> - a\n> - b",
            [
                "<blockquote>• a\n• b</blockquote>",
                "> • a\n> • b",
                "> - a\n> - b",
                "<blockquote><ul><li>a</li><li>b</li></ul></blockquote>",
                "> • a\n> • b",
            ],
        ),
        (
            "1. a\n   > q\n   > r",
            [
                "1. a\n   <blockquote>q\nr</blockquote>",
                "1. a\n   > q\n   > r",
                "1. a\n   > q\n   > r",
                "<ol><li>a<blockquote><p>q<br>r</p></blockquote></li></ol>",
                "1. a\n   > q\n   > r",
            ],
        ),
        ("", ["", "", "", "", ""]),
    ];

    #[test]
    fn every_construct_in_every_dialect() {
        for (input, expected) in CASES {
            for ((name, convert), want) in CONVERTERS.iter().zip(expected) {
                assert_eq!(convert(input), *want, "{name} of {input:?}");
            }
        }
    }

    #[test]
    fn blocks_are_separated_by_blank_lines_and_lists_stay_tight() {
        let md = "# Plan\n\nIntro.\n\n- one\n- two\n\n> quoted\n\nAfter.";
        assert_eq!(
            telegram_html(md),
            "<b>Plan</b>\n\nIntro.\n\n• one\n• two\n\n<blockquote>quoted</blockquote>\n\nAfter."
        );
        assert_eq!(
            slack_mrkdwn(md),
            "*Plan*\n\nIntro.\n\n• one\n• two\n\n> quoted\n\nAfter."
        );
        assert_eq!(
            discord_markdown(md),
            "# Plan\n\nIntro.\n\n- one\n- two\n\n> quoted\n\nAfter."
        );
    }

    #[test]
    fn loose_list_items_keep_their_paragraphs_indented() {
        let md = "1. first\n\n   more about first\n\n2. second";
        let want = "1. first\n\n   more about first\n\n2. second";
        assert_eq!(telegram_html(md), want);
        assert_eq!(plain_text(md), want);
    }

    #[test]
    fn code_inside_lists_and_quotes_keeps_the_container_prefix() {
        let md = "- run:\n  ```sh\n  echo <x>\n  ```\n\n> ```\n> quoted code\n> ```";
        assert_eq!(
            telegram_html(md),
            "• run:\n  <pre><code class=\"language-sh\">echo &lt;x&gt;</code></pre>\n\n\
             <blockquote><pre>quoted code</pre></blockquote>"
        );
        assert_eq!(
            discord_markdown(md),
            "- run:\n  ```sh\n  echo <x>\n  ```\n\n> ```\n> quoted code\n> ```"
        );
        assert_eq!(
            slack_mrkdwn(md),
            "• run:\n  ```\n  echo &lt;x&gt;\n  ```\n\n> ```\n> quoted code\n> ```"
        );
    }

    #[test]
    fn slack_emphasis_is_closed_and_reopened_around_line_breaks() {
        assert_eq!(slack_mrkdwn("**a\nb** c"), "*a*\n*b* c");
        assert_eq!(slack_mrkdwn("~~*x\ny*~~"), "~_x_~\n~_y_~");
    }

    #[test]
    fn nested_emphasis_of_one_kind_is_not_doubled() {
        assert_eq!(
            telegram_html("# Big **bold** title"),
            "<b>Big bold title</b>"
        );
        assert_eq!(slack_mrkdwn("**a __b__ c**"), "*a b c*");
        assert_eq!(discord_markdown("**a __b__ c**"), "**a b c**");
    }

    #[test]
    fn language_names_are_sanitised() {
        let md = "```c\"><script>\nx\n```";
        let html = telegram_html(md);
        assert_eq!(html, "<pre><code class=\"language-cscript\">x</code></pre>");
        assert_eq!(discord_markdown(md), "```cscript\nx\n```");
    }

    #[test]
    fn table_columns_align_by_display_width() {
        let md = "| k | v |\n|:-:|---|\n| 👍 | yes |\n| long key | 漢 |";
        assert_eq!(
            plain_text(md),
            "   k     | v\n---------+----\n   👍    | yes\nlong key | 漢"
        );
    }

    /// Checks Telegram HTML: only its tags and attributes, properly nested, every `&` an
    /// entity, no stray `>`.
    fn check_telegram(html: &str) -> Result<(), String> {
        check_html(
            html,
            &[
                "b",
                "i",
                "u",
                "s",
                "code",
                "pre",
                "a",
                "blockquote",
                "tg-spoiler",
            ],
            &[],
        )
    }

    fn check_matrix(html: &str) -> Result<(), String> {
        check_html(
            html,
            &[
                "p",
                "strong",
                "em",
                "del",
                "code",
                "pre",
                "a",
                "ul",
                "ol",
                "li",
                "blockquote",
                "h1",
                "h2",
                "h3",
                "h4",
                "h5",
                "h6",
                "table",
                "thead",
                "tbody",
                "tr",
                "th",
                "td",
                "sup",
                "sub",
            ],
            &["br", "hr"],
        )
    }

    fn check_entities(text: &str) -> Result<(), String> {
        for (i, _) in text.match_indices('&') {
            let rest = &text[i..];
            if !["&amp;", "&lt;", "&gt;", "&quot;"]
                .iter()
                .any(|e| rest.starts_with(e))
            {
                return Err(format!("bare & at {i}"));
            }
        }
        if text.contains('>') {
            return Err("stray >".to_owned());
        }
        Ok(())
    }

    fn check_html(html: &str, tags: &[&str], void: &[&str]) -> Result<(), String> {
        let mut open: Vec<String> = Vec::new();
        let mut rest = html;
        while let Some(lt) = rest.find('<') {
            check_entities(&rest[..lt])?;
            let gt = rest[lt..]
                .find('>')
                .ok_or_else(|| format!("unterminated tag in {html:?}"))?;
            let tag = &rest[lt + 1..lt + gt];
            rest = &rest[lt + gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match open.pop() {
                    Some(top) if top == name => {}
                    other => return Err(format!("</{name}> closes {other:?} in {html:?}")),
                }
                continue;
            }
            let (name, attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            if void.contains(&name) {
                continue;
            }
            if !tags.contains(&name) {
                return Err(format!("tag <{name}> not allowed in {html:?}"));
            }
            if !attrs.is_empty() {
                let (key, value) = attrs
                    .split_once('=')
                    .ok_or_else(|| format!("bad attribute {attrs:?}"))?;
                let allowed = matches!(
                    (name, key),
                    ("a", "href") | ("code", "class") | ("ol", "start")
                );
                let quoted = value.len() >= 2
                    && value.starts_with('"')
                    && value.ends_with('"')
                    && !value[1..value.len() - 1].contains(['"', '<']);
                if !allowed || !quoted {
                    return Err(format!("attribute {attrs:?} on <{name}> in {html:?}"));
                }
                check_entities(&value[1..value.len() - 1])?;
            }
            open.push(name.to_owned());
        }
        check_entities(rest)?;
        if open.is_empty() {
            Ok(())
        } else {
            Err(format!("unclosed {open:?} in {html:?}"))
        }
    }

    /// Slack: every `<` starts a link `<url>` / `<url|text>`, every `&` is an entity, and `>`
    /// appears only as a quote marker.
    fn check_slack(text: &str) -> Result<(), String> {
        let unquoted: Vec<&str> = text
            .lines()
            .map(|l| {
                let l = l.trim_start_matches(' ');
                let l = l.strip_prefix("• ").unwrap_or(l);
                let l = l.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.' || c == ' ');
                l.strip_prefix("> ").unwrap_or(l)
            })
            .collect();
        let unquoted = unquoted.join("\n");
        let mut rest = unquoted.as_str();
        while let Some(lt) = rest.find('<') {
            check_entities(&rest[..lt])?;
            let gt = rest[lt..].find('>').ok_or("unterminated link")?;
            let link = &rest[lt + 1..lt + gt];
            if !(link.starts_with("http") || link.starts_with("mailto:")) || link.contains('<') {
                return Err(format!("bad link <{link}> in {text:?}"));
            }
            rest = &rest[lt + gt + 1..];
        }
        check_entities(rest)
    }

    #[test]
    fn the_checkers_catch_broken_markup() {
        for bad in [
            "<b>x",
            "<b><i>x</b></i>",
            "x</b>",
            "<script>x</script>",
            "a & b",
            "a > b",
        ] {
            assert!(check_telegram(bad).is_err(), "{bad}");
        }
        assert!(check_telegram("<a href=\"x\" onclick=\"y\">z</a>").is_err());
        assert!(check_telegram("<b>a &amp; <a href=\"https://x?a=1&amp;b\">l</a></b>").is_ok());
        assert!(check_slack("<javascript:x|y>").is_err());
        assert!(check_slack("<https://x|y> &lt;").is_ok());
    }

    #[test]
    fn telegram_and_matrix_output_is_well_formed_for_every_case() {
        for (input, _) in CASES {
            check_telegram(&telegram_html(input)).unwrap();
            check_matrix(&matrix_html(input)).unwrap();
            check_slack(&slack_mrkdwn(input)).unwrap();
        }
    }

    #[test]
    fn nasty_generated_input_never_breaks_the_markup() {
        let mut rng = Rng::new(0x5eed_f00d);
        for _ in 0..400 {
            let md = nasty_markdown(&mut rng);
            check_telegram(&telegram_html(&md)).unwrap_or_else(|e| panic!("{e}\ninput {md:?}"));
            check_matrix(&matrix_html(&md)).unwrap_or_else(|e| panic!("{e}\ninput {md:?}"));
            check_slack(&slack_mrkdwn(&md)).unwrap_or_else(|e| panic!("{e}\ninput {md:?}"));
            // The others must simply not panic and not lose letters.
            let plain = plain_text(&md);
            let discord = discord_markdown(&md);
            // Entities, links, raw HTML and reference definitions legitimately change letters.
            let verbatim = !md.contains(['&', '<']) && !md.contains("](") && !md.contains("]:");
            for word in md
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() > 2)
            {
                if verbatim {
                    assert!(plain.contains(word), "{word:?} lost from {md:?}: {plain:?}");
                    assert!(
                        discord.contains(word),
                        "{word:?} lost from {md:?}: {discord:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn raw_html_never_passes_through() {
        let md =
            "<img src=x onerror=alert(1)>\n\n<script>evil()</script>\n\ntext <b onclick=y>z</b>";
        for (name, convert) in CONVERTERS {
            let out = convert(md);
            if name == "plain" || name == "discord" {
                continue;
            }
            assert!(!out.contains("<img"), "{name}: {out}");
            assert!(!out.contains("<script"), "{name}: {out}");
            assert!(!out.contains("<b "), "{name}: {out}");
        }
        assert_eq!(
            discord_markdown(md),
            "\\<img src=x onerror=alert(1)>\n\n\\<script>evil()\\</script>\n\ntext \\<b onclick=y>z\\</b>"
        );
    }

    fn check(name: &str, out: &str) -> Result<(), String> {
        match name {
            "telegram" => check_telegram(out),
            "matrix" => check_matrix(out),
            "slack" => check_slack(out),
            _ => Ok(()),
        }
    }

    #[test]
    fn rendered_chunks_fit_are_well_formed_and_keep_every_word() {
        let mut rng = Rng::new(42);
        for round in 0..80 {
            let (md, words) = document(&mut rng);
            for limit in [64, 100, 300, 4096] {
                for (name, convert) in CONVERTERS {
                    let chunks = render_chunks(&md, limit, convert);
                    for chunk in &chunks {
                        assert!(
                            chunk.chars().count() <= limit,
                            "{name} round {round} limit {limit}: {chunk:?}"
                        );
                        check(name, chunk).unwrap_or_else(|e| panic!("{name} round {round}: {e}"));
                    }
                    if limit >= 100 {
                        in_order(&chunks.concat(), &words).unwrap_or_else(|e| {
                            panic!("{name} round {round} limit {limit}: {e}\n{md}")
                        });
                    }
                }
            }
        }
    }

    #[test]
    fn rendering_nasty_input_at_tiny_limits_terminates_well_formed() {
        let mut rng = Rng::new(9);
        for _ in 0..60 {
            let md = nasty_markdown(&mut rng);
            for limit in [1, 2, 5, 9, 16, 33, 80] {
                for (name, convert) in CONVERTERS {
                    for chunk in render_chunks(&md, limit, convert) {
                        // Only a single character whose markup alone is longer may exceed it.
                        assert!(chunk.chars().count() <= limit.max(32), "{name}: {chunk:?}");
                        check(name, &chunk)
                            .unwrap_or_else(|e| panic!("{name}: {e} in {chunk:?} of {md:?}"));
                    }
                }
            }
        }
    }

    #[test]
    fn a_long_answer_renders_for_telegram_within_its_limit() {
        let paragraph = "Rust's ownership model means `a < b && c > d` checks are cheap. ";
        let md = format!(
            "# Report\n\n{}\n\n```rust\n{}```\n\n{}",
            paragraph.repeat(40),
            "let x = vec![1, 2, 3]; // <T>\n".repeat(150),
            "- item with **bold** & more\n".repeat(60)
        );
        let chunks = render_chunks(&md, 4096, telegram_html);
        assert!(chunks.len() >= 3, "{}", chunks.len());
        for chunk in &chunks {
            assert!(chunk.chars().count() <= 4096);
            check_telegram(chunk).unwrap();
        }
        let code_chunks = chunks
            .iter()
            .filter(|c| c.contains("language-rust"))
            .count();
        assert!(
            code_chunks >= 2,
            "the code block spans chunks, each highlighted"
        );
        let lines = chunks
            .concat()
            .matches("let x = vec![1, 2, 3]; // &lt;T&gt;")
            .count();
        assert_eq!(lines, 150);
    }
}
