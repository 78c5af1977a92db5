//! What handlers use: the [`SessionContext`] extractor, the [`ContextEntry`] the macro adds, the typed body source
//! ([`SessionIdSource`], derived with `#[derive(SessionIdSource)]`), the panic response, and
//! the support code `#[with_session_context]` expands to.

mod entry;
mod extract;
mod panic;
#[doc(hidden)]
pub mod private;
mod typed_body;

pub use entry::ContextEntry;
pub use extract::{MissingContext, SessionContext};
pub use panic::panic_response;
pub use typed_body::{SessionIdField, SessionIdSource};
