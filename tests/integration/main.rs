//! Integration tests: real binaries, real peers.
mod cli;
mod nsca;
