//! What a reused instance holds while it lives: room in the server's admission, taken when the
//! instance is created and given back when it is dropped, so instances that outlive a request
//! (`reuse.rs`) are counted with every fresh instance and the pool never runs out.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Room for one instance, held until dropped.
pub type InstanceSlot = Box<dyn Any + Send + Sync>;

/// The server's admission, as the instances that outlive a request take their slots from it.
pub trait InstanceAdmission: Send + Sync + std::fmt::Debug {
    /// Waits for `slots` of the pool's slots (see [`Handler::pool_slots`](crate::Handler::pool_slots)):
    /// what to hold while the instance lives, or `None` when the server is too busy.
    fn admit_instance(self: Arc<Self>, slots: u32) -> Pin<Box<dyn Future<Output = Option<InstanceSlot>> + Send>>;
}
