//! docward: a self-hosted MCP server that gives AI assistants documentation search over a
//! tenant's repositories, behind API keys that are shown once, stored hashed, scoped, expiring
//! and revocable.
//!
//! Data flows one way: transport → auth gate ([`auth::authenticate`], scope, quota) → tool → docs.
//! The modules, from the bottom up:
//! - [`domain`]: environments, token types, scopes, plans;
//! - [`clock`]: timestamps, durations, UTC days;
//! - [`token`]: the token format, its checksum and its hash;
//! - [`store`]: the key store behind the narrow [`store::KeyStore`] trait;
//! - [`auth`]: the one door from a presented token to a [`auth::Principal`];
//! - [`keys`]: key administration rules (create, revoke, rotate);
//! - [`reminders`]: expiry reminders by mail and signed webhook, claimed once in the store.

pub mod auth;
pub mod clock;
pub mod docs;
pub mod domain;
pub mod gate;
pub mod keys;
pub mod libraries;
pub mod private_dir;
pub mod quota;
pub mod refusal_log;
pub mod reminders;
pub mod server;
pub mod store;
pub mod token;
