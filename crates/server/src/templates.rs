//! Message templates over Graph: create (with review), list with filters and cursors, get,
//! edit, delete by name or `hsm_id`, and the lookup a template send needs.
//!
//! Review runs the automated checks of rules.md §9. With no review delay (the default) the
//! outcome (APPROVED or REJECTED with a reason) is in the create response. With a delay
//! (`template_review_delay`), the template is PENDING until the scheduler completes the review
//! on the server's clock; a PENDING template is stored as such, and its review is scheduled
//! again after a restart. PAUSED and DISABLED are set through the admin API.

use crate::app::AppState;
use crate::graph_error::GraphError;
use crate::ids;
use crate::template_json::{
    allow_category_change_from_json, apply_edit_json, definition_from_json, template_to_json,
};
use base64::Engine as _;
use openwaba_engine::template::{
    category_as_str, review, ReviewOutcome, TemplateDefinition, TemplateStatus,
};
use openwaba_engine::{TemplateCategory, TimeZoneId};
use openwaba_store::{TemplateRecord, Write};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Templates a WABA may have (Meta's limit for a verified business).
pub const MESSAGE_TEMPLATE_LIMIT: u32 = 250;

/// A template as the server keeps it: the stored record and its parsed definition.
#[derive(Clone, Debug)]
pub struct TemplateEntry {
    pub record: TemplateRecord,
    /// Shared with the sends that check against it: a send takes the definition without
    /// copying it (a deep clone was ~1.5 allocations a send, BENCHMARKS.md).
    pub def: Arc<TemplateDefinition>,
}

impl TemplateEntry {
    pub fn from_record(record: TemplateRecord) -> Option<TemplateEntry> {
        let v: Value = serde_json::from_str(&record.definition).ok()?;
        let def = Arc::new(definition_from_json(&v).ok()?);
        Some(TemplateEntry { record, def })
    }

    fn status(&self) -> TemplateStatus {
        TemplateStatus::parse(&self.record.status).unwrap_or(TemplateStatus::Pending)
    }

    fn to_json(&self) -> Value {
        let mut v = template_to_json(&self.def, &self.record.id, &self.record.status);
        if let (Some(r), Some(o)) = (&self.record.rejected_reason, v.as_object_mut()) {
            o.insert("rejected_reason".into(), json!(r));
        }
        v
    }
}

fn record_for(
    waba_id: &str,
    id: String,
    def: &TemplateDefinition,
    outcome: &ReviewOutcome,
    created_at: i64,
) -> TemplateRecord {
    let (status, category, reason) = match outcome {
        ReviewOutcome::Approved { category } => ("APPROVED", *category, None),
        ReviewOutcome::Rejected { reason, .. } => {
            ("REJECTED", def.category, Some(reason.as_str().to_owned()))
        }
    };
    let mut applied = def.clone();
    applied.category = category;
    TemplateRecord {
        id: id.clone(),
        waba_id: waba_id.to_owned(),
        name: def.name.clone(),
        language: def.language.clone(),
        status: status.to_owned(),
        category: category_as_str(category).to_owned(),
        rejected_reason: reason,
        definition: template_to_json(&applied, &id, status).to_string(),
        created_at,
    }
}

/// A template waiting for its review: the category as asked, no outcome yet.
fn pending_record(
    waba_id: &str,
    id: String,
    def: &TemplateDefinition,
    created_at: i64,
) -> TemplateRecord {
    TemplateRecord {
        id: id.clone(),
        waba_id: waba_id.to_owned(),
        name: def.name.clone(),
        language: def.language.clone(),
        status: "PENDING".to_owned(),
        category: category_as_str(def.category).to_owned(),
        rejected_reason: None,
        definition: template_to_json(def, &id, "PENDING").to_string(),
        created_at,
    }
}

/// The record after review, now or later (see the module's doc).
fn reviewed_or_pending(
    st: &AppState,
    waba_id: &str,
    id: String,
    def: &TemplateDefinition,
    others: &[&TemplateDefinition],
    allow_category_change: bool,
    created_at: i64,
) -> TemplateRecord {
    if st.template_review_delay_ms > 0 {
        return pending_record(waba_id, id, def, created_at);
    }
    let outcome = review(def, others, review_date(st, waba_id), allow_category_change);
    record_for(waba_id, id, def, &outcome, created_at)
}

/// Once a PENDING template is stored, its review falls due after the delay.
fn schedule_review(st: &AppState, record: &TemplateRecord) {
    if record.status == "PENDING" {
        st.scheduler.at(
            openwaba_engine::Instant::from_millis(
                st.clock.now().millis() + st.template_review_delay_ms,
            ),
            crate::scheduler::Task::TemplateReview {
                template_id: record.id.clone(),
            },
        );
    }
}

/// The scheduler's call: a PENDING template gets its outcome. It is reviewed against the
/// WABA's templates that are not themselves pending, so of two identical templates the
/// first to complete is approved and the second is a duplicate.
pub async fn complete_review(st: &Arc<AppState>, template_id: &str) {
    let Some((entry, others)) = st.templates.read().ok().and_then(|t| {
        let e = t.get(template_id)?.clone();
        let others: Vec<TemplateEntry> = t
            .values()
            .filter(|x| {
                x.record.waba_id == e.record.waba_id
                    && x.record.id != e.record.id
                    && x.record.status != "PENDING"
            })
            .cloned()
            .collect();
        Some((e, others))
    }) else {
        return;
    };
    if entry.record.status != "PENDING" {
        return;
    }
    let refs: Vec<&TemplateDefinition> = others.iter().map(|x| &*x.def).collect();
    let outcome = review(
        &entry.def,
        &refs,
        review_date(st, &entry.record.waba_id),
        false,
    );
    let record = record_for(
        &entry.record.waba_id,
        entry.record.id.clone(),
        &entry.def,
        &outcome,
        entry.record.created_at,
    );
    let def = entry.def.clone();
    let done = TemplateEntry::from_record(record.clone()).unwrap_or(TemplateEntry { record, def });
    if let Err(e) = save(st, done).await {
        tracing::error!(template = %template_id, error = ?e, "a template review could not be stored");
    }
}

/// At start: every PENDING template's review is due `template_review_delay` after it was
/// created (at once if that has passed).
pub fn schedule_pending_reviews(st: &Arc<AppState>) {
    let pending: Vec<(String, i64)> = st
        .templates
        .read()
        .map(|t| {
            t.values()
                .filter(|e| e.record.status == "PENDING")
                .map(|e| (e.record.id.clone(), e.record.created_at))
                .collect()
        })
        .unwrap_or_default();
    for (id, created_at) in pending {
        st.scheduler.at(
            openwaba_engine::Instant::from_millis(created_at + st.template_review_delay_ms),
            crate::scheduler::Task::TemplateReview { template_id: id },
        );
    }
}

fn json_error(e: crate::template_json::TemplateJsonError) -> GraphError {
    if e.is_missing() {
        GraphError::missing_parameter(e.to_string())
    } else {
        GraphError::invalid_parameter(e.to_string())
    }
}

fn review_date(st: &AppState, waba_id: &str) -> chrono::NaiveDate {
    let zone = st
        .registry
        .read()
        .ok()
        .and_then(|r| r.wabas.get(waba_id).map(|w| w.timezone.clone()))
        .and_then(|tz| TimeZoneId::parse(&tz).ok())
        .unwrap_or_default();
    zone.local_date(st.clock.now())
}

/// Stores a template. When its status changed (or it is new), the
/// `message_template_status_update` webhook is written in the same transaction.
async fn save(st: &AppState, entry: TemplateEntry) -> Result<(), GraphError> {
    let previous = st
        .templates
        .read()
        .ok()
        .and_then(|t| t.get(&entry.record.id).map(|e| e.record.status.clone()));
    let mut prepared = if previous.as_deref() != Some(entry.record.status.as_str()) {
        let r = &entry.record;
        let value = crate::webhooks::payload::template_status_value(
            &r.id,
            &r.name,
            &r.language,
            &r.category,
            &r.status,
            r.rejected_reason.as_deref(),
        );
        let now = st.clock.now().millis();
        let envelope = crate::webhooks::payload::envelope(
            &r.waba_id,
            "message_template_status_update",
            value,
            Some(now.div_euclid(1000)),
        );
        st.webhooks.prepare(
            st,
            &r.waba_id,
            &format!("templates|{}", r.waba_id),
            "message_template_status_update",
            &|_| envelope.clone(),
            now,
        )
    } else {
        crate::webhooks::Prepared::none()
    };
    let mut writes = std::mem::take(&mut prepared.writes);
    writes.push(Write::Template(Box::new(entry.record.clone())));
    let stored = st.store.commit(writes).await;
    prepared.committed(st, stored.is_ok());
    stored.map_err(|e| GraphError::engine(131_000, "Something went wrong", &e.to_string(), 500))?;
    if let Ok(mut t) = st.templates.write() {
        t.insert(entry.record.id.clone(), entry);
    }
    Ok(())
}

/// `POST /{waba-id}/message_templates`.
pub async fn create(st: &Arc<AppState>, waba_id: &str, body: &[u8]) -> Result<Value, GraphError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| GraphError::invalid_parameter(format!("the body is not JSON: {e}")))?;
    let def = definition_from_json(&v).map_err(json_error)?;
    let allow = allow_category_change_from_json(&v).map_err(json_error)?;
    let existing: Vec<TemplateEntry> = st
        .templates
        .read()
        .map(|t| {
            t.values()
                .filter(|e| e.record.waba_id == waba_id)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    if existing
        .iter()
        .any(|e| e.def.name == def.name && e.def.language == def.language)
    {
        let mut err = GraphError::invalid_parameter(format!(
            "Content in this language already exists: a template named {} in {} exists. Edit it, or delete it first.",
            def.name, def.language
        ));
        err.subcode = Some(2_388_024);
        return Err(err);
    }
    let others: Vec<&TemplateDefinition> = existing.iter().map(|e| &*e.def).collect();
    // A WABA's templates list in creation order, `(created_at, id)` (see `list`), and ids are
    // random: a template created in the millisecond of an earlier one (a burst, or a frozen
    // virtual clock) is stamped a millisecond after the WABA's latest, so its id never puts
    // it before them.
    let created_at = existing
        .iter()
        .map(|e| e.record.created_at + 1)
        .fold(st.clock.now().millis(), i64::max);
    let record = reviewed_or_pending(
        st,
        waba_id,
        ids::object_id(),
        &def,
        &others,
        allow,
        created_at,
    );
    let resp = json!({"id": record.id, "status": record.status, "category": record.category});
    let entry = TemplateEntry::from_record(record.clone()).unwrap_or(TemplateEntry {
        record: record.clone(),
        def: Arc::new(def),
    });
    save(st, entry).await?;
    schedule_review(st, &record);
    Ok(resp)
}

/// A filter value: `APPROVED`, or a JSON array string `["APPROVED","REJECTED"]`.
fn filter_values(q: &HashMap<String, String>, key: &str) -> Option<Vec<String>> {
    let raw = q.get(key)?.trim();
    if raw.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(raw) {
            return Some(v.into_iter().map(|s| s.to_ascii_uppercase()).collect());
        }
    }
    Some(
        raw.split(',')
            .map(|s| s.trim().to_ascii_uppercase())
            .collect(),
    )
}

fn select(v: Value, fields: Option<&[String]>) -> Value {
    match (fields, v) {
        (Some(f), Value::Object(o)) => {
            let mut out = serde_json::Map::new();
            for k in f.iter().map(String::as_str).chain(std::iter::once("id")) {
                if let Some(x) = o.get(k) {
                    out.insert(k.to_owned(), x.clone());
                }
            }
            Value::Object(out)
        }
        (_, v) => v,
    }
}

fn cursor(i: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("openwaba:{i}"))
}

fn uncursor(c: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(c)
        .ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("openwaba:")?
        .parse()
        .ok()
}

/// `GET /{waba-id}/message_templates`.
pub fn list(
    st: &AppState,
    waba_id: &str,
    q: &HashMap<String, String>,
    fields: Option<&[String]>,
    self_url: &str,
) -> Result<Value, GraphError> {
    let names = q.get("name").map(|n| n.to_owned());
    let statuses = filter_values(q, "status");
    let categories = filter_values(q, "category");
    let languages = q
        .get("language")
        .map(|_| filter_values(q, "language").unwrap_or_default());
    let mut all: Vec<TemplateEntry> = st
        .templates
        .read()
        .map(|t| {
            t.values()
                .filter(|e| e.record.waba_id == waba_id)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    all.retain(|e| {
        names
            .as_ref()
            .is_none_or(|n| e.record.name.contains(n.as_str()))
            && statuses
                .as_ref()
                .is_none_or(|s| s.contains(&e.record.status))
            && categories
                .as_ref()
                .is_none_or(|c| c.contains(&e.record.category))
            && languages
                .as_ref()
                .is_none_or(|l| l.iter().any(|x| x.eq_ignore_ascii_case(&e.record.language)))
    });
    all.sort_by(|a, b| {
        (a.record.created_at, &a.record.id).cmp(&(b.record.created_at, &b.record.id))
    });
    let limit: usize = match q.get("limit") {
        Some(l) => l
            .parse()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                GraphError::invalid_parameter(format!(
                    "limit `{l}` must be a whole number from 1 to 1000"
                ))
            })?,
        None => 25,
    };
    let start = match (q.get("after"), q.get("before")) {
        (Some(a), _) => uncursor(a)
            .map(|i| i + 1)
            .ok_or_else(|| GraphError::invalid_parameter("after: not a cursor of this list"))?,
        (None, Some(b)) => uncursor(b)
            .ok_or_else(|| GraphError::invalid_parameter("before: not a cursor of this list"))?
            .saturating_sub(limit),
        (None, None) => 0,
    };
    let end = (start + limit).min(all.len());
    let total = all.len();
    let data: Vec<Value> = all
        .get(start..end)
        .unwrap_or(&[])
        .iter()
        .map(|e| select(e.to_json(), fields))
        .collect();
    let mut out = json!({"data": data});
    if let Some(wanted) = q.get("summary") {
        // pywa asks for it and reads all four fields.
        let count = st
            .templates
            .read()
            .map(|t| t.values().filter(|e| e.record.waba_id == waba_id).count())
            .unwrap_or(0);
        let all = json!({
            "total_count": total,
            "message_template_count": count,
            "message_template_limit": MESSAGE_TEMPLATE_LIMIT,
            "are_translations_complete": true,
        });
        let mut summary = serde_json::Map::new();
        for k in wanted.split(',').map(str::trim) {
            if let Some(v) = all.get(k) {
                summary.insert(k.to_owned(), v.clone());
            }
        }
        out["summary"] = Value::Object(summary);
    }
    if end > start {
        let mut paging = json!({"cursors": {"before": cursor(start), "after": cursor(end - 1)}});
        let strip = |url: &str| -> String {
            url.split('&')
                .filter(|p| !p.starts_with("after=") && !p.starts_with("before="))
                .collect::<Vec<_>>()
                .join("&")
        };
        let base = strip(self_url);
        let sep = if base.contains('?') { "&" } else { "?" };
        if end < all.len() {
            paging["next"] = json!(format!("{base}{sep}after={}", cursor(end - 1)));
        }
        if start > 0 {
            paging["previous"] = json!(format!("{base}{sep}before={}", cursor(start)));
        }
        out["paging"] = paging;
    }
    Ok(out)
}

/// The template with this id, if the business may see it.
pub fn visible(st: &AppState, business: &str, id: &str) -> Option<TemplateEntry> {
    let e = st.templates.read().ok()?.get(id).cloned()?;
    let owner = st
        .registry
        .read()
        .ok()?
        .waba_business(&e.record.waba_id)
        .map(str::to_owned)?;
    (owner == business).then_some(e)
}

/// `GET /{template-id}`.
pub fn get(e: &TemplateEntry, fields: Option<&[String]>) -> Value {
    select(e.to_json(), fields)
}

/// `POST /{template-id}`: edit, then review again.
pub async fn edit(st: &Arc<AppState>, e: TemplateEntry, body: &[u8]) -> Result<Value, GraphError> {
    if !e.status().can_edit() {
        return Err(GraphError::invalid_parameter(format!(
            "A template in status {} cannot be edited (only APPROVED, REJECTED or PAUSED ones can).",
            e.record.status
        )));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|err| GraphError::invalid_parameter(format!("the body is not JSON: {err}")))?;
    let def = apply_edit_json(&e.def, &v).map_err(json_error)?;
    let others: Vec<TemplateEntry> = st
        .templates
        .read()
        .map(|t| {
            t.values()
                .filter(|x| x.record.waba_id == e.record.waba_id && x.record.id != e.record.id)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let refs: Vec<&TemplateDefinition> = others.iter().map(|x| &*x.def).collect();
    let record = reviewed_or_pending(
        st,
        &e.record.waba_id,
        e.record.id.clone(),
        &def,
        &refs,
        false,
        e.record.created_at,
    );
    let entry = TemplateEntry::from_record(record.clone()).unwrap_or(TemplateEntry {
        record: record.clone(),
        def: Arc::new(def),
    });
    save(st, entry).await?;
    schedule_review(st, &record);
    Ok(json!({"success": true}))
}

/// `DELETE /{waba-id}/message_templates?name=…[&hsm_id=…]`: every language of the name, or
/// only the template `hsm_id`.
pub async fn delete(
    st: &Arc<AppState>,
    waba_id: &str,
    q: &HashMap<String, String>,
) -> Result<Value, GraphError> {
    let name = q
        .get("name")
        .ok_or_else(|| GraphError::missing_parameter("name is required"))?;
    let hsm = q.get("hsm_id");
    let doomed: Vec<String> = st
        .templates
        .read()
        .map(|t| {
            t.values()
                .filter(|e| {
                    e.record.waba_id == waba_id
                        && &e.record.name == name
                        && hsm.is_none_or(|h| &e.record.id == h)
                })
                .map(|e| e.record.id.clone())
                .collect()
        })
        .unwrap_or_default();
    if doomed.is_empty() {
        return Err(GraphError::invalid_parameter(format!(
            "Message template \"{name}\" not found"
        )));
    }
    st.store
        .commit(
            doomed
                .iter()
                .map(|id| Write::DeleteTemplate { id: id.clone() })
                .collect(),
        )
        .await
        .map_err(|e| GraphError::engine(131_000, "Something went wrong", &e.to_string(), 500))?;
    if let Ok(mut t) = st.templates.write() {
        for id in &doomed {
            t.remove(id);
        }
    }
    Ok(json!({"success": true}))
}

/// Sets a template's status (admin: PAUSED, DISABLED, APPROVED, …).
pub async fn set_status(st: &Arc<AppState>, id: &str, status: &str) -> Result<Value, GraphError> {
    let status = TemplateStatus::parse(status).ok_or_else(|| {
        GraphError::invalid_value(format!(
            "`{status}` is not a template status (APPROVED, PAUSED, DISABLED, …)"
        ))
    })?;
    let mut e = st
        .templates
        .read()
        .ok()
        .and_then(|t| t.get(id).cloned())
        .ok_or_else(|| GraphError::unknown_object(id, "post"))?;
    e.record.status = status.as_str().to_owned();
    save(st, e).await?;
    Ok(json!({"success": true}))
}

/// The template a send names, checked as Meta checks it: 132001 when it does not exist in
/// that language (or is not approved), 132015 paused, 132016 disabled.
pub fn for_send(
    st: &AppState,
    waba_id: &str,
    name: &str,
    language: &str,
) -> Result<(TemplateCategory, Arc<TemplateDefinition>), GraphError> {
    // Decided under the read lock, taking only the shared definition: cloning the whole
    // entry (record, stored JSON, definition) cost a dozen allocations a template send.
    let found = st.templates.read().ok().and_then(|t| {
        t.values()
            .find(|e| {
                e.record.waba_id == waba_id
                    && e.record.name == name
                    && e.record.language.eq_ignore_ascii_case(language)
            })
            .map(|e| (e.status(), e.def.clone()))
    });
    let Some((status, def)) = found else {
        return Err(GraphError::template_not_found(format!(
            "template name ({name}) does not exist in {language}"
        )));
    };
    match status {
        TemplateStatus::Approved => Ok((def.category, def)),
        TemplateStatus::Paused => Err(GraphError::template_paused(format!(
            "Template {name} ({language}) is paused."
        ))),
        TemplateStatus::Disabled => Err(GraphError::template_disabled(format!(
            "Template {name} ({language}) is disabled."
        ))),
        other => Err(GraphError::template_not_found(format!(
            "template name ({name}) in {language} is {}: only APPROVED templates can be sent",
            other.as_str()
        ))),
    }
}
