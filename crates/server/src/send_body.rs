//! The body of `POST /{phone-number-id}/messages`: parsed into typed values, or refused with
//! Meta's codes.
//!
//! Two bodies share the endpoint: a message send (`to`, `type`, the object named by `type`)
//! and a read receipt (`status: "read"`, `message_id`, optional `typing_indicator`).
//!
//! Errors name the offending field with Meta's path notation (`text['body']`,
//! `interactive['action']['buttons'][0]['reply']['title']`). Which code a refusal carries
//! follows what Meta is observed to answer, and where Meta is silent, one rule:
//!
//! | refusal | code |
//! | --- | --- |
//! | body not JSON / not an object, `messaging_product` absent or not `whatsapp`, a field of the wrong JSON type, a value outside a fixed enum (`status`, `recipient_type`, `typing_indicator.type`, template component and parameter types, `language.policy`, flow `mode`/`flow_action`), a malformed `to`, the length of `text['body']`, of `biz_opaque_callback_data` and of a template text parameter | 100 |
//! | a required field absent (or `null`) | 131008 |
//! | a value of the right type that breaks a WhatsApp rule (counts, lengths of interactive and media texts, empty required strings, both or neither of `id`/`link` (neither: 131008), links, coordinates, button index, the header type or `action.name` an interactive type allows, duplicate button/row ids, `recipient_type: group`) | 131009 |
//! | a `type` (or `interactive['type']`) openwaba does not know | 131051 |
//!
//! Meta's wording is reused where it is known (`Param text['body'] must be at most 4096
//! characters long.`, `Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3`,
//! `Button title length invalid. Min length: 1, Max length: 20`, `Total row count exceed max
//! allowed count: 10`, `Parameter of type text is missing text value`).
//!
//! Lengths are counted in Unicode scalar values (Meta does not say how it counts).
//!
//! Template parameters are checked for shape only here; whether they match the template
//! (132000, 132012) is decided later, against the stored template.

use std::borrow::Cow;
use std::fmt;

use openwaba_engine::WaId;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::graph_error::GraphError;
use crate::json_path::JsonPath as Path;

type Obj = Map<String, Value>;
type Res<T> = Result<T, GraphError>;

/// Meta: "Maximum 4096 characters" for a text message body.
pub const TEXT_BODY_MAX: usize = 4096;
/// Meta: media captions are limited to 1024 characters.
pub const CAPTION_MAX: usize = 1024;
/// Meta: `biz_opaque_callback_data` is limited to 512 characters.
pub const BIZ_OPAQUE_MAX: usize = 512;
/// Interactive reply buttons: 1 to 3 buttons.
pub const BUTTONS_MAX: usize = 3;
/// Interactive reply button id: at most 256 characters.
pub const BUTTON_ID_MAX: usize = 256;
/// Interactive reply button title (and list button text, CTA display text): 1 to 20 characters.
pub const BUTTON_TITLE_MAX: usize = 20;
/// Interactive body text (all types but list).
pub const INTERACTIVE_BODY_MAX: usize = 1024;
/// List message body text.
pub const LIST_BODY_MAX: usize = 4096;
/// Interactive header text and footer text.
pub const HEADER_TEXT_MAX: usize = 60;
/// Interactive footer text.
pub const FOOTER_TEXT_MAX: usize = 60;
/// List and multi-product messages: at most 10 sections.
pub const SECTIONS_MAX: usize = 10;
/// List messages: at most 10 rows across all sections.
pub const LIST_ROWS_MAX: usize = 10;
/// List row id: at most 200 characters (OAS `SectionObject`).
pub const ROW_ID_MAX: usize = 200;
/// List row title and section title: at most 24 characters.
pub const ROW_TITLE_MAX: usize = 24;
/// List row description: at most 72 characters.
pub const ROW_DESCRIPTION_MAX: usize = 72;
/// Multi-product messages: at most 30 products across all sections.
pub const PRODUCT_ITEMS_MAX: usize = 30;
/// Flow CTA text: at most 30 characters (OAS).
pub const FLOW_CTA_MAX: usize = 30;
/// Template text parameter: at most 32768 characters (OAS `TextParameter`).
pub const TEMPLATE_TEXT_PARAM_MAX: usize = 32_768;
/// Template button index: 0 to 9 (Meta allows at most 10 buttons per template).
pub const BUTTON_INDEX_MAX: u32 = 9;

/// What a `POST /{phone-number-id}/messages` body asks for.
#[derive(Clone, Debug, PartialEq)]
pub enum SendBody {
    /// `status: "read"`: mark an inbound message read (and optionally show a typing indicator).
    MarkRead {
        message_id: String,
        typing_indicator: bool,
    },
    /// A message to send.
    Message(OutboundMessage),
}

/// A message send, validated.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboundMessage {
    /// `to` exactly as sent (echoed as `contacts[0].input`).
    pub to: String,
    /// The digits of `to`.
    pub wa_id: WaId,
    pub kind: MessageKind,
    /// `context.message_id`: the message this one replies to.
    pub context_message_id: Option<String>,
    pub biz_opaque_callback_data: Option<String>,
    /// `"text"`, `"image"`, `"template"`, ...
    pub type_name: &'static str,
    /// The type-specific object as sent (`body[type_name]`), for storage and webhooks.
    pub content: Value,
}

/// The typed content of a message.
#[derive(Clone, Debug, PartialEq)]
pub enum MessageKind {
    Text {
        body: String,
        preview_url: bool,
    },
    Media {
        media_type: MediaType,
        source: MediaSource,
        caption: Option<String>,
        filename: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    Contacts {
        count: usize,
    },
    Interactive {
        subtype: InteractiveType,
    },
    /// An empty `emoji` removes the reaction.
    Reaction {
        message_id: String,
        emoji: String,
    },
    Template(TemplateSend),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaType {
    Image,
    Audio,
    Video,
    Document,
    Sticker,
}

impl MediaType {
    pub const fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "image",
            MediaType::Audio => "audio",
            MediaType::Video => "video",
            MediaType::Document => "document",
            MediaType::Sticker => "sticker",
        }
    }

    /// Captions apply to image, video and document only.
    pub const fn takes_caption(self) -> bool {
        matches!(
            self,
            MediaType::Image | MediaType::Video | MediaType::Document
        )
    }
}

/// Where the media comes from: an uploaded media id, or a link Meta would fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaSource {
    Id(String),
    Link(String),
}

/// `interactive['type']`: those of the OAS enum plus those of Meta's guides.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InteractiveType {
    Button,
    List,
    CtaUrl,
    Product,
    ProductList,
    CatalogMessage,
    Flow,
    LocationRequestMessage,
    CallPermissionRequest,
    OrderDetails,
    OrderStatus,
    Carousel,
    AddressMessage,
    VoiceCall,
}

impl InteractiveType {
    pub const ALL: [InteractiveType; 14] = [
        InteractiveType::Button,
        InteractiveType::List,
        InteractiveType::CtaUrl,
        InteractiveType::Product,
        InteractiveType::ProductList,
        InteractiveType::CatalogMessage,
        InteractiveType::Flow,
        InteractiveType::LocationRequestMessage,
        InteractiveType::CallPermissionRequest,
        InteractiveType::OrderDetails,
        InteractiveType::OrderStatus,
        InteractiveType::Carousel,
        InteractiveType::AddressMessage,
        InteractiveType::VoiceCall,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            InteractiveType::Button => "button",
            InteractiveType::List => "list",
            InteractiveType::CtaUrl => "cta_url",
            InteractiveType::Product => "product",
            InteractiveType::ProductList => "product_list",
            InteractiveType::CatalogMessage => "catalog_message",
            InteractiveType::Flow => "flow",
            InteractiveType::LocationRequestMessage => "location_request_message",
            InteractiveType::CallPermissionRequest => "call_permission_request",
            InteractiveType::OrderDetails => "order_details",
            InteractiveType::OrderStatus => "order_status",
            InteractiveType::Carousel => "carousel",
            InteractiveType::AddressMessage => "address_message",
            InteractiveType::VoiceCall => "voice_call",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A template send: which template, in which language.
///
/// Its components are checked when the body is parsed but not copied out of it (a copy of
/// every parameter was a dozen allocations per send, used by nothing but tests): they stay in
/// [`OutboundMessage::content`]. The send reads them from there as the engine's components
/// (`template_json::send_components_from_json`) to match them against the template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateSend {
    pub name: String,
    /// `language.code`, e.g. `en_US`.
    pub language: String,
}

/// One entry of `template.components`, borrowed from the send's `template` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateComponentParams<'a> {
    /// `header`, `body`, `footer` or `button` (lower-cased).
    pub component: &'static str,
    /// For buttons: `quick_reply`, `url`, `catalog`, `flow`, `copy_code`, ... (lower-cased).
    pub sub_type: Option<Cow<'a, str>>,
    /// For buttons: the button's position; Meta's examples send both `"0"` and `0`.
    pub index: Option<u32>,
    pub parameters: Vec<TemplateParam<'a>>,
}

/// One template parameter, borrowed from the send's `template` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateParam<'a> {
    /// `text`, `currency`, `date_time`, `image`, `video`, `document`, `location`, `product`,
    /// `payload`, `action` or `coupon_code`.
    pub kind: &'static str,
    /// Named parameters (`"parameter_name": "first_name"`).
    pub parameter_name: Option<&'a str>,
    /// The text a renderer substitutes: `text` for text parameters, `fallback_value` for
    /// currency and date_time, `payload` for payloads, `coupon_code` for coupon codes; `None`
    /// for media, location, product and action parameters.
    pub text: Option<Cow<'a, str>>,
    /// The parameter object as sent.
    pub value: &'a Value,
}

/// The message types openwaba sends, in the spelling of `type`.
pub const MESSAGE_TYPES: [&str; 11] = [
    "text",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "location",
    "contacts",
    "interactive",
    "reaction",
    "template",
];

const TEMPLATE_PARAM_KINDS: [&str; 11] = [
    "text",
    "currency",
    "date_time",
    "image",
    "video",
    "document",
    "location",
    "product",
    "payload",
    "action",
    "coupon_code",
];

const TEMPLATE_COMPONENTS: [&str; 4] = ["header", "body", "footer", "button"];

const HEADER_ANY: &[&str] = &["text", "image", "video", "document"];
const HEADER_TEXT_ONLY: &[&str] = &["text"];
const HEADER_NONE: &[&str] = &[];

/// Parses and validates the JSON body of `POST /{phone-number-id}/messages`.
pub fn parse_send_body(body: &[u8]) -> Result<SendBody, GraphError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    // Graph treats an empty body as a request without parameters.
    let mut root = if body.iter().all(u8::is_ascii_whitespace) {
        Envelope::default()
    } else {
        read_envelope(body)?
    };
    from_envelope(&mut root)
}

/// A send body, from its top level read.
fn from_envelope(root: &mut Envelope<'_>) -> Result<SendBody, GraphError> {
    messaging_product(root)?;
    if let Some(status) = field(&root.status) {
        return mark_read(root, status);
    }
    recipient_type(root)?;
    let (to, wa_id) = recipient(root)?;
    let context_message_id = context(root)?;
    let biz_opaque_callback_data = biz_opaque(root)?;
    let type_name = message_type(root)?;
    // Taken out of the body rather than cloned: the body is not needed after this (a deep
    // clone of a template's components was a dozen allocations per send).
    let content = root
        .message_mut(type_name)
        .and_then(Option::take)
        .ok_or_else(|| missing(Path::Str(type_name)))?;
    let kind = match type_name {
        "text" => text(&content)?,
        "image" => media(&content, MediaType::Image)?,
        "audio" => media(&content, MediaType::Audio)?,
        "video" => media(&content, MediaType::Video)?,
        "document" => media(&content, MediaType::Document)?,
        "sticker" => media(&content, MediaType::Sticker)?,
        "location" => location(&content)?,
        "contacts" => contacts(&content)?,
        "interactive" => interactive(&content)?,
        "reaction" => reaction(&content)?,
        _ => template(&content)?,
    };
    Ok(SendBody::Message(OutboundMessage {
        to,
        wa_id,
        kind,
        context_message_id,
        biz_opaque_callback_data,
        type_name,
        content,
    }))
}

// ---------------------------------------------------------------------------------------------
// Reading the body
//
// The top level is read straight into an `Envelope` rather than a `Value`: its keys are
// matched where they lie in the request, and its strings (`whatsapp`, `individual`, `text`)
// are compared there, not copied into a map first. That map (its keys, its strings, its node,
// then freeing them) was about 2,300 instructions a send, a fifth of the parse. The message
// objects (and anything else that is not a string) are still read as `Value`s, by
// serde_json's own `Value` deserializer.

/// The top level of a send body: the fields the envelope reads and the message objects. As in
/// a JSON object read as a `Value`, a key given twice keeps its last value; other keys are read
/// (so that a malformed value is refused as before) and dropped.
#[derive(Default)]
struct Envelope<'de> {
    messaging_product: Option<Field<'de>>,
    status: Option<Field<'de>>,
    message_id: Option<Field<'de>>,
    typing_indicator: Option<Field<'de>>,
    recipient_type: Option<Field<'de>>,
    to: Option<Field<'de>>,
    recipient: Option<Field<'de>>,
    context: Option<Field<'de>>,
    biz_opaque_callback_data: Option<Field<'de>>,
    r#type: Option<Field<'de>>,
    /// The objects named by [`MESSAGE_TYPES`], in that order; `null` is kept (with `type:
    /// text`, `"text": null` is refused as not an object, not as missing).
    messages: [Option<Value>; MESSAGE_TYPES.len()],
}

/// A top-level value: a string as it lies in the request (copied only if it has escapes), or
/// any other value.
enum Field<'de> {
    Str(Cow<'de, str>),
    Other(Value),
}

impl<'de> Envelope<'de> {
    /// Where the top-level `key` goes, if the envelope reads it.
    fn field_mut(&mut self, key: &str) -> Option<&mut Option<Field<'de>>> {
        Some(match key {
            "messaging_product" => &mut self.messaging_product,
            "status" => &mut self.status,
            "message_id" => &mut self.message_id,
            "typing_indicator" => &mut self.typing_indicator,
            "recipient_type" => &mut self.recipient_type,
            "to" => &mut self.to,
            "recipient" => &mut self.recipient,
            "context" => &mut self.context,
            "biz_opaque_callback_data" => &mut self.biz_opaque_callback_data,
            "type" => &mut self.r#type,
            _ => return None,
        })
    }

    /// The message object named `key` (`text`, `template`, ...), as sent.
    fn message_mut(&mut self, key: &str) -> Option<&mut Option<Value>> {
        let i = MESSAGE_TYPES.iter().position(|t| *t == key)?;
        self.messages.get_mut(i)
    }

    /// The message object named `key`, `null` read as absent.
    fn message(&self, key: &str) -> Option<&Value> {
        let i = MESSAGE_TYPES.iter().position(|t| *t == key)?;
        self.messages.get(i)?.as_ref().filter(|v| !v.is_null())
    }

    /// A body already read as a JSON object.
    fn from_map(map: Obj) -> Self {
        let mut envelope = Envelope::default();
        for (key, value) in map {
            if let Some(slot) = envelope.field_mut(&key) {
                *slot = Some(match value {
                    Value::String(s) => Field::Str(Cow::Owned(s)),
                    other => Field::Other(other),
                });
            } else if let Some(slot) = envelope.message_mut(&key) {
                *slot = Some(value);
            }
        }
        envelope
    }
}

/// The body's top level. What the direct reading does not take (malformed JSON, a body that is
/// not an object, a first key serde_json gives a meaning of its own) is read again as a
/// `Value`: the outcome, error text included, is then exactly that of a `Value` parse.
///
/// A body that is valid UTF-8 (every body a client means to send) is read as a `str`: one
/// pass checks the whole body, where a read of bytes checks each string again as it borrows
/// it (~14 strings a send: 1,300 of a send's ~73,000 instructions, measured with callgrind;
/// BENCHMARKS.md, thirteenth session). A body that is not goes to the `Value` parse of its
/// bytes, whose error text names the bad byte's line and column.
fn read_envelope(body: &[u8]) -> Res<Envelope<'_>> {
    let direct = std::str::from_utf8(body)
        .ok()
        .and_then(|text| serde_json::from_str::<Root<'_>>(text).ok());
    if let Some(Root(envelope)) = direct {
        return Ok(envelope);
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        GraphError::invalid_parameter(format!("The request body is not valid JSON: {e}."))
    })?;
    match value {
        Value::Object(map) => Ok(Envelope::from_map(map)),
        other => Err(GraphError::invalid_parameter(format!(
            "The request body must be a JSON object, got {}.",
            kind_of(&other)
        ))),
    }
}

/// The body read directly as an [`Envelope`]; anything but a JSON object is an error (and
/// sends the body to the `Value` parse).
struct Root<'de>(Envelope<'de>);

impl<'de> Deserialize<'de> for Root<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RootVisitor)
    }
}

struct RootVisitor;

impl<'de> Visitor<'de> for RootVisitor {
    type Value = Root<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Root<'de>, A::Error> {
        let mut envelope = Envelope::default();
        let mut first = true;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            // serde_json's `Value` reads an object whose first key is one of its private
            // tokens (`$serde_json::private::RawValue`) as something else: leave those to it.
            if first && key.starts_with("$serde_json::private::") {
                return Err(de::Error::custom("read as a Value"));
            }
            first = false;
            if let Some(slot) = envelope.field_mut(&key) {
                *slot = Some(map.next_value()?);
            } else if let Some(slot) = envelope.message_mut(&key) {
                *slot = Some(map.next_value()?);
            } else {
                map.next_value::<Value>()?;
            }
        }
        Ok(Root(envelope))
    }
}

/// A key, borrowed from the request unless it has escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(StrVisitor)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s))
    }
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }
}

/// Strings as [`Field::Str`]; everything else as serde_json's `Value` deserializer reads it.
struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Field::Str(Cow::Owned(s)))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::from(n)))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::from(n)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::from(n)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Other(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Field::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Value::deserialize(MapAccessDeserializer::new(map)).map(Field::Other)
    }
}

/// A top-level field, with `null` read as absent (as Graph does).
fn field<'a, 'de>(f: &'a Option<Field<'de>>) -> Option<&'a Field<'de>> {
    f.as_ref()
        .filter(|f| !matches!(f, Field::Other(Value::Null)))
}

fn field_str<'a>(f: &'a Field<'_>, path: Path<'_>) -> Res<&'a str> {
    match f {
        Field::Str(s) => Ok(s),
        Field::Other(v) => Err(wrong_type(path, "a string", v)),
    }
}

fn field_obj<'a>(f: &'a Field<'_>, path: Path<'_>) -> Res<&'a Obj> {
    match f {
        Field::Str(_) => Err(wrong_kind(path, "an object", "a string")),
        Field::Other(v) => as_obj(v, path),
    }
}

/// A required top-level string.
fn req_field_str<'a>(f: &'a Option<Field<'_>>, path: Path<'_>) -> Res<&'a str> {
    field_str(field(f).ok_or_else(|| missing(path))?, path)
}

/// An optional top-level string.
fn opt_field_str<'a>(f: &'a Option<Field<'_>>, path: Path<'_>) -> Res<Option<&'a str>> {
    field(f).map(|f| field_str(f, path)).transpose()
}

// ---------------------------------------------------------------------------------------------
// Envelope

fn messaging_product(root: &Envelope<'_>) -> Res<()> {
    match field(&root.messaging_product) {
        None => Err(GraphError::invalid_parameter(
            "The parameter messaging_product is required.",
        )),
        Some(Field::Str(s)) if s == "whatsapp" => Ok(()),
        Some(f) => Err(GraphError::invalid_parameter(format!(
            "Param messaging_product must be one of {{whatsapp}}, got {}.",
            match f {
                Field::Str(s) => format!("'{}'", shown(s)),
                Field::Other(v) => shown_value(v),
            }
        ))),
    }
}

fn mark_read(root: &Envelope<'_>, status: &Field<'_>) -> Res<SendBody> {
    let status = field_str(status, Path::Str("status"))?;
    if status != "read" {
        return Err(GraphError::invalid_parameter(format!(
            "Param status must be one of {{read}}, got '{}'.",
            shown(status)
        )));
    }
    let path = Path::Str("message_id");
    let message_id = req_field_str(&root.message_id, path)?;
    non_empty(message_id, path)?;
    let typing_indicator = match field(&root.typing_indicator) {
        None => false,
        Some(f) => {
            let ti = field_obj(f, Path::Str("typing_indicator"))?;
            let path = Path::Str("typing_indicator['type']");
            let t = req_str(ti, "type", path)?;
            if t != "text" {
                return Err(GraphError::invalid_parameter(format!(
                    "Param {path} must be one of {{text}}, got '{}'.",
                    shown(t)
                )));
            }
            true
        }
    };
    Ok(SendBody::MarkRead {
        message_id: message_id.to_owned(),
        typing_indicator,
    })
}

fn recipient_type(root: &Envelope<'_>) -> Res<()> {
    match opt_field_str(&root.recipient_type, Path::Str("recipient_type"))? {
        None | Some("individual") => Ok(()),
        Some("group") => Err(GraphError::invalid_value(
            "Param recipient_type 'group' is not supported: openwaba does not simulate group messaging yet. Send to an individual (recipient_type 'individual' or omit it).",
        )),
        Some(other) => Err(GraphError::invalid_parameter(format!(
            "Param recipient_type must be one of {{individual, group}}, got '{}'.",
            shown(other)
        ))),
    }
}

/// `to` as sent and its digits. A JSON integer `to` is accepted as its decimal digits (Meta is
/// silent; being lenient costs nothing and some clients build bodies from numbers).
fn recipient(root: &Envelope<'_>) -> Res<(String, WaId)> {
    let path = Path::Str("to");
    let to = match field(&root.to) {
        None if field(&root.recipient).is_some() => {
            return Err(GraphError::missing_parameter(
                "Param to is required. openwaba does not resolve business-scoped user IDs ('recipient') yet: send the phone number in 'to'.",
            ))
        }
        None => return Err(missing(path)),
        Some(Field::Str(s)) => String::from(&**s),
        Some(Field::Other(Value::Number(n))) if n.is_u64() => n.to_string(),
        Some(Field::Other(v)) => return Err(wrong_type(path, "a string", v)),
    };
    if to.trim().is_empty() {
        return Err(missing(path));
    }
    let invalid = || {
        GraphError::invalid_parameter(format!(
            "Param to must be a phone number in international format (country code then number, e.g. +16505551234), got '{}'.",
            shown(&to)
        ))
    };
    let trimmed = to.trim();
    let rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
    // Most numbers are sent as bare digits: those need no copy without the separators.
    let parsed = if rest.bytes().all(|b| b.is_ascii_digit()) {
        WaId::parse(rest)
    } else {
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '(' | ')' => {}
                _ => return Err(invalid()),
            }
        }
        WaId::parse(&digits)
    };
    let wa_id = parsed.map_err(|_| invalid())?;
    Ok((to, wa_id))
}

fn context(root: &Envelope<'_>) -> Res<Option<String>> {
    let Some(f) = field(&root.context) else {
        return Ok(None);
    };
    let ctx = field_obj(f, Path::Str("context"))?;
    let path = Path::Str("context['message_id']");
    let id = req_str(ctx, "message_id", path)?;
    non_empty(id, path)?;
    Ok(Some(id.to_owned()))
}

fn biz_opaque(root: &Envelope<'_>) -> Res<Option<String>> {
    let path = Path::Str("biz_opaque_callback_data");
    let Some(s) = opt_field_str(&root.biz_opaque_callback_data, path)? else {
        return Ok(None);
    };
    let n = chars(s);
    if n > BIZ_OPAQUE_MAX {
        return Err(GraphError::invalid_parameter(format!(
            "Param {path} must be at most {BIZ_OPAQUE_MAX} characters long (got {n})."
        )));
    }
    Ok(Some(s.to_owned()))
}

/// `type`, or when it is omitted the type whose object the body carries. Meta documents the
/// default as `text` (OAS "Send Text Message with Preview URL"); Meta's own "Send Reply to List
/// Message" example omits `type` on an interactive body, so a body carrying exactly one message
/// object is read as that type.
fn message_type(root: &Envelope<'_>) -> Res<&'static str> {
    match field(&root.r#type) {
        Some(Field::Str(t)) => MESSAGE_TYPES.into_iter().find(|k| k == t).ok_or_else(|| {
            GraphError::unsupported_type(format!(
                "Message type '{}' is not supported (param type). Supported types: {}.",
                shown(t),
                MESSAGE_TYPES.join(", ")
            ))
        }),
        Some(Field::Other(v)) => Err(wrong_type(Path::Str("type"), "a string", v)),
        None => {
            if root.message("text").is_some() {
                return Ok("text");
            }
            let present: Vec<&'static str> = MESSAGE_TYPES
                .into_iter()
                .filter(|k| root.message(k).is_some())
                .collect();
            match present.as_slice() {
                [] => Ok("text"),
                [only] => Ok(only),
                several => Err(GraphError::missing_parameter(format!(
                    "Param type is required: the body carries {} and no type says which to send.",
                    several.join(", ")
                ))),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Types

fn text(v: &Value) -> Res<MessageKind> {
    let o = as_obj(v, Path::Str("text"))?;
    let path = Path::Str("text['body']");
    let body = req_str(o, "body", path)?;
    let n = chars(body);
    if n == 0 {
        return Err(GraphError::invalid_parameter(format!(
            "Param {path} must be at least 1 character long."
        )));
    }
    if n > TEXT_BODY_MAX {
        return Err(GraphError::invalid_parameter(format!(
            "Param {path} must be at most {TEXT_BODY_MAX} characters long (got {n})."
        )));
    }
    let preview_url =
        opt_bool(o, "preview_url", Path::Str("text['preview_url']"))?.unwrap_or(false);
    Ok(MessageKind::Text {
        body: body.to_owned(),
        preview_url,
    })
}

/// Media objects: exactly one of `id` and `link`. Unknown extra keys are ignored (the OAS
/// forbids them; Meta ignores them in practice and some clients send e.g. `mime_type`).
fn media(v: &Value, media_type: MediaType) -> Res<MessageKind> {
    let path = Path::Str(media_type.as_str());
    let o = as_obj(v, path)?;
    let source = media_source(o, path)?;
    let caption_path = path.key("caption");
    let caption = opt_str(o, "caption", caption_path)?;
    if let Some(c) = caption {
        if !media_type.takes_caption() {
            return Err(GraphError::invalid_value(format!(
                "Param {caption_path} is not allowed: captions apply to image, video and document messages only."
            )));
        }
        max_len(c, CAPTION_MAX, caption_path)?;
    }
    let filename_path = path.key("filename");
    let filename = opt_str(o, "filename", filename_path)?;
    if filename.is_some() && media_type != MediaType::Document {
        return Err(GraphError::invalid_value(format!(
            "Param {filename_path} is not allowed: filename applies to document messages only."
        )));
    }
    Ok(MessageKind::Media {
        media_type,
        source,
        caption: caption.map(str::to_owned),
        filename: filename.map(str::to_owned),
    })
}

fn media_source(o: &Obj, path: Path<'_>) -> Res<MediaSource> {
    let id_path = path.key("id");
    let link_path = path.key("link");
    let id = opt_str(o, "id", id_path)?;
    let link = opt_str(o, "link", link_path)?;
    match (id, link) {
        (Some(_), Some(_)) => Err(GraphError::invalid_value(format!(
            "Param {path} must have either 'id' or 'link', not both."
        ))),
        (None, None) => Err(GraphError::missing_parameter(format!(
            "Param {id_path} or {link_path} is required."
        ))),
        (Some(id), None) => {
            non_empty(id, id_path)?;
            Ok(MediaSource::Id(id.to_owned()))
        }
        (None, Some(link)) => {
            check_url(link, link_path)?;
            Ok(MediaSource::Link(link.to_owned()))
        }
    }
}

/// An http(s) URL with something after the scheme and no whitespace.
fn check_url(url: &str, path: Path<'_>) -> Res<()> {
    let scheme = |s: &str| {
        url.get(..s.len())
            .is_some_and(|u| u.eq_ignore_ascii_case(s))
    };
    let rest = if scheme("https://") {
        url.get(8..)
    } else if scheme("http://") {
        url.get(7..)
    } else {
        None
    };
    match rest {
        Some(r) if !r.is_empty() && !r.chars().any(char::is_whitespace) => Ok(()),
        _ => Err(GraphError::invalid_value(format!(
            "Param {path} must be an http:// or https:// URL, got '{}'.",
            shown(url)
        ))),
    }
}

fn location(v: &Value) -> Res<MessageKind> {
    let o = as_obj(v, Path::Str("location"))?;
    let (latitude, longitude) = coordinates(o, Path::Str("location"))?;
    let name = opt_str(o, "name", Path::Str("location['name']"))?.map(str::to_owned);
    let address = opt_str(o, "address", Path::Str("location['address']"))?.map(str::to_owned);
    Ok(MessageKind::Location {
        latitude,
        longitude,
        name,
        address,
    })
}

fn coordinates(o: &Obj, path: Path<'_>) -> Res<(f64, f64)> {
    Ok((
        coordinate(o, "latitude", path, 90.0)?,
        coordinate(o, "longitude", path, 180.0)?,
    ))
}

/// A coordinate: a JSON number, or a numeric string (the OAS types them as strings while its
/// examples send numbers; both are accepted).
fn coordinate(o: &Obj, k: &str, path: Path<'_>, limit: f64) -> Res<f64> {
    let path = path.key(k);
    let value = match get(o, k) {
        None => return Err(missing(path)),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(v) => return Err(wrong_type(path, "a number", v)),
    };
    let Some(x) = value else {
        return Err(GraphError::invalid_parameter(format!(
            "Param {path} must be a number."
        )));
    };
    if !x.is_finite() || x.abs() > limit {
        return Err(GraphError::invalid_value(format!(
            "Param {path} must be between -{limit} and {limit}, got {x}."
        )));
    }
    Ok(x)
}

/// Contacts: a non-empty array, each with `name.formatted_name`. The OAS caps the array at 5;
/// Meta's guides give no limit, so none is enforced.
fn contacts(v: &Value) -> Res<MessageKind> {
    let contacts_path = Path::Str("contacts");
    let list = as_arr(v, contacts_path)?;
    if list.is_empty() {
        return Err(GraphError::invalid_value(
            "Param contacts must contain at least one contact.",
        ));
    }
    for (i, c) in list.iter().enumerate() {
        let path = contacts_path.idx(i);
        let c = as_obj(c, path)?;
        let name_path = path.key("name");
        let name = req_obj(c, "name", name_path)?;
        let fn_path = name_path.key("formatted_name");
        non_empty(req_str(name, "formatted_name", fn_path)?, fn_path)?;
        for (list_key, item_key) in [("phones", "phone"), ("emails", "email"), ("urls", "url")] {
            let list_path = path.key(list_key);
            let Some(items) = get(c, list_key) else {
                continue;
            };
            for (j, item) in as_arr(items, list_path)?.iter().enumerate() {
                let item_path = list_path.idx(j);
                let item = as_obj(item, item_path)?;
                req_str(item, item_key, item_path.key(item_key))?;
            }
        }
        if let Some(addresses) = get(c, "addresses") {
            let list_path = path.key("addresses");
            for (j, a) in as_arr(addresses, list_path)?.iter().enumerate() {
                as_obj(a, list_path.idx(j))?;
            }
        }
    }
    Ok(MessageKind::Contacts { count: list.len() })
}

/// Reactions: `message_id` and `emoji`; an empty emoji removes the reaction. Whether the emoji
/// is one WhatsApp supports is not checked (Meta does not document the set).
fn reaction(v: &Value) -> Res<MessageKind> {
    let o = as_obj(v, Path::Str("reaction"))?;
    let id_path = Path::Str("reaction['message_id']");
    let message_id = req_str(o, "message_id", id_path)?;
    non_empty(message_id, id_path)?;
    let emoji = req_str(o, "emoji", Path::Str("reaction['emoji']"))?;
    Ok(MessageKind::Reaction {
        message_id: message_id.to_owned(),
        emoji: emoji.to_owned(),
    })
}

// ---------------------------------------------------------------------------------------------
// Interactive

fn interactive(v: &Value) -> Res<MessageKind> {
    let o = as_obj(v, Path::Str("interactive"))?;
    let t = req_str(o, "type", Path::Str("interactive['type']"))?;
    let Some(subtype) = InteractiveType::parse(t) else {
        let names: Vec<&str> = InteractiveType::ALL.iter().map(|t| t.as_str()).collect();
        return Err(GraphError::unsupported_type(format!(
            "Interactive message type '{}' is not supported (param interactive['type']). Supported types: {}.",
            shown(t),
            names.join(", ")
        )));
    };
    let ap = Path::Str("interactive['action']");
    let action = req_obj(o, "action", ap)?;
    footer(o)?;
    match subtype {
        InteractiveType::Button => {
            header(o, subtype, HEADER_ANY, false)?;
            body(o, true, INTERACTIVE_BODY_MAX)?;
            reply_buttons(action, ap)?;
        }
        InteractiveType::List => {
            header(o, subtype, HEADER_TEXT_ONLY, false)?;
            body(o, true, LIST_BODY_MAX)?;
            list_action(action, ap)?;
        }
        InteractiveType::CtaUrl => {
            header(o, subtype, HEADER_ANY, false)?;
            body(o, true, INTERACTIVE_BODY_MAX)?;
            action_name(action, ap, "cta_url", false)?;
            let pp = ap.key("parameters");
            let params = req_obj(action, "parameters", pp)?;
            let dp = pp.key("display_text");
            let display = req_str(params, "display_text", dp)?;
            length_between(display, 1, BUTTON_TITLE_MAX, dp)?;
            let up = pp.key("url");
            check_url(req_str(params, "url", up)?, up)?;
        }
        InteractiveType::Product => {
            header(o, subtype, HEADER_NONE, false)?;
            body(o, false, INTERACTIVE_BODY_MAX)?;
            req_id(action, "catalog_id", ap)?;
            req_id(action, "product_retailer_id", ap)?;
        }
        InteractiveType::ProductList => {
            header(o, subtype, HEADER_TEXT_ONLY, true)?;
            body(o, true, INTERACTIVE_BODY_MAX)?;
            req_id(action, "catalog_id", ap)?;
            product_sections(action, ap)?;
        }
        InteractiveType::CatalogMessage => {
            header(o, subtype, HEADER_ANY, false)?;
            body(o, true, INTERACTIVE_BODY_MAX)?;
            action_name(action, ap, "catalog_message", true)?;
            if let Some(p) = get(action, "parameters") {
                let pp = ap.key("parameters");
                let p = as_obj(p, pp)?;
                opt_id(p, "thumbnail_product_retailer_id", pp)?;
            }
        }
        InteractiveType::Flow => {
            header(o, subtype, HEADER_ANY, false)?;
            body(o, true, INTERACTIVE_BODY_MAX)?;
            action_name(action, ap, "flow", true)?;
            flow_parameters(action, ap)?;
        }
        InteractiveType::LocationRequestMessage => {
            header(o, subtype, HEADER_ANY, false)?;
            body(o, true, INTERACTIVE_BODY_MAX)?;
            action_name(action, ap, "send_location", true)?;
        }
        InteractiveType::CallPermissionRequest => {
            header(o, subtype, HEADER_ANY, false)?;
            body(o, true, INTERACTIVE_BODY_MAX)?;
            action_name(action, ap, "call_permission_request", true)?;
        }
        InteractiveType::VoiceCall => {
            header(o, subtype, HEADER_ANY, false)?;
            body(o, true, INTERACTIVE_BODY_MAX)?;
            action_name(action, ap, "voice_call", true)?;
        }
        InteractiveType::AddressMessage => {
            header(o, subtype, HEADER_ANY, false)?;
            body(o, true, INTERACTIVE_BODY_MAX)?;
            action_name(action, ap, "address_message", true)?;
        }
        // Order messages: the payment payload itself is not checked (openwaba does not
        // simulate payments); `name` and `parameters` must be there.
        InteractiveType::OrderDetails | InteractiveType::OrderStatus => {
            header(o, subtype, HEADER_ANY, false)?;
            body(o, true, INTERACTIVE_BODY_MAX)?;
            let np = ap.key("name");
            non_empty(req_str(action, "name", np)?, np)?;
            req_obj(action, "parameters", ap.key("parameters"))?;
        }
        // Carousels: the cards' contents are not checked, only that there are some.
        InteractiveType::Carousel => {
            header(o, subtype, HEADER_NONE, false)?;
            body(o, true, INTERACTIVE_BODY_MAX)?;
            let cp = ap.key("cards");
            if req_arr(action, "cards", cp)?.is_empty() {
                return Err(GraphError::invalid_value(format!(
                    "Param {cp} must contain at least one card."
                )));
            }
        }
    }
    Ok(MessageKind::Interactive { subtype })
}

fn header(o: &Obj, subtype: InteractiveType, allowed: &[&str], required: bool) -> Res<()> {
    let path = Path::Str("interactive['header']");
    let Some(h) = get(o, "header") else {
        return if required { Err(missing(path)) } else { Ok(()) };
    };
    if allowed.is_empty() {
        return Err(GraphError::invalid_value(format!(
            "Param {path} is not allowed for interactive type '{}'.",
            subtype.as_str()
        )));
    }
    let h = as_obj(h, path)?;
    let tp = path.key("type");
    let t = req_str(h, "type", tp)?;
    if !allowed.contains(&t) {
        return Err(GraphError::invalid_value(format!(
            "Param {tp} must be one of {{{}}} for interactive type '{}', got '{}'.",
            allowed.join(", "),
            subtype.as_str(),
            shown(t)
        )));
    }
    if t == "text" {
        let p = path.key("text");
        length_between(req_str(h, "text", p)?, 1, HEADER_TEXT_MAX, p)?;
    } else {
        let p = path.key(t);
        media_source(req_obj(h, t, p)?, p)?;
    }
    Ok(())
}

fn body(o: &Obj, required: bool, max: usize) -> Res<()> {
    let path = Path::Str("interactive['body']");
    let Some(b) = get(o, "body") else {
        return if required { Err(missing(path)) } else { Ok(()) };
    };
    let b = as_obj(b, path)?;
    let p = path.key("text");
    length_between(req_str(b, "text", p)?, 1, max, p)
}

fn footer(o: &Obj) -> Res<()> {
    let path = Path::Str("interactive['footer']");
    let Some(f) = get(o, "footer") else {
        return Ok(());
    };
    let f = as_obj(f, path)?;
    let p = path.key("text");
    length_between(req_str(f, "text", p)?, 1, FOOTER_TEXT_MAX, p)
}

/// `action.name` must be `expected`; when `required` is false a missing name is accepted
/// (Meta's CTA URL guide always sends it, but nothing else depends on it).
fn action_name(action: &Obj, ap: Path<'_>, expected: &str, required: bool) -> Res<()> {
    let np = ap.key("name");
    let name = if required {
        Some(req_str(action, "name", np)?)
    } else {
        opt_str(action, "name", np)?
    };
    match name {
        Some(n) if n != expected => Err(GraphError::invalid_value(format!(
            "Param {np} must be '{expected}', got '{}'.",
            shown(n)
        ))),
        _ => Ok(()),
    }
}

fn reply_buttons(action: &Obj, ap: Path<'_>) -> Res<()> {
    let bp = ap.key("buttons");
    let buttons = req_arr(action, "buttons", bp)?;
    if buttons.is_empty() || buttons.len() > BUTTONS_MAX {
        return Err(GraphError::invalid_value(format!(
            "Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: {BUTTONS_MAX} ({bp} has {}).",
            buttons.len()
        )));
    }
    let mut seen: Vec<(&str, &str)> = Vec::with_capacity(buttons.len());
    for (i, b) in buttons.iter().enumerate() {
        let p = bp.idx(i);
        let b = as_obj(b, p)?;
        let tp = p.key("type");
        let t = req_str(b, "type", tp)?;
        if t != "reply" {
            return Err(GraphError::invalid_value(format!(
                "Param {tp} must be 'reply', got '{}'.",
                shown(t)
            )));
        }
        let rp = p.key("reply");
        let reply = req_obj(b, "reply", rp)?;
        let ip = rp.key("id");
        let id = req_str(reply, "id", ip)?;
        let n = chars(id);
        if n == 0 || n > BUTTON_ID_MAX {
            return Err(GraphError::invalid_value(format!(
                "Button id length invalid. Min length: 1, Max length: {BUTTON_ID_MAX} ({ip} has {n} characters)."
            )));
        }
        let tip = rp.key("title");
        let title = req_str(reply, "title", tip)?;
        let n = chars(title);
        if n == 0 || n > BUTTON_TITLE_MAX {
            return Err(GraphError::invalid_value(format!(
                "Button title length invalid. Min length: 1, Max length: {BUTTON_TITLE_MAX} ({tip} has {n} characters)."
            )));
        }
        if let Some(j) = seen.iter().position(|(sid, _)| *sid == id) {
            return Err(GraphError::invalid_value(format!(
                "Param {ip} must be unique: button {j} has the same id."
            )));
        }
        if let Some(j) = seen.iter().position(|(_, st)| *st == title) {
            return Err(GraphError::invalid_value(format!(
                "Param {tip} must be unique: button {j} has the same title."
            )));
        }
        seen.push((id, title));
    }
    Ok(())
}

fn list_action(action: &Obj, ap: Path<'_>) -> Res<()> {
    let bp = ap.key("button");
    length_between(req_str(action, "button", bp)?, 1, BUTTON_TITLE_MAX, bp)?;
    let sp = ap.key("sections");
    let sections = req_arr(action, "sections", sp)?;
    section_count(sections, sp)?;
    let mut row_ids: Vec<&str> = Vec::new();
    for (i, s) in sections.iter().enumerate() {
        let p = sp.idx(i);
        let s = as_obj(s, p)?;
        section_title(s, p, sections.len())?;
        let rp = p.key("rows");
        let rows = req_arr(s, "rows", rp)?;
        if rows.is_empty() {
            return Err(GraphError::invalid_value(format!(
                "Param {rp} must contain at least one row."
            )));
        }
        for (j, r) in rows.iter().enumerate() {
            let p = rp.idx(j);
            let r = as_obj(r, p)?;
            let ip = p.key("id");
            let id = req_str(r, "id", ip)?;
            length_between(id, 1, ROW_ID_MAX, ip)?;
            if row_ids.contains(&id) {
                return Err(GraphError::invalid_value(format!(
                    "Param {ip} must be unique across the list: another row has id '{}'.",
                    shown(id)
                )));
            }
            row_ids.push(id);
            let tp = p.key("title");
            length_between(req_str(r, "title", tp)?, 1, ROW_TITLE_MAX, tp)?;
            let dp = p.key("description");
            if let Some(d) = opt_str(r, "description", dp)? {
                max_len(d, ROW_DESCRIPTION_MAX, dp)?;
            }
        }
        if row_ids.len() > LIST_ROWS_MAX {
            return Err(GraphError::invalid_value(format!(
                "Total row count exceed max allowed count: {LIST_ROWS_MAX} ({sp})."
            )));
        }
    }
    Ok(())
}

fn product_sections(action: &Obj, ap: Path<'_>) -> Res<()> {
    let sp = ap.key("sections");
    let sections = req_arr(action, "sections", sp)?;
    section_count(sections, sp)?;
    let mut total = 0usize;
    for (i, s) in sections.iter().enumerate() {
        let p = sp.idx(i);
        let s = as_obj(s, p)?;
        section_title(s, p, sections.len())?;
        let ip = p.key("product_items");
        let items = req_arr(s, "product_items", ip)?;
        if items.is_empty() {
            return Err(GraphError::invalid_value(format!(
                "Param {ip} must contain at least one product."
            )));
        }
        for (j, item) in items.iter().enumerate() {
            let p = ip.idx(j);
            req_id(as_obj(item, p)?, "product_retailer_id", p)?;
        }
        total = total.saturating_add(items.len());
        if total > PRODUCT_ITEMS_MAX {
            return Err(GraphError::invalid_value(format!(
                "Total product count exceed max allowed count: {PRODUCT_ITEMS_MAX} ({sp})."
            )));
        }
    }
    Ok(())
}

fn section_count(sections: &[Value], sp: Path<'_>) -> Res<()> {
    if sections.is_empty() || sections.len() > SECTIONS_MAX {
        return Err(GraphError::invalid_value(format!(
            "Invalid sections count. Min allowed sections: 1, Max allowed sections: {SECTIONS_MAX} ({sp} has {}).",
            sections.len()
        )));
    }
    Ok(())
}

/// A section title: at most 24 characters, required when there is more than one section.
fn section_title(s: &Obj, path: Path<'_>, sections: usize) -> Res<()> {
    let tp = path.key("title");
    match opt_str(s, "title", tp)? {
        Some(t) => length_between(t, 1, ROW_TITLE_MAX, tp),
        None if sections > 1 => Err(GraphError::missing_parameter(format!(
            "Param {tp} is required when there is more than one section."
        ))),
        None => Ok(()),
    }
}

fn flow_parameters(action: &Obj, ap: Path<'_>) -> Res<()> {
    let pp = ap.key("parameters");
    let p = req_obj(action, "parameters", pp)?;
    let vp = pp.key("flow_message_version");
    non_empty(req_str(p, "flow_message_version", vp)?, vp)?;
    let cp = pp.key("flow_cta");
    length_between(req_str(p, "flow_cta", cp)?, 1, FLOW_CTA_MAX, cp)?;
    let has_id = opt_id(p, "flow_id", pp)?;
    let has_name = opt_str(p, "flow_name", pp.key("flow_name"))?.is_some();
    match (has_id, has_name) {
        (true, true) => {
            return Err(GraphError::invalid_value(format!(
                "Param {pp} must have either 'flow_id' or 'flow_name', not both."
            )))
        }
        (false, false) => {
            return Err(GraphError::missing_parameter(format!(
                "Param {} or {} is required.",
                pp.key("flow_id"),
                pp.key("flow_name")
            )))
        }
        _ => {}
    }
    enum_value(p, "mode", pp, &["draft", "published"])?;
    enum_value(p, "flow_action", pp, &["navigate", "data_exchange"])?;
    if let Some(payload) = get(p, "flow_action_payload") {
        as_obj(payload, pp.key("flow_action_payload"))?;
    }
    Ok(())
}

/// An optional string field restricted to `allowed` (100 otherwise).
fn enum_value(o: &Obj, k: &str, path: Path<'_>, allowed: &[&str]) -> Res<()> {
    let p = path.key(k);
    match opt_str(o, k, p)? {
        Some(v) if !allowed.contains(&v) => Err(GraphError::invalid_parameter(format!(
            "Param {p} must be one of {{{}}}, got '{}'.",
            allowed.join(", "),
            shown(v)
        ))),
        _ => Ok(()),
    }
}

/// A required catalog/product/flow id: a non-empty string, or a JSON integer (clients send
/// numeric ids either way; Meta is silent).
fn req_id(o: &Obj, k: &str, path: Path<'_>) -> Res<()> {
    if opt_id(o, k, path)? {
        Ok(())
    } else {
        Err(missing(path.key(k)))
    }
}

fn opt_id(o: &Obj, k: &str, path: Path<'_>) -> Res<bool> {
    let p = path.key(k);
    match get(o, k) {
        None => Ok(false),
        Some(Value::String(s)) => non_empty(s, p).map(|()| true),
        Some(Value::Number(n)) if n.is_u64() => Ok(true),
        Some(v) => Err(wrong_type(p, "a string", v)),
    }
}

// ---------------------------------------------------------------------------------------------
// Template

fn template(v: &Value) -> Res<MessageKind> {
    let o = as_obj(v, Path::Str("template"))?;
    let np = Path::Str("template['name']");
    let name = req_str(o, "name", np)?;
    non_empty(name, np)?;
    let lp = Path::Str("template['language']");
    let lang = req_obj(o, "language", lp)?;
    let cp = lp.key("code");
    let code = req_str(lang, "code", cp)?;
    non_empty(code, cp)?;
    enum_value(lang, "policy", lp, &["deterministic"])?;
    // Checked, not kept (see `TemplateSend`).
    for component in components(o)? {
        component?;
    }
    Ok(MessageKind::Template(TemplateSend {
        name: name.to_owned(),
        language: code.to_owned(),
    }))
}

/// The components of a template send's `template` object ([`OutboundMessage::content`] of a
/// `template` message), checked as [`parse_send_body`] checks them; none when absent. For the
/// tests, which assert what the parse saw.
#[cfg(test)]
pub fn template_components(template: &Value) -> Res<Vec<TemplateComponentParams<'_>>> {
    components(as_obj(template, Path::Str("template"))?)?.collect()
}

/// `template['components']`, each component checked as the iterator reaches it.
fn components(template: &Obj) -> Res<impl Iterator<Item = Res<TemplateComponentParams<'_>>> + '_> {
    const PATH: Path<'static> = Path::Str("template['components']");
    let list = match get(template, "components") {
        None => &[][..],
        Some(list) => as_arr(list, PATH)?.as_slice(),
    };
    Ok(list
        .iter()
        .enumerate()
        .map(|(i, c)| template_component(c, PATH.idx(i))))
}

/// One component. `type` and `sub_type` are compared case-insensitively and stored lower-cased
/// (Meta's own "Send Catalog Template Message" example sends `sub_type: CATALOG`).
fn template_component<'a>(v: &'a Value, path: Path<'_>) -> Res<TemplateComponentParams<'a>> {
    let o = as_obj(v, path)?;
    let tp = path.key("type");
    let t = req_str(o, "type", tp)?;
    let Some(component) = TEMPLATE_COMPONENTS
        .into_iter()
        .find(|c| c.eq_ignore_ascii_case(t))
    else {
        return Err(GraphError::invalid_parameter(format!(
            "Param {tp} must be one of {{{}}}, got '{}'.",
            TEMPLATE_COMPONENTS.join(", "),
            shown(&t.to_ascii_lowercase())
        )));
    };
    let sp = path.key("sub_type");
    let sub_type = opt_str(o, "sub_type", sp)?.map(ascii_lowercase);
    let index = button_index(o, path)?;
    let pp = path.key("parameters");
    let raw_params = match get(o, "parameters") {
        None => &[][..],
        Some(p) => as_arr(p, pp)?.as_slice(),
    };
    if component == "button" {
        if sub_type.is_none() {
            return Err(missing(sp));
        }
        if index.is_none() {
            return Err(missing(path.key("index")));
        }
        if raw_params.is_empty() {
            return Err(missing(pp));
        }
    }
    let mut parameters = Vec::with_capacity(raw_params.len());
    for (i, p) in raw_params.iter().enumerate() {
        parameters.push(template_param(p, pp.idx(i))?);
    }
    Ok(TemplateComponentParams {
        component,
        sub_type,
        index,
        parameters,
    })
}

/// `index`: `"0"` or `0` (Meta's examples use both), 0 to 9.
fn button_index(o: &Obj, path: Path<'_>) -> Res<Option<u32>> {
    let ip = path.key("index");
    let parsed = match get(o, "index") {
        None => return Ok(None),
        Some(Value::String(s)) => s.trim().parse::<u32>().ok(),
        Some(v @ Value::Number(n)) => {
            if let Some(u) = n.as_u64() {
                Some(u32::try_from(u).unwrap_or(u32::MAX))
            } else if n.is_i64() {
                None
            } else {
                return Err(wrong_type(ip, "an integer", v));
            }
        }
        Some(v) => return Err(wrong_type(ip, "a string or an integer", v)),
    };
    match parsed {
        Some(i) if i <= BUTTON_INDEX_MAX => Ok(Some(i)),
        _ => Err(GraphError::invalid_value(format!(
            "Param {ip} must be a button position from 0 to {BUTTON_INDEX_MAX}."
        ))),
    }
}

fn template_param<'a>(v: &'a Value, path: Path<'_>) -> Res<TemplateParam<'a>> {
    let o = as_obj(v, path)?;
    let tp = path.key("type");
    let kind = req_str(o, "type", tp)?;
    let Some(kind) = TEMPLATE_PARAM_KINDS.into_iter().find(|k| *k == kind) else {
        return Err(GraphError::invalid_parameter(format!(
            "Param {tp} must be one of {{{}}}, got '{}'.",
            TEMPLATE_PARAM_KINDS.join(", "),
            shown(kind)
        )));
    };
    let parameter_name = opt_str(o, "parameter_name", path.key("parameter_name"))?;
    let vp = path.key(kind);
    let text = match kind {
        "text" => {
            let Some(t) = get(o, "text") else {
                return Err(GraphError::missing_parameter(format!(
                    "Parameter of type text is missing text value ({path})."
                )));
            };
            let t = scalar_text(t, vp)?;
            if chars(&t) > TEMPLATE_TEXT_PARAM_MAX {
                return Err(GraphError::invalid_parameter(format!(
                    "Param {vp} must be at most {TEMPLATE_TEXT_PARAM_MAX} characters long."
                )));
            }
            Some(t)
        }
        "payload" | "coupon_code" => {
            let Some(t) = get(o, kind) else {
                return Err(GraphError::missing_parameter(format!(
                    "Parameter of type {kind} is missing {kind} value ({path})."
                )));
            };
            Some(scalar_text(t, vp)?)
        }
        "currency" => {
            let c = req_obj(o, "currency", vp)?;
            let fallback = req_str(c, "fallback_value", vp.key("fallback_value"))?;
            req_str(c, "code", vp.key("code"))?;
            let ap = vp.key("amount_1000");
            match get(c, "amount_1000") {
                None => return Err(missing(ap)),
                Some(Value::Number(n)) if n.is_i64() || n.is_u64() => {}
                Some(v) => return Err(wrong_type(ap, "an integer", v)),
            }
            Some(Cow::Borrowed(fallback))
        }
        "date_time" => {
            let d = req_obj(o, "date_time", vp)?;
            Some(Cow::Borrowed(req_str(
                d,
                "fallback_value",
                vp.key("fallback_value"),
            )?))
        }
        "image" | "video" | "document" => {
            media_source(req_obj(o, kind, vp)?, vp)?;
            None
        }
        "location" => {
            coordinates(req_obj(o, "location", vp)?, vp)?;
            None
        }
        // "product" | "action"
        _ => {
            req_obj(o, kind, vp)?;
            None
        }
    };
    Ok(TemplateParam {
        kind,
        parameter_name,
        text,
        value: v,
    })
}

/// A text-like template value: a string, or a boolean or number taken as its JSON text (Meta's
/// "Send Sample Issue Resolution Template" example sends `text: true`).
fn scalar_text<'a>(v: &'a Value, path: Path<'_>) -> Res<Cow<'a, str>> {
    match v {
        Value::String(s) => Ok(Cow::Borrowed(s)),
        Value::Bool(_) | Value::Number(_) => Ok(Cow::Owned(v.to_string())),
        _ => Err(wrong_type(path, "a string", v)),
    }
}

/// `s` lower-cased, copied only when it has an upper-case letter.
fn ascii_lowercase(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// A field, with `null` read as absent (as Graph does).
fn get<'a>(o: &'a Obj, k: &str) -> Option<&'a Value> {
    o.get(k).filter(|v| !v.is_null())
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value as it may be echoed in an error: strings cut to 64 characters.
fn shown(s: &str) -> String {
    const MAX: usize = 64;
    if chars(s) <= MAX {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(MAX).collect();
        t.push('…');
        t
    }
}

fn shown_value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", shown(s)),
        other => kind_of(other).to_owned(),
    }
}

fn missing(path: Path<'_>) -> GraphError {
    GraphError::missing_parameter(format!("Param {path} is required."))
}

fn wrong_type(path: Path<'_>, what: &str, v: &Value) -> GraphError {
    wrong_kind(path, what, kind_of(v))
}

/// [`wrong_type`], given what the value is (`a string`, `null`, ...).
fn wrong_kind(path: Path<'_>, what: &str, kind: &str) -> GraphError {
    GraphError::invalid_parameter(format!("Param {path} must be {what}, got {kind}."))
}

fn as_str<'a>(v: &'a Value, path: Path<'_>) -> Res<&'a str> {
    v.as_str().ok_or_else(|| wrong_type(path, "a string", v))
}

fn as_obj<'a>(v: &'a Value, path: Path<'_>) -> Res<&'a Obj> {
    v.as_object()
        .ok_or_else(|| wrong_type(path, "an object", v))
}

fn as_arr<'a>(v: &'a Value, path: Path<'_>) -> Res<&'a Vec<Value>> {
    v.as_array().ok_or_else(|| wrong_type(path, "an array", v))
}

fn req_str<'a>(o: &'a Obj, k: &str, path: Path<'_>) -> Res<&'a str> {
    as_str(get(o, k).ok_or_else(|| missing(path))?, path)
}

fn opt_str<'a>(o: &'a Obj, k: &str, path: Path<'_>) -> Res<Option<&'a str>> {
    get(o, k).map(|v| as_str(v, path)).transpose()
}

fn opt_bool(o: &Obj, k: &str, path: Path<'_>) -> Res<Option<bool>> {
    get(o, k)
        .map(|v| v.as_bool().ok_or_else(|| wrong_type(path, "a boolean", v)))
        .transpose()
}

fn req_obj<'a>(o: &'a Obj, k: &str, path: Path<'_>) -> Res<&'a Obj> {
    as_obj(get(o, k).ok_or_else(|| missing(path))?, path)
}

fn req_arr<'a>(o: &'a Obj, k: &str, path: Path<'_>) -> Res<&'a Vec<Value>> {
    as_arr(get(o, k).ok_or_else(|| missing(path))?, path)
}

/// A required string that must not be empty or blank (131009).
fn non_empty(s: &str, path: Path<'_>) -> Res<()> {
    if s.trim().is_empty() {
        Err(GraphError::invalid_value(format!(
            "Param {path} must not be empty."
        )))
    } else {
        Ok(())
    }
}

fn max_len(s: &str, max: usize, path: Path<'_>) -> Res<()> {
    length_between(s, 0, max, path)
}

fn length_between(s: &str, min: usize, max: usize, path: Path<'_>) -> Res<()> {
    let n = chars(s);
    if n < min || n > max {
        Err(GraphError::invalid_value(format!(
            "Param {path} length invalid. Min length: {min}, Max length: {max} (got {n})."
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Every request example of `paths./{Version}/{Phone-Number-ID}/messages.post` in Meta's
    /// `business-messaging-api_v23.0.yaml`, converted from YAML to JSON without other change.
    const OAS_EXAMPLES: &[(&str, &str)] = &[
        (
            "Send Audio Message by ID",
            r#"{"audio":{"id":"<AUDIO_OBJECT_ID>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"audio"}"#,
        ),
        (
            "Send Audio Message by URL",
            r#"{"audio":{"link":"<http(s)://audio-url>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"audio"}"#,
        ),
        (
            "Send Catalog Message",
            r#"{"interactive":{"action":{"name":"catalog_message","parameters":{"thumbnail_product_retailer_id":"2lc20305pt"}},"body":{"text":"Hello! Thanks for your interest. Ordering is easy. Just visit our catalog and add items to purchase."},"footer":{"text":"Best grocery deals on WhatsApp!"},"type":"catalog_message"},"messaging_product":"whatsapp","recipient_type":"individual","to":"+16505551234","type":"interactive"}"#,
        ),
        (
            "Send Catalog Template Message",
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"text":"100","type":"text"},{"text":"400","type":"text"},{"text":"3","type":"text"}],"type":"body"},{"index":0,"parameters":[{"action":{"thumbnail_product_retailer_id":"2lc20305pt"},"type":"action"}],"sub_type":"CATALOG","type":"button"}],"language":{"code":"en_US"},"name":"intro_catalog_offer"},"to":"+16505551234","type":"template"}"#,
        ),
        (
            "Send Contact Message",
            r#"{"contacts":[{"addresses":[{"city":"Menlo Park","country":"United States","country_code":"us","state":"CA","street":"1 Hacker Way","type":"HOME","zip":"94025"},{"city":"Menlo Park","country":"United States","country_code":"us","state":"CA","street":"200 Jefferson Dr","type":"WORK","zip":"94025"}],"birthday":"2012-08-18","emails":[{"email":"test@fb.com","type":"WORK"},{"email":"test@whatsapp.com","type":"HOME"}],"name":{"first_name":"John","formatted_name":"John Smith","last_name":"Smith","middle_name":"D.","prefix":"Dr","suffix":"Jr"},"org":{"company":"WhatsApp","department":"Design","title":"Manager"},"phones":[{"phone":"+1 (940) 555-1234","type":"HOME"},{"phone":"+1 (650) 555-1234","type":"WORK","wa_id":"16505551234"}],"urls":[{"type":"WORK","url":"https://www.facebook.com"},{"type":"HOME","url":"https://www.whatsapp.com"}]}],"messaging_product":"whatsapp","to":"{{Recipient-Phone-Number}}","type":"contacts"}"#,
        ),
        (
            "Send Document Message by ID",
            r#"{"document":{"caption":"<DOCUMENT_CAPTION_TO_SEND>","filename":"<DOCUMENT_FILENAME>","id":"<DOCUMENT_OBJECT_ID>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"document"}"#,
        ),
        (
            "Send Document Message by URL",
            r#"{"document":{"caption":"<DOCUMENT-CAPTION-TEXT>","link":"<http(s)://document-url>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"document"}"#,
        ),
        (
            "Send Draft Flow by ID",
            r#"{"interactive":{"action":{"name":"flow","parameters":{"flow_action":"navigate","flow_action_payload":{"data":{"<CUSTOM_KEY>":"<CUSTOM_VALUE>"},"screen":"<SCREEN_ID>"},"flow_cta":"Not shown in draft mode","flow_id":"{{Flow-ID}}","flow_message_version":"3","flow_token":"<FLOW_TOKEN>","mode":"draft"}},"body":{"text":"Not shown in draft mode"},"footer":{"text":"Not shown in draft mode"},"header":{"text":"Not shown in draft mode","type":"text"},"type":"flow"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"interactive"}"#,
        ),
        (
            "Send Draft Flow by Name",
            r#"{"interactive":{"action":{"name":"flow","parameters":{"flow_action":"navigate","flow_action_payload":{"data":{"<CUSTOM_KEY>":"<CUSTOM_VALUE>"},"screen":"<SCREEN_ID>"},"flow_cta":"Not shown in draft mode","flow_message_version":"3","flow_name":"{{Flow-Name}}","flow_token":"<FLOW_TOKEN>","mode":"draft"}},"body":{"text":"Not shown in draft mode"},"footer":{"text":"Not shown in draft mode"},"header":{"text":"Not shown in draft mode","type":"text"},"type":"flow"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"interactive"}"#,
        ),
        (
            "Send Flow Template Message",
            r#"{"messaging_product":"whatsapp","template":{"components":[{"index":"0","parameters":[{"action":{"flow_action_data":{"<CUSTOM_KEY>":"<CUSTOM_VALUE>"},"flow_token":"<FLOW_TOKEN>"},"type":"action"}],"sub_type":"flow","type":"button"}],"language":{"code":"en_US"},"name":"<TEMPLATE_NAME>"},"to":"{{Recipient-Phone-Number}}","type":"template"}"#,
        ),
        (
            "Send Image Message by ID",
            r#"{"image":{"id":"<IMAGE_OBJECT_ID>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"image"}"#,
        ),
        (
            "Send Image Message by URL",
            r#"{"image":{"link":"http(s)://image-url"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"image"}"#,
        ),
        (
            "Send List Message",
            r#"{"interactive":{"action":{"button":"<BUTTON_TEXT>","sections":[{"rows":[{"description":"<SECTION_1_ROW_1_DESC>","id":"<LIST_SECTION_1_ROW_1_ID>","title":"<SECTION_1_ROW_1_TITLE>"},{"description":"<SECTION_1_ROW_2_DESC>","id":"<LIST_SECTION_1_ROW_2_ID>","title":"<SECTION_1_ROW_2_TITLE>"}],"title":"<LIST_SECTION_1_TITLE>"},{"rows":[{"description":"<SECTION_2_ROW_1_DESC>","id":"<LIST_SECTION_2_ROW_1_ID>","title":"<SECTION_2_ROW_1_TITLE>"},{"description":"<SECTION_2_ROW_2_DESC>","id":"<LIST_SECTION_2_ROW_2_ID>","title":"<SECTION_2_ROW_2_TITLE>"}],"title":"<LIST_SECTION_2_TITLE>"}]},"body":{"text":"<BODY_TEXT>"},"footer":{"text":"<FOOTER_TEXT>"},"header":{"text":"<HEADER_TEXT>","type":"text"},"type":"list"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"interactive"}"#,
        ),
        (
            "Send Location Message",
            r#"{"location":{"address":"1 Hacker Way, Menlo Park, CA 94025","latitude":37.758056,"longitude":-122.425332,"name":"META HQ"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"location"}"#,
        ),
        (
            "Send Message Template Interactive",
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"image":{"link":"http(s)://the-image-url"},"type":"image"}],"type":"header"},{"parameters":[{"text":"text-string","type":"text"},{"currency":{"amount_1000":100990,"code":"USD","fallback_value":"$100.99"},"type":"currency"},{"date_time":{"calendar":"GREGORIAN","day_of_month":25,"day_of_week":5,"fallback_value":"February 25, 1977","hour":15,"minute":33,"month":2,"year":1977},"type":"date_time"}],"type":"body"},{"index":"0","parameters":[{"payload":"aGlzIHRoaXMgaXMgY29v","type":"payload"}],"sub_type":"quick_reply","type":"button"},{"index":"1","parameters":[{"payload":"9rwnB8RbYmPF5t2Mn09x4h","type":"payload"}],"sub_type":"quick_reply","type":"button"}],"language":{"code":"language-and-locale-code"},"name":"template-name"},"to":"{{Recipient-Phone-Number}}","type":"template"}"#,
        ),
        (
            "Send Message Template Media",
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"image":{"link":"http(s)://the-image-url"},"type":"image"}],"type":"header"},{"parameters":[{"text":"text-string","type":"text"},{"currency":{"amount_1000":100990,"code":"USD","fallback_value":"$100.99"},"type":"currency"},{"date_time":{"calendar":"GREGORIAN","day_of_month":25,"day_of_week":5,"fallback_value":"February 25, 1977","hour":15,"minute":33,"month":2,"year":1977},"type":"date_time"}],"type":"body"}],"language":{"code":"language-and-locale-code"},"name":"template-name"},"to":"{{Recipient-Phone-Number}}","type":"template"}"#,
        ),
        (
            "Send Message Template Text",
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"text":"text-string","type":"text"},{"currency":{"amount_1000":100990,"code":"USD","fallback_value":"$100.99"},"type":"currency"},{"date_time":{"calendar":"GREGORIAN","day_of_month":25,"day_of_week":5,"fallback_value":"February 25, 1977","hour":15,"minute":33,"month":2,"year":1977},"type":"date_time"}],"type":"body"}],"language":{"code":"language-and-locale-code"},"name":"template-name"},"to":"{{Recipient-Phone-Number}}","type":"template"}"#,
        ),
        (
            "Send Multi-Product Message",
            r#"{"interactive":{"action":{"catalog_id":"146265584024623","sections":[{"product_items":[{"product_retailer_id":"<YOUR_PRODUCT1_SKU_IN_CATALOG>"},{"product_retailer_id":"<YOUR_SECOND_PRODUCT1_SKU_IN_CATALOG>"}],"title":"<SECTION1_TITLE>"},{"product_items":[{"product_retailer_id":"<YOUR_PRODUCT2_SKU_IN_CATALOG>"},{"product_retailer_id":"<YOUR_SECOND_PRODUCT2_SKU_IN_CATALOG>"}],"title":"<SECTION2_TITLE>"}]},"body":{"text":"<YOUR_TEXT_BODY_CONTENT>"},"footer":{"text":"<YOUR_TEXT_FOOTER_CONTENT>"},"header":{"text":"<YOUR_TEXT_HEADER_CONTENT>","type":"<HEADER_TYPE>"},"type":"product_list"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"interactive"}"#,
        ),
        (
            "Send Order Details Message",
            r#"{"interactive":{"action":{"name":"review_and_pay","parameters":{"currency":"INR","order":{"discount":{"description":"optional_text","discount_program_name":"optional_text","offset":100,"value":100},"items":[{"amount":{"offset":100,"value":1500},"name":"bread","quantity":1,"retailer_id":"1234567","sale_amount":{"offset":100,"value":1000}}],"shipping":{"description":"optional_text","offset":100,"value":100},"status":"pending","subtotal":{"offset":100,"value":1000},"tax":{"description":"optional_text","offset":100,"value":100}},"payment_configuration":"my-payment-config-name","payment_type":"upi","reference_id":"unique-reference-id","total_amount":{"offset":100,"value":1100},"type":"digital-goods"}},"body":{"text":"your-text-body-content"},"footer":{"text":"your-text-footer-content"},"header":{"image":{"link":"https://upload.wikimedia.org/wikipedia/commons/thumb/3/3b/Home_made_sour_dough_bread.jpg/640px-Home_made_sour_dough_bread.jpg"},"type":"image"},"type":"order_details"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-WA-Phone-Number}}","type":"interactive"}"#,
        ),
        (
            "Send Order Status Message",
            r#"{"interactive":{"action":{"name":"review_order","parameters":{"order":{"description":"optional-text","status":"processing"},"reference_id":"unique-reference-id-from-order-details-msg"}},"body":{"text":"your-text-body-content"},"type":"order_status"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-WA-Phone-Number}}","type":"interactive"}"#,
        ),
        (
            "Send Published Flow by ID",
            r#"{"interactive":{"action":{"name":"flow","parameters":{"flow_action":"navigate","flow_action_payload":{"data":{"<CUSTOM_KEY>":"<CUSTOM_VALUE>"},"screen":"<SCREEN_ID>"},"flow_cta":"Open Flow!","flow_id":"{{Flow-ID}}","flow_message_version":"3","flow_token":"<FLOW_TOKEN>"}},"body":{"text":"<BODY_TEXT>"},"footer":{"text":"<FOOTER_TEXT>"},"header":{"text":"<HEADER_TEXT>","type":"text"},"type":"flow"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"interactive"}"#,
        ),
        (
            "Send Published Flow by Name",
            r#"{"interactive":{"action":{"name":"flow","parameters":{"flow_action":"navigate","flow_action_payload":{"data":{"<CUSTOM_KEY>":"<CUSTOM_VALUE>"},"screen":"<SCREEN_ID>"},"flow_cta":"Open Flow!","flow_message_version":"3","flow_name":"{{Flow-Name}}","flow_token":"<FLOW_TOKEN>"}},"body":{"text":"<BODY_TEXT>"},"footer":{"text":"<FOOTER_TEXT>"},"header":{"text":"<HEADER_TEXT>","type":"text"},"type":"flow"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"interactive"}"#,
        ),
        (
            "Send Reply Button",
            r#"{"interactive":{"action":{"buttons":[{"reply":{"id":"<UNIQUE_BUTTON_ID_1>","title":"<BUTTON_TITLE_1>"},"type":"reply"},{"reply":{"id":"<UNIQUE_BUTTON_ID_2>","title":"<BUTTON_TITLE_2>"},"type":"reply"}]},"body":{"text":"<BUTTON_TEXT>"},"type":"button"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"interactive"}"#,
        ),
        (
            "Send Reply to Audio Message by ID",
            r#"{"audio":{"id":"<AUDIO_OBJECT_ID>"},"context":{"message_id":"<MSGID_OF_MSG_YOU_ARE_REPLYING_TO>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"audio"}"#,
        ),
        (
            "Send Reply to Audio Message by URL",
            r#"{"audio":{"link":"http(s)://audio-url"},"context":{"message_id":"<MSGID_OF_MSG_YOU_ARE_REPLYING_TO>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"audio"}"#,
        ),
        (
            "Send Reply to Contact Message",
            r#"{"contacts":[{"addresses":[{"city":"Menlo Park","country":"United States","country_code":"us","state":"CA","street":"1 Hacker Way","type":"HOME","zip":"94025"},{"city":"Menlo Park","country":"United States","country_code":"us","state":"CA","street":"200 Jefferson Dr","type":"WORK","zip":"94025"}],"birthday":"2012-08-18","emails":[{"email":"test@fb.com","type":"WORK"},{"email":"test@whatsapp.com","type":"HOME"}],"name":{"first_name":"John","formatted_name":"John Smith","last_name":"Smith","middle_name":"D.","prefix":"Dr","suffix":"Jr"},"org":{"company":"WhatsApp","department":"Design","title":"Manager"},"phones":[{"phone":"+1 (940) 555-1234","type":"HOME"},{"phone":"+1 (650) 555-1234","type":"WORK","wa_id":"16505551234"}],"urls":[{"type":"WORK","url":"https://www.facebook.com"},{"type":"HOME","url":"https://www.whatsapp.com"}]}],"context":{"message_id":"<MSGID_OF_PREV_MSG>"},"messaging_product":"whatsapp","to":"{{Recipient-Phone-Number}}","type":"contacts"}"#,
        ),
        (
            "Send Reply to Document Message by ID",
            r#"{"context":{"message_id":"<MSGID_OF_MSG_YOU_ARE_REPLYING_TO>"},"document":{"caption":"<DOCUMENT_CAPTION_TO_SEND>","filename":"<DOCUMENT_FILENAME>","id":"<DOCUMENT_OBJECT_ID>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"document"}"#,
        ),
        (
            "Send Reply to Document Message by URL",
            r#"{"context":{"message_id":"<MSGID_OF_MSG_YOU_ARE_REPLYING_TO>"},"document":{"caption":"<DOCUMENT_CAPTION_TEXT>","link":"<http(s)://document-url>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"document"}"#,
        ),
        (
            "Send Reply to Image Message by ID",
            r#"{"context":{"message_id":"<MSGID_OF_PREV_MSG>"},"image":{"id":"<IMAGE_OBJECT_ID>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"image"}"#,
        ),
        (
            "Send Reply to Image Message by URL",
            r#"{"context":{"message_id":"<MSGID_OF_PREV_MSG>"},"image":{"link":"http(s)://image-url"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"image"}"#,
        ),
        (
            "Send Reply to List Message",
            r#"{"context":{"message_id":"<MSGID_OF_PREV_MSG>"},"interactive":{"action":{"button":"<BUTTON_TEXT>","sections":[{"rows":[{"description":"<SECTION_1_ROW_1_DESC>","id":"<LIST_SECTION_1_ROW_1_ID>","title":"<SECTION_1_ROW_1_TITLE>"},{"description":"<SECTION_1_ROW_2_DESC>","id":"<LIST_SECTION_1_ROW_2_ID>","title":"<SECTION_1_ROW_2_TITLE>"}],"title":"<LIST_SECTION_1_TITLE>"},{"rows":[{"description":"<SECTION_2_ROW_1_DESC>","id":"<LIST_SECTION_2_ROW_1_ID>","title":"<SECTION_2_ROW_1_TITLE>"},{"description":"<SECTION_2_ROW_2_DESC>","id":"<LIST_SECTION_2_ROW_2_ID>","title":"<SECTION_2_ROW_2_TITLE>"}],"title":"<LIST_SECTION_2_TITLE>"}]},"body":{"text":"<BODY_TEXT>"},"footer":{"text":"<FOOTER_TEXT>"},"header":{"text":"<HEADER_TEXT>","type":"text"},"type":"list"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}"}"#,
        ),
        (
            "Send Reply to Location Message",
            r#"{"context":{"message_id":"<MSGID_OF_PREV_MSG>"},"location":{"address":"1 Hacker Way, Menlo Park, CA 94025","latitude":37.758056,"longitude":-122.425332,"name":"META HQ"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"location"}"#,
        ),
        (
            "Send Reply to Sticker Message by ID",
            r#"{"context":{"message_id":"<MSGID_OF_MSG_YOU_ARE_REPLYING_TO>"},"messaging_product":"whatsapp","recipient_type":"individual","sticker":{"id":"<MEDIA_OBJECT_ID>"},"to":"{{Recipient-Phone-Number}}","type":"sticker"}"#,
        ),
        (
            "Send Reply to Sticker Message by URL",
            r#"{"context":{"message_id":"<MSGID_OF_MSG_YOU_ARE_REPLYING_TO>"},"messaging_product":"whatsapp","recipient_type":"individual","sticker":{"link":"<http(s)://sticker-url>"},"to":"{{Recipient-Phone-Number}}","type":"sticker"}"#,
        ),
        (
            "Send Reply to Text Message",
            r#"{"context":{"message_id":"<MSGID_OF_PREV_MSG>"},"messaging_product":"whatsapp","recipient_type":"individual","text":{"body":"<TEXT_MSG_CONTENT>","preview_url":false},"to":"{{Recipient-Phone-Number}}","type":"text"}"#,
        ),
        (
            "Send Reply to Video Message by ID",
            r#"{"context":{"message_id":"<MSGID_OF_MSG_YOU_ARE_REPLYING_TO>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"video","video":{"caption":"<VIDEO_CAPTION_TEXT>","id":"<VIDEO_OBJECT_ID>"}}"#,
        ),
        (
            "Send Reply to Video Message by URL",
            r#"{"context":{"message_id":"<MSGID_OF_MSG_YOU_ARE_REPLYING_TO>"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"video","video":{"caption":"<VIDEO_CAPTION_TEXT>","link":"<http(s)://video-url>"}}"#,
        ),
        (
            "Send Reply with Reaction Message",
            r#"{"messaging_product":"whatsapp","reaction":{"emoji":"😀","message_id":"wamid.HBgLM..."},"recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"reaction"}"#,
        ),
        (
            "Send Sample Issue Resolution Template",
            r#"{"messaging_product":"whatsapp","template":{"components":[{"parameters":[{"text":"*Mr. Jones*","type":"text"}],"type":"body"},{"index":0,"parameters":[{"text":true,"type":"text"}],"sub_type":"quick_reply","type":"button"},{"index":1,"parameters":[{"text":false,"type":"text"}],"sub_type":"quick_reply","type":"button"}],"language":{"code":"en_US","policy":"deterministic"},"name":"sample_issue_resolution"},"to":"{{Recipient-Phone-Number}}","type":"template"}"#,
        ),
        (
            "Send Sample Shipping Confirmation Template",
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"text":"text-string","type":"text"},{"currency":{"amount_1000":100990,"code":"USD","fallback_value":"$100.99"},"type":"currency"},{"date_time":{"calendar":"GREGORIAN","day_of_month":25,"day_of_week":5,"fallback_value":"February 25, 1977","hour":15,"minute":33,"month":2,"year":1977},"type":"date_time"}],"type":"body"}],"language":{"code":"language-and-locale-code"},"name":"template-name"},"to":"16315555555","type":"template"}"#,
        ),
        (
            "Send Sample Text Message",
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","template":{"components":[{"parameters":[{"text":"text-string","type":"text"},{"currency":{"amount_1000":100990,"code":"USD","fallback_value":"$100.99"},"type":"currency"},{"date_time":{"calendar":"GREGORIAN","day_of_month":25,"day_of_week":5,"fallback_value":"February 25, 1977","hour":15,"minute":33,"month":2,"year":1977},"type":"date_time"}],"type":"body"}],"language":{"code":"language-and-locale-code"},"name":"template-name"},"to":"16315555555","type":"template"}"#,
        ),
        (
            "Send Single Product Message",
            r#"{"interactive":{"action":{"catalog_id":"367025965434465","product_retailer_id":"<ID_TEST_ITEM_1>"},"body":{"text":"<OPTIONAL_BODY_TEXT>"},"footer":{"text":"<OPTIONAL_FOOTER_TEXT>"},"type":"product"},"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"interactive"}"#,
        ),
        (
            "Send Sticker Message by ID",
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","sticker":{"id":"<MEDIA_OBJECT_ID>"},"to":"{{Recipient-Phone-Number}}","type":"sticker"}"#,
        ),
        (
            "Send Sticker Message by URL",
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","sticker":{"link":"<http(s)://sticker-url>"},"to":"{{Recipient-Phone-Number}}","type":"sticker"}"#,
        ),
        (
            "Send Test Message",
            r#"{"messaging_product":"whatsapp","template":{"language":{"code":"en_US"},"name":"hello_world"},"to":"{{Recipient-Phone-Number}}","type":"template"}"#,
        ),
        (
            "Send Text Message",
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","text":{"body":"text-message-content","preview_url":false},"to":"{{Recipient-Phone-Number}}","type":"text"}"#,
        ),
        (
            "Send Text Message with Preview URL",
            r#"{"messaging_product":"whatsapp","text":{"body":"Please visit https://youtu.be/hpltvTEiRrY.","preview_url":true},"to":"{{Recipient-Phone-Number}}"}"#,
        ),
        (
            "Send Video Message by ID",
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"video","video":{"caption":"<VIDEO_CAPTION_TEXT>","id":"<VIDEO_OBJECT_ID>"}}"#,
        ),
        (
            "Send Video Message by URL",
            r#"{"messaging_product":"whatsapp","recipient_type":"individual","to":"{{Recipient-Phone-Number}}","type":"video","video":{"caption":"<VIDEO_CAPTION_TEXT>","link":"<http(s)://video-url>"}}"#,
        ),
        (
            "Send typing indicator and read receipt",
            r#"{"message_id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUYzMjEzNDM2RTZGQ0MzMDJBRgA=","messaging_product":"whatsapp","status":"read","typing_indicator":{"type":"text"}}"#,
        ),
    ];

    /// The OAS examples use placeholders where a value goes. Those that stand for a phone
    /// number, an http(s) link or a header type are replaced by a value of that kind; every
    /// other placeholder (`<IMAGE_OBJECT_ID>`, `<BUTTON_TITLE_1>`, ...) is a valid value as is.
    fn concretise(example: &str) -> String {
        example
            .replace("{{Recipient-Phone-Number}}", "16505551234")
            .replace("{{Recipient-WA-Phone-Number}}", "16505551234")
            .replace("<http(s)://", "https://")
            .replace("http(s)://", "https://")
            .replace("-url>", "-url")
            .replace("<HEADER_TYPE>", "text")
    }

    fn parse_json(v: &Value) -> Result<SendBody, GraphError> {
        parse_send_body(v.to_string().as_bytes())
    }

    fn message(v: &Value) -> OutboundMessage {
        match parse_json(v) {
            Ok(SendBody::Message(m)) => m,
            other => panic!("expected a message from {v}, got {other:?}"),
        }
    }

    /// The components of a template send, as its parse checked them.
    #[track_caller]
    fn components(m: &OutboundMessage) -> Vec<TemplateComponentParams<'_>> {
        assert!(matches!(m.kind, MessageKind::Template(_)), "{m:?}");
        template_components(&m.content).unwrap()
    }

    fn example(name: &str) -> OutboundMessage {
        let (_, body) = OAS_EXAMPLES.iter().find(|(n, _)| *n == name).unwrap();
        match parse_send_body(concretise(body).as_bytes()) {
            Ok(SendBody::Message(m)) => m,
            other => panic!("{name}: {other:?}"),
        }
    }

    /// A valid send of `type` carrying `object`.
    fn send(t: &str, object: Value) -> Value {
        json!({"messaging_product": "whatsapp", "recipient_type": "individual",
               "to": "16505551234", "type": t, t: object})
    }

    fn interactive_send(object: Value) -> Value {
        send("interactive", object)
    }

    fn template_send(object: Value) -> Value {
        send("template", object)
    }

    /// Asserts `body` is refused with `code`, HTTP `status`, and details containing `needle`.
    #[track_caller]
    fn refused(body: &Value, code: u32, status: u16, needle: &str) -> GraphError {
        refused_bytes(body.to_string().as_bytes(), code, status, needle)
    }

    #[track_caller]
    fn refused_bytes(body: &[u8], code: u32, status: u16, needle: &str) -> GraphError {
        let e = match parse_send_body(body) {
            Err(e) => e,
            Ok(ok) => panic!(
                "expected error {code} for {}, got {ok:?}",
                String::from_utf8_lossy(body)
            ),
        };
        assert_eq!(e.code, code, "{e:?}");
        assert_eq!(e.http_status, status, "{e:?}");
        assert!(
            e.details.contains(needle),
            "details {:?} should contain {needle:?}",
            e.details
        );
        e
    }

    // --- OAS examples -------------------------------------------------------------------------

    #[test]
    fn every_oas_example_parses() {
        assert_eq!(OAS_EXAMPLES.len(), 50);
        for (name, body) in OAS_EXAMPLES {
            let parsed = parse_send_body(concretise(body).as_bytes());
            let parsed = parsed.unwrap_or_else(|e| panic!("{name}: {e:?}"));
            match parsed {
                SendBody::MarkRead { .. } => {
                    assert_eq!(*name, "Send typing indicator and read receipt")
                }
                SendBody::Message(m) => {
                    assert_eq!(m.wa_id.to_string(), m.to.trim_start_matches('+'), "{name}");
                    let sent: Value = serde_json::from_str(&concretise(body)).unwrap();
                    assert_eq!(m.content, sent[m.type_name], "{name}");
                    if name.starts_with("Send Reply to ") {
                        assert!(m.context_message_id.is_some(), "{name}");
                    }
                }
            }
        }
    }

    #[test]
    fn oas_examples_have_the_expected_kinds() {
        let m = example("Send Text Message with Preview URL");
        assert_eq!(m.type_name, "text");
        assert_eq!(
            m.kind,
            MessageKind::Text {
                body: "Please visit https://youtu.be/hpltvTEiRrY.".into(),
                preview_url: true
            }
        );

        let m = example("Send Reply to List Message");
        assert_eq!(m.type_name, "interactive");
        assert_eq!(
            m.kind,
            MessageKind::Interactive {
                subtype: InteractiveType::List
            }
        );
        assert_eq!(m.context_message_id.as_deref(), Some("<MSGID_OF_PREV_MSG>"));

        let m = example("Send Document Message by ID");
        assert_eq!(
            m.kind,
            MessageKind::Media {
                media_type: MediaType::Document,
                source: MediaSource::Id("<DOCUMENT_OBJECT_ID>".into()),
                caption: Some("<DOCUMENT_CAPTION_TO_SEND>".into()),
                filename: Some("<DOCUMENT_FILENAME>".into()),
            }
        );

        let m = example("Send Image Message by URL");
        assert!(
            matches!(m.kind, MessageKind::Media { source: MediaSource::Link(ref l), .. } if l == "https://image-url")
        );

        let m = example("Send Location Message");
        assert_eq!(
            m.kind,
            MessageKind::Location {
                latitude: 37.758056,
                longitude: -122.425332,
                name: Some("META HQ".into()),
                address: Some("1 Hacker Way, Menlo Park, CA 94025".into()),
            }
        );

        assert_eq!(
            example("Send Contact Message").kind,
            MessageKind::Contacts { count: 1 }
        );
        assert_eq!(
            example("Send Reply with Reaction Message").kind,
            MessageKind::Reaction {
                message_id: "wamid.HBgLM...".into(),
                emoji: "😀".into()
            }
        );
        for (name, subtype) in [
            ("Send Catalog Message", InteractiveType::CatalogMessage),
            ("Send Draft Flow by ID", InteractiveType::Flow),
            ("Send Published Flow by Name", InteractiveType::Flow),
            ("Send Multi-Product Message", InteractiveType::ProductList),
            ("Send Single Product Message", InteractiveType::Product),
            ("Send Order Details Message", InteractiveType::OrderDetails),
            ("Send Order Status Message", InteractiveType::OrderStatus),
            ("Send Reply Button", InteractiveType::Button),
        ] {
            assert_eq!(
                example(name).kind,
                MessageKind::Interactive { subtype },
                "{name}"
            );
        }

        let SendBody::MarkRead {
            message_id,
            typing_indicator,
        } = parse_send_body(
            OAS_EXAMPLES
                .iter()
                .find(|(n, _)| *n == "Send typing indicator and read receipt")
                .unwrap()
                .1
                .as_bytes(),
        )
        .unwrap()
        else {
            panic!("not a read receipt")
        };
        assert_eq!(
            message_id,
            "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUYzMjEzNDM2RTZGQ0MzMDJBRgA="
        );
        assert!(typing_indicator);
    }

    #[test]
    fn oas_template_examples_keep_their_parameters() {
        let m = example("Send Test Message");
        let c = components(&m);
        let MessageKind::Template(t) = &m.kind else {
            panic!()
        };
        assert_eq!(
            (t.name.as_str(), t.language.as_str()),
            ("hello_world", "en_US")
        );
        assert!(c.is_empty());

        // `index` as an integer, `sub_type` in capitals.
        let m = example("Send Catalog Template Message");
        let c = components(&m);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].component, "body");
        let texts: Vec<_> = c[0]
            .parameters
            .iter()
            .map(|p| p.text.clone().unwrap())
            .collect();
        assert_eq!(texts, ["100", "400", "3"]);
        assert_eq!(c[1].component, "button");
        assert_eq!(c[1].sub_type.as_deref(), Some("catalog"));
        assert_eq!(c[1].index, Some(0));
        assert_eq!(c[1].parameters[0].kind, "action");

        // `index` as a string.
        let m = example("Send Message Template Interactive");
        let c = components(&m);
        let kinds: Vec<_> = c.iter().map(|c| c.component).collect();
        assert_eq!(kinds, ["header", "body", "button", "button"]);
        assert_eq!(c[0].parameters[0].kind, "image");
        assert_eq!(c[0].parameters[0].text, None);
        let body: Vec<_> = c[1]
            .parameters
            .iter()
            .map(|p| (p.kind, p.text.as_deref()))
            .collect();
        assert_eq!(
            body,
            [
                ("text", Some("text-string")),
                ("currency", Some("$100.99")),
                ("date_time", Some("February 25, 1977"))
            ]
        );
        assert_eq!(c[2].index, Some(0));
        assert_eq!(c[3].index, Some(1));
        assert_eq!(
            c[3].parameters[0].text.as_deref(),
            Some("9rwnB8RbYmPF5t2Mn09x4h")
        );

        // Booleans as button text.
        let m = example("Send Sample Issue Resolution Template");
        let c = components(&m);
        assert_eq!(c[1].parameters[0].text.as_deref(), Some("true"));
        assert_eq!(c[2].parameters[0].text.as_deref(), Some("false"));

        let m = example("Send Flow Template Message");
        let c = components(&m);
        assert_eq!(c[0].sub_type.as_deref(), Some("flow"));
        assert_eq!(c[0].index, Some(0));
    }

    /// Bodies from Meta's guides (MetaDocs) and the notes, for types the OAS has no example of.
    #[test]
    fn guide_examples_parse() {
        let cta = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+1 (650) 555-1234",
            "type": "interactive", "interactive": {"type": "cta_url",
            "header": {"type": "text", "text": "Available Dates"},
            "body": {"text": "Tap the button below to see available dates."},
            "footer": {"text": "Dates subject to change."},
            "action": {"name": "cta_url", "parameters": {"display_text": "See Dates",
                "url": "https://www.luckyshrub.com?clickID=kqDGWd24Q5TRwoEQTICY7W1JKoXvaZOXWAS7h1P76s0R7Paec4"}}}});
        let m = message(&cta);
        assert_eq!(
            m.kind,
            MessageKind::Interactive {
                subtype: InteractiveType::CtaUrl
            }
        );
        assert_eq!(m.to, "+1 (650) 555-1234");
        assert_eq!(m.wa_id.to_string(), "16505551234");

        let loc = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "type": "interactive",
            "to": "+15551234567", "interactive": {"type": "location_request_message",
            "body": {"text": "Let's start with your pickup. You can either manually *enter an address* or *share your current location*."},
            "action": {"name": "send_location"}}});
        assert_eq!(
            message(&loc).kind,
            MessageKind::Interactive {
                subtype: InteractiveType::LocationRequestMessage
            }
        );

        let named = template_send(
            json!({"name": "order_confirmation", "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "parameter_name": "first_name", "text": "Jessica"}]},
                {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "J$FpnYnP"}]},
                {"type": "button", "sub_type": "copy_code", "index": 2, "parameters": [{"type": "coupon_code", "coupon_code": "SAVE25"}]}]}),
        );
        let m = message(&named);
        let c = components(&m);
        assert_eq!(c[0].parameters[0].parameter_name, Some("first_name"));
        assert_eq!(c[2].parameters[0].text.as_deref(), Some("SAVE25"));

        let removal = send("reaction", json!({"message_id": "wamid.X", "emoji": ""}));
        assert_eq!(
            message(&removal).kind,
            MessageKind::Reaction {
                message_id: "wamid.X".into(),
                emoji: String::new()
            }
        );

        let opaque = json!({"messaging_product": "whatsapp", "to": "16505551234", "text": {"body": "hi"},
            "biz_opaque_callback_data": "order-42", "context": {"message_id": "wamid.Y"}});
        let m = message(&opaque);
        assert_eq!(m.type_name, "text");
        assert_eq!(m.biz_opaque_callback_data.as_deref(), Some("order-42"));
        assert_eq!(m.context_message_id.as_deref(), Some("wamid.Y"));

        let read =
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.Z"});
        assert_eq!(
            parse_json(&read).unwrap(),
            SendBody::MarkRead {
                message_id: "wamid.Z".into(),
                typing_indicator: false
            }
        );
    }

    #[test]
    fn lenient_where_meta_is_silent() {
        // A numeric `to`, a string latitude, a numeric flow id, a BOM.
        let m = message(
            &json!({"messaging_product": "whatsapp", "to": 16505551234u64,
            "type": "location", "location": {"latitude": "37.75", "longitude": -122.4}}),
        );
        assert_eq!(m.to, "16505551234");
        assert!(matches!(m.kind, MessageKind::Location { latitude, .. } if latitude == 37.75));
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(send("text", json!({"body": "hi"})).to_string().as_bytes());
        assert!(parse_send_body(&bom).is_ok());
        // null reads as absent.
        let m = message(
            &json!({"messaging_product": "whatsapp", "to": "16505551234", "type": "text",
            "text": {"body": "hi", "preview_url": null}, "context": null, "recipient_type": null}),
        );
        assert_eq!(
            m.kind,
            MessageKind::Text {
                body: "hi".into(),
                preview_url: false
            }
        );
        // Exactly the limits.
        message(&send("text", json!({"body": "x".repeat(TEXT_BODY_MAX)})));
        message(&send("text", json!({"body": "é".repeat(TEXT_BODY_MAX)})));
        message(&interactive_send(
            json!({"type": "button", "body": {"text": "b"}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": "a".repeat(BUTTON_ID_MAX), "title": "t".repeat(BUTTON_TITLE_MAX)}},
            {"type": "reply", "reply": {"id": "b", "title": "u"}},
            {"type": "reply", "reply": {"id": "c", "title": "v"}}]}}),
        ));
    }

    // --- Envelope errors ----------------------------------------------------------------------

    #[test]
    fn not_json_is_100() {
        refused_bytes(b"{\"messaging_product\": ", 100, 400, "not valid JSON");
        refused_bytes(
            b"messaging_product=whatsapp&to=1",
            100,
            400,
            "not valid JSON",
        );
        refused_bytes(b"\xff\xfe", 100, 400, "not valid JSON");
    }

    #[test]
    fn invalid_utf8_inside_a_string_is_100_naming_its_place() {
        // The bytes reading is the one that sees it: its error names the line and column.
        let e = refused_bytes(
            b"{\"messaging_product\":\"whatsapp\",\"to\":\"16505551234\",\"type\":\"text\",\n\"text\":{\"body\":\"caf\xe9\"}}",
            100,
            400,
            "not valid JSON",
        );
        assert!(e.details.contains("line 2"), "{:?}", e.details);
        // The same body in UTF-8 is a send.
        let ok = parse_send_body(
            "{\"messaging_product\":\"whatsapp\",\"to\":\"16505551234\",\"type\":\"text\",\n\"text\":{\"body\":\"caf\u{e9}\"}}".as_bytes(),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn not_an_object_is_100() {
        refused_bytes(b"[1,2]", 100, 400, "must be a JSON object, got an array");
        refused_bytes(b"\"text\"", 100, 400, "must be a JSON object, got a string");
        refused_bytes(b"null", 100, 400, "must be a JSON object, got null");
    }

    #[test]
    fn messaging_product_missing_is_100() {
        refused(
            &json!({"to": "16505551234", "text": {"body": "hi"}}),
            100,
            400,
            "The parameter messaging_product is required.",
        );
        refused_bytes(
            b"",
            100,
            400,
            "The parameter messaging_product is required.",
        );
        refused_bytes(
            b"  \n",
            100,
            400,
            "The parameter messaging_product is required.",
        );
    }

    #[test]
    fn messaging_product_invalid_is_100() {
        let mut b = send("text", json!({"body": "hi"}));
        b["messaging_product"] = json!("sms");
        refused(
            &b,
            100,
            400,
            "Param messaging_product must be one of {whatsapp}, got 'sms'",
        );
        b["messaging_product"] = json!(1);
        refused(
            &b,
            100,
            400,
            "Param messaging_product must be one of {whatsapp}, got a number",
        );
    }

    #[test]
    fn status_other_than_read_is_100() {
        refused(
            &json!({"messaging_product": "whatsapp", "status": "delivered", "message_id": "wamid.X"}),
            100,
            400,
            "Param status must be one of {read}, got 'delivered'",
        );
        refused(
            &json!({"messaging_product": "whatsapp", "status": true, "message_id": "wamid.X"}),
            100,
            400,
            "Param status must be a string",
        );
    }

    #[test]
    fn mark_read_without_message_id_is_131008() {
        refused(
            &json!({"messaging_product": "whatsapp", "status": "read"}),
            131_008,
            400,
            "Param message_id is required.",
        );
        refused(
            &json!({"messaging_product": "whatsapp", "status": "read", "message_id": " "}),
            131_009,
            400,
            "Param message_id must not be empty",
        );
    }

    #[test]
    fn typing_indicator_must_be_text() {
        let base =
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"});
        let mut b = base.clone();
        b["typing_indicator"] = json!({"type": "audio"});
        refused(
            &b,
            100,
            400,
            "Param typing_indicator['type'] must be one of {text}, got 'audio'",
        );
        b["typing_indicator"] = json!({});
        refused(
            &b,
            131_008,
            400,
            "Param typing_indicator['type'] is required.",
        );
        b["typing_indicator"] = json!("text");
        refused(&b, 100, 400, "Param typing_indicator must be an object");
    }

    #[test]
    fn group_recipient_is_131009() {
        let mut b = send("text", json!({"body": "hi"}));
        b["recipient_type"] = json!("group");
        let e = refused(&b, 131_009, 400, "recipient_type 'group'");
        assert!(e.details.contains("does not simulate group"));
    }

    #[test]
    fn unknown_recipient_type_is_100() {
        let mut b = send("text", json!({"body": "hi"}));
        b["recipient_type"] = json!("channel");
        refused(
            &b,
            100,
            400,
            "Param recipient_type must be one of {individual, group}, got 'channel'",
        );
    }

    #[test]
    fn missing_to_is_131008() {
        let mut b = send("text", json!({"body": "hi"}));
        b.as_object_mut().unwrap().remove("to");
        refused(&b, 131_008, 400, "Param to is required.");
        b["to"] = json!("  ");
        refused(&b, 131_008, 400, "Param to is required.");
        b.as_object_mut().unwrap().remove("to");
        b["recipient"] = json!("US.13491208655302741918");
        refused(&b, 131_008, 400, "business-scoped user IDs");
    }

    #[test]
    fn malformed_to_is_100() {
        for to in [
            "0033612345678",
            "abc",
            "+",
            "123",
            "1234567890123456",
            "+1 650 555 1234 ext 5",
            "++16505551234",
            "1650555.1234",
        ] {
            let mut b = send("text", json!({"body": "hi"}));
            b["to"] = json!(to);
            refused(&b, 100, 400, "Param to must be a phone number");
        }
        let mut b = send("text", json!({"body": "hi"}));
        b["to"] = json!(["16505551234"]);
        refused(&b, 100, 400, "Param to must be a string, got an array");
        b["to"] = json!(-16505551234i64);
        refused(&b, 100, 400, "Param to must be a string, got a number");
    }

    #[test]
    fn to_is_normalised() {
        for to in [
            "16505551234",
            "+16505551234",
            "+1 650-555-1234",
            "+1 (650) 555-1234",
            " 16505551234 ",
        ] {
            let mut b = send("text", json!({"body": "hi"}));
            b["to"] = json!(to);
            let m = message(&b);
            assert_eq!(m.to, to);
            assert_eq!(m.wa_id.to_string(), "16505551234");
        }
    }

    #[test]
    fn bad_context_is_refused() {
        let mut b = send("text", json!({"body": "hi"}));
        b["context"] = json!({});
        refused(&b, 131_008, 400, "Param context['message_id'] is required.");
        b["context"] = json!("wamid.X");
        refused(&b, 100, 400, "Param context must be an object");
    }

    #[test]
    fn biz_opaque_callback_data_too_long_is_100() {
        let mut b = send("text", json!({"body": "hi"}));
        b["biz_opaque_callback_data"] = json!("x".repeat(BIZ_OPAQUE_MAX + 1));
        refused(
            &b,
            100,
            400,
            "Param biz_opaque_callback_data must be at most 512 characters long",
        );
        b["biz_opaque_callback_data"] = json!(42);
        refused(
            &b,
            100,
            400,
            "Param biz_opaque_callback_data must be a string",
        );
    }

    #[test]
    fn unknown_type_is_131051() {
        let e = refused(
            &send("hologram", json!({})),
            131_051,
            400,
            "Message type 'hologram' is not supported",
        );
        assert_eq!(e.message(), "(#131051) Unsupported message type");
        refused(&send("TEXT", json!({"body": "hi"})), 131_051, 400, "'TEXT'");
    }

    #[test]
    fn non_string_type_is_100() {
        let mut b = send("text", json!({"body": "hi"}));
        b["type"] = json!(1);
        refused(&b, 100, 400, "Param type must be a string");
    }

    #[test]
    fn object_named_by_type_missing_is_131008() {
        for t in MESSAGE_TYPES {
            let b = json!({"messaging_product": "whatsapp", "to": "16505551234", "type": t});
            refused(&b, 131_008, 400, &format!("Param {t} is required."));
        }
        // No type and no object: type defaults to text.
        refused(
            &json!({"messaging_product": "whatsapp", "to": "16505551234"}),
            131_008,
            400,
            "Param text is required.",
        );
    }

    #[test]
    fn ambiguous_body_without_type_is_131008() {
        let b = json!({"messaging_product": "whatsapp", "to": "16505551234",
            "image": {"id": "1"}, "audio": {"id": "2"}});
        refused(&b, 131_008, 400, "Param type is required");
    }

    // --- Text ---------------------------------------------------------------------------------

    #[test]
    fn text_body_missing_is_131008() {
        refused(
            &send("text", json!({"preview_url": true})),
            131_008,
            400,
            "Param text['body'] is required.",
        );
    }

    #[test]
    fn text_body_not_a_string_is_100() {
        refused(
            &send("text", json!({"body": {"x": 1}})),
            100,
            400,
            "Param text['body'] must be a string",
        );
        refused(
            &send("text", json!("hello")),
            100,
            400,
            "Param text must be an object, got a string",
        );
    }

    #[test]
    fn text_body_too_long_is_100() {
        let e = refused(
            &send("text", json!({"body": "x".repeat(TEXT_BODY_MAX + 1)})),
            100,
            400,
            "Param text['body'] must be at most 4096 characters long",
        );
        assert_eq!(e.message(), "(#100) Invalid parameter");
        refused(
            &send("text", json!({"body": ""})),
            100,
            400,
            "Param text['body'] must be at least 1 character long",
        );
    }

    #[test]
    fn preview_url_not_bool_is_100() {
        refused(
            &send("text", json!({"body": "hi", "preview_url": "yes"})),
            100,
            400,
            "Param text['preview_url'] must be a boolean",
        );
    }

    // --- Media --------------------------------------------------------------------------------

    #[test]
    fn media_needs_id_or_link() {
        for t in ["image", "audio", "video", "document", "sticker"] {
            refused(
                &send(t, json!({})),
                131_008,
                400,
                &format!("Param {t}['id'] or {t}['link'] is required."),
            );
            refused(
                &send(t, json!({"id": "1", "link": "https://x.test/a"})),
                131_009,
                400,
                &format!("Param {t} must have either 'id' or 'link', not both."),
            );
        }
        refused(
            &send("image", json!({"id": ""})),
            131_009,
            400,
            "Param image['id'] must not be empty",
        );
        refused(
            &send("image", json!({"id": 5})),
            100,
            400,
            "Param image['id'] must be a string",
        );
    }

    #[test]
    fn media_link_must_be_http() {
        for link in [
            "ftp://x.test/a.png",
            "x.test/a.png",
            "https://",
            "http:// x",
            "file:///etc/passwd",
            "<http(s)://image-url>",
        ] {
            refused(
                &send("image", json!({"link": link})),
                131_009,
                400,
                "Param image['link'] must be an http:// or https:// URL",
            );
        }
        message(&send("image", json!({"link": "HTTPS://x.test/a.png"})));
        message(&send("image", json!({"link": "http://x.test/a.png"})));
    }

    #[test]
    fn caption_only_for_image_video_document() {
        for t in ["audio", "sticker"] {
            refused(
                &send(t, json!({"id": "1", "caption": "c"})),
                131_009,
                400,
                &format!("Param {t}['caption'] is not allowed"),
            );
        }
        for t in ["image", "video", "document"] {
            message(&send(t, json!({"id": "1", "caption": "c"})));
        }
        refused(
            &send(
                "image",
                json!({"id": "1", "caption": "c".repeat(CAPTION_MAX + 1)}),
            ),
            131_009,
            400,
            "Param image['caption'] length invalid. Min length: 0, Max length: 1024",
        );
    }

    #[test]
    fn filename_only_for_document() {
        refused(
            &send("image", json!({"id": "1", "filename": "a.png"})),
            131_009,
            400,
            "Param image['filename'] is not allowed",
        );
    }

    // --- Location -----------------------------------------------------------------------------

    #[test]
    fn location_needs_coordinates() {
        refused(
            &send("location", json!({"longitude": 1.0})),
            131_008,
            400,
            "Param location['latitude'] is required.",
        );
        refused(
            &send("location", json!({"latitude": 1.0})),
            131_008,
            400,
            "Param location['longitude'] is required.",
        );
        refused(
            &send("location", json!({"latitude": true, "longitude": 1.0})),
            100,
            400,
            "Param location['latitude'] must be a number",
        );
        refused(
            &send("location", json!({"latitude": "north", "longitude": 1.0})),
            100,
            400,
            "Param location['latitude'] must be a number",
        );
        refused(
            &send("location", json!({"latitude": 91, "longitude": 1.0})),
            131_009,
            400,
            "Param location['latitude'] must be between -90 and 90",
        );
        refused(
            &send("location", json!({"latitude": 0, "longitude": -180.5})),
            131_009,
            400,
            "Param location['longitude'] must be between -180 and 180",
        );
        refused(
            &send("location", json!({"latitude": "NaN", "longitude": 0})),
            131_009,
            400,
            "Param location['latitude'] must be between",
        );
        refused(
            &send(
                "location",
                json!({"latitude": 0, "longitude": 0, "name": 3}),
            ),
            100,
            400,
            "Param location['name'] must be a string",
        );
    }

    // --- Contacts -----------------------------------------------------------------------------

    #[test]
    fn contacts_must_be_a_non_empty_array() {
        refused(
            &send("contacts", json!({"name": {"formatted_name": "A"}})),
            100,
            400,
            "Param contacts must be an array",
        );
        refused(
            &send("contacts", json!([])),
            131_009,
            400,
            "Param contacts must contain at least one contact",
        );
        refused(
            &send("contacts", json!(["A"])),
            100,
            400,
            "Param contacts[0] must be an object",
        );
    }

    #[test]
    fn contacts_need_formatted_name() {
        refused(
            &send("contacts", json!([{"phones": [{"phone": "+1 650"}]}])),
            131_008,
            400,
            "Param contacts[0]['name'] is required.",
        );
        refused(
            &send(
                "contacts",
                json!([{"name": {"formatted_name": "A"}}, {"name": {"first_name": "B"}}]),
            ),
            131_008,
            400,
            "Param contacts[1]['name']['formatted_name'] is required.",
        );
        refused(
            &send("contacts", json!([{"name": {"formatted_name": " "}}])),
            131_009,
            400,
            "Param contacts[0]['name']['formatted_name'] must not be empty",
        );
        refused(
            &send(
                "contacts",
                json!([{"name": {"formatted_name": "A"}, "phones": [{"type": "HOME"}]}]),
            ),
            131_008,
            400,
            "Param contacts[0]['phones'][0]['phone'] is required.",
        );
        refused(
            &send(
                "contacts",
                json!([{"name": {"formatted_name": "A"}, "emails": "a@b.c"}]),
            ),
            100,
            400,
            "Param contacts[0]['emails'] must be an array",
        );
        assert_eq!(
            message(&send(
                "contacts",
                json!([{"name": {"formatted_name": "A"}}, {"name": {"formatted_name": "B"}}])
            ))
            .kind,
            MessageKind::Contacts { count: 2 }
        );
    }

    // --- Reaction -----------------------------------------------------------------------------

    #[test]
    fn reaction_needs_message_id_and_emoji() {
        refused(
            &send("reaction", json!({"emoji": "👍"})),
            131_008,
            400,
            "Param reaction['message_id'] is required.",
        );
        refused(
            &send("reaction", json!({"message_id": "wamid.X"})),
            131_008,
            400,
            "Param reaction['emoji'] is required.",
        );
        refused(
            &send("reaction", json!({"message_id": "", "emoji": "👍"})),
            131_009,
            400,
            "Param reaction['message_id'] must not be empty",
        );
        refused(
            &send("reaction", json!({"message_id": "wamid.X", "emoji": 1})),
            100,
            400,
            "Param reaction['emoji'] must be a string",
        );
    }

    // --- Interactive --------------------------------------------------------------------------

    fn buttons(n: usize) -> Value {
        let list: Vec<Value> = (0..n)
            .map(|i| json!({"type": "reply", "reply": {"id": format!("id-{i}"), "title": format!("Title {i}")}}))
            .collect();
        interactive_send(
            json!({"type": "button", "body": {"text": "Pick one"}, "action": {"buttons": list}}),
        )
    }

    #[test]
    fn interactive_type_missing_is_131008_and_unknown_is_131051() {
        refused(
            &interactive_send(json!({"action": {}})),
            131_008,
            400,
            "Param interactive['type'] is required.",
        );
        refused(
            &interactive_send(json!({"type": "hologram", "action": {}})),
            131_051,
            400,
            "Interactive message type 'hologram' is not supported",
        );
        refused(
            &interactive_send(json!({"type": "button", "body": {"text": "b"}})),
            131_008,
            400,
            "Param interactive['action'] is required.",
        );
    }

    #[test]
    fn reply_button_count_is_1_to_3() {
        message(&buttons(1));
        message(&buttons(3));
        refused(
            &buttons(4),
            131_009,
            400,
            "Invalid buttons count. Min allowed buttons: 1, Max allowed buttons: 3",
        );
        refused(&buttons(0), 131_009, 400, "Invalid buttons count");
        refused(
            &interactive_send(json!({"type": "button", "body": {"text": "b"}, "action": {}})),
            131_008,
            400,
            "Param interactive['action']['buttons'] is required.",
        );
    }

    #[test]
    fn reply_button_title_and_id_lengths() {
        let mut b = buttons(2);
        b["interactive"]["action"]["buttons"][1]["reply"]["title"] =
            json!("t".repeat(BUTTON_TITLE_MAX + 1));
        refused(&b, 131_009, 400, "Button title length invalid. Min length: 1, Max length: 20 (interactive['action']['buttons'][1]['reply']['title'] has 21 characters)");
        b["interactive"]["action"]["buttons"][1]["reply"]["title"] = json!("");
        refused(&b, 131_009, 400, "Button title length invalid");
        let mut b = buttons(1);
        b["interactive"]["action"]["buttons"][0]["reply"]["id"] =
            json!("i".repeat(BUTTON_ID_MAX + 1));
        refused(
            &b,
            131_009,
            400,
            "Button id length invalid. Min length: 1, Max length: 256",
        );
        let mut b = buttons(1);
        b["interactive"]["action"]["buttons"][0]["reply"]
            .as_object_mut()
            .unwrap()
            .remove("title");
        refused(
            &b,
            131_008,
            400,
            "Param interactive['action']['buttons'][0]['reply']['title'] is required.",
        );
        let mut b = buttons(1);
        b["interactive"]["action"]["buttons"][0]["type"] = json!("url");
        refused(
            &b,
            131_009,
            400,
            "Param interactive['action']['buttons'][0]['type'] must be 'reply'",
        );
    }

    #[test]
    fn reply_buttons_must_be_unique() {
        let mut b = buttons(2);
        b["interactive"]["action"]["buttons"][1]["reply"]["id"] = json!("id-0");
        refused(&b, 131_009, 400, "['id'] must be unique");
        let mut b = buttons(2);
        b["interactive"]["action"]["buttons"][1]["reply"]["title"] = json!("Title 0");
        refused(&b, 131_009, 400, "['title'] must be unique");
    }

    #[test]
    fn interactive_body_and_footer_limits() {
        let mut b = buttons(1);
        b["interactive"]["body"]["text"] = json!("b".repeat(INTERACTIVE_BODY_MAX + 1));
        refused(
            &b,
            131_009,
            400,
            "Param interactive['body']['text'] length invalid. Min length: 1, Max length: 1024",
        );
        let mut b = buttons(1);
        b["interactive"]["footer"] = json!({"text": "f".repeat(FOOTER_TEXT_MAX + 1)});
        refused(
            &b,
            131_009,
            400,
            "Param interactive['footer']['text'] length invalid. Min length: 1, Max length: 60",
        );
        let mut b = buttons(1);
        b["interactive"].as_object_mut().unwrap().remove("body");
        refused(&b, 131_008, 400, "Param interactive['body'] is required.");
        let mut b = buttons(1);
        b["interactive"]["header"] =
            json!({"type": "text", "text": "h".repeat(HEADER_TEXT_MAX + 1)});
        refused(
            &b,
            131_009,
            400,
            "Param interactive['header']['text'] length invalid",
        );
        b["interactive"]["header"] = json!({"type": "image"});
        refused(
            &b,
            131_008,
            400,
            "Param interactive['header']['image'] is required.",
        );
        b["interactive"]["header"] =
            json!({"type": "image", "image": {"link": "https://x.test/a.png"}});
        message(&b);
    }

    fn list(sections: Value) -> Value {
        interactive_send(
            json!({"type": "list", "header": {"type": "text", "text": "H"}, "body": {"text": "B"},
            "action": {"button": "Choose", "sections": sections}}),
        )
    }

    fn rows(prefix: &str, n: usize) -> Value {
        Value::Array(
            (0..n)
                .map(|i| json!({"id": format!("{prefix}-{i}"), "title": format!("Row {i}")}))
                .collect(),
        )
    }

    #[test]
    fn list_limits() {
        message(&list(
            json!([{"title": "S1", "rows": rows("a", 5)}, {"title": "S2", "rows": rows("b", 5)}]),
        ));
        refused(
            &list(
                json!([{"title": "S1", "rows": rows("a", 6)}, {"title": "S2", "rows": rows("b", 5)}]),
            ),
            131_009,
            400,
            "Total row count exceed max allowed count: 10",
        );
        let eleven: Vec<Value> = (0..11)
            .map(|i| json!({"title": format!("S{i}"), "rows": rows(&format!("s{i}"), 1)}))
            .collect();
        refused(
            &list(Value::Array(eleven)),
            131_009,
            400,
            "Invalid sections count. Min allowed sections: 1, Max allowed sections: 10",
        );
        refused(&list(json!([])), 131_009, 400, "Invalid sections count");
        refused(&list(json!([{"rows": rows("a", 1)}, {"title": "S2", "rows": rows("b", 1)}])), 131_008, 400,
            "Param interactive['action']['sections'][0]['title'] is required when there is more than one section");
        refused(
            &list(json!([{"title": "S1", "rows": []}])),
            131_009,
            400,
            "['rows'] must contain at least one row",
        );
        refused(&list(json!([{"title": "S1", "rows": [{"id": "a", "title": "r".repeat(ROW_TITLE_MAX + 1)}]}])),
            131_009, 400, "Param interactive['action']['sections'][0]['rows'][0]['title'] length invalid. Min length: 1, Max length: 24");
        refused(
            &list(
                json!([{"title": "S1", "rows": [{"id": "a", "title": "r", "description": "d".repeat(ROW_DESCRIPTION_MAX + 1)}]}]),
            ),
            131_009,
            400,
            "['description'] length invalid. Min length: 0, Max length: 72",
        );
        refused(
            &list(
                json!([{"title": "S1", "rows": [{"id": "a".repeat(ROW_ID_MAX + 1), "title": "r"}]}]),
            ),
            131_009,
            400,
            "['id'] length invalid. Min length: 1, Max length: 200",
        );
        refused(
            &list(
                json!([{"title": "S1", "rows": rows("a", 1)}, {"title": "S2", "rows": rows("a", 1)}]),
            ),
            131_009,
            400,
            "must be unique across the list",
        );
        refused(
            &list(json!([{"title": "S".repeat(ROW_TITLE_MAX + 1), "rows": rows("a", 1)}])),
            131_009,
            400,
            "Param interactive['action']['sections'][0]['title'] length invalid",
        );
    }

    #[test]
    fn list_button_text_and_header() {
        let mut b = list(json!([{"rows": rows("a", 1)}]));
        b["interactive"]["action"]["button"] = json!("b".repeat(BUTTON_TITLE_MAX + 1));
        refused(
            &b,
            131_009,
            400,
            "Param interactive['action']['button'] length invalid. Min length: 1, Max length: 20",
        );
        b["interactive"]["action"]
            .as_object_mut()
            .unwrap()
            .remove("button");
        refused(
            &b,
            131_008,
            400,
            "Param interactive['action']['button'] is required.",
        );
        let mut b = list(json!([{"rows": rows("a", 1)}]));
        b["interactive"]["header"] = json!({"type": "image", "image": {"id": "1"}});
        refused(&b, 131_009, 400, "Param interactive['header']['type'] must be one of {text} for interactive type 'list', got 'image'");
        let mut b = list(json!([{"rows": rows("a", 1)}]));
        b["interactive"]["body"]["text"] = json!("b".repeat(LIST_BODY_MAX));
        message(&b);
    }

    fn cta(parameters: Value) -> Value {
        interactive_send(json!({"type": "cta_url", "body": {"text": "B"},
            "action": {"name": "cta_url", "parameters": parameters}}))
    }

    #[test]
    fn cta_url_needs_display_text_and_url() {
        message(&cta(
            json!({"display_text": "Open", "url": "https://x.test"}),
        ));
        refused(
            &cta(json!({"url": "https://x.test"})),
            131_008,
            400,
            "Param interactive['action']['parameters']['display_text'] is required.",
        );
        refused(
            &cta(json!({"display_text": "Open"})),
            131_008,
            400,
            "Param interactive['action']['parameters']['url'] is required.",
        );
        refused(
            &cta(json!({"display_text": "Open", "url": "x.test"})),
            131_009,
            400,
            "Param interactive['action']['parameters']['url'] must be an http:// or https:// URL",
        );
        refused(
            &cta(json!({"display_text": "O".repeat(21), "url": "https://x.test"})),
            131_009,
            400,
            "['display_text'] length invalid. Min length: 1, Max length: 20",
        );
        refused(
            &interactive_send(
                json!({"type": "cta_url", "body": {"text": "B"}, "action": {"name": "cta_url"}}),
            ),
            131_008,
            400,
            "Param interactive['action']['parameters'] is required.",
        );
        refused(
            &interactive_send(json!({"type": "cta_url", "body": {"text": "B"},
            "action": {"name": "flow", "parameters": {"display_text": "Open", "url": "https://x.test"}}})),
            131_009,
            400,
            "Param interactive['action']['name'] must be 'cta_url', got 'flow'",
        );
    }

    #[test]
    fn other_interactive_types_check_their_required_fields() {
        refused(
            &interactive_send(
                json!({"type": "product", "header": {"type": "text", "text": "H"},
            "action": {"catalog_id": "1", "product_retailer_id": "sku"}}),
            ),
            131_009,
            400,
            "Param interactive['header'] is not allowed for interactive type 'product'",
        );
        refused(
            &interactive_send(json!({"type": "product", "action": {"catalog_id": "1"}})),
            131_008,
            400,
            "Param interactive['action']['product_retailer_id'] is required.",
        );
        refused(
            &interactive_send(json!({"type": "product_list", "body": {"text": "B"},
            "action": {"catalog_id": "1", "sections": [{"product_items": [{"product_retailer_id": "a"}]}]}})),
            131_008,
            400,
            "Param interactive['header'] is required.",
        );
        let items: Vec<Value> = (0..31)
            .map(|i| json!({"product_retailer_id": format!("sku-{i}")}))
            .collect();
        refused(
            &interactive_send(
                json!({"type": "product_list", "header": {"type": "text", "text": "H"}, "body": {"text": "B"},
            "action": {"catalog_id": 1, "sections": [{"title": "S", "product_items": items}]}}),
            ),
            131_009,
            400,
            "Total product count exceed max allowed count: 30",
        );
        refused(
            &interactive_send(json!({"type": "flow", "body": {"text": "B"},
            "action": {"name": "flow", "parameters": {"flow_message_version": "3", "flow_cta": "Go"}}})),
            131_008,
            400,
            "['flow_id'] or interactive['action']['parameters']['flow_name'] is required.",
        );
        refused(
            &interactive_send(json!({"type": "flow", "body": {"text": "B"},
            "action": {"name": "flow", "parameters": {"flow_message_version": "3", "flow_cta": "Go", "flow_id": "1", "flow_name": "n"}}})),
            131_009,
            400,
            "must have either 'flow_id' or 'flow_name', not both",
        );
        refused(&interactive_send(json!({"type": "flow", "body": {"text": "B"},
            "action": {"name": "flow", "parameters": {"flow_message_version": "3", "flow_cta": "Go", "flow_id": "1", "mode": "live"}}})),
            100, 400, "Param interactive['action']['parameters']['mode'] must be one of {draft, published}, got 'live'");
        refused(
            &interactive_send(
                json!({"type": "location_request_message", "body": {"text": "B"}, "action": {"name": "send_contact"}}),
            ),
            131_009,
            400,
            "Param interactive['action']['name'] must be 'send_location'",
        );
        refused(
            &interactive_send(
                json!({"type": "catalog_message", "body": {"text": "B"}, "action": {}}),
            ),
            131_008,
            400,
            "Param interactive['action']['name'] is required.",
        );
        refused(
            &interactive_send(
                json!({"type": "carousel", "body": {"text": "B"}, "action": {"cards": []}}),
            ),
            131_009,
            400,
            "Param interactive['action']['cards'] must contain at least one card",
        );
    }

    // --- Template -----------------------------------------------------------------------------

    #[test]
    fn template_needs_name_and_language_code() {
        refused(
            &template_send(json!({"language": {"code": "en_US"}})),
            131_008,
            400,
            "Param template['name'] is required.",
        );
        refused(
            &template_send(json!({"name": "hello_world"})),
            131_008,
            400,
            "Param template['language'] is required.",
        );
        refused(
            &template_send(json!({"name": "hello_world", "language": {"policy": "deterministic"}})),
            131_008,
            400,
            "Param template['language']['code'] is required.",
        );
        refused(
            &template_send(json!({"name": "hello_world", "language": "en_US"})),
            100,
            400,
            "Param template['language'] must be an object",
        );
        refused(
            &template_send(
                json!({"name": "hello_world", "language": {"code": "en_US", "policy": "fallback"}}),
            ),
            100,
            400,
            "Param template['language']['policy'] must be one of {deterministic}, got 'fallback'",
        );
        refused(
            &template_send(json!({"name": "", "language": {"code": "en_US"}})),
            131_009,
            400,
            "Param template['name'] must not be empty",
        );
    }

    fn with_components(components: Value) -> Value {
        template_send(json!({"name": "t", "language": {"code": "en_US"}, "components": components}))
    }

    #[test]
    fn template_component_shape() {
        refused(
            &with_components(json!({"type": "body"})),
            100,
            400,
            "Param template['components'] must be an array",
        );
        refused(
            &with_components(json!([{"parameters": []}])),
            131_008,
            400,
            "Param template['components'][0]['type'] is required.",
        );
        refused(&with_components(json!([{"type": "carousel"}])), 100, 400,
            "Param template['components'][0]['type'] must be one of {header, body, footer, button}, got 'carousel'");
        refused(
            &with_components(
                json!([{"type": "body", "parameters": {"type": "text", "text": "x"}}]),
            ),
            100,
            400,
            "Param template['components'][0]['parameters'] must be an array",
        );
        let m = message(&with_components(
            json!([{"type": "BODY", "parameters": [{"type": "text", "text": "x"}]}]),
        ));
        assert_eq!(components(&m)[0].component, "body");
    }

    #[test]
    fn template_components_borrow_the_parameters_as_sent() {
        let m = message(&with_components(json!([{"type": "body", "parameters": [
            {"type": "text", "text": 12},
            {"type": "currency", "currency": {"fallback_value": "$1", "code": "USD", "amount_1000": 1000}}]}])));
        let c = components(&m);
        let sent = &m.content["components"][0]["parameters"];
        assert_eq!(c[0].parameters[0].value, &sent[0]);
        assert_eq!(c[0].parameters[1].value, &sent[1]);
        assert_eq!(c[0].parameters[0].text.as_deref(), Some("12"));
        assert_eq!(c[0].parameters[1].text.as_deref(), Some("$1"));
        assert_eq!(c[0].parameters[0].parameter_name, None);

        // The same checks as the parse, with the same errors.
        let bad = json!({"name": "t", "language": {"code": "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text"}]}]});
        let e = template_components(&bad).unwrap_err();
        let parsed = parse_json(&template_send(bad)).unwrap_err();
        assert_eq!((e.code, e.details), (parsed.code, parsed.details));
    }

    #[test]
    fn template_button_needs_sub_type_index_and_parameters() {
        let button = |b: Value| with_components(json!([b]));
        refused(
            &button(
                json!({"type": "button", "index": "0", "parameters": [{"type": "payload", "payload": "p"}]}),
            ),
            131_008,
            400,
            "Param template['components'][0]['sub_type'] is required.",
        );
        refused(
            &button(
                json!({"type": "button", "sub_type": "quick_reply", "parameters": [{"type": "payload", "payload": "p"}]}),
            ),
            131_008,
            400,
            "Param template['components'][0]['index'] is required.",
        );
        refused(
            &button(json!({"type": "button", "sub_type": "quick_reply", "index": 0})),
            131_008,
            400,
            "Param template['components'][0]['parameters'] is required.",
        );
        for bad in [json!("x"), json!("10"), json!(10), json!(-1), json!("-1")] {
            refused(
                &button(
                    json!({"type": "button", "sub_type": "url", "index": bad, "parameters": [{"type": "text", "text": "t"}]}),
                ),
                131_009,
                400,
                "Param template['components'][0]['index'] must be a button position from 0 to 9",
            );
        }
        refused(
            &button(
                json!({"type": "button", "sub_type": "url", "index": 0.5, "parameters": [{"type": "text", "text": "t"}]}),
            ),
            100,
            400,
            "Param template['components'][0]['index'] must be an integer",
        );
        refused(
            &button(
                json!({"type": "button", "sub_type": "url", "index": [0], "parameters": [{"type": "text", "text": "t"}]}),
            ),
            100,
            400,
            "Param template['components'][0]['index'] must be a string or an integer",
        );
        let m = message(&button(
            json!({"type": "button", "sub_type": "URL", "index": "9",
            "parameters": [{"type": "text", "text": "t"}]}),
        ));
        let c = components(&m);
        assert_eq!(
            (c[0].sub_type.as_deref(), c[0].index),
            (Some("url"), Some(9))
        );
    }

    #[test]
    fn template_parameter_shape() {
        let body = |p: Value| with_components(json!([{"type": "body", "parameters": [p]}]));
        refused(
            &body(json!({"text": "x"})),
            131_008,
            400,
            "Param template['components'][0]['parameters'][0]['type'] is required.",
        );
        refused(&body(json!({"type": "emoji", "emoji": "x"})), 100, 400,
            "Param template['components'][0]['parameters'][0]['type'] must be one of {text, currency");
        refused(&body(json!({"type": "text"})), 131_008, 400,
            "Parameter of type text is missing text value (template['components'][0]['parameters'][0])");
        refused(
            &body(json!({"type": "text", "text": ["x"]})),
            100,
            400,
            "Param template['components'][0]['parameters'][0]['text'] must be a string",
        );
        refused(
            &body(json!({"type": "text", "text": "x".repeat(TEMPLATE_TEXT_PARAM_MAX + 1)})),
            100,
            400,
            "must be at most 32768 characters long",
        );
        refused(&body(json!({"type": "currency", "currency": {"fallback_value": "$1", "code": "USD"}})), 131_008, 400,
            "Param template['components'][0]['parameters'][0]['currency']['amount_1000'] is required.");
        refused(
            &body(
                json!({"type": "currency", "currency": {"fallback_value": "$1", "code": "USD", "amount_1000": "1000"}}),
            ),
            100,
            400,
            "['amount_1000'] must be an integer",
        );
        refused(&body(json!({"type": "date_time", "date_time": {}})), 131_008, 400,
            "Param template['components'][0]['parameters'][0]['date_time']['fallback_value'] is required.");
        refused(&body(json!({"type": "image", "image": {}})), 131_008, 400,
            "Param template['components'][0]['parameters'][0]['image']['id'] or template['components'][0]['parameters'][0]['image']['link'] is required.");
        refused(
            &body(json!({"type": "document", "document": {"link": "ftp://x"}})),
            131_009,
            400,
            "['document']['link'] must be an http:// or https:// URL",
        );
        refused(&body(json!({"type": "location", "location": {"latitude": 1}})), 131_008, 400,
            "Param template['components'][0]['parameters'][0]['location']['longitude'] is required.");
        refused(
            &body(json!({"type": "payload"})),
            131_008,
            400,
            "Parameter of type payload is missing payload value",
        );
        refused(
            &body(json!({"type": "coupon_code"})),
            131_008,
            400,
            "Parameter of type coupon_code is missing coupon_code value",
        );
        refused(
            &body(json!({"type": "action", "action": "x"})),
            100,
            400,
            "Param template['components'][0]['parameters'][0]['action'] must be an object",
        );
        refused(
            &body(json!({"type": "text", "text": "x", "parameter_name": 1})),
            100,
            400,
            "Param template['components'][0]['parameters'][0]['parameter_name'] must be a string",
        );
        refused(
            &body(json!("x")),
            100,
            400,
            "Param template['components'][0]['parameters'][0] must be an object",
        );
    }

    #[test]
    fn every_error_is_a_400_with_meta_envelope() {
        let e = refused(&send("text", json!({})), 131_008, 400, "text['body']");
        let b = e.body("trace");
        assert_eq!(
            b["error"]["message"],
            "(#131008) Required parameter is missing"
        );
        assert_eq!(
            b["error"]["error_data"]["details"],
            "Param text['body'] is required."
        );
    }

    // --- Never panics -------------------------------------------------------------------------

    const KEYS: &[&str] = &[
        "messaging_product",
        "recipient_type",
        "to",
        "type",
        "status",
        "message_id",
        "typing_indicator",
        "context",
        "text",
        "body",
        "preview_url",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "id",
        "link",
        "caption",
        "filename",
        "location",
        "latitude",
        "longitude",
        "name",
        "address",
        "contacts",
        "formatted_name",
        "phones",
        "phone",
        "interactive",
        "header",
        "footer",
        "action",
        "buttons",
        "reply",
        "title",
        "button",
        "sections",
        "rows",
        "description",
        "parameters",
        "display_text",
        "url",
        "catalog_id",
        "product_retailer_id",
        "product_items",
        "flow_id",
        "flow_name",
        "flow_cta",
        "flow_message_version",
        "mode",
        "cards",
        "reaction",
        "emoji",
        "template",
        "language",
        "code",
        "policy",
        "components",
        "sub_type",
        "index",
        "currency",
        "date_time",
        "fallback_value",
        "amount_1000",
        "payload",
        "coupon_code",
        "parameter_name",
        "biz_opaque_callback_data",
    ];

    const WORDS: &[&str] = &[
        "whatsapp",
        "individual",
        "group",
        "read",
        "text",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "location",
        "contacts",
        "interactive",
        "reaction",
        "template",
        "button",
        "list",
        "cta_url",
        "product",
        "product_list",
        "catalog_message",
        "flow",
        "location_request_message",
        "carousel",
        "order_details",
        "reply",
        "header",
        "body",
        "footer",
        "quick_reply",
        "url",
        "0",
        "9",
        "10",
        "-1",
        "16505551234",
        "+1 (650) 555-1234",
        "https://x.test/a",
        "http://",
        "send_location",
        "currency",
        "date_time",
        "payload",
        "action",
        "coupon_code",
        "deterministic",
        "",
        " ",
        "é",
        "😀",
    ];

    fn arb_string() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => proptest::sample::select(WORDS).prop_map(str::to_owned),
            1 => "\\PC{0,40}",
            1 => (0usize..5000).prop_map(|n| "x".repeat(n)),
        ]
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            arb_string().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 96, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..12).prop_map(Value::Array),
                proptest::collection::vec(
                    (prop_oneof![4 => proptest::sample::select(KEYS).prop_map(str::to_owned), 1 => "\\PC{0,8}"], inner),
                    0..8
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    /// Every node of `v`, as JSON pointers.
    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                for (k, c) in o {
                    pointers(
                        c,
                        format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    pointers(c, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }

    /// Top-level keys and values as a client might write them: escaped, repeated, `null`, of
    /// the wrong type, malformed, or a key serde_json's `Value` reads specially.
    fn arb_raw_body() -> impl Strategy<Value = String> {
        let key = proptest::sample::select(vec![
            "messaging_product",
            "m\\u0065ssaging_product",
            "to",
            "t\\u006f",
            "type",
            "text",
            "t\\u0065xt",
            "template",
            "status",
            "message_id",
            "recipient",
            "recipient_type",
            "context",
            "biz_opaque_callback_data",
            "$serde_json::private::RawValue",
            "other",
        ]);
        let value = prop_oneof![
            4 => proptest::sample::select(vec![
                "\"whatsapp\"",
                "\"wh\\u0061tsapp\"",
                "\"16505551234\"",
                "16505551234",
                "null",
                "\"text\"",
                "\"read\"",
                "{\"body\":\"hi\"}",
                "{\"preview_url\":true,\"body\":\"h\\u0069\"}",
                "{ \"body\" : \"spaced\" , \"preview_url\" : null }",
                "{\"body\":\"hi\",\"body\":\"twice\"}",
                "{\"body\":\"hi\",\"preview_url\":1e400}",
                "{\"name\":\"t\",\"language\":{\"code\":\"en_US\"}}",
                "{\"message_id\":\"wamid.X\"}",
                "\"{\\\"messaging_product\\\":\\\"whatsapp\\\"}\"",
                "[1,",
                "1e400",
                "\"\\ud800\"",
            ])
            .prop_map(str::to_owned),
            1 => arb_json().prop_map(|v| v.to_string()),
        ];
        proptest::collection::vec((key, value), 0..8).prop_map(|kvs| {
            let fields: Vec<String> = kvs.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
            format!("{{{}}}", fields.join(","))
        })
    }

    proptest! {
        /// The top level is read without building a `Value` of it; the outcome must be that of
        /// reading it as one (which turns escaped keys into plain ones, keeps the last of
        /// repeated keys, and words the JSON errors).
        #[test]
        fn the_envelope_reads_as_a_value_would(body in arb_raw_body()) {
            // The reference: the whole top level read as a `Value` (what the direct reading
            // replaced), then the same checks.
            let via_value = match serde_json::from_str::<Value>(&body) {
                Ok(Value::Object(map)) => from_envelope(&mut Envelope::from_map(map)),
                Ok(other) => Err(GraphError::invalid_parameter(format!(
                    "The request body must be a JSON object, got {}.",
                    kind_of(&other)
                ))),
                Err(e) => Err(GraphError::invalid_parameter(format!(
                    "The request body is not valid JSON: {e}."
                ))),
            };
            prop_assert_eq!(parse_send_body(body.as_bytes()), via_value);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse_send_body(&bytes);
        }

        #[test]
        fn random_json_never_panics(v in arb_json()) {
            let _ = parse_send_body(v.to_string().as_bytes());
        }

        #[test]
        fn random_message_objects_never_panic(
            t in proptest::sample::select(&MESSAGE_TYPES[..]),
            object in arb_json(),
            to in arb_string(),
        ) {
            let body = json!({"messaging_product": "whatsapp", "to": to, "type": t, t: object});
            let _ = parse_send_body(body.to_string().as_bytes());
        }

        #[test]
        fn mutated_oas_examples_never_panic(
            which in 0..OAS_EXAMPLES.len(),
            at in any::<proptest::sample::Index>(),
            replacement in arb_json(),
        ) {
            let mut v: Value = serde_json::from_str(&concretise(OAS_EXAMPLES[which].1)).unwrap();
            let mut ps = Vec::new();
            pointers(&v, String::new(), &mut ps);
            let p = at.get(&ps).clone();
            if let Some(slot) = v.pointer_mut(&p) {
                *slot = replacement;
            }
            let _ = parse_send_body(v.to_string().as_bytes());
        }

        #[test]
        fn valid_text_always_parses(body in "\\PC{1,200}", to in "[1-9][0-9]{6,14}") {
            let b = json!({"messaging_product": "whatsapp", "to": format!("+{to}"), "type": "text", "text": {"body": body}});
            let m = match parse_send_body(b.to_string().as_bytes()) {
                Ok(SendBody::Message(m)) => m,
                other => panic!("{other:?}"),
            };
            prop_assert_eq!(m.wa_id.to_string(), to);
        }
    }
}
