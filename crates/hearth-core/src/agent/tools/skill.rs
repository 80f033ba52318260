//! `skill`: reading an available skill's instructions.
//!
//! The system prompt lists each available skill by name and description only; the model reads
//! a skill's `SKILL.md` (or a file it mentions) with this tool when it needs it. The reading,
//! its confinement to the skill's folder and its caps belong to the skills registry
//! ([`crate::agent::skills::SkillRegistry::read_skill`]).

use std::sync::Arc;

use async_trait::async_trait;
use hearth_providers::ToolSpec;
use serde::Deserialize;
use serde_json::{Value, json};

use super::fs::blocking;
use super::{Tool, ToolContext, ToolError, ToolOutput, parse_args};
use crate::agent::skills::SkillRegistry;

/// `skill`, over the skills the agent had when its turn started.
#[derive(Debug, Clone)]
pub struct SkillTool {
    registry: Arc<SkillRegistry>,
}

#[derive(Debug, Deserialize)]
struct SkillArgs {
    name: String,
    file: Option<String>,
}

impl SkillTool {
    pub fn new(registry: Arc<SkillRegistry>) -> Self {
        Self { registry }
    }
}

#[async_trait]
impl Tool for SkillTool {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: "skill".to_owned(),
            description: "Read one of your skills: its SKILL.md instructions, or with `file` a file inside the skill's folder that the instructions mention (e.g. `references/api.md`). Read a skill before using it.".to_owned(),
            parameters: json!({
                "type": "object",
                "properties": {
                    "name": { "type": "string", "description": "The skill's name, from the skills list." },
                    "file": { "type": "string", "description": "A path relative to the skill's folder." }
                },
                "required": ["name"]
            }),
        }
    }

    async fn call(&self, _ctx: &ToolContext, arguments: Value) -> ToolOutput {
        let args: SkillArgs = match parse_args(arguments) {
            Ok(a) => a,
            Err(e) => return e.into(),
        };
        let registry = self.registry.clone();
        let read = blocking(move || {
            registry
                .read_skill(args.name.trim(), args.file.as_deref())
                .map_err(|e| ToolError::Refused(e.to_string()))
        })
        .await;
        match read {
            Ok(text) => ToolOutput::ok(text),
            Err(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing;
    use super::*;
    use crate::agent::tools::ToolBox;

    #[tokio::test]
    async fn reads_available_skills_and_is_offered_only_with_some() {
        let home = tempfile::tempdir().unwrap();
        let ctx = testing::context(home.path(), hearth_config::Config::default()).await;
        let live = ctx.runtime.live();
        let agent = live.agents.default_agent();
        std::fs::create_dir_all(&agent.workspace).unwrap();
        let without = ToolBox::for_agent(&ctx.runtime, agent);
        assert!(!without.names().contains(&"skill"), "{:?}", without.names());

        let dir = agent.workspace.join("skills/tides");
        std::fs::create_dir_all(dir.join("references")).unwrap();
        std::fs::write(
            dir.join("SKILL.md"),
            "---\nname: tides\ndescription: Tide tables.\n---\nLook up the tide.\n",
        )
        .unwrap();
        std::fs::write(dir.join("references/ports.md"), "Brest\n").unwrap();
        let with = ToolBox::for_agent(&ctx.runtime, agent);
        assert!(with.names().contains(&"skill"), "{:?}", with.names());

        let (out, _) = with.call(&ctx, "skill", json!({"name": "tides"})).await;
        assert_eq!(out, ToolOutput::ok("Look up the tide.\n"));
        let (out, _) = with
            .call(
                &ctx,
                "skill",
                json!({"name": "tides", "file": "references/ports.md"}),
            )
            .await;
        assert_eq!(out, ToolOutput::ok("Brest\n"));
        let (out, _) = with
            .call(
                &ctx,
                "skill",
                json!({"name": "tides", "file": "../../MEMORY.md"}),
            )
            .await;
        assert!(out.is_error, "{out:?}");
        let (out, _) = with.call(&ctx, "skill", json!({"name": "nope"})).await;
        assert!(out.is_error && out.text.contains("nope"), "{out:?}");
    }
}
