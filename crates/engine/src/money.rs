//! Money: exact decimal amounts in a card's currency. Never floats.

use rust_decimal::Decimal;
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Mul};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(Decimal);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an amount (expected a decimal such as 0.0625)")]
pub struct MoneyError(pub String);

impl Money {
    pub const ZERO: Money = Money(Decimal::ZERO);

    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        let d = Decimal::from_str(s.trim()).map_err(|_| MoneyError(s.to_owned()))?;
        if d.is_sign_negative() && !d.is_zero() {
            return Err(MoneyError(s.to_owned()));
        }
        Ok(Money(d))
    }
    pub fn decimal(self) -> Decimal {
        self.0
    }
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Display for Money {
    /// The shortest exact decimal: `0.06`, `0`, `0.0625`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.normalize())
    }
}

impl Add for Money {
    type Output = Money;
    fn add(self, o: Money) -> Money {
        Money(self.0 + o.0)
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, o: Money) {
        self.0 += o.0;
    }
}

impl Mul<u64> for Money {
    type Output = Money;
    fn mul(self, n: u64) -> Money {
        Money(self.0 * Decimal::from(n))
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Add::add)
    }
}

/// An ISO 4217 currency code. Meta's cards write US dollars as `$US`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a currency (expected an ISO 4217 code such as USD, INR, EUR, or Meta's `$US`)"
)]
pub struct CurrencyError(pub String);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    pub fn parse(s: &str) -> Result<Currency, CurrencyError> {
        let t = s.trim();
        if t == "$US" || t == "US$" || t == "$" {
            return Ok(Currency::USD);
        }
        let b = t.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Currency([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
                b[2].to_ascii_uppercase(),
            ]))
        } else {
            Err(CurrencyError(s.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_exact() {
        let a = Money::parse("0.1").unwrap();
        let total: Money = std::iter::repeat_n(a, 10).sum();
        assert_eq!(total.to_string(), "1");
        let b = Money::parse("0.0300").unwrap() + Money::parse("0.0600").unwrap();
        assert_eq!(b.to_string(), "0.09");
        assert_eq!(Money::ZERO.to_string(), "0");
    }

    #[test]
    fn refuses_non_amounts() {
        assert!(Money::parse("abc").is_err());
        assert!(Money::parse("-0.01").is_err());
        assert!(Money::parse("").is_err());
    }

    #[test]
    fn currencies() {
        assert_eq!(Currency::parse("$US").unwrap(), Currency::USD);
        assert_eq!(Currency::parse("inr").unwrap().as_str(), "INR");
        assert!(Currency::parse("dollars").is_err());
    }
}
