//! Users and groups: resolving the `uid`/`gid` of a check to numeric ids.
//!
//! Names are looked up in the user database; bare numbers are taken as they are.
//! Also decides the ids a child switches to ([`plan_switch`], issue 10) and drops the
//! daemon's own privileges ([`drop_daemon`]).

use nix::unistd::{
    Gid, Group, Uid, User, getegid, geteuid, getgrouplist, setgid, setgroups, setuid,
};

use crate::check::Principal;

/// Why ids cannot be resolved or switched to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivilegeError {
    #[error("unknown user {0}")]
    UnknownUser(String),
    #[error("cannot look up user {name}: {source}")]
    LookupUser { name: String, source: nix::Error },
    #[error("unknown group {0}")]
    UnknownGroup(String),
    #[error("cannot look up group {name}: {source}")]
    LookupGroup { name: String, source: nix::Error },
    #[error("refusing to run a check as root (run_as_root: false)")]
    RootRefused,
    #[error("cannot switch to uid {uid} gid {gid}: smokerd is not running as root")]
    NotRoot { uid: Uid, gid: Gid },
    #[error("bad user name {0:?}")]
    BadUserName(String),
    #[error("cannot read the groups of {name}: {source}")]
    Groups { name: String, source: nix::Error },
    #[error("cannot {what}: {source}")]
    Set {
        what: &'static str,
        source: nix::Error,
    },
}

pub fn resolve_uid(principal: &Principal) -> Result<u32, PrivilegeError> {
    match principal {
        Principal::Id(id) => Ok(*id),
        Principal::Name(name) => user(name).map(|u| u.uid.as_raw()),
    }
}

pub fn resolve_gid(principal: &Principal) -> Result<u32, PrivilegeError> {
    match principal {
        Principal::Id(id) => Ok(*id),
        Principal::Name(name) => match Group::from_name(name) {
            Ok(Some(group)) => Ok(group.gid.as_raw()),
            Ok(None) => Err(PrivilegeError::UnknownGroup(name.clone())),
            Err(source) => Err(PrivilegeError::LookupGroup {
                name: name.clone(),
                source,
            }),
        },
    }
}

/// The user called `name`.
fn user(name: &str) -> Result<User, PrivilegeError> {
    match User::from_name(name) {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(PrivilegeError::UnknownUser(name.to_string())),
        Err(source) => Err(PrivilegeError::LookupUser {
            name: name.to_string(),
            source,
        }),
    }
}

/// The ids a child switches to (computed in the parent; applied by [`crate::sys`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Switch {
    pub uid: Uid,
    pub gid: Gid,
    /// Supplementary groups: the user's (`initgroups`) for a user name, none for a bare id.
    pub groups: Vec<Gid>,
}

/// Decides how a child runs given a check's `uid`/`gid` (issue 10).
///
/// A user *name* brings its supplementary groups and, without `gid`, its primary
/// group; a bare uid gets no supplementary groups and keeps the daemon's gid unless
/// `gid` is set. Without root, only the daemon's own ids are possible (`Ok(None)`).
/// With `run_as_root == false`, a child that would run as uid 0 is refused.
pub fn plan_switch(
    uid: Option<&Principal>,
    gid: Option<&Principal>,
    run_as_root: bool,
) -> Result<Option<Switch>, PrivilegeError> {
    if uid.is_none() && gid.is_none() && run_as_root {
        // Nothing to switch and nothing to refuse: the common case, once per spawn.
        return Ok(None);
    }
    let (euid, egid) = (geteuid(), getegid());
    let mut user = None;
    let target_uid = match uid {
        None => euid,
        Some(Principal::Id(id)) => Uid::from_raw(*id),
        Some(Principal::Name(name)) => {
            let u = self::user(name)?;
            let id = u.uid;
            user = Some(u);
            id
        }
    };
    let target_gid = match gid {
        Some(g) => Gid::from_raw(resolve_gid(g)?),
        None => user.as_ref().map_or(egid, |u| u.gid),
    };
    if target_uid.is_root() && !run_as_root {
        return Err(PrivilegeError::RootRefused);
    }
    if uid.is_none() && gid.is_none() {
        return Ok(None);
    }
    if !euid.is_root() {
        if target_uid == euid && target_gid == egid {
            return Ok(None);
        }
        return Err(PrivilegeError::NotRoot {
            uid: target_uid,
            gid: target_gid,
        });
    }
    let groups = match &user {
        Some(u) => {
            let name = std::ffi::CString::new(u.name.as_bytes())
                .map_err(|_| PrivilegeError::BadUserName(u.name.clone()))?;
            getgrouplist(&name, target_gid).map_err(|source| PrivilegeError::Groups {
                name: u.name.clone(),
                source,
            })?
        }
        None => Vec::new(),
    };
    Ok(Some(Switch {
        uid: target_uid,
        gid: target_gid,
        groups,
    }))
}

/// Drops the daemon itself to the top-level `uid`/`gid` (after binding its ports).
/// Sets groups, gid, then uid; an unprivileged daemon asked for other ids fails.
pub fn drop_daemon(uid: Option<&Principal>, gid: Option<&Principal>) -> Result<(), PrivilegeError> {
    let Some(switch) = plan_switch(uid, gid, true)? else {
        return Ok(());
    };
    let e = |what, source| PrivilegeError::Set { what, source };
    setgroups(&switch.groups).map_err(|x| e("set groups", x))?;
    setgid(switch.gid).map_err(|x| e("set gid", x))?;
    setuid(switch.uid).map_err(|x| e("set uid", x))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_ids_no_switch_and_run_as_root() {
        assert_eq!(plan_switch(None, None, true), Ok(None));
        let refused = plan_switch(None, None, false);
        assert_eq!(refused.is_err(), geteuid().is_root());
        assert!(plan_switch(Some(&Principal::Id(0)), None, false).is_err());
    }

    #[test]
    fn names_bring_groups_numbers_do_not() {
        if !geteuid().is_root() {
            let own = Principal::Id(geteuid().as_raw());
            assert_eq!(plan_switch(Some(&own), None, true), Ok(None));
            return;
        }
        let nobody = User::from_name("nobody").unwrap().unwrap();
        let s = plan_switch(Some(&Principal::Name("nobody".into())), None, true)
            .unwrap()
            .unwrap();
        assert_eq!((s.uid, s.gid), (nobody.uid, nobody.gid));
        assert!(s.groups.contains(&nobody.gid));
        let s = plan_switch(Some(&Principal::Id(65534)), None, true)
            .unwrap()
            .unwrap();
        assert_eq!(s.groups, Vec::<Gid>::new());
        assert_eq!(s.gid, getegid());
        assert!(
            plan_switch(
                Some(&Principal::Name("no-such-user-xyz".into())),
                None,
                true
            )
            .is_err()
        );
    }

    #[test]
    fn privilege_errors_read_as_before() {
        let name = Principal::Name("no-such-user-xyz".into());
        let e = resolve_uid(&name).unwrap_err();
        assert_eq!(e.to_string(), "unknown user no-such-user-xyz");
        let e = resolve_gid(&name).unwrap_err();
        assert_eq!(e.to_string(), "unknown group no-such-user-xyz");
        assert_eq!(
            PrivilegeError::RootRefused.to_string(),
            "refusing to run a check as root (run_as_root: false)"
        );
        let e = PrivilegeError::NotRoot {
            uid: Uid::from_raw(65534),
            gid: Gid::from_raw(65534),
        };
        assert_eq!(
            e.to_string(),
            "cannot switch to uid 65534 gid 65534: smokerd is not running as root"
        );
        let e = PrivilegeError::Set {
            what: "set uid",
            source: nix::Error::EPERM,
        };
        assert_eq!(
            e.to_string(),
            "cannot set uid: EPERM: Operation not permitted"
        );
    }
}
