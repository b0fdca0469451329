//! Black-box tests of media: upload (the shapes real clients send), URL, download with and
//! without a token, delete, scoping, and Meta's limits. A real server on a free port.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
use common::*;
use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::Value;

/// A server with a second business (its own WABA, number and token).
async fn spawn_with_other_business() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    seed_other_business(dir.path(), Some(OTHER_TOKEN)).await;
    Options::default().spawn_in(dir).await
}

fn file(bytes: Vec<u8>, name: &str, mime: &str) -> Part {
    Part::bytes(bytes)
        .file_name(name.to_owned())
        .mime_str(mime)
        .unwrap()
}

/// pywa / @great-detail / @kapso: `file`, `type`, `messaging_product` parts.
fn full_form(bytes: Vec<u8>, mime: &str) -> Form {
    Form::new()
        .part("file", file(bytes, "f.bin", mime))
        .text("type", mime.to_owned())
        .text("messaging_product", "whatsapp")
}

fn png() -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
    b.extend_from_slice(&[7; 100]);
    b
}

/// Multipart uploads and downloads, used only here.
impl TestApp {
    async fn upload_as(&self, token: &str, path: &str, form: Form) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn upload(&self, form: Form) -> (u16, Value) {
        self.upload_as(TOKEN, &format!("/v23.0/{PHONE}/media"), form)
            .await
    }

    async fn upload_ok(&self, bytes: Vec<u8>, mime: &str) -> String {
        let (s, b) = self.upload(full_form(bytes, mime)).await;
        assert_eq!(s, 200, "{b}");
        b["id"].as_str().unwrap().to_owned()
    }

    /// Status, Content-Type and body of a download.
    async fn download(&self, url: &str, token: Option<&str>) -> (u16, String, Vec<u8>) {
        let mut req = self.http.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let ct = r
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (r.status().as_u16(), ct, r.bytes().await.unwrap().to_vec())
    }
}

fn assert_unknown_object(status: u16, body: &Value) {
    assert_eq!(status, 400, "{body}");
    assert_graph_error(body, 100);
    assert_eq!(body["error"]["error_subcode"], 33, "{body}");
}

#[tokio::test]
async fn the_three_client_shapes_upload() {
    let app = spawn_with_other_business().await;
    // type present (pywa, @great-detail, @kapso)
    let (s, b) = app.upload(full_form(png(), "image/png")).await;
    assert_eq!(s, 200, "{b}");
    let id = b["id"].as_str().unwrap();
    assert!(!id.is_empty() && id.bytes().all(|c| c.is_ascii_digit()));
    // type missing: taken from the file part's Content-Type
    let form = Form::new()
        .part("file", file(b"hello".to_vec(), "a.txt", "text/plain"))
        .text("messaging_product", "whatsapp");
    let (s, b) = app.upload(form).await;
    assert_eq!(s, 200, "{b}");
    let (_, meta) = app
        .get(&format!("/v23.0/{}", b["id"].as_str().unwrap()))
        .await;
    assert_eq!(meta["mime_type"], "text/plain");
    // messaging_product in the query, only a file part (whatsapp-api-js), unversioned path
    let form = Form::new().part("file", file(png(), "a.png", "image/png"));
    let (s, b) = app
        .upload_as(
            TOKEN,
            &format!("/{PHONE}/media?messaging_product=whatsapp"),
            form,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert!(b["id"].is_string());
}

#[tokio::test]
async fn url_and_download_with_and_without_token() {
    let mut app = spawn_with_other_business().await;
    let bytes = png();
    let id = app.upload_ok(bytes.clone(), "image/png").await;
    let (s, m) = app.get(&format!("/v23.0/{id}")).await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["messaging_product"], "whatsapp");
    assert_eq!(m["id"], id.as_str());
    assert_eq!(m["mime_type"], "image/png");
    assert_eq!(m["file_size"], bytes.len().to_string());
    // base64 of the SHA-256 of the empty-prefixed bytes: 44 characters ending in '='
    let sha = m["sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 44, "{sha}");
    let url = m["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&format!("{}/_media/{id}?", app.base)),
        "{url}"
    );

    // Signed URL, no token (@great-detail, @kapso).
    let (s, ct, body) = app.download(&url, None).await;
    assert_eq!(s, 200);
    assert_eq!(ct, "image/png");
    assert_eq!(body, bytes);
    // Signed URL with the token (pywa, whatsapp-api-js).
    let (s, _, body) = app.download(&url, Some(TOKEN)).await;
    assert_eq!((s, body), (200, bytes.clone()));
    // No signature: the owner's token is enough, nothing else is.
    let bare = format!("{}/_media/{id}", app.base);
    assert_eq!(app.download(&bare, Some(TOKEN)).await.0, 200);
    assert_eq!(app.download(&bare, None).await.0, 404);
    assert_eq!(app.download(&bare, Some(OTHER_TOKEN)).await.0, 404);
    assert_eq!(app.download(&bare, Some("nonsense")).await.0, 404);
    // Tampered signature, tampered expiry, another id with this signature: 404.
    let sig_at = url.find("sig=").unwrap() + 4;
    let mut tampered = url.clone();
    let c = if &url[sig_at..sig_at + 1] == "0" {
        "1"
    } else {
        "0"
    };
    tampered.replace_range(sig_at..sig_at + 1, c);
    assert_eq!(app.download(&tampered, None).await.0, 404);
    let exp_at = url.find("exp=").unwrap() + 4;
    let mut later = url.clone();
    later.replace_range(exp_at..exp_at + 1, "9");
    assert_eq!(app.download(&later, None).await.0, 404);
    let other = app.upload_ok(png(), "image/png").await;
    let swapped = url.replace(&format!("/_media/{id}?"), &format!("/_media/{other}?"));
    assert_eq!(app.download(&swapped, None).await.0, 404);

    // phone_number_id restricts to media of that number.
    let (s, _) = app
        .get(&format!("/v23.0/{id}?phone_number_id={PHONE}"))
        .await;
    assert_eq!(s, 200);
    let (s, b) = app
        .get(&format!("/v23.0/{id}?phone_number_id=300000000000009"))
        .await;
    assert_unknown_object(s, &b);

    // The secret survives a restart: a fresh URL still works, the media is still there.
    app.restart().await;
    let (s, m) = app.get(&format!("/v23.0/{id}")).await;
    assert_eq!(s, 200, "{m}");
    let (s, _, body) = app.download(m["url"].as_str().unwrap(), None).await;
    assert_eq!((s, body), (200, bytes));
}

#[tokio::test]
async fn delete_then_everything_is_gone() {
    let app = spawn_with_other_business().await;
    let id = app.upload_ok(png(), "image/png").await;
    let (_, m) = app.get(&format!("/v23.0/{id}")).await;
    let url = m["url"].as_str().unwrap().to_owned();
    let (s, b) = app.delete(&format!("/v23.0/{id}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b, serde_json::json!({"success": true}));
    let (s, b) = app.get(&format!("/v23.0/{id}")).await;
    assert_unknown_object(s, &b);
    assert_eq!(app.download(&url, None).await.0, 404);
    assert_eq!(app.download(&url, Some(TOKEN)).await.0, 404);
    let (s, b) = app.delete(&format!("/v23.0/{id}")).await;
    assert_unknown_object(s, &b);
    assert!(!app.dir.path().join("media").join(&id).exists());
}

#[tokio::test]
async fn another_business_sees_nothing() {
    let app = spawn_with_other_business().await;
    let id = app.upload_ok(png(), "image/png").await;
    let (s, b) = app
        .call(Method::GET, &format!("/v23.0/{id}"), OTHER_TOKEN, None)
        .await;
    assert_unknown_object(s, &b);
    let (s, b) = app
        .call(Method::DELETE, &format!("/v23.0/{id}"), OTHER_TOKEN, None)
        .await;
    assert_unknown_object(s, &b);
    // Still there for its owner.
    assert_eq!(app.get(&format!("/v23.0/{id}")).await.0, 200);
    // Uploading to another business's number.
    let (s, b) = app
        .upload_as(
            TOKEN,
            &format!("/v23.0/{OTHER_PHONE}/media"),
            full_form(png(), "image/png"),
        )
        .await;
    assert_unknown_object(s, &b);
    // The other business uploads to its own number and sees its own media only.
    let (s, b) = app
        .upload_as(
            OTHER_TOKEN,
            &format!("/v23.0/{OTHER_PHONE}/media"),
            full_form(png(), "image/png"),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let theirs = b["id"].as_str().unwrap();
    let (s, b) = app.get(&format!("/v23.0/{theirs}")).await;
    assert_unknown_object(s, &b);
}

#[tokio::test]
async fn meta_limits_and_missing_parts() {
    let app = spawn_with_other_business().await;
    // Unsupported type: 131053.
    let (s, b) = app.upload(full_form(b"GIF89a".to_vec(), "image/gif")).await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 131_053);
    // `type` wins over the part's Content-Type.
    let form = Form::new()
        .part("file", file(png(), "a.png", "image/png"))
        .text("type", "application/zip")
        .text("messaging_product", "whatsapp");
    let (s, b) = app.upload(form).await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 131_053);
    // No type and an untyped part: 131053.
    let form = Form::new()
        .part("file", Part::bytes(png()).file_name("x"))
        .text("messaging_product", "whatsapp");
    let (s, b) = app.upload(form).await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 131_053);
    // Images: 5 MB.
    let (s, b) = app
        .upload(full_form(vec![0; 5 * 1024 * 1024 + 1], "image/jpeg"))
        .await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 131_053);
    let (s, _) = app
        .upload(full_form(vec![0; 5 * 1024 * 1024], "image/jpeg"))
        .await;
    assert_eq!(s, 200);
    // Static stickers: 100 KB; animated: 500 KB.
    let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x00".to_vec();
    webp.resize(150 * 1024, 0);
    let (s, b) = app.upload(full_form(webp.clone(), "image/webp")).await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 131_053);
    webp[20] = 0x02;
    assert_eq!(app.upload(full_form(webp, "image/webp")).await.0, 200);
    // Audio: 16 MB (and beyond the 2 MB default body limit of axum).
    let (s, b) = app
        .upload(full_form(vec![0; 16 * 1024 * 1024 + 1], "audio/ogg"))
        .await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 131_053);
    let (s, b) = app
        .upload(full_form(
            vec![0; 3 * 1024 * 1024],
            "audio/ogg; codecs=opus",
        ))
        .await;
    assert_eq!(s, 200, "{b}");
    // Empty file: 131053.
    let (s, b) = app.upload(full_form(Vec::new(), "image/png")).await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 131_053);

    // No file part: 100 ("The parameter file is required.").
    let form = Form::new()
        .text("type", "image/png")
        .text("messaging_product", "whatsapp");
    let (s, b) = app.upload(form).await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 100);
    // No messaging_product anywhere, or a wrong one: 100.
    let form = Form::new().part("file", file(png(), "a.png", "image/png"));
    let (s, b) = app.upload(form).await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 100);
    let form = Form::new()
        .part("file", file(png(), "a.png", "image/png"))
        .text("messaging_product", "sms");
    let (s, b) = app.upload(form).await;
    assert_eq!(s, 400);
    assert_graph_error(&b, 100);
    // Not multipart at all: 100.
    let r = app
        .http
        .post(format!("{}/v23.0/{PHONE}/media", app.base))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"messaging_product": "whatsapp"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_graph_error(&r.json().await.unwrap(), 100);
    // Truncated multipart: 100, never 500.
    let r = app
        .http
        .post(format!("{}/v23.0/{PHONE}/media", app.base))
        .bearer_auth(TOKEN)
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_graph_error(&r.json().await.unwrap(), 100);
    // Unknown media ids.
    let (s, b) = app.get("/v23.0/123456789012345").await;
    assert_unknown_object(s, &b);
    let (s, b) = app.delete("/v23.0/123456789012345").await;
    assert_unknown_object(s, &b);
    assert_eq!(
        app.download(&format!("{}/_media/123456789012345", app.base), Some(TOKEN))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn send_references_are_checked() {
    let app = spawn_with_other_business().await;
    let id = app.upload_ok(png(), "image/png").await;
    let st = &app.running.as_ref().unwrap().state;
    assert!(openwaba_server::media::check_send_reference(st, WABA, &id).is_ok());
    let e = openwaba_server::media::check_send_reference(st, "901", &id).unwrap_err();
    assert_eq!(e.code, 131_053);
    let e = openwaba_server::media::check_send_reference(st, WABA, "123").unwrap_err();
    assert_eq!(e.code, 131_053);
    let e = openwaba_server::media::check_send_reference(st, WABA, "abc").unwrap_err();
    assert_eq!(e.code, 100);
}
