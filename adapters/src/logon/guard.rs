//! Failed logons back off per address and per username (BEHAVIOUR.md §8).
//!
//! Each address and each configured username keeps a count of recent failures. The first
//! `logon_free_failures` are answered at once; each further failure refuses the next logons,
//! unchecked, for `logon_backoff_ms` doubled per failure; at `logon_lockout_after` failures the
//! refusal lasts `logon_lockout_s`. Failures are forgotten `logon_lockout_s` after the last one.
//!
//! A username's count is fed from every address, so a guesser spreading over many addresses is
//! slowed too, but it only refuses logons from addresses that user has never logged on from
//! successfully: whoever attacks a username from elsewhere cannot lock its owner out of the
//! places the owner actually uses. Refused-unchecked attempts are not failures (nothing was
//! guessed), so a locked-out address cannot extend its own lockout forever, but the lockout is
//! measured from the last real failure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::LimitsConfig;

/// Addresses tracked at most; past it, failures of new addresses are not remembered (the stale
/// ones are dropped first), so a spray from many addresses cannot grow memory without bound.
pub const MAX_TRACKED_ADDRESSES: usize = 65_536;
/// Addresses remembered per username as known good.
const TRUSTED_PER_USER: usize = 16;

/// The policy, from `[limits]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogonPolicy {
    /// Failures answered at once.
    pub free_failures: u32,
    /// The first back-off; doubles per failure.
    pub backoff: Duration,
    /// Failures that lock out.
    pub lockout_after: u32,
    /// How long a lockout lasts and failures are remembered.
    pub lockout: Duration,
}

impl LogonPolicy {
    /// The policy `[limits]` describes.
    pub fn from_limits(limits: &LimitsConfig) -> LogonPolicy {
        LogonPolicy {
            free_failures: limits.logon_free_failures,
            backoff: Duration::from_millis(limits.logon_backoff_ms),
            lockout_after: limits.logon_lockout_after,
            lockout: Duration::from_secs(limits.logon_lockout_s),
        }
    }

    /// How long logons are refused after the `failures`-th failure: nothing for the free ones,
    /// then the back-off doubling, then the lockout.
    fn refusal_after(&self, failures: u32) -> Duration {
        if failures >= self.lockout_after {
            self.lockout
        } else if failures > self.free_failures {
            let doublings = (failures - self.free_failures - 1).min(30);
            self.backoff
                .saturating_mul(1 << doublings)
                .min(self.lockout)
        } else {
            Duration::ZERO
        }
    }
}

/// Recent failures of one address or username.
#[derive(Clone, Copy, Debug)]
struct Strikes {
    failures: u32,
    last: Instant,
    refused_until: Instant,
}

impl Strikes {
    fn refusing(&self, now: Instant, policy: &LogonPolicy) -> Option<Wait> {
        (now < self.refused_until).then(|| Wait {
            left: self.refused_until - now,
            locked_out: self.failures >= policy.lockout_after,
        })
    }

    fn stale(&self, now: Instant, policy: &LogonPolicy) -> bool {
        now.saturating_duration_since(self.last) >= policy.lockout
    }

    /// Counts a failure; true when it starts a lockout.
    fn fail(slot: Option<&mut Strikes>, now: Instant, policy: &LogonPolicy) -> (Strikes, bool) {
        let failures = match slot {
            Some(s) if !s.stale(now, policy) => s.failures.saturating_add(1),
            _ => 1,
        };
        let strikes = Strikes {
            failures,
            last: now,
            refused_until: now + policy.refusal_after(failures),
        };
        (strikes, failures == policy.lockout_after)
    }
}

#[derive(Debug, Default)]
struct User {
    strikes: Option<Strikes>,
    /// Addresses this user logged on from, most recent last.
    trusted: Vec<IpAddr>,
}

/// Why a logon is refused before its password is looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The address failed too often; retry after this long.
    Address(Wait),
    /// The username failed too often (from addresses it never logged on from).
    Username(Wait),
}

/// How long a refused logon must wait, and whether that is a lockout or a back-off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    /// Until logons are checked again.
    pub left: Duration,
    /// It is the lockout (the failures reached `logon_lockout_after`).
    pub locked_out: bool,
}

impl Refusal {
    /// The text a client and the log get.
    pub fn text(&self) -> String {
        let (what, wait) = match self {
            Refusal::Address(wait) => ("from this address", wait),
            Refusal::Username(wait) => ("for this username", wait),
        };
        let state = if wait.locked_out {
            "locked out"
        } else {
            "backing off"
        };
        // Whole seconds, rounded up: "retry in 0 s" would invite an immediate retry.
        let secs = wait.left.as_millis().div_ceil(1000);
        format!("too many failed logons {what}: {state}, retry in {secs} s")
    }
}

/// What a failure did, for the metrics and the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Failure {
    /// The address is now locked out.
    pub address_locked: bool,
    /// The username is now locked out (for addresses it never used).
    pub username_locked: bool,
}

/// The failures the gateway remembers.
#[derive(Debug)]
pub struct LogonGuard {
    policy: LogonPolicy,
    addresses: HashMap<IpAddr, Strikes>,
    users: HashMap<String, User>,
}

impl LogonGuard {
    /// An empty guard.
    pub fn new(policy: LogonPolicy) -> LogonGuard {
        LogonGuard {
            policy,
            addresses: HashMap::new(),
            users: HashMap::new(),
        }
    }

    /// Whether a logon from `address` (for `username`, if it names a configured one) may have its
    /// credentials checked now.
    pub fn admit(
        &self,
        username: Option<&str>,
        address: IpAddr,
        now: Instant,
    ) -> Result<(), Refusal> {
        let policy = &self.policy;
        if let Some(wait) = self
            .addresses
            .get(&address)
            .and_then(|s| s.refusing(now, policy))
        {
            return Err(Refusal::Address(wait));
        }
        if let Some(user) = username.and_then(|name| self.users.get(name))
            && !user.trusted.contains(&address)
            && let Some(wait) = user.strikes.as_ref().and_then(|s| s.refusing(now, policy))
        {
            return Err(Refusal::Username(wait));
        }
        Ok(())
    }

    /// Counts a failed logon (wrong password, unknown username).
    pub fn failed(&mut self, username: Option<&str>, address: IpAddr, now: Instant) -> Failure {
        let policy = self.policy;
        let mut failure = Failure::default();
        if !self.addresses.contains_key(&address) && self.addresses.len() >= MAX_TRACKED_ADDRESSES {
            self.addresses.retain(|_, s| !s.stale(now, &policy));
        }
        if self.addresses.contains_key(&address) || self.addresses.len() < MAX_TRACKED_ADDRESSES {
            let (strikes, locked) = Strikes::fail(self.addresses.get_mut(&address), now, &policy);
            self.addresses.insert(address, strikes);
            failure.address_locked = locked;
        }
        if let Some(name) = username {
            let user = self.users.entry(name.to_owned()).or_default();
            let (strikes, locked) = Strikes::fail(user.strikes.as_mut(), now, &policy);
            user.strikes = Some(strikes);
            failure.username_locked = locked;
        }
        failure
    }

    /// A successful logon: the username's failures are forgotten and `address` becomes one of
    /// its known addresses. The address's own failures stay until they age out (a valid login
    /// must not wash away guesses at other users from the same place).
    pub fn succeeded(&mut self, username: &str, address: IpAddr) {
        let user = self.users.entry(username.to_owned()).or_default();
        user.strikes = None;
        user.trusted.retain(|a| *a != address);
        if user.trusted.len() == TRUSTED_PER_USER {
            user.trusted.remove(0);
        }
        user.trusted.push(address);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> LogonPolicy {
        LogonPolicy {
            free_failures: 3,
            backoff: Duration::from_secs(1),
            lockout_after: 6,
            lockout: Duration::from_secs(60),
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    fn backing_off(secs: u64) -> Wait {
        Wait {
            left: Duration::from_secs(secs),
            locked_out: false,
        }
    }

    fn locked_out(secs: u64) -> Wait {
        Wait {
            left: Duration::from_secs(secs),
            locked_out: true,
        }
    }

    #[test]
    fn an_address_backs_off_doubling_then_locks_out_then_is_forgotten() {
        let mut guard = LogonGuard::new(policy());
        let t0 = Instant::now();
        let s = Duration::from_secs;
        // Three free failures...
        for _ in 0..3 {
            assert_eq!(guard.admit(None, ip(1), t0), Ok(()));
            assert_eq!(guard.failed(None, ip(1), t0), Failure::default());
        }
        assert_eq!(guard.admit(None, ip(1), t0), Ok(()));
        // ...then 1 s, 2 s of refusals, then the lockout at the sixth.
        guard.failed(None, ip(1), t0);
        assert_eq!(
            guard.admit(None, ip(1), t0),
            Err(Refusal::Address(backing_off(1)))
        );
        assert_eq!(guard.admit(None, ip(1), t0 + s(1)), Ok(()));
        guard.failed(None, ip(1), t0 + s(2));
        assert_eq!(
            guard.admit(None, ip(1), t0 + s(2)),
            Err(Refusal::Address(backing_off(2)))
        );
        assert_eq!(guard.admit(None, ip(1), t0 + s(4)), Ok(()));
        let locked = guard.failed(None, ip(1), t0 + s(4));
        assert!(locked.address_locked && !locked.username_locked);
        assert_eq!(
            guard.admit(None, ip(1), t0 + s(4)),
            Err(Refusal::Address(locked_out(60)))
        );
        // Other addresses are untouched.
        assert_eq!(guard.admit(None, ip(2), t0 + s(4)), Ok(()));
        // After the lockout, failures are forgotten: the next one is free again.
        assert_eq!(guard.admit(None, ip(1), t0 + s(64)), Ok(()));
        guard.failed(None, ip(1), t0 + s(64));
        assert_eq!(guard.admit(None, ip(1), t0 + s(64)), Ok(()));
    }

    #[test]
    fn a_username_attacked_from_elsewhere_stays_open_where_its_owner_logs_on() {
        let mut guard = LogonGuard::new(policy());
        let t0 = Instant::now();
        guard.succeeded("alice", ip(9));
        // Guesses at alice from six addresses, one each: no address backs off...
        let mut failure = Failure::default();
        let s = Duration::from_secs;
        for a in 1..=6 {
            // Ten seconds apart: past each back-off of the username.
            let t = t0 + s(10 * u64::from(a));
            assert_eq!(guard.admit(Some("alice"), ip(a), t), Ok(()));
            failure = guard.failed(Some("alice"), ip(a), t);
            assert_eq!(guard.admit(None, ip(a), t), Ok(()));
        }
        let t0 = t0 + s(60);
        // ...but the username is locked for addresses alice never used,
        assert!(failure.username_locked);
        assert_eq!(
            guard.admit(Some("alice"), ip(7), t0),
            Err(Refusal::Username(locked_out(60)))
        );
        // not where she logs on, and not for other users.
        assert_eq!(guard.admit(Some("alice"), ip(9), t0), Ok(()));
        assert_eq!(guard.admit(Some("bob"), ip(7), t0), Ok(()));
        // Her success there clears the username's failures.
        guard.succeeded("alice", ip(9));
        assert_eq!(guard.admit(Some("alice"), ip(7), t0), Ok(()));
    }

    #[test]
    fn memory_is_bounded_and_stale_addresses_go_first() {
        let mut guard = LogonGuard::new(policy());
        let t0 = Instant::now();
        for i in 0..MAX_TRACKED_ADDRESSES as u32 {
            guard.failed(None, IpAddr::from(i.to_be_bytes()), t0);
        }
        assert_eq!(guard.addresses.len(), MAX_TRACKED_ADDRESSES);
        let newcomer = IpAddr::from([255, 255, 255, 255]);
        guard.failed(None, newcomer, t0);
        assert_eq!(guard.addresses.len(), MAX_TRACKED_ADDRESSES);
        assert!(!guard.addresses.contains_key(&newcomer));
        // Once the old ones are stale they make room.
        guard.failed(None, newcomer, t0 + Duration::from_secs(61));
        assert_eq!(guard.addresses.len(), 1);
    }

    #[test]
    fn refusals_say_how_long_to_wait() {
        let wait = Wait {
            left: Duration::from_millis(1500),
            locked_out: false,
        };
        assert_eq!(
            Refusal::Address(wait).text(),
            "too many failed logons from this address: backing off, retry in 2 s"
        );
        assert_eq!(
            Refusal::Username(locked_out(300)).text(),
            "too many failed logons for this username: locked out, retry in 300 s"
        );
    }
}
