//! Polling one device over a [`Link`]: SunSpec discovery and chain, or a vendor profile.
//!
//! This is the glue between the pure planners/decoders and the socket. What it adds is
//! field behaviour: a SunSpec device is discovered again after every reconnect and when a
//! model id moved (firmware updates change the model list); a block answering exception
//! 0x02 again and again is disabled ([`BlockHealth`]); a busy device (0x06) is given time;
//! a gateway reporting its target unreachable (0x0A/0x0B) ends only this device's poll.
//! Anything that says the connection itself is broken goes back to the connection task.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_modbus::ExceptionCode;

use super::backoff::{Backoff, BackoffPolicy};
use super::block::{ReadRequest, RegisterBlock};
use super::health::{BlockHealth, IllegalAddressVerdict};
use super::link::{Link, ReadError};
use super::profile::Profile;
use super::sunspec::{self, ChainError, ChainWalker, DiscoveryStep, Issue, ModelChain};
use super::target::{PollTarget, ProfileRef};
use crate::reading::Reading;

/// Busy replies tolerated for one request before the poll is given up.
const BUSY_TRIES: u32 = 4;

/// Why a poll produced no reading.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// The connection is broken: drop it and reconnect.
    #[error(transparent)]
    Link(ReadError),
    /// The device kept answering "busy" (0x06).
    #[error("device stayed busy (exception 0x06): {0}")]
    Busy(ReadError),
    /// A gateway answered that the unit behind it does not respond (0x0A/0x0B).
    #[error("gateway cannot reach the device: {0}")]
    Unreachable(ReadError),
    /// No "SunS" marker at 40000, 0 or 50000.
    #[error("no SunSpec marker \"SunS\" at 40000, 0 or 50000")]
    NotSunSpec,
    /// The model chain could not be walked.
    #[error("SunSpec model chain: {0}")]
    Chain(String),
    /// Every block failed or is disabled: nothing to decode.
    #[error("no register block could be read (all failed or disabled)")]
    NothingRead,
}

impl PollError {
    /// True when the connection must be dropped.
    pub fn needs_reconnect(&self) -> bool {
        matches!(self, PollError::Link(_))
    }
}

/// A successful poll.
#[derive(Debug, Clone)]
pub struct Polled {
    /// When the first data register was read, by the poller's clock.
    pub ts: DateTime<Utc>,
    /// The decoded values.
    pub reading: Reading,
}

/// A SunSpec device's discovered layout.
#[derive(Debug, Clone)]
struct SunSpecLayout {
    chain: ModelChain,
    plan: Vec<ReadRequest>,
}

/// One device's polling state across polls.
#[derive(Debug)]
pub struct DevicePoller {
    target: PollTarget,
    layout: Option<SunSpecLayout>,
    /// The chain last discovered, kept over reconnects to tell a changed layout.
    known_chain: Option<ModelChain>,
    health: BlockHealth,
}

impl DevicePoller {
    /// A poller for `target`; SunSpec devices are discovered on the first poll.
    pub fn new(target: PollTarget) -> Self {
        let health = BlockHealth::new(target.disable_block_after);
        DevicePoller {
            target,
            layout: None,
            known_chain: None,
            health,
        }
    }

    /// The device's target.
    pub fn target(&self) -> &PollTarget {
        &self.target
    }

    /// Blocks no longer read because they kept answering exception 0x02.
    pub fn disabled_blocks(&self) -> &[ReadRequest] {
        self.health.disabled()
    }

    /// Forgets the SunSpec layout: after a reconnect the device may be another one.
    pub fn on_reconnect(&mut self) {
        self.layout = None;
    }

    /// Reads and decodes the device once.
    pub async fn poll(&mut self, link: &mut Link) -> Result<Polled, PollError> {
        link.set_timeout(self.target.timeout);
        match self.target.profile.clone() {
            ProfileRef::Vendor(profile) => self.poll_profile(link, &profile).await,
            ProfileRef::SunSpec => self.poll_sunspec(link).await,
        }
    }

    async fn poll_profile(
        &mut self,
        link: &mut Link,
        profile: &Arc<Profile>,
    ) -> Result<Polled, PollError> {
        let mut plan = profile.plan();
        if let Some(max) = self.target.max_registers_per_read
            && max < profile.max_registers_per_read
        {
            let mut narrower = (**profile).clone();
            narrower.max_registers_per_read = max.max(1);
            narrower.max_gap = narrower.max_gap.min(narrower.max_registers_per_read - 1);
            plan = narrower.plan();
        }
        let (ts, blocks) = self.read_plan(link, &plan).await?;
        Ok(Polled {
            ts,
            reading: profile.decode(&blocks).reading,
        })
    }

    async fn poll_sunspec(&mut self, link: &mut Link) -> Result<Polled, PollError> {
        let mut rediscovered = false;
        loop {
            let layout = match &self.layout {
                Some(layout) => layout.clone(),
                None => {
                    let layout = self.discover(link).await?;
                    self.layout = Some(layout.clone());
                    rediscovered = true;
                    layout
                }
            };
            let (ts, blocks) = self.read_plan(link, &layout.plan).await?;
            let decoded = sunspec::decode(&layout.chain, &blocks);
            let moved = decoded
                .issues
                .iter()
                .any(|i| matches!(i, Issue::ModelIdMismatch { .. }));
            if moved && !rediscovered {
                tracing::info!(
                    device = %self.target.device_code,
                    "SunSpec model list changed; discovering again"
                );
                self.layout = None;
                continue;
            }
            for issue in &decoded.issues {
                tracing::debug!(device = %self.target.device_code, ?issue, "SunSpec decode");
            }
            return Ok(Polled {
                ts,
                reading: decoded.reading,
            });
        }
    }

    /// Finds "SunS", walks the chain and plans the reads.
    async fn discover(&mut self, link: &mut Link) -> Result<SunSpecLayout, PollError> {
        let t = &self.target;
        let chain = discover_chain(link, t.unit_id, self.pause(), t.busy).await?;
        let plan = sunspec::plan_reads(&chain, self.target.effective_max_registers());
        // Blocks disabled for the old layout mean nothing in a new one.
        if self.known_chain.as_ref() != Some(&chain) {
            self.health = BlockHealth::new(self.target.disable_block_after);
            self.known_chain = Some(chain.clone());
        }
        tracing::info!(
            device = %self.target.device_code,
            models = ?chain.ids(),
            "SunSpec models discovered"
        );
        Ok(SunSpecLayout { chain, plan })
    }

    fn pause(&self) -> Duration {
        self.target.effective_pause_between_requests()
    }

    /// Performs every enabled request of `plan`, keeping the blocks that answered, and
    /// the instant the first request went out (after any pause the device needs).
    async fn read_plan(
        &mut self,
        link: &mut Link,
        plan: &[ReadRequest],
    ) -> Result<(DateTime<Utc>, Vec<RegisterBlock>), PollError> {
        link.ready().await;
        let ts = Utc::now();
        let mut blocks = Vec::with_capacity(plan.len());
        for request in plan {
            if self.health.is_disabled(request) {
                continue;
            }
            match self.read_patiently(link, request).await {
                Ok(block) => {
                    self.health.on_answer(request);
                    blocks.push(block);
                }
                Err(e) => self.on_block_error(request, e)?,
            }
        }
        // Every block failed or is disabled: an all-unknown reading would only look like
        // the device is alive.
        if blocks.is_empty() {
            return Err(PollError::NothingRead);
        }
        Ok((ts, blocks))
    }

    /// Decides what a failed block means for the rest of the poll.
    fn on_block_error(&mut self, request: &ReadRequest, e: ReadError) -> Result<(), PollError> {
        if e.needs_reconnect() {
            return Err(PollError::Link(e));
        }
        match e.exception() {
            Some(ExceptionCode::IllegalDataAddress) => {
                match self.health.on_illegal_address(request) {
                    IllegalAddressVerdict::Disabled => tracing::warn!(
                        device = %self.target.device_code,
                        error = %e,
                        "block keeps answering 'illegal data address'; no longer read"
                    ),
                    IllegalAddressVerdict::Counted(n) => tracing::debug!(
                        device = %self.target.device_code, error = %e, strikes = n,
                        "illegal data address"
                    ),
                }
                Ok(())
            }
            Some(ExceptionCode::ServerDeviceBusy) => Err(PollError::Busy(e)),
            Some(ExceptionCode::GatewayPathUnavailable | ExceptionCode::GatewayTargetDevice) => {
                Err(PollError::Unreachable(e))
            }
            _ => {
                tracing::debug!(device = %self.target.device_code, error = %e, "block skipped");
                Ok(())
            }
        }
    }

    /// One read, retried with backoff while the device answers "busy".
    async fn read_patiently(
        &mut self,
        link: &mut Link,
        request: &ReadRequest,
    ) -> Result<RegisterBlock, ReadError> {
        let t = &self.target;
        read_patiently(link, t.unit_id, request, self.pause(), t.busy).await
    }
}

/// One read, retried with `busy` backoff while the device answers exception 0x06, up to
/// [`BUSY_TRIES`] attempts. Huawei inverters answer "busy" while their own logger reads.
pub async fn read_patiently(
    link: &mut Link,
    unit: u8,
    request: &ReadRequest,
    pause: Duration,
    busy: BackoffPolicy,
) -> Result<RegisterBlock, ReadError> {
    let mut backoff = Backoff::new(busy);
    loop {
        match link.read(unit, request, pause).await {
            Err(e)
                if e.exception() == Some(ExceptionCode::ServerDeviceBusy)
                    && backoff.failures() + 1 < BUSY_TRIES =>
            {
                let delay = backoff.next_delay();
                tracing::debug!(unit, ?delay, error = %e, "device busy; waiting");
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}

/// Discovery at 40000, 0, 50000 and the chain walk, shared with the probe.
///
/// A probe answered with an exception (usually 0x02) means "not here", except "busy",
/// which is waited out first (a busy device must not be taken for a non-SunSpec one); a
/// broken link is returned as [`PollError::Link`].
pub async fn discover_chain(
    link: &mut Link,
    unit: u8,
    pause: Duration,
    busy: BackoffPolicy,
) -> Result<ModelChain, PollError> {
    let mut discovery = sunspec::Discovery::new();
    let mut step = match discovery.next_probe() {
        Some(request) => DiscoveryStep::Probe(request),
        None => DiscoveryStep::NotSunSpec,
    };
    let first_header = loop {
        match step {
            DiscoveryStep::Found { first_header, .. } => break first_header,
            DiscoveryStep::NotSunSpec => return Err(PollError::NotSunSpec),
            DiscoveryStep::Probe(request) => {
                let reply = match read_patiently(link, unit, &request, pause, busy).await {
                    Ok(block) => Some(block.registers),
                    Err(e) if e.needs_reconnect() => return Err(PollError::Link(e)),
                    Err(e) if e.exception() == Some(ExceptionCode::ServerDeviceBusy) => {
                        return Err(PollError::Busy(e));
                    }
                    Err(_) => None,
                };
                step = discovery.on_reply(reply.as_deref());
            }
        }
    };
    let mut walker = ChainWalker::new(first_header);
    while let Some(request) = walker.next_request() {
        let block = match read_patiently(link, unit, &request, pause, busy).await {
            Ok(block) => block,
            Err(e) if e.needs_reconnect() => return Err(PollError::Link(e)),
            Err(e) => return Err(PollError::Chain(e.to_string())),
        };
        let header = [block.registers[0], block.registers[1]];
        walker
            .feed(request.address, header)
            .map_err(|e: ChainError| PollError::Chain(e.to_string()))?;
    }
    Ok(walker.finish())
}
