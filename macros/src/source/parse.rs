//! The typed model of a `SessionIdSource` derive input, keeping the original syn nodes.

use syn::{Attribute, Meta};

use crate::errors::{Errors, set_once};

pub(crate) const SESSION_ID: &str = "session_id";
pub(crate) const INVESTIGATION_ID: &str = "investigation_id";
const CONTAINER: &str = "sessionscope";

/// The derive input as the validation and expansion steps see it.
pub(crate) struct Input<'a> {
    pub(crate) original: &'a syn::DeriveInput,
    /// Every field, in order; empty for enums and unions.
    pub(crate) fields: Vec<Field<'a>>,
    /// `#[sessionscope(crate = path)]`.
    pub(crate) krate: Option<syn::Path>,
}

/// One field and the markers it carries.
pub(crate) struct Field<'a> {
    pub(crate) original: &'a syn::Field,
    pub(crate) member: syn::Member,
    pub(crate) session_id: Vec<&'a Attribute>,
    pub(crate) investigation_id: Vec<&'a Attribute>,
}

pub(crate) fn input<'a>(original: &'a syn::DeriveInput, errors: &mut Errors) -> Input<'a> {
    let krate = container(&original.attrs, errors);
    let fields = match &original.data {
        syn::Data::Struct(data) => data.fields.iter().enumerate().map(|(i, f)| field(i, f)).collect(),
        syn::Data::Enum(_) | syn::Data::Union(_) => Vec::new(),
    };
    Input { original, fields, krate }
}

fn field(index: usize, original: &syn::Field) -> Field<'_> {
    let member = match &original.ident {
        Some(ident) => {
            // Spanned on the type, so a type error points at the type alone.
            let mut ident = ident.clone();
            ident.set_span(original.ty_span());
            syn::Member::Named(ident)
        }
        None => syn::Member::Unnamed(syn::Index {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            span: original.ty_span(),
        }),
    };
    let marked = |name| original.attrs.iter().filter(|a| a.path().is_ident(name)).collect();
    Field { original, member, session_id: marked(SESSION_ID), investigation_id: marked(INVESTIGATION_ID) }
}

trait TySpan {
    fn ty_span(&self) -> proc_macro2::Span;
}

impl TySpan for syn::Field {
    fn ty_span(&self) -> proc_macro2::Span {
        syn::spanned::Spanned::span(&self.ty)
    }
}

/// Container attributes: `#[sessionscope(crate = path)]`; field markers misplaced on the type.
fn container(attrs: &[Attribute], errors: &mut Errors) -> Option<syn::Path> {
    let mut krate = None;
    for attr in attrs {
        if attr.path().is_ident(SESSION_ID) || attr.path().is_ident(INVESTIGATION_ID) {
            let name = attr.path().get_ident().map(ToString::to_string).unwrap_or_default();
            errors.at(attr, format!("`#[{name}]` goes on the field that holds the id, not on the type"));
        } else if attr.path().is_ident(CONTAINER) {
            let parsed = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("crate") {
                    let path: syn::Path = meta.value()?.parse().map_err(|_| {
                        meta.error("`crate` takes a path, not a string: `#[sessionscope(crate = ::my_sessionscope)]`")
                    })?;
                    set_once(errors, &mut krate, path, &meta.path, || {
                        "duplicate option `crate`; give it once".to_owned()
                    });
                    Ok(())
                } else {
                    Err(meta.error("unknown option; `#[sessionscope(...)]` takes only `crate = path`"))
                }
            });
            if let Err(error) = parsed {
                errors.push(error);
            }
        }
    }
    krate
}

/// Whether a marker was written bare (`#[session_id]`), as it must be.
pub(crate) fn is_bare(attr: &Attribute) -> bool {
    matches!(attr.meta, Meta::Path(_))
}
