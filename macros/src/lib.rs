//! Procedural macros for sessionscope.
