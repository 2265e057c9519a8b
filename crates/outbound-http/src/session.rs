//! Per-handler policy and per-request state: the responses a guest has open.

use std::sync::Arc;

use tokio::sync::Semaphore;
use wagi_config::AllowedHosts;

use crate::abi::ErrorCode;
use crate::cdn_loop::CdnLoop;
use crate::client::{OutboundClient, StoredResponse};
use crate::held::{Held, HeldBudget};
use crate::observer::{OutboundResult, Reporter};

/// Where one handler's module may send requests, and how many responses it may hold open.
#[derive(Clone, Debug, Default)]
pub struct OutboundPolicy {
    /// Permitted destinations; empty permits none.
    pub allowed_hosts: AllowedHosts,
    /// `http_max_concurrency`: responses open at once; `None` is unbounded.
    pub max_concurrency: Option<u32>,
}

/// One handler's outbound access: the process-wide client and the handler's policy, shared by
/// every invocation of the handler through a single reference.
#[derive(Debug)]
pub struct OutboundGrant {
    /// The client requests are sent with.
    pub client: OutboundClient,
    /// Where the handler's module may send them.
    pub policy: OutboundPolicy,
    /// Who is told how each request ended, if anyone.
    pub reporter: Option<Reporter>,
}

impl OutboundGrant {
    /// Tells the reporter, if any, that a request ended with `result`.
    pub(crate) fn report(&self, result: OutboundResult) {
        if let Some(reporter) = &self.reporter {
            reporter.report(result);
        }
    }
}

/// The outbound state of one module invocation.
#[derive(Debug)]
pub struct OutboundSession {
    pub(crate) grant: Arc<OutboundGrant>,
    /// Open responses, indexed by handle; a closed handle's slot is reused.
    responses: Vec<Option<OpenResponse>>,
    pub(crate) requests_made: u32,
    /// A component's responses open at once, under `http_max_concurrency`; made on its first
    /// request.
    pub(crate) open_components: Option<Arc<Semaphore>>,
    /// The `CDN-Loop` entries every request the module makes carries.
    pub(crate) cdn_loop: CdnLoop,
    /// The outbound bytes the invocation holds, under `--outbound-max-held`; made on its first
    /// request.
    held: Option<Arc<HeldBudget>>,
}

/// A response the guest reads through its handle.
#[derive(Debug)]
pub(crate) struct OpenResponse {
    pub(crate) response: StoredResponse,
    /// How much of the body the guest has read.
    pub(crate) read: usize,
}

impl OutboundSession {
    /// A session for one invocation of a module with `grant`, for a request whose `CDN-Loop`
    /// entries are `cdn_loop`.
    pub fn new(grant: Arc<OutboundGrant>, cdn_loop: CdnLoop) -> Self {
        Self { grant, responses: Vec::new(), requests_made: 0, open_components: None, cdn_loop, held: None }
    }

    /// Counts a request against the limits, or refuses it.
    pub(crate) fn admit(&mut self) -> Result<(), ErrorCode> {
        if self.grant.policy.allowed_hosts.is_empty() {
            tracing::info!("outbound request from a module without allowed_hosts");
            return Err(ErrorCode::DestinationNotAllowed);
        }
        let open = self.responses.iter().flatten().count();
        if self.grant.policy.max_concurrency.is_some_and(|max| open >= max as usize) {
            tracing::info!(open, "outbound request over http_max_concurrency");
            return Err(ErrorCode::TooManySessions);
        }
        if self.requests_made >= self.grant.client.limits().max_requests {
            tracing::info!(limit = self.requests_made, "outbound request over the per-invocation limit");
            return Err(ErrorCode::TooManySessions);
        }
        self.requests_made += 1;
        Ok(())
    }

    /// What performing a request needs, detached from the session so it can be awaited.
    pub(crate) fn sender(&self) -> Arc<OutboundGrant> {
        Arc::clone(&self.grant)
    }

    /// An empty share of the invocation's budget for held outbound bytes.
    pub(crate) fn held(&mut self) -> Held {
        let max = self.grant.client.limits().max_held;
        Held::new(self.held.get_or_insert_with(|| HeldBudget::new(max)))
    }

    /// Stores a response under the lowest free handle.
    pub(crate) fn open(&mut self, response: StoredResponse) -> u32 {
        let slot = Some(OpenResponse { response, read: 0 });
        let index = match self.responses.iter().position(Option::is_none) {
            Some(free) => {
                self.responses[free] = slot;
                free
            }
            None => {
                self.responses.push(slot);
                self.responses.len() - 1
            }
        };
        u32::try_from(index).unwrap_or(u32::MAX)
    }

    pub(crate) fn get(&mut self, handle: i32) -> Result<&mut OpenResponse, ErrorCode> {
        usize::try_from(handle)
            .ok()
            .and_then(|index| self.responses.get_mut(index))
            .and_then(Option::as_mut)
            .ok_or(ErrorCode::InvalidHandle)
    }

    pub(crate) fn close(&mut self, handle: i32) -> Result<(), ErrorCode> {
        let index = usize::try_from(handle).map_err(|_| ErrorCode::InvalidHandle)?;
        match self.responses.get_mut(index) {
            Some(slot @ Some(_)) => {
                *slot = None;
                Ok(())
            }
            _ => Err(ErrorCode::InvalidHandle),
        }
    }
}
