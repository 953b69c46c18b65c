//! Accounts and their balances. Accounts live in a dense vector (an index per account id), and
//! balances in one flat array `[account × asset]`, so a fill touches a few adjacent cells and no map.

use std::collections::HashMap;

use crate::units::{AccountId, Amount, AssetId, MAX_AMOUNT};

/// One account's balance in one asset, in minor units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Cell {
    pub available: u64,
    pub reserved: u64,
}

/// Per-account bookkeeping of open orders: a count for `max_open_orders` and an intrusive list
/// through the order arena (oldest first) so a mass cancel visits only the account's orders.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AccountOrders {
    pub open: u32,
    pub head: u32,
    pub tail: u32,
}

/// The slot index meaning "none" in intrusive lists.
pub(crate) const NIL: u32 = u32::MAX;

/// All accounts.
pub(crate) struct Accounts {
    index: HashMap<u32, u32, foldhash::fast::RandomState>,
    ids: Vec<AccountId>,
    orders: Vec<AccountOrders>,
    /// Kill switch per account (BEHAVIOUR.md §10): a blocked account places no orders.
    blocked: Vec<bool>,
    cells: Vec<Cell>,
    asset_count: usize,
    /// Deposits − withdrawals per asset: every balance is bounded by it, and it is kept at most
    /// `MAX_AMOUNT`, so no credit anywhere can overflow.
    supply: Vec<u64>,
}

impl Accounts {
    pub fn new(asset_count: usize) -> Accounts {
        let mut accounts = Accounts {
            index: HashMap::default(),
            ids: Vec::new(),
            orders: Vec::new(),
            blocked: Vec::new(),
            cells: Vec::new(),
            asset_count,
            supply: vec![0; asset_count],
        };
        accounts.get_or_create(AccountId::FEES);
        accounts
    }

    /// The dense index of `id`.
    #[inline]
    pub fn find(&self, id: AccountId) -> Option<u32> {
        self.index.get(&id.0).copied()
    }

    /// The dense index of `id`, creating the account at zero if new.
    pub fn get_or_create(&mut self, id: AccountId) -> u32 {
        if let Some(i) = self.find(id) {
            return i;
        }
        let i = self.ids.len() as u32;
        self.index.insert(id.0, i);
        self.ids.push(id);
        self.orders.push(AccountOrders {
            open: 0,
            head: NIL,
            tail: NIL,
        });
        self.blocked.push(false);
        self.cells
            .extend(std::iter::repeat_n(Cell::default(), self.asset_count));
        i
    }

    /// Account ids in creation order.
    pub fn ids(&self) -> &[AccountId] {
        &self.ids
    }

    #[inline]
    pub fn id(&self, index: u32) -> AccountId {
        self.ids[index as usize]
    }

    #[inline]
    pub fn cell(&self, index: u32, asset: AssetId) -> &Cell {
        &self.cells[index as usize * self.asset_count + asset.0 as usize]
    }

    #[inline]
    fn cell_mut(&mut self, index: u32, asset: AssetId) -> &mut Cell {
        &mut self.cells[index as usize * self.asset_count + asset.0 as usize]
    }

    #[inline]
    pub fn orders(&self, index: u32) -> &AccountOrders {
        &self.orders[index as usize]
    }

    #[inline]
    pub fn orders_mut(&mut self, index: u32) -> &mut AccountOrders {
        &mut self.orders[index as usize]
    }

    /// True when the account is blocked (kill switch).
    #[inline]
    pub fn is_blocked(&self, index: u32) -> bool {
        self.blocked[index as usize]
    }

    /// Blocks or unblocks the account.
    pub fn set_blocked(&mut self, index: u32, blocked: bool) {
        self.blocked[index as usize] = blocked;
    }

    pub fn asset_count(&self) -> usize {
        self.asset_count
    }

    /// True when depositing `amount` keeps the asset's supply within `MAX_AMOUNT`.
    pub fn can_deposit(&self, asset: AssetId, amount: Amount) -> bool {
        self.supply[asset.0 as usize]
            .checked_add(amount.0)
            .is_some_and(|s| s <= MAX_AMOUNT)
    }

    pub fn supply(&self, asset: AssetId) -> u64 {
        self.supply[asset.0 as usize]
    }

    /// Credits a deposit, or `false` (changing nothing) if the asset's supply would pass `MAX_AMOUNT`.
    pub fn deposit(&mut self, index: u32, asset: AssetId, amount: Amount) -> bool {
        let supply = &mut self.supply[asset.0 as usize];
        match supply.checked_add(amount.0).filter(|&s| s <= MAX_AMOUNT) {
            Some(s) => *supply = s,
            None => return false,
        }
        self.cell_mut(index, asset).available += amount.0;
        true
    }

    /// Debits a withdrawal from available, or `false` if it is not there.
    pub fn withdraw(&mut self, index: u32, asset: AssetId, amount: Amount) -> bool {
        let cell = self.cell_mut(index, asset);
        if cell.available < amount.0 {
            return false;
        }
        cell.available -= amount.0;
        self.supply[asset.0 as usize] -= amount.0;
        true
    }

    /// Overwrites balances and supply from a snapshot: `balances[account][asset]` is
    /// (available, reserved), accounts in creation order.
    pub fn restore(&mut self, balances: &[Vec<(u64, u64)>], supply: &[u64]) {
        for (index, cells) in balances.iter().enumerate() {
            for (asset, &(available, reserved)) in cells.iter().enumerate() {
                *self.cell_mut(index as u32, AssetId(asset as u16)) = Cell {
                    available,
                    reserved,
                };
            }
        }
        self.supply.copy_from_slice(supply);
    }

    /// Moves `amount` from available to reserved, or `false` if it is not available.
    #[inline]
    pub fn reserve(&mut self, index: u32, asset: AssetId, amount: u64) -> bool {
        let cell = self.cell_mut(index, asset);
        if cell.available < amount {
            return false;
        }
        cell.available -= amount;
        cell.reserved += amount;
        true
    }

    /// Moves `amount` from reserved back to available.
    #[inline]
    pub fn release(&mut self, index: u32, asset: AssetId, amount: u64) {
        let cell = self.cell_mut(index, asset);
        cell.reserved = take(cell.reserved, amount);
        cell.available += amount;
    }

    /// Removes `amount` from reserved (it was paid away).
    #[inline]
    pub fn spend_reserved(&mut self, index: u32, asset: AssetId, amount: u64) {
        let cell = self.cell_mut(index, asset);
        cell.reserved = take(cell.reserved, amount);
    }

    /// Adds `amount` to available. Balances are bounded by the asset's supply (≤ `MAX_AMOUNT`),
    /// so the sum of two stays far below `u64::MAX`.
    #[inline]
    pub fn credit(&mut self, index: u32, asset: AssetId, amount: u64) {
        self.cell_mut(index, asset).available += amount;
    }
}

/// `have − amount` where the engine's bookkeeping guarantees `amount ≤ have`. A shortfall is a bug
/// in the engine, not bad input: stop rather than let a balance wrap.
#[inline]
fn take(have: u64, amount: u64) -> u64 {
    match have.checked_sub(amount) {
        Some(v) => v,
        None => panic!("engine invariant broken: releasing {amount} from a hold of {have}"),
    }
}
