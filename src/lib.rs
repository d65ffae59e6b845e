//! pvledger: monitoring and revenue settlement for China's village photovoltaic
//! poverty-relief stations (村级光伏扶贫电站).
//!
//! Data flows from gateways (Modbus TCP, MQTT) through ingest into the store (SQLite or
//! PostgreSQL/TimescaleDB), is rolled up, and feeds settlement, assessment and alerts,
//! which the HTTP API and pages serve. See docs/ARCHITECTURE.md.
//!
//! - [`config`]: layered configuration (defaults, file, environment), validated at start-up.
//! - [`store`]: the two storage backends behind one [`store::Store`].
//! - [`ledger`]: the station ledger (台账) and its CSV import/export.
//! - [`reading`]: the decoded telemetry of one device at one instant.
//! - [`ingest`]: payloads and polled readings into the store, with rollups.
//! - [`modbus`]: Modbus TCP pollers, SunSpec and vendor-profile decoding, a simulator.
//! - [`gateway`]: the edge gateway (`pvledger gateway`): Modbus -> disk outbox -> MQTT.
//! - [`mqtt_tls`]: the MQTT link (plaintext or TLS) shared by the receiver and the gateway.
//! - [`health`]: a station's state from its latest readings; [`solar`]: sun and clear sky.
//! - [`series`]: station power and energy series; [`ephemeris_grid`]: the sun's ephemerides
//!   shared by every station's daylight count; [`daylight_memo`]: each station-day's count,
//!   kept once counted.
//! - [`settlement`]: the money rules (pure): income, deductions, deficits, splits, receipts, 大写.
//! - [`assess`]: efficacy assessment (成效评估): yields, availability, peers, flags, grades.
//! - [`report`]: XLSX workbooks and Chinese A4 PDFs (fonts, layout), for settlement and assessment.
//! - [`alerts`]: rules, the evaluator task, notifications and the problem ledger (问题台账).
//! - [`audit`]: the append-only audit trail.
//! - [`auth`]: credential hashing, roles, accounts, browser sessions and login lock-out.
//! - [`http`]: the JSON API and the session/CSRF layer; [`pages`]: the server-rendered web pages.
//! - [`metrics`]: the Prometheus text format behind GET /metrics.
//! - [`app`]: start-up and graceful shutdown; [`cli`]: the command line.

pub mod alerts;
pub mod app;
pub mod assess;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod daylight_memo;
pub mod daylight_warmup;
pub mod demo;
pub mod ephemeris_grid;
pub mod gateway;
pub mod health;
pub mod http;
pub mod ingest;
pub mod ledger;
pub mod logging;
pub mod metrics;
pub mod modbus;
pub mod mqtt_tls;
pub mod pages;
pub mod reading;
pub mod report;
pub mod series;
pub mod settlement;
pub mod simulate;
pub mod solar;
pub mod store;
