//! One MCP server's tool as a [`Tool`] the agent loop can offer: its model-facing name, and a
//! `tools/call` with the run's cancellation and the server's timeout.

use std::time::Duration;

use async_trait::async_trait;
use hearth_providers::ToolSpec;
use rmcp::RoleClient;
use rmcp::model::{CallToolRequestParams, CallToolResponse};
use rmcp::service::{Peer, ServiceError};
use serde_json::Value;

use crate::agent::tools::{Tool, ToolContext, ToolOutput};

/// Longest tool name providers accept.
const MAX_NAME: usize = 64;

/// The name the model sees: `<server>__<tool>`, with anything but `[a-zA-Z0-9_-]` replaced by
/// `_`, cut to 64 characters.
pub fn tool_name(server: &str, tool: &str) -> String {
    format!("{server}__{tool}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_NAME)
        .collect()
}

/// A tool of a connected MCP server.
#[derive(Debug, Clone)]
pub struct McpTool {
    spec: ToolSpec,
    server: String,
    /// The server's own name for it.
    remote: String,
    peer: Peer<RoleClient>,
    timeout: Duration,
}

impl McpTool {
    /// From one entry of the server's `tools/list`; `None` when it has no name.
    pub(crate) fn from_listed(
        server: &str,
        listed: &rmcp::model::Tool,
        peer: Peer<RoleClient>,
        timeout: Duration,
    ) -> Option<McpTool> {
        // Read through JSON: the fields the model needs are stable on the wire.
        let listed = serde_json::to_value(listed).ok()?;
        let remote = listed.get("name")?.as_str()?.to_owned();
        let description = listed
            .get("description")
            .and_then(Value::as_str)
            .or_else(|| listed.get("title").and_then(Value::as_str))
            .unwrap_or_default()
            .to_owned();
        let mut parameters = listed
            .get("inputSchema")
            .cloned()
            .unwrap_or_else(|| serde_json::json!({ "type": "object" }));
        if let Some(schema) = parameters.as_object_mut() {
            // Providers want an object schema with `properties`.
            schema
                .entry("type")
                .or_insert_with(|| Value::String("object".to_owned()));
            schema
                .entry("properties")
                .or_insert_with(|| Value::Object(Default::default()));
        }
        Some(McpTool {
            spec: ToolSpec {
                name: tool_name(server, &remote),
                description,
                parameters,
            },
            server: server.to_owned(),
            remote,
            peer,
            timeout,
        })
    }

    /// The name the model sees.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The server it belongs to.
    pub fn server(&self) -> &str {
        &self.server
    }
}

#[async_trait]
impl Tool for McpTool {
    fn spec(&self) -> ToolSpec {
        self.spec.clone()
    }

    async fn call(&self, ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let arguments = match arguments {
            Value::Object(map) => map,
            Value::Null => Default::default(),
            other => {
                return ToolOutput::error(format!(
                    "the arguments must be a JSON object, found {other}"
                ));
            }
        };
        let params = CallToolRequestParams::new(self.remote.clone()).with_arguments(arguments);
        // Dropping the call (cancelled run, timeout) sends `notifications/cancelled`.
        let call = self.peer.call_tool_once(params);
        let answer = tokio::select! {
            () = ctx.cancel.cancelled() => {
                return ToolOutput::error("cancelled: the run was aborted");
            }
            answer = tokio::time::timeout(self.timeout, call) => answer,
        };
        match answer {
            Err(_) => ToolOutput::error(format!(
                "MCP server `{}` did not answer within {} s",
                self.server,
                self.timeout.as_secs()
            )),
            Ok(Err(ServiceError::TransportClosed | ServiceError::TransportSend(_))) => {
                ToolOutput::error(format!(
                    "MCP server `{}` is not connected; it is being restarted. Try again later or answer without it.",
                    self.server
                ))
            }
            Ok(Err(ServiceError::McpError(e))) => ToolOutput::error(format!(
                "MCP server `{}` refused the call: {}",
                self.server, e.message
            )),
            Ok(Err(e)) => ToolOutput::error(format!("MCP server `{}`: {e}", self.server)),
            Ok(Ok(CallToolResponse::Complete(result))) => match serde_json::to_value(&result) {
                Ok(value) => result_output(&value),
                Err(e) => ToolOutput::error(format!("could not read the result: {e}")),
            },
            Ok(Ok(_)) => ToolOutput::error(format!(
                "MCP server `{}` asked for input or started a task; Hearth does not support that yet",
                self.server
            )),
        }
    }
}

/// A `tools/call` result as the model sees it: text parts joined, other parts summarised;
/// `isError: true` makes it an error.
pub(crate) fn result_output(result: &Value) -> ToolOutput {
    let parts: Vec<String> = result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(content_text)
        .collect();
    let mut text = parts.join("\n");
    if text.is_empty()
        && let Some(structured) = result.get("structuredContent")
    {
        text = structured.to_string();
    }
    if result.get("content").is_none() && result.get("structuredContent").is_none() {
        // Not a final result (a task or an input request): nothing the loop can use.
        return ToolOutput::error("the MCP server answered without a result");
    }
    if result.get("isError").and_then(Value::as_bool) == Some(true) {
        ToolOutput::error(text)
    } else {
        ToolOutput::ok(text)
    }
}

fn content_text(part: &Value) -> String {
    let kind = part.get("type").and_then(Value::as_str).unwrap_or_default();
    let str_of = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_owned();
    // Base64 length to decoded bytes, near enough for a summary.
    let decoded_len = |data: &str| data.trim_end_matches('=').len() * 3 / 4;
    match kind {
        "text" => str_of(part.get("text")),
        "image" | "audio" => {
            let data = str_of(part.get("data"));
            format!(
                "[{kind}: {}, {} bytes]",
                str_of(part.get("mimeType")),
                decoded_len(&data)
            )
        }
        "resource" => {
            let resource = part.get("resource").cloned().unwrap_or_default();
            let uri = str_of(resource.get("uri"));
            match resource.get("text").and_then(Value::as_str) {
                Some(text) => format!("[resource: {uri}]\n{text}"),
                None => format!(
                    "[resource: {uri}, {}, {} bytes]",
                    str_of(resource.get("mimeType")),
                    decoded_len(&str_of(resource.get("blob")))
                ),
            }
        }
        "resource_link" => format!("[resource link: {}]", str_of(part.get("uri"))),
        other => format!("[{other} content]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_sanitised_and_capped() {
        assert_eq!(tool_name("fake", "add"), "fake__add");
        assert_eq!(tool_name("gh", "repo.list/all"), "gh__repo_list_all");
        assert_eq!(tool_name("x", "é"), "x___");
        let long = tool_name("server", &"t".repeat(100));
        assert_eq!(long.len(), 64);
        assert!(long.starts_with("server__ttt"));
    }

    #[test]
    fn results_join_text_and_summarise_the_rest() {
        let out = result_output(&json!({
            "content": [
                { "type": "text", "text": "one" },
                { "type": "image", "data": "AAAA", "mimeType": "image/png" },
                { "type": "resource", "resource": { "uri": "file:///a", "text": "body" } },
                { "type": "resource", "resource": { "uri": "file:///b", "blob": "AAAAAA==", "mimeType": "application/pdf" } },
                { "type": "text", "text": "two" }
            ]
        }));
        assert_eq!(
            out,
            ToolOutput::ok(
                "one\n[image: image/png, 3 bytes]\n[resource: file:///a]\nbody\n[resource: file:///b, application/pdf, 4 bytes]\ntwo"
            )
        );
        let err = result_output(
            &json!({ "content": [{ "type": "text", "text": "bad" }], "isError": true }),
        );
        assert_eq!(err, ToolOutput::error("bad"));
        let structured = result_output(&json!({ "content": [], "structuredContent": { "n": 3 } }));
        assert_eq!(structured, ToolOutput::ok("{\"n\":3}"));
        assert!(result_output(&json!({ "task": {} })).is_error);
    }
}
