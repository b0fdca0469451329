//! Accounts in memory: who owns what, and which token sees which object. Loaded from the
//! store at start, updated with it.

use openwaba_store::{AccessToken, Accounts, App, Business, PhoneNumber, Waba};
use rustc_hash::FxHashMap;
use std::sync::Arc;

#[derive(Default)]
pub struct Registry {
    pub businesses: FxHashMap<String, Business>,
    pub wabas: FxHashMap<String, Waba>,
    /// Shared: every send takes its number without copying it (six strings a send).
    pub phone_numbers: FxHashMap<String, Arc<PhoneNumber>>,
    pub apps: FxHashMap<String, App>,
    /// token → business id
    pub tokens: FxHashMap<String, String>,
}

impl Registry {
    pub fn from_accounts(a: &Accounts) -> Registry {
        let mut r = Registry::default();
        for b in &a.businesses {
            r.businesses.insert(b.id.clone(), b.clone());
        }
        for w in &a.wabas {
            r.wabas.insert(w.id.clone(), w.clone());
        }
        for p in &a.phone_numbers {
            r.phone_numbers.insert(p.id.clone(), Arc::new(p.clone()));
        }
        for x in &a.apps {
            r.apps.insert(x.id.clone(), x.clone());
        }
        for AccessToken { token, business_id } in &a.tokens {
            r.tokens.insert(token.clone(), business_id.clone());
        }
        r
    }

    /// The business of a WABA.
    pub fn waba_business(&self, waba_id: &str) -> Option<&str> {
        self.wabas.get(waba_id).map(|w| w.business_id.as_str())
    }

    /// A phone number the business may see.
    pub fn visible_number(&self, business: &str, id: &str) -> Option<&PhoneNumber> {
        self.visible_number_shared(business, id).map(|p| &**p)
    }

    /// [`Registry::visible_number`], shared rather than borrowed (to keep past the lock).
    pub fn visible_number_shared(&self, business: &str, id: &str) -> Option<&Arc<PhoneNumber>> {
        self.phone_numbers
            .get(id)
            .filter(|p| self.waba_business(&p.waba_id) == Some(business))
    }

    /// A WABA the business may see.
    pub fn visible_waba(&self, business: &str, id: &str) -> Option<&Waba> {
        self.wabas.get(id).filter(|w| w.business_id == business)
    }

    pub fn numbers_of(&self, waba_id: &str) -> Vec<&PhoneNumber> {
        let mut v: Vec<&PhoneNumber> = self
            .phone_numbers
            .values()
            .filter(|p| p.waba_id == waba_id)
            .map(|p| &**p)
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }
}
