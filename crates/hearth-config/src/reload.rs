//! Which setting changes need a gateway restart. Everything not listed here applies live
//! when `gateway.reload.mode` is `hot`.

use crate::Config;

/// Dotted paths of the changed settings that cannot apply without a restart: the listener
/// (`gateway.port`, `gateway.bind`, `gateway.customBindHost`), the Control UI mount point
/// (`gateway.controlUi.basePath`), log files (`logging.file`, `logging.maxFiles`) and the
/// secret store (`secrets.backend`), and the number of scheduled jobs run at once
/// (`cron.maxConcurrentRuns`).
pub fn restart_required(old: &Config, new: &Config) -> Vec<String> {
    let (a, b) = (&old.gateway, &new.gateway);
    let checks = [
        ("gateway.port", a.port != b.port),
        ("gateway.bind", a.bind != b.bind),
        (
            "gateway.customBindHost",
            a.custom_bind_host != b.custom_bind_host,
        ),
        (
            "gateway.controlUi.basePath",
            a.control_ui.base_path != b.control_ui.base_path,
        ),
        ("logging.file", old.logging.file != new.logging.file),
        (
            "logging.maxFiles",
            old.logging.max_files != new.logging.max_files,
        ),
        (
            "secrets.backend",
            old.secrets.backend != new.secrets.backend,
        ),
        (
            "cron.maxConcurrentRuns",
            old.cron.max_concurrent_runs != new.cron.max_concurrent_runs,
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(path, _)| path.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BindMode, SecretsBackend};

    #[test]
    fn only_listener_log_file_and_secret_store_changes_need_a_restart() {
        let old = Config::default();
        let mut new = old.clone();
        new.logging.level = "debug".to_owned();
        new.agents.defaults.model.primary = Some("a/b".to_owned());
        new.gateway
            .control_ui
            .allowed_origins
            .push("https://x.org".to_owned());
        assert_eq!(restart_required(&old, &new), Vec::<String>::new());

        new.gateway.port = 1;
        new.gateway.bind = BindMode::Lan;
        new.gateway.custom_bind_host = Some("10.0.0.1".to_owned());
        new.gateway.control_ui.base_path = "/ui".to_owned();
        new.logging.file = false;
        new.logging.max_files = 1;
        new.secrets.backend = SecretsBackend::File;
        assert_eq!(
            restart_required(&old, &new),
            [
                "gateway.port",
                "gateway.bind",
                "gateway.customBindHost",
                "gateway.controlUi.basePath",
                "logging.file",
                "logging.maxFiles",
                "secrets.backend",
            ]
        );
    }
}
