//! Token, lockout and Origin checks, over WebSocket and HTTP.

use hearth_client::ClientError;
use hearth_protocol::frame::ErrorCode;

use crate::harness::{TOKEN, TestGateway};

#[tokio::test]
async fn wrong_or_missing_token_is_refused() {
    // maxAttempts is 3; a success clears the count.
    let t = TestGateway::start().await;
    let http = t.http();
    let err = t.client_with(Some("wrong"), None).await.unwrap_err();
    assert_eq!(
        err.shape().map(|s| s.code),
        Some(ErrorCode::Unauthorized),
        "{err}"
    );
    let r = http
        .get(format!("{}/readyz", t.http_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{}/readyz", t.http_base()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let err = t.client_with(None, None).await.unwrap_err();
    assert_eq!(
        err.shape().map(|s| s.code),
        Some(ErrorCode::Unauthorized),
        "{err}"
    );
    let r = http
        .get(format!("{}/readyz", t.http_base()))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // /health needs no token.
    let r = http
        .get(format!("{}/health", t.http_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn repeated_failures_lock_the_client_out() {
    // maxAttempts is 3 in the test config.
    let t = TestGateway::start().await;
    let http = t.http();
    for _ in 0..2 {
        let r = http
            .get(format!("{}/readyz", t.http_base()))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let err = t.client_with(Some("nope"), None).await.unwrap_err();
    assert_eq!(
        err.shape().map(|s| s.code),
        Some(ErrorCode::RateLimited),
        "{err}"
    );
    assert!(err.shape().unwrap().retry_after_ms.unwrap() > 0);

    // Locked out: even the right token gets 429 with Retry-After.
    let r = http
        .get(format!("{}/readyz", t.http_base()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    match t.client_with(Some(TOKEN), None).await {
        Err(ClientError::Refused { status: 429, .. }) => {}
        other => panic!("expected 429 at the upgrade, got {other:?}"),
    }
}

#[tokio::test]
async fn foreign_origins_are_refused_at_the_upgrade() {
    let t = TestGateway::start().await;
    let port = t.gw().local_addr().port();
    match t
        .client_with(Some(TOKEN), Some("https://evil.example"))
        .await
    {
        Err(ClientError::Refused { status: 403, .. }) => {}
        other => panic!("expected 403, got {other:?}"),
    }
    // A DNS name pointing at loopback is still foreign (rebinding).
    match t
        .client_with(Some(TOKEN), Some(&format!("http://evil.example:{port}")))
        .await
    {
        Err(ClientError::Refused { status: 403, .. }) => {}
        other => panic!("expected 403, got {other:?}"),
    }
    // The gateway's own loopback origin is fine.
    let c = t
        .client_with(Some(TOKEN), Some(&format!("http://127.0.0.1:{port}")))
        .await;
    assert!(c.is_ok());
    let c = t
        .client_with(Some(TOKEN), Some(&format!("http://localhost:{port}")))
        .await;
    assert!(c.is_ok());
    // HTTP calls from a foreign origin are refused too, even with the token.
    let r = t
        .http()
        .get(format!("{}/readyz", t.http_base()))
        .bearer_auth(TOKEN)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn allowed_origins_from_config_are_accepted() {
    let fake = hearth_test_utils::FakeOpenAi::start().await;
    let home = tempfile::tempdir().unwrap();
    let cfg = crate::harness::config(&fake, "").replace(
        "gateway: {",
        r#"gateway: { controlUi: { allowedOrigins: ["https://hearth.example.org"] },"#,
    );
    std::fs::write(home.path().join("hearth.json"), cfg).unwrap();
    let gw = crate::harness::start_in(home.path()).await;
    let mut opts = hearth_client::ConnectOptions::new(
        format!("ws://{}/", gw.local_addr()),
        Some(TOKEN.to_owned()),
        "t",
    );
    opts.origin = Some("https://hearth.example.org".into());
    assert!(hearth_client::Client::connect(opts).await.is_ok());
    gw.shutdown().await;
}

#[tokio::test]
async fn generated_token_when_none_is_configured() {
    let home = tempfile::tempdir().unwrap();
    // No token configured: the gateway generates one and keeps it in the secret store (the
    // encrypted file here, chosen in the config so this test never touches a real keychain).
    std::fs::write(
        home.path().join("hearth.json"),
        r#"{ gateway: { port: 0 }, secrets: { backend: "file" } }"#,
    )
    .unwrap();
    let gw = crate::harness::start_in(home.path()).await;
    let token = gw.token().expect("a generated token");
    assert_eq!(token.len(), 64);
    assert!(gw.control_ui_url().ends_with(&format!("#token={token}")));
    gw.shutdown().await;
    // The same token after a restart: it was stored, not regenerated.
    let gw = crate::harness::start_in(home.path()).await;
    assert_eq!(gw.token().as_deref(), Some(token.as_str()));
    // And not in the config file.
    let text = std::fs::read_to_string(home.path().join("hearth.json")).unwrap();
    assert!(!text.contains(&token));
    gw.shutdown().await;
}
