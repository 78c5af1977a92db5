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
    let entry = quote!(#krate::handler::ContextEntry);
    // The entry travels with the first argument, `(entry, first): (ContextEntry, First)`, so
    // the handler keeps the arity it was written with: a call with the user's arguments (by
    // `#[axum::debug_handler]` above this attribute) still type-checks.
    let outer_params: Vec<TokenStream> = params
        .iter()
        .zip(&outer_names)
        .enumerate()
        .map(|(index, (param, name))| {
            let ty = &param.typed().expect("validated: no receiver").ty;
            if index == 0 { quote!((__sessionscope_entry, #name): (#entry, #ty)) } else { quote!(#name: #ty) }
        })
        .collect();
    let outer_params = if outer_params.is_empty() { vec![quote!(__sessionscope_entry: #entry)] } else { outer_params };
    let inner_params = params.iter().map(|p| &p.arg);

    // `#[instrument]` and `#[debug_handler]` below this attribute go on the function as
    // written: one instruments its arguments as the user named them, inside the request
    // context; the other checks the user's extractors and output.
    let (for_inner, attrs): (Vec<&syn::Attribute>, Vec<&syn::Attribute>) =
        attrs.iter().partition(|attr| is_for_inner(attr));
    let for_inner: Vec<syn::Attribute> = for_inner.into_iter().map(|attr| named_after(attr, &sig.ident)).collect();
    let inner = {
        let mut sig = sig.clone();
        sig.ident = format_ident!("__sessionscope_handler");
        sig.inputs = inner_params.cloned().collect();
        let mut tokens = quote! {
            // Handlers are async and take extractors by value whatever their body does.
            #[allow(clippy::unused_async, clippy::needless_pass_by_value)]
            #(#for_inner)*
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
        // Only tokens of our own take the return type's span: the user's names keep theirs,
        // which matters for hygiene when the handler comes out of a `macro_rules!`.
        let output = syn::Ident::new("__sessionscope_output", at);
        let into_response = respan(quote!(#private::IntoResponse::into_response), at);
        quote! {{
            let #output = __sessionscope_handler #turbofish (#(#outer_names),*).await;
            #into_response(#output)
        }}
    };
    let wrapper_params = quote!(#(#outer_params),*);
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

/// `#[tracing::instrument]` and `#[axum::debug_handler]`, under any path.
fn is_for_inner(attr: &syn::Attribute) -> bool {
    attr.path().segments.last().is_some_and(|segment| segment.ident == "instrument" || segment.ident == "debug_handler")
}

/// `#[instrument]` names its span after the function; the inner one has our name, so the
/// span is given the handler's unless the user named it.
fn named_after(attr: &syn::Attribute, handler: &syn::Ident) -> syn::Attribute {
    let mut attr = attr.clone();
    if attr.path().segments.last().is_none_or(|segment| segment.ident != "instrument") {
        return attr;
    }
    let name = handler.to_string();
    let name = name.strip_prefix("r#").unwrap_or(&name);
    match &mut attr.meta {
        syn::Meta::Path(path) => attr.meta = syn::parse_quote!(#path(name = #name)),
        syn::Meta::List(list) if !names_itself(&list.tokens) => {
            let tokens = &list.tokens;
            let separated = tokens.is_empty()
                || matches!(tokens.clone().into_iter().last(), Some(proc_macro2::TokenTree::Punct(p)) if p.as_char() == ',');
            list.tokens = if separated { quote!(#tokens name = #name) } else { quote!(#tokens, name = #name) };
        }
        syn::Meta::List(_) | syn::Meta::NameValue(_) => {}
    }
    attr
}

/// A top-level `name = ...` among an attribute's arguments.
fn names_itself(tokens: &TokenStream) -> bool {
    let trees: Vec<proc_macro2::TokenTree> = tokens.clone().into_iter().collect();
    trees.windows(2).any(|pair| match pair {
        [proc_macro2::TokenTree::Ident(ident), proc_macro2::TokenTree::Punct(punct)] => {
            ident == "name" && punct.as_char() == '='
        }
        _ => false,
    })
}
