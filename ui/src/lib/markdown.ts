// Markdown from models and people, rendered to HTML that is safe to insert: marked parses,
// DOMPurify removes scripts, event handlers, forms and `javascript:` links, every link opens
// outside the app, and only inline (data:) images are kept.

import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: true, async: false });

let hooked = false;

function purifier(): typeof DOMPurify {
  if (!hooked) {
    hooked = true;
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A" && node.getAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
      // Only inline images: a remote one would tell its server when the message is read.
      if (node.tagName === "IMG" && !/^data:image\/(?:png|jpeg|gif|webp);/i.test(node.getAttribute("src") ?? "")) {
        node.removeAttribute("src");
      }
    });
  }
  return DOMPurify;
}

/** Renders Markdown to sanitised HTML. */
export function renderMarkdown(text: string): string {
  const html = marked.parse(text) as string;
  return purifier().sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "iframe", "object", "embed"],
    FORBID_ATTR: ["style"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|data:image\/(?:png|jpeg|gif|webp);|#|\/(?!\/))/i,
  });
}
