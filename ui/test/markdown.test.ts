// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../src/lib/markdown";

describe("renderMarkdown", () => {
  it("renders Markdown", () => {
    const html = renderMarkdown("**bold** and `code`\n\n- one\n- two\n\n```js\nlet x = 1;\n```");
    expect(html).toContain("<strong>bold</strong>");
    expect(html).toContain("<code>code</code>");
    expect(html).toContain("<li>one</li>");
    expect(html).toContain('<code class="language-js">let x = 1;');
  });

  it("removes scripts, event handlers and dangerous URLs", () => {
    const html = renderMarkdown(
      [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(2)">',
        "[click](javascript:alert(3))",
        '<a href="javascript:alert(4)">x</a>',
        '<iframe src="https://evil.example"></iframe>',
        '<form action="https://evil.example"><input name="q"></form>',
        '<p style="position:fixed">styled</p>',
        "<svg><script>alert(5)</script></svg>",
      ].join("\n\n"),
    );
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/onerror/i);
    expect(html).not.toMatch(/javascript:/i);
    expect(html).not.toMatch(/<iframe/i);
    expect(html).not.toMatch(/<form|<input/i);
    expect(html).not.toMatch(/style=/i);
    expect(html).toContain("styled");
  });

  it("opens links outside the app without leaking the opener", () => {
    const html = renderMarkdown("[docs](https://example.org/docs)");
    const doc = new DOMParser().parseFromString(html, "text/html");
    const a = doc.querySelector("a");
    expect(a?.getAttribute("href")).toBe("https://example.org/docs");
    expect(a?.getAttribute("target")).toBe("_blank");
    expect(a?.getAttribute("rel")).toContain("noopener");
  });

  it("keeps inline images as data URLs only when they are images", () => {
    expect(renderMarkdown("![a](data:image/png;base64,AAAA)")).toContain('src="data:image/png;base64,AAAA"');
    expect(renderMarkdown("![a](data:text/html;base64,AAAA)")).not.toContain("data:text/html");
  });

  it("keeps plain text as text", () => {
    expect(renderMarkdown("1 < 2 & 3 > 2")).toContain("1 &lt; 2 &amp; 3 &gt; 2");
  });
});

describe("remote images", () => {
  it("are dropped so reading a message does not call a server", () => {
    const html = renderMarkdown("![pixel](https://tracker.example/p.png)");
    expect(html).not.toContain("tracker.example");
    expect(html).toContain('alt="pixel"');
  });
});
