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
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, SerializeOptions};

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
/// Unknown fields are skipped, so a newer master that sends fields this
/// crate does not know yet is still understood.
pub fn from_json<M: Message + Name + Default>(json: &[u8]) -> Result<M, CodecError> {
    let json_error = |source| CodecError::Json {
        message: M::full_name(),
        source,
    };
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let dynamic =
        DynamicMessage::deserialize_with_options(descriptor::<M>(), &mut deserializer, &options)
            .map_err(json_error)?;
    deserializer.end().map_err(json_error)?;
    Ok(dynamic
        .transcode_to()
        .expect("a message built from its own descriptor transcodes"))
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

fn descriptor<M: Name>() -> prost_reflect::MessageDescriptor {
    pool()
        .get_message_by_name(&M::full_name())
        .expect("every generated message has a descriptor")
}
