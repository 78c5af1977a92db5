//! What a `SessionIdSource` derive input must satisfy before anything is generated.

use quote::ToTokens;

use super::parse::{INVESTIGATION_ID, Input, SESSION_ID, is_bare};
use crate::errors::{Errors, set_once};

pub(crate) fn input(input: &Input<'_>, errors: &mut Errors) {
    let name = &input.original.ident;
    match &input.original.data {
        syn::Data::Enum(data) => {
            errors.at(
                data.enum_token,
                format!(
                    "`SessionIdSource` can only be derived for a struct; `{name}` is an enum. Derive it on the struct each variant carries, or implement the trait by hand"
                ),
            );
            return;
        }
        syn::Data::Union(data) => {
            errors.at(
                data.union_token,
                format!("`SessionIdSource` can only be derived for a struct; `{name}` is a union"),
            );
            return;
        }
        syn::Data::Struct(_) => {}
    }
    let mut session = None;
    let mut investigation = None;
    for field in &input.fields {
        let label = field_label(field.original, &field.member);
        for attr in &field.session_id {
            bare(attr, SESSION_ID, errors);
            let kept = session.clone().unwrap_or_default();
            set_once(errors, &mut session, label.clone(), attr, || {
                format!(
                    "two `#[session_id]` fields (`{kept}` and `{label}`); a body carries one session id, so mark only one"
                )
            });
        }
        for attr in &field.investigation_id {
            bare(attr, INVESTIGATION_ID, errors);
            let kept = investigation.clone().unwrap_or_default();
            set_once(errors, &mut investigation, label.clone(), attr, || {
                format!("two `#[investigation_id]` fields (`{kept}` and `{label}`); mark only one")
            });
        }
        if let (Some(_), Some(second)) = (field.session_id.first(), field.investigation_id.first()) {
            errors.at(
                second,
                format!("`{label}` cannot be both the session id and the investigation id; mark it with only one"),
            );
        }
    }
    if session.is_none() {
        errors.at(
            name,
            format!(
                "`{name}` has no `#[session_id]` field; mark the field that carries the session id with `#[session_id]`"
            ),
        );
    }
}

fn bare(attr: &syn::Attribute, name: &str, errors: &mut Errors) {
    if !is_bare(attr) {
        let args: &dyn ToTokens = match &attr.meta {
            syn::Meta::List(list) => &list.tokens,
            syn::Meta::NameValue(nv) => &nv.value,
            syn::Meta::Path(path) => path,
        };
        errors.at(args, format!("`#[{name}]` takes no arguments; write just `#[{name}]`"));
    }
}

fn field_label(field: &syn::Field, member: &syn::Member) -> String {
    field.ident.as_ref().map_or_else(|| member.to_token_stream().to_string(), ToString::to_string)
}
