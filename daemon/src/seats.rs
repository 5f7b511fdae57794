//! How many IPC clients may be connected at once: `max_clients` in all and
//! `max_clients_per_user` for each uid, so that one local user cannot take
//! every seat (an idle client costs little, but not nothing). Root and the
//! daemon's own user are not limited per user (see `Peer::limited_uid`).

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
    per_user: HashMap<UserId, u32>,
}

/// One connected client's seat, given back when dropped.
#[derive(Debug)]
pub struct Seat {
    seats: Arc<Seats>,
    user: Option<UserId>,
}

impl Seats {
    /// Takes a seat for a client counted against `user` (`None`: not limited
    /// per user), or says which limit is reached.
    pub fn take(self: &Arc<Self>, user: Option<UserId>, max_total: u32, max_per_user: u32) -> Result<Seat, String> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if t.total >= max_total {
            return Err(format!("smtp32d serves its maximum of {max_total} clients; try again later"));
        }
        if let Some(uid) = user {
            let mine = t.per_user.entry(uid).or_default();
            if *mine >= max_per_user {
                return Err(format!("uid {uid} has its maximum of {max_per_user} clients connected"));
            }
            *mine += 1;
        }
        t.total += 1;
        Ok(Seat { seats: self.clone(), user })
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
            if let Some(n) = t.per_user.get_mut(&uid) {
                *n = n.saturating_sub(1);
                if *n == 0 {
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
        let (user, other) = (crate::platform::test_user(1000), crate::platform::test_user(1001));
        let seats = Arc::new(Seats::default());
        let a1 = seats.take(Some(user), 3, 2).unwrap();
        let _a2 = seats.take(Some(user), 3, 2).unwrap();
        assert!(seats.take(Some(user), 3, 2).unwrap_err().contains(&format!("uid {user} ")));
        let _root = seats.take(None, 3, 2).unwrap();
        assert!(seats.take(Some(other), 3, 2).unwrap_err().contains("maximum of 3 clients"));
        drop(a1);
        assert_eq!(seats.taken(), 2);
        seats.take(Some(user), 3, 2).unwrap();
    }
}
