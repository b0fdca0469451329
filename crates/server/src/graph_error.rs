//! Graph API errors: every refusal of the API, mapped to Meta's envelope and HTTP status in
//! this one place.
//!
//! ```json
//! {"error":{"message":"(#131009) Parameter value is not valid","type":"OAuthException",
//!   "code":131009,"error_data":{"messaging_product":"whatsapp","details":"…"},
//!   "fbtrace_id":"A…"}}
//! ```
//! `message` is always `(#code) title` (Meta's rule), `details` says precisely what is wrong.

use serde_json::{json, Value};

/// One API error: Meta's code, its title, and what precisely was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphError {
    pub code: u32,
    pub subcode: Option<u32>,
    pub title: &'static str,
    pub details: String,
    /// `OAuthException` for most WhatsApp errors, `GraphMethodException` for unknown objects.
    pub kind: &'static str,
    pub http_status: u16,
    /// Seconds, for throughput errors (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl GraphError {
    fn new(code: u32, title: &'static str, http_status: u16, details: impl Into<String>) -> Self {
        GraphError {
            code,
            subcode: None,
            title,
            details: details.into(),
            kind: "OAuthException",
            http_status,
            retry_after: None,
        }
    }

    /// 100: invalid parameter (generic bad request).
    pub fn invalid_parameter(details: impl Into<String>) -> Self {
        Self::new(100, "Invalid parameter", 400, details)
    }
    /// 131008: a required parameter is missing.
    pub fn missing_parameter(details: impl Into<String>) -> Self {
        Self::new(131_008, "Required parameter is missing", 400, details)
    }
    /// 131009: a parameter has a value that is not valid.
    pub fn invalid_value(details: impl Into<String>) -> Self {
        Self::new(131_009, "Parameter value is not valid", 400, details)
    }
    /// 131051: the message type is not supported.
    pub fn unsupported_type(details: impl Into<String>) -> Self {
        Self::new(131_051, "Unsupported message type", 400, details)
    }
    /// 132000: template parameter count mismatch.
    pub fn template_param_count(details: impl Into<String>) -> Self {
        Self::new(
            132_000,
            "Number of parameters does not match the expected number of params",
            400,
            details,
        )
    }
    /// 132001: template does not exist in that language (or is not approved).
    pub fn template_not_found(details: impl Into<String>) -> Self {
        Self::new(
            132_001,
            "Template name does not exist in the translation",
            404,
            details,
        )
    }
    /// 132012: template parameter format mismatch.
    pub fn template_param_format(details: impl Into<String>) -> Self {
        Self::new(
            132_012,
            "Parameter format does not match format in the created template",
            400,
            details,
        )
    }
    /// 132015: template is paused.
    pub fn template_paused(details: impl Into<String>) -> Self {
        Self::new(
            132_015,
            "Cannot send message as the template is paused",
            400,
            details,
        )
    }
    /// 132016: template is disabled.
    pub fn template_disabled(details: impl Into<String>) -> Self {
        Self::new(132_016, "Template is disabled", 400, details)
    }
    /// A template send that does not match the template (132000, 132012, 131008, 132018),
    /// with the title and details the template rules give.
    pub fn template_mismatch(code: u32, title: &'static str, details: String) -> Self {
        Self::new(code, title, 400, details)
    }
    /// 130429: throughput of the number exceeded.
    pub fn throughput(retry_after: u64) -> Self {
        let mut e = Self::new(
            130_429,
            "Rate limit hit",
            400,
            "Cloud API message throughput has been reached.",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }
    /// 131056: pair rate limit.
    pub fn pair_rate_limit(retry_after: u64) -> Self {
        let mut e = Self::new(
            131_056,
            "(Business Account, Consumer Account) pair rate limit hit",
            400,
            "Message failed to send because there were too many messages sent from this phone number to the same phone number in a short period of time.",
        );
        e.retry_after = Some(retry_after.max(1));
        e
    }
    /// 104: no access token.
    pub fn token_required() -> Self {
        Self::new(
            104,
            "An access token is required to request this resource.",
            400,
            "An access token is required to request this resource.",
        )
    }
    /// 190: the token is not valid.
    pub fn invalid_token() -> Self {
        Self::new(
            190,
            "Invalid OAuth access token - Cannot parse access token",
            401,
            "Invalid OAuth access token.",
        )
    }
    /// 100/33: an object that does not exist or that this token may not see.
    pub fn unknown_object(id: &str, method: &str) -> Self {
        let mut e = Self::new(
            100,
            "Unsupported request",
            400,
            format!("Unsupported {method} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"),
        );
        e.subcode = Some(33);
        e.kind = "GraphMethodException";
        e
    }
    /// A synchronous failure the engine decided (131047, 131026, 131049, 131050, or
    /// openwaba's own no-opt-in code), for numbers configured to report them synchronously.
    pub fn engine(code: u32, title: &'static str, details: &str, http_status: u16) -> Self {
        Self::new(code, title, http_status, details)
    }

    /// 1 (HTTP 500): the server could not read or write what it needed (a storage failure).
    /// Never caused by input: bad input always gets a 4xx.
    pub fn internal(details: impl std::fmt::Display) -> Self {
        Self::new(1, "An unknown error occurred", 500, details.to_string())
    }

    /// `(#code) title`, or Graph's own sentence for unknown objects and tokens.
    pub fn message(&self) -> String {
        match self.code {
            100 if self.subcode == Some(33) => self.details.clone(),
            104 => self.title.to_owned(),
            _ => format!("(#{}) {}", self.code, self.title),
        }
    }

    /// The JSON body, with a fresh trace id.
    pub fn body(&self, fbtrace_id: &str) -> Value {
        let mut err = json!({
            "message": self.message(),
            "type": self.kind,
            "code": self.code,
            "error_data": {"messaging_product": "whatsapp", "details": self.details},
            "fbtrace_id": fbtrace_id,
        });
        if let (Some(sub), Some(obj)) = (self.subcode, err.as_object_mut()) {
            obj.insert("error_subcode".into(), json!(sub));
        }
        json!({ "error": err })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_is_metas() {
        let e = GraphError::throughput(2);
        let b = e.body("Az8or2yhqkZfEZ-_4Qn_Bam");
        assert_eq!(b["error"]["message"], "(#130429) Rate limit hit");
        assert_eq!(b["error"]["type"], "OAuthException");
        assert_eq!(b["error"]["code"], 130429);
        assert_eq!(
            b["error"]["error_data"]["details"],
            "Cloud API message throughput has been reached."
        );
        assert_eq!(b["error"]["fbtrace_id"], "Az8or2yhqkZfEZ-_4Qn_Bam");
        assert_eq!(e.http_status, 400);
        assert_eq!(GraphError::template_not_found("x").http_status, 404);
        assert_eq!(GraphError::invalid_token().http_status, 401);
        let u = GraphError::unknown_object("123", "post").body("t");
        assert_eq!(u["error"]["error_subcode"], 33);
        assert_eq!(u["error"]["type"], "GraphMethodException");
    }
}
