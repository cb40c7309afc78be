//! `Exchange` and `Interval`: vn.py's enums, printed and parsed as vn.py's string values.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $value:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($(#[$vmeta])* #[doc = concat!("`", $value, "`")] $variant,)*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// vn.py's string value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $value,)*
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($value => Ok($name::$variant),)*
                    _ => Err(Error::InvalidArgument(format!(concat!("unknown ", $what, " {:?}"), s))),
                }
            }
        }
    };
}

string_enum! {
    /// An exchange, as `vnpy.trader.constant.Exchange` (value = name, except EUREX = `EUX`).
    Exchange, "exchange" {
        CFFEX = "CFFEX", SHFE = "SHFE", CZCE = "CZCE", DCE = "DCE", INE = "INE", GFEX = "GFEX",
        SSE = "SSE", SZSE = "SZSE", BSE = "BSE", SHHK = "SHHK", SZHK = "SZHK", SGE = "SGE",
        WXE = "WXE", CFETS = "CFETS", XBOND = "XBOND", SMART = "SMART", NYSE = "NYSE",
        NASDAQ = "NASDAQ", ARCA = "ARCA", EDGEA = "EDGEA", ISLAND = "ISLAND", BATS = "BATS",
        IEX = "IEX", AMEX = "AMEX", TSE = "TSE", NYMEX = "NYMEX", COMEX = "COMEX",
        GLOBEX = "GLOBEX", IDEALPRO = "IDEALPRO", CME = "CME", ICE = "ICE", SEHK = "SEHK",
        HKFE = "HKFE", SGX = "SGX", CBOT = "CBOT", CBOE = "CBOE", CFE = "CFE", DME = "DME",
        EUREX = "EUX", APEX = "APEX", LME = "LME", BMD = "BMD", TOCOM = "TOCOM", EUNX = "EUNX",
        KRX = "KRX", OTC = "OTC", IBKRATS = "IBKRATS", LOCAL = "LOCAL", GLOBAL = "GLOBAL",
    }
}

string_enum! {
    /// A bar interval, as `vnpy.trader.constant.Interval`.
    Interval, "interval" {
        Minute = "1m", Hour = "1h", Daily = "d", Weekly = "w", Tick = "tick",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_values_round_trip() {
        assert_eq!(Exchange::ALL.len(), 49);
        for &e in Exchange::ALL {
            assert_eq!(e.as_str().parse::<Exchange>().unwrap(), e);
        }
        assert_eq!(Exchange::EUREX.to_string(), "EUX");
        assert!(matches!(
            "EUREX".parse::<Exchange>(),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            "shfe".parse::<Exchange>(),
            Err(Error::InvalidArgument(_))
        ));
    }

    #[test]
    fn interval_values() {
        let values: Vec<_> = Interval::ALL.iter().map(|i| i.as_str()).collect();
        assert_eq!(values, ["1m", "1h", "d", "w", "tick"]);
        assert_eq!("d".parse::<Interval>().unwrap(), Interval::Daily);
    }
}
