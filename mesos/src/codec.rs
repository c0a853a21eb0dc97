//! The two wire formats of the scheduler API: protobuf and JSON.
//!
//! Every call and event is a protobuf message. A framework chooses how they
//! travel with HTTP headers: `Content-Type` for the calls it sends, `Accept`
//! for the events it receives. Protobuf is compact and what we use by
//! default; JSON is easy to read with curl and is what Mesos answers when the
//! client does not say.
//!
//! Mesos' JSON is the protobuf message written with the *proto field names*
//! (`framework_id`, not `frameworkId`), enum values as their names
//! (`"TASK_RUNNING"`), 64-bit integers as plain numbers, and `bytes` fields
//! in base64. We don't write a second set of types for it: the descriptors
//! of our `.proto` files, compiled in by `build.rs`, let `prost-reflect`
//! translate any message between its protobuf bytes and that JSON.

use std::sync::OnceLock;

use bytes::Bytes;
use prost::{Message, Name};
use prost_reflect::{
    Cardinality, DescriptorPool, DynamicMessage, Kind, MessageDescriptor, SerializeOptions,
};

/// A wire format, named by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContentType {
    /// `application/x-protobuf`
    #[default]
    Protobuf,
    /// `application/json`
    Json,
}

impl ContentType {
    pub fn media_type(self) -> &'static str {
        match self {
            ContentType::Protobuf => "application/x-protobuf",
            ContentType::Json => "application/json",
        }
    }

    /// Reads a `Content-Type` or `Accept` header value. Parameters such as
    /// `; charset=utf-8` are ignored.
    pub fn from_media_type(value: &str) -> Option<ContentType> {
        let essence = value.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf") {
            Some(ContentType::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(ContentType::Json)
        } else {
            None
        }
    }
}

/// A message that could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("invalid protobuf {message}: {source}")]
    Protobuf {
        message: &'static str,
        source: prost::DecodeError,
    },
    #[error("invalid JSON for {message}: {source}")]
    Json {
        message: String,
        source: serde_json::Error,
    },
}

/// Encodes a message in the given format.
pub fn encode<M: Message + Name>(message: &M, format: ContentType) -> Bytes {
    match format {
        ContentType::Protobuf => message.encode_to_vec().into(),
        ContentType::Json => to_json(message).into_bytes().into(),
    }
}

/// Decodes a message from the given format.
pub fn decode<M: Message + Name + Default>(
    bytes: &[u8],
    format: ContentType,
) -> Result<M, CodecError> {
    match format {
        ContentType::Protobuf => M::decode(bytes).map_err(|source| CodecError::Protobuf {
            message: M::NAME,
            source,
        }),
        ContentType::Json => from_json(bytes),
    }
}

/// Writes a message as Mesos' JSON.
pub fn to_json<M: Message + Name>(message: &M) -> String {
    let dynamic = DynamicMessage::decode(descriptor::<M>(), message.encode_to_vec().as_slice())
        .expect("a message we just encoded decodes with its own descriptor");
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .stringify_64_bit_integers(false);
    let mut json = serde_json::Serializer::new(Vec::new());
    dynamic
        .serialize_with_options(&mut json, &options)
        .expect("serializing to memory cannot fail");
    String::from_utf8(json.into_inner()).expect("serde_json writes UTF-8")
}

/// Reads a message from Mesos' JSON.
///
/// A newer master may send fields and enum values this crate does not know.
/// Unknown fields are skipped, and so are unknown values of optional enum
/// fields (a new `TaskStatus.Reason`, say), as protobuf itself would. But an
/// unknown value of a *required* field (`TaskStatus.state`) is an error:
/// leaving it out would turn it into the enum's default, and a scheduler
/// would believe a task is in a state it is not.
pub fn from_json<M: Message + Name + Default>(json: &[u8]) -> Result<M, CodecError> {
    let json_error = |source| CodecError::Json {
        message: M::full_name(),
        source,
    };
    let mut value: serde_json::Value = serde_json::from_slice(json).map_err(json_error)?;
    drop_unknown(&descriptor::<M>(), &mut value)
        .map_err(|e| json_error(serde::de::Error::custom(e)))?;
    let dynamic = DynamicMessage::deserialize(descriptor::<M>(), value).map_err(json_error)?;
    Ok(dynamic
        .transcode_to()
        .expect("a message built from its own descriptor transcodes"))
}

/// Removes from a JSON message the fields and enum values that `message`
/// does not know, failing only for an unknown value of a required enum.
fn drop_unknown(message: &MessageDescriptor, value: &mut serde_json::Value) -> Result<(), String> {
    let serde_json::Value::Object(object) = value else {
        return Ok(()); // not an object: the deserializer reports the type error
    };
    let mut unknown = Vec::new();
    for (key, field_value) in object.iter_mut() {
        let field = message
            .get_field_by_json_name(key)
            .or_else(|| message.get_field_by_name(key));
        let Some(field) = field else {
            unknown.push(key.clone());
            continue;
        };
        let keep = match field.kind() {
            Kind::Message(inner) if field.is_map() => {
                let value_field = inner.map_entry_value_field();
                if let (Kind::Message(value_message), serde_json::Value::Object(entries)) =
                    (value_field.kind(), &mut *field_value)
                {
                    for entry in entries.values_mut() {
                        drop_unknown(&value_message, entry)?;
                    }
                }
                true
            }
            Kind::Message(inner) => {
                match field_value {
                    serde_json::Value::Array(items) => {
                        for item in items {
                            drop_unknown(&inner, item)?;
                        }
                    }
                    item => drop_unknown(&inner, item)?,
                }
                true
            }
            Kind::Enum(enumeration) => {
                let known = |v: &serde_json::Value| match v {
                    serde_json::Value::String(name) => {
                        enumeration.get_value_by_name(name).is_some()
                    }
                    _ => true, // numbers and type errors pass through
                };
                match field_value {
                    serde_json::Value::Array(items) => {
                        items.retain(known);
                        true
                    }
                    single if known(single) => true,
                    single if field.cardinality() == Cardinality::Required => {
                        return Err(format!(
                            "unknown value {single} for required field {}",
                            field.full_name()
                        ));
                    }
                    _ => false,
                }
            }
            _ => true,
        };
        if !keep {
            unknown.push(key.clone());
        }
    }
    for key in unknown {
        tracing::debug!(message = message.full_name(), field = %key, "skipping unknown JSON field or enum value");
        object.remove(&key);
    }
    Ok(())
}

/// The descriptors of every message in our `.proto` files.
fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(
            include_bytes!(concat!(env!("OUT_DIR"), "/mesos_descriptor_set.bin")).as_slice(),
        )
        .expect("build.rs wrote a valid descriptor set")
    })
}

fn descriptor<M: Name>() -> MessageDescriptor {
    pool()
        .get_message_by_name(&M::full_name())
        .expect("every generated message has a descriptor")
}
