//! Work spread over the machine's cores, for the commands that open or write every
//! scope file (`unlock`, the pre-commit hook's value search). Hand-written on
//! `std::thread::scope`: a thread pool crate would be a dependency for one loop.

use std::num::NonZeroUsize;

/// At most this many threads: past a few, the file system, not the CPU, is the limit.
const MAX_THREADS: usize = 8;
/// Below this many items per thread, starting a thread costs more than it saves.
const MIN_PER_THREAD: usize = 32;

/// `f` applied to every item, results in the order of `items`. Items are dealt out in
/// turn, so files of similar cost land on every thread. A panic in `f` is re-raised.
pub fn map<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(MAX_THREADS)
        .min(items.len() / MIN_PER_THREAD)
        .max(1);
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    let parts: Vec<Vec<R>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| s.spawn(move || items.iter().skip(t).step_by(threads).map(f).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    // Thread t holds items t, t + threads, t + 2·threads, …: deal them back.
    let mut parts: Vec<std::vec::IntoIter<R>> = parts.into_iter().map(Vec::into_iter).collect();
    (0..items.len())
        .map(|i| parts[i % threads].next().expect("one result per item"))
        .collect()
}

/// Runs `a` on another thread while `b` runs on this one; both results. A panic in
/// either is re-raised.
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB,
    RA: Send,
{
    std::thread::scope(|s| {
        let other = s.spawn(a);
        let rb = b();
        let ra = other
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        (ra, rb)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_order_of_the_items() {
        for n in [0, 1, 31, 64, 65, 1000] {
            let items: Vec<usize> = (0..n).collect();
            let out = super::map(&items, |i| i * 2);
            assert_eq!(
                out,
                items.iter().map(|i| i * 2).collect::<Vec<_>>(),
                "n = {n}"
            );
        }
    }

    #[test]
    fn join_returns_both() {
        let (a, b) = super::join(|| 1 + 1, || "b");
        assert_eq!((a, b), (2, "b"));
    }
}
