//! User and group keys (`uid`/`gid`, top level and per plugin): `"default"`, a numeric
//! id or a name that must exist on this host (D4: checked before anything starts).

use super::values::{ValueError, expected};
use crate::{
    check::Principal,
    config::yaml::{Kind, Node},
};

/// Why a `uid`/`gid` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("must be a user/group name or an id 0-4294967295, got {0}")]
    Range(i64),
    /// The name does not resolve (the message of `privileges`).
    #[error(transparent)]
    Unknown(#[from] crate::privileges::PrivilegeError),
}

/// `"default"` (keep the daemon's), a numeric id, or a name.
pub fn read_principal(node: &Node) -> Result<Option<Principal>, IdError> {
    match &node.kind {
        Kind::Null => Ok(None),
        Kind::Str(s) if s == "default" => Ok(None),
        Kind::Str(s) if s.is_empty() => Err(ValueError::Empty.into()),
        Kind::Str(s) => Ok(Some(Principal::Name(s.clone()))),
        Kind::Int(i) => u32::try_from(*i)
            .map(|id| Some(Principal::Id(id)))
            .map_err(|_| IdError::Range(*i)),
        _ => Err(expected("a user/group name or id", node).into()),
    }
}

/// A named user or group must exist.
pub fn check_principal(
    key: &str,
    principal: Option<Principal>,
) -> Result<Option<Principal>, IdError> {
    if let Some(p @ Principal::Name(_)) = &principal {
        let resolved = if key == "uid" {
            crate::privileges::resolve_uid(p)
        } else {
            crate::privileges::resolve_gid(p)
        };
        resolved?;
    }
    Ok(principal)
}

/// [`read_principal`] then [`check_principal`].
pub fn read_id(key: &str, node: &Node) -> Result<Option<Principal>, IdError> {
    read_principal(node).and_then(|p| check_principal(key, p))
}
