//! How the filter waits for git's next packet.
//!
//! git hands the filter one file at a time and waits for each answer (a clean cannot be
//! delayed), so a command over many files is a ping-pong between two processes. When
//! the filter blocks in `read`, every packet git writes must wake it, and on a virtual
//! machine a wake-up on another CPU goes through the hypervisor. Through a filter that
//! does nothing, those wake-ups were most of what a filter costs `git add` over plain
//! git: `perf` put about 75 of those 115 ms for 1000 files in the scheduler (the waking
//! `write` on git's side, the switch back in on the filter's). A filter polling its
//! input while git works on the previous file needs no wake-up: through the do-nothing
//! filter, `git add` of the 1000 files went from 1.79× plain git to 1.38× (bench/bench.sh's
//! `addfloor` files, 11 interleaved runs on a RAM disk).
//!
//! So, with a second CPU to spare, a read first polls for up to [`SPIN`] before it
//! blocks, yielding the CPU at each turn: a git (or anything else) waiting for that CPU
//! runs first, so a loaded machine loses nothing to the loop (without the yield, `git
//! add` took 40% longer while a build ran on both CPUs; with it, 13% less time). Once a
//! wait has outlasted the spin (git is busy elsewhere, or waiting for its user), the
//! next read blocks at once, until a wait short enough to have been caught by the spin
//! shows that git is sending files back to back again. The cost is at most [`SPIN`] of
//! CPU per request, and none on a machine with one CPU (including a cgroup's quota,
//! which `available_parallelism` reads).
//!
//! Written by hand: it is a poll loop around one file descriptor, which no crate does
//! with this policy.

use std::io::{self, Read};
use std::time::{Duration, Instant};

/// How long a read polls before it blocks: longer than git takes over one file between
/// two requests (about 0.1–0.3 ms for `git add` here, hashing, compressing and writing
/// the object), short enough that a git busy with something else costs little.
pub const SPIN: Duration = Duration::from_millis(1);

/// git's end of the protocol: stdin, read with the waiting policy of this module.
pub struct Input {
    file: std::fs::File,
    /// [`SPIN`], or zero without a second CPU.
    spin: Duration,
    /// Whether the last wait ended within the spin: git is sending requests back to back.
    brisk: bool,
}

impl Input {
    pub fn new(file: std::fs::File) -> Input {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Input::with_spin(file, if cpus >= 2 { SPIN } else { Duration::ZERO })
    }

    fn with_spin(file: std::fs::File, spin: Duration) -> Input {
        Input {
            file,
            spin,
            brisk: true,
        }
    }

    /// Polls until input is ready or the spin is over; whether it is ready.
    fn spin_until_ready(&self) -> bool {
        let start = Instant::now();
        loop {
            // Data, end of input and errors all end the wait: the read reports them.
            if self.poll_now().unwrap_or(true) {
                return true;
            }
            if start.elapsed() >= self.spin {
                return false;
            }
            std::thread::yield_now();
        }
    }

    /// Whether a read would return at once; `None` when the poll fails.
    #[cfg(unix)]
    fn poll_now(&self) -> Option<bool> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let now = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let mut fds = [PollFd::new(&self.file, PollFlags::IN)];
        poll(&mut fds, Some(&now)).ok().map(|n| n > 0)
    }

    /// Cannot be told: as if ready (no spin).
    #[cfg(not(unix))]
    fn poll_now(&self) -> Option<bool> {
        None
    }
}

impl super::protocol::Ready for Input {
    /// Whether input (or its end) is there; true when that cannot be told.
    fn ready(&self) -> bool {
        self.poll_now().unwrap_or(true)
    }
}

impl Read for Input {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.spin.is_zero() {
            return self.file.read(out);
        }
        if self.brisk && self.spin_until_ready() {
            return self.file.read(out);
        }
        let start = Instant::now();
        let read = self.file.read(out);
        self.brisk = start.elapsed() < self.spin;
        read
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::Write;

    fn pipe() -> (std::fs::File, std::io::PipeWriter) {
        let (r, w) = std::io::pipe().expect("pipe");
        (std::os::fd::OwnedFd::from(r).into(), w)
    }

    #[test]
    fn reads_what_is_written_whether_it_spins_or_blocks() {
        for spin in [Duration::ZERO, Duration::from_micros(200), SPIN] {
            let (r, mut w) = pipe();
            let mut input = Input::with_spin(r, spin);
            let writer = std::thread::spawn(move || {
                for chunk in [&b"0014command=clean\n"[..], b"0000", b"late"] {
                    // Longer than the short spin, so the blocking path runs too.
                    std::thread::sleep(Duration::from_millis(2));
                    w.write_all(chunk).expect("write");
                }
            });
            let mut got = Vec::new();
            input.read_to_end(&mut got).expect("read");
            writer.join().expect("writer");
            assert_eq!(got, b"0014command=clean\n0000late", "spin {spin:?}");
        }
    }

    #[test]
    fn a_long_wait_turns_the_spin_off_and_a_short_one_back_on() {
        let (r, mut w) = pipe();
        let mut input = Input::with_spin(r, Duration::from_millis(5));
        let mut byte = [0u8];
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            w.write_all(b"a").expect("write");
            w
        });
        input.read_exact(&mut byte).expect("read");
        assert!(!input.brisk, "a 50 ms wait outlasts a 5 ms spin");
        let mut w = writer.join().expect("writer");
        w.write_all(b"b").expect("write");
        input.read_exact(&mut byte).expect("read");
        assert_eq!(&byte, b"b");
        assert!(input.brisk, "input already there ends the wait at once");
    }

    #[test]
    fn end_of_input_ends_the_spin() {
        let (r, w) = pipe();
        drop(w);
        let mut input = Input::with_spin(r, Duration::from_secs(60));
        let start = Instant::now();
        assert_eq!(input.read(&mut [0u8; 4]).expect("read"), 0);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "a closed pipe is ready"
        );
    }
}
