//! The generated handler: the user's function kept whole as an inner function, wrapped by
//! one with the same name, attributes and visibility that takes the context entry first.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote};
use syn::spanned::Spanned as _;

use super::parse::{Handler, Options, Param};
use super::validate::{Read, sources};
use crate::errors::runtime_path;

pub(crate) fn handler(options: &Options, handler: &Handler) -> TokenStream {
    let krate = runtime_path(options.krate.as_ref());
    let private = quote!(#krate::__private);
    let Handler { attrs, vis, sig, brace, body, params } = handler;
    let outer_names: Vec<syn::Ident> = params.iter().enumerate().map(|(i, p)| outer_name(i, p)).collect();
    let outer_params = params.iter().zip(&outer_names).map(|(param, name)| {
        let ty = &param.typed().expect("validated: no receiver").ty;
        quote!(#name: #ty)
    });
    let inner_params = params.iter().map(|p| &p.arg);

    // `#[instrument]` below this attribute instruments the function as written: its
    // arguments as the user named them, inside the request context.
    let (instrument, attrs): (Vec<&syn::Attribute>, Vec<&syn::Attribute>) =
        attrs.iter().partition(|attr| attr.path().segments.last().is_some_and(|segment| segment.ident == "instrument"));
    let inner = {
        let mut sig = sig.clone();
        sig.ident = format_ident!("__sessionscope_handler");
        sig.inputs = inner_params.cloned().collect();
        let mut tokens = quote! {
            // Handlers are async and take extractors by value whatever their body does.
            #[allow(clippy::unused_async, clippy::needless_pass_by_value)]
            #(#instrument)*
            #sig
        };
        brace.surround(&mut tokens, |t| body.to_tokens(t));
        tokens
    };

    let typed = sources(handler).into_iter().map(|(index, read)| {
        let ty = &params[index].typed().expect("validated: no receiver").ty;
        let name = &outer_names[index];
        match read {
            // The trait check lands on the user's type.
            // A qualified path rather than a bound on a helper: the error underlines the
            // user's type and names no hidden item.
            Read::Required => quote! {
                #private::TypedIds::read(
                    &#name,
                    <#ty as #private::SessionIdSource>::session_id,
                    <#ty as #private::SessionIdSource>::investigation_id,
                )
            },
            // Method resolution picks the reading impl only when the type has one.
            Read::IfSource => quote! {{
                #[allow(unused_imports)]
                use #private::{ReadIfSource as _, ReadNothing as _};
                (&#private::Probe(&#name)).typed_ids()
            }},
        }
    });

    let name = options.operation.as_ref().map_or_else(|| sig.ident.to_string(), syn::LitStr::value);
    let level = level(options);
    let require_session = options.require_session.is_some();
    let require_user = options.require_user.is_some();
    let phase = match &options.phase {
        Some(phase) => quote!(#private::Some(#phase)),
        None => quote!(#private::None),
    };
    let turbofish = turbofish(&sig.generics);
    let (_, _, where_clause) = sig.generics.split_for_impl();
    let generics = &sig.generics;
    let (asyncness, fn_token, ident) = (&sig.asyncness, &sig.fn_token, &sig.ident);

    // The handler's output becomes a response here, at its return type, so a type that is
    // not `IntoResponse` is reported there, once.
    let respond = {
        let at = match &sig.output {
            syn::ReturnType::Type(_, ty) => ty.span(),
            syn::ReturnType::Default => sig.ident.span(),
        };
        let call =
            quote!(#private::IntoResponse::into_response(__sessionscope_handler #turbofish (#(#outer_names),*).await));
        respan(call, at)
    };
    let wrapper_params = quote! {
        __sessionscope_entry: #private::Entry,
        #(#outer_params),*
    };
    let wrapper_body = quote! {
        #inner

        let __sessionscope_typed = [#(#typed),*];
        #private::run(
            __sessionscope_entry,
            #private::Options {
                require_session: #require_session,
                require_user: #require_user,
                operation: #name,
                phase: #phase,
            },
            __sessionscope_typed,
            |__sessionscope_parent: &#private::Span| {
                #private::tracing::span!(parent: __sessionscope_parent, #private::Level::#level, #name)
            },
            async move { #respond },
        )
        .await
    };
    // The wrapper's parentheses and braces are the user's own tokens: an item whose span
    // comes from the macro is never reported by `dead_code`, and an unused handler must be.
    let mut tokens = quote! {
        #(#attrs)*
        #[allow(clippy::too_many_arguments)]
        #vis #asyncness #fn_token #ident #generics
    };
    sig.paren_token.surround(&mut tokens, |t| wrapper_params.to_tokens(t));
    tokens.extend(quote!(-> #private::Response #where_clause));
    brace.surround(&mut tokens, |t| wrapper_body.to_tokens(t));
    tokens
}

/// A plain `name: T` argument keeps its name in the wrapper; patterns get a generated one.
fn outer_name(index: usize, param: &Param) -> syn::Ident {
    if let Some(syn::Pat::Ident(pat)) = param.typed().map(|t| &*t.pat) {
        if pat.by_ref.is_none() && pat.subpat.is_none() && !pat.ident.to_string().starts_with('_') {
            return pat.ident.clone();
        }
    }
    format_ident!("__sessionscope_arg{index}")
}

fn level(options: &Options) -> syn::Ident {
    let level = options.level.as_ref().map_or_else(|| "info".to_owned(), syn::LitStr::value);
    syn::Ident::new(&level.to_uppercase(), options.level.as_ref().map_or_else(Span::call_site, syn::LitStr::span))
}

/// `::<T, N>` for the handler's type and const parameters, so the inner call names them.
fn turbofish(generics: &syn::Generics) -> TokenStream {
    let params: Vec<&syn::Ident> = generics
        .params
        .iter()
        .filter_map(|param| match param {
            syn::GenericParam::Type(t) => Some(&t.ident),
            syn::GenericParam::Const(c) => Some(&c.ident),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect();
    if params.is_empty() { TokenStream::new() } else { quote!(::<#(#params),*>) }
}

/// `tokens` with every span set to `span`. Paths and names resolve the same (user code and
/// the macro's call site share one hygiene context); only where errors point changes.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner = proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = inner.into();
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}
