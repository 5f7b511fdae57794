//! The oracles behind the fuzz targets; see [`oracles`].

pub mod oracles;
