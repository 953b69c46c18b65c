//! Open orders by order id and by (account, ClOrdID).
//!
//! Both tables store only the order's arena slot (4 bytes) and compare keys against the arena, so
//! they stay small enough to live in cache: a map holding the 36-byte ClOrdID keys was the largest
//! cost of a cancel. ClOrdIDs are chosen by clients, so the hasher is seeded per process; the
//! seed changes nothing observable, since the tables are never iterated.

use std::hash::BuildHasher;

use foldhash::fast::RandomState;
use hashbrown::HashTable;

use crate::engine::book::{Arena, Order};
use crate::units::{ClientOrderId, OrderId};

pub(crate) struct OrderIndex {
    by_id: HashTable<u32>,
    by_client: HashTable<u32>,
    hasher: RandomState,
}

impl OrderIndex {
    pub fn with_capacity(capacity: usize) -> OrderIndex {
        OrderIndex {
            by_id: HashTable::with_capacity(capacity),
            by_client: HashTable::with_capacity(capacity),
            hasher: RandomState::default(),
        }
    }

    #[inline]
    fn id_hash(&self, id: OrderId) -> u64 {
        self.hasher.hash_one(id.0)
    }

    #[inline]
    fn client_hash(&self, account: u32, client: &ClientOrderId) -> u64 {
        // Two u128 words hash faster than 32 single bytes behind a length prefix.
        let [low, high]: [u128; 2] = bytemuck::cast(client.0);
        self.hasher.hash_one((account, low, high))
    }

    /// Indexes the order in `slot` under its id and its current ClOrdID.
    pub fn insert(&mut self, arena: &Arena, slot: u32) {
        let o = arena.get(slot);
        let h = self.id_hash(o.id);
        let hasher = &self.hasher;
        self.by_id
            .insert_unique(h, slot, |&s| hasher.hash_one(arena.get(s).id.0));
        self.insert_client(arena, slot);
    }

    fn insert_client(&mut self, arena: &Arena, slot: u32) {
        let o = arena.get(slot);
        let h = self.client_hash(o.account, &o.client_order_id);
        let OrderIndex {
            by_client, hasher, ..
        } = self;
        by_client.insert_unique(h, slot, |&s| {
            let o: &Order = arena.get(s);
            let [low, high]: [u128; 2] = bytemuck::cast(o.client_order_id.0);
            hasher.hash_one((o.account, low, high))
        });
    }

    /// Removes the order in `slot` from both tables.
    pub fn remove(&mut self, arena: &Arena, slot: u32) {
        let o = arena.get(slot);
        if let Ok(entry) = self.by_id.find_entry(self.id_hash(o.id), |&s| s == slot) {
            entry.remove();
        }
        self.remove_client(o.account, &o.client_order_id, slot);
    }

    fn remove_client(&mut self, account: u32, client: &ClientOrderId, slot: u32) {
        let h = self.client_hash(account, client);
        if let Ok(entry) = self.by_client.find_entry(h, |&s| s == slot) {
            entry.remove();
        }
    }

    /// Re-indexes the order in `slot` after its ClOrdID changed from `old` (a replace).
    pub fn rekey_client(&mut self, arena: &Arena, slot: u32, old: &ClientOrderId) {
        self.remove_client(arena.get(slot).account, old, slot);
        self.insert_client(arena, slot);
    }

    /// The slot of open order `id`.
    #[inline]
    pub fn by_id(&self, arena: &Arena, id: OrderId) -> Option<u32> {
        self.by_id
            .find(self.id_hash(id), |&s| arena.get(s).id == id)
            .copied()
    }

    /// The slot of the account's open order with ClOrdID `client`.
    #[inline]
    pub fn by_client(&self, arena: &Arena, account: u32, client: &ClientOrderId) -> Option<u32> {
        let h = self.client_hash(account, client);
        self.by_client
            .find(h, |&s| {
                let o = arena.get(s);
                o.account == account && o.client_order_id == *client
            })
            .copied()
    }

    /// Entries in the (id, ClOrdID) tables.
    pub fn len(&self) -> (usize, usize) {
        (self.by_id.len(), self.by_client.len())
    }
}
