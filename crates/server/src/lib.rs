//! # openwaba-server
//!
//! A server that speaks Meta's Graph API for WhatsApp closely enough that unmodified clients
//! work against it, deciding every send with the rules engine and storing every accepted
//! message durably before answering.

pub mod accounts;
pub mod admin;
pub mod analytics;
pub mod api;
pub mod app;
pub mod clock;
pub mod config;
pub mod costs;
pub mod field_expansion;
pub mod graph_error;
pub mod http;
pub mod ids;
pub mod json_path;
pub mod ledger;
pub mod limits;
pub mod media;
pub mod metrics;
pub mod registry;
pub mod scheduler;
pub mod send_body;
pub mod sim;
pub mod statuses;
pub mod template_json;
pub mod templates;
pub mod webhooks;
