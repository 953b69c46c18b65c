//! [`super::MarketData::save`] and [`super::MarketData::load`]: the builder's state as bytes.
