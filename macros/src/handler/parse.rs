//! The typed model of the options and the handler. Keeps the user's syn nodes for spans.

use proc_macro2::TokenStream;
use quote::{ToTokens, TokenStreamExt as _};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Expr, Lit, LitStr, Meta, Token};

use crate::errors::{Errors, set_once};

/// Every option name, in the order the docs list them.
pub(crate) const OPTION_NAMES: &str = "`require_session`, `require_user`, `operation`, `level`, `phase`, `crate`";

/// The marker that names a body argument the macro would not find by itself.
pub(crate) const BODY_MARKER: &str = "session_body";

/// What `#[with_session_context(...)]` was given. Each option keeps its tokens for spans.
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) require_session: Option<syn::Path>,
    pub(crate) require_user: Option<syn::Path>,
    pub(crate) operation: Option<LitStr>,
    pub(crate) level: Option<LitStr>,
    pub(crate) phase: Option<LitStr>,
    pub(crate) krate: Option<syn::Path>,
}

/// Parses the options, recording every unknown, duplicate or ill-typed one.
pub(crate) fn options(args: TokenStream, errors: &mut Errors) -> Options {
    let mut options = Options::default();
    let metas = match syn::parse::Parser::parse2(Punctuated::<Meta, Token![,]>::parse_terminated, args) {
        Ok(metas) => metas,
        Err(error) => {
            errors.push(error);
            return options;
        }
    };
    for meta in metas {
        option(&mut options, meta, errors);
    }
    options
}

fn option(options: &mut Options, meta: Meta, errors: &mut Errors) {
    let path = meta.path().clone();
    let name = path.get_ident().map(ToString::to_string).unwrap_or_else(|| path.to_token_stream().to_string());
    let duplicate = || format!("duplicate option `{name}`; give it once");
    match name.as_str() {
        "require_session" => {
            if let Some(path) = flag(&meta, errors) {
                set_once(errors, &mut options.require_session, path, &meta, duplicate);
            }
        }
        "require_user" => {
            if let Some(path) = flag(&meta, errors) {
                set_once(errors, &mut options.require_user, path, &meta, duplicate);
            }
        }
        "operation" | "level" | "phase" => {
            if let Some(value) = string(&meta, &name, errors) {
                let slot = match name.as_str() {
                    "operation" => &mut options.operation,
                    "level" => &mut options.level,
                    _ => &mut options.phase,
                };
                set_once(errors, slot, value, &meta, duplicate);
            }
        }
        "crate" => {
            if let Some(value) = crate_path(&meta, errors) {
                set_once(errors, &mut options.krate, value, &meta, duplicate);
            }
        }
        _ => errors.at(&path, format!("unknown option `{name}`; expected one of {OPTION_NAMES}")),
    }
}

/// `require_session`: a bare word.
fn flag(meta: &Meta, errors: &mut Errors) -> Option<syn::Path> {
    match meta {
        Meta::Path(path) => Some(path.clone()),
        Meta::NameValue(nv) => {
            let name = nv.path.to_token_stream();
            errors.at(&nv.value, format!("`{name}` takes no value; write just `{name}`"));
            None
        }
        Meta::List(list) => {
            let name = list.path.to_token_stream();
            errors.at(&list.tokens, format!("`{name}` takes no arguments; write just `{name}`"));
            None
        }
    }
}

/// `level = "debug"`: a string literal.
fn string(meta: &Meta, name: &str, errors: &mut Errors) -> Option<LitStr> {
    let example = match name {
        "level" => "level = \"debug\"",
        "phase" => "phase = \"planning\"",
        _ => "operation = \"create_investigation\"",
    };
    match meta {
        Meta::NameValue(syn::MetaNameValue { value: Expr::Lit(syn::ExprLit { lit: Lit::Str(lit), .. }), .. }) => {
            Some(lit.clone())
        }
        Meta::NameValue(nv) => {
            errors.at(&nv.value, format!("`{name}` takes a string literal: `{example}`"));
            None
        }
        Meta::Path(_) | Meta::List(_) => {
            errors.at(meta, format!("`{name}` needs a value: `{example}`"));
            None
        }
    }
}

/// `crate = ::path::to::sessionscope`: a path, not a string.
fn crate_path(meta: &Meta, errors: &mut Errors) -> Option<syn::Path> {
    match meta {
        Meta::NameValue(syn::MetaNameValue { value: Expr::Path(p), .. }) if p.qself.is_none() && p.attrs.is_empty() => {
            Some(p.path.clone())
        }
        Meta::NameValue(syn::MetaNameValue { value: Expr::Lit(syn::ExprLit { lit: Lit::Str(lit), .. }), .. }) => {
            errors.at(lit, format!("`crate` takes a path, not a string: `crate = {}`", lit.value()));
            None
        }
        Meta::NameValue(nv) => {
            errors.at(&nv.value, "`crate` takes a path: `crate = ::my_sessionscope`");
            None
        }
        Meta::Path(_) | Meta::List(_) => {
            errors.at(meta, "`crate` needs a path: `crate = ::my_sessionscope`");
            None
        }
    }
}

/// The handler as written. The body stays raw tokens, so a body that does not parse is
/// still handed to the compiler (and rust-analyzer) as it is.
pub(crate) struct Handler {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: syn::Visibility,
    pub(crate) sig: syn::Signature,
    pub(crate) brace: syn::token::Brace,
    pub(crate) body: TokenStream,
    pub(crate) params: Vec<Param>,
}

/// One argument of the handler.
pub(crate) struct Param {
    /// The argument with our `#[session_body]` marker removed.
    pub(crate) arg: syn::FnArg,
    /// The `#[session_body]` markers it carried (more than one is an error).
    pub(crate) markers: Vec<Attribute>,
}

/// What a `#[session_body]` marker asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    /// No marker: the macro decides from the argument's type.
    Unmarked,
    /// `#[session_body]`: read the session id from this argument; its type must implement
    /// `SessionIdSource`.
    Read,
    /// `#[session_body(none)]`: never read the session id from this argument.
    Skip,
}

impl Param {
    /// The typed argument, `None` for `self`.
    pub(crate) fn typed(&self) -> Option<&syn::PatType> {
        match &self.arg {
            syn::FnArg::Typed(typed) => Some(typed),
            syn::FnArg::Receiver(_) => None,
        }
    }

    /// The first marker's meaning (validation reports any further or malformed one).
    pub(crate) fn marker(&self) -> Marker {
        match self.markers.first().map(|marker| &marker.meta) {
            None => Marker::Unmarked,
            Some(syn::Meta::List(list)) if is_none(&list.tokens) => Marker::Skip,
            Some(_) => Marker::Read,
        }
    }
}

/// `none`, the only argument `#[session_body(..)]` takes.
pub(crate) fn is_none(tokens: &TokenStream) -> bool {
    syn::parse2::<syn::Ident>(tokens.clone()).is_ok_and(|ident| ident == "none")
}

pub(crate) fn handler(item: TokenStream) -> syn::Result<Handler> {
    syn::parse2(item.clone()).map_err(|parse_error| match syn::parse2::<syn::Item>(item) {
        Ok(other) => not_a_fn(&other).unwrap_or(parse_error),
        Err(_) => parse_error,
    })
}

/// The error for an item that is not a function at all, at its keyword.
fn not_a_fn(item: &syn::Item) -> Option<syn::Error> {
    let (at, what): (&dyn ToTokens, &str) = match item {
        syn::Item::Struct(i) => (&i.struct_token, "a struct"),
        syn::Item::Enum(i) => (&i.enum_token, "an enum"),
        syn::Item::Union(i) => (&i.union_token, "a union"),
        syn::Item::Impl(i) => (&i.impl_token, "an impl block"),
        syn::Item::Trait(i) => (&i.trait_token, "a trait"),
        syn::Item::Mod(i) => (&i.mod_token, "a module"),
        syn::Item::Const(i) => (&i.const_token, "a const"),
        syn::Item::Static(i) => (&i.static_token, "a static"),
        syn::Item::Type(i) => (&i.type_token, "a type alias"),
        syn::Item::Use(i) => (&i.use_token, "a use declaration"),
        _ => return None,
    };
    Some(syn::Error::new_spanned(
        at,
        format!("`#[with_session_context]` goes on an `async fn` axum handler, not on {what}"),
    ))
}

impl Parse for Handler {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let mut sig: syn::Signature = input.parse()?;
        let content;
        let brace = syn::braced!(content in input);
        let body = content.parse()?;
        let params = std::mem::take(&mut sig.inputs).into_iter().map(Param::split).collect();
        Ok(Self { attrs, vis, sig, brace, body, params })
    }
}

impl Param {
    fn split(mut arg: syn::FnArg) -> Self {
        let attrs = match &mut arg {
            syn::FnArg::Typed(typed) => &mut typed.attrs,
            syn::FnArg::Receiver(receiver) => &mut receiver.attrs,
        };
        let (markers, kept) = std::mem::take(attrs).into_iter().partition(|a| a.path().is_ident(BODY_MARKER));
        *attrs = kept;
        Self { arg, markers }
    }
}

impl Handler {
    /// The handler as the user wrote it, minus our markers: what is emitted next to errors.
    pub(crate) fn original(&self) -> TokenStream {
        let mut sig = self.sig.clone();
        sig.inputs = self.params.iter().map(|p| p.arg.clone()).collect();
        let mut tokens = TokenStream::new();
        tokens.append_all(&self.attrs);
        self.vis.to_tokens(&mut tokens);
        sig.to_tokens(&mut tokens);
        self.brace.surround(&mut tokens, |t| self.body.to_tokens(t));
        tokens
    }
}
