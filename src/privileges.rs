//! Users and groups: resolving the `uid`/`gid` of a check to numeric ids.
//!
//! Names are looked up in the user database; bare numbers are taken as they are.

use nix::unistd::{Group, User};

use crate::check::Principal;

pub fn resolve_uid(principal: &Principal) -> Result<u32, String> {
    match principal {
        Principal::Id(id) => Ok(*id),
        Principal::Name(name) => match User::from_name(name) {
            Ok(Some(user)) => Ok(user.uid.as_raw()),
            Ok(None) => Err(format!("unknown user {name}")),
            Err(e) => Err(format!("cannot look up user {name}: {e}")),
        },
    }
}

pub fn resolve_gid(principal: &Principal) -> Result<u32, String> {
    match principal {
        Principal::Id(id) => Ok(*id),
        Principal::Name(name) => match Group::from_name(name) {
            Ok(Some(group)) => Ok(group.gid.as_raw()),
            Ok(None) => Err(format!("unknown group {name}")),
            Err(e) => Err(format!("cannot look up group {name}: {e}")),
        },
    }
}
