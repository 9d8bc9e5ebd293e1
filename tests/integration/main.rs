//! Integration tests: real binaries, real peers.
mod cli;
mod nrpe;
mod nsca;
mod packaging;
