//! [`SessionContextLayer`]: the request context for every request of a tower HTTP service.
//!
//! The layer runs the request steps of [`request`](crate::request) in order: it reads the
//! request head, peeks a JSON body when no earlier source gave a session id, looks the user
//! up, admits the request by its policy, calls the inner service inside the context and its
//! `request` span, and closes the request on the way out (correlation id echoed, summary
//! written). A request that needs nothing awaited (no session id, or a store that answers
//! from memory) is handled without a boxed future.
//!
//! It serves any `Service<http::Request<RequestBody<B>>>` for any request body `B` (axum's
//! `Router`, a tonic server, a hyper `service_fn`), whatever its response body and error.
//! The inner service receives the client's body wrapped in [`RequestBody`] (the same bytes,
//! even after a peek), and the layer answers with [`ResponseBody`].
//!
//! | file | what |
//! | --- | --- |
//! | `layer.rs` | the layer and its settings |
//! | `service.rs` | the service: the steps in order, the waiting path |
//! | `future.rs` | the response future: the request closed on the way out |
//! | `body.rs` | the request and response bodies it hands on |

mod body;
mod future;
#[allow(clippy::module_inception)]
mod layer;
mod service;

pub use crate::ids::CORRELATION_ID_HEADER;
pub use crate::request::{DEFAULT_BODY_PEEK_DEADLINE, DEFAULT_BODY_PEEK_LIMIT, DEFAULT_LOOKUP_TIMEOUT, Summary};
pub use body::{RequestBody, ResponseBody};
pub use future::ResponseFuture;
pub use layer::SessionContextLayer;
pub use service::SessionContextService;
