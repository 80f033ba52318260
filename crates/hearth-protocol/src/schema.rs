//! The protocol as one JSON Schema document, generated from the types in this crate.
//!
//! `hearth gateway protocol-schema` prints it and `docs/protocol.schema.json` is a copy that a
//! test keeps identical, so clients and docs cannot drift from the implementation.

use serde_json::{Map, Value, json};

use crate::frame::Frame;

/// `{ frames, methods: {name: {description, params, result}}, events: {name: {description, payload}}, $defs }`.
pub fn protocol_schema() -> Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12();
    let mut generator = settings.into_generator();
    let frame = generator.subschema_for::<Frame>();

    let mut methods = Map::new();
    for (name, doc, params, result) in crate::methods::method_schemas(&mut generator) {
        methods.insert(
            name.to_owned(),
            json!({ "description": doc, "params": params, "result": result }),
        );
    }
    let mut events = Map::new();
    for (name, doc, payload) in crate::events::event_schemas(&mut generator) {
        events.insert(
            name.to_owned(),
            json!({ "description": doc, "payload": payload }),
        );
    }
    let defs: Map<String, Value> = generator.take_definitions(true).into_iter().collect();

    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Hearth gateway protocol",
        "description": "WebSocket frames, methods and events of the Hearth gateway.",
        "protocolVersion": crate::PROTOCOL_VERSION,
        "frame": frame,
        "methods": methods,
        "events": events,
        "$defs": defs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_and_event_is_in_the_schema() {
        let schema = protocol_schema();
        for m in crate::methods::Method::ALL {
            assert!(
                schema["methods"][m.name()]["params"].is_object(),
                "{}",
                m.name()
            );
        }
        for e in crate::events::EventName::ALL {
            assert!(
                schema["events"][e.name()]["payload"].is_object(),
                "{}",
                e.name()
            );
        }
        assert!(schema["$defs"]["Message"].is_object());
    }
}
