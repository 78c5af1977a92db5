//! The `SessionIdSource` impl: each marked field read through `SessionIdField`.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned as _;

use super::parse::{Field, Input};
use crate::errors::runtime_path;

pub(crate) fn implementation(input: &Input<'_>) -> TokenStream {
    let private = private(input);
    let session = input.fields.iter().find(|f| !f.session_id.is_empty()).map(|f| read(&private, f));
    let investigation = input.fields.iter().find(|f| !f.investigation_id.is_empty()).map(|f| {
        let read = read(&private, f);
        quote! {
            fn investigation_id(&self) -> #private::Option<&str> {
                #read
            }
        }
    });
    let bounds = bounds(input, &private);
    let name = &input.original.ident;
    let (impl_generics, ty_generics, _) = input.original.generics.split_for_impl();
    let where_clause = where_clause(input, bounds);
    quote! {
        impl #impl_generics #private::SessionIdSource for #name #ty_generics #where_clause {
            fn session_id(&self) -> #private::Option<&str> {
                #session
            }

            #investigation
        }
    }
}

/// An impl that compiles whatever was wrong, emitted next to the errors.
pub(crate) fn stub(input: &Input<'_>) -> TokenStream {
    let private = private(input);
    let name = &input.original.ident;
    let (impl_generics, ty_generics, where_clause) = input.original.generics.split_for_impl();
    quote! {
        impl #impl_generics #private::SessionIdSource for #name #ty_generics #where_clause {
            fn session_id(&self) -> #private::Option<&str> {
                #private::None
            }
        }
    }
}

fn private(input: &Input<'_>) -> TokenStream {
    let krate = runtime_path(input.krate.as_ref());
    quote!(#krate::__private)
}

/// `SessionIdField::as_id_str(&self.field)`, with a trait error landing on the field's type.
fn read(private: &TokenStream, field: &Field<'_>) -> TokenStream {
    let member = &field.member;
    quote_spanned!(field.original.ty.span()=> #private::SessionIdField::as_id_str(&self.#member))
}

/// `FieldType: SessionIdField` for marked fields whose type mentions a type parameter.
fn bounds(input: &Input<'_>, private: &TokenStream) -> Vec<TokenStream> {
    let params: Vec<String> = input.original.generics.type_params().map(|p| p.ident.to_string()).collect();
    input
        .fields
        .iter()
        .filter(|f| !f.session_id.is_empty() || !f.investigation_id.is_empty())
        .filter(|f| mentions(f.original.ty.to_token_stream(), &params))
        .map(|f| {
            let ty = &f.original.ty;
            quote!(#ty: #private::SessionIdField)
        })
        .collect()
}

fn mentions(tokens: TokenStream, params: &[String]) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => params.iter().any(|p| ident == p),
        proc_macro2::TokenTree::Group(group) => mentions(group.stream(), params),
        _ => false,
    })
}

fn where_clause(input: &Input<'_>, bounds: Vec<TokenStream>) -> TokenStream {
    let existing = input.original.generics.where_clause.as_ref().map(|w| &w.predicates);
    match (existing, bounds.is_empty()) {
        (None, true) => TokenStream::new(),
        (Some(existing), true) => quote!(where #existing),
        (existing, false) => {
            let existing = existing.into_iter().flat_map(|p| p.iter());
            quote!(where #(#existing,)* #(#bounds),*)
        }
    }
}
