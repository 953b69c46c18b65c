//! Waking a pipeline stage that sleeps, instead of letting it nap and look again.
//!
//! An event count: a waiter that found nothing to do announces itself (`sleepers`), reads the
//! epoch, checks its condition once more and sleeps on the epoch (a futex) only if nothing
//! changed; a notifier makes its progress visible first, then, only if someone sleeps, bumps the
//! epoch and wakes the sleepers. The notifier's store and the waiter's announcement are each
//! followed by a sequentially consistent fence, so at least one side sees the other (a Dekker
//! pair, as in `wakeup.rs`): no wake-up is lost. A busy pipeline has no sleepers, and a notify
//! costs one fence and one load: no system call per command.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering, fence};
use std::time::Duration;

/// How long a sleeper waits before it looks again on its own. Not a nap: every hand-off
/// notifies, and this only bounds the damage of a notification this design missed (none is
/// known) and lets a stage notice a shutdown that nobody announces.
const SAFETY_NET: Duration = Duration::from_millis(100);

/// One place stages sleep and are woken.
#[derive(Debug, Default)]
pub(crate) struct EventCount {
    epoch: AtomicU32,
    sleepers: AtomicU32,
    /// Set when no notification will come any more (the last publisher is gone): waiters stop
    /// sleeping so they see the ring's shutdown.
    closed: AtomicBool,
}

impl EventCount {
    /// After making progress visible (a store the waiters' condition reads): wake the
    /// sleepers, if there are any.
    #[inline]
    pub(crate) fn notify(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) > 0 {
            self.epoch.fetch_add(1, Ordering::Release);
            wake_all(&self.epoch);
        }
    }

    /// The same, when the progress was made visible by a sequentially consistent
    /// read-modify-write (a locked instruction, a full barrier already): saves the fence, which
    /// a publisher would otherwise pay on every command. The waiter's announcement is followed by
    /// a sequentially consistent fence, so either the waiter sees the progress or this load sees
    /// the waiter (C++20 [atomics.order]: a load after the fence in the single total order
    /// observes a modification sequenced before it).
    #[inline]
    pub(crate) fn notify_after_seqcst_rmw(&self) {
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.epoch.fetch_add(1, Ordering::Release);
            wake_all(&self.epoch);
        }
    }

    /// No more notifications: wake everyone and never let anyone sleep again.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.epoch.fetch_add(1, Ordering::Release);
        wake_all(&self.epoch);
    }

    /// Sleeps until `ready()` holds (checked once more after announcing, so a notification
    /// between the caller's last check and the sleep is not lost). Returns when `ready()` held
    /// or after [`SAFETY_NET`], so the caller re-checks its own loop condition.
    pub(crate) fn sleep_unless(&self, ready: impl Fn() -> bool) {
        if self.closed.load(Ordering::Acquire) {
            std::thread::yield_now();
            return;
        }
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let key = self.epoch.load(Ordering::Acquire);
        fence(Ordering::SeqCst);
        if !ready() && !self.closed.load(Ordering::Acquire) {
            wait_timeout(&self.epoch, key, SAFETY_NET);
        }
        self.sleepers.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Wakes every thread in a futex wait on `word`.
fn wake_all(word: &AtomicU32) {
    #[cfg(target_os = "linux")]
    // SAFETY: FUTEX_WAKE on a live atomic; the kernel only wakes threads waiting on it.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        );
    }
    #[cfg(not(target_os = "linux"))]
    let _ = word;
}

/// A futex wait on `word` while it holds `key`, at most `timeout`.
fn wait_timeout(word: &AtomicU32, key: u32, timeout: Duration) {
    #[cfg(target_os = "linux")]
    {
        let spec = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: FUTEX_WAIT on a live atomic we hold a reference to, with a valid relative
        // timeout; the kernel only reads the word and sleeps this thread. Spurious returns
        // (EINTR, EAGAIN when the word changed) are fine: the caller re-checks.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                key,
                &spec as *const libc::timespec,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (word, key);
        std::thread::sleep(timeout.min(Duration::from_micros(50)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;
    use std::time::Instant;

    #[test]
    fn a_sleeper_is_woken_by_the_notify_after_the_store() {
        let ec = Arc::new(EventCount::default());
        let value = Arc::new(AtomicU64::new(0));
        let (ec2, value2) = (Arc::clone(&ec), Arc::clone(&value));
        let waiter = std::thread::spawn(move || {
            let mut wakes = 0;
            let started = Instant::now();
            for target in 1..=1000u64 {
                while value2.load(Ordering::Acquire) < target {
                    ec2.sleep_unless(|| value2.load(Ordering::Acquire) >= target);
                    wakes += 1;
                }
            }
            (wakes, started.elapsed())
        });
        for i in 1..=1000u64 {
            value.store(i, Ordering::Release);
            ec.notify();
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let (_, took) = waiter.join().expect("waiter");
        // A lost wake-up would cost the safety net (100 ms) each time.
        assert!(took < Duration::from_secs(2), "{took:?}");
    }

    #[test]
    fn close_releases_sleepers_for_good() {
        let ec = Arc::new(EventCount::default());
        let ec2 = Arc::clone(&ec);
        let waiter = std::thread::spawn(move || {
            let started = Instant::now();
            ec2.sleep_unless(|| false);
            started.elapsed()
        });
        std::thread::sleep(Duration::from_millis(20));
        ec.close();
        assert!(waiter.join().expect("waiter") < SAFETY_NET);
        let started = Instant::now();
        ec.sleep_unless(|| false);
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}
