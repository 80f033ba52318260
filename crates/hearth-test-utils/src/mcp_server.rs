//! A real MCP server for tests: a Python script on the official `mcp` SDK (installed into the
//! test venv by `installers/deps.sh --test`), speaking MCP over stdio or streamable HTTP.
//!
//! Its tools: `add {a, b}`, `echo {text}`, `crash` (the process exits), `grow` (adds a tool
//! `extra` and sends `notifications/tools/list_changed`), `picture` (an image) and `fail`
//! (an error result).

use std::path::PathBuf;

/// The script's source.
pub const FAKE_MCP_SERVER_PY: &str = include_str!("mcp_server.py");

/// How to start the fake MCP server: the venv's Python and the script's path.
#[derive(Debug, Clone)]
pub struct FakeMcpServer {
    pub python: PathBuf,
    pub script: PathBuf,
}

impl FakeMcpServer {
    /// The venv at `$HEARTH_TEST_VENV` (default `~/.cache/hearth/test-venv`). Panics with the
    /// fix when it or the `mcp` package is missing.
    pub fn locate() -> FakeMcpServer {
        let venv = std::env::var("HEARTH_TEST_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                std::env::home_dir()
                    .unwrap_or_default()
                    .join(".cache/hearth/test-venv")
            });
        let python = venv.join("bin/python");
        let has_mcp = std::process::Command::new(&python)
            .args(["-c", "import mcp"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            has_mcp,
            "{} with the `mcp` package is missing: run `bash installers/deps.sh --test`",
            python.display()
        );
        FakeMcpServer {
            python,
            script: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src/mcp_server.py")),
        }
    }

    /// `mcp.servers.<name>` for the stdio server, as config JSON.
    pub fn stdio_config(&self) -> serde_json::Value {
        serde_json::json!({
            "command": self.python.display().to_string(),
            "args": [self.script.display().to_string()],
        })
    }

    /// Starts the streamable HTTP flavour; answers the child (killed on drop) and its URL.
    pub async fn start_http(&self) -> std::io::Result<(tokio::process::Child, String)> {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(&self.python)
            .arg(&self.script)
            .arg("--http")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            if let Some(port) = line.strip_prefix("port ") {
                let url = format!("http://127.0.0.1:{}/mcp", port.trim());
                // Keep draining stdout so the server never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return Ok((child, url));
            }
        }
        Err(std::io::Error::other("the fake MCP server printed no port"))
    }
}
