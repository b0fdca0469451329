//! How a commit's answers reach the tasks waiting for them: one wake-up per waiting thread
//! and commit, not one per job.
//!
//! Why: the writer answers a commit's jobs from its own thread. A tokio task woken from
//! outside its runtime is queued there and the runtime is unparked, and a single-threaded
//! runtime unparks its thread at every such wake, waiting or not (an `eventfd` write).
//! Measured (BENCHMARKS.md, eighteenth session, 256 connections): the writer made ~22
//! `write` calls a commit of ~30 jobs, one per job, each also bringing the serving thread
//! back out of `epoll_wait`, all of it on the thread every send waits for.
//!
//! So a thread that serves requests on a single-threaded runtime (the HTTP threads,
//! `openwaba_server::http`) calls [`deliver_here`] once: the commits made on it then hand
//! their answers, a commit's worth at a time, to one task on that runtime, which wakes each
//! waiting task from inside (a local queue push, no system call). Every other caller (the
//! main runtime's workers, tests) is answered directly, as before.

use std::cell::RefCell;
use tokio::sync::{mpsc, oneshot};

/// One job's answer: its waiting task's end of the channel, and what it is told.
pub(crate) struct Reply<T> {
    pub(crate) to: oneshot::Sender<T>,
    pub(crate) answer: T,
}

impl<T> Reply<T> {
    fn send(self) {
        // A caller that stopped waiting has nothing left to tell.
        let _ = self.to.send(self.answer);
    }
}

/// The thread's delivery task, where commits made on this thread send their answers.
pub(crate) type Route<T> = mpsc::UnboundedSender<Vec<Reply<T>>>;

/// While it lives, commits made on this thread are answered through one task on the
/// thread's runtime (see the module's doc). Dropping it goes back to direct answers.
pub struct DeliverHere {
    _not_send: std::marker::PhantomData<*const ()>,
}

thread_local! {
    static HERE: RefCell<Option<Route<crate::sqlite::Answer>>> = const { RefCell::new(None) };
}

/// Makes this thread's commits answered in one wake-up per commit (see the module's doc).
/// Call it inside the thread's single-threaded runtime, which it spawns a task on; the
/// answers are delivered as long as that runtime runs, and directly once it has stopped.
pub fn deliver_here() -> DeliverHere {
    let (route, mut answers) = mpsc::unbounded_channel::<Vec<Reply<crate::sqlite::Answer>>>();
    tokio::spawn(async move {
        while let Some(replies) = answers.recv().await {
            replies.into_iter().for_each(Reply::send);
        }
    });
    HERE.with(|here| *here.borrow_mut() = Some(route));
    DeliverHere {
        _not_send: std::marker::PhantomData,
    }
}

impl Drop for DeliverHere {
    fn drop(&mut self) {
        HERE.with(|here| here.borrow_mut().take());
    }
}

/// The route of a commit made now, on this thread: its delivery task's, if it has one.
pub(crate) fn route_here() -> Option<Route<crate::sqlite::Answer>> {
    HERE.with(|here| here.borrow().clone())
}

/// Answers `replies`, those with a route in one message to each route's task, the rest
/// directly. A route whose task has stopped (its runtime ended) gets its answers directly.
pub(crate) fn deliver<T>(replies: impl IntoIterator<Item = (Option<Route<T>>, Reply<T>)>) {
    // Two HTTP threads by default: a list searched in order beats a map.
    let mut by_route: Vec<(Route<T>, Vec<Reply<T>>)> = Vec::new();
    for (route, reply) in replies {
        let Some(route) = route else {
            reply.send();
            continue;
        };
        match by_route.iter_mut().find(|(r, _)| r.same_channel(&route)) {
            Some((_, group)) => group.push(reply),
            None => by_route.push((route, vec![reply])),
        }
    }
    for (route, group) in by_route {
        if let Err(mpsc::error::SendError(group)) = route.send(group) {
            group.into_iter().for_each(Reply::send);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(n: u32) -> (Reply<u32>, oneshot::Receiver<u32>) {
        let (to, waiting) = oneshot::channel();
        (Reply { to, answer: n }, waiting)
    }

    #[test]
    fn each_route_gets_its_answers_in_one_message_and_the_rest_are_answered_directly() {
        let (first, mut first_task) = mpsc::unbounded_channel();
        let (second, mut second_task) = mpsc::unbounded_channel();
        let mut replies = Vec::new();
        let mut waiting = Vec::new();
        for n in 0..6 {
            let route = match n % 3 {
                0 => Some(first.clone()),
                1 => Some(second.clone()),
                _ => None,
            };
            let (r, w) = reply(n);
            replies.push((route, r));
            waiting.push(w);
        }
        deliver(replies);
        assert_eq!(waiting[2].try_recv(), Ok(2));
        assert_eq!(waiting[5].try_recv(), Ok(5));
        // The routed ones wait for their thread's task.
        assert!(waiting[0].try_recv().is_err());
        let first_group = first_task.try_recv().unwrap();
        let second_group = second_task.try_recv().unwrap();
        assert_eq!((first_group.len(), second_group.len()), (2, 2));
        assert!(first_task.try_recv().is_err() && second_task.try_recv().is_err());
        first_group
            .into_iter()
            .chain(second_group)
            .for_each(Reply::send);
        for n in [0, 1, 3, 4] {
            assert_eq!(waiting[n].try_recv(), Ok(n as u32));
        }
    }

    #[test]
    fn a_route_whose_task_has_stopped_is_answered_directly() {
        let (route, task) = mpsc::unbounded_channel();
        drop(task);
        let (r, mut waiting) = reply(7);
        deliver([(Some(route), r)]);
        assert_eq!(waiting.try_recv(), Ok(7));
    }
}
