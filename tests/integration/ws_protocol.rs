//! The WebSocket handshake and frame handling.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hearth_protocol::frame::ErrorCode;
use hearth_protocol::methods::{Empty, spec};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::harness::{TOKEN, TestGateway};

#[tokio::test]
async fn handshake_announces_methods_events_and_limits() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let hello = client.hello();
    assert_eq!(hello.kind, "hello-ok");
    assert_eq!(hello.protocol, hearth_protocol::PROTOCOL_VERSION);
    for m in [
        "health",
        "status",
        "chat.send",
        "chat.history",
        "chat.abort",
        "sessions.list",
        "sessions.preview",
        "sessions.reset",
        "sessions.delete",
        "models.list",
        "config.get",
        "config.schema",
    ] {
        assert!(hello.features.methods.iter().any(|x| x == m), "missing {m}");
    }
    assert!(hello.features.events.iter().any(|e| e == "chat"));
    assert_eq!(hello.policy.max_payload, hearth_protocol::MAX_FRAME_BYTES);
    let health = client.call::<spec::Health>(Empty {}).await.unwrap();
    assert!(health.ok);
}

#[tokio::test]
async fn malformed_frames_get_errors_and_the_connection_survives() {
    let t = TestGateway::start().await;
    let client = t.client().await;
    let other = t.client().await;

    let res = client.send_raw("this is not json", None).await.unwrap();
    assert!(!res.ok);
    assert_eq!(res.error.unwrap().code, ErrorCode::InvalidRequest);

    let res = client
        .send_raw(r#"{"type":"req","id":"a1"}"#, Some("a1"))
        .await
        .unwrap();
    assert_eq!(res.error.unwrap().code, ErrorCode::InvalidRequest);

    let res = client
        .send_raw(r#"{"type":"req","id":"a2","method":"no.such"}"#, Some("a2"))
        .await
        .unwrap();
    assert_eq!(res.error.unwrap().code, ErrorCode::UnknownMethod);

    let res = client
        .send_raw(
            r#"{"type":"req","id":"a3","method":"chat.send","params":{"mesage":"typo"}}"#,
            Some("a3"),
        )
        .await
        .unwrap();
    let err = res.error.unwrap();
    assert_eq!(err.code, ErrorCode::InvalidRequest);
    assert!(err.message.contains("chat.send"), "{}", err.message);

    let res = client
        .send_raw(
            r#"{"type":"req","id":"a4","method":"connect","params":{}}"#,
            Some("a4"),
        )
        .await
        .unwrap();
    assert_eq!(res.error.unwrap().code, ErrorCode::InvalidRequest);

    // Both connections still work.
    assert!(client.call::<spec::Health>(Empty {}).await.unwrap().ok);
    assert!(other.call::<spec::Health>(Empty {}).await.unwrap().ok);
}

async fn raw_socket(
    t: &TestGateway,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(t.ws_url()).await.unwrap();
    let challenge = ws.next().await.unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_str(challenge.to_text().unwrap()).unwrap();
    assert_eq!(v["event"], "connect.challenge");
    assert!(v["payload"]["nonce"].is_string());
    ws
}

async fn read_response(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> serde_json::Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(WsMessage::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(WsMessage::Close(_))) | None => panic!("closed before a response"),
            _ => {}
        }
    }
}

async fn expect_closed(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) {
    match tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
    {
        Some(Ok(WsMessage::Close(_)) | Err(_)) | None => {}
        Some(Ok(other)) => panic!("expected close, got {other:?}"),
    }
}

#[tokio::test]
async fn first_frame_must_be_connect() {
    let t = TestGateway::start().await;
    let mut ws = raw_socket(&t).await;
    ws.send(WsMessage::text(
        r#"{"type":"req","id":"1","method":"health"}"#,
    ))
    .await
    .unwrap();
    let res = read_response(&mut ws).await;
    assert_eq!(res["ok"], false);
    assert_eq!(res["error"]["code"], "UNAUTHORIZED");
    expect_closed(&mut ws).await;
}

#[tokio::test]
async fn oversized_frame_before_auth_is_refused() {
    let t = TestGateway::start().await;
    let mut ws = raw_socket(&t).await;
    let big = format!(
        r#"{{"type":"req","id":"1","method":"connect","params":{{"pad":"{}"}}}}"#,
        "x".repeat(100_000)
    );
    ws.send(WsMessage::text(big)).await.unwrap();
    let res = read_response(&mut ws).await;
    assert_eq!(res["error"]["code"], "PAYLOAD_TOO_LARGE");
    expect_closed(&mut ws).await;
}

#[tokio::test]
async fn protocol_mismatch_is_explained() {
    let t = TestGateway::start().await;
    let mut ws = raw_socket(&t).await;
    let connect = serde_json::json!({"type":"req","id":"c","method":"connect","params":{
        "minProtocol": 99, "maxProtocol": 100,
        "client": {"id":"x","version":"1","platform":"test"}, "auth": {"token": TOKEN}}});
    ws.send(WsMessage::text(connect.to_string())).await.unwrap();
    let res = read_response(&mut ws).await;
    assert_eq!(res["id"], "c");
    assert!(
        res["error"]["message"]
            .as_str()
            .unwrap()
            .contains("protocol mismatch")
    );
}

#[tokio::test]
async fn connect_within_the_deadline_or_be_closed_by_shutdown() {
    // A silent client does not hold up shutdown.
    let mut t = TestGateway::start().await;
    let mut ws = raw_socket(&t).await;
    let stop = tokio::spawn(async move {
        t.stop().await;
        t
    });
    expect_closed(&mut ws).await;
    let _t = tokio::time::timeout(Duration::from_secs(15), stop)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn protocol_schema_document_is_current() {
    let generated =
        serde_json::to_string_pretty(&hearth_protocol::schema::protocol_schema()).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.schema.json");
    if std::env::var_os("HEARTH_UPDATE_DOCS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/protocol.schema.json is stale: run `HEARTH_UPDATE_DOCS=1 cargo test -p hearth-tests` and commit it"
    );
}

#[tokio::test]
async fn config_schema_document_is_current() {
    let generated = serde_json::to_string_pretty(&hearth_config::schema()).unwrap() + "\n";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/config.schema.json");
    if std::env::var_os("HEARTH_UPDATE_DOCS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/config.schema.json is stale: run `HEARTH_UPDATE_DOCS=1 cargo test -p hearth-tests` and commit it"
    );
}
