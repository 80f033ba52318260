//! [`Synapse`]: a real Matrix homeserver (Synapse, the reference implementation) on a free
//! loopback port, for the Matrix adapter's tests and the gateway's end-to-end Matrix test.
//!
//! Unlike the other modules this is not a fake: end-to-end encryption is too large a protocol
//! to imitate faithfully, so the tests talk to the real server. It runs
//! `tests/matrix/start-synapse.sh` (server name `localhost`, open registration, no rate limits)
//! in a temporary directory, and needs the virtualenv that `bash tests/matrix/setup-synapse.sh`
//! installs under `$HEARTH_TEST_CACHE` (default `~/.cache/hearth-test`). Without it,
//! [`Synapse::start`] panics with that hint: the tests fail, never skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The password [`Synapse::register`] gives every user.
pub const PASSWORD: &str = "correct horse battery staple";

/// How long the server may take to answer its first request.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A Synapse process on 127.0.0.1, its config, database and log in a temporary directory.
/// Dropping it kills the process.
#[derive(Debug)]
pub struct Synapse {
    child: Child,
    url: String,
    dir: tempfile::TempDir,
}

impl Drop for Synapse {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Synapse {
    /// Starts a homeserver and waits until it answers `/_matrix/client/versions`. Panics with
    /// the setup command when Synapse is not installed, and with the end of its log when it
    /// exits or does not come up in time.
    pub async fn start() -> Synapse {
        let python = python();
        let installed = Command::new(&python)
            .args(["-c", "import synapse.app.homeserver"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            installed,
            "Synapse is not installed ({} cannot import it): run `bash tests/matrix/setup-synapse.sh` \
             from the repository root first",
            python.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = tempfile::tempdir().expect("tempdir");
        let log = std::fs::File::create(dir.path().join("synapse.log")).expect("log file");
        let child = Command::new("bash")
            .arg(repo_root().join("tests/matrix/start-synapse.sh"))
            .arg(dir.path().join("hs"))
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start synapse");
        let mut synapse = Synapse {
            child,
            url: format!("http://127.0.0.1:{port}"),
            dir,
        };
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = synapse.child.try_wait() {
                panic!("Synapse exited ({status}):\n{}", synapse.log_tail());
            }
            let up = http
                .get(format!("{}/_matrix/client/versions", synapse.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if up {
                return synapse;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "Synapse did not start:\n{}",
                synapse.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The homeserver's base URL, `http://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The last 40 lines of the server's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("synapse.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Registers `name` with [`PASSWORD`] through the user-interactive flow (the first call
    /// answers 401 with a session, the second completes the `m.login.dummy` stage) and answers
    /// the full user id, `@name:localhost`. It does not log in: clients do that themselves.
    pub async fn register(&self, name: &str) -> String {
        let http = reqwest::Client::new();
        let url = format!("{}/_matrix/client/v3/register", self.url);
        let first = http
            .post(&url)
            .json(&json!({"username": name, "password": PASSWORD, "inhibit_login": true}))
            .send()
            .await
            .expect("register");
        assert_eq!(
            first.status().as_u16(),
            401,
            "register {name} starts with 401"
        );
        let flow: Value = first.json().await.expect("flow");
        let session = flow["session"].as_str().expect("session").to_owned();
        let done = http
            .post(&url)
            .json(&json!({
                "username": name,
                "password": PASSWORD,
                "inhibit_login": true,
                "auth": {"type": "m.login.dummy", "session": session},
            }))
            .send()
            .await
            .expect("register");
        assert!(
            done.status().is_success(),
            "register {name}: {}",
            done.status()
        );
        let body: Value = done.json().await.expect("registered");
        body["user_id"].as_str().expect("user_id").to_owned()
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The virtualenv's Python, where `tests/matrix/setup-synapse.sh` puts it.
fn python() -> PathBuf {
    let cache = std::env::var_os("HEARTH_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::home_dir()
                .unwrap_or_default()
                .join(".cache/hearth-test")
        });
    cache.join("synapse-venv/bin/python")
}
