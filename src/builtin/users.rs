//! `check_users`: `-w`, `-c` (ranges) on the number of user sessions in utmp, as
//! monitoring-plugins 2.3 counts them (`USER_PROCESS` entries).

use smoker_compat::output::Range;

use super::{
    args::{self, Flag, flag},
    common::{self, BuiltinError, Output, State},
};

const NAME: &str = "check_users";
pub(super) const FLAGS: [Flag; 2] = [flag('w', "warning", true), flag('c', "critical", true)];

#[derive(Debug, Clone, PartialEq)]
pub struct Users {
    /// Each range with its text as given (the plugin's perfdata repeats it).
    warn: Option<(Range, String)>,
    crit: Option<(Range, String)>,
}

impl Users {
    pub fn parse(rest: &[String]) -> Result<Users, BuiltinError> {
        let mut u = Users {
            warn: None,
            crit: None,
        };
        for (f, value) in args::parse(NAME, &FLAGS, rest)? {
            let r = (common::range(NAME, f, &value)?, value);
            match f {
                'w' => u.warn = Some(r),
                _ => u.crit = Some(r),
            }
        }
        Ok(u)
    }

    pub fn run(&self) -> Output {
        let users = crate::sys::utmp_user_sessions();
        let (state, text) = self.report(users);
        Output::new(state, text)
    }

    fn report(&self, users: u64) -> (State, String) {
        let (warn, crit) = (self.warn.as_ref(), self.crit.as_ref());
        let state = common::status(users as f64, warn.map(|w| &w.0), crit.map(|c| &c.0));
        let end = |r: &Option<(Range, String)>| r.as_ref().map_or("", |r| r.1.as_str()).to_string();
        let text = format!(
            "USERS {} - {users} users currently logged in |users={users};{};{};0",
            state.word(),
            end(&self.warn),
            end(&self.crit)
        );
        (state, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_against_ranges() {
        let args = ["-w", "5", "-c", "10"].map(String::from);
        let u = Users::parse(&args).unwrap();
        assert_eq!(
            u.report(0),
            (
                State::Ok,
                "USERS OK - 0 users currently logged in |users=0;5;10;0".into()
            )
        );
        assert_eq!(u.report(6).0, State::Warning);
        assert_eq!(u.report(11).0, State::Critical);
        assert!(Users::parse(&["-w".into(), "5:1".into()]).is_err());
    }
}
