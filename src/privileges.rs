//! Users and groups: resolving the `uid`/`gid` of a check to numeric ids.
//!
//! Names are looked up in the user database; bare numbers are taken as they are.
//! Also decides the ids a child switches to ([`plan_switch`], issue 10) and drops the
//! daemon's own privileges ([`drop_daemon`]).

use nix::unistd::{
    Gid, Group, Uid, User, getegid, geteuid, getgrouplist, setgid, setgroups, setuid,
};

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
) -> Result<Option<Switch>, String> {
    let (euid, egid) = (geteuid(), getegid());
    let mut user = None;
    let target_uid = match uid {
        None => euid,
        Some(Principal::Id(id)) => Uid::from_raw(*id),
        Some(Principal::Name(name)) => match User::from_name(name) {
            Ok(Some(u)) => {
                let id = u.uid;
                user = Some(u);
                id
            }
            Ok(None) => return Err(format!("unknown user {name}")),
            Err(e) => return Err(format!("cannot look up user {name}: {e}")),
        },
    };
    let target_gid = match gid {
        Some(g) => Gid::from_raw(resolve_gid(g)?),
        None => user.as_ref().map_or(egid, |u| u.gid),
    };
    if target_uid.is_root() && !run_as_root {
        return Err("refusing to run a check as root (run_as_root: false)".into());
    }
    if uid.is_none() && gid.is_none() {
        return Ok(None);
    }
    if !euid.is_root() {
        if target_uid == euid && target_gid == egid {
            return Ok(None);
        }
        return Err(format!(
            "cannot switch to uid {target_uid} gid {target_gid}: smokerd is not running as root"
        ));
    }
    let groups = match &user {
        Some(u) => {
            let name = std::ffi::CString::new(u.name.as_bytes())
                .map_err(|_| format!("bad user name {:?}", u.name))?;
            getgrouplist(&name, target_gid)
                .map_err(|e| format!("cannot read the groups of {}: {e}", u.name))?
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
pub fn drop_daemon(uid: Option<&Principal>, gid: Option<&Principal>) -> Result<(), String> {
    let Some(switch) = plan_switch(uid, gid, true)? else {
        return Ok(());
    };
    let e = |what: &str, e: nix::Error| format!("cannot {what}: {e}");
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
}
