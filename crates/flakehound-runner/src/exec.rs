//! STUB: spawning a plan and streaming its output.
