//! The typed body source: a handler's already-deserialized body names its own session id.

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Arc;

/// A request body that carries the session id (and optionally the investigation id) in a
/// field of its own.
///
/// `#[with_session_context]` reads the id from the handler's deserialized body argument
/// (`Json<T>` where `T: SessionIdSource`), so the body is never parsed twice. Derive it and
/// mark the field with `#[session_id]`; serde attributes on the field do not matter.
///
/// ```
/// use serde::Deserialize;
/// use sessionscope::SessionIdSource;
///
/// #[derive(Deserialize, SessionIdSource)]
/// struct CreateInvestigation {
///     #[serde(rename = "sessionId")]
///     #[session_id]
///     session: String,
///     #[investigation_id]
///     investigation: Option<String>,
///     title: String,
/// }
///
/// let body = CreateInvestigation { session: "s-1".into(), investigation: None, title: "t".into() };
/// assert_eq!(body.session_id(), Some("s-1"));
/// assert_eq!(body.investigation_id(), None);
/// ```
///
/// A body type that carries no session id can say so by hand:
///
/// ```
/// struct Ping;
///
/// impl sessionscope::SessionIdSource for Ping {
///     fn session_id(&self) -> Option<&str> {
///         None
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `SessionIdSource`",
    label = "the handler's body type must say which field holds the session id",
    note = "if `{Self}` is your type, add `#[derive(SessionIdSource)]` to it and mark its session id field with `#[session_id]`",
    note = "for a type you cannot derive on (a `Vec`, another crate's type), wrap it in a newtype of your own that derives or implements `SessionIdSource`",
    note = "if this body carries no session id, write `#[session_body(none)]` on the argument"
)]
pub trait SessionIdSource {
    /// The raw session id the body carries, if any. It is validated before use.
    fn session_id(&self) -> Option<&str>;

    /// The investigation id the body carries, if any.
    fn investigation_id(&self) -> Option<&str> {
        None
    }
}

impl<T: SessionIdSource + ?Sized> SessionIdSource for &T {
    fn session_id(&self) -> Option<&str> {
        (**self).session_id()
    }

    fn investigation_id(&self) -> Option<&str> {
        (**self).investigation_id()
    }
}

impl<T: SessionIdSource + ?Sized> SessionIdSource for Box<T> {
    fn session_id(&self) -> Option<&str> {
        (**self).session_id()
    }

    fn investigation_id(&self) -> Option<&str> {
        (**self).investigation_id()
    }
}

impl<T: SessionIdSource + ?Sized> SessionIdSource for Arc<T> {
    fn session_id(&self) -> Option<&str> {
        (**self).session_id()
    }

    fn investigation_id(&self) -> Option<&str> {
        (**self).investigation_id()
    }
}

/// `Option<Json<T>>` and friends: no body, no id.
impl<T: SessionIdSource> SessionIdSource for Option<T> {
    fn session_id(&self) -> Option<&str> {
        self.as_ref()?.session_id()
    }

    fn investigation_id(&self) -> Option<&str> {
        self.as_ref()?.investigation_id()
    }
}

/// `Result<Json<T>, JsonRejection>` and friends: a rejected body carries no id.
impl<T: SessionIdSource, E> SessionIdSource for Result<T, E> {
    fn session_id(&self) -> Option<&str> {
        self.as_ref().ok()?.session_id()
    }

    fn investigation_id(&self) -> Option<&str> {
        self.as_ref().ok()?.investigation_id()
    }
}

impl<T: SessionIdSource> SessionIdSource for axum::Json<T> {
    fn session_id(&self) -> Option<&str> {
        self.0.session_id()
    }

    fn investigation_id(&self) -> Option<&str> {
        self.0.investigation_id()
    }
}

impl<T: SessionIdSource> SessionIdSource for axum::extract::Query<T> {
    fn session_id(&self) -> Option<&str> {
        self.0.session_id()
    }

    fn investigation_id(&self) -> Option<&str> {
        self.0.investigation_id()
    }
}

/// An untyped JSON body: the top-level string fields `session_id` and `investigation_id`.
impl SessionIdSource for serde_json::Value {
    fn session_id(&self) -> Option<&str> {
        self.get("session_id")?.as_str()
    }

    fn investigation_id(&self) -> Option<&str> {
        self.get("investigation_id")?.as_str()
    }
}

/// A field type that can hold a session id or an investigation id: string-like, or an
/// `Option` of something string-like.
///
/// `#[derive(SessionIdSource)]` requires it of the `#[session_id]` and `#[investigation_id]`
/// fields. Implement it for your own id newtype:
///
/// ```
/// use sessionscope::SessionIdSource;
/// use sessionscope::handler::SessionIdField;
///
/// struct Token(String);
///
/// impl SessionIdField for Token {
///     fn as_id_str(&self) -> Option<&str> {
///         Some(&self.0)
///     }
/// }
///
/// #[derive(SessionIdSource)]
/// struct Body {
///     #[session_id]
///     token: Token,
/// }
///
/// assert_eq!(Body { token: Token("s-1".into()) }.session_id(), Some("s-1"));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold a session id or an investigation id",
    label = "not a string-like type",
    note = "a `#[session_id]` or `#[investigation_id]` field must be `String`, `&str`, `Cow<str>`, `Box<str>`, `Arc<str>` or an `Option` of one; for a type of your own, implement `sessionscope::handler::SessionIdField`"
)]
pub trait SessionIdField {
    /// The id as text, or `None` when the field holds none.
    fn as_id_str(&self) -> Option<&str>;
}

impl SessionIdField for str {
    fn as_id_str(&self) -> Option<&str> {
        Some(self)
    }
}

impl SessionIdField for String {
    fn as_id_str(&self) -> Option<&str> {
        Some(self)
    }
}

impl SessionIdField for Cow<'_, str> {
    fn as_id_str(&self) -> Option<&str> {
        Some(self)
    }
}

impl SessionIdField for Box<str> {
    fn as_id_str(&self) -> Option<&str> {
        Some(self)
    }
}

impl SessionIdField for Arc<str> {
    fn as_id_str(&self) -> Option<&str> {
        Some(self)
    }
}

impl SessionIdField for Rc<str> {
    fn as_id_str(&self) -> Option<&str> {
        Some(self)
    }
}

impl<T: SessionIdField + ?Sized> SessionIdField for &T {
    fn as_id_str(&self) -> Option<&str> {
        (**self).as_id_str()
    }
}

impl<T: SessionIdField> SessionIdField for Option<T> {
    fn as_id_str(&self) -> Option<&str> {
        self.as_ref()?.as_id_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Body(Option<String>);

    impl SessionIdSource for Body {
        fn session_id(&self) -> Option<&str> {
            self.0.as_id_str()
        }
    }

    #[test]
    fn wrappers_delegate() {
        let body = axum::Json(Body(Some("s-1".into())));
        assert_eq!(body.session_id(), Some("s-1"));
        assert_eq!(Some(&body).session_id(), Some("s-1"));
        assert_eq!(None::<axum::Json<Body>>.session_id(), None);
        assert_eq!(Ok::<_, ()>(axum::Json(Body(Some("s-3".into())))).session_id(), Some("s-3"));
        assert_eq!(Err::<axum::Json<Body>, _>(()).session_id(), None);
        assert_eq!(Body(None).session_id(), None);
        let value = serde_json::json!({"session_id": "s-2", "investigation_id": "inv-1"});
        assert_eq!((value.session_id(), value.investigation_id()), (Some("s-2"), Some("inv-1")));
        assert_eq!(serde_json::json!({"session_id": 3}).session_id(), None);
    }
}
