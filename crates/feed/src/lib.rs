//! # shoppulse-feed
//!
//! The `ShopPulse` feed gateway. Sources (the seeded [`sim`] simulator, an
//! NDJSON replay file, `POST /ingest`) publish events into the [`hub`], which
//! numbers them, keeps a bounded history and its own engine, and fans
//! `events` frames out to dashboards ([`ws`]). [`webhooks`] maps Shopify,
//! WooCommerce, Segment and GA4 payloads into the same stream. [`import`] turns the Online
//! Retail dataset into NDJSON for replay. [`pace`] is the `--resume-pace`
//! schedule a benchmark uses to offer resumed history at known rates.
//!
//! The binary is `shoppulse-feed`; see `docs/GATEWAY.md` for the flags.

pub mod cli;
pub mod hub;
pub mod import;
pub mod lines;
pub mod metrics;
pub mod nats;
pub mod pace;
pub mod prng;
pub mod run;
pub mod security;
pub mod server;
pub mod shops;
pub mod sim;
pub mod sources;
pub mod webhooks;
pub mod ws;
