//! Result store: in-memory history (lead) and the durable redb store ([`durable`]).

pub mod durable;
