//! Integration tests: real binaries, real peers.
mod nsca;
mod packaging;
