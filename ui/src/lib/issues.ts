// Config issues (from config.validate or a refused write) placed next to the form fields they
// are about. Paths may name array items (`agents.list[0].id` or `agents.list.0.id`) or parts
// the form does not show as fields: those go to the nearest field above them.

import type { Issue } from "./protocol";

/** `a.b[0].c` → `a.b.0.c`; leading/trailing dots and `/` separators tolerated. */
export function normalizePath(path: string): string {
  return path
    .replace(/\[(\d+)\]/g, ".$1")
    .replace(/\[["']([^"']*)["']\]/g, ".$1")
    .replace(/^\$\.?/, "")
    .replace(/\//g, ".")
    .replace(/\.{2,}/g, ".")
    .replace(/^\.|\.$/g, "");
}

/** The field an issue belongs to: its own path if the form has it, else the closest ancestor ("" for the document). */
export function fieldForIssue(path: string, fields: Set<string>): string {
  const parts = normalizePath(path).split(".").filter(Boolean);
  while (parts.length > 0) {
    const id = parts.join(".");
    if (fields.has(id)) return id;
    parts.pop();
  }
  return "";
}

/** Issues grouped by field id; "" holds those about the whole document. */
export function mapIssues(issues: Issue[], fields: Set<string>): Map<string, Issue[]> {
  const out = new Map<string, Issue[]>();
  for (const issue of issues) {
    const id = fieldForIssue(issue.path, fields);
    const list = out.get(id) ?? [];
    list.push(issue);
    out.set(id, list);
  }
  return out;
}

/** Issues out of a refused write: `details.issues` of INVALID_REQUEST. */
export function issuesFromDetails(details: unknown): Issue[] {
  if (typeof details !== "object" || details === null) return [];
  const list = (details as { issues?: unknown }).issues;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (i): i is Issue => typeof i === "object" && i !== null && typeof (i as Issue).message === "string",
  ).map((i) => ({ ...i, path: typeof i.path === "string" ? i.path : "", severity: i.severity === "warning" ? "warning" : "error" }));
}

/** One line for a person: "models.providers.x.baseUrl: must be a URL (line 4, column 9)". */
export function formatIssue(issue: Issue): string {
  const where = issue.line ? ` (line ${issue.line}${issue.column ? `, column ${issue.column}` : ""})` : "";
  return `${issue.path ? `${issue.path}: ` : ""}${issue.message}${where}`;
}

export function hasErrors(issues: Issue[]): boolean {
  return issues.some((i) => i.severity !== "warning");
}
