//! Edge limits that keep one client from hurting the others (BEHAVIOUR.md §8 `[limits]`): a token bucket
//! per session and connection caps in total and per remote address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Instant;

/// A token bucket: `rate` messages per second on average, up to `burst` at once.
///
/// A session that keeps running the bucket dry is abusing it: after `strikes_to_disconnect`
/// refused messages within one refill of the whole burst, the gateway drops it.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate_per_ns: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    strikes: u32,
}

/// What the bucket says about one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead.
    Admit,
    /// Refuse this message (the client gets a throttle reject).
    Throttle,
    /// Refused so often that the session is abusive: disconnect it.
    Disconnect,
}

/// Refusals within one burst-refill period after which a session is dropped.
const STRIKES_TO_DISCONNECT: u32 = 100;

impl TokenBucket {
    /// A full bucket.
    pub fn new(messages_per_second: u32, burst: u32, now: Instant) -> TokenBucket {
        TokenBucket {
            rate_per_ns: f64::from(messages_per_second.max(1)) / 1e9,
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: now,
            strikes: 0,
        }
    }

    /// Takes one token for a message arriving at `now`.
    pub fn admit(&mut self, now: Instant) -> Admission {
        let elapsed = now.saturating_duration_since(self.last).as_nanos() as f64;
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate_per_ns).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            // A full bucket again forgives earlier strikes.
            if self.tokens >= self.burst - 1.0 {
                self.strikes = 0;
            }
            Admission::Admit
        } else {
            self.strikes += 1;
            if self.strikes >= STRIKES_TO_DISCONNECT {
                Admission::Disconnect
            } else {
                Admission::Throttle
            }
        }
    }
}

/// Counts open connections in total and per remote address.
#[derive(Debug)]
pub struct ConnectionCaps {
    max_total: usize,
    max_per_address: usize,
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

impl ConnectionCaps {
    /// Caps of `max_total` connections, `max_per_address` from one address.
    pub fn new(max_total: u32, max_per_address: u32) -> ConnectionCaps {
        ConnectionCaps {
            max_total: max_total as usize,
            max_per_address: max_per_address as usize,
            total: 0,
            per_address: HashMap::new(),
        }
    }

    /// Counts a new connection from `addr`, or says why it must be refused.
    pub fn open(&mut self, addr: IpAddr) -> Result<(), &'static str> {
        if self.total >= self.max_total {
            return Err("too many connections");
        }
        let count = self.per_address.entry(addr).or_insert(0);
        if *count >= self.max_per_address {
            return Err("too many connections from this address");
        }
        *count += 1;
        self.total += 1;
        Ok(())
    }

    /// Forgets a connection from `addr` that was counted by [`ConnectionCaps::open`].
    pub fn close(&mut self, addr: IpAddr) {
        if let Some(count) = self.per_address.get_mut(&addr) {
            *count -= 1;
            if *count == 0 {
                self.per_address.remove(&addr);
            }
            self.total = self.total.saturating_sub(1);
        }
    }

    /// Open connections.
    pub fn total(&self) -> usize {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_admits_its_burst_then_throttles_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(100, 10, t0);
        for _ in 0..10 {
            assert_eq!(bucket.admit(t0), Admission::Admit);
        }
        assert_eq!(bucket.admit(t0), Admission::Throttle);
        // 100/s: one token per 10 ms.
        assert_eq!(
            bucket.admit(t0 + Duration::from_millis(11)),
            Admission::Admit
        );
        assert_eq!(
            bucket.admit(t0 + Duration::from_millis(12)),
            Admission::Throttle
        );
    }

    #[test]
    fn sustained_abuse_disconnects() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(100, 10, t0);
        let mut verdicts = Vec::new();
        for _ in 0..200 {
            verdicts.push(bucket.admit(t0));
        }
        assert_eq!(verdicts.last(), Some(&Admission::Disconnect));
        assert_eq!(
            verdicts.iter().filter(|v| **v == Admission::Admit).count(),
            10
        );
    }

    #[test]
    fn a_refilled_bucket_forgives_earlier_strikes() {
        let t0 = Instant::now();
        let mut bucket = TokenBucket::new(100, 10, t0);
        for _ in 0..(10 + STRIKES_TO_DISCONNECT - 1) {
            bucket.admit(t0);
        }
        let later = t0 + Duration::from_secs(1);
        assert_eq!(bucket.admit(later), Admission::Admit);
        for _ in 0..9 {
            bucket.admit(later);
        }
        assert_eq!(bucket.admit(later), Admission::Throttle);
    }

    #[test]
    fn connection_caps_count_in_total_and_per_address() {
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        let mut caps = ConnectionCaps::new(3, 2);
        assert!(caps.open(a).is_ok());
        assert!(caps.open(a).is_ok());
        assert_eq!(caps.open(a), Err("too many connections from this address"));
        assert!(caps.open(b).is_ok());
        assert_eq!(caps.open(b), Err("too many connections"));
        caps.close(a);
        assert!(caps.open(b).is_ok());
        assert_eq!(caps.total(), 3);
    }
}
