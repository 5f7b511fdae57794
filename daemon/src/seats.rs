//! How many IPC clients may be connected at once: `max_clients` in all and
//! `max_clients_per_user` for each uid, so that one local user cannot take
//! every seat (an idle client costs little, but not nothing); and the byte
//! budget each user's clients share (`user_queue_bytes`). Root and the
//! daemon's own user are not limited per user (see `Peer::limited_uid`).

use crate::budget::Quota;
use crate::platform::UserId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The seats taken now.
#[derive(Debug, Default)]
pub struct Seats {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    total: u32,
    per_user: HashMap<UserId, UserSeats>,
}

/// One user's clients: how many, and the bytes they share.
#[derive(Debug)]
struct UserSeats {
    clients: u32,
    budget: Arc<Quota>,
}

/// The limits a new client is admitted within.
#[derive(Debug, Clone, Copy)]
pub struct SeatLimits {
    /// `max_clients`.
    pub total: u32,
    /// `max_clients_per_user`.
    pub per_user: u32,
    /// `user_queue_bytes`: the budget a user's clients share.
    pub user_bytes: usize,
}

/// One connected client's seat, given back when dropped.
#[derive(Debug)]
pub struct Seat {
    seats: Arc<Seats>,
    user: Option<UserId>,
    budget: Option<Arc<Quota>>,
}

impl Seat {
    /// The byte budget this client's user shares with its other clients (none for unlimited users).
    pub fn user_budget(&self) -> Option<Arc<Quota>> {
        self.budget.clone()
    }
}

impl Seats {
    /// Takes a seat for a client counted against `user` (`None`: not limited
    /// per user), or says which limit is reached.
    pub fn take(
        self: &Arc<Self>,
        user: Option<UserId>,
        limits: SeatLimits,
    ) -> Result<Seat, String> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if t.total >= limits.total {
            return Err(format!(
                "smtp32d serves its maximum of {} clients; try again later",
                limits.total
            ));
        }
        let mut budget = None;
        if let Some(uid) = user {
            let seats = t.per_user.entry(uid).or_insert_with(|| UserSeats {
                clients: 0,
                budget: Arc::new(Quota::new(limits.user_bytes)),
            });
            if seats.clients >= limits.per_user {
                return Err(format!(
                    "uid {uid} has its maximum of {} clients connected",
                    limits.per_user
                ));
            }
            seats.clients += 1;
            budget = Some(seats.budget.clone());
        }
        t.total += 1;
        Ok(Seat {
            seats: self.clone(),
            user,
            budget,
        })
    }

    /// Clients connected now.
    pub fn taken(&self) -> u32 {
        self.table.lock().unwrap_or_else(|e| e.into_inner()).total
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut t = self.seats.table.lock().unwrap_or_else(|e| e.into_inner());
        t.total = t.total.saturating_sub(1);
        if let Some(uid) = self.user {
            if let Some(seats) = t.per_user.get_mut(&uid) {
                seats.clients = seats.clients.saturating_sub(1);
                if seats.clients == 0 {
                    t.per_user.remove(&uid);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_are_limited_in_all_and_per_user_and_given_back() {
        let (user, other) = (
            crate::platform::test_user(1000),
            crate::platform::test_user(1001),
        );
        let seats = Arc::new(Seats::default());
        let limits = SeatLimits {
            total: 3,
            per_user: 2,
            user_bytes: 1000,
        };
        let a1 = seats.take(Some(user), limits).unwrap();
        let a2 = seats.take(Some(user), limits).unwrap();
        let shared = (a1.user_budget().unwrap(), a2.user_budget().unwrap());
        assert!(
            Arc::ptr_eq(&shared.0, &shared.1),
            "one user's clients share one budget"
        );
        assert!(seats
            .take(Some(user), limits)
            .unwrap_err()
            .contains(&format!("uid {user} ")));
        let root = seats.take(None, limits).unwrap();
        assert!(root.user_budget().is_none());
        assert!(seats
            .take(Some(other), limits)
            .unwrap_err()
            .contains("maximum of 3 clients"));
        drop(a1);
        assert_eq!(seats.taken(), 2);
        seats.take(Some(user), limits).unwrap();
    }
}
