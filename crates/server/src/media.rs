//! Media over Graph: upload (`POST /{phone-number-id}/media`, multipart), get the download
//! URL (`GET /{media-id}`), delete (`DELETE /{media-id}`), and the download itself
//! (`GET /_media/{id}`, outside Graph).
//!
//! The bytes live in `<data_dir>/media/<id>` (written and fsynced before the record is
//! stored); the record in the store. The download URL is self-authorising, because some
//! clients download without a token: `?exp=<unix seconds>&sig=<hex HMAC-SHA256("id:exp")>`,
//! valid 5 minutes, with a per-server secret. A Bearer token of the owning business is
//! accepted instead. Any failure of a download answers 404, as Meta does.
//!
//! Errors of the upload:
//!
//! | what | code |
//! | --- | --- |
//! | body not `multipart/form-data`, `messaging_product` absent or not `whatsapp`, no `file` part | 100 |
//! | a MIME type Meta does not support, a file over its type's size limit, an empty file | 131053 |

use crate::app::AppState;
use crate::graph_error::GraphError;
use crate::ids;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use openwaba_store::{MediaRecord, StoreError, Write};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

const KB: usize = 1024;
const MB: usize = 1024 * 1024;

/// The largest request body the server reads (the largest file, 100 MB documents, plus
/// room for the multipart framing). Larger bodies are refused by axum with 413.
pub const MAX_REQUEST_BYTES: usize = 100 * MB + 64 * KB;

/// Seconds a download URL stays valid (Meta: 5 minutes).
pub const URL_TTL_SECS: i64 = 300;

/// The MIME types Meta accepts, with their size limits in bytes. Stickers (`image/webp`) are
/// special-cased: 100 KB static, 500 KB animated.
const SUPPORTED: &[(&str, usize)] = &[
    // audio
    ("audio/aac", 16 * MB),
    ("audio/amr", 16 * MB),
    ("audio/mpeg", 16 * MB),
    ("audio/mp4", 16 * MB),
    ("audio/ogg", 16 * MB),
    // documents
    ("text/plain", 100 * MB),
    ("application/pdf", 100 * MB),
    ("application/vnd.ms-excel", 100 * MB),
    ("application/msword", 100 * MB),
    ("application/vnd.ms-powerpoint", 100 * MB),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        100 * MB,
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        100 * MB,
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        100 * MB,
    ),
    // images
    ("image/jpeg", 5 * MB),
    ("image/png", 5 * MB),
    // stickers
    ("image/webp", 500 * KB),
    // video
    ("video/mp4", 16 * MB),
    ("video/3gpp", 16 * MB),
];

const STATIC_STICKER_MAX: usize = 100 * KB;

/// `type/subtype` without parameters, lower case.
fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// An animated WebP has a `VP8X` chunk with the animation flag (or an `ANIM` chunk).
fn is_animated_webp(b: &[u8]) -> bool {
    if b.len() < 21 || &b[0..4] != b"RIFF" || &b[8..12] != b"WEBP" {
        return false;
    }
    &b[12..16] == b"VP8X" && b[20] & 0x02 != 0
}

fn upload_error(details: impl Into<String>) -> GraphError {
    GraphError::engine(131_053, "Media upload error", &details.into(), 400)
}

fn internal(details: impl std::fmt::Display) -> GraphError {
    GraphError::engine(131_000, "Something went wrong", &details.to_string(), 500)
}

/// Refuses what Meta refuses: unknown types (131053, with Meta's list), sizes over the
/// type's limit (131053).
pub fn check_type_and_size(mime: &str, bytes: &[u8]) -> Result<(), GraphError> {
    let Some(&(_, max)) = SUPPORTED.iter().find(|(m, _)| *m == mime) else {
        let list: Vec<&str> = SUPPORTED.iter().map(|(m, _)| *m).collect();
        return Err(upload_error(format!(
            "Param file must be a file with one of the following types: {}. Got '{mime}'.",
            list.join(", ")
        )));
    };
    let max = if mime == "image/webp" && !is_animated_webp(bytes) {
        STATIC_STICKER_MAX
    } else {
        max
    };
    if bytes.is_empty() {
        return Err(upload_error("The file is empty."));
    }
    if bytes.len() > max {
        return Err(upload_error(format!(
            "The file is {} bytes; the limit for {mime} is {max} bytes.",
            bytes.len()
        )));
    }
    Ok(())
}

/// Reads `<data_dir>/media-secret`, creating it on the first start.
pub fn load_secret(data_dir: &FsPath) -> Result<String, StoreError> {
    let path = data_dir.join("media-secret");
    match std::fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => Ok(t.trim().to_owned()),
        _ => {
            let t = ids::secret(64);
            std::fs::write(&path, &t).map_err(|source| StoreError::DataDir {
                path: path.display().to_string(),
                source,
            })?;
            Ok(t)
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(H[usize::from(b >> 4)]));
        s.push(char::from(H[usize::from(b & 0x0f)]));
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| {
            let d = |c: u8| char::from(c).to_digit(16);
            Some((d(p[0])? * 16 + d(p[1])?) as u8)
        })
        .collect()
}

fn mac(secret: &str, id: &str, exp: i64) -> Option<Hmac<Sha256>> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).ok()?;
    m.update(format!("{id}:{exp}").as_bytes());
    Some(m)
}

/// The hex HMAC-SHA256 of `id:exp`.
pub fn sign(secret: &str, id: &str, exp: i64) -> String {
    mac(secret, id, exp)
        .map(|m| hex(&m.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether `sig` signs `id:exp` and `exp` is not past `now` (unix seconds).
pub fn signature_valid(secret: &str, id: &str, exp: i64, sig: &str, now: i64) -> bool {
    if exp < now {
        return false;
    }
    let (Some(m), Some(sig)) = (mac(secret, id, exp), unhex(sig)) else {
        return false;
    };
    m.verify_slice(&sig).is_ok()
}

fn now_secs(st: &AppState) -> i64 {
    st.clock.now().millis().div_euclid(1000)
}

/// The media `id` if the business may see it.
pub fn visible(st: &AppState, business: &str, id: &str) -> Option<MediaRecord> {
    if id.is_empty() || !id.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let m = match st.store.media(id) {
        Ok(m) => m?,
        Err(e) => {
            tracing::error!(error = %e, media = %id, "a media record could not be read");
            return None;
        }
    };
    let owner = st
        .registry
        .read()
        .ok()?
        .waba_business(&m.waba_id)
        .map(str::to_owned)?;
    (owner == business).then_some(m)
}

/// `phone_number_id=` restricts a call to media of that number.
fn number_matches(m: &MediaRecord, query: &HashMap<String, String>) -> bool {
    query
        .get("phone_number_id")
        .filter(|p| !p.is_empty())
        .is_none_or(|p| *p == m.phone_number_id)
}

/// A signed download URL of the media, valid for five minutes of the server's clock.
///
/// The base is the server's own address (or the configured public URL), never the request's
/// Host unless nothing else is known: clients that rewrite graph.facebook.com keep that Host,
/// and a URL built from it would send the download to Meta.
pub fn download_url(st: &AppState, m: &MediaRecord, host: Option<&str>) -> String {
    let base = st
        .public_url
        .get()
        .cloned()
        .unwrap_or_else(|| format!("http://{}", host.unwrap_or("localhost")));
    let exp = now_secs(st) + URL_TTL_SECS;
    let sig = sign(&st.media_secret, &m.id, exp);
    format!("{base}/_media/{}?exp={exp}&sig={sig}", m.id)
}

/// `GET /{media-id}`.
pub fn get(
    st: &AppState,
    m: &MediaRecord,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Value, GraphError> {
    if !number_matches(m, query) {
        return Err(GraphError::unknown_object(&m.id, "get"));
    }
    Ok(json!({
        "messaging_product": "whatsapp",
        "url": download_url(st, m, headers.get(header::HOST).and_then(|h| h.to_str().ok())),
        "mime_type": m.mime_type,
        "sha256": m.sha256,
        "file_size": m.file_size.to_string(),
        "id": m.id,
    }))
}

/// `DELETE /{media-id}`: the record goes, then the file.
pub async fn delete(
    st: &AppState,
    m: MediaRecord,
    query: &HashMap<String, String>,
) -> Result<Value, GraphError> {
    if !number_matches(&m, query) {
        return Err(GraphError::unknown_object(&m.id, "delete"));
    }
    st.store
        .commit(vec![Write::DeleteMedia { id: m.id.clone() }])
        .await
        .map_err(internal)?;
    if let Err(e) = tokio::fs::remove_file(st.data_dir.join(&m.path)).await {
        tracing::warn!(error = %e, media = %m.id, "the file of a deleted media could not be removed");
    }
    Ok(json!({"success": true}))
}

/// What the multipart body carried.
#[derive(Default)]
struct Upload {
    file: Option<(Bytes, Option<String>, Option<String>)>,
    kind: Option<String>,
    messaging_product: Option<String>,
}

async fn parse_multipart(headers: &HeaderMap, body: Bytes) -> Result<Upload, GraphError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(ct).map_err(|_| {
        GraphError::invalid_parameter(
            "The request must be multipart/form-data with a file part named 'file'.",
        )
    })?;
    let bad = |e: multer::Error| {
        GraphError::invalid_parameter(format!("The multipart body could not be read: {e}"))
    };
    let mut mp = multer::Multipart::new(axum::body::Body::from(body).into_data_stream(), boundary);
    let mut up = Upload::default();
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "file" if up.file.is_none() => {
                let ct = field.content_type().map(|m| m.essence_str().to_owned());
                let name = field.file_name().map(str::to_owned);
                let bytes = field.bytes().await.map_err(bad)?;
                up.file = Some((bytes, ct, name));
            }
            "type" => up.kind = Some(field.text().await.map_err(bad)?),
            "messaging_product" => up.messaging_product = Some(field.text().await.map_err(bad)?),
            _ => {
                // Unknown parts are read and ignored.
                field.bytes().await.map_err(bad)?;
            }
        }
    }
    Ok(up)
}

async fn write_file(dir: &FsPath, id: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use tokio::io::AsyncWriteExt as _;
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join(format!("{id}.part"));
    let path = dir.join(id);
    let mut f = tokio::fs::File::create(&tmp).await?;
    f.write_all(bytes).await?;
    f.sync_all().await?;
    drop(f);
    tokio::fs::rename(&tmp, &path).await?;
    // The rename is durable once the directory is synced (not possible on every platform).
    if let Ok(d) = tokio::fs::File::open(dir).await {
        let _ = d.sync_all().await;
    }
    Ok(path)
}

/// `POST /{phone-number-id}/media`.
pub async fn upload(
    st: &Arc<AppState>,
    business: &str,
    phone_id: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Bytes,
) -> Result<Value, GraphError> {
    let phone = st
        .registry
        .read()
        .ok()
        .and_then(|r| r.visible_number(business, phone_id).cloned())
        .ok_or_else(|| GraphError::unknown_object(phone_id, "post"))?;
    let up = parse_multipart(headers, body).await?;
    let product = up
        .messaging_product
        .or_else(|| query.get("messaging_product").cloned());
    match product.as_deref().map(str::trim) {
        None | Some("") => {
            return Err(GraphError::invalid_parameter(
                "The parameter messaging_product is required.",
            ))
        }
        Some(p) if p.eq_ignore_ascii_case("whatsapp") => {}
        Some(p) => {
            return Err(GraphError::invalid_parameter(format!(
                "Param messaging_product must be one of {{whatsapp}}, got {p}."
            )))
        }
    }
    let Some((bytes, part_type, filename)) = up.file else {
        return Err(GraphError::invalid_parameter(
            "The parameter file is required.",
        ));
    };
    let mime = up
        .kind
        .as_deref()
        .map(essence)
        .filter(|m| !m.is_empty())
        .or_else(|| part_type.as_deref().map(essence))
        .unwrap_or_default();
    check_type_and_size(&mime, &bytes)?;
    let record = store_bytes(st, &phone, mime, &bytes, filename).await?;
    Ok(json!({ "id": record.id }))
}

/// Keeps `bytes` as a media of the number: the file under the data directory, then its
/// record. The simulated phone's media go through here too.
pub async fn store_bytes(
    st: &AppState,
    phone: &openwaba_store::PhoneNumber,
    mime: String,
    bytes: &[u8],
    filename: Option<String>,
) -> Result<MediaRecord, GraphError> {
    let id = ids::object_id();
    let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes));
    let dir = st.data_dir.join("media");
    let path = write_file(&dir, &id, bytes).await.map_err(|e| {
        tracing::error!(error = %e, "an uploaded file could not be written");
        internal("The file could not be stored.")
    })?;
    let record = MediaRecord {
        id: id.clone(),
        phone_number_id: phone.id.clone(),
        waba_id: phone.waba_id.clone(),
        mime_type: mime,
        sha256,
        file_size: bytes.len() as i64,
        filename,
        path: format!("media/{id}"),
        created_at: st.clock.now().millis(),
    };
    if let Err(e) = st
        .store
        .commit(vec![Write::Media(Box::new(record.clone()))])
        .await
    {
        tracing::error!(error = %e, "a media record could not be stored");
        let _ = tokio::fs::remove_file(&path).await;
        return Err(internal("The media could not be stored."));
    }
    Ok(record)
}

/// Whether a media id used in a send (`image: {"id": …}`) names an existing media of the
/// WABA: 100 for an id that cannot be a media id, 131053 for one that does not exist, was
/// deleted, or belongs to another WABA.
pub fn check_send_reference(st: &AppState, waba_id: &str, id: &str) -> Result<(), GraphError> {
    if id.is_empty() || !id.bytes().all(|c| c.is_ascii_digit()) {
        return Err(GraphError::invalid_parameter(format!(
            "Param id must be a media id returned by the media upload, got '{id}'."
        )));
    }
    match st.store.media(id) {
        Ok(Some(m)) if m.waba_id == waba_id => Ok(()),
        Ok(_) => Err(upload_error(format!(
            "Media id {id} does not exist, was deleted, or was not uploaded by this WhatsApp Business Account."
        ))),
        Err(e) => Err(internal(e)),
    }
}

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// The business of a Bearer token, if any.
fn token_business(st: &AppState, headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let t = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .or_else(|| v.strip_prefix("OAuth "))?
        .trim();
    st.registry.read().ok()?.tokens.get(t).cloned()
}

/// `GET /_media/{id}?exp=…&sig=…`: the bytes, with the stored Content-Type; 404 on any
/// failure.
pub async fn download(
    State(st): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let m = match st.store.media(&id) {
        Ok(Some(m)) => m,
        _ => return not_found(),
    };
    let signed = match (
        query.get("exp").and_then(|e| e.parse::<i64>().ok()),
        query.get("sig"),
    ) {
        (Some(exp), Some(sig)) => signature_valid(&st.media_secret, &id, exp, sig, now_secs(&st)),
        _ => false,
    };
    let authorised = signed
        || token_business(&st, &headers).is_some_and(|b| {
            st.registry
                .read()
                .ok()
                .and_then(|r| r.waba_business(&m.waba_id).map(|o| o == b))
                .unwrap_or(false)
        });
    if !authorised {
        return not_found();
    }
    let Ok(bytes) = tokio::fs::read(st.data_dir.join(&m.path)).await else {
        return not_found();
    };
    let ct = HeaderValue::from_str(&m.mime_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    ([(header::CONTENT_TYPE, ct)], bytes).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_expire_and_resist_tampering() {
        let s = "secret";
        let sig = sign(s, "123", 1_000);
        assert_eq!(sig.len(), 64);
        assert!(signature_valid(s, "123", 1_000, &sig, 999));
        assert!(signature_valid(s, "123", 1_000, &sig, 1_000));
        assert!(!signature_valid(s, "123", 1_000, &sig, 1_001));
        assert!(!signature_valid(s, "124", 1_000, &sig, 0));
        assert!(!signature_valid(s, "123", 1_001, &sig, 0));
        assert!(!signature_valid("other", "123", 1_000, &sig, 0));
        assert!(!signature_valid(s, "123", 1_000, "zz", 0));
        assert!(!signature_valid(s, "123", 1_000, "", 0));
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])),
            Some(vec![0, 1, 0xab, 0xff])
        );
    }

    #[test]
    fn types_and_sizes_follow_meta() {
        assert!(check_type_and_size("image/jpeg", &[1; 10]).is_ok());
        assert_eq!(
            check_type_and_size("image/gif", &[1; 10]).unwrap_err().code,
            131_053
        );
        assert_eq!(
            check_type_and_size("image/png", &vec![0; 5 * MB + 1])
                .unwrap_err()
                .code,
            131_053
        );
        assert!(check_type_and_size("image/png", &vec![0; 5 * MB]).is_ok());
        assert!(check_type_and_size("image/png", &[]).is_err());
        // Stickers: 100 KB static, 500 KB animated.
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x02".to_vec();
        webp.resize(200 * KB, 0);
        assert!(check_type_and_size("image/webp", &webp).is_ok());
        webp[20] = 0;
        assert!(check_type_and_size("image/webp", &webp).is_err());
        assert_eq!(essence("Audio/OGG; codecs=opus"), "audio/ogg");
    }
}
