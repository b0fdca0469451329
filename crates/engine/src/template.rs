//! Message templates (rules.md §9): statuses, a typed template definition, the automated
//! review a new or edited template goes through, and the matching of a send's parameters
//! against the approved definition.
//!
//! Everything here is pure: the review is given the WABA's other templates and the date it
//! is judged at, and answers what Meta's review would answer. What Meta does by machine
//! learning or by hand (abuse, scams, "is this really utility?") is approximated by small,
//! documented rules:
//!
//! - **Parameters** (`{{1}}` or `{{name}}`): braces balanced and well formed, positional ones
//!   numbered 1..n without gaps (the order of first appearance is free, repeats allowed),
//!   named ones `[a-z][a-z0-9_]*`, none at the very start or end of the body, an example
//!   for every parameter (body, TEXT header, dynamic URL button) and none for a parameter
//!   that does not exist. A TEXT header has at most one parameter; a footer none.
//! - **Limits** Meta documents: name ≤ 512 chars of `[a-z0-9_]`, body ≤ 1024 chars, header
//!   text and footer ≤ 60, button text ≤ 25, ≤ 10 buttons of which ≤ 2 URL, ≤ 1 phone
//!   number and ≤ 1 copy-code; a media header needs an `example.header_handle`; a URL
//!   button's variable is a single `{{1}}` at the very end of an http(s) URL.
//! - **Duplicates**: same language, body and footer as another non-authentication template
//!   of the WABA (a template of the same name and language is the template itself, being
//!   edited, and is not compared).
//! - **Authentication**: the fixed body and footer, exactly one OTP button, no header, no
//!   URL, no emoji, examples ≤ 15 chars (see [`review`]).
//! - **Category validation**: a UTILITY template whose text contains one of
//!   [`PROMOTIONAL_KEYWORDS`] is promotional (see [`promotional_keyword`]).
//!
//! Every failed check rejects with [`RejectionReason::InvalidFormat`] except the category
//! check ([`RejectionReason::IncorrectCategory`]); the first failing check is reported.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

use crate::TemplateCategory;

/// A value that is not one of the spellings an enum of this module accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {kind}")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

fn unknown(kind: &'static str, value: &str) -> UnknownValue {
    UnknownValue {
        kind,
        value: value.to_owned(),
    }
}

/// Defines a fieldless enum with Meta's spelling of each variant, `ALL`, `as_str`, a
/// case-insensitive `parse`, `Display` and `FromStr`.
macro_rules! spelled_enum {
    ($(#[$meta:meta])* $name:ident, $kind:literal, { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Case-insensitive.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s).ok_or_else(|| unknown($kind, s))
            }
        }
    };
}

spelled_enum!(
    /// A template's status (`status` of the template node, `event` of
    /// `message_template_status_update`).
    TemplateStatus, "template status", {
    Pending => "PENDING",
    Approved => "APPROVED",
    Rejected => "REJECTED",
    Paused => "PAUSED",
    Disabled => "DISABLED",
    Flagged => "FLAGGED",
    InAppeal => "IN_APPEAL",
    Archived => "ARCHIVED",
    Deleted => "DELETED",
    PendingDeletion => "PENDING_DELETION",
    LimitExceeded => "LIMIT_EXCEEDED",
    Locked => "LOCKED",
    Reinstated => "REINSTATED",
});

impl TemplateStatus {
    /// Only APPROVED templates can be sent.
    pub const fn can_send(self) -> bool {
        matches!(self, TemplateStatus::Approved)
    }

    /// Only APPROVED, REJECTED or PAUSED templates can be edited.
    pub const fn can_edit(self) -> bool {
        matches!(
            self,
            TemplateStatus::Approved | TemplateStatus::Rejected | TemplateStatus::Paused
        )
    }
}

spelled_enum!(
    /// The `reason` of a rejection (`message_template_status_update.reason`,
    /// `rejected_reason` of the template node).
    RejectionReason, "rejection reason", {
    AbusiveContent => "ABUSIVE_CONTENT",
    CategoryNotAvailable => "CATEGORY_NOT_AVAILABLE",
    IncorrectCategory => "INCORRECT_CATEGORY",
    InvalidFormat => "INVALID_FORMAT",
    None => "NONE",
    Promotional => "PROMOTIONAL",
    Scam => "SCAM",
    TagContentMismatch => "TAG_CONTENT_MISMATCH",
});

spelled_enum!(
    /// `parameter_format` of a template: `{{1}}` or `{{name}}`.
    ParameterFormat, "parameter format", {
    Positional => "POSITIONAL",
    Named => "NAMED",
});

impl Default for ParameterFormat {
    /// Meta's default when `parameter_format` is absent.
    fn default() -> Self {
        ParameterFormat::Positional
    }
}

spelled_enum!(
    /// `format` of a HEADER component.
    HeaderFormat, "header format", {
    Text => "TEXT",
    Image => "IMAGE",
    Video => "VIDEO",
    Document => "DOCUMENT",
    Location => "LOCATION",
    /// Single-product templates: the header shows a catalog product.
    Product => "PRODUCT",
});

impl HeaderFormat {
    pub const fn is_media(self) -> bool {
        matches!(
            self,
            HeaderFormat::Image | HeaderFormat::Video | HeaderFormat::Document
        )
    }
}

spelled_enum!(
    /// `otp_type` of an OTP button.
    OtpType, "otp_type", {
    CopyCode => "COPY_CODE",
    OneTap => "ONE_TAP",
    ZeroTap => "ZERO_TAP",
});

spelled_enum!(
    /// `sub_type` of a `button` component in a send body (Meta's examples use both cases).
    ButtonSubType, "button sub_type", {
    QuickReply => "quick_reply",
    Url => "url",
    CopyCode => "copy_code",
    Flow => "flow",
    Catalog => "catalog",
    Mpm => "mpm",
    Spm => "spm",
    VoiceCall => "voice_call",
});

spelled_enum!(
    /// `type` of a parameter in a send body.
    ParameterKind, "parameter type", {
    Text => "text",
    Currency => "currency",
    DateTime => "date_time",
    Image => "image",
    Video => "video",
    Document => "document",
    Location => "location",
    Payload => "payload",
    Action => "action",
    CouponCode => "coupon_code",
    Product => "product",
});

impl ParameterKind {
    /// The upper-case spelling Meta uses in its `Format mismatch` details.
    pub const fn label(self) -> &'static str {
        match self {
            ParameterKind::Text => "TEXT",
            ParameterKind::Currency => "CURRENCY",
            ParameterKind::DateTime => "DATE_TIME",
            ParameterKind::Image => "IMAGE",
            ParameterKind::Video => "VIDEO",
            ParameterKind::Document => "DOCUMENT",
            ParameterKind::Location => "LOCATION",
            ParameterKind::Payload => "PAYLOAD",
            ParameterKind::Action => "ACTION",
            ParameterKind::CouponCode => "COUPON_CODE",
            ParameterKind::Product => "PRODUCT",
        }
    }
}

/// Meta's upper-case spelling of a template category (`crate::TemplateCategory` parses any
/// case but has no upper-case rendering).
pub const fn category_as_str(category: TemplateCategory) -> &'static str {
    match category {
        TemplateCategory::Marketing => "MARKETING",
        TemplateCategory::Utility => "UTILITY",
        TemplateCategory::Authentication => "AUTHENTICATION",
    }
}

// ---------------------------------------------------------------------------------------
// The definition
// ---------------------------------------------------------------------------------------

/// One named parameter's example (`{"param_name": …, "example": …}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamedExample {
    pub name: String,
    pub example: String,
}

impl NamedExample {
    pub fn new(name: impl Into<String>, example: impl Into<String>) -> Self {
        NamedExample {
            name: name.into(),
            example: example.into(),
        }
    }
}

/// Examples of a text's parameters: `body_text` / `header_text` (positional, in order) or
/// `body_text_named_params` / `header_text_named_params`. Of `body_text`'s list of example
/// sets only the first is kept (Meta shows only one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ParamExamples {
    #[default]
    None,
    Positional(Vec<String>),
    Named(Vec<NamedExample>),
}

impl ParamExamples {
    pub fn is_none(&self) -> bool {
        matches!(self, ParamExamples::None)
    }

    fn values(&self) -> Vec<&str> {
        match self {
            ParamExamples::None => Vec::new(),
            ParamExamples::Positional(v) => v.iter().map(String::as_str).collect(),
            ParamExamples::Named(v) => v.iter().map(|e| e.example.as_str()).collect(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub format: HeaderFormat,
    /// For TEXT headers.
    pub text: Option<String>,
    /// For TEXT headers with a parameter.
    pub examples: ParamExamples,
    /// `example.header_handle`: the sample media of an IMAGE/VIDEO/DOCUMENT header.
    pub handles: Vec<String>,
}

impl Header {
    pub fn text(text: impl Into<String>) -> Self {
        Header {
            format: HeaderFormat::Text,
            text: Some(text.into()),
            examples: ParamExamples::None,
            handles: Vec::new(),
        }
    }

    pub fn media(format: HeaderFormat, handle: impl Into<String>) -> Self {
        Header {
            format,
            text: None,
            examples: ParamExamples::None,
            handles: vec![handle.into()],
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Body {
    /// Empty for an authentication template created the API's way (Meta fills in the fixed
    /// text); see [`TemplateDefinition::body_text`].
    pub text: String,
    pub examples: ParamExamples,
    /// Authentication only: append "For your security, do not share this code."
    pub add_security_recommendation: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Footer {
    /// `None` for an authentication footer given only as `code_expiration_minutes`.
    pub text: Option<String>,
    /// Authentication only: "This code expires in N minutes.", 1 ≤ N ≤ 90.
    pub code_expiration_minutes: Option<u32>,
}

/// An Android app that may receive a one-tap / zero-tap code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupportedApp {
    pub package_name: String,
    pub signature_hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Button {
    QuickReply {
        text: String,
    },
    /// `url` may end with `{{1}}`; `example` is then required (Meta shows either the
    /// suffix or the full URL; both are accepted).
    Url {
        text: String,
        url: String,
        example: Option<String>,
    },
    PhoneNumber {
        text: String,
        phone_number: String,
    },
    /// A marketing coupon-code button; `example` is the sample code (≤ 15 chars).
    CopyCode {
        example: Option<String>,
    },
    /// The one-time-password button of an authentication template.
    Otp {
        otp_type: OtpType,
        text: Option<String>,
        autofill_text: Option<String>,
        supported_apps: Vec<SupportedApp>,
    },
    Flow {
        text: String,
        flow_id: Option<String>,
        flow_name: Option<String>,
        flow_json: Option<String>,
        flow_action: Option<String>,
        navigate_screen: Option<String>,
    },
    Catalog {
        text: String,
    },
    /// Multi-product message.
    Mpm {
        text: String,
    },
    /// Single-product message.
    Spm {
        text: String,
    },
    VoiceCall {
        text: String,
    },
}

impl Button {
    /// Meta's `type`.
    pub const fn type_str(&self) -> &'static str {
        match self {
            Button::QuickReply { .. } => "QUICK_REPLY",
            Button::Url { .. } => "URL",
            Button::PhoneNumber { .. } => "PHONE_NUMBER",
            Button::CopyCode { .. } => "COPY_CODE",
            Button::Otp { .. } => "OTP",
            Button::Flow { .. } => "FLOW",
            Button::Catalog { .. } => "CATALOG",
            Button::Mpm { .. } => "MPM",
            Button::Spm { .. } => "SPM",
            Button::VoiceCall { .. } => "VOICE_CALL",
        }
    }

    /// The label shown on the button, where the business chooses one.
    pub fn text(&self) -> Option<&str> {
        match self {
            Button::QuickReply { text }
            | Button::Url { text, .. }
            | Button::PhoneNumber { text, .. }
            | Button::Flow { text, .. }
            | Button::Catalog { text }
            | Button::Mpm { text }
            | Button::Spm { text }
            | Button::VoiceCall { text } => Some(text),
            Button::Otp { text, .. } => text.as_deref(),
            Button::CopyCode { .. } => None,
        }
    }

    /// A URL button whose URL ends with a `{{1}}` suffix.
    pub fn is_dynamic_url(&self) -> bool {
        matches!(self, Button::Url { url, .. } if url.contains("{{"))
    }

    /// The send-time contract of this button: the `sub_type` a send addresses it with, the
    /// name Meta uses for it in error details, and its parameter.
    fn send_spec(&self) -> (Option<ButtonSubType>, &'static str, ButtonParam) {
        use ButtonParam as P;
        match self {
            Button::QuickReply { .. } => (
                Some(ButtonSubType::QuickReply),
                "QuickReply",
                P::Optional(&[ParameterKind::Payload, ParameterKind::Text]),
            ),
            Button::Url { .. } if self.is_dynamic_url() => (
                Some(ButtonSubType::Url),
                "Url",
                P::Required(ParameterKind::Text),
            ),
            Button::Url { .. } => (Some(ButtonSubType::Url), "Url", P::None),
            Button::PhoneNumber { .. } => (None, "PhoneNumber", P::None),
            Button::CopyCode { .. } => (
                Some(ButtonSubType::CopyCode),
                "CopyCode",
                P::Required(ParameterKind::CouponCode),
            ),
            // Meta implements OTP buttons as URL buttons ending in `code=otp{{1}}`.
            Button::Otp { .. } => (
                Some(ButtonSubType::Url),
                "Url",
                P::Required(ParameterKind::Text),
            ),
            Button::Flow { .. } => (
                Some(ButtonSubType::Flow),
                "Flow",
                P::Optional(&[ParameterKind::Action]),
            ),
            Button::Catalog { .. } => (
                Some(ButtonSubType::Catalog),
                "Catalog",
                P::Optional(&[ParameterKind::Action]),
            ),
            Button::Mpm { .. } => (
                Some(ButtonSubType::Mpm),
                "Mpm",
                P::Required(ParameterKind::Action),
            ),
            Button::Spm { .. } => (
                Some(ButtonSubType::Spm),
                "Spm",
                P::Optional(&[ParameterKind::Action]),
            ),
            Button::VoiceCall { .. } => (Some(ButtonSubType::VoiceCall), "VoiceCall", P::None),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum ButtonParam {
    None,
    Optional(&'static [ParameterKind]),
    Required(ParameterKind),
}

/// A template as created: what review judges and sends are matched against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateDefinition {
    pub name: String,
    pub language: String,
    /// The category declared (or, once reviewed, the category applied).
    pub category: TemplateCategory,
    pub parameter_format: ParameterFormat,
    pub header: Option<Header>,
    pub body: Body,
    pub footer: Option<Footer>,
    pub buttons: Vec<Button>,
}

/// The fixed authentication body, as Meta stores it (the code in bold).
pub const AUTH_BODY: &str = "*{{1}}* is your verification code.";
/// The fixed authentication body without the bold markers (accepted as well).
pub const AUTH_BODY_PLAIN: &str = "{{1}} is your verification code.";
/// The optional security line of an authentication body.
pub const AUTH_SECURITY_LINE: &str = "For your security, do not share this code.";
/// `code_expiration_minutes` bounds.
pub const CODE_EXPIRATION_MINUTES: std::ops::RangeInclusive<u32> = 1..=90;
/// Authentication parameters and copy codes are at most this long.
pub const MAX_CODE_CHARS: usize = 15;

/// The body Meta generates for an authentication template.
pub fn authentication_body_text(add_security_recommendation: bool) -> String {
    if add_security_recommendation {
        format!("{AUTH_BODY} {AUTH_SECURITY_LINE}")
    } else {
        AUTH_BODY.to_owned()
    }
}

/// The footer Meta generates for `code_expiration_minutes`.
pub fn authentication_footer_text(minutes: u32) -> String {
    format!("This code expires in {minutes} minutes.")
}

impl TemplateDefinition {
    /// A template with just a body.
    pub fn new(
        name: impl Into<String>,
        language: impl Into<String>,
        category: TemplateCategory,
        body_text: impl Into<String>,
    ) -> Self {
        TemplateDefinition {
            name: name.into(),
            language: language.into(),
            category,
            parameter_format: ParameterFormat::Positional,
            header: None,
            body: Body {
                text: body_text.into(),
                ..Body::default()
            },
            footer: None,
            buttons: Vec::new(),
        }
    }

    pub fn is_authentication(&self) -> bool {
        self.category == TemplateCategory::Authentication
    }

    /// The body as sent: an authentication template's fixed text when none was given.
    pub fn body_text(&self) -> Cow<'_, str> {
        if self.is_authentication() && self.body.text.is_empty() {
            Cow::Owned(authentication_body_text(
                self.body.add_security_recommendation,
            ))
        } else {
            Cow::Borrowed(&self.body.text)
        }
    }

    /// The footer as sent: an authentication template's expiry line when only
    /// `code_expiration_minutes` was given.
    pub fn footer_text(&self) -> Option<Cow<'_, str>> {
        let footer = self.footer.as_ref()?;
        match (&footer.text, footer.code_expiration_minutes) {
            (Some(text), _) => Some(Cow::Borrowed(text)),
            (None, Some(n)) if self.is_authentication() => {
                Some(Cow::Owned(authentication_footer_text(n)))
            }
            (None, _) => None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parameters in text
// ---------------------------------------------------------------------------------------

/// A `{{…}}` marker.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Placeholder {
    Positional(u32),
    Named(String),
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Placeholder::Positional(n) => write!(f, "{{{{{n}}}}}"),
            Placeholder::Named(name) => write!(f, "{{{{{name}}}}}"),
        }
    }
}

fn is_named_parameter(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn classify(inner: &str) -> Option<Placeholder> {
    if !inner.is_empty() && inner.bytes().all(|b| b.is_ascii_digit()) {
        // No leading zeros: `{{01}}` is not `{{1}}`.
        let n: u32 = inner.parse().ok()?;
        (n.to_string() == inner).then_some(Placeholder::Positional(n))
    } else if is_named_parameter(inner) {
        Some(Placeholder::Named(inner.to_owned()))
    } else {
        None
    }
}

/// The parameters of a text, in order of appearance (repeats included), or why its braces
/// are not valid: every `{` or `}` must belong to a `{{token}}` whose token is a number
/// (`{{1}}`) or a lowercase snake-case name (`{{first_name}}`).
pub fn placeholders(text: &str) -> Result<Vec<Placeholder>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        let tail = &rest[at..];
        if tail.starts_with('}') {
            return Err("unbalanced curly braces: `}` without a matching `{{`".to_owned());
        }
        let Some(after_open) = tail.strip_prefix("{{") else {
            return Err("unbalanced curly braces: a single `{`".to_owned());
        };
        let Some(close) = after_open.find("}}") else {
            return Err("unbalanced curly braces: `{{` is never closed by `}}`".to_owned());
        };
        let inner = &after_open[..close];
        if inner.contains(['{', '}']) {
            return Err("mismatched curly braces".to_owned());
        }
        match classify(inner) {
            Some(p) => out.push(p),
            None => {
                return Err(format!(
                    "`{{{{{inner}}}}}` is not a valid parameter (use {{{{1}}}}, {{{{2}}}}, … \
                     or lowercase names like {{{{first_name}}}})"
                ))
            }
        }
        rest = &after_open[close + 2..];
    }
    Ok(out)
}

/// Parameters of a text for matching a send: invalid markers are ignored (a stored
/// template has passed review; this never fails).
fn lenient_placeholders(text: &str) -> Vec<Placeholder> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after_open = &rest[open + 2..];
        let Some(close) = after_open.find("}}") else {
            break;
        };
        if let Some(p) = classify(&after_open[..close]) {
            out.push(p);
        }
        rest = &after_open[close + 2..];
    }
    out
}

/// What a text expects at send time.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Expected {
    Positional(usize),
    Named(Vec<String>),
}

impl Expected {
    fn of(text: &str, format: ParameterFormat) -> Expected {
        let phs = lenient_placeholders(text);
        match format {
            ParameterFormat::Positional => Expected::Positional(
                phs.iter()
                    .filter_map(|p| match p {
                        Placeholder::Positional(n) => usize::try_from(*n).ok(),
                        Placeholder::Named(_) => None,
                    })
                    .max()
                    .unwrap_or(0),
            ),
            ParameterFormat::Named => {
                let mut names: Vec<String> = Vec::new();
                for p in phs {
                    if let Placeholder::Named(n) = p {
                        if !names.contains(&n) {
                            names.push(n);
                        }
                    }
                }
                Expected::Named(names)
            }
        }
    }

    fn count(&self) -> usize {
        match self {
            Expected::Positional(n) => *n,
            Expected::Named(names) => names.len(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Review
// ---------------------------------------------------------------------------------------

/// The verdict of review.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReviewOutcome {
    /// Approved under `category`, which differs from the declared one when the template was
    /// recategorised (UTILITY → MARKETING).
    Approved { category: TemplateCategory },
    Rejected {
        reason: RejectionReason,
        detail: String,
    },
}

impl ReviewOutcome {
    pub const fn status(&self) -> TemplateStatus {
        match self {
            ReviewOutcome::Approved { .. } => TemplateStatus::Approved,
            ReviewOutcome::Rejected { .. } => TemplateStatus::Rejected,
        }
    }
}

/// The date from which a UTILITY template found promotional is approved as MARKETING
/// instead of rejected, and `allow_category_change` is ignored.
pub const RECATEGORISATION_DEFAULT_FROM: (i32, u32, u32) = (2025, 4, 9);

/// Whether, on `date`, a promotional UTILITY template is approved as MARKETING whatever
/// `allow_category_change` says.
pub fn recategorises_by_default(date: NaiveDate) -> bool {
    (date.year(), date.month(), date.day()) >= RECATEGORISATION_DEFAULT_FROM
}

/// The words and phrases that make a UTILITY template promotional. Matched
/// case-insensitively against whole words of the header, body, footer and button texts
/// (not the examples, which are sample values): the text is lower-cased, every character
/// other than a letter, a digit or `%` becomes a space and `%` becomes a word of its own,
/// so `25% OFF!` contains `% off` and `Fall Sale` contains `sale`, while `wholesale`,
/// `sales` and `offering` contain nothing.
pub const PROMOTIONAL_KEYWORDS: [&str; 19] = [
    "sale",
    "% off",
    "discount",
    "discounts",
    "discounted",
    "offer",
    "offers",
    "promo",
    "promos",
    "promotion",
    "promotions",
    "promotional",
    "coupon",
    "coupons",
    "deals",
    "buy now",
    "shop now",
    "limited time",
    "free shipping",
];

fn normalise_words(text: &str) -> String {
    let mut spaced = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if c == '%' {
            spaced.push_str(" % ");
        } else if c.is_alphanumeric() {
            spaced.extend(c.to_lowercase());
        } else {
            spaced.push(' ');
        }
    }
    let mut out = String::with_capacity(spaced.len() + 2);
    out.push(' ');
    for word in spaced.split_whitespace() {
        out.push_str(word);
        out.push(' ');
    }
    out
}

/// The first of [`PROMOTIONAL_KEYWORDS`] found in the template's texts, if any.
pub fn promotional_keyword(def: &TemplateDefinition) -> Option<&'static str> {
    let mut texts: Vec<Cow<'_, str>> = Vec::new();
    if let Some(t) = def.header.as_ref().and_then(|h| h.text.as_deref()) {
        texts.push(Cow::Borrowed(t));
    }
    texts.push(def.body_text());
    if let Some(t) = def.footer_text() {
        texts.push(t);
    }
    texts.extend(
        def.buttons
            .iter()
            .filter_map(Button::text)
            .map(Cow::Borrowed),
    );
    let haystack: String = texts.iter().map(|t| normalise_words(t)).collect();
    PROMOTIONAL_KEYWORDS
        .iter()
        .copied()
        .find(|kw| haystack.contains(&normalise_words(kw)))
}

/// Whether a text contains a URL (`http://`, `https://` or `www.`).
pub fn contains_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("http://") || lower.contains("https://") || lower.contains("www.")
}

/// Whether a character is an emoji (or an emoji's variation selector). Covered: the
/// supplementary pictograph planes U+1F000–U+1FAFF (emoticons, symbols, transport, flags'
/// regional indicators…), Miscellaneous Technical U+2300–U+23FF (⌚ ⏰), Miscellaneous
/// Symbols and Dingbats U+2600–U+27BF (☀ ✅ ❤), arrows and stars U+2B00–U+2BFF (⭐) and the
/// emoji variation selector U+FE0F. `©` and `®` are treated as text.
pub fn is_emoji(c: char) -> bool {
    matches!(
        u32::from(c),
        0x1F000..=0x1FAFF | 0x2300..=0x23FF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xFE0F
    )
}

pub fn contains_emoji(text: &str) -> bool {
    text.chars().any(is_emoji)
}

/// Name: 1 to 512 of `[a-z0-9_]`.
pub const MAX_NAME_CHARS: usize = 512;
pub const MAX_BODY_CHARS: usize = 1024;
pub const MAX_HEADER_TEXT_CHARS: usize = 60;
pub const MAX_FOOTER_CHARS: usize = 60;
pub const MAX_BUTTON_TEXT_CHARS: usize = 25;
pub const MAX_BUTTONS: usize = 10;
pub const MAX_URL_BUTTONS: usize = 2;
pub const MAX_PHONE_NUMBER_BUTTONS: usize = 1;
pub const MAX_COPY_CODE_BUTTONS: usize = 1;

type Reject = (RejectionReason, String);

fn invalid(detail: impl Into<String>) -> Reject {
    (RejectionReason::InvalidFormat, detail.into())
}

/// Review a new (or edited) template as Meta's automated review would.
///
/// `existing` are the WABA's other templates (for the duplicate check; one with the same
/// name and language is taken to be this template before an edit and is skipped), `date`
/// the day of review (category validation changed on 2025-04-09), and
/// `allow_category_change` the creation request's flag (ignored from 2025-04-09).
///
/// Authentication templates: the body is `*{{1}}* is your verification code.` (or without
/// the asterisks) followed, with `add_security_recommendation`, by ` For your security, do
/// not share this code.`; an empty body text is filled in by Meta. The footer is either
/// absent or `code_expiration_minutes` N (1 ≤ N ≤ 90) with, if given, the text `This code
/// expires in N minutes.`. Exactly one OTP button (COPY_CODE, ONE_TAP or ZERO_TAP; one-tap
/// and zero-tap list their Android apps); no header (so no media), no URL or emoji in any
/// text or example, examples at most 15 characters, positional parameters only.
pub fn review(
    def: &TemplateDefinition,
    existing: &[&TemplateDefinition],
    date: NaiveDate,
    allow_category_change: bool,
) -> ReviewOutcome {
    if let Err((reason, detail)) = check(def, existing) {
        return ReviewOutcome::Rejected { reason, detail };
    }
    let category = match def.category {
        TemplateCategory::Utility => match promotional_keyword(def) {
            None => TemplateCategory::Utility,
            Some(_) if recategorises_by_default(date) || allow_category_change => {
                TemplateCategory::Marketing
            }
            Some(keyword) => {
                return ReviewOutcome::Rejected {
                    reason: RejectionReason::IncorrectCategory,
                    detail: format!(
                        "the template is declared UTILITY but its content is promotional \
                         (\"{keyword}\"): declare it MARKETING, or set allow_category_change \
                         to let it be approved as MARKETING"
                    ),
                }
            }
        },
        other => other,
    };
    ReviewOutcome::Approved { category }
}

fn check(def: &TemplateDefinition, existing: &[&TemplateDefinition]) -> Result<(), Reject> {
    check_name(&def.name)?;
    check_buttons(def)?;
    if def.is_authentication() {
        check_authentication(def)
    } else {
        check_content(def)?;
        check_duplicates(def, existing)
    }
}

fn check_name(name: &str) -> Result<(), Reject> {
    if name.is_empty() {
        return Err(invalid("name: the template name is empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(format!(
            "name: the template name is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(invalid(format!(
            "name: `{name}` may contain only lowercase letters, digits and underscores"
        )));
    }
    Ok(())
}

fn too_long(label: &str, text: &str, max: usize) -> Result<(), Reject> {
    let n = text.chars().count();
    if n > max {
        return Err(invalid(format!(
            "{label}: {n} characters, more than the {max} allowed"
        )));
    }
    Ok(())
}

/// Checks that hold for every category: button counts, labels, URL and copy-code rules,
/// and OTP buttons only in authentication templates.
fn check_buttons(def: &TemplateDefinition) -> Result<(), Reject> {
    let buttons = &def.buttons;
    if buttons.len() > MAX_BUTTONS {
        return Err(invalid(format!(
            "buttons: {} buttons, more than the {MAX_BUTTONS} allowed",
            buttons.len()
        )));
    }
    let count = |pred: fn(&Button) -> bool| buttons.iter().filter(|b| pred(b)).count();
    let limits: [(&str, usize, usize); 3] = [
        (
            "URL",
            count(|b| matches!(b, Button::Url { .. })),
            MAX_URL_BUTTONS,
        ),
        (
            "PHONE_NUMBER",
            count(|b| matches!(b, Button::PhoneNumber { .. })),
            MAX_PHONE_NUMBER_BUTTONS,
        ),
        (
            "COPY_CODE",
            count(|b| matches!(b, Button::CopyCode { .. })),
            MAX_COPY_CODE_BUTTONS,
        ),
    ];
    for (kind, n, max) in limits {
        if n > max {
            return Err(invalid(format!(
                "buttons: {n} {kind} buttons, more than the {max} allowed"
            )));
        }
    }
    for (i, b) in buttons.iter().enumerate() {
        let label = format!("buttons[{i}]");
        if let Some(text) = b.text() {
            if text.trim().is_empty() && !matches!(b, Button::Otp { .. }) {
                return Err(invalid(format!("{label}: the button text is empty")));
            }
            too_long(&label, text, MAX_BUTTON_TEXT_CHARS)?;
        }
        match b {
            Button::Url { url, example, .. } => check_url_button(&label, url, example.as_deref())?,
            Button::PhoneNumber { phone_number, .. } if phone_number.trim().is_empty() => {
                return Err(invalid(format!("{label}: phone_number is empty")));
            }
            Button::CopyCode { example } => match example.as_deref().map(str::trim) {
                None | Some("") => {
                    return Err(invalid(format!(
                        "{label}: a COPY_CODE button needs an example code"
                    )))
                }
                Some(code) if code.chars().count() > MAX_CODE_CHARS => {
                    return Err(invalid(format!(
                        "{label}: the example code is longer than {MAX_CODE_CHARS} characters"
                    )))
                }
                Some(_) => {}
            },
            Button::Otp { .. } if !def.is_authentication() => {
                return Err(invalid(format!(
                    "{label}: OTP buttons are only for AUTHENTICATION templates"
                )));
            }
            Button::Flow {
                flow_id,
                flow_name,
                flow_json,
                ..
            } if flow_id.is_none() && flow_name.is_none() && flow_json.is_none() => {
                return Err(invalid(format!(
                    "{label}: a FLOW button needs flow_id, flow_name or flow_json"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_url_button(label: &str, url: &str, example: Option<&str>) -> Result<(), Reject> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(invalid(format!(
            "{label}: the url must start with http:// or https://"
        )));
    }
    let phs = placeholders(url).map_err(|e| invalid(format!("{label}: url: {e}")))?;
    match phs.as_slice() {
        [] => Ok(()),
        [Placeholder::Positional(1)] if url.ends_with("{{1}}") => match example.map(str::trim) {
            None | Some("") => Err(invalid(format!(
                "{label}: the url has the parameter {{{{1}}}} but no example"
            ))),
            Some(_) => Ok(()),
        },
        _ => Err(invalid(format!(
            "{label}: a URL button can have only one parameter, {{{{1}}}}, at the end of the url"
        ))),
    }
}

/// Examples field names of a component, for details: (`body_text`, `body_text_named_params`).
fn examples_field(component: &str, format: ParameterFormat) -> String {
    match format {
        ParameterFormat::Positional => format!("example.{component}_text"),
        ParameterFormat::Named => format!("example.{component}_text_named_params"),
    }
}

/// Parameters of a body or TEXT header: well formed, of the declared format, sequential,
/// with an example each (and no example without a parameter).
fn check_params(
    label: &str,
    text: &str,
    format: ParameterFormat,
    examples: &ParamExamples,
) -> Result<Vec<Placeholder>, Reject> {
    let phs = placeholders(text).map_err(|e| invalid(format!("{label}: {e}")))?;
    let field = examples_field(label, format);
    match format {
        ParameterFormat::Positional => {
            let mut numbers: Vec<u32> = Vec::new();
            for p in &phs {
                match p {
                    Placeholder::Named(_) => {
                        return Err(invalid(format!(
                            "{label}: `{p}` is a named parameter but parameter_format is POSITIONAL"
                        )))
                    }
                    Placeholder::Positional(n) => {
                        if !numbers.contains(n) {
                            numbers.push(*n);
                        }
                    }
                }
            }
            numbers.sort_unstable();
            let sequential = numbers
                .iter()
                .enumerate()
                .all(|(i, n)| usize::try_from(*n).ok() == Some(i + 1));
            if !sequential {
                let found: Vec<String> = numbers.iter().map(|n| format!("{{{{{n}}}}}")).collect();
                return Err(invalid(format!(
                    "{label}: parameters must be numbered sequentially from {{{{1}}}}; found {}",
                    found.join(", ")
                )));
            }
            let n = numbers.len();
            match examples {
                ParamExamples::Named(_) => Err(invalid(format!(
                    "{label}: named examples given but parameter_format is POSITIONAL"
                ))),
                ParamExamples::None if n > 0 => Err(invalid(format!(
                    "{label}: {field} is required: the text has {n} parameter(s)"
                ))),
                ParamExamples::Positional(v) if v.len() != n => Err(invalid(format!(
                    "{label}: the text has {n} parameter(s) but {field} has {} example(s)",
                    v.len()
                ))),
                ParamExamples::Positional(v) => match v.iter().position(|e| e.trim().is_empty()) {
                    Some(i) => Err(invalid(format!(
                        "{label}: the example of {{{{{}}}}} is empty",
                        i + 1
                    ))),
                    None => Ok(phs),
                },
                _ => Ok(phs),
            }
        }
        ParameterFormat::Named => {
            let mut names: Vec<&str> = Vec::new();
            for p in &phs {
                match p {
                    Placeholder::Positional(_) => {
                        return Err(invalid(format!(
                            "{label}: `{p}` is a positional parameter but parameter_format is NAMED"
                        )))
                    }
                    Placeholder::Named(name) => {
                        if !names.contains(&name.as_str()) {
                            names.push(name);
                        }
                    }
                }
            }
            match examples {
                ParamExamples::Positional(_) => Err(invalid(format!(
                    "{label}: positional examples given but parameter_format is NAMED"
                ))),
                ParamExamples::None if !names.is_empty() => Err(invalid(format!(
                    "{label}: {field} is required: the text has {} parameter(s)",
                    names.len()
                ))),
                ParamExamples::None => Ok(phs),
                ParamExamples::Named(list) => {
                    for name in &names {
                        let found = list
                            .iter()
                            .find(|e| e.name == *name)
                            .is_some_and(|e| !e.example.trim().is_empty());
                        if !found {
                            return Err(invalid(format!(
                                "{label}: no example for {{{{{name}}}}} in {field}"
                            )));
                        }
                    }
                    if let Some(extra) = list.iter().find(|e| !names.contains(&e.name.as_str())) {
                        return Err(invalid(format!(
                            "{label}: {field} has an example for {{{{{}}}}}, which is not in the text",
                            extra.name
                        )));
                    }
                    Ok(phs)
                }
            }
        }
    }
}

/// MARKETING and UTILITY templates.
fn check_content(def: &TemplateDefinition) -> Result<(), Reject> {
    if let Some(h) = &def.header {
        match h.format {
            HeaderFormat::Text => {
                let text = h.text.as_deref().unwrap_or("");
                if text.trim().is_empty() {
                    return Err(invalid("header: a TEXT header needs a text"));
                }
                too_long("header", text, MAX_HEADER_TEXT_CHARS)?;
                let phs = check_params("header", text, def.parameter_format, &h.examples)?;
                let distinct = Expected::of(text, def.parameter_format).count();
                if distinct > 1 || phs.len() > 1 {
                    return Err(invalid(
                        "header: a TEXT header can have at most one parameter",
                    ));
                }
            }
            f if f.is_media() && h.handles.iter().all(|s| s.trim().is_empty()) => {
                return Err(invalid(format!(
                    "header: the {f} header needs a sample in example.header_handle"
                )));
            }
            _ => {}
        }
    }
    let body = def.body.text.as_str();
    if body.trim().is_empty() {
        return Err(invalid("body: the body text is required"));
    }
    too_long("body", body, MAX_BODY_CHARS)?;
    let phs = check_params("body", body, def.parameter_format, &def.body.examples)?;
    if !phs.is_empty() {
        let trimmed = body.trim();
        if trimmed.starts_with("{{") || trimmed.ends_with("}}") {
            return Err(invalid(
                "body: a parameter cannot be at the very start or end of the body",
            ));
        }
    }
    if let Some(text) = def.footer.as_ref().and_then(|f| f.text.as_deref()) {
        too_long("footer", text, MAX_FOOTER_CHARS)?;
        match placeholders(text) {
            Err(e) => return Err(invalid(format!("footer: {e}"))),
            Ok(p) if !p.is_empty() => {
                return Err(invalid("footer: the footer cannot contain parameters"))
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

fn check_duplicates(
    def: &TemplateDefinition,
    existing: &[&TemplateDefinition],
) -> Result<(), Reject> {
    let footer = |d: &TemplateDefinition| d.footer_text().map(|t| t.trim().to_owned());
    let dup = existing.iter().find(|other| {
        !other.is_authentication()
            && other.language == def.language
            && other.name != def.name
            && other.body.text.trim() == def.body.text.trim()
            && footer(other) == footer(def)
    });
    match dup {
        Some(other) => Err(invalid(format!(
            "duplicate: the template `{}` ({}) already has the same body and footer",
            other.name, other.language
        ))),
        None => Ok(()),
    }
}

fn check_authentication(def: &TemplateDefinition) -> Result<(), Reject> {
    if def.header.is_some() {
        return Err(invalid(
            "header: authentication templates cannot have a header (media are not allowed)",
        ));
    }
    if def.parameter_format == ParameterFormat::Named {
        return Err(invalid(
            "parameter_format: authentication templates use the positional parameter {{1}}",
        ));
    }
    let add_security = def.body.add_security_recommendation;
    let text = def.body.text.trim();
    if !text.is_empty() {
        let plain = if add_security {
            format!("{AUTH_BODY_PLAIN} {AUTH_SECURITY_LINE}")
        } else {
            AUTH_BODY_PLAIN.to_owned()
        };
        let bold = authentication_body_text(add_security);
        if text != plain && text != bold {
            return Err(invalid(format!(
                "body: the body of an authentication template is fixed: `{bold}`"
            )));
        }
    }
    if let Some(footer) = &def.footer {
        let Some(n) = footer.code_expiration_minutes else {
            return Err(invalid(
                "footer: the footer of an authentication template is code_expiration_minutes",
            ));
        };
        if !CODE_EXPIRATION_MINUTES.contains(&n) {
            return Err(invalid(format!(
                "footer: code_expiration_minutes must be between 1 and 90, not {n}"
            )));
        }
        if let Some(t) = &footer.text {
            let expected = authentication_footer_text(n);
            if t.trim() != expected {
                return Err(invalid(format!(
                    "footer: the footer of an authentication template is fixed: `{expected}`"
                )));
            }
        }
    }
    let mut otp = 0;
    for (i, b) in def.buttons.iter().enumerate() {
        let Button::Otp {
            otp_type,
            supported_apps,
            ..
        } = b
        else {
            return Err(invalid(format!(
                "buttons[{i}]: authentication templates have only an OTP button, not {}",
                b.type_str()
            )));
        };
        otp += 1;
        if matches!(otp_type, OtpType::OneTap | OtpType::ZeroTap) {
            let complete = !supported_apps.is_empty()
                && supported_apps.iter().all(|a| {
                    !a.package_name.trim().is_empty() && !a.signature_hash.trim().is_empty()
                });
            if !complete {
                return Err(invalid(format!(
                    "buttons[{i}]: a {otp_type} button needs supported_apps (package_name and \
                     signature_hash)"
                )));
            }
        }
    }
    if otp != 1 {
        return Err(invalid(format!(
            "buttons: an authentication template needs exactly one OTP button (COPY_CODE, \
             ONE_TAP or ZERO_TAP); it has {otp}"
        )));
    }
    let mut texts: Vec<(&str, &str)> = vec![("body", &def.body.text)];
    if let Some(t) = def.footer.as_ref().and_then(|f| f.text.as_deref()) {
        texts.push(("footer", t));
    }
    for b in &def.buttons {
        if let Button::Otp {
            text,
            autofill_text,
            ..
        } = b
        {
            texts.extend(text.as_deref().map(|t| ("buttons", t)));
            texts.extend(autofill_text.as_deref().map(|t| ("buttons", t)));
        }
    }
    for example in def.body.examples.values() {
        if example.chars().count() > MAX_CODE_CHARS {
            return Err(invalid(format!(
                "body: authentication parameters are at most {MAX_CODE_CHARS} characters"
            )));
        }
        texts.push(("body example", example));
    }
    for (label, text) in texts {
        if contains_url(text) {
            return Err(invalid(format!(
                "{label}: URLs are not allowed in authentication templates"
            )));
        }
        if contains_emoji(text) {
            return Err(invalid(format!(
                "{label}: emojis are not allowed in authentication templates"
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Send-time matching
// ---------------------------------------------------------------------------------------

/// `type` of a component in a send body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SendComponentType {
    Header,
    Body,
    /// Accepted in a send body, but a footer never takes parameters.
    Footer,
    Button,
}

/// One parameter of a send body's component.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendParameter {
    pub kind: ParameterKind,
    /// For NAMED templates.
    pub parameter_name: Option<String>,
    /// The value of a `text`, `payload` or `coupon_code` parameter.
    pub value: Option<String>,
}

impl SendParameter {
    pub fn of(kind: ParameterKind) -> Self {
        SendParameter {
            kind,
            parameter_name: None,
            value: None,
        }
    }

    pub fn text(value: impl Into<String>) -> Self {
        SendParameter {
            kind: ParameterKind::Text,
            parameter_name: None,
            value: Some(value.into()),
        }
    }

    pub fn named(name: impl Into<String>, value: impl Into<String>) -> Self {
        SendParameter {
            kind: ParameterKind::Text,
            parameter_name: Some(name.into()),
            value: Some(value.into()),
        }
    }
}

/// One entry of a send body's `template.components`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendComponent {
    pub component: SendComponentType,
    /// Buttons only.
    pub sub_type: Option<ButtonSubType>,
    /// Buttons only: the button's position in the template.
    pub index: Option<usize>,
    pub parameters: Vec<SendParameter>,
}

impl SendComponent {
    pub fn header(parameters: Vec<SendParameter>) -> Self {
        SendComponent {
            component: SendComponentType::Header,
            sub_type: None,
            index: None,
            parameters,
        }
    }

    pub fn body(parameters: Vec<SendParameter>) -> Self {
        SendComponent {
            component: SendComponentType::Body,
            sub_type: None,
            index: None,
            parameters,
        }
    }

    pub fn button(sub_type: ButtonSubType, index: usize, parameters: Vec<SendParameter>) -> Self {
        SendComponent {
            component: SendComponentType::Button,
            sub_type: Some(sub_type),
            index: Some(index),
            parameters,
        }
    }
}

/// Why a send's parameters do not fit the template. Details follow Meta's own wording
/// (`body: number of localizable_params (1) does not match the expected number of params
/// (2)`, `header: Format mismatch, expected IMAGE, received UNKNOWN`, `buttons: Button at
/// index 0 of type Url requires a parameter`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendMismatch {
    /// 132000: a component has the wrong number of parameters (`component` is `header`,
    /// `body` or `buttons[i]`).
    #[error("{component}: number of localizable_params ({got}) does not match the expected number of params ({expected})")]
    Count {
        component: String,
        expected: usize,
        got: usize,
    },
    /// 132012: a parameter is of the wrong kind or names a parameter that does not exist,
    /// or the send's components do not fit the template's (missing media header, wrong
    /// button sub_type or index, named versus positional).
    #[error("{detail}")]
    Format { detail: String },
    /// 131008: a button that needs a parameter (dynamic URL, OTP, copy code, MPM) got none.
    #[error("buttons: Button at index {index} of type {button_type} requires a parameter")]
    ButtonParameterMissing {
        index: usize,
        button_type: &'static str,
    },
    /// 132018: a button that takes no parameter (static URL, phone number, voice call) got
    /// one.
    #[error("buttons: Button at index {index} of type {button_type} does not require parameters")]
    ButtonParameterNotAllowed {
        index: usize,
        button_type: &'static str,
    },
}

impl SendMismatch {
    /// Meta's error code.
    pub const fn code(&self) -> u32 {
        match self {
            SendMismatch::Count { .. } => 132_000,
            SendMismatch::Format { .. } => 132_012,
            SendMismatch::ButtonParameterMissing { .. } => 131_008,
            SendMismatch::ButtonParameterNotAllowed { .. } => 132_018,
        }
    }

    /// Meta's title for the code (the `message` after `(#code) `).
    pub const fn title(&self) -> &'static str {
        match self {
            SendMismatch::Count { .. } => {
                "Number of parameters does not match the expected number of params"
            }
            SendMismatch::Format { .. } => {
                "Parameter format does not match format in the created template"
            }
            SendMismatch::ButtonParameterMissing { .. } => "Required parameter is missing",
            SendMismatch::ButtonParameterNotAllowed { .. } => {
                "There was an issue with the parameters in your template"
            }
        }
    }

    /// `error_data.details`: which component, and the numbers or kinds involved.
    pub fn details(&self) -> String {
        self.to_string()
    }
}

fn format_mismatch(detail: impl Into<String>) -> SendMismatch {
    SendMismatch::Format {
        detail: detail.into(),
    }
}

/// Check a send's `template.components` against an approved template. Components are
/// checked header, body, then buttons; the first mismatch is returned.
///
/// - Header: a TEXT header takes its parameters as `text`; a media or LOCATION header takes
///   exactly one parameter of its kind (none given: `Format mismatch, expected IMAGE,
///   received UNKNOWN`); no header takes none.
/// - Body: `text`, `currency` or `date_time` parameters; positional templates take them in
///   order without `parameter_name`, named templates each with an existing, distinct
///   `parameter_name` (order free). An authentication body takes the code (≤ 15 chars).
/// - Buttons: addressed by `index` with the matching `sub_type` (`url` for OTP buttons).
///   Dynamic URL, OTP, COPY_CODE and MPM buttons need one parameter (`text`, `text`,
///   `coupon_code`, `action`); quick replies (`payload` or `text`), FLOW, CATALOG and SPM
///   (`action`) may take one; static URL, PHONE_NUMBER and VOICE_CALL take none.
pub fn match_send(def: &TemplateDefinition, send: &[SendComponent]) -> Result<(), SendMismatch> {
    let mut header: Option<&SendComponent> = None;
    let mut body: Option<&SendComponent> = None;
    let mut buttons: Vec<&SendComponent> = Vec::new();
    for c in send {
        let slot = match c.component {
            SendComponentType::Header => &mut header,
            SendComponentType::Body => &mut body,
            SendComponentType::Button => {
                buttons.push(c);
                continue;
            }
            SendComponentType::Footer => {
                if c.parameters.is_empty() {
                    continue;
                }
                return Err(SendMismatch::Count {
                    component: "footer".to_owned(),
                    expected: 0,
                    got: c.parameters.len(),
                });
            }
        };
        if slot.is_some() {
            let which = if c.component == SendComponentType::Header {
                "header"
            } else {
                "body"
            };
            return Err(format_mismatch(format!(
                "{which}: the component is given more than once"
            )));
        }
        *slot = Some(c);
    }
    match_header(def, header)?;
    match_body(def, body)?;
    match_buttons(def, &buttons)
}

fn params_of(c: Option<&SendComponent>) -> &[SendParameter] {
    c.map_or(&[], |c| c.parameters.as_slice())
}

fn match_header(
    def: &TemplateDefinition,
    sent: Option<&SendComponent>,
) -> Result<(), SendMismatch> {
    let params = params_of(sent);
    let Some(h) = &def.header else {
        if params.is_empty() {
            return Ok(());
        }
        return Err(SendMismatch::Count {
            component: "header".to_owned(),
            expected: 0,
            got: params.len(),
        });
    };
    let wanted = match h.format {
        HeaderFormat::Text => {
            let expected = Expected::of(h.text.as_deref().unwrap_or(""), def.parameter_format);
            return match_text_params("header", &expected, params, &[ParameterKind::Text]);
        }
        HeaderFormat::Image => ParameterKind::Image,
        HeaderFormat::Video => ParameterKind::Video,
        HeaderFormat::Document => ParameterKind::Document,
        HeaderFormat::Location => ParameterKind::Location,
        HeaderFormat::Product => ParameterKind::Product,
    };
    if params.is_empty() {
        return Err(format_mismatch(format!(
            "header: Format mismatch, expected {}, received UNKNOWN",
            wanted.label()
        )));
    }
    if let Some(p) = params.iter().find(|p| p.kind != wanted) {
        return Err(format_mismatch(format!(
            "header: Format mismatch, expected {}, received {}",
            wanted.label(),
            p.kind.label()
        )));
    }
    if params.len() > 1 {
        return Err(SendMismatch::Count {
            component: "header".to_owned(),
            expected: 1,
            got: params.len(),
        });
    }
    Ok(())
}

const BODY_KINDS: &[ParameterKind] = &[
    ParameterKind::Text,
    ParameterKind::Currency,
    ParameterKind::DateTime,
];

fn match_body(def: &TemplateDefinition, sent: Option<&SendComponent>) -> Result<(), SendMismatch> {
    let params = params_of(sent);
    let format = if def.is_authentication() {
        ParameterFormat::Positional
    } else {
        def.parameter_format
    };
    let expected = Expected::of(&def.body_text(), format);
    match_text_params("body", &expected, params, BODY_KINDS)?;
    if def.is_authentication() {
        check_code_length("body", params)?;
    }
    Ok(())
}

fn check_code_length(label: &str, params: &[SendParameter]) -> Result<(), SendMismatch> {
    match params
        .iter()
        .filter_map(|p| p.value.as_deref())
        .find(|v| v.chars().count() > MAX_CODE_CHARS)
    {
        Some(_) => Err(format_mismatch(format!(
            "{label}: an authentication code is at most {MAX_CODE_CHARS} characters"
        ))),
        None => Ok(()),
    }
}

fn kinds_list(kinds: &[ParameterKind]) -> String {
    let labels: Vec<&str> = kinds.iter().map(|k| k.label()).collect();
    match labels.as_slice() {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Parameters of a text (header or body): kinds, names, then count.
fn match_text_params(
    label: &str,
    expected: &Expected,
    params: &[SendParameter],
    kinds: &[ParameterKind],
) -> Result<(), SendMismatch> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, p) in params.iter().enumerate() {
        let pos = i + 1;
        if !kinds.contains(&p.kind) {
            return Err(format_mismatch(format!(
                "{label}: Format mismatch, expected {}, received {} (parameter {pos})",
                kinds_list(kinds),
                p.kind.label()
            )));
        }
        match (expected, p.parameter_name.as_deref()) {
            (Expected::Positional(_), Some(name)) => {
                return Err(format_mismatch(format!(
                    "{label}: parameter {pos} has parameter_name `{name}` but the template uses \
                     positional parameters"
                )))
            }
            (Expected::Named(_), None) => {
                return Err(format_mismatch(format!(
                    "{label}: parameter {pos} has no parameter_name but the template uses named \
                     parameters"
                )))
            }
            (Expected::Named(names), Some(name)) => {
                if !names.iter().any(|n| n == name) {
                    let known = if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    };
                    return Err(format_mismatch(format!(
                        "{label}: parameter_name `{name}` does not exist in the template \
                         (expected: {known})"
                    )));
                }
                if seen.contains(&name) {
                    return Err(format_mismatch(format!(
                        "{label}: parameter_name `{name}` is given more than once"
                    )));
                }
                seen.push(name);
            }
            (Expected::Positional(_), None) => {}
        }
    }
    if params.len() != expected.count() {
        return Err(SendMismatch::Count {
            component: label.to_owned(),
            expected: expected.count(),
            got: params.len(),
        });
    }
    Ok(())
}

fn match_buttons(def: &TemplateDefinition, sent: &[&SendComponent]) -> Result<(), SendMismatch> {
    let mut covered: Vec<usize> = Vec::new();
    for c in sent {
        let Some(index) = c.index else {
            return Err(format_mismatch("buttons: a button component has no index"));
        };
        let Some(button) = def.buttons.get(index) else {
            return Err(format_mismatch(format!(
                "buttons: there is no button at index {index} (the template has {})",
                def.buttons.len()
            )));
        };
        if covered.contains(&index) {
            return Err(format_mismatch(format!(
                "buttons: the button at index {index} is given more than once"
            )));
        }
        covered.push(index);
        let (sub_type, meta_type, param) = button.send_spec();
        let Some(sent_sub) = c.sub_type else {
            return Err(format_mismatch(format!(
                "buttons: the button component at index {index} has no sub_type"
            )));
        };
        if let Some(want) = sub_type {
            if want != sent_sub {
                return Err(format_mismatch(format!(
                    "buttons: Button at index {index} is of type {} (sub_type {want}), not {sent_sub}",
                    button.type_str()
                )));
            }
        }
        let label = format!("buttons[{index}]");
        match param {
            ButtonParam::None => {
                if !c.parameters.is_empty() {
                    return Err(SendMismatch::ButtonParameterNotAllowed {
                        index,
                        button_type: meta_type,
                    });
                }
            }
            ButtonParam::Optional(kinds) => {
                check_button_kinds(&label, meta_type, &c.parameters, kinds)?;
            }
            ButtonParam::Required(kind) => {
                if c.parameters.is_empty() {
                    return Err(SendMismatch::ButtonParameterMissing {
                        index,
                        button_type: meta_type,
                    });
                }
                check_button_kinds(&label, meta_type, &c.parameters, &[kind])?;
                if matches!(button, Button::Otp { .. }) {
                    check_code_length(&label, &c.parameters)?;
                }
            }
        }
    }
    for (index, button) in def.buttons.iter().enumerate() {
        let (_, meta_type, param) = button.send_spec();
        if matches!(param, ButtonParam::Required(_)) && !covered.contains(&index) {
            return Err(SendMismatch::ButtonParameterMissing {
                index,
                button_type: meta_type,
            });
        }
    }
    Ok(())
}

fn check_button_kinds(
    label: &str,
    meta_type: &str,
    params: &[SendParameter],
    kinds: &[ParameterKind],
) -> Result<(), SendMismatch> {
    if let Some(p) = params.iter().find(|p| !kinds.contains(&p.kind)) {
        return Err(format_mismatch(format!(
            "{label}: Format mismatch for the {meta_type} button, expected {}, received {}",
            kinds_list(kinds),
            p.kind.label()
        )));
    }
    if params.len() > 1 {
        return Err(SendMismatch::Count {
            component: label.to_owned(),
            expected: 1,
            got: params.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    const BEFORE: &str = "2025-01-15";
    const AFTER: &str = "2025-04-09";

    fn utility(body: &str, examples: &[&str]) -> TemplateDefinition {
        let mut d =
            TemplateDefinition::new("order_update", "en_US", TemplateCategory::Utility, body);
        if !examples.is_empty() {
            d.body.examples =
                ParamExamples::Positional(examples.iter().map(|s| (*s).to_owned()).collect());
        }
        d
    }

    fn marketing(body: &str, examples: &[&str]) -> TemplateDefinition {
        let mut d = utility(body, examples);
        d.name = "promo".to_owned();
        d.category = TemplateCategory::Marketing;
        d
    }

    fn named(body: &str, examples: &[(&str, &str)]) -> TemplateDefinition {
        let mut d = utility(body, &[]);
        d.parameter_format = ParameterFormat::Named;
        if !examples.is_empty() {
            d.body.examples = ParamExamples::Named(
                examples
                    .iter()
                    .map(|(n, e)| NamedExample::new(*n, *e))
                    .collect(),
            );
        }
        d
    }

    fn auth(otp_type: OtpType) -> TemplateDefinition {
        let mut d =
            TemplateDefinition::new("auth_code", "en_US", TemplateCategory::Authentication, "");
        d.body.add_security_recommendation = true;
        d.footer = Some(Footer {
            text: None,
            code_expiration_minutes: Some(10),
        });
        let supported_apps = if otp_type == OtpType::CopyCode {
            Vec::new()
        } else {
            vec![SupportedApp {
                package_name: "com.example.luckyshrub".to_owned(),
                signature_hash: "K8a/AINcGX7".to_owned(),
            }]
        };
        d.buttons = vec![Button::Otp {
            otp_type,
            text: Some("Copy Code".to_owned()),
            autofill_text: None,
            supported_apps,
        }];
        d
    }

    fn run(def: &TemplateDefinition) -> ReviewOutcome {
        review(def, &[], day(AFTER), false)
    }

    fn approved(def: &TemplateDefinition) {
        match run(def) {
            ReviewOutcome::Approved { .. } => {}
            other => panic!("expected approval, got {other:?}"),
        }
    }

    #[track_caller]
    fn rejected_with(def: &TemplateDefinition, needle: &str) {
        match run(def) {
            ReviewOutcome::Rejected { reason, detail } => {
                assert_eq!(reason, RejectionReason::InvalidFormat, "{detail}");
                assert!(
                    detail.contains(needle),
                    "`{detail}` does not contain `{needle}`"
                );
            }
            other => panic!("expected rejection containing `{needle}`, got {other:?}"),
        }
    }

    // --- statuses and spellings ---

    #[test]
    fn statuses_round_trip_and_rules() {
        assert_eq!(TemplateStatus::ALL.len(), 13);
        for s in TemplateStatus::ALL {
            assert_eq!(TemplateStatus::parse(s.as_str()), Some(*s));
            assert_eq!(s.as_str().parse::<TemplateStatus>().unwrap(), *s);
            assert_eq!(s.as_str(), s.as_str().to_ascii_uppercase());
            assert_eq!(s.can_send(), *s == TemplateStatus::Approved);
            assert_eq!(
                s.can_edit(),
                matches!(
                    s,
                    TemplateStatus::Approved | TemplateStatus::Rejected | TemplateStatus::Paused
                )
            );
        }
        assert_eq!(
            TemplateStatus::parse("approved"),
            Some(TemplateStatus::Approved)
        );
        assert_eq!(
            TemplateStatus::parse("pending_deletion"),
            Some(TemplateStatus::PendingDeletion)
        );
        assert_eq!(TemplateStatus::parse("NOPE"), None);
        assert!("NOPE".parse::<TemplateStatus>().is_err());
        assert_eq!(TemplateStatus::InAppeal.to_string(), "IN_APPEAL");
    }

    #[test]
    fn other_spellings() {
        assert_eq!(RejectionReason::None.as_str(), "NONE");
        assert_eq!(
            RejectionReason::parse("incorrect_category"),
            Some(RejectionReason::IncorrectCategory)
        );
        assert_eq!(RejectionReason::ALL.len(), 8);
        assert_eq!(ParameterFormat::default(), ParameterFormat::Positional);
        assert_eq!(
            ParameterFormat::parse("named"),
            Some(ParameterFormat::Named)
        );
        assert_eq!(HeaderFormat::parse("image"), Some(HeaderFormat::Image));
        assert!(HeaderFormat::Document.is_media());
        assert!(!HeaderFormat::Location.is_media());
        assert_eq!(OtpType::parse("one_tap"), Some(OtpType::OneTap));
        assert_eq!(
            ButtonSubType::parse("CATALOG"),
            Some(ButtonSubType::Catalog)
        );
        assert_eq!(
            ParameterKind::parse("date_time"),
            Some(ParameterKind::DateTime)
        );
        assert_eq!(ParameterKind::CouponCode.label(), "COUPON_CODE");
        assert_eq!(
            category_as_str(TemplateCategory::Authentication),
            "AUTHENTICATION"
        );
    }

    #[test]
    fn authentication_texts() {
        assert_eq!(
            authentication_body_text(true),
            "*{{1}}* is your verification code. For your security, do not share this code."
        );
        assert_eq!(
            authentication_footer_text(5),
            "This code expires in 5 minutes."
        );
        let d = auth(OtpType::CopyCode);
        assert_eq!(d.body_text(), authentication_body_text(true));
        assert_eq!(d.footer_text().unwrap(), "This code expires in 10 minutes.");
        assert_eq!(utility("Hi there, friend", &[]).footer_text(), None);
    }

    // --- placeholders ---

    #[test]
    fn placeholders_parse_and_reject() {
        assert_eq!(
            placeholders("Hi {{1}}, {{first_name}} and {{1}}").unwrap(),
            vec![
                Placeholder::Positional(1),
                Placeholder::Named("first_name".to_owned()),
                Placeholder::Positional(1)
            ]
        );
        assert!(placeholders("no braces").unwrap().is_empty());
        for bad in [
            "Hi {{1}",
            "Hi {1}}",
            "Hi {{1}}}",
            "Hi }} {{1}}",
            "Hi {{{1}}}",
            "Hi {{ 1 }}",
            "Hi {{First}}",
            "Hi {{01}}",
            "Hi {{}}",
            "Hi {{#1}}",
            "Hi {{1}} and {",
        ] {
            assert!(placeholders(bad).is_err(), "{bad} should be invalid");
        }
        assert_eq!(Placeholder::Named("a".to_owned()).to_string(), "{{a}}");
        assert_eq!(Placeholder::Positional(3).to_string(), "{{3}}");
    }

    // --- review: name ---

    #[test]
    fn name_rules() {
        approved(&utility("Your order has shipped.", &[]));
        let mut d = utility("Your order has shipped.", &[]);
        d.name = "Order-Update".to_owned();
        rejected_with(&d, "lowercase");
        d.name = String::new();
        rejected_with(&d, "empty");
        d.name = "a".repeat(513);
        rejected_with(&d, "512");
        d.name = "a".repeat(512);
        approved(&d);
    }

    // --- review: braces and parameters ---

    #[test]
    fn braces_must_balance() {
        approved(&utility("Hello {{1}}, your order shipped.", &["Ann"]));
        rejected_with(
            &utility("Hello {{1}, your order shipped.", &["Ann"]),
            "curly braces",
        );
        rejected_with(
            &utility("Hello {{1}}}, your order shipped.", &["Ann"]),
            "curly braces",
        );
        rejected_with(
            &utility("Hello {name}, your order shipped.", &[]),
            "curly braces",
        );
    }

    #[test]
    fn positional_parameters_are_sequential_from_one() {
        approved(&utility("Hi {{1}}, order {{2}} is ready.", &["Ann", "42"]));
        // Order of appearance is free; repeats are allowed.
        approved(&utility(
            "Hi {{2}}, order {{1}} for {{2}} is ready.",
            &["42", "Ann"],
        ));
        rejected_with(
            &utility("Hi {{1}}, order {{3}} is ready.", &["Ann", "42"]),
            "sequentially",
        );
        rejected_with(
            &utility("Hi {{2}}, your order is ready.", &["Ann"]),
            "sequentially",
        );
        rejected_with(
            &utility("Hi {{0}}, your order is ready.", &["Ann"]),
            "sequentially",
        );
        // A named marker in a positional template.
        rejected_with(
            &utility("Hi {{name}}, your order is ready.", &["Ann"]),
            "POSITIONAL",
        );
    }

    #[test]
    fn named_parameters_are_lowercase_snake_case() {
        approved(&named(
            "Thank you, {{first_name}}! Your order number is {{order_number}}.",
            &[("first_name", "Pablo"), ("order_number", "860198-230332")],
        ));
        rejected_with(
            &named(
                "Thank you, {{FirstName}}! Your order shipped.",
                &[("FirstName", "Pablo")],
            ),
            "not a valid parameter",
        );
        rejected_with(
            &named("Thank you, {{1}}! Your order shipped.", &[]),
            "NAMED",
        );
    }

    #[test]
    fn no_parameter_at_start_or_end_of_body() {
        rejected_with(
            &utility("{{1}}, your order shipped.", &["Ann"]),
            "start or end",
        );
        rejected_with(
            &utility("Your order number is {{1}}", &["42"]),
            "start or end",
        );
        rejected_with(
            &utility("  Your order number is {{1}}  ", &["42"]),
            "start or end",
        );
        approved(&utility("Your order number is {{1}}.", &["42"]));
        rejected_with(
            &named(
                "{{first_name}}, your order shipped.",
                &[("first_name", "Ann")],
            ),
            "start or end",
        );
    }

    #[test]
    fn examples_for_every_body_parameter() {
        rejected_with(
            &utility("Hi {{1}}, order {{2}} is ready.", &[]),
            "body_text is required",
        );
        rejected_with(
            &utility("Hi {{1}}, order {{2}} is ready.", &["Ann"]),
            "1 example",
        );
        rejected_with(
            &utility("Hi {{1}}, your order is ready.", &["Ann", "x"]),
            "2 example",
        );
        rejected_with(&utility("Hi {{1}}, your order is ready.", &[" "]), "empty");
        let mut d = utility("Hi {{1}}, your order is ready.", &[]);
        d.body.examples = ParamExamples::Named(vec![NamedExample::new("a", "b")]);
        rejected_with(&d, "named examples");
        // Named: missing, empty, extra, wrong kind.
        let text = "Thank you, {{first_name}}! Order {{order_number}} shipped.";
        rejected_with(&named(text, &[]), "body_text_named_params is required");
        rejected_with(
            &named(text, &[("first_name", "Pablo")]),
            "no example for {{order_number}}",
        );
        rejected_with(
            &named(text, &[("first_name", "Pablo"), ("order_number", "")]),
            "no example for {{order_number}}",
        );
        rejected_with(
            &named(
                text,
                &[("first_name", "P"), ("order_number", "1"), ("other", "x")],
            ),
            "{{other}}, which is not in the text",
        );
        let mut d = named(text, &[]);
        d.body.examples = ParamExamples::Positional(vec!["a".to_owned(), "b".to_owned()]);
        rejected_with(&d, "positional examples");
    }

    #[test]
    fn header_text_parameter_needs_example_and_at_most_one() {
        let mut d = marketing("Shop now through {{1}}.", &["August"]);
        d.header = Some(Header::text("Our {{1}} is on!"));
        rejected_with(&d, "header: example.header_text is required");
        d.header.as_mut().unwrap().examples =
            ParamExamples::Positional(vec!["Summer Sale".to_owned()]);
        approved(&d);
        d.header = Some(Header {
            examples: ParamExamples::Positional(vec!["a".to_owned(), "b".to_owned()]),
            ..Header::text("Our {{1}} is {{2}}!")
        });
        rejected_with(&d, "at most one parameter");
        d.header = Some(Header::text(""));
        rejected_with(&d, "needs a text");
        d.header = Some(Header::text("x".repeat(61)));
        rejected_with(&d, "header: 61 characters");
    }

    #[test]
    fn media_header_needs_a_handle() {
        let mut d = marketing("Your order has shipped.", &[]);
        d.header = Some(Header::media(HeaderFormat::Image, "4::aW1hZ2UvanBn:ARY"));
        approved(&d);
        d.header = Some(Header {
            handles: Vec::new(),
            ..Header::media(HeaderFormat::Video, "")
        });
        rejected_with(&d, "header_handle");
        d.header = Some(Header {
            format: HeaderFormat::Location,
            text: None,
            examples: ParamExamples::None,
            handles: Vec::new(),
        });
        approved(&d);
    }

    #[test]
    fn url_button_rules() {
        let url = |url: &str, example: Option<&str>| Button::Url {
            text: "Shop Now".to_owned(),
            url: url.to_owned(),
            example: example.map(str::to_owned),
        };
        let mut d = marketing("Your order has shipped.", &[]);
        d.buttons = vec![url(
            "https://example.com/shop?promo={{1}}",
            Some("summer2023"),
        )];
        approved(&d);
        d.buttons = vec![url("https://example.com/shop?promo={{1}}", None)];
        rejected_with(&d, "no example");
        d.buttons = vec![url("https://example.com/{{1}}/shop", Some("x"))];
        rejected_with(&d, "at the end");
        d.buttons = vec![url("https://example.com/{{2}}", Some("x"))];
        rejected_with(&d, "at the end");
        d.buttons = vec![url("https://example.com/{{1}", Some("x"))];
        rejected_with(&d, "curly braces");
        d.buttons = vec![url("ftp://example.com/", None)];
        rejected_with(&d, "http");
        d.buttons = vec![url("https://example.com/support", None)];
        approved(&d);
    }

    #[test]
    fn footer_rules() {
        let mut d = utility("Your order has shipped.", &[]);
        d.footer = Some(Footer {
            text: Some("Reply STOP to opt out".to_owned()),
            code_expiration_minutes: None,
        });
        approved(&d);
        d.footer.as_mut().unwrap().text = Some("Hi {{1}}".to_owned());
        rejected_with(&d, "footer cannot contain parameters");
        d.footer.as_mut().unwrap().text = Some("Hi {1".to_owned());
        rejected_with(&d, "footer: unbalanced");
        d.footer.as_mut().unwrap().text = Some("x".repeat(61));
        rejected_with(&d, "footer: 61 characters");
    }

    #[test]
    fn body_required_and_limited() {
        rejected_with(&utility("   ", &[]), "body text is required");
        rejected_with(&utility(&"x".repeat(1025), &[]), "body: 1025 characters");
        approved(&utility(&"x".repeat(1024), &[]));
    }

    #[test]
    fn button_limits() {
        let qr = |t: &str| Button::QuickReply { text: t.to_owned() };
        let mut d = marketing("Your order has shipped.", &[]);
        d.buttons = (0..10).map(|i| qr(&format!("Option {i}"))).collect();
        approved(&d);
        d.buttons.push(qr("Eleven"));
        rejected_with(&d, "11 buttons");
        d.buttons = vec![qr("")];
        rejected_with(&d, "button text is empty");
        d.buttons = vec![qr(&"x".repeat(26))];
        rejected_with(&d, "buttons[0]: 26 characters");
        let phone = || Button::PhoneNumber {
            text: "Call".to_owned(),
            phone_number: "16467043595".to_owned(),
        };
        d.buttons = vec![phone(), phone()];
        rejected_with(&d, "2 PHONE_NUMBER buttons");
        d.buttons = vec![Button::PhoneNumber {
            text: "Call".to_owned(),
            phone_number: " ".to_owned(),
        }];
        rejected_with(&d, "phone_number is empty");
        let url = || Button::Url {
            text: "Visit".to_owned(),
            url: "https://example.com".to_owned(),
            example: None,
        };
        d.buttons = vec![url(), url(), url()];
        rejected_with(&d, "3 URL buttons");
        d.buttons = vec![Button::CopyCode {
            example: Some("250FF".to_owned()),
        }];
        approved(&d);
        d.buttons = vec![Button::CopyCode { example: None }];
        rejected_with(&d, "needs an example code");
        d.buttons = vec![Button::CopyCode {
            example: Some("X".repeat(16)),
        }];
        rejected_with(&d, "longer than 15");
        let cc = || Button::CopyCode {
            example: Some("A".to_owned()),
        };
        d.buttons = vec![cc(), cc()];
        rejected_with(&d, "2 COPY_CODE buttons");
        d.buttons = vec![Button::Flow {
            text: "Go".to_owned(),
            flow_id: None,
            flow_name: None,
            flow_json: None,
            flow_action: Some("navigate".to_owned()),
            navigate_screen: None,
        }];
        rejected_with(&d, "flow_id");
        d.buttons = vec![Button::Flow {
            text: "Go".to_owned(),
            flow_id: Some("123".to_owned()),
            flow_name: None,
            flow_json: None,
            flow_action: Some("navigate".to_owned()),
            navigate_screen: Some("WELCOME".to_owned()),
        }];
        approved(&d);
    }

    // --- review: duplicates ---

    #[test]
    fn duplicate_body_and_footer_in_same_language() {
        let footer = |t: &str| {
            Some(Footer {
                text: Some(t.to_owned()),
                code_expiration_minutes: None,
            })
        };
        let mut existing = utility("Your order has shipped.", &[]);
        existing.name = "shipped_v1".to_owned();
        existing.footer = footer("Thanks");
        let mut new = utility("Your order has shipped.", &[]);
        new.footer = footer("Thanks");
        match review(&new, &[&existing], day(AFTER), false) {
            ReviewOutcome::Rejected { reason, detail } => {
                assert_eq!(reason, RejectionReason::InvalidFormat);
                assert!(detail.contains("shipped_v1"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        // Another footer, another language, or the template itself: no duplicate.
        let mut other_footer = new.clone();
        other_footer.footer = footer("Thank you");
        assert!(matches!(
            review(&other_footer, &[&existing], day(AFTER), false),
            ReviewOutcome::Approved { .. }
        ));
        let mut other_lang = new.clone();
        other_lang.language = "pt_BR".to_owned();
        assert!(matches!(
            review(&other_lang, &[&existing], day(AFTER), false),
            ReviewOutcome::Approved { .. }
        ));
        let mut itself = existing.clone();
        itself.buttons = vec![Button::QuickReply {
            text: "OK".to_owned(),
        }];
        assert!(matches!(
            review(&itself, &[&existing], day(AFTER), false),
            ReviewOutcome::Approved { .. }
        ));
    }

    #[test]
    fn duplicate_check_skips_authentication() {
        let a = auth(OtpType::CopyCode);
        let mut b = a.clone();
        b.name = "auth_code_2".to_owned();
        assert_eq!(
            review(&b, &[&a], day(AFTER), false),
            ReviewOutcome::Approved {
                category: TemplateCategory::Authentication
            }
        );
    }

    // --- review: authentication ---

    #[test]
    fn authentication_templates_from_the_oas_examples() {
        for t in OtpType::ALL {
            approved(&auth(*t));
        }
        // Without footer, without security line, with the text given (bold or plain).
        let mut d = auth(OtpType::CopyCode);
        d.footer = None;
        d.body.add_security_recommendation = false;
        approved(&d);
        d.body.text = "{{1}} is your verification code.".to_owned();
        approved(&d);
        d.body.text = AUTH_BODY.to_owned();
        approved(&d);
        d.body.add_security_recommendation = true;
        d.body.text =
            "*{{1}}* is your verification code. For your security, do not share this code."
                .to_owned();
        approved(&d);
        d.footer = Some(Footer {
            text: Some("This code expires in 90 minutes.".to_owned()),
            code_expiration_minutes: Some(90),
        });
        approved(&d);
    }

    #[test]
    fn authentication_body_is_fixed() {
        let mut d = auth(OtpType::CopyCode);
        d.body.text = "Your code is {{1}}.".to_owned();
        rejected_with(&d, "body of an authentication template is fixed");
        // The security line without the flag.
        let mut d = auth(OtpType::CopyCode);
        d.body.add_security_recommendation = false;
        d.body.text = authentication_body_text(true);
        rejected_with(&d, "fixed");
        let mut d = auth(OtpType::CopyCode);
        d.parameter_format = ParameterFormat::Named;
        rejected_with(&d, "positional");
    }

    #[test]
    fn authentication_expiry_between_1_and_90() {
        for (n, ok) in [(0, false), (1, true), (90, true), (91, false)] {
            let mut d = auth(OtpType::CopyCode);
            d.footer = Some(Footer {
                text: None,
                code_expiration_minutes: Some(n),
            });
            if ok {
                approved(&d);
            } else {
                rejected_with(&d, "between 1 and 90");
            }
        }
        let mut d = auth(OtpType::CopyCode);
        d.footer = Some(Footer {
            text: Some("This code expires in 5 minutes.".to_owned()),
            code_expiration_minutes: Some(10),
        });
        rejected_with(&d, "This code expires in 10 minutes.");
        d.footer = Some(Footer {
            text: Some("This code expires soon.".to_owned()),
            code_expiration_minutes: None,
        });
        rejected_with(&d, "code_expiration_minutes");
    }

    #[test]
    fn authentication_needs_one_otp_button() {
        let mut d = auth(OtpType::CopyCode);
        d.buttons.clear();
        rejected_with(&d, "exactly one OTP button");
        let mut d = auth(OtpType::CopyCode);
        d.buttons.push(d.buttons[0].clone());
        rejected_with(&d, "it has 2");
        let mut d = auth(OtpType::CopyCode);
        d.buttons.push(Button::QuickReply {
            text: "Not me".to_owned(),
        });
        rejected_with(&d, "not QUICK_REPLY");
        for t in [OtpType::OneTap, OtpType::ZeroTap] {
            let mut d = auth(t);
            if let Button::Otp { supported_apps, .. } = &mut d.buttons[0] {
                supported_apps.clear();
            }
            rejected_with(&d, "supported_apps");
        }
        // OTP buttons elsewhere.
        let mut m = marketing("Your order has shipped.", &[]);
        m.buttons = auth(OtpType::CopyCode).buttons;
        rejected_with(&m, "only for AUTHENTICATION");
    }

    #[test]
    fn authentication_no_media_urls_emojis_long_parameters() {
        let mut d = auth(OtpType::CopyCode);
        d.header = Some(Header::media(HeaderFormat::Image, "h"));
        rejected_with(&d, "cannot have a header");
        let mut d = auth(OtpType::CopyCode);
        d.header = Some(Header::text("Your code"));
        rejected_with(&d, "cannot have a header");
        let mut d = auth(OtpType::CopyCode);
        d.buttons = vec![Button::Otp {
            otp_type: OtpType::CopyCode,
            text: Some("Copy 🔑".to_owned()),
            autofill_text: None,
            supported_apps: Vec::new(),
        }];
        rejected_with(&d, "emojis");
        let mut d = auth(OtpType::OneTap);
        if let Button::Otp { autofill_text, .. } = &mut d.buttons[0] {
            *autofill_text = Some("www.example.com".to_owned());
        }
        rejected_with(&d, "URLs");
        let mut d = auth(OtpType::CopyCode);
        d.body.examples = ParamExamples::Positional(vec!["1234567890123456".to_owned()]);
        rejected_with(&d, "at most 15");
        d.body.examples = ParamExamples::Positional(vec!["123456789012345".to_owned()]);
        approved(&d);
        d.body.examples = ParamExamples::Positional(vec!["https://x.io".to_owned()]);
        rejected_with(&d, "URLs");
        d.body.examples = ParamExamples::Positional(vec!["✅1".to_owned()]);
        rejected_with(&d, "emojis");
    }

    #[test]
    fn url_and_emoji_detection() {
        assert!(contains_url("see HTTPS://x.io"));
        assert!(contains_url("www.example.com"));
        assert!(!contains_url("no links here"));
        for e in ["😀", "✅", "❤", "⭐", "🇧🇷", "⏰"] {
            assert!(contains_emoji(e), "{e}");
        }
        for t in ["plain", "© 2025", "é à ü", "日本語", "→ next"] {
            assert!(!contains_emoji(t), "{t}");
        }
    }

    // --- review: category validation ---

    #[test]
    fn promotional_keyword_heuristic() {
        let kw = |body: &str| promotional_keyword(&utility(body, &[]));
        assert_eq!(kw("Our Fall Sale is on!"), Some("sale"));
        assert_eq!(kw("Get 25% OFF today."), Some("% off"));
        assert_eq!(kw("A DISCOUNT for you."), Some("discount"));
        assert_eq!(kw("Use promo code X."), Some("promo"));
        assert_eq!(kw("Buy now, pay later."), Some("buy now"));
        assert_eq!(kw("For a limited-time only."), Some("limited time"));
        assert_eq!(kw("Free shipping on all orders."), Some("free shipping"));
        assert_eq!(kw("Your order has shipped."), None);
        assert_eq!(kw("Your wholesale account statement is ready."), None);
        assert_eq!(kw("Your sales report is ready."), None);
        assert_eq!(kw("We are offering a refund."), None);
        assert_eq!(kw("Your 25% deposit was received."), None);
        // Header, footer and button texts count too.
        let mut d = utility("Your order has shipped.", &[]);
        d.footer = Some(Footer {
            text: Some("Shop now!".to_owned()),
            code_expiration_minutes: None,
        });
        assert_eq!(promotional_keyword(&d), Some("shop now"));
        let mut d = utility("Your order has shipped.", &[]);
        d.buttons = vec![Button::QuickReply {
            text: "See offers".to_owned(),
        }];
        assert_eq!(promotional_keyword(&d), Some("offers"));
        let mut d = utility("Your order has shipped.", &[]);
        d.header = Some(Header::text("Coupon inside"));
        assert_eq!(promotional_keyword(&d), Some("coupon"));
        // Examples do not.
        assert_eq!(
            promotional_keyword(&utility("Your code is {{1}}.", &["SALE"])),
            None
        );
    }

    #[test]
    fn promotional_utility_is_recategorised_from_2025_04_09() {
        let d = utility(
            "Hi {{1}}, our Fall Sale is on! Use code {{2}}.",
            &["Mark", "FALL25"],
        );
        for allow in [false, true] {
            assert_eq!(
                review(&d, &[], day(AFTER), allow),
                ReviewOutcome::Approved {
                    category: TemplateCategory::Marketing
                }
            );
            assert_eq!(
                review(&d, &[], day("2026-01-01"), allow),
                ReviewOutcome::Approved {
                    category: TemplateCategory::Marketing
                }
            );
        }
        assert!(recategorises_by_default(day("2025-04-09")));
        assert!(!recategorises_by_default(day("2025-04-08")));
    }

    #[test]
    fn promotional_utility_before_2025_04_09() {
        let d = utility(
            "Hi {{1}}, our Fall Sale is on! Use code {{2}}.",
            &["Mark", "FALL25"],
        );
        match review(&d, &[], day(BEFORE), false) {
            ReviewOutcome::Rejected { reason, detail } => {
                assert_eq!(reason, RejectionReason::IncorrectCategory);
                assert!(detail.contains("sale"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            review(&d, &[], day("2025-04-08"), true),
            ReviewOutcome::Approved {
                category: TemplateCategory::Marketing
            }
        );
        assert_eq!(
            review(&d, &[], day(BEFORE), false).status(),
            TemplateStatus::Rejected
        );
    }

    #[test]
    fn non_promotional_and_other_categories_keep_their_category() {
        let d = utility("Hi {{1}}, your order {{2}} has shipped.", &["Mark", "42"]);
        assert_eq!(
            review(&d, &[], day(BEFORE), false),
            ReviewOutcome::Approved {
                category: TemplateCategory::Utility
            }
        );
        let m = marketing("Hi {{1}}, our Fall Sale is on!", &["Mark"]);
        assert_eq!(
            review(&m, &[], day(BEFORE), false),
            ReviewOutcome::Approved {
                category: TemplateCategory::Marketing
            }
        );
        assert_eq!(
            review(&m, &[], day(BEFORE), false).status(),
            TemplateStatus::Approved
        );
    }

    #[test]
    fn format_errors_win_over_category() {
        let d = utility("Our sale {{2}} is on.", &["x"]);
        match review(&d, &[], day(BEFORE), false) {
            ReviewOutcome::Rejected { reason, .. } => {
                assert_eq!(reason, RejectionReason::InvalidFormat)
            }
            other => panic!("{other:?}"),
        }
    }

    // --- send matching ---

    fn full_marketing() -> TemplateDefinition {
        let mut d = marketing(
            "Hi {{1}}! Get our {{2}} for as low as {{3}}.",
            &["Mark", "Tuscan Getaway package", "800"],
        );
        d.header = Some(Header::media(HeaderFormat::Image, "4::aW1h"));
        d.buttons = vec![
            Button::PhoneNumber {
                text: "Call".to_owned(),
                phone_number: "16467043595".to_owned(),
            },
            Button::Url {
                text: "Shop Now".to_owned(),
                url: "https://example.com/shop?promo={{1}}".to_owned(),
                example: Some("summer2023".to_owned()),
            },
            Button::QuickReply {
                text: "Stop promotions".to_owned(),
            },
        ];
        d
    }

    fn image() -> SendParameter {
        SendParameter::of(ParameterKind::Image)
    }

    fn good_send() -> Vec<SendComponent> {
        vec![
            SendComponent::header(vec![image()]),
            SendComponent::body(vec![
                SendParameter::text("Mark"),
                SendParameter::of(ParameterKind::Currency),
                SendParameter::of(ParameterKind::DateTime),
            ]),
            SendComponent::button(ButtonSubType::Url, 1, vec![SendParameter::text("s23")]),
        ]
    }

    #[test]
    fn a_matching_send_passes() {
        let d = full_marketing();
        assert_eq!(match_send(&d, &good_send()), Ok(()));
        // Quick reply with a payload (optional).
        let mut s = good_send();
        s.push(SendComponent::button(
            ButtonSubType::QuickReply,
            2,
            vec![SendParameter::of(ParameterKind::Payload)],
        ));
        assert_eq!(match_send(&d, &s), Ok(()));
        // A template without parameters needs no components.
        assert_eq!(
            match_send(&utility("Your order has shipped.", &[]), &[]),
            Ok(())
        );
        // Body component with no parameters on a parameterless body is fine.
        assert_eq!(
            match_send(
                &utility("Your order has shipped.", &[]),
                &[SendComponent::body(vec![])]
            ),
            Ok(())
        );
    }

    #[test]
    fn body_count_mismatch() {
        let d = full_marketing();
        let mut s = good_send();
        s[1].parameters.pop();
        let e = match_send(&d, &s).unwrap_err();
        assert_eq!(
            e,
            SendMismatch::Count {
                component: "body".to_owned(),
                expected: 3,
                got: 2
            }
        );
        assert_eq!(e.code(), 132_000);
        assert_eq!(
            e.details(),
            "body: number of localizable_params (2) does not match the expected number of params (3)"
        );
        // Missing body entirely.
        s.remove(1);
        assert_eq!(
            match_send(&d, &s),
            Err(SendMismatch::Count {
                component: "body".to_owned(),
                expected: 3,
                got: 0
            })
        );
        // Too many for a body without parameters.
        let plain = utility("Your order has shipped.", &[]);
        let e = match_send(
            &plain,
            &[SendComponent::body(vec![SendParameter::text("x")])],
        )
        .unwrap_err();
        assert_eq!(e.code(), 132_000);
    }

    #[test]
    fn body_kind_mismatch() {
        let d = full_marketing();
        let mut s = good_send();
        s[1].parameters[0] = image();
        let e = match_send(&d, &s).unwrap_err();
        assert_eq!(e.code(), 132_012);
        assert!(
            e.details().starts_with("body: Format mismatch"),
            "{}",
            e.details()
        );
        assert!(e.details().contains("received IMAGE"), "{}", e.details());
    }

    #[test]
    fn named_versus_positional() {
        let n = named(
            "Thank you, {{first_name}}! Your order number is {{order_number}}.",
            &[("first_name", "Pablo"), ("order_number", "1")],
        );
        let ok = [SendComponent::body(vec![
            SendParameter::named("order_number", "860198"),
            SendParameter::named("first_name", "Pablo"),
        ])];
        assert_eq!(match_send(&n, &ok), Ok(()));
        // Positional parameters to a named template.
        let e = match_send(
            &n,
            &[SendComponent::body(vec![
                SendParameter::text("a"),
                SendParameter::text("b"),
            ])],
        )
        .unwrap_err();
        assert_eq!(e.code(), 132_012);
        assert!(e.details().contains("no parameter_name"), "{}", e.details());
        // Unknown name.
        let e = match_send(
            &n,
            &[SendComponent::body(vec![
                SendParameter::named("first_name", "a"),
                SendParameter::named("order_id", "b"),
            ])],
        )
        .unwrap_err();
        assert_eq!(e.code(), 132_012);
        assert!(
            e.details().contains("`order_id` does not exist"),
            "{}",
            e.details()
        );
        assert!(
            e.details().contains("first_name, order_number"),
            "{}",
            e.details()
        );
        // Same name twice.
        let e = match_send(
            &n,
            &[SendComponent::body(vec![
                SendParameter::named("first_name", "a"),
                SendParameter::named("first_name", "b"),
            ])],
        )
        .unwrap_err();
        assert!(e.details().contains("more than once"), "{}", e.details());
        // Missing one: count.
        let e = match_send(
            &n,
            &[SendComponent::body(vec![SendParameter::named(
                "first_name",
                "a",
            )])],
        )
        .unwrap_err();
        assert_eq!(
            e,
            SendMismatch::Count {
                component: "body".to_owned(),
                expected: 2,
                got: 1
            }
        );
        // Named parameters to a positional template.
        let p = utility("Hi {{1}}, your order is ready.", &["Ann"]);
        let e = match_send(
            &p,
            &[SendComponent::body(vec![SendParameter::named(
                "name", "Ann",
            )])],
        )
        .unwrap_err();
        assert_eq!(e.code(), 132_012);
        assert!(e.details().contains("positional"), "{}", e.details());
    }

    #[test]
    fn header_mismatches() {
        let d = full_marketing();
        // Missing media header.
        let mut s = good_send();
        s.remove(0);
        let e = match_send(&d, &s).unwrap_err();
        assert_eq!(e.code(), 132_012);
        assert_eq!(
            e.details(),
            "header: Format mismatch, expected IMAGE, received UNKNOWN"
        );
        // Text where the image is expected.
        let mut s = good_send();
        s[0].parameters = vec![SendParameter::text("x")];
        assert_eq!(
            match_send(&d, &s).unwrap_err().details(),
            "header: Format mismatch, expected IMAGE, received TEXT"
        );
        // Two images.
        let mut s = good_send();
        s[0].parameters.push(image());
        assert_eq!(
            match_send(&d, &s),
            Err(SendMismatch::Count {
                component: "header".to_owned(),
                expected: 1,
                got: 2
            })
        );
        // An image to a TEXT header.
        let mut t = marketing("Shop now through {{1}}.", &["August"]);
        t.header = Some(Header {
            examples: ParamExamples::Positional(vec!["Summer Sale".to_owned()]),
            ..Header::text("Our {{1}} is on!")
        });
        let body = SendComponent::body(vec![SendParameter::text("Aug")]);
        let e = match_send(&t, &[SendComponent::header(vec![image()]), body.clone()]).unwrap_err();
        assert_eq!(e.code(), 132_012);
        assert!(
            e.details().contains("expected TEXT, received IMAGE"),
            "{}",
            e.details()
        );
        // A TEXT header parameter missing.
        assert_eq!(
            match_send(&t, std::slice::from_ref(&body)),
            Err(SendMismatch::Count {
                component: "header".to_owned(),
                expected: 1,
                got: 0
            })
        );
        assert_eq!(
            match_send(
                &t,
                &[
                    SendComponent::header(vec![SendParameter::text("Sale")]),
                    body.clone()
                ]
            ),
            Ok(())
        );
        // A header parameter for a template without a header, or with a static TEXT one.
        let plain = utility("Your order has shipped.", &[]);
        assert_eq!(
            match_send(&plain, &[SendComponent::header(vec![image()])]),
            Err(SendMismatch::Count {
                component: "header".to_owned(),
                expected: 0,
                got: 1
            })
        );
        let mut static_header = plain.clone();
        static_header.header = Some(Header::text("Hello"));
        assert_eq!(
            match_send(
                &static_header,
                &[SendComponent::header(vec![SendParameter::text("x")])]
            )
            .unwrap_err()
            .code(),
            132_000
        );
        // Location header.
        let mut loc = plain.clone();
        loc.header = Some(Header {
            format: HeaderFormat::Location,
            text: None,
            examples: ParamExamples::None,
            handles: Vec::new(),
        });
        assert_eq!(
            match_send(
                &loc,
                &[SendComponent::header(vec![SendParameter::of(
                    ParameterKind::Location
                )])]
            ),
            Ok(())
        );
        assert!(match_send(&loc, &[])
            .unwrap_err()
            .details()
            .contains("expected LOCATION"));
        // A header given twice.
        let e = match_send(
            &d,
            &[
                SendComponent::header(vec![image()]),
                SendComponent::header(vec![image()]),
            ],
        )
        .unwrap_err();
        assert!(e.details().contains("more than once"), "{}", e.details());
    }

    #[test]
    fn named_header() {
        let mut t = named(
            "Hello {{first_name}}, your order shipped.",
            &[("first_name", "Ann")],
        );
        t.header = Some(Header {
            examples: ParamExamples::Named(vec![NamedExample::new("city", "Paris")]),
            ..Header::text("News from {{city}}")
        });
        approved(&t);
        let body = SendComponent::body(vec![SendParameter::named("first_name", "Ann")]);
        assert_eq!(
            match_send(
                &t,
                &[
                    SendComponent::header(vec![SendParameter::named("city", "Rome")]),
                    body.clone()
                ]
            ),
            Ok(())
        );
        let e = match_send(
            &t,
            &[
                SendComponent::header(vec![SendParameter::named("town", "Rome")]),
                body,
            ],
        )
        .unwrap_err();
        assert!(
            e.details().starts_with("header: parameter_name `town`"),
            "{}",
            e.details()
        );
    }

    #[test]
    fn button_mismatches() {
        let d = full_marketing();
        // Dynamic URL button not given: 131008.
        let mut s = good_send();
        s.pop();
        let e = match_send(&d, &s).unwrap_err();
        assert_eq!(
            e,
            SendMismatch::ButtonParameterMissing {
                index: 1,
                button_type: "Url"
            }
        );
        assert_eq!(e.code(), 131_008);
        assert_eq!(
            e.details(),
            "buttons: Button at index 1 of type Url requires a parameter"
        );
        // Given with no parameter.
        let mut s = good_send();
        s[2].parameters.clear();
        assert_eq!(match_send(&d, &s).unwrap_err().code(), 131_008);
        // Two parameters: count.
        let mut s = good_send();
        s[2].parameters.push(SendParameter::text("y"));
        let e = match_send(&d, &s).unwrap_err();
        assert_eq!(
            e,
            SendMismatch::Count {
                component: "buttons[1]".to_owned(),
                expected: 1,
                got: 2
            }
        );
        // Wrong kind.
        let mut s = good_send();
        s[2].parameters = vec![SendParameter::of(ParameterKind::Payload)];
        let e = match_send(&d, &s).unwrap_err();
        assert_eq!(e.code(), 132_012);
        assert!(
            e.details().contains("expected TEXT, received PAYLOAD"),
            "{}",
            e.details()
        );
        // Wrong sub_type for the index.
        let mut s = good_send();
        s[2].sub_type = Some(ButtonSubType::QuickReply);
        let e = match_send(&d, &s).unwrap_err();
        assert_eq!(e.code(), 132_012);
        assert!(e.details().contains("is of type URL"), "{}", e.details());
        // No such index.
        let mut s = good_send();
        s.push(SendComponent::button(ButtonSubType::QuickReply, 7, vec![]));
        let e = match_send(&d, &s).unwrap_err();
        assert!(
            e.details().contains("no button at index 7"),
            "{}",
            e.details()
        );
        // Same index twice.
        let mut s = good_send();
        s.push(s[2].clone());
        assert!(match_send(&d, &s)
            .unwrap_err()
            .details()
            .contains("more than once"));
        // A parameter for the phone-number button: 132018.
        let mut s = good_send();
        s.push(SendComponent::button(
            ButtonSubType::Url,
            0,
            vec![SendParameter::text("x")],
        ));
        let e = match_send(&d, &s).unwrap_err();
        assert_eq!(
            e,
            SendMismatch::ButtonParameterNotAllowed {
                index: 0,
                button_type: "PhoneNumber"
            }
        );
        assert_eq!(e.code(), 132_018);
        assert_eq!(
            e.details(),
            "buttons: Button at index 0 of type PhoneNumber does not require parameters"
        );
        // A static URL button given a parameter.
        let mut st = utility("Your order has shipped.", &[]);
        st.buttons = vec![Button::Url {
            text: "Track".to_owned(),
            url: "https://example.com/track".to_owned(),
            example: None,
        }];
        let e = match_send(
            &st,
            &[SendComponent::button(
                ButtonSubType::Url,
                0,
                vec![SendParameter::text("x")],
            )],
        )
        .unwrap_err();
        assert_eq!(
            e.details(),
            "buttons: Button at index 0 of type Url does not require parameters"
        );
        // Index or sub_type missing.
        let mut s = good_send();
        s[2].index = None;
        assert!(match_send(&d, &s)
            .unwrap_err()
            .details()
            .contains("no index"));
        let mut s = good_send();
        s[2].sub_type = None;
        assert!(match_send(&d, &s)
            .unwrap_err()
            .details()
            .contains("no sub_type"));
        // Quick reply with two payloads.
        let mut s = good_send();
        s.push(SendComponent::button(
            ButtonSubType::QuickReply,
            2,
            vec![
                SendParameter::of(ParameterKind::Payload),
                SendParameter::of(ParameterKind::Payload),
            ],
        ));
        assert_eq!(match_send(&d, &s).unwrap_err().code(), 132_000);
    }

    #[test]
    fn copy_code_flow_catalog_mpm_buttons() {
        let mut d = marketing("Use the code below, friend.", &[]);
        d.buttons = vec![
            Button::CopyCode {
                example: Some("250FF".to_owned()),
            },
            Button::Flow {
                text: "Book".to_owned(),
                flow_id: Some("1".to_owned()),
                flow_name: None,
                flow_json: None,
                flow_action: None,
                navigate_screen: None,
            },
            Button::Catalog {
                text: "View catalog".to_owned(),
            },
            Button::Mpm {
                text: "View items".to_owned(),
            },
        ];
        let action = || SendParameter::of(ParameterKind::Action);
        let coupon = SendComponent::button(
            ButtonSubType::CopyCode,
            0,
            vec![SendParameter::of(ParameterKind::CouponCode)],
        );
        let mpm = SendComponent::button(ButtonSubType::Mpm, 3, vec![action()]);
        assert_eq!(match_send(&d, &[coupon.clone(), mpm.clone()]), Ok(()));
        assert_eq!(
            match_send(
                &d,
                &[
                    coupon.clone(),
                    SendComponent::button(ButtonSubType::Flow, 1, vec![action()]),
                    SendComponent::button(ButtonSubType::Catalog, 2, vec![action()]),
                    mpm.clone(),
                ]
            ),
            Ok(())
        );
        assert_eq!(
            match_send(&d, std::slice::from_ref(&mpm)),
            Err(SendMismatch::ButtonParameterMissing {
                index: 0,
                button_type: "CopyCode"
            })
        );
        assert_eq!(
            match_send(&d, std::slice::from_ref(&coupon)),
            Err(SendMismatch::ButtonParameterMissing {
                index: 3,
                button_type: "Mpm"
            })
        );
        let e = match_send(
            &d,
            &[
                SendComponent::button(ButtonSubType::CopyCode, 0, vec![SendParameter::text("X")]),
                mpm,
            ],
        )
        .unwrap_err();
        assert!(
            e.details().contains("expected COUPON_CODE, received TEXT"),
            "{}",
            e.details()
        );
    }

    #[test]
    fn authentication_send() {
        let d = auth(OtpType::CopyCode);
        let code = |c: &str| {
            vec![
                SendComponent::body(vec![SendParameter::text(c)]),
                SendComponent::button(ButtonSubType::Url, 0, vec![SendParameter::text(c)]),
            ]
        };
        assert_eq!(match_send(&d, &code("123456")), Ok(()));
        // The OTP button's parameter is required.
        assert_eq!(
            match_send(&d, &code("123456")[..1]),
            Err(SendMismatch::ButtonParameterMissing {
                index: 0,
                button_type: "Url"
            })
        );
        // The code goes in the body.
        assert_eq!(
            match_send(&d, &code("123456")[1..]),
            Err(SendMismatch::Count {
                component: "body".to_owned(),
                expected: 1,
                got: 0
            })
        );
        // At most 15 characters.
        let e = match_send(&d, &code("1234567890123456")).unwrap_err();
        assert_eq!(e.code(), 132_012);
        assert!(e.details().contains("at most 15"), "{}", e.details());
        // Wrong sub_type.
        let mut s = code("123456");
        s[1].sub_type = Some(ButtonSubType::CopyCode);
        assert_eq!(match_send(&d, &s).unwrap_err().code(), 132_012);
    }

    #[test]
    fn footer_and_product_components() {
        let plain = utility("Your order has shipped.", &[]);
        let footer = |params| SendComponent {
            component: SendComponentType::Footer,
            sub_type: None,
            index: None,
            parameters: params,
        };
        assert_eq!(match_send(&plain, &[footer(vec![])]), Ok(()));
        assert_eq!(
            match_send(&plain, &[footer(vec![SendParameter::text("x")])]),
            Err(SendMismatch::Count {
                component: "footer".to_owned(),
                expected: 0,
                got: 1
            })
        );
        let mut spm = marketing("Have a look at this one, friend.", &[]);
        spm.header = Some(Header {
            format: HeaderFormat::Product,
            text: None,
            examples: ParamExamples::None,
            handles: Vec::new(),
        });
        approved(&spm);
        let product = SendComponent::header(vec![SendParameter::of(ParameterKind::Product)]);
        assert_eq!(match_send(&spm, &[product]), Ok(()));
        assert_eq!(
            match_send(&spm, &[]).unwrap_err().details(),
            "header: Format mismatch, expected PRODUCT, received UNKNOWN"
        );
    }

    #[test]
    fn mismatch_titles() {
        let c = SendMismatch::Count {
            component: "body".to_owned(),
            expected: 1,
            got: 0,
        };
        assert!(c.title().starts_with("Number of parameters"));
        assert!(format_mismatch("x").title().starts_with("Parameter format"));
        assert_eq!(format_mismatch("header: x").details(), "header: x");
    }
}
