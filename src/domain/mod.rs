//! Rules with no HTTP and no SQL: ids, roles and the permission table, slugs,
//! field validation, case folding, JSON documents, and the errors they produce.

pub mod account;
pub mod bridge;
pub mod error;
pub mod event;
pub mod ids;
pub mod invitations;
pub mod join_code;
pub mod json;
pub mod members;
pub mod pagination;
pub mod plans;
pub mod project;
pub mod providers;
pub mod roles;
pub mod run;
pub mod schedule;
pub mod settings;
pub mod slug;
pub mod text;
pub mod time;
pub mod validation;
pub mod webhook;
pub mod workspace;

pub use error::Error;
