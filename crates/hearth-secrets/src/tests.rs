//! Tests of both backends. They are plain `#[test]`s: the store must be called outside an async
//! runtime (see `SecretStore`).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::file::KeyEnv;
use crate::{BackendKind, KeySource, Preference, Secret, SecretStore, SecretsError};

const VALUE: &str = "sk-live-0123456789abcdef";

fn env_key(byte: u8) -> KeyEnv {
    KeyEnv {
        key: Some(Secret::from(B64.encode([byte; 32]))),
        passphrase: None,
    }
}

fn passphrase(p: &str) -> KeyEnv {
    KeyEnv {
        key: None,
        passphrase: Some(Secret::from(p.to_owned())),
    }
}

fn open_file(dir: &Path, env: KeyEnv) -> Result<SecretStore, SecretsError> {
    SecretStore::open_with(dir, Preference::File, env)
}

fn round_trip(dir: &Path, env: impl Fn() -> KeyEnv) {
    let store = open_file(dir, env()).expect("open");
    assert_eq!(store.info().kind, BackendKind::EncryptedFile);
    assert!(store.get("openai").expect("get").is_none());
    assert!(store.list().expect("list").is_empty());
    store.set("openai", VALUE).expect("set");
    store.set("anthropic.key", "second").expect("set");
    store.set("openai", "replaced").expect("set");
    assert_eq!(store.list().expect("list"), ["anthropic.key", "openai"]);
    drop(store);

    let store = open_file(dir, env()).expect("reopen");
    assert_eq!(
        store.get("openai").expect("get").expect("present").expose(),
        "replaced"
    );
    assert!(store.delete("openai").expect("delete"));
    assert!(!store.delete("openai").expect("delete again"));
    assert_eq!(store.list().expect("list"), ["anthropic.key"]);
    let raw = std::fs::read_to_string(dir.join("secrets.enc")).expect("read secrets.enc");
    assert!(
        !raw.contains("second") && !raw.contains("anthropic"),
        "plaintext on disk: {raw}"
    );
}

fn envelope(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("secrets.enc")).unwrap()).unwrap()
}

#[test]
fn env_key_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(dir.path(), || env_key(7));
    let store = open_file(dir.path(), env_key(7)).unwrap();
    assert_eq!(store.info().key_source, Some(KeySource::EnvKey));
    assert_eq!(envelope(dir.path())["kdf"], "none");
    assert!(envelope(dir.path()).get("salt").is_none());
    assert!(
        !dir.path().join("secrets.key").exists(),
        "no key file with an env key"
    );
}

#[test]
fn passphrase_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(dir.path(), || passphrase("correct horse battery staple"));
    let env = envelope(dir.path());
    assert_eq!(env["version"], 1);
    assert_eq!(env["kdf"], "argon2id");
    assert_eq!(B64.decode(env["salt"].as_str().unwrap()).unwrap().len(), 16);
    let store = open_file(dir.path(), passphrase("correct horse battery staple")).unwrap();
    assert_eq!(store.info().key_source, Some(KeySource::Passphrase));
    assert!(store.info().advice.contains("HEARTH_SECRETS_PASSPHRASE"));
}

#[test]
fn key_file_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(dir.path(), KeyEnv::default);
    let key_path = dir.path().join("secrets.key");
    assert_eq!(std::fs::read(&key_path).unwrap().len(), 32);
    let store = open_file(dir.path(), KeyEnv::default()).unwrap();
    assert_eq!(store.info().key_source, Some(KeySource::KeyFile(key_path)));
    let advice = &store.info().advice;
    assert!(
        advice.contains("protects copies and backups of secrets.enc"),
        "{advice}"
    );
    assert!(
        advice.contains("not against someone who can read your account's files"),
        "{advice}"
    );
}

#[test]
fn env_key_wins_over_passphrase_and_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let env = KeyEnv {
        passphrase: Some(Secret::from("pass".to_owned())),
        ..env_key(1)
    };
    let store = open_file(dir.path(), env).unwrap();
    assert_eq!(store.info().key_source, Some(KeySource::EnvKey));
    let store = open_file(dir.path(), passphrase("pass")).unwrap();
    assert_eq!(store.info().key_source, Some(KeySource::Passphrase));
}

#[test]
fn every_write_uses_a_new_nonce() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_file(dir.path(), env_key(3)).unwrap();
    store.set("a", VALUE).unwrap();
    let first = envelope(dir.path());
    store.set("a", VALUE).unwrap();
    let second = envelope(dir.path());
    assert_ne!(first["nonce"], second["nonce"]);
    assert_ne!(first["ciphertext"], second["ciphertext"]);
}

#[test]
fn wrong_key_is_refused_and_the_file_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    open_file(dir.path(), env_key(1))
        .unwrap()
        .set("openai", VALUE)
        .unwrap();
    let before = std::fs::read(dir.path().join("secrets.enc")).unwrap();

    let err = open_file(dir.path(), env_key(2)).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SecretsError::Decrypt { .. }), "{err:?}");
    assert!(
        msg.contains("HEARTH_SECRETS_KEY") && msg.contains("was not changed"),
        "{msg}"
    );
    assert!(!msg.contains(VALUE));

    // A passphrase cannot open a file written with a raw key, and says why.
    let msg = open_file(dir.path(), passphrase("guess"))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("HEARTH_SECRETS_PASSPHRASE") && msg.contains("raw key"),
        "{msg}"
    );
    // Without a key file, none is made: a new key could never read the existing file.
    let err = open_file(dir.path(), KeyEnv::default()).unwrap_err();
    assert!(matches!(err, SecretsError::BadKey(_)), "{err:?}");
    assert!(!dir.path().join("secrets.key").exists());
    assert_eq!(
        std::fs::read(dir.path().join("secrets.enc")).unwrap(),
        before
    );
}

#[test]
fn wrong_passphrase_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    open_file(dir.path(), passphrase("right"))
        .unwrap()
        .set("x", VALUE)
        .unwrap();
    let before = std::fs::read(dir.path().join("secrets.enc")).unwrap();
    let err = open_file(dir.path(), passphrase("wrong")).unwrap_err();
    assert!(
        matches!(err, SecretsError::Decrypt { ref source_desc } if source_desc.contains("passphrase"))
    );
    assert_eq!(
        std::fs::read(dir.path().join("secrets.enc")).unwrap(),
        before
    );
}

#[test]
fn damaged_file_is_reported_as_corrupt_or_undecryptable() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_file(dir.path(), env_key(5)).unwrap();
    store.set("x", VALUE).unwrap();
    let mut env = envelope(dir.path());
    let mut ct = B64.decode(env["ciphertext"].as_str().unwrap()).unwrap();
    ct[0] ^= 1;
    env["ciphertext"] = B64.encode(ct).into();
    std::fs::write(dir.path().join("secrets.enc"), env.to_string()).unwrap();
    assert!(matches!(store.get("x"), Err(SecretsError::Decrypt { .. })));
    assert!(
        store.set("y", "z").is_err(),
        "a write must not replace a file it cannot read"
    );

    std::fs::write(dir.path().join("secrets.enc"), "not json").unwrap();
    assert!(matches!(store.get("x"), Err(SecretsError::Corrupt(_))));
    assert_eq!(
        std::fs::read(dir.path().join("secrets.enc")).unwrap(),
        b"not json"
    );
}

#[test]
fn bad_env_key_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["not base64!", &B64.encode([0u8; 16])] {
        let env = KeyEnv {
            key: Some(Secret::from(bad.to_owned())),
            passphrase: None,
        };
        let err = open_file(dir.path(), env).unwrap_err();
        assert!(matches!(err, SecretsError::BadKey(_)), "{err:?}");
        assert!(err.to_string().contains("openssl rand -base64 32"), "{err}");
        assert!(
            !err.to_string().contains(bad),
            "the bad value is not echoed"
        );
    }
}

#[cfg(unix)]
#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let store = open_file(&home, KeyEnv::default()).unwrap();
    store.set("a", VALUE).unwrap();
    assert_eq!(mode(&home), 0o700, "a state dir it creates is private");
    assert_eq!(mode(&home.join("secrets.enc")), 0o600);
    assert_eq!(mode(&home.join("secrets.key")), 0o600);

    // The keychain's names index is written the same way.
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    {
        let index = home.join(crate::keychain::INDEX_FILE_NAME);
        crate::keychain::write_index(&index, &["a".to_owned(), "b".to_owned()]).unwrap();
        assert_eq!(mode(&index), 0o600);
        assert_eq!(crate::keychain::read_index(&index).unwrap(), ["a", "b"]);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&home)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[cfg(unix)]
#[test]
fn key_file_open_to_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    open_file(dir.path(), KeyEnv::default())
        .unwrap()
        .set("a", VALUE)
        .unwrap();
    let key = dir.path().join("secrets.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = open_file(dir.path(), KeyEnv::default()).unwrap_err();
    assert!(matches!(err, SecretsError::BadKey(_)), "{err:?}");
    assert!(err.to_string().contains("chmod 600"), "{err}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        open_file(dir.path(), KeyEnv::default())
            .unwrap()
            .get("a")
            .unwrap()
            .unwrap()
            .expose(),
        VALUE
    );
}

#[test]
fn names_are_validated() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_file(dir.path(), env_key(9)).unwrap();
    let longest = "n".repeat(128);
    for good in ["a", "OPENAI_API_KEY", "anthropic.key-2", longest.as_str()] {
        store.set(good, VALUE).unwrap();
        assert!(store.get(good).unwrap().is_some(), "{good}");
    }
    let too_long = "n".repeat(129);
    for bad in ["", "a b", "a/b", "a:b", "é", "key\n", too_long.as_str()] {
        assert!(
            matches!(store.get(bad), Err(SecretsError::InvalidName)),
            "get {bad:?}"
        );
        assert!(
            matches!(store.set(bad, VALUE), Err(SecretsError::InvalidName)),
            "set {bad:?}"
        );
        assert!(
            matches!(store.delete(bad), Err(SecretsError::InvalidName)),
            "delete {bad:?}"
        );
    }
}

#[test]
fn values_never_print() {
    let secret = Secret::from(VALUE.to_owned());
    assert_eq!(format!("{secret:?}"), "[redacted]");
    assert_eq!(format!("{secret}"), "[redacted]");
    assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
    assert_eq!(secret.expose(), VALUE);

    let dir = tempfile::tempdir().unwrap();
    for env in [env_key(4), passphrase("hunter2"), KeyEnv::default()] {
        let store = open_file(dir.path(), env).unwrap();
        store.set("openai", VALUE).unwrap();
        let shown = format!(
            "{store:?} {:?} {:?}",
            store.info(),
            store.get("openai").unwrap()
        );
        assert!(
            !shown.contains(VALUE) && !shown.contains("hunter2"),
            "{shown}"
        );
        assert!(
            shown.contains("SecretStore") && shown.contains("[redacted]"),
            "{shown}"
        );
        std::fs::remove_file(dir.path().join("secrets.enc")).unwrap();
    }
}

#[test]
fn concurrent_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_file(dir.path(), env_key(6)).unwrap();
    std::thread::scope(|s| {
        for t in 0..4 {
            let store = &store;
            s.spawn(move || {
                for i in 0..5 {
                    store.set(&format!("t{t}-{i}"), VALUE).unwrap();
                }
            });
        }
    });
    assert_eq!(store.list().unwrap().len(), 20);
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SecretStore>();
}

#[test]
fn preference_parses_and_kind_displays() {
    assert_eq!("auto".parse::<Preference>(), Ok(Preference::Auto));
    assert_eq!(" Keychain ".parse::<Preference>(), Ok(Preference::Keychain));
    assert_eq!("FILE".parse::<Preference>(), Ok(Preference::File));
    assert!("vault".parse::<Preference>().is_err());
    assert_eq!(Preference::File.to_string(), "file");
    assert_eq!(BackendKind::Keychain.to_string(), "keychain");
    assert_eq!(BackendKind::EncryptedFile.to_string(), "encrypted-file");
}

/// Whether this machine has a D-Bus session bus where zbus looks for one.
#[cfg(target_os = "linux")]
fn session_bus_present() -> bool {
    use std::os::unix::fs::MetadataExt;
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        return true;
    }
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR").map_or_else(
        || {
            format!(
                "/run/user/{}",
                std::fs::metadata("/proc/self").unwrap().uid()
            )
            .into()
        },
        std::path::PathBuf::from,
    );
    runtime_dir.join("bus").exists()
}

/// keyring without a platform feature silently uses an in-memory mock; this build must use the
/// real Secret Service.
#[cfg(target_os = "linux")]
#[test]
fn linux_keychain_is_the_secret_service_not_the_mock() {
    let entry = keyring::Entry::new("hearth:test", "probe").unwrap();
    let cred = entry.get_credential();
    assert!(
        cred.downcast_ref::<keyring::secret_service::SsCredential>()
            .is_some()
    );
    assert!(
        cred.downcast_ref::<keyring::mock::MockCredential>()
            .is_none()
    );
}

#[cfg(target_os = "linux")]
#[test]
fn auto_falls_back_to_the_file_without_a_session_bus() {
    let dir = tempfile::tempdir().unwrap();
    let store = SecretStore::open_with(dir.path(), Preference::Auto, env_key(8)).unwrap();
    if session_bus_present() {
        // A desktop: whichever backend won must work.
        store.set("auto-test", VALUE).unwrap();
        assert!(store.delete("auto-test").unwrap());
        return;
    }
    let info = store.info();
    assert_eq!(info.kind, BackendKind::EncryptedFile);
    assert_eq!(info.key_source, Some(KeySource::EnvKey));
    assert!(
        info.advice.starts_with("The OS keychain was not usable ("),
        "{}",
        info.advice
    );
    assert!(info.location.ends_with("secrets.enc"));
    store.set("a", VALUE).unwrap();
    assert_eq!(store.get("a").unwrap().unwrap().expose(), VALUE);
}

#[cfg(target_os = "linux")]
#[test]
fn keychain_preference_without_a_keychain_is_unavailable() {
    if session_bus_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let err = SecretStore::open_with(dir.path(), Preference::Keychain, env_key(8)).unwrap_err();
    assert!(matches!(err, SecretsError::Unavailable(_)), "{err:?}");
    assert!(
        err.to_string().contains("HEARTH_SECRETS_BACKEND=file"),
        "{err}"
    );
    assert!(!dir.path().join("secrets.enc").exists());
}
