//! Graph API field expansion: the `fields=` query parameter, parsed into typed requests.
//!
//! Meta does not give WhatsApp Business Accounts an analytics endpoint. Analytics are fields of
//! the WABA node, and the query rides on Graph's field-expansion syntax:
//!
//! ```text
//! GET /{waba-id}?fields=id,name,conversation_analytics.start(1685602800).end(1688194800)
//!     .granularity(MONTHLY).phone_numbers([]).dimensions(["COUNTRY","PHONE"])
//! ```
//!
//! Each comma-separated item is a field name, followed by zero or more `.modifier(value)` and
//! optionally a `{sub,fields}` selection. This module does that in two steps, both pure (no I/O):
//!
//! 1. [`parse_fields`] turns the string into [`FieldRequest`]s. It knows the syntax only:
//!    values are scalars (`1685602800`, `DAILY`, `"DAILY"`) or lists (`["A","B"]`, `[A,B]`,
//!    `['A']`, `[]`), and a `{…}` selection is kept as opaque text for whichever handler
//!    wants it.
//! 2. [`analytics_query`] turns a `conversation_analytics`, `pricing_analytics` or `analytics`
//!    field into an [`AnalyticsQuery`]: required parameters present, timestamps numeric and
//!    ordered, enum values canonical, lists deduplicated.
//!
//! Parse, don't validate: once a handler holds an [`AnalyticsQuery`], nothing about it needs
//! checking again. Every refusal is an [`ExpansionError`] whose message says where it went
//! wrong: syntax errors begin with `fields:` and give a 1-based character position; semantic
//! errors begin with the field's name and name the parameter.
//!
//! Empty items (`id,,name`, a trailing comma) are skipped, as Graph does.

/// One item of `fields=`: `name.modifier(value)…{subfields}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequest {
    /// The field name, e.g. `conversation_analytics`.
    pub name: String,
    /// The `.modifier(value)` calls, in request order; names are unique.
    pub modifiers: Vec<Modifier>,
    /// The text between `{` and `}`, trimmed and otherwise untouched.
    pub subfields: Option<String>,
}

/// One `.name(value)` call on a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modifier {
    /// The parameter name, e.g. `start`.
    pub name: String,
    /// Its argument.
    pub value: ModifierValue,
}

/// The argument of a modifier. Quotes are removed: `"DAILY"` and `DAILY` are the same scalar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModifierValue {
    /// A single value: a number, a bare word or a quoted string.
    Scalar(String),
    /// A bracketed list, possibly empty.
    List(Vec<String>),
}

/// Why a `fields=` value was refused; the message is meant for the API caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpansionError(pub String);

/// Time bucket of an analytics query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// `HALF_HOUR`.
    HalfHour,
    /// `DAILY` (`DAY` for `analytics`).
    Daily,
    /// `MONTHLY` (`MONTH` for `analytics`).
    Monthly,
}

/// A breakdown requested with `dimensions(…)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// `CONVERSATION_CATEGORY`.
    ConversationCategory,
    /// `CONVERSATION_TYPE`.
    ConversationType,
    /// `CONVERSATION_DIRECTION`.
    ConversationDirection,
    /// `COUNTRY`.
    Country,
    /// `PHONE`.
    Phone,
    /// `PRICING_CATEGORY`.
    PricingCategory,
    /// `PRICING_TYPE`.
    PricingType,
    /// `TIER`.
    Tier,
}

/// A value of `metric_types(…)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// `COST`.
    Cost,
    /// `CONVERSATION` (`conversation_analytics`).
    Conversation,
    /// `VOLUME` (`pricing_analytics`).
    Volume,
}

/// Which of the three analytics fields a query came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalyticsKind {
    /// `conversation_analytics` (conversation-based pricing).
    Conversation,
    /// `pricing_analytics` (per-message pricing).
    Pricing,
    /// `analytics` (sent and delivered counts).
    Messaging,
}

/// A typed analytics query. Lists are deduplicated in first-seen order; an empty filter list
/// means "all".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsQuery {
    /// The field the query came from.
    pub kind: AnalyticsKind,
    /// Inclusive start, UNIX seconds.
    pub start: i64,
    /// End, UNIX seconds; greater than `start`.
    pub end: i64,
    /// Time bucket.
    pub granularity: Granularity,
    /// Phone numbers, digits only; empty = all.
    pub phone_numbers: Vec<String>,
    /// Uppercase ISO 3166-1 alpha-2 codes; empty = all.
    pub country_codes: Vec<String>,
    /// Requested metrics; empty = all of the kind.
    pub metric_types: Vec<Metric>,
    /// Requested breakdowns.
    pub dimensions: Vec<Dimension>,
    /// Canonical uppercase conversation categories.
    pub conversation_categories: Vec<String>,
    /// Canonical conversation types; `FREE_ENTRY` is stored as `FREE_ENTRY_POINT`.
    pub conversation_types: Vec<String>,
    /// Canonical conversation directions.
    pub conversation_directions: Vec<String>,
    /// Canonical pricing types.
    pub pricing_types: Vec<String>,
    /// Canonical pricing categories.
    pub pricing_categories: Vec<String>,
    /// `analytics` only: 0 (notification) and 2 (customer support).
    pub product_types: Vec<u8>,
}

type Res<T> = Result<T, ExpansionError>;

// ---------------------------------------------------------------------------------------------
// Syntax
// ---------------------------------------------------------------------------------------------

/// Splits at top-level commas (not inside (), [], {} or quotes); each item is `name` followed by
/// zero or more `.modifier(value)`, optionally `{subfields}`.
pub fn parse_fields(s: &str) -> Result<Vec<FieldRequest>, ExpansionError> {
    let mut p = Parser::new(s);
    let mut fields = Vec::new();
    loop {
        p.skip_ws();
        match p.peek() {
            None => return Ok(fields),
            Some(',') => {
                p.bump();
                continue;
            }
            Some(_) => {}
        }
        let field = p.field()?;
        p.skip_ws();
        match p.peek() {
            None | Some(',') => {}
            Some(_) => {
                return Err(p.unexpected(&format!(
                    "after `{}` (expected `,`, `.` or `{{`)",
                    field.name
                )))
            }
        }
        fields.push(field);
    }
}

/// Characters that end a bare (unquoted) value.
const DELIMITERS: &[char] = &[',', '(', ')', '[', ']', '{', '}', '"', '\''];

fn syntax(msg: impl std::fmt::Display) -> ExpansionError {
    ExpansionError(format!("fields: {msg}"))
}

fn show(c: Option<char>) -> String {
    match c {
        Some(c) => format!("`{c}`"),
        None => "the end".to_owned(),
    }
}

/// A cursor over the characters of `fields=`; positions in messages are 1-based.
struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn new(s: &str) -> Self {
        Self {
            chars: s.chars().collect(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// 1-based position of the next character.
    fn at(&self) -> usize {
        self.pos + 1
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn unexpected(&self, context: &str) -> ExpansionError {
        match self.peek() {
            Some(c) => syntax(format!(
                "unexpected `{c}` at character {} {context}",
                self.at()
            )),
            None => syntax(format!("unexpected end {context}")),
        }
    }

    /// `[A-Za-z0-9_]+`.
    fn ident(&mut self, what: &str) -> Res<String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(syntax(format!(
                "expected {what} at character {}, found {}",
                self.at(),
                show(self.peek())
            )));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn field(&mut self) -> Res<FieldRequest> {
        let name = self.ident("a field name")?;
        let mut field = FieldRequest {
            name,
            modifiers: Vec::new(),
            subfields: None,
        };
        loop {
            self.skip_ws();
            match self.peek() {
                Some('.') => {
                    self.bump();
                    let modifier = self.modifier(&field)?;
                    field.modifiers.push(modifier);
                }
                Some('{') => {
                    if field.subfields.is_some() {
                        return Err(syntax(format!(
                            "second `{{` after `{}` at character {}",
                            field.name,
                            self.at()
                        )));
                    }
                    field.subfields = Some(self.braces(&field.name)?);
                }
                _ => return Ok(field),
            }
        }
    }

    /// After the `.`: `name(value)`.
    fn modifier(&mut self, field: &FieldRequest) -> Res<Modifier> {
        self.skip_ws();
        let name_at = self.at();
        let name = self.ident(&format!("a parameter name after `{}.`", field.name))?;
        if field.modifiers.iter().any(|m| m.name == name) {
            return Err(syntax(format!(
                "duplicate parameter `{name}` on `{}` at character {name_at}",
                field.name
            )));
        }
        let path = format!("{}.{name}", field.name);
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(syntax(format!(
                "expected `(` after `{path}` at character {}, found {}",
                self.at(),
                show(self.peek())
            )));
        }
        let open_at = self.at();
        self.bump();
        let value = self.value(&path, open_at)?;
        self.close_paren(&path, open_at)?;
        Ok(Modifier { name, value })
    }

    fn unclosed_paren(path: &str, open_at: usize) -> ExpansionError {
        syntax(format!(
            "unclosed `(` after `{path}` at character {open_at}"
        ))
    }

    fn close_paren(&mut self, path: &str, open_at: usize) -> Res<()> {
        self.skip_ws();
        match self.peek() {
            Some(')') => {
                self.bump();
                Ok(())
            }
            None => Err(Self::unclosed_paren(path, open_at)),
            Some(c) => {
                let hint = if c == ',' {
                    " (write a list as `[A,B]`)"
                } else {
                    ""
                };
                Err(syntax(format!(
                    "expected `)` to close `(` after `{path}` at character {open_at}, \
                     found `{c}` at character {}{hint}",
                    self.at()
                )))
            }
        }
    }

    /// Inside `( … )`: a list, a quoted string or a bare word.
    fn value(&mut self, path: &str, open_at: usize) -> Res<ModifierValue> {
        self.skip_ws();
        match self.peek() {
            None => Err(Self::unclosed_paren(path, open_at)),
            Some('[') => Ok(ModifierValue::List(self.list(path)?)),
            Some('"' | '\'') => Ok(ModifierValue::Scalar(self.quoted()?)),
            Some(_) => {
                let word = self.bare();
                if word.is_empty() {
                    return Err(syntax(format!(
                        "expected a value for `{path}` at character {}, found {}",
                        self.at(),
                        show(self.peek())
                    )));
                }
                Ok(ModifierValue::Scalar(word))
            }
        }
    }

    /// `[ item, item, … ]`, items quoted or bare; `[]` is empty.
    fn list(&mut self, path: &str) -> Res<Vec<String>> {
        let open_at = self.at();
        self.bump();
        let unclosed = || {
            syntax(format!(
                "unclosed `[` in `{path}(…)` at character {open_at}"
            ))
        };
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(']') {
            self.bump();
            return Ok(items);
        }
        loop {
            self.skip_ws();
            let item = match self.peek() {
                None => return Err(unclosed()),
                Some('"' | '\'') => self.quoted()?,
                Some(_) => {
                    let word = self.bare();
                    if word.is_empty() {
                        return Err(syntax(format!(
                            "expected a list item in `{path}(…)` at character {}, found {}",
                            self.at(),
                            show(self.peek())
                        )));
                    }
                    word
                }
            };
            items.push(item);
            self.skip_ws();
            match self.peek() {
                Some(',') => {}
                Some(']') => {
                    self.bump();
                    return Ok(items);
                }
                None => return Err(unclosed()),
                Some(c) => {
                    return Err(syntax(format!(
                        "expected `,` or `]` in `{path}(…)` at character {}, found `{c}`",
                        self.at()
                    )))
                }
            }
            self.bump();
        }
    }

    /// `"…"` or `'…'`; a backslash escapes the next character.
    fn quoted(&mut self) -> Res<String> {
        let open_at = self.at();
        let quote = self.bump();
        let unclosed = || {
            syntax(format!(
                "unclosed quote {} at character {open_at}",
                show(quote)
            ))
        };
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(unclosed()),
                Some('\\') => out.push(self.bump().ok_or_else(unclosed)?),
                Some(c) if Some(c) == quote => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    /// Characters up to the next delimiter, trimmed; may be empty.
    fn bare(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|c| !DELIMITERS.contains(&c)) {
            self.pos += 1;
        }
        self.chars[start..self.pos]
            .iter()
            .collect::<String>()
            .trim()
            .to_owned()
    }

    /// `{ … }` with nesting and quotes respected; returns the trimmed inside.
    fn braces(&mut self, name: &str) -> Res<String> {
        let open_at = self.at();
        self.bump();
        let start = self.pos;
        let mut depth = 1usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.bump() {
            match (quote, c) {
                (Some(_), '\\') => {
                    self.bump();
                }
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '{') => depth += 1,
                (None, '}') => {
                    depth -= 1;
                    if depth == 0 {
                        let inner: String = self.chars[start..self.pos - 1].iter().collect();
                        return Ok(inner.trim().to_owned());
                    }
                }
                (None, _) => {}
            }
        }
        Err(syntax(format!(
            "unclosed `{{` after `{name}` at character {open_at}"
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Analytics
// ---------------------------------------------------------------------------------------------

/// What one analytics field accepts.
struct Spec {
    field: &'static str,
    kind: AnalyticsKind,
    params: &'static [&'static str],
    granularities: &'static [(&'static str, Granularity)],
    metrics: &'static [(&'static str, Metric)],
    dimensions: &'static [(&'static str, Dimension)],
}

const CBP_GRANULARITIES: &[(&str, Granularity)] = &[
    ("HALF_HOUR", Granularity::HalfHour),
    ("DAILY", Granularity::Daily),
    ("MONTHLY", Granularity::Monthly),
];

const MESSAGING_GRANULARITIES: &[(&str, Granularity)] = &[
    ("HALF_HOUR", Granularity::HalfHour),
    ("DAY", Granularity::Daily),
    ("MONTH", Granularity::Monthly),
    ("DAILY", Granularity::Daily),
    ("MONTHLY", Granularity::Monthly),
];

const CONVERSATION_SPEC: Spec = Spec {
    field: "conversation_analytics",
    kind: AnalyticsKind::Conversation,
    params: &[
        "start",
        "end",
        "granularity",
        "phone_numbers",
        "country_codes",
        "metric_types",
        "conversation_categories",
        "conversation_types",
        "conversation_directions",
        "dimensions",
    ],
    granularities: CBP_GRANULARITIES,
    metrics: &[
        ("COST", Metric::Cost),
        ("CONVERSATION", Metric::Conversation),
    ],
    dimensions: &[
        ("CONVERSATION_CATEGORY", Dimension::ConversationCategory),
        ("CONVERSATION_DIRECTION", Dimension::ConversationDirection),
        ("CONVERSATION_TYPE", Dimension::ConversationType),
        ("COUNTRY", Dimension::Country),
        ("PHONE", Dimension::Phone),
    ],
};

const PRICING_SPEC: Spec = Spec {
    field: "pricing_analytics",
    kind: AnalyticsKind::Pricing,
    params: &[
        "start",
        "end",
        "granularity",
        "phone_numbers",
        "country_codes",
        "metric_types",
        "pricing_types",
        "pricing_categories",
        "dimensions",
    ],
    granularities: CBP_GRANULARITIES,
    metrics: &[("COST", Metric::Cost), ("VOLUME", Metric::Volume)],
    dimensions: &[
        ("COUNTRY", Dimension::Country),
        ("PHONE", Dimension::Phone),
        ("PRICING_CATEGORY", Dimension::PricingCategory),
        ("PRICING_TYPE", Dimension::PricingType),
        ("TIER", Dimension::Tier),
    ],
};

const MESSAGING_SPEC: Spec = Spec {
    field: "analytics",
    kind: AnalyticsKind::Messaging,
    params: &[
        "start",
        "end",
        "granularity",
        "phone_numbers",
        "country_codes",
        "product_types",
    ],
    granularities: MESSAGING_GRANULARITIES,
    metrics: &[],
    dimensions: &[],
};

/// Accepted spelling → stored spelling.
type Words = &'static [(&'static str, &'static str)];

const CONVERSATION_CATEGORIES: Words = &[
    ("AUTHENTICATION", "AUTHENTICATION"),
    ("MARKETING", "MARKETING"),
    ("SERVICE", "SERVICE"),
    ("UTILITY", "UTILITY"),
    (
        "AUTHENTICATION_INTERNATIONAL",
        "AUTHENTICATION_INTERNATIONAL",
    ),
    ("REFERRAL_CONVERSION", "REFERRAL_CONVERSION"),
];

/// The filter says `FREE_ENTRY`, responses say `FREE_ENTRY_POINT`; both are accepted.
const CONVERSATION_TYPES: Words = &[
    ("FREE_ENTRY", "FREE_ENTRY_POINT"),
    ("FREE_ENTRY_POINT", "FREE_ENTRY_POINT"),
    ("FREE_TIER", "FREE_TIER"),
    ("REGULAR", "REGULAR"),
];

const CONVERSATION_DIRECTIONS: Words = &[
    ("BUSINESS_INITIATED", "BUSINESS_INITIATED"),
    ("USER_INITIATED", "USER_INITIATED"),
    ("UNKNOWN", "UNKNOWN"),
];

const PRICING_TYPES: Words = &[
    ("FREE_CUSTOMER_SERVICE", "FREE_CUSTOMER_SERVICE"),
    ("FREE_ENTRY_POINT", "FREE_ENTRY_POINT"),
    ("REGULAR", "REGULAR"),
];

const PRICING_CATEGORIES: Words = &[
    ("AUTHENTICATION", "AUTHENTICATION"),
    (
        "AUTHENTICATION_INTERNATIONAL",
        "AUTHENTICATION_INTERNATIONAL",
    ),
    ("MARKETING", "MARKETING"),
    ("MARKETING_LITE", "MARKETING_LITE"),
    ("SERVICE", "SERVICE"),
    ("UTILITY", "UTILITY"),
    ("REFERRAL_CONVERSION", "REFERRAL_CONVERSION"),
];

const PRODUCT_TYPES: &[(&str, u8)] = &[("0", 0), ("2", 2)];

fn spec_for(name: &str) -> Option<&'static Spec> {
    match name {
        "conversation_analytics" => Some(&CONVERSATION_SPEC),
        "pricing_analytics" => Some(&PRICING_SPEC),
        "analytics" => Some(&MESSAGING_SPEC),
        _ => None,
    }
}

/// `Ok(None)` when the field is not one of conversation_analytics, pricing_analytics, analytics.
pub fn analytics_query(f: &FieldRequest) -> Result<Option<AnalyticsQuery>, ExpansionError> {
    let Some(spec) = spec_for(&f.name) else {
        return Ok(None);
    };
    let mut q = AnalyticsQuery {
        kind: spec.kind.clone(),
        start: 0,
        end: 0,
        granularity: Granularity::Daily,
        phone_numbers: Vec::new(),
        country_codes: Vec::new(),
        metric_types: Vec::new(),
        dimensions: Vec::new(),
        conversation_categories: Vec::new(),
        conversation_types: Vec::new(),
        conversation_directions: Vec::new(),
        pricing_types: Vec::new(),
        pricing_categories: Vec::new(),
        product_types: Vec::new(),
    };
    let (mut start, mut end, mut granularity) = (None, None, None);
    for (i, m) in f.modifiers.iter().enumerate() {
        let p = Param {
            field: spec.field,
            name: &m.name,
        };
        check_param(spec, &f.modifiers[..i], p)?;
        let v = &m.value;
        match m.name.as_str() {
            "start" => start = Some(timestamp(p, v)?),
            "end" => end = Some(timestamp(p, v)?),
            "granularity" => granularity = Some(word(p, scalar(p, v)?, spec.granularities)?),
            "phone_numbers" => q.phone_numbers = phone_numbers(p, v)?,
            "country_codes" => q.country_codes = country_codes(p, v)?,
            "metric_types" => q.metric_types = words(p, v, spec.metrics)?,
            "dimensions" => q.dimensions = words(p, v, spec.dimensions)?,
            "conversation_categories" => {
                q.conversation_categories = strings(p, v, CONVERSATION_CATEGORIES)?;
            }
            "conversation_types" => q.conversation_types = strings(p, v, CONVERSATION_TYPES)?,
            "conversation_directions" => {
                q.conversation_directions = strings(p, v, CONVERSATION_DIRECTIONS)?;
            }
            "pricing_types" => q.pricing_types = strings(p, v, PRICING_TYPES)?,
            "pricing_categories" => q.pricing_categories = strings(p, v, PRICING_CATEGORIES)?,
            "product_types" => q.product_types = words(p, v, PRODUCT_TYPES)?,
            _ => return Err(unknown_param(spec, &m.name)),
        }
    }
    q.start = required(spec, "start", start)?;
    q.end = required(spec, "end", end)?;
    q.granularity = required(spec, "granularity", granularity)?;
    if q.end <= q.start {
        return Err(ExpansionError(format!(
            "{}: `end` ({}) must be greater than `start` ({})",
            spec.field, q.end, q.start
        )));
    }
    Ok(Some(q))
}

/// A parameter of a field, for error messages.
#[derive(Clone, Copy)]
struct Param<'a> {
    field: &'static str,
    name: &'a str,
}

impl Param<'_> {
    fn error(self, msg: impl std::fmt::Display) -> ExpansionError {
        ExpansionError(format!("{}: `{}` {msg}", self.field, self.name))
    }
}

/// Known to this field and not given before (a hand-built [`FieldRequest`] may repeat one).
fn check_param(spec: &Spec, earlier: &[Modifier], p: Param<'_>) -> Res<()> {
    if !spec.params.contains(&p.name) {
        return Err(unknown_param(spec, p.name));
    }
    if earlier.iter().any(|m| m.name == p.name) {
        return Err(p.error("is given more than once"));
    }
    Ok(())
}

fn unknown_param(spec: &Spec, name: &str) -> ExpansionError {
    ExpansionError(format!(
        "{}: unknown parameter `{name}` (expected one of {})",
        spec.field,
        spec.params.join(", ")
    ))
}

fn required<T>(spec: &Spec, name: &str, value: Option<T>) -> Res<T> {
    value.ok_or_else(|| ExpansionError(format!("{}: `{name}` is required", spec.field)))
}

fn scalar<'v>(p: Param<'_>, v: &'v ModifierValue) -> Res<&'v str> {
    match v {
        ModifierValue::Scalar(s) => Ok(s),
        ModifierValue::List(_) => Err(p.error("expects a single value, got a list")),
    }
}

/// A scalar is a one-element list.
fn items(v: &ModifierValue) -> Vec<&str> {
    match v {
        ModifierValue::Scalar(s) => vec![s.as_str()],
        ModifierValue::List(l) => l.iter().map(String::as_str).collect(),
    }
}

fn push_unique<T: PartialEq>(out: &mut Vec<T>, x: T) {
    if !out.contains(&x) {
        out.push(x);
    }
}

fn timestamp(p: Param<'_>, v: &ModifierValue) -> Res<i64> {
    let raw = scalar(p, v)?;
    let s = raw.trim();
    let parsed = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse::<i64>().ok()
    } else {
        None
    };
    parsed.ok_or_else(|| p.error(format!("expects a UNIX timestamp, got `{raw}`")))
}

/// Case-insensitive, `-` read as `_` (Meta spells `authentication-international` both ways).
fn word<T: Copy>(p: Param<'_>, raw: &str, table: &[(&str, T)]) -> Res<T> {
    let key = raw.trim().to_ascii_uppercase().replace('-', "_");
    table
        .iter()
        .find(|(spelling, _)| *spelling == key)
        .map(|(_, value)| *value)
        .ok_or_else(|| {
            let allowed: Vec<&str> = table.iter().map(|(s, _)| *s).collect();
            p.error(format!(
                "does not accept `{raw}` (expected one of {})",
                allowed.join(", ")
            ))
        })
}

fn words<T: Copy + PartialEq>(p: Param<'_>, v: &ModifierValue, table: &[(&str, T)]) -> Res<Vec<T>> {
    let mut out = Vec::new();
    for raw in items(v) {
        push_unique(&mut out, word(p, raw, table)?);
    }
    Ok(out)
}

fn strings(p: Param<'_>, v: &ModifierValue, table: Words) -> Res<Vec<String>> {
    Ok(words(p, v, table)?.into_iter().map(str::to_owned).collect())
}

/// Digits only (`+1 555-045-8206` → `15550458206`); something without digits is refused.
fn phone_numbers(p: Param<'_>, v: &ModifierValue) -> Res<Vec<String>> {
    let mut out = Vec::new();
    for raw in items(v) {
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return Err(p.error(format!("expects phone numbers, got `{raw}`")));
        }
        push_unique(&mut out, digits);
    }
    Ok(out)
}

fn country_codes(p: Param<'_>, v: &ModifierValue) -> Res<Vec<String>> {
    let mut out = Vec::new();
    for raw in items(v) {
        let code = raw.trim();
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(p.error(format!("expects 2-letter ISO country codes, got `{raw}`")));
        }
        push_unique(&mut out, code.to_ascii_uppercase());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use proptest::prelude::*;
    use std::fmt::Write as _;

    /// The request written back in canonical syntax.
    fn render(f: &FieldRequest) -> String {
        let mut out = f.name.clone();
        for m in &f.modifiers {
            let _ = match &m.value {
                ModifierValue::Scalar(s) => write!(out, ".{}({s:?})", m.name),
                ModifierValue::List(l) => write!(out, ".{}({l:?})", m.name),
            };
        }
        if let Some(sub) = &f.subfields {
            let _ = write!(out, "{{{sub}}}");
        }
        out
    }

    const META_EXAMPLE: &str = "conversation_analytics.start(1685602800).end(1688194800)\
        .granularity(MONTHLY).phone_numbers([]).dimensions([\"CONVERSATION_CATEGORY\",\
        \"CONVERSATION_TYPE\",\"COUNTRY\",\"PHONE\"])";

    fn one(s: &str) -> FieldRequest {
        let mut fields = parse_fields(s).unwrap();
        assert_eq!(fields.len(), 1, "{fields:?}");
        fields.remove(0)
    }

    fn query(s: &str) -> AnalyticsQuery {
        analytics_query(&one(s)).unwrap().unwrap()
    }

    fn parse_err(s: &str) -> String {
        parse_fields(s).unwrap_err().0
    }

    fn query_err(s: &str) -> String {
        analytics_query(&one(s)).unwrap_err().0
    }

    fn scalar_mod(name: &str, v: &str) -> Modifier {
        Modifier {
            name: name.into(),
            value: ModifierValue::Scalar(v.into()),
        }
    }

    fn list_mod(name: &str, v: &[&str]) -> Modifier {
        Modifier {
            name: name.into(),
            value: ModifierValue::List(v.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn meta_example_request() {
        let f = one(META_EXAMPLE);
        assert_eq!(f.name, "conversation_analytics");
        assert_eq!(f.subfields, None);
        assert_eq!(
            f.modifiers,
            vec![
                scalar_mod("start", "1685602800"),
                scalar_mod("end", "1688194800"),
                scalar_mod("granularity", "MONTHLY"),
                list_mod("phone_numbers", &[]),
                list_mod(
                    "dimensions",
                    &[
                        "CONVERSATION_CATEGORY",
                        "CONVERSATION_TYPE",
                        "COUNTRY",
                        "PHONE"
                    ]
                ),
            ]
        );
        let q = analytics_query(&f).unwrap().unwrap();
        assert_eq!(q.kind, AnalyticsKind::Conversation);
        assert_eq!((q.start, q.end), (1_685_602_800, 1_688_194_800));
        assert_eq!(q.granularity, Granularity::Monthly);
        assert!(q.phone_numbers.is_empty());
        assert_eq!(
            q.dimensions,
            vec![
                Dimension::ConversationCategory,
                Dimension::ConversationType,
                Dimension::Country,
                Dimension::Phone
            ]
        );
        assert!(q.metric_types.is_empty());
        assert!(q.country_codes.is_empty());
    }

    #[test]
    fn plain_fields_mixed_with_analytics() {
        let fields = parse_fields("id,name,analytics.start(1).end(2).granularity(DAY)").unwrap();
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "name", "analytics"]);
        assert!(fields[0].modifiers.is_empty() && fields[1].modifiers.is_empty());
        assert_eq!(analytics_query(&fields[0]).unwrap(), None);
        let q = analytics_query(&fields[2]).unwrap().unwrap();
        assert_eq!(q.kind, AnalyticsKind::Messaging);
        assert_eq!((q.start, q.end, q.granularity), (1, 2, Granularity::Daily));
    }

    #[test]
    fn subfields_are_kept_opaque() {
        let fields = parse_fields("id,throughput{level},name{ a{b}, c.limit(2) }").unwrap();
        assert_eq!(fields[1].name, "throughput");
        assert_eq!(fields[1].subfields.as_deref(), Some("level"));
        assert_eq!(fields[2].subfields.as_deref(), Some("a{b}, c.limit(2)"));
        assert_eq!(fields.len(), 3);
        // Modifiers before a selection.
        let f = one("messages.limit(5){id,status}");
        assert_eq!(f.modifiers, vec![scalar_mod("limit", "5")]);
        assert_eq!(f.subfields.as_deref(), Some("id,status"));
    }

    #[test]
    fn bare_word_and_quoted_lists() {
        let bare = one("x.dimensions([COUNTRY,PHONE])");
        let double = one("x.dimensions([\"COUNTRY\",\"PHONE\"])");
        let single = one("x.dimensions(['COUNTRY','PHONE'])");
        assert_eq!(bare, double);
        assert_eq!(bare, single);
        assert_eq!(
            bare.modifiers,
            vec![list_mod("dimensions", &["COUNTRY", "PHONE"])]
        );
        assert_eq!(
            one("x.granularity(\"DAILY\")").modifiers,
            vec![scalar_mod("granularity", "DAILY")]
        );
        assert_eq!(
            one(r#"x.a("q\"uote,)")"#).modifiers,
            vec![scalar_mod("a", "q\"uote,)")]
        );
    }

    #[test]
    fn whitespace_around_tokens() {
        let spaced = " conversation_analytics . start ( 1685602800 ) .end( 1688194800 )\
            .granularity( MONTHLY ) .phone_numbers( [ ] ) .dimensions( [ \"CONVERSATION_CATEGORY\" ,\
            CONVERSATION_TYPE , 'COUNTRY',PHONE ] ) , id ";
        let fields = parse_fields(spaced).unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0], one(META_EXAMPLE));
        assert_eq!(fields[1].name, "id");
    }

    #[test]
    fn empty_items_are_skipped() {
        let fields = parse_fields(",id,,name,").unwrap();
        assert_eq!(fields.len(), 2);
        assert!(parse_fields("").unwrap().is_empty());
    }

    #[test]
    fn free_entry_is_normalised() {
        let q = query(
            "conversation_analytics.start(1).end(2).granularity(DAILY)\
             .conversation_types([FREE_ENTRY,REGULAR,FREE_ENTRY_POINT,free_tier])",
        );
        assert_eq!(
            q.conversation_types,
            vec!["FREE_ENTRY_POINT", "REGULAR", "FREE_TIER"]
        );
    }

    #[test]
    fn lowercase_enum_values_are_canonicalised() {
        let q = query(
            "pricing_analytics.start(10).end(20).granularity(half_hour)\
             .metric_types([cost,Volume]).pricing_types(free_entry_point)\
             .pricing_categories([marketing_lite,authentication-international])\
             .dimensions([tier,pricing_category]).country_codes([us,'In',US])\
             .phone_numbers(['+1 555 045 8206','15550458206','447700900123'])",
        );
        assert_eq!(q.kind, AnalyticsKind::Pricing);
        assert_eq!(q.granularity, Granularity::HalfHour);
        assert_eq!(q.metric_types, vec![Metric::Cost, Metric::Volume]);
        assert_eq!(q.pricing_types, vec!["FREE_ENTRY_POINT"]);
        assert_eq!(
            q.pricing_categories,
            vec!["MARKETING_LITE", "AUTHENTICATION_INTERNATIONAL"]
        );
        assert_eq!(
            q.dimensions,
            vec![Dimension::Tier, Dimension::PricingCategory]
        );
        assert_eq!(q.country_codes, vec!["US", "IN"]);
        assert_eq!(q.phone_numbers, vec!["15550458206", "447700900123"]);
    }

    #[test]
    fn conversation_filters() {
        let q = query(
            "conversation_analytics.start(1).end(2).granularity(daily)\
             .metric_types(conversation).conversation_categories([service,UTILITY,service])\
             .conversation_directions([business_initiated,unknown])\
             .dimensions(CONVERSATION_DIRECTION)",
        );
        assert_eq!(q.metric_types, vec![Metric::Conversation]);
        assert_eq!(q.conversation_categories, vec!["SERVICE", "UTILITY"]);
        assert_eq!(
            q.conversation_directions,
            vec!["BUSINESS_INITIATED", "UNKNOWN"]
        );
        assert_eq!(q.dimensions, vec![Dimension::ConversationDirection]);
    }

    #[test]
    fn analytics_with_day_month_and_product_types() {
        let q = query(
            "analytics.start(1685602800).end(1688194800).granularity(DAY)\
             .product_types([0,2,0]).country_codes(de)",
        );
        assert_eq!(q.granularity, Granularity::Daily);
        assert_eq!(q.product_types, vec![0, 2]);
        assert_eq!(q.country_codes, vec!["DE"]);
        assert_eq!(
            query("analytics.start(1).end(2).granularity(month)").granularity,
            Granularity::Monthly
        );
        assert_eq!(
            query("analytics.start(1).end(2).granularity(MONTHLY)").granularity,
            Granularity::Monthly
        );
        assert!(
            query_err("analytics.start(1).end(2).granularity(DAY).product_types([1])")
                .contains("`product_types` does not accept `1` (expected one of 0, 2)")
        );
    }

    #[test]
    fn scalar_accepted_as_one_element_list() {
        let q =
            query("conversation_analytics.start(1).end(2).granularity(DAILY).dimensions(COUNTRY)");
        assert_eq!(q.dimensions, vec![Dimension::Country]);
    }

    #[test]
    fn error_unclosed_paren() {
        assert_eq!(
            parse_err("conversation_analytics.start(1685602800"),
            "fields: unclosed `(` after `conversation_analytics.start` at character 29"
        );
        assert_eq!(
            parse_err("id,analytics.start("),
            "fields: unclosed `(` after `analytics.start` at character 19"
        );
        let e = parse_err("x.dimensions(A,B)");
        assert!(e.contains("expected `)` to close `(` after `x.dimensions` at character 13"));
        assert!(e.contains("write a list as `[A,B]`"), "{e}");
    }

    #[test]
    fn error_other_syntax() {
        assert!(parse_err("x.dimensions([A,B)").contains("expected `,` or `]`"));
        assert!(parse_err("x.dimensions([A,B")
            .contains("unclosed `[` in `x.dimensions(…)` at character 14"));
        assert!(parse_err("x.dimensions([A,])").contains("expected a list item"));
        assert!(parse_err("x.start()").contains("expected a value for `x.start` at character 9"));
        assert!(parse_err("x.start(\"1)").contains("unclosed quote `\"` at character 9"));
        assert!(parse_err("throughput{level")
            .contains("unclosed `{` after `throughput` at character 11"));
        assert!(parse_err("x.start").contains("expected `(` after `x.start`"));
        assert!(parse_err("id)").contains("unexpected `)` at character 3 after `id`"));
        assert!(parse_err("x.(1)").contains("expected a parameter name after `x.` at character 3"));
        assert!(parse_err("x{a}{b}").contains("second `{`"));
    }

    #[test]
    fn error_duplicate_modifier() {
        assert_eq!(
            parse_err("analytics.start(1).start(2)"),
            "fields: duplicate parameter `start` on `analytics` at character 20"
        );
        // A hand-built request is checked too.
        let f = FieldRequest {
            name: "analytics".into(),
            modifiers: vec![scalar_mod("end", "5"), scalar_mod("end", "6")],
            subfields: None,
        };
        assert_eq!(
            analytics_query(&f).unwrap_err().0,
            "analytics: `end` is given more than once"
        );
    }

    #[test]
    fn error_unknown_parameter() {
        assert_eq!(
            query_err("conversation_analytics.start(1).foo(2)"),
            "conversation_analytics: unknown parameter `foo` (expected one of start, end, \
             granularity, phone_numbers, country_codes, metric_types, conversation_categories, \
             conversation_types, conversation_directions, dimensions)"
        );
        assert!(
            query_err("analytics.start(1).end(2).granularity(DAY).dimensions([COUNTRY])")
                .starts_with("analytics: unknown parameter `dimensions`")
        );
        assert!(query_err("pricing_analytics.conversation_types([REGULAR])")
            .starts_with("pricing_analytics: unknown parameter `conversation_types`"));
    }

    #[test]
    fn error_bad_timestamp() {
        assert_eq!(
            query_err("conversation_analytics.start(abc).end(2).granularity(DAILY)"),
            "conversation_analytics: `start` expects a UNIX timestamp, got `abc`"
        );
        assert!(query_err("analytics.start(1).end(-2).granularity(DAY)")
            .contains("`end` expects a UNIX timestamp, got `-2`"));
        assert!(
            query_err("analytics.start(99999999999999999999).end(2).granularity(DAY)")
                .contains("expects a UNIX timestamp")
        );
    }

    #[test]
    fn error_end_not_after_start() {
        assert_eq!(
            query_err("pricing_analytics.start(10).end(5).granularity(DAILY)"),
            "pricing_analytics: `end` (5) must be greater than `start` (10)"
        );
        assert!(
            query_err("pricing_analytics.start(10).end(10).granularity(DAILY)")
                .contains("must be greater than")
        );
    }

    #[test]
    fn error_missing_required() {
        assert_eq!(
            query_err("conversation_analytics.start(1).end(2)"),
            "conversation_analytics: `granularity` is required"
        );
        assert_eq!(
            query_err("analytics.end(2).granularity(DAY)"),
            "analytics: `start` is required"
        );
        assert_eq!(
            query_err("pricing_analytics"),
            "pricing_analytics: `start` is required"
        );
    }

    #[test]
    fn error_unknown_enum_value() {
        assert_eq!(
            query_err("conversation_analytics.start(1).end(2).granularity(DAY)"),
            "conversation_analytics: `granularity` does not accept `DAY` \
             (expected one of HALF_HOUR, DAILY, MONTHLY)"
        );
        assert_eq!(
            query_err("conversation_analytics.start(1).end(2).granularity(DAILY).dimensions([COUNTRY,TIER])"),
            "conversation_analytics: `dimensions` does not accept `TIER` (expected one of \
             CONVERSATION_CATEGORY, CONVERSATION_DIRECTION, CONVERSATION_TYPE, COUNTRY, PHONE)"
        );
        assert!(query_err(
            "pricing_analytics.start(1).end(2).granularity(DAILY).metric_types(CONVERSATION)"
        )
        .contains("expected one of COST, VOLUME"));
        assert!(query_err(
            "conversation_analytics.start(1).end(2).granularity(DAILY).conversation_types(FREE)"
        )
        .contains("`conversation_types` does not accept `FREE`"));
    }

    #[test]
    fn error_list_where_scalar_expected() {
        assert_eq!(
            query_err("conversation_analytics.start([1]).end(2).granularity(DAILY)"),
            "conversation_analytics: `start` expects a single value, got a list"
        );
        assert!(query_err("analytics.start(1).end(2).granularity([DAY])")
            .contains("`granularity` expects a single value, got a list"));
    }

    #[test]
    fn error_bad_country_code() {
        assert_eq!(
            query_err("analytics.start(1).end(2).granularity(DAY).country_codes([US,USA])"),
            "analytics: `country_codes` expects 2-letter ISO country codes, got `USA`"
        );
        assert!(
            query_err("analytics.start(1).end(2).granularity(DAY).country_codes(['1A'])")
                .contains("got `1A`")
        );
    }

    #[test]
    fn error_bad_phone_number() {
        assert_eq!(
            query_err("analytics.start(1).end(2).granularity(DAY).phone_numbers([abc])"),
            "analytics: `phone_numbers` expects phone numbers, got `abc`"
        );
    }

    proptest! {
        #[test]
        fn never_panics(s in "[a-z_.,(){}\\[\\]\"' 0-9A-Z\\\\]{0,40}") {
            match parse_fields(&s) {
                Ok(fields) => {
                    for f in &fields {
                        let _ = analytics_query(f);
                        prop_assert!(!render(f).is_empty());
                    }
                }
                Err(e) => prop_assert!(e.0.starts_with("fields: "), "{}", e.0),
            }
        }

        #[test]
        fn rendered_requests_reparse(s in "[a-z_.,(){}\\[\\]\"' 0-9]{0,40}") {
            if let Ok(fields) = parse_fields(&s) {
                for f in fields {
                    prop_assert_eq!(one(&render(&f)), f);
                }
            }
        }
    }
}
