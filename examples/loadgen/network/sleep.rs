//! Sleeping with a nanosecond timeout: `ppoll` (where `poll` and `epoll_wait` round to
//! milliseconds) and a timer slack of 1 ns for this thread, so the one thread that drives every
//! socket, and the echo floor measured the same way, wake up when they asked to.

use std::io;

use crate::schedule::{Clock, NS_PER_S};

/// The longest single sleep, so a stalled run still notices its deadlines.
pub(super) const MAX_SLEEP_NS: u64 = 100_000_000;

/// Lowers this thread's timer slack to 1 ns (Linux; elsewhere a no-op that fails quietly).
pub(super) fn set_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and touches only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Waits up to `timeout_ns` for an event on `fds`; an empty slice just sleeps.
pub(super) fn ppoll(fds: &mut [libc::pollfd], timeout_ns: u64) -> io::Result<usize> {
    let ts = libc::timespec {
        tv_sec: (timeout_ns / NS_PER_S) as libc::time_t,
        tv_nsec: (timeout_ns % NS_PER_S) as libc::c_long,
    };
    // SAFETY: `fds` is a valid slice of pollfd for its length, `ts` lives across the call, and a
    // null signal mask leaves the mask unchanged.
    let n = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
    if n >= 0 {
        Ok(n as usize)
    } else {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            Ok(0)
        } else {
            Err(e)
        }
    }
}

pub(super) fn sleep_until(clock: Clock, due: u64) {
    loop {
        let now = clock.now_ns();
        if now >= due {
            return;
        }
        let _ = ppoll(&mut [], (due - now).min(MAX_SLEEP_NS));
    }
}
