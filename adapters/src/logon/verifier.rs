//! Hashed passwords are checked here, on the `hayate-logon` thread: an argon2 verification
//! costs tens of milliseconds of CPU by design, which on the event loop would stall every
//! session's orders behind one logon. The loop hands over a job and goes on; the verdict comes
//! back through a channel and the loop's waker. The queue is bounded: when it is full the logon
//! is refused as busy rather than queued without end (a flood of logons must not become a flood
//! of argon2 work).

use std::io;
use std::thread::JoinHandle;

use crossbeam::channel::{self, Receiver, Sender, TrySendError};

use crate::secrets::Password;

/// Jobs waiting at most.
pub const QUEUE: usize = 64;

/// Which logon a verdict belongs to: the connection's slot and its never-reused id.
pub type Ticket = (usize, u64);

struct Job {
    ticket: Ticket,
    password: Password,
    candidate: String,
}

/// A finished check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The logon it answers.
    pub ticket: Ticket,
    /// Whether the password was right.
    pub ok: bool,
}

/// The verifying thread and its two channels; the thread ends when this is dropped.
#[derive(Debug)]
pub struct Verifier {
    jobs: Option<Sender<Job>>,
    verdicts: Receiver<Verdict>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("ticket", &self.ticket).finish()
    }
}

impl Verifier {
    /// Starts the thread; `wake` is called after each verdict (the event loop's waker).
    pub fn start(wake: impl Fn() + Send + 'static) -> io::Result<Verifier> {
        let (jobs, inbox) = channel::bounded::<Job>(QUEUE);
        let (outbox, verdicts) = channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("hayate-logon".into())
            .spawn(move || {
                for job in inbox {
                    let ok = job.password.verify(&job.candidate);
                    if outbox
                        .send(Verdict {
                            ticket: job.ticket,
                            ok,
                        })
                        .is_err()
                    {
                        return;
                    }
                    wake();
                }
            })?;
        Ok(Verifier {
            jobs: Some(jobs),
            verdicts,
            thread: Some(thread),
        })
    }

    /// Queues a check; false if the queue is full (refuse the logon as busy).
    pub fn submit(&self, ticket: Ticket, password: &Password, candidate: &str) -> bool {
        let Some(jobs) = &self.jobs else {
            return false;
        };
        let job = Job {
            ticket,
            password: password.clone(),
            candidate: candidate.to_owned(),
        };
        match jobs.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// A verdict, if one is ready (no syscall, no wait).
    pub fn next_verdict(&self) -> Option<Verdict> {
        self.verdicts.try_recv().ok()
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        // Closing the job channel ends the thread after the job in hand.
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::hash_password;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    #[test]
    fn verdicts_come_back_for_their_tickets_and_wake_the_loop() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&wakes);
        let verifier = Verifier::start(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .expect("thread");
        let password = Password::parse(&hash_password("s3cret").expect("hash")).expect("parse");
        assert!(verifier.submit((1, 10), &password, "s3cret"));
        assert!(verifier.submit((2, 11), &password, "guess"));
        let mut verdicts = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while verdicts.len() < 2 && Instant::now() < deadline {
            match verifier.next_verdict() {
                Some(v) => verdicts.push(v),
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        assert_eq!(
            verdicts,
            vec![
                Verdict {
                    ticket: (1, 10),
                    ok: true
                },
                Verdict {
                    ticket: (2, 11),
                    ok: false
                }
            ]
        );
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }
}
