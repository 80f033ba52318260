use std::path::PathBuf;

/// Errors of the gateway core. Messages are for the person running Hearth: each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error(transparent)]
    Config(#[from] hearth_config::ConfigError),
    #[error(transparent)]
    Store(#[from] hearth_store::StoreError),
    #[error(transparent)]
    Secrets(#[from] hearth_secrets::SecretsError),
    #[error("cannot use the state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "cannot listen on {addr}: {source}. Is another gateway running? Check with `hearth gateway status`, or pick another port: `hearth config set gateway.port <port>` (or --port for one run)."
    )]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Internal(String),
}
