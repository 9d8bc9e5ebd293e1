//! Integration tests: real binaries, real peers.
