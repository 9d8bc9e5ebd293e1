//! Integration tests: real binaries, real peers.
mod nrpe;
mod nsca;
mod packaging;
