//! Test and example host for sessionscope; the library lives in `runtime/`.
