//! AWS CloudFormation: stacks, change sets, exports, and the engine that
//! provisions resources through the other services' APIs.
//!
//! Requests validate everything that can be checked up front (template,
//! resource types, parameters, rules, capabilities), persist the stack in
//! `*_IN_PROGRESS` and return; a background thread runs the operation
//! ([`engine`]), persisting every transition so [`CloudFormation::resume`]
//! can finish or roll back work a restart interrupted.

mod api;
mod engine;
mod model;
mod policy;
pub(crate) mod providers;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use ironsage_store::{ServiceStore, Store};
use serde_json::Value;

use crate::{AwsError, Ctx, InternalHandle, Service, Target};

pub use providers::supported_types;

const SVC: &str = "cloudformation";

/// The CloudFormation service.
#[derive(Clone)]
pub struct CloudFormation {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CloudFormation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CloudFormation")
    }
}

/// Shared state of the service and its worker threads.
pub(crate) struct Inner {
    store: ServiceStore,
    internal: InternalHandle,
    /// Stacks with an operation running in this process.
    running: Mutex<HashSet<String>>,
    /// Parallel resource operations per stack operation.
    workers: usize,
    /// Set by [`CloudFormation::halt`]: nothing more is persisted (tests
    /// simulate a crash with it).
    halted: std::sync::atomic::AtomicBool,
}

impl CloudFormation {
    /// Opens the service over `store`; `internal` runs the providers' calls.
    pub fn open(store: &Arc<Store>, internal: InternalHandle) -> Result<Self, AwsError> {
        Ok(CloudFormation {
            inner: Arc::new(Inner {
                store: store.service(SVC),
                internal,
                running: Mutex::new(HashSet::new()),
                workers: 4,
                halted: std::sync::atomic::AtomicBool::new(false),
            }),
        })
    }

    /// Resumes operations a restart interrupted, in the background: creates
    /// and updates roll back, deletes and rollbacks continue.
    pub fn resume(&self) {
        engine::resume(&self.inner);
    }

    /// Stops persisting anything (a simulated crash; the process state is
    /// then abandoned).
    pub fn halt(&self) {
        self.inner
            .halted
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Blocks until no stack operation runs (tests, shutdown).
    pub fn wait_idle(&self, timeout: std::time::Duration) -> bool {
        let start = std::time::Instant::now();
        while start.elapsed() < timeout {
            if self
                .inner
                .running
                .lock()
                .map(|r| r.is_empty())
                .unwrap_or(true)
            {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        false
    }
}

impl Service for CloudFormation {
    fn name(&self) -> &'static str {
        SVC
    }

    fn targets(&self, ctx: &Ctx<'_>, op: &str, input: &Value) -> Result<Vec<Target>, AwsError> {
        api::targets(&self.inner, ctx, op, input)
    }

    fn call(&self, ctx: &Ctx<'_>, op: &str, input: Value) -> Result<Value, AwsError> {
        api::call(&self.inner, ctx, op, input)
    }
}

/// `ValidationError` (400) with `message`.
pub(crate) fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationError", message, 400)
}
