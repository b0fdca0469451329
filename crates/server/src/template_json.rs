//! Templates in Graph JSON: the create-template (and edit-template) request bodies, the
//! components of the list/get responses, and the `template.components` of a send, converted
//! to and from the typed model of [`openwaba_engine::template`].
//!
//! Reading is lenient where Meta's own examples are: `category`, `parameter_format`,
//! component `type`, header `format`, button `type` and `otp_type` in any case; a single
//! string where a list of examples is expected; numbers where strings are expected
//! (`"phone_number": 16467043595`, `"example": ["800"]`); `body_text` as a list of example
//! sets (the first is kept) or as a flat list; one-tap apps as `supported_apps` or as the
//! older `package_name` / `signature_hash` on the button; an authentication template's OTP
//! button in the URL form Meta's list returns (`https://www.whatsapp.com/otp/code/?otp_type=…`),
//! so that a listed template can be created again. Unknown keys are ignored.
//!
//! Writing follows Meta's list/get shape: upper-case `type`/`format`, `example.body_text` as
//! `[[…]]`, `example.header_text` as `[…]`, `*_named_params` as `[{param_name, example}]`,
//! the authentication body and footer texts filled in, and OTP buttons as the URL buttons
//! Meta shows (`…&code=otp{{1}}`, example `…&code=otp123456`).
//!
//! Errors name the JSON path: `components[1].buttons[0].text is required`.

use openwaba_engine::template::{
    category_as_str, Body, Button, ButtonSubType, Footer, Header, HeaderFormat, NamedExample,
    OtpType, ParamExamples, ParameterFormat, ParameterKind, SendComponent, SendComponentType,
    SendParameter, SupportedApp, TemplateDefinition,
};
use openwaba_engine::TemplateCategory;
use serde_json::{json, Map, Value};
use std::fmt;

/// A request body that does not describe a template (or a send's components).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateJsonError {
    /// A required key is absent (or `null`).
    #[error("{path} is required")]
    Missing { path: String },
    /// A key has a value of the wrong type or outside the accepted values; `reason` reads
    /// after the path (`components[0].type `FOO` is not one of …`).
    #[error("{path} {reason}")]
    Invalid { path: String, reason: String },
}

impl TemplateJsonError {
    /// The JSON path of the offending key, e.g. `components[1].buttons[0].text`.
    pub fn path(&self) -> &str {
        match self {
            TemplateJsonError::Missing { path } | TemplateJsonError::Invalid { path, .. } => path,
        }
    }

    /// A required key is missing (Meta: 131008 on sends, 100 on template creation).
    pub fn is_missing(&self) -> bool {
        matches!(self, TemplateJsonError::Missing { .. })
    }
}

type Res<T> = Result<T, TemplateJsonError>;
type Obj = Map<String, Value>;

fn missing(path: impl Into<String>) -> TemplateJsonError {
    TemplateJsonError::Missing { path: path.into() }
}

fn bad(path: impl Into<String>, reason: impl Into<String>) -> TemplateJsonError {
    TemplateJsonError::Invalid {
        path: path.into(),
        reason: reason.into(),
    }
}

fn at(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn idx(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn as_obj<'a>(v: &'a Value, path: &(impl fmt::Display + ?Sized)) -> Res<&'a Obj> {
    v.as_object()
        .ok_or_else(|| bad(path.to_string(), "must be a JSON object"))
}

fn as_arr<'a>(v: &'a Value, path: &(impl fmt::Display + ?Sized)) -> Res<&'a Vec<Value>> {
    v.as_array()
        .ok_or_else(|| bad(path.to_string(), "must be an array"))
}

/// The value at `key`, `null` counting as absent.
fn get<'a>(o: &'a Obj, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

/// A string, or a number written as one.
fn scalar(v: &Value, path: &(impl fmt::Display + ?Sized)) -> Res<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(bad(path.to_string(), "must be a string")),
    }
}

fn req_str(o: &Obj, key: &str, parent: &str) -> Res<String> {
    let path = at(parent, key);
    match get(o, key) {
        None => Err(missing(path)),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(bad(path, "must be a string")),
    }
}

fn opt_str(o: &Obj, key: &str, parent: &str) -> Res<Option<String>> {
    match get(o, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(at(parent, key), "must be a string")),
    }
}

fn req_scalar(o: &Obj, key: &str, parent: &str) -> Res<String> {
    let path = at(parent, key);
    match get(o, key) {
        None => Err(missing(path)),
        Some(v) => scalar(v, &path),
    }
}

fn opt_scalar(o: &Obj, key: &str, parent: &str) -> Res<Option<String>> {
    get(o, key).map(|v| scalar(v, &at(parent, key))).transpose()
}

/// `true`/`false`, or the strings `"true"`/`"false"` (form-encoded Graph calls).
fn opt_bool(o: &Obj, key: &str, parent: &str) -> Res<Option<bool>> {
    match get(o, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(bad(at(parent, key), "must be a boolean")),
    }
}

/// A non-negative integer, or a string holding one.
fn opt_u32(o: &Obj, key: &str, parent: &str) -> Res<Option<u32>> {
    let path = at(parent, key);
    let parsed = match get(o, key) {
        None => return Ok(None),
        Some(Value::Number(n)) => n.as_u64().and_then(|u| u32::try_from(u).ok()),
        Some(Value::String(s)) => s.trim().parse::<u32>().ok(),
        Some(_) => None,
    };
    parsed
        .map(Some)
        .ok_or_else(|| bad(path, "must be a non-negative integer"))
}

/// A list of strings, or a single string (or number) standing for a list of one.
fn str_list(v: &Value, path: &str) -> Res<Vec<String>> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| scalar(item, &idx(path, i)))
            .collect(),
        other => scalar(other, path)
            .map(|s| vec![s])
            .map_err(|_| bad(path, "must be an array of strings")),
    }
}

fn one_of(path: &(impl fmt::Display + ?Sized), value: &str, allowed: &[&str]) -> TemplateJsonError {
    bad(
        path.to_string(),
        format!("`{value}` is not one of {}", allowed.join(", ")),
    )
}

// ---------------------------------------------------------------------------------------
// Create / edit bodies
// ---------------------------------------------------------------------------------------

const CATEGORIES: [&str; 3] = ["AUTHENTICATION", "MARKETING", "UTILITY"];
const COMPONENT_TYPES: [&str; 4] = ["HEADER", "BODY", "FOOTER", "BUTTONS"];
const BUTTON_TYPES: [&str; 10] = [
    "QUICK_REPLY",
    "URL",
    "PHONE_NUMBER",
    "COPY_CODE",
    "OTP",
    "FLOW",
    "CATALOG",
    "MPM",
    "SPM",
    "VOICE_CALL",
];

fn all_spellings<T: Copy>(all: &[T], as_str: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| as_str(*v)).collect()
}

fn category(o: &Obj, parent: &str) -> Res<Option<TemplateCategory>> {
    let Some(s) = opt_str(o, "category", parent)? else {
        return Ok(None);
    };
    s.parse::<TemplateCategory>()
        .map(Some)
        .map_err(|_| one_of(&at(parent, "category"), &s, &CATEGORIES))
}

fn parameter_format(o: &Obj, parent: &str) -> Res<Option<ParameterFormat>> {
    let Some(s) = opt_str(o, "parameter_format", parent)? else {
        return Ok(None);
    };
    ParameterFormat::parse(&s).map(Some).ok_or_else(|| {
        one_of(
            &at(parent, "parameter_format"),
            &s,
            &all_spellings(ParameterFormat::ALL, ParameterFormat::as_str),
        )
    })
}

/// The create-template request body (`POST /{waba-id}/message_templates`): `name`,
/// `language`, `category` and `components` are required, `parameter_format` defaults to
/// POSITIONAL. `allow_category_change` is read by [`allow_category_change_from_json`].
pub fn definition_from_json(v: &Value) -> Result<TemplateDefinition, TemplateJsonError> {
    let o = as_obj(v, "request body")?;
    let name = req_str(o, "name", "")?;
    let language = req_str(o, "language", "")?;
    let category = category(o, "")?.ok_or_else(|| missing("category"))?;
    let parameter_format = parameter_format(o, "")?.unwrap_or_default();
    let components = get(o, "components").ok_or_else(|| missing("components"))?;
    let parts = components_from_json(components, "components", category)?;
    Ok(TemplateDefinition {
        name,
        language,
        category,
        parameter_format,
        header: parts.header,
        body: parts.body,
        footer: parts.footer,
        buttons: parts.buttons,
    })
}

/// The edit-template request body (`POST /{template-id}`): `category` and/or `components`
/// (and `parameter_format`) replace the current ones; name and language never change.
pub fn apply_edit_json(
    current: &TemplateDefinition,
    v: &Value,
) -> Result<TemplateDefinition, TemplateJsonError> {
    let o = as_obj(v, "request body")?;
    let new_category = category(o, "")?;
    let new_format = parameter_format(o, "")?;
    let components = get(o, "components");
    if new_category.is_none() && components.is_none() {
        return Err(missing("components"));
    }
    let mut def = current.clone();
    def.category = new_category.unwrap_or(current.category);
    def.parameter_format = new_format.unwrap_or(current.parameter_format);
    if let Some(c) = components {
        let parts = components_from_json(c, "components", def.category)?;
        def.header = parts.header;
        def.body = parts.body;
        def.footer = parts.footer;
        def.buttons = parts.buttons;
    }
    Ok(def)
}

/// `allow_category_change` of a create request (`false` when absent). Meta ignores it from
/// 2025-04-09; `review` takes care of that.
pub fn allow_category_change_from_json(v: &Value) -> Result<bool, TemplateJsonError> {
    let o = as_obj(v, "request body")?;
    Ok(opt_bool(o, "allow_category_change", "")?.unwrap_or(false))
}

struct Parts {
    header: Option<Header>,
    body: Body,
    footer: Option<Footer>,
    buttons: Vec<Button>,
}

fn components_from_json(v: &Value, path: &str, category: TemplateCategory) -> Res<Parts> {
    let auth = category == TemplateCategory::Authentication;
    let mut header = None;
    let mut body = None;
    let mut footer = None;
    let mut buttons = None;
    for (i, c) in as_arr(v, path)?.iter().enumerate() {
        let cp = idx(path, i);
        let co = as_obj(c, &cp)?;
        let ty = req_str(co, "type", &cp)?;
        let upper = ty.to_ascii_uppercase();
        let already = match upper.as_str() {
            "HEADER" => header.replace(header_from_json(co, &cp)?).is_some(),
            "BODY" => body.replace(body_from_json(co, &cp, auth)?).is_some(),
            "FOOTER" => footer.replace(footer_from_json(co, &cp, auth)?).is_some(),
            "BUTTONS" => buttons.replace(buttons_from_json(co, &cp, auth)?).is_some(),
            _ => return Err(one_of(&at(&cp, "type"), &ty, &COMPONENT_TYPES)),
        };
        if already {
            return Err(bad(
                cp,
                format!("is a second {upper} component; a template has at most one"),
            ));
        }
    }
    let body = match body {
        Some(b) => b,
        None if auth => Body::default(),
        None => return Err(bad(path, "must contain a BODY component")),
    };
    Ok(Parts {
        header,
        body,
        footer,
        buttons: buttons.unwrap_or_default(),
    })
}

/// `example.{prefix}_text` / `example.{prefix}_text_named_params`.
fn examples_from_json(example: &Obj, ep: &str, prefix: &str) -> Res<ParamExamples> {
    let named_key = format!("{prefix}_text_named_params");
    if let Some(list) = get(example, &named_key) {
        let lp = at(ep, &named_key);
        let mut out = Vec::new();
        for (i, item) in as_arr(list, &lp)?.iter().enumerate() {
            let ip = idx(&lp, i);
            let io = as_obj(item, &ip)?;
            out.push(NamedExample::new(
                req_str(io, "param_name", &ip)?,
                req_scalar(io, "example", &ip)?,
            ));
        }
        return Ok(ParamExamples::Named(out));
    }
    let key = format!("{prefix}_text");
    let Some(v) = get(example, &key) else {
        return Ok(ParamExamples::None);
    };
    let kp = at(ep, &key);
    // `body_text` is a list of example sets (`[["Mark", "FALL25"]]`); a flat list is taken
    // as the one set.
    let row = match v.as_array().and_then(|a| a.first()) {
        Some(first @ Value::Array(_)) => str_list(first, &idx(&kp, 0))?,
        _ => str_list(v, &kp)?,
    };
    Ok(ParamExamples::Positional(row))
}

fn example_obj<'a>(co: &'a Obj, cp: &str) -> Res<Option<(&'a Obj, String)>> {
    let ep = at(cp, "example");
    get(co, "example")
        .map(|e| as_obj(e, &ep).map(|o| (o, ep.clone())))
        .transpose()
}

fn header_from_json(co: &Obj, cp: &str) -> Res<Header> {
    let fs = req_str(co, "format", cp)?;
    let format = HeaderFormat::parse(&fs).ok_or_else(|| {
        one_of(
            &at(cp, "format"),
            &fs,
            &all_spellings(HeaderFormat::ALL, HeaderFormat::as_str),
        )
    })?;
    let text = opt_str(co, "text", cp)?;
    if format == HeaderFormat::Text && text.is_none() {
        return Err(missing(at(cp, "text")));
    }
    let mut examples = ParamExamples::None;
    let mut handles = Vec::new();
    if let Some((eo, ep)) = example_obj(co, cp)? {
        examples = examples_from_json(eo, &ep, "header")?;
        if let Some(h) = get(eo, "header_handle") {
            handles = str_list(h, &at(&ep, "header_handle"))?;
        }
    }
    Ok(Header {
        format,
        text,
        examples,
        handles,
    })
}

fn body_from_json(co: &Obj, cp: &str, auth: bool) -> Res<Body> {
    let text = match opt_str(co, "text", cp)? {
        Some(t) => t,
        None if auth => String::new(),
        None => return Err(missing(at(cp, "text"))),
    };
    let examples = match example_obj(co, cp)? {
        Some((eo, ep)) => examples_from_json(eo, &ep, "body")?,
        None => ParamExamples::None,
    };
    Ok(Body {
        text,
        examples,
        add_security_recommendation: opt_bool(co, "add_security_recommendation", cp)?
            .unwrap_or(false),
    })
}

fn footer_from_json(co: &Obj, cp: &str, auth: bool) -> Res<Footer> {
    let text = opt_str(co, "text", cp)?;
    let code_expiration_minutes = opt_u32(co, "code_expiration_minutes", cp)?;
    if text.is_none() && !(auth && code_expiration_minutes.is_some()) {
        return Err(missing(at(cp, "text")));
    }
    Ok(Footer {
        text,
        code_expiration_minutes,
    })
}

fn buttons_from_json(co: &Obj, cp: &str, auth: bool) -> Res<Vec<Button>> {
    let bp = at(cp, "buttons");
    let list = get(co, "buttons").ok_or_else(|| missing(bp.clone()))?;
    as_arr(list, &bp)?
        .iter()
        .enumerate()
        .map(|(i, b)| button_from_json(b, &idx(&bp, i), auth))
        .collect()
}

fn first_example(bo: &Obj, bp: &str) -> Res<Option<String>> {
    match get(bo, "example") {
        None => Ok(None),
        Some(v) => Ok(str_list(v, &at(bp, "example"))?.into_iter().next()),
    }
}

fn supported_apps(bo: &Obj, bp: &str) -> Res<Vec<SupportedApp>> {
    if let Some(list) = get(bo, "supported_apps") {
        let lp = at(bp, "supported_apps");
        return as_arr(list, &lp)?
            .iter()
            .enumerate()
            .map(|(i, a)| {
                let ap = idx(&lp, i);
                let ao = as_obj(a, &ap)?;
                Ok(SupportedApp {
                    package_name: req_str(ao, "package_name", &ap)?,
                    signature_hash: req_str(ao, "signature_hash", &ap)?,
                })
            })
            .collect();
    }
    // The older form: one app on the button itself.
    match (
        opt_str(bo, "package_name", bp)?,
        opt_str(bo, "signature_hash", bp)?,
    ) {
        (None, None) => Ok(Vec::new()),
        (Some(package_name), Some(signature_hash)) => Ok(vec![SupportedApp {
            package_name,
            signature_hash,
        }]),
        (Some(_), None) => Err(missing(at(bp, "signature_hash"))),
        (None, Some(_)) => Err(missing(at(bp, "package_name"))),
    }
}

/// Where Meta's list shows an authentication template's OTP button.
const OTP_URL_PREFIX: &str = "https://www.whatsapp.com/otp/code/?";

fn button_from_json(b: &Value, bp: &str, auth: bool) -> Res<Button> {
    let bo = as_obj(b, bp)?;
    let ty = req_str(bo, "type", bp)?;
    let text = || req_str(bo, "text", bp);
    let button = match ty.to_ascii_uppercase().as_str() {
        "QUICK_REPLY" => Button::QuickReply { text: text()? },
        "URL" => {
            let url = req_str(bo, "url", bp)?;
            match otp_from_url(&url).filter(|_| auth) {
                Some(otp) => Button::Otp {
                    otp_type: otp.otp_type,
                    text: opt_str(bo, "text", bp)?,
                    autofill_text: otp.autofill_text,
                    supported_apps: otp.supported_apps,
                },
                None => Button::Url {
                    text: text()?,
                    url,
                    example: first_example(bo, bp)?,
                },
            }
        }
        "PHONE_NUMBER" => Button::PhoneNumber {
            text: text()?,
            phone_number: req_scalar(bo, "phone_number", bp)?,
        },
        "COPY_CODE" => Button::CopyCode {
            example: first_example(bo, bp)?,
        },
        "OTP" => {
            let os = req_str(bo, "otp_type", bp)?;
            let otp_type = OtpType::parse(&os).ok_or_else(|| {
                one_of(
                    &at(bp, "otp_type"),
                    &os,
                    &all_spellings(OtpType::ALL, OtpType::as_str),
                )
            })?;
            Button::Otp {
                otp_type,
                text: opt_str(bo, "text", bp)?,
                autofill_text: opt_str(bo, "autofill_text", bp)?,
                supported_apps: supported_apps(bo, bp)?,
            }
        }
        "FLOW" => Button::Flow {
            text: text()?,
            flow_id: opt_scalar(bo, "flow_id", bp)?,
            flow_name: opt_str(bo, "flow_name", bp)?,
            // Meta wants the Flow JSON as a string; an object is accepted and serialised.
            flow_json: get(bo, "flow_json").map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            flow_action: opt_str(bo, "flow_action", bp)?,
            navigate_screen: opt_str(bo, "navigate_screen", bp)?,
        },
        "CATALOG" => Button::Catalog { text: text()? },
        "MPM" => Button::Mpm { text: text()? },
        "SPM" => Button::Spm { text: text()? },
        "VOICE_CALL" => Button::VoiceCall { text: text()? },
        _ => return Err(one_of(&at(bp, "type"), &ty, &BUTTON_TYPES)),
    };
    Ok(button)
}

struct OtpFromUrl {
    otp_type: OtpType,
    autofill_text: Option<String>,
    supported_apps: Vec<SupportedApp>,
}

/// The OTP button behind one of Meta's `https://www.whatsapp.com/otp/code/?otp_type=…` URLs.
fn otp_from_url(url: &str) -> Option<OtpFromUrl> {
    let query = url.strip_prefix(OTP_URL_PREFIX)?;
    let mut otp_type = None;
    let mut autofill_text = None;
    let mut package_name = None;
    let mut signature_hash = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v);
        match k {
            "otp_type" => otp_type = OtpType::parse(&v),
            "cta_display_name" => autofill_text = Some(v),
            "package_name" => package_name = Some(v),
            "signature_hash" => signature_hash = Some(v),
            _ => {}
        }
    }
    let supported_apps = match (package_name, signature_hash) {
        (Some(package_name), Some(signature_hash)) => vec![SupportedApp {
            package_name,
            signature_hash,
        }],
        _ => Vec::new(),
    };
    Some(OtpFromUrl {
        otp_type: otp_type?,
        autofill_text,
        supported_apps,
    })
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match (bytes.get(i), bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(b'%'), Some(h), Some(l)) => {
                let hex = [*h, *l];
                std::str::from_utf8(&hex)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            }
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(if bytes.get(i) == Some(&b'+') {
                    b' '
                } else {
                    bytes.get(i).copied().unwrap_or(b' ')
                });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// List / get shape
// ---------------------------------------------------------------------------------------

/// The sample code Meta shows in an authentication template's examples.
const SAMPLE_CODE: &str = "123456";

/// `example` of a body or TEXT header, as Meta returns it.
fn examples_to_json(prefix: &str, examples: &ParamExamples) -> Option<Value> {
    match examples {
        ParamExamples::None => None,
        ParamExamples::Positional(v) => {
            let list = if prefix == "body" {
                json!([v])
            } else {
                json!(v)
            };
            Some(json!({ format!("{prefix}_text"): list }))
        }
        ParamExamples::Named(v) => {
            let list: Vec<Value> = v
                .iter()
                .map(|e| json!({"param_name": e.name, "example": e.example}))
                .collect();
            Some(json!({ format!("{prefix}_text_named_params"): list }))
        }
    }
}

/// The URL Meta shows for an OTP button, with `code` where the code goes (`{{1}}` in the
/// template, `123456` in its example).
fn otp_url(
    otp_type: OtpType,
    autofill_text: Option<&str>,
    apps: &[SupportedApp],
    minutes: Option<u32>,
    code: &str,
) -> String {
    let mut url = format!("{OTP_URL_PREFIX}otp_type={}", otp_type.as_str());
    if otp_type != OtpType::CopyCode {
        url.push_str("&cta_display_name=");
        url.push_str(&percent_encode(autofill_text.unwrap_or("Autofill")));
        if let Some(app) = apps.first() {
            url.push_str("&package_name=");
            url.push_str(&percent_encode(&app.package_name));
            url.push_str("&signature_hash=");
            url.push_str(&percent_encode(&app.signature_hash));
        }
    }
    if let Some(n) = minutes {
        url.push_str(&format!("&code_expiration_minutes={n}"));
    }
    url.push_str("&code=otp");
    url.push_str(code);
    url
}

fn button_to_json(b: &Button, def: &TemplateDefinition) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!(b.type_str()));
    match b {
        Button::QuickReply { text }
        | Button::Catalog { text }
        | Button::Mpm { text }
        | Button::Spm { text }
        | Button::VoiceCall { text } => {
            m.insert("text".into(), json!(text));
        }
        Button::Url { text, url, example } => {
            m.insert("text".into(), json!(text));
            m.insert("url".into(), json!(url));
            if let Some(e) = example {
                m.insert("example".into(), json!([e]));
            }
        }
        Button::PhoneNumber { text, phone_number } => {
            m.insert("text".into(), json!(text));
            m.insert("phone_number".into(), json!(phone_number));
        }
        Button::CopyCode { example } => {
            m.insert("text".into(), json!("Copy offer code"));
            if let Some(e) = example {
                m.insert("example".into(), json!([e]));
            }
        }
        Button::Otp {
            otp_type,
            text,
            autofill_text,
            supported_apps,
        } => {
            let minutes = def.footer.as_ref().and_then(|f| f.code_expiration_minutes);
            let url = |code: &str| {
                otp_url(
                    *otp_type,
                    autofill_text.as_deref(),
                    supported_apps,
                    minutes,
                    code,
                )
            };
            m.insert("type".into(), json!("URL"));
            m.insert("text".into(), json!(text.as_deref().unwrap_or("Copy code")));
            m.insert("url".into(), json!(url("{{1}}")));
            m.insert("example".into(), json!([url(SAMPLE_CODE)]));
        }
        Button::Flow {
            text,
            flow_id,
            flow_name,
            flow_json,
            flow_action,
            navigate_screen,
        } => {
            m.insert("text".into(), json!(text));
            for (key, value) in [
                ("flow_id", flow_id),
                ("flow_name", flow_name),
                ("flow_json", flow_json),
                ("flow_action", flow_action),
                ("navigate_screen", navigate_screen),
            ] {
                if let Some(v) = value {
                    m.insert(key.into(), json!(v));
                }
            }
        }
    }
    Value::Object(m)
}

/// The `components` of a template in Meta's list/get shape.
pub fn components_to_json(def: &TemplateDefinition) -> Value {
    let auth = def.is_authentication();
    let mut out = Vec::new();
    if let Some(h) = &def.header {
        let mut m = Map::new();
        m.insert("type".into(), json!("HEADER"));
        m.insert("format".into(), json!(h.format.as_str()));
        if let Some(t) = &h.text {
            m.insert("text".into(), json!(t));
        }
        let mut example = examples_to_json("header", &h.examples);
        if !h.handles.is_empty() {
            let e = example.get_or_insert_with(|| json!({}));
            if let Some(o) = e.as_object_mut() {
                o.insert("header_handle".into(), json!(h.handles));
            }
        }
        if let Some(e) = example {
            m.insert("example".into(), e);
        }
        out.push(Value::Object(m));
    }

    let mut body = Map::new();
    body.insert("type".into(), json!("BODY"));
    body.insert("text".into(), json!(def.body_text()));
    if auth && def.body.add_security_recommendation {
        body.insert("add_security_recommendation".into(), json!(true));
    }
    let body_example = match (&def.body.examples, auth) {
        (ParamExamples::None, true) => Some(json!({"body_text": [[SAMPLE_CODE]]})),
        (examples, _) => examples_to_json("body", examples),
    };
    if let Some(e) = body_example {
        body.insert("example".into(), e);
    }
    out.push(Value::Object(body));

    if let Some(f) = &def.footer {
        let mut m = Map::new();
        m.insert("type".into(), json!("FOOTER"));
        if let Some(t) = def.footer_text() {
            m.insert("text".into(), json!(t));
        }
        if let (true, Some(n)) = (auth, f.code_expiration_minutes) {
            m.insert("code_expiration_minutes".into(), json!(n));
        }
        if m.len() > 1 {
            out.push(Value::Object(m));
        }
    }

    if !def.buttons.is_empty() {
        let buttons: Vec<Value> = def.buttons.iter().map(|b| button_to_json(b, def)).collect();
        out.push(json!({"type": "BUTTONS", "buttons": buttons}));
    }
    Value::Array(out)
}

/// The fields of a template node Meta returns by default (`name`, `parameter_format`,
/// `components`, `language`, `status`, `category`, `id`); `status` and `id` are the
/// caller's.
pub fn template_to_json(def: &TemplateDefinition, id: &str, status: &str) -> Value {
    json!({
        "name": def.name,
        "parameter_format": def.parameter_format.as_str(),
        "components": components_to_json(def),
        "language": def.language,
        "status": status,
        "category": category_as_str(def.category),
        "id": id,
    })
}

// ---------------------------------------------------------------------------------------
// Send components
// ---------------------------------------------------------------------------------------

const SEND_COMPONENT_TYPES: [(&str, SendComponentType); 4] = [
    ("header", SendComponentType::Header),
    ("body", SendComponentType::Body),
    ("footer", SendComponentType::Footer),
    ("button", SendComponentType::Button),
];

/// A path in a send's components (`template.components[0].parameters[1].text`).
type SendPath<'a> = crate::json_path::JsonPath<'a>;

/// [`req_str`] for sends: borrowed, the path written out only on error.
fn send_str<'a>(o: &'a Obj, key: &str, parent: SendPath<'_>) -> Res<&'a str> {
    match get(o, key) {
        None => Err(missing(parent.key(key).to_string())),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(bad(parent.key(key).to_string(), "must be a string")),
    }
}

/// [`opt_str`] for sends: borrowed, the path written out only on error.
fn send_opt_str<'a>(o: &'a Obj, key: &str, parent: SendPath<'_>) -> Res<Option<&'a str>> {
    match get(o, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(parent.key(key).to_string(), "must be a string")),
    }
}

/// A send body's `template.components` (absent or `null`: none). Paths start at
/// `template.components`. Values are checked for presence only (a `text` parameter needs
/// `text`, an `image` parameter an `image` object, …); matching them against the template
/// is [`openwaba_engine::template::match_send`]'s job.
pub fn send_components_from_json(
    components: &Value,
) -> Result<Vec<SendComponent>, TemplateJsonError> {
    const PATH: SendPath<'static> = SendPath::Dotted("template.components");
    if components.is_null() {
        return Ok(Vec::new());
    }
    as_arr(components, &PATH)?
        .iter()
        .enumerate()
        .map(|(i, c)| send_component(c, PATH.idx(i)))
        .collect()
}

fn send_component(v: &Value, cp: SendPath<'_>) -> Res<SendComponent> {
    let co = as_obj(v, &cp)?;
    let ty = send_str(co, "type", cp)?;
    let Some(&(_, component)) = SEND_COMPONENT_TYPES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(ty))
    else {
        return Err(one_of(
            &cp.key("type"),
            ty,
            &SEND_COMPONENT_TYPES.map(|(name, _)| name),
        ));
    };
    let (sub_type, index) = if component == SendComponentType::Button {
        let ss = send_str(co, "sub_type", cp)?;
        let sub_type = ButtonSubType::parse(ss).ok_or_else(|| {
            one_of(
                &cp.key("sub_type"),
                ss,
                &all_spellings(ButtonSubType::ALL, ButtonSubType::as_str),
            )
        })?;
        let ip = cp.key("index");
        let index = match get(co, "index") {
            None => return Err(missing(ip.to_string())),
            Some(Value::Number(n)) => n.as_u64().and_then(|u| usize::try_from(u).ok()),
            Some(Value::String(s)) => s.trim().parse::<usize>().ok(),
            Some(_) => None,
        }
        .ok_or_else(|| bad(ip.to_string(), "must be a button position (0, 1, …)"))?;
        (Some(sub_type), Some(index))
    } else {
        (None, None)
    };
    let pp = cp.key("parameters");
    let parameters = match get(co, "parameters") {
        None => Vec::new(),
        Some(list) => as_arr(list, &pp)?
            .iter()
            .enumerate()
            .map(|(i, p)| send_parameter(p, pp.idx(i)))
            .collect::<Res<Vec<_>>>()?,
    };
    Ok(SendComponent {
        component,
        sub_type,
        index,
        parameters,
    })
}

fn send_parameter(v: &Value, pp: SendPath<'_>) -> Res<SendParameter> {
    let po = as_obj(v, &pp)?;
    let ts = send_str(po, "type", pp)?;
    let kind = ParameterKind::parse(ts).ok_or_else(|| {
        one_of(
            &pp.key("type"),
            ts,
            &all_spellings(ParameterKind::ALL, ParameterKind::as_str),
        )
    })?;
    let key = kind.as_str();
    let vp = pp.key(key);
    let value = match kind {
        // Meta's own "Send Sample Issue Resolution Template" sends `"text": true`.
        ParameterKind::Text | ParameterKind::Payload | ParameterKind::CouponCode => {
            match get(po, key) {
                None => return Err(missing(vp.to_string())),
                Some(Value::Bool(b)) => Some(b.to_string()),
                Some(other) => Some(scalar(other, &vp)?),
            }
        }
        _ => {
            let Some(obj) = get(po, key) else {
                return Err(missing(vp.to_string()));
            };
            as_obj(obj, &vp)?;
            None
        }
    };
    Ok(SendParameter {
        kind,
        parameter_name: send_opt_str(po, "parameter_name", pp)?.map(str::to_owned),
        value,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use openwaba_engine::template::{match_send, review, ReviewOutcome, SendMismatch};
    use openwaba_engine::{Instant, TimeZoneId};

    /// The review outcome on a given day (UTC).
    fn review_on(def: &TemplateDefinition, date: &str, allow: bool) -> ReviewOutcome {
        let at = Instant::parse_rfc3339(&format!("{date}T12:00:00Z")).unwrap();
        let day = TimeZoneId::parse("UTC").unwrap().local_date(at);
        review(def, &[], day, allow)
    }

    fn approved_as(v: &Value) -> TemplateCategory {
        let def = definition_from_json(v).unwrap();
        match review_on(&def, "2025-06-01", false) {
            ReviewOutcome::Approved { category } => category,
            other => panic!("{} not approved: {other:?}", def.name),
        }
    }

    /// Components as given in a create request that already uses Meta's list shape come
    /// back unchanged.
    fn round_trips(v: &Value) {
        let def = definition_from_json(v).unwrap();
        assert_eq!(components_to_json(&def), v["components"], "{}", def.name);
    }

    // --- the OAS create examples ---

    fn seasonal_promotion() -> Value {
        json!({
          "category": "MARKETING",
          "components": [
            {"example": {"header_text": ["Summer Sale"]}, "format": "TEXT",
             "text": "Our {{1}} is on!", "type": "HEADER"},
            {"example": {"body_text": [["the end of August", "25OFF", "25%"]]},
             "text": "Shop now through {{1}} and use code {{2}} to get {{3}} off of all merchandise.",
             "type": "BODY"},
            {"text": "Use the buttons below to manage your marketing subscriptions", "type": "FOOTER"},
            {"buttons": [{"text": "Unsubcribe from Promos", "type": "QUICK_REPLY"},
                         {"text": "Unsubscribe from All", "type": "QUICK_REPLY"}],
             "type": "BUTTONS"}
          ],
          "language": "en",
          "name": "seasonal_promotion_text_only"
        })
    }

    fn tuscan_getaway() -> Value {
        json!({
          "category": "MARKETING",
          "components": [
            {"example": {"header_handle": ["4::aW1hZ2UvanBn:ARYytyb0kLp5htbBB8vWlclG5M9gMBxiEyt4FNCvrueWBOmFmRAztEuNtPGUnEC22Etc_SAAVU0YJOk3B7A-JuR1241_nq7gfITFxXKdDGnfvw:e:1681000441:634974688087057:100089620928913:ARbB4l0IPRncfMF-1sE"]},
             "format": "IMAGE", "type": "HEADER"},
            {"example": {"body_text": [["Mark", "Tuscan Getaway package", "800"]]},
             "text": "Hi {{1}}! For a limited time only you can get our {{2}} for as low as {{3}}. Tap the Offer Details button for more information.",
             "type": "BODY"},
            {"text": "Offer valid until May 31, 2023", "type": "FOOTER"},
            {"buttons": [
               {"phone_number": "16467043595", "text": "Call", "type": "PHONE_NUMBER"},
               {"example": ["summer2023"], "text": "Shop Now", "type": "URL",
                "url": "https://damp-sea-63235.herokuapp.com/shop?promo={{1}}"}],
             "type": "BUTTONS"}
          ],
          "language": "en_US",
          "name": "limited_time_offer_tuscan_getaway_2023"
        })
    }

    fn order_confirmation_document() -> Value {
        json!({
          "category": "UTILITY",
          "components": [
            {"example": {"header_handle": ["4::YXBwbGljYXRpb24vcGRm:ARZVv4zuogJMxmAdS3_6T4o_K4ll2806avA7rWpikisTzYPsXXUeKk0REjS-hIM1rYrizHD7rQXj951TKgUFblgd_BDWVROCwRkg9Vhjj-cHNQ:e:1681237341:634974688087057:100089620928913:ARa1ZDhwbLZM3EENeeg"]},
             "format": "DOCUMENT", "type": "HEADER"},
            {"example": {"body_text": [["Mark", "860198-230332"]]},
             "text": "Thank you for your order, {{1}}! Your order number is {{2}}. Tap the PDF linked above to view your receipt. If you have any questions, please use the buttons below to contact support. Thanks again!",
             "type": "BODY"},
            {"buttons": [
               {"phone_number": "16467043595", "text": "Call", "type": "PHONE_NUMBER"},
               {"text": "Contact Support", "type": "URL", "url": "https://www.examplesite.com/support"}],
             "type": "BUTTONS"}
          ],
          "language": "en_US",
          "name": "order_confirmation"
        })
    }

    fn order_delivery_update() -> Value {
        json!({
          "category": "UTILITY",
          "components": [
            {"format": "LOCATION", "type": "HEADER"},
            {"example": {"body_text": [["Mark", "566701"]]},
             "text": "Good news {{1}}! Your order #{{2}} is on its way to the location above. Thank you for your order!",
             "type": "BODY"},
            {"text": "To stop receiving delivery updates, tap the button below.", "type": "FOOTER"},
            {"buttons": [{"text": "Stop Delivery Updates", "type": "QUICK_REPLY"}], "type": "BUTTONS"}
          ],
          "language": "en_US",
          "name": "order_delivery_update"
        })
    }

    fn abandoned_cart() -> Value {
        json!({
          "category": "MARKETING",
          "components": [
            {"example": {"header_text": ["Pablo"]}, "format": "TEXT",
             "text": "Forget something {{1}}?", "type": "HEADER"},
            {"example": {"body_text": [["10OFF"]]},
             "text": "Looks like you left some items in your cart! Use code {{1}} and you can get 10% off of all of them!",
             "type": "BODY"},
            {"buttons": [{"text": "View items", "type": "MPM"}], "type": "BUTTONS"}
          ],
          "language": "en_US",
          "name": "abandoned_cart"
        })
    }

    fn auth_copy_code() -> Value {
        json!({
          "category": "AUTHENTICATION",
          "components": [
            {"add_security_recommendation": true, "type": "BODY"},
            {"code_expiration_minutes": 10, "type": "FOOTER"},
            {"buttons": [{"otp_type": "COPY_CODE", "text": "Copy Code", "type": "OTP"}], "type": "BUTTONS"}
          ],
          "language": "en_US",
          "name": "authentication_code_copy_code_button"
        })
    }

    fn auth_one_tap() -> Value {
        json!({
          "category": "AUTHENTICATION",
          "components": [
            {"add_security_recommendation": true, "type": "BODY"},
            {"code_expiration_minutes": 10, "type": "FOOTER"},
            {"buttons": [{"autofill_text": "Autofill", "otp_type": "ONE_TAP",
                          "package_name": "com.example.luckyshrub", "signature_hash": "K8a%2FAINcGX7",
                          "text": "Copy Code", "type": "OTP"}],
             "type": "BUTTONS"}
          ],
          "language": "en_US",
          "name": "authentication_code_autofill_button"
        })
    }

    fn flow_by_id() -> Value {
        json!({
          "category": "MARKETING",
          "components": [
            {"text": "Check out this new offer", "type": "body"},
            {"buttons": [{"flow_action": "navigate", "flow_id": "{{Flow-ID}}",
                          "navigate_screen": "<SCREEN_ID>", "text": "Check out this offer!", "type": "FLOW"}],
             "type": "BUTTONS"}
          ],
          "language": "en_US",
          "name": "flow_offer"
        })
    }

    fn named_order_confirmation() -> Value {
        // cloud-api.md §4.2 (Meta's templates overview).
        json!({"name": "order_confirmation", "language": "en_US", "category": "utility",
               "parameter_format": "named",
               "components": [{"type": "body",
                 "text": "Thank you, {{first_name}}! Your order number is {{order_number}}.",
                 "example": {"body_text_named_params": [
                    {"param_name": "first_name", "example": "Pablo"},
                    {"param_name": "order_number", "example": "860198-230332"}]}}]})
    }

    #[test]
    fn oas_text_header_and_quick_replies() {
        let v = seasonal_promotion();
        let def = definition_from_json(&v).unwrap();
        assert_eq!(def.name, "seasonal_promotion_text_only");
        assert_eq!(def.language, "en");
        assert_eq!(def.category, TemplateCategory::Marketing);
        assert_eq!(def.parameter_format, ParameterFormat::Positional);
        let h = def.header.as_ref().unwrap();
        assert_eq!(h.format, HeaderFormat::Text);
        assert_eq!(
            h.examples,
            ParamExamples::Positional(vec!["Summer Sale".into()])
        );
        assert_eq!(
            def.body.examples,
            ParamExamples::Positional(vec![
                "the end of August".into(),
                "25OFF".into(),
                "25%".into()
            ])
        );
        assert_eq!(def.buttons.len(), 2);
        assert_eq!(approved_as(&v), TemplateCategory::Marketing);
        round_trips(&v);
    }

    #[test]
    fn oas_image_header_phone_and_url_buttons() {
        let v = tuscan_getaway();
        let def = definition_from_json(&v).unwrap();
        assert_eq!(def.header.as_ref().unwrap().format, HeaderFormat::Image);
        assert_eq!(def.header.as_ref().unwrap().handles.len(), 1);
        assert_eq!(
            def.buttons[1],
            Button::Url {
                text: "Shop Now".into(),
                url: "https://damp-sea-63235.herokuapp.com/shop?promo={{1}}".into(),
                example: Some("summer2023".into())
            }
        );
        assert_eq!(approved_as(&v), TemplateCategory::Marketing);
        round_trips(&v);
    }

    #[test]
    fn oas_utility_document_and_location_headers() {
        for v in [order_confirmation_document(), order_delivery_update()] {
            assert_eq!(approved_as(&v), TemplateCategory::Utility);
            round_trips(&v);
        }
        let def = definition_from_json(&order_delivery_update()).unwrap();
        assert_eq!(def.header.unwrap().format, HeaderFormat::Location);
    }

    #[test]
    fn oas_mpm_and_flow() {
        let v = abandoned_cart();
        assert_eq!(approved_as(&v), TemplateCategory::Marketing);
        round_trips(&v);
        let v = flow_by_id();
        let def = definition_from_json(&v).unwrap();
        assert!(matches!(
            &def.buttons[0],
            Button::Flow { flow_id: Some(id), flow_action: Some(a), .. } if id == "{{Flow-ID}}" && a == "navigate"
        ));
        assert_eq!(approved_as(&v), TemplateCategory::Marketing);
        let out = components_to_json(&def);
        assert_eq!(
            out[0],
            json!({"type": "BODY", "text": "Check out this new offer"})
        );
        assert_eq!(out[1]["buttons"][0]["flow_id"], "{{Flow-ID}}");
        // Flow JSON as an object is serialised.
        let mut by_json = flow_by_id();
        by_json["components"][1]["buttons"][0] = json!({"flow_action": "navigate",
            "flow_json": {"version": "5.0"}, "text": "Go", "type": "FLOW"});
        let def = definition_from_json(&by_json).unwrap();
        assert!(
            matches!(&def.buttons[0], Button::Flow { flow_json: Some(j), .. } if j == r#"{"version":"5.0"}"#)
        );
    }

    #[test]
    fn named_parameters_from_the_notes() {
        let v = named_order_confirmation();
        let def = definition_from_json(&v).unwrap();
        assert_eq!(def.category, TemplateCategory::Utility);
        assert_eq!(def.parameter_format, ParameterFormat::Named);
        assert_eq!(
            def.body.examples,
            ParamExamples::Named(vec![
                NamedExample::new("first_name", "Pablo"),
                NamedExample::new("order_number", "860198-230332")
            ])
        );
        assert_eq!(approved_as(&v), TemplateCategory::Utility);
        assert_eq!(
            components_to_json(&def),
            json!([{"type": "BODY",
                    "text": "Thank you, {{first_name}}! Your order number is {{order_number}}.",
                    "example": {"body_text_named_params": [
                        {"param_name": "first_name", "example": "Pablo"},
                        {"param_name": "order_number", "example": "860198-230332"}]}}])
        );
        let t = template_to_json(&def, "1689556908129832", "APPROVED");
        assert_eq!(t["parameter_format"], "NAMED");
        assert_eq!(t["category"], "UTILITY");
        assert_eq!(t["status"], "APPROVED");
        assert_eq!(t["id"], "1689556908129832");
        // A named header example.
        let mut v = named_order_confirmation();
        v["components"].as_array_mut().unwrap().insert(
            0,
            json!({"type": "HEADER", "format": "TEXT", "text": "Hello {{city}}",
                   "example": {"header_text_named_params": [{"param_name": "city", "example": "Paris"}]}}),
        );
        let def = definition_from_json(&v).unwrap();
        assert_eq!(
            def.header.as_ref().unwrap().examples,
            ParamExamples::Named(vec![NamedExample::new("city", "Paris")])
        );
        assert_eq!(components_to_json(&def)[0], v["components"][0]);
    }

    #[test]
    fn authentication_copy_code_in_meta_list_shape() {
        let v = auth_copy_code();
        let def = definition_from_json(&v).unwrap();
        assert!(def.body.add_security_recommendation);
        assert_eq!(
            def.footer.as_ref().unwrap().code_expiration_minutes,
            Some(10)
        );
        assert!(matches!(
            def.buttons[0],
            Button::Otp {
                otp_type: OtpType::CopyCode,
                ..
            }
        ));
        assert_eq!(approved_as(&v), TemplateCategory::Authentication);
        let url = "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code_expiration_minutes=10&code=otp";
        assert_eq!(
            components_to_json(&def),
            json!([
              {"type": "BODY",
               "text": "*{{1}}* is your verification code. For your security, do not share this code.",
               "add_security_recommendation": true,
               "example": {"body_text": [["123456"]]}},
              {"type": "FOOTER", "text": "This code expires in 10 minutes.", "code_expiration_minutes": 10},
              {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Copy Code",
                 "url": format!("{url}{{{{1}}}}"), "example": [format!("{url}123456")]}]}
            ])
        );
    }

    #[test]
    fn authentication_as_listed_by_meta_is_read_back() {
        // A template as Meta's list returns it (5-minute expiry).
        let listed = json!({
          "name": "one_time_password", "language": "en", "category": "AUTHENTICATION",
          "parameter_format": "POSITIONAL",
          "components": [
            {"type": "BODY",
             "text": "*{{1}}* is your verification code. For your security, do not share this code.",
             "add_security_recommendation": true, "example": {"body_text": [["123456"]]}},
            {"type": "FOOTER", "text": "This code expires in 5 minutes.", "code_expiration_minutes": 5},
            {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Copy code",
              "url": "https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code_expiration_minutes=5&code=otp{{1}}",
              "example": ["https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code_expiration_minutes=5&code=otp123456"]}]}
          ]
        });
        let def = definition_from_json(&listed).unwrap();
        assert!(matches!(
            def.buttons[0],
            Button::Otp {
                otp_type: OtpType::CopyCode,
                ..
            }
        ));
        assert_eq!(approved_as(&listed), TemplateCategory::Authentication);
        round_trips(&listed);
        // The same URL in a marketing template stays a URL button.
        let mut m = listed.clone();
        m["category"] = json!("MARKETING");
        m["components"][0] = json!({"type": "BODY", "text": "Your sign-in link is below, friend."});
        m["components"].as_array_mut().unwrap().remove(1);
        let def = definition_from_json(&m).unwrap();
        assert!(matches!(def.buttons[0], Button::Url { .. }));
    }

    #[test]
    fn authentication_one_tap_legacy_app_fields() {
        let v = auth_one_tap();
        let def = definition_from_json(&v).unwrap();
        let Button::Otp {
            otp_type,
            autofill_text,
            supported_apps,
            ..
        } = &def.buttons[0]
        else {
            panic!("{:?}", def.buttons[0]);
        };
        assert_eq!(*otp_type, OtpType::OneTap);
        assert_eq!(autofill_text.as_deref(), Some("Autofill"));
        assert_eq!(
            supported_apps,
            &vec![SupportedApp {
                package_name: "com.example.luckyshrub".into(),
                signature_hash: "K8a%2FAINcGX7".into()
            }]
        );
        assert_eq!(approved_as(&v), TemplateCategory::Authentication);
        let out = components_to_json(&def);
        let url = out[2]["buttons"][0]["url"].as_str().unwrap();
        assert!(url.starts_with("https://www.whatsapp.com/otp/code/?otp_type=ONE_TAP&cta_display_name=Autofill&package_name=com.example.luckyshrub&signature_hash=K8a%252FAINcGX7"), "{url}");
        assert!(
            url.ends_with("&code_expiration_minutes=10&code=otp{{1}}"),
            "{url}"
        );
        // And back: the URL form carries the app.
        let again = definition_from_json(&json!({"name": "a", "language": "en_US",
            "category": "AUTHENTICATION", "components": out}))
        .unwrap();
        assert_eq!(again.buttons, def.buttons);
        // The newer supported_apps form.
        let mut v = auth_one_tap();
        v["components"][2]["buttons"][0] = json!({"type": "OTP", "otp_type": "zero_tap",
            "supported_apps": [{"package_name": "com.x", "signature_hash": "abcdefghijk"}]});
        let def = definition_from_json(&v).unwrap();
        assert!(
            matches!(&def.buttons[0], Button::Otp { otp_type: OtpType::ZeroTap, supported_apps, .. } if supported_apps.len() == 1)
        );
    }

    #[test]
    fn promotional_utility_before_and_after_2025_04_09() {
        let mut v = seasonal_promotion();
        v["category"] = json!("utility");
        let def = definition_from_json(&v).unwrap();
        assert_eq!(
            review_on(&def, "2025-04-09", false),
            ReviewOutcome::Approved {
                category: TemplateCategory::Marketing
            }
        );
        assert!(matches!(
            review_on(&def, "2025-04-08", false),
            ReviewOutcome::Rejected {
                reason: openwaba_engine::template::RejectionReason::IncorrectCategory,
                ..
            }
        ));
        v["allow_category_change"] = json!(true);
        let allow = allow_category_change_from_json(&v).unwrap();
        assert!(allow);
        assert_eq!(
            review_on(&def, "2025-04-08", allow),
            ReviewOutcome::Approved {
                category: TemplateCategory::Marketing
            }
        );
    }

    #[test]
    fn allow_category_change_values() {
        assert!(!allow_category_change_from_json(&json!({})).unwrap());
        assert!(
            allow_category_change_from_json(&json!({"allow_category_change": "true"})).unwrap()
        );
        assert!(
            !allow_category_change_from_json(&json!({"allow_category_change": false})).unwrap()
        );
        let e = allow_category_change_from_json(&json!({"allow_category_change": 1})).unwrap_err();
        assert_eq!(e.to_string(), "allow_category_change must be a boolean");
    }

    #[test]
    fn oas_edit_body() {
        let current = definition_from_json(&seasonal_promotion()).unwrap();
        let edit = json!({
          "category": "MARKETING",
          "components": [
            {"format": "TEXT", "text": "Fall Sale", "type": "HEADER"},
            {"example": {"body_text": [["Mark", "FALL25"]]},
             "text": "Hi {{1}}, our Fall Sale is on! Use promo code {{2}} Get an extra 25% off every order above $350!",
             "type": "BODY"},
            {"text": "Not interested in any of our sales? Tap Stop Promotions", "type": "FOOTER"},
            {"buttons": [{"text": "Stop promotions", "type": "QUICK_REPLY"}], "type": "BUTTONS"}
          ],
          "language": "en_US",
          "name": "2023_april_promo"
        });
        let edited = apply_edit_json(&current, &edit).unwrap();
        assert_eq!(edited.name, current.name);
        assert_eq!(edited.language, current.language);
        assert_eq!(
            edited.header.as_ref().unwrap().text.as_deref(),
            Some("Fall Sale")
        );
        assert_eq!(edited.buttons.len(), 1);
        assert_eq!(components_to_json(&edited), edit["components"]);
        // Category only.
        let recat = apply_edit_json(&current, &json!({"category": "utility"})).unwrap();
        assert_eq!(recat.category, TemplateCategory::Utility);
        assert_eq!(recat.body, current.body);
        assert_eq!(
            apply_edit_json(&current, &json!({}))
                .unwrap_err()
                .to_string(),
            "components is required"
        );
    }

    // --- errors name the path ---

    #[track_caller]
    fn err(v: Value) -> String {
        definition_from_json(&v).unwrap_err().to_string()
    }

    #[test]
    fn create_errors_name_the_json_path() {
        let mut v = seasonal_promotion();
        v["components"][3]["buttons"][0] = json!({"type": "QUICK_REPLY"});
        assert_eq!(err(v), "components[3].buttons[0].text is required");
        let mut v = seasonal_promotion();
        v.as_object_mut().unwrap().remove("name");
        assert_eq!(err(v), "name is required");
        let mut v = seasonal_promotion();
        v["language"] = json!(7);
        assert_eq!(err(v), "language must be a string");
        let mut v = seasonal_promotion();
        v["category"] = json!("promo");
        assert_eq!(
            err(v),
            "category `promo` is not one of AUTHENTICATION, MARKETING, UTILITY"
        );
        let mut v = seasonal_promotion();
        v.as_object_mut().unwrap().remove("category");
        assert_eq!(err(v), "category is required");
        let mut v = seasonal_promotion();
        v["parameter_format"] = json!("mixed");
        assert_eq!(
            err(v),
            "parameter_format `mixed` is not one of POSITIONAL, NAMED"
        );
        let mut v = seasonal_promotion();
        v.as_object_mut().unwrap().remove("components");
        assert_eq!(err(v), "components is required");
        let mut v = seasonal_promotion();
        v["components"] = json!({});
        assert_eq!(err(v), "components must be an array");
        let mut v = seasonal_promotion();
        v["components"][2]["type"] = json!("SIGNATURE");
        assert_eq!(
            err(v),
            "components[2].type `SIGNATURE` is not one of HEADER, BODY, FOOTER, BUTTONS"
        );
        let mut v = seasonal_promotion();
        v["components"][2] = json!({"type": "body", "text": "Again"});
        assert_eq!(
            err(v),
            "components[2] is a second BODY component; a template has at most one"
        );
        let mut v = seasonal_promotion();
        v["components"].as_array_mut().unwrap().remove(1);
        assert_eq!(err(v), "components must contain a BODY component");
        let mut v = seasonal_promotion();
        v["components"][1].as_object_mut().unwrap().remove("text");
        assert_eq!(err(v), "components[1].text is required");
        let mut v = seasonal_promotion();
        v["components"][0]["format"] = json!("GIFV");
        assert_eq!(err(v), "components[0].format `GIFV` is not one of TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION, PRODUCT");
        let mut v = seasonal_promotion();
        v["components"][0].as_object_mut().unwrap().remove("text");
        assert_eq!(err(v), "components[0].text is required");
        let mut v = seasonal_promotion();
        v["components"][1]["example"]["body_text"] = json!([[{"x": 1}]]);
        assert_eq!(
            err(v),
            "components[1].example.body_text[0][0] must be a string"
        );
        let mut v = seasonal_promotion();
        v["components"][1]["example"] = json!([]);
        assert_eq!(err(v), "components[1].example must be a JSON object");
        let mut v = named_order_confirmation();
        v["components"][0]["example"]["body_text_named_params"][1] = json!({"example": "1"});
        assert_eq!(
            err(v),
            "components[0].example.body_text_named_params[1].param_name is required"
        );
        let mut v = seasonal_promotion();
        v["components"][2].as_object_mut().unwrap().remove("text");
        assert_eq!(err(v), "components[2].text is required");
        let mut v = seasonal_promotion();
        v["components"][3]
            .as_object_mut()
            .unwrap()
            .remove("buttons");
        assert_eq!(err(v), "components[3].buttons is required");
        let mut v = seasonal_promotion();
        v["components"][3]["buttons"][1]["type"] = json!("LINK");
        assert!(err(v)
            .starts_with("components[3].buttons[1].type `LINK` is not one of QUICK_REPLY, URL"));
        let mut v = tuscan_getaway();
        v["components"][3]["buttons"][1]
            .as_object_mut()
            .unwrap()
            .remove("url");
        assert_eq!(err(v), "components[3].buttons[1].url is required");
        let mut v = tuscan_getaway();
        v["components"][3]["buttons"][0]
            .as_object_mut()
            .unwrap()
            .remove("phone_number");
        assert_eq!(err(v), "components[3].buttons[0].phone_number is required");
        let mut v = auth_copy_code();
        v["components"][2]["buttons"][0]["otp_type"] = json!("SMS");
        assert_eq!(
            err(v),
            "components[2].buttons[0].otp_type `SMS` is not one of COPY_CODE, ONE_TAP, ZERO_TAP"
        );
        let mut v = auth_one_tap();
        v["components"][2]["buttons"][0]
            .as_object_mut()
            .unwrap()
            .remove("signature_hash");
        assert_eq!(
            err(v),
            "components[2].buttons[0].signature_hash is required"
        );
        let mut v = auth_copy_code();
        v["components"][1]["code_expiration_minutes"] = json!(-3);
        assert_eq!(
            err(v),
            "components[1].code_expiration_minutes must be a non-negative integer"
        );
        let mut v = auth_copy_code();
        v["components"][0]["add_security_recommendation"] = json!("yes");
        assert_eq!(
            err(v),
            "components[0].add_security_recommendation must be a boolean"
        );
        assert_eq!(err(json!([])), "request body must be a JSON object");
        let e = definition_from_json(&json!({"language": "en"})).unwrap_err();
        assert!(e.is_missing());
        assert_eq!(e.path(), "name");
    }

    #[test]
    fn lenient_reading() {
        // Lower-case types, numbers for strings, a flat body_text, a single header_text string.
        let v = json!({"name": "shipping_update", "language": "en_US", "category": "Utility",
        "components": [
          {"type": "header", "format": "text", "text": "Order {{1}}", "example": {"header_text": 42}},
          {"type": "body", "text": "Hi {{1}}, it ships on {{2}}.", "example": {"body_text": ["Ann", 12]}},
          {"type": "footer", "text": "Thanks", "code_expiration_minutes": null},
          {"type": "buttons", "buttons": [{"type": "phone_number", "text": "Call", "phone_number": 16467043595u64},
                                         {"type": "copy_code", "example": "250FF"}]}
        ]});
        let def = definition_from_json(&v).unwrap();
        assert_eq!(
            def.header.as_ref().unwrap().examples,
            ParamExamples::Positional(vec!["42".into()])
        );
        assert_eq!(
            def.body.examples,
            ParamExamples::Positional(vec!["Ann".into(), "12".into()])
        );
        assert_eq!(
            def.buttons,
            vec![
                Button::PhoneNumber {
                    text: "Call".into(),
                    phone_number: "16467043595".into()
                },
                Button::CopyCode {
                    example: Some("250FF".into())
                }
            ]
        );
        assert_eq!(approved_as(&v), TemplateCategory::Utility);
        assert_eq!(
            components_to_json(&def)[3]["buttons"][1],
            json!({"type": "COPY_CODE", "text": "Copy offer code", "example": ["250FF"]})
        );
        // An authentication body may be omitted altogether.
        let mut a = auth_copy_code();
        a["components"].as_array_mut().unwrap().remove(0);
        let def = definition_from_json(&a).unwrap();
        assert!(def.body.text.is_empty());
        assert_eq!(approved_as(&a), TemplateCategory::Authentication);
    }

    // --- send components ---

    /// cloud-api.md §2.2's template send.
    fn notes_send() -> Value {
        json!([
          {"type": "header", "parameters": [{"type": "image", "image": {"link": "http(s)://the-image-url"}}]},
          {"type": "body", "parameters": [
             {"type": "text", "text": "text-string"},
             {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}},
             {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}}]},
          {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "aGlzIHRoaXMgaXMgY29v"}]},
          {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "J$FpnYnP"}]}
        ])
    }

    fn notes_template() -> TemplateDefinition {
        definition_from_json(&json!({"name": "template_name", "language": "en_US", "category": "MARKETING",
          "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1h"]}},
            {"type": "BODY", "text": "Hi {{1}}, you paid {{2}} on {{3}}.", "example": {"body_text": [["a", "b", "c"]]}},
            {"type": "BUTTONS", "buttons": [
              {"type": "QUICK_REPLY", "text": "Stop"},
              {"type": "URL", "text": "Open", "url": "https://example.com/{{1}}", "example": ["x"]}]}
          ]}))
        .unwrap()
    }

    #[test]
    fn notes_send_components() {
        let comps = send_components_from_json(&notes_send()).unwrap();
        assert_eq!(comps.len(), 4);
        assert_eq!(comps[0].component, SendComponentType::Header);
        assert_eq!(comps[0].parameters[0].kind, ParameterKind::Image);
        assert_eq!(
            comps[1]
                .parameters
                .iter()
                .map(|p| p.kind)
                .collect::<Vec<_>>(),
            vec![
                ParameterKind::Text,
                ParameterKind::Currency,
                ParameterKind::DateTime
            ]
        );
        assert_eq!(comps[1].parameters[0].value.as_deref(), Some("text-string"));
        assert_eq!(comps[2].sub_type, Some(ButtonSubType::QuickReply));
        assert_eq!(comps[2].index, Some(0));
        assert_eq!(
            comps[2].parameters[0].value.as_deref(),
            Some("aGlzIHRoaXMgaXMgY29v")
        );
        assert_eq!(comps[3].index, Some(1));
        let def = notes_template();
        assert_eq!(
            review_on(&def, "2025-06-01", false),
            ReviewOutcome::Approved {
                category: TemplateCategory::Marketing
            }
        );
        assert_eq!(match_send(&def, &comps), Ok(()));
        // Drop the URL button's parameter: 131008.
        let mut short = notes_send();
        short.as_array_mut().unwrap().pop();
        let comps = send_components_from_json(&short).unwrap();
        let e = match_send(&def, &comps).unwrap_err();
        assert_eq!(e.code(), 131_008);
        // One body parameter fewer: 132000.
        let mut fewer = notes_send();
        fewer[1]["parameters"].as_array_mut().unwrap().pop();
        let e = match_send(&def, &send_components_from_json(&fewer).unwrap()).unwrap_err();
        assert_eq!(
            e,
            SendMismatch::Count {
                component: "body".into(),
                expected: 3,
                got: 2
            }
        );
        assert_eq!(e.details(), "body: number of localizable_params (2) does not match the expected number of params (3)");
        // Named parameters to this positional template: 132012.
        let mut named = notes_send();
        named[1]["parameters"][0]["parameter_name"] = json!("first_name");
        let e = match_send(&def, &send_components_from_json(&named).unwrap()).unwrap_err();
        assert_eq!(e.code(), 132_012);
    }

    #[test]
    fn oas_send_examples() {
        // Catalog: integer index, upper-case sub_type, action parameter.
        let catalog = json!([
          {"parameters": [{"text": "100", "type": "text"}, {"text": "400", "type": "text"}, {"text": "3", "type": "text"}], "type": "body"},
          {"index": 0, "parameters": [{"action": {"thumbnail_product_retailer_id": "2lc20305pt"}, "type": "action"}],
           "sub_type": "CATALOG", "type": "button"}
        ]);
        let comps = send_components_from_json(&catalog).unwrap();
        assert_eq!(comps[1].sub_type, Some(ButtonSubType::Catalog));
        assert_eq!(comps[1].index, Some(0));
        assert_eq!(comps[1].parameters[0].kind, ParameterKind::Action);
        let def = definition_from_json(&json!({"name": "intro_catalog_offer", "language": "en_US", "category": "MARKETING",
          "components": [{"type": "BODY", "text": "Now shop for your favourite products right here on WhatsApp! Get Rs {{1}} off on all orders above {{2}}Rs! Valid for your first {{3}} orders placed on WhatsApp!",
                          "example": {"body_text": [["100", "400", "3"]]}},
                         {"type": "BUTTONS", "buttons": [{"type": "CATALOG", "text": "View catalog"}]}]})).unwrap();
        assert_eq!(match_send(&def, &comps), Ok(()));
        // Flow: an action parameter.
        let flow = json!([{"index": "0", "parameters": [{"action": {"flow_action_data": {"k": "v"}, "flow_token": "<FLOW_TOKEN>"}, "type": "action"}],
                           "sub_type": "flow", "type": "button"}]);
        let def = definition_from_json(&flow_by_id()).unwrap();
        assert_eq!(
            match_send(&def, &send_components_from_json(&flow).unwrap()),
            Ok(())
        );
        // Sample issue resolution: boolean text values on quick replies.
        let issue = json!([
          {"parameters": [{"text": "*Mr. Jones*", "type": "text"}], "type": "body"},
          {"index": 0, "parameters": [{"text": true, "type": "text"}], "sub_type": "quick_reply", "type": "button"},
          {"index": 1, "parameters": [{"text": false, "type": "text"}], "sub_type": "quick_reply", "type": "button"}
        ]);
        let comps = send_components_from_json(&issue).unwrap();
        assert_eq!(comps[1].parameters[0].value.as_deref(), Some("true"));
        let def = definition_from_json(&json!({"name": "sample_issue_resolution", "language": "en_US", "category": "UTILITY",
          "components": [{"type": "BODY", "text": "Hi {{1}}, were we able to solve the issue that you were facing?", "example": {"body_text": [["Mr. Jones"]]}},
                         {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Yes"}, {"type": "QUICK_REPLY", "text": "No"}]}]})).unwrap();
        assert_eq!(match_send(&def, &comps), Ok(()));
        // Authentication: the code in the body and the URL button.
        let auth_send = json!([
          {"type": "body", "parameters": [{"type": "text", "text": "J$FpnYnP"}]},
          {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "J$FpnYnP"}]}
        ]);
        let def = definition_from_json(&auth_copy_code()).unwrap();
        assert_eq!(
            match_send(&def, &send_components_from_json(&auth_send).unwrap()),
            Ok(())
        );
        // No components at all (hello_world).
        assert_eq!(send_components_from_json(&Value::Null).unwrap(), vec![]);
    }

    #[test]
    fn send_errors_name_the_json_path() {
        let e = |v: Value| send_components_from_json(&v).unwrap_err().to_string();
        assert_eq!(e(json!({})), "template.components must be an array");
        assert_eq!(
            e(json!([1])),
            "template.components[0] must be a JSON object"
        );
        assert_eq!(e(json!([{}])), "template.components[0].type is required");
        assert_eq!(
            e(json!([{"type": "carousel"}])),
            "template.components[0].type `carousel` is not one of header, body, footer, button"
        );
        assert_eq!(
            e(json!([{"type": "button", "index": 0}])),
            "template.components[0].sub_type is required"
        );
        assert!(
            e(json!([{"type": "button", "sub_type": "link", "index": 0}])).starts_with(
                "template.components[0].sub_type `link` is not one of quick_reply, url"
            )
        );
        assert_eq!(
            e(json!([{"type": "button", "sub_type": "url"}])),
            "template.components[0].index is required"
        );
        assert_eq!(
            e(json!([{"type": "button", "sub_type": "url", "index": "first"}])),
            "template.components[0].index must be a button position (0, 1, …)"
        );
        assert_eq!(
            e(json!([{"type": "body", "parameters": {}}])),
            "template.components[0].parameters must be an array"
        );
        assert_eq!(
            e(json!([{"type": "body", "parameters": [{"type": "text"}]}])),
            "template.components[0].parameters[0].text is required"
        );
        assert_eq!(
            e(json!([{"type": "body", "parameters": [{"type": "text", "text": ["x"]}]}])),
            "template.components[0].parameters[0].text must be a string"
        );
        assert_eq!(
            e(json!([{"type": "header", "parameters": [{"type": "image"}]}])),
            "template.components[0].parameters[0].image is required"
        );
        assert_eq!(
            e(json!([{"type": "header", "parameters": [{"type": "image", "image": "http://x"}]}])),
            "template.components[0].parameters[0].image must be a JSON object"
        );
        assert!(
            e(json!([{"type": "body", "parameters": [{"type": "emoji"}]}])).starts_with(
                "template.components[0].parameters[0].type `emoji` is not one of text, currency"
            )
        );
        assert_eq!(
            e(
                json!([{"type": "body", "parameters": [{"type": "text", "text": "a", "parameter_name": 3}]}])
            ),
            "template.components[0].parameters[0].parameter_name must be a string"
        );
        let named = send_components_from_json(&json!([{"type": "BODY", "parameters": [
            {"type": "text", "text": "Pablo", "parameter_name": "first_name"}]}]))
        .unwrap();
        assert_eq!(
            named[0].parameters[0],
            SendParameter::named("first_name", "Pablo")
        );
    }

    #[test]
    fn percent_coding() {
        assert_eq!(percent_encode("K8a/AINcGX7 +"), "K8a%2FAINcGX7%20%2B");
        assert_eq!(
            percent_decode("K8a%2FAINcGX7%20x+y%zz"),
            "K8a/AINcGX7 x y%zz"
        );
    }
}
