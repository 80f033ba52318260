//! The tools an agent may call during a turn.
//!
//! A [`ToolBox`] is what one turn offers the model: only tools in it are described to the model,
//! and a call to anything else is answered with an error result (and never run). The built-in
//! tools and their permission rules plug in here.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use hearth_providers::ToolSpec;
use serde_json::Value;

/// A tool's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub text: String,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn ok(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: true,
        }
    }
}

/// One tool.
#[async_trait]
pub trait Tool: Send + Sync + std::fmt::Debug {
    fn spec(&self) -> ToolSpec;
    async fn call(&self, arguments: Value) -> ToolOutput;
}

/// The tools offered in one turn.
#[derive(Debug, Clone, Default)]
pub struct ToolBox {
    tools: Vec<Arc<dyn Tool>>,
}

impl ToolBox {
    pub fn new(tools: Vec<Arc<dyn Tool>>) -> Self {
        Self { tools }
    }

    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(|t| t.spec()).collect()
    }

    /// Runs a call; answers the output and how long it took in ms.
    pub async fn call(&self, name: &str, arguments: Value) -> (ToolOutput, u64) {
        let started = Instant::now();
        let output = match self.tools.iter().find(|t| t.spec().name == name) {
            Some(tool) => tool.call(arguments).await,
            None => ToolOutput::error(format!(
                "tool `{name}` is not available to this agent; answer without it"
            )),
        };
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        (output, ms)
    }
}
