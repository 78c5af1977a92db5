//! A one-method gRPC service without generated code: `/greeter.Greeter/Hello` greets the user
//! of the request's session, read from `sessionscope`, or answers `unauthenticated`.
//!
//! `Text` carries strings as messages; with prost-generated code your service and its codec
//! take their place, and nothing about sessionscope changes.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf as _, BufMut as _};

/// Strings as gRPC messages.
#[derive(Clone, Copy, Default)]
pub struct Text;

impl tonic::codec::Codec for Text {
    type Encode = String;
    type Decode = String;
    type Encoder = Text;
    type Decoder = Text;

    fn encoder(&mut self) -> Text {
        Text
    }

    fn decoder(&mut self) -> Text {
        Text
    }
}

impl tonic::codec::Encoder for Text {
    type Item = String;
    type Error = tonic::Status;

    fn encode(&mut self, item: String, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(item.as_bytes());
        Ok(())
    }
}

impl tonic::codec::Decoder for Text {
    type Item = String;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<String>, tonic::Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        String::from_utf8(bytes.to_vec()).map(Some).map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

/// The method's path.
pub const HELLO: &str = "/greeter.Greeter/Hello";

/// The service: one unary method.
#[derive(Clone)]
pub struct Greeter;

impl tonic::server::NamedService for Greeter {
    const NAME: &'static str = "greeter.Greeter";
}

impl tower::Service<http::Request<tonic::body::Body>> for Greeter {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let hello = tower::service_fn(|req: tonic::Request<String>| async move {
            let user = sessionscope::user_id().ok_or_else(|| tonic::Status::unauthenticated("no user"))?;
            tracing::info!("greeting");
            Ok::<_, tonic::Status>(tonic::Response::new(format!("{}, {user}", req.get_ref())))
        });
        Box::pin(async move { Ok(tonic::server::Grpc::new(Text).unary(hello, req).await) })
    }
}
